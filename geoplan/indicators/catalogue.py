"""Indicator declarations (the catalogue) and the user's own indicator values.

- :class:`Indicator` and :class:`Catalogue`: the declarations. :data:`BUILTIN` lists the
  indicators geoplan computes itself (defined in :mod:`geoplan.indicators.computed`); a
  catalogue file read by :func:`read_catalogue` adds a user's own indicators and may re-declare
  the built-in ones to change their group or take them out of the index.
- :func:`read_table`: a user's indicator table keyed by town ``id``, wide or long.
- :func:`load_inputs`: the catalogue and table a scenario names, or those found beside the
  layers (:func:`layer_folder`).
- :func:`catalogue_for`: a catalogue checked against a computed indicator table.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from geoplan._errors import AnalysisError

__all__ = [
    "BUILTIN",
    "CATALOGUE_COLUMNS",
    "DIRECTIONS",
    "Catalogue",
    "Direction",
    "Indicator",
    "catalogue_for",
    "group_map",
    "layer_folder",
    "load_inputs",
    "read_catalogue",
    "read_table",
]

Direction = Literal["higher_better", "lower_better"]
DIRECTIONS: tuple[str, ...] = ("higher_better", "lower_better")

#: Columns of a catalogue file, in order.
CATALOGUE_COLUMNS: tuple[str, ...] = ("name", "unit", "group", "direction", "year", "source", "description",
                                      "in_index")

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Indicator:
    """One declared indicator.

    Attributes
    ----------
    name
        Column name in the indicator table (lowercase, ``a-z0-9_``).
    unit
        Unit of the values (``minutes``, ``people``, ``%/yr``, ``score 0-3`` ...).
    group
        Theme the indicator belongs to (``demography``, ``economy``, ``accessibility``,
        ``infrastructure`` ...); weights are set per group and per indicator.
    direction
        ``higher_better`` or ``lower_better``: whether a higher value means more potential.
    year
        Year (or span) the values refer to.
    source
        Where the values come from.
    description
        What the indicator measures, in one line.
    in_index
        Whether it enters the composite index by default (a scenario weight can override).
    computed
        ``True`` for the indicators geoplan computes (:data:`BUILTIN`).
    """

    name: str
    unit: str
    group: str
    direction: Direction
    year: str = ""
    source: str = ""
    description: str = ""
    in_index: bool = True
    computed: bool = False

    @property
    def sign(self) -> float:
        """+1 when higher is better, -1 when lower is better."""
        return 1.0 if self.direction == "higher_better" else -1.0


def _b(name: str, unit: str, group: str, direction: Direction, description: str, *, in_index: bool = True,
       source: str = "geoplan, from the layers and road travel times") -> Indicator:
    return Indicator(name, unit, group, direction, "run date", source, description, in_index, True)


#: The indicators geoplan computes (defined in :mod:`geoplan.indicators.computed`).
BUILTIN: tuple[Indicator, ...] = (
    _b("population", "people", "demography", "higher_better", "size: latest population figure",
       source="towns layer: population, population_year"),
    _b("growth_pct_per_year", "%/yr", "demography", "higher_better",
       "annualised population change over the best pair of census/estimate figures (see trend_basis)",
       source="towns layer: population_1999/2009/2021 and the latest figure"),
    _b("resource_score", "score 0-3", "economy", "higher_better",
       "resource base: depleted 0, declining 1, stable or not resource-based 2, growing 3",
       source="towns layer: resource_status"),
    _b("enterprise_score", "score 0-2", "economy", "higher_better",
       "town-forming enterprise: closed 0, partly operating 1, operating 2", source="towns layer: enterprise_status"),
    _b("minutes", "minutes", "accessibility", "lower_better",
       "road travel time to the nearest qualifying growth centre"),
    _b("km", "km", "accessibility", "lower_better", "road distance to the nearest qualifying growth centre",
       in_index=False),
    _b("minutes_regional_centre", "minutes", "accessibility", "lower_better",
       "road travel time to the administrative centre of the town's region", in_index=False),
    _b("km_regional_centre", "km", "accessibility", "lower_better",
       "road distance to the administrative centre of the town's region", in_index=False),
    _b("minutes_city", "minutes", "accessibility", "lower_better",
       "road travel time to the nearest city of indicators.city_population+ people"),
    _b("km_city", "km", "accessibility", "lower_better",
       "road distance to the nearest city of indicators.city_population+ people", in_index=False),
    _b("population_60", "people", "accessibility", "higher_better",
       "people in other places within 60 min by road (settlements layer, else growth centres only)",
       in_index=False),
    _b("population_90", "people", "accessibility", "higher_better",
       "people in other places within 90 min by road (settlements layer, else growth centres only)"),
    _b("accessibility", "people", "accessibility", "higher_better",
       "Hansen accessibility: sum of centre populations x exp(-beta x minutes)"),
)


@dataclass(frozen=True)
class Catalogue:
    """An ordered, validated set of :class:`Indicator` declarations.

    Attributes
    ----------
    indicators
        The declarations, in the order given.
    source
        The file they were read from (for messages), or ``"<built-in>"``.
    """

    indicators: tuple[Indicator, ...]
    source: str = "<built-in>"
    _by_name: dict[str, Indicator] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {i.name: i for i in self.indicators})

    @classmethod
    def builtin(cls) -> Catalogue:
        """Return the catalogue of the computed indicators only (:data:`BUILTIN`)."""
        return cls(BUILTIN)

    def __getitem__(self, name: str) -> Indicator:
        """Return the declaration of ``name``."""
        try:
            return self._by_name[name]
        except KeyError:
            raise AnalysisError(f"{self.source}: no indicator named {name!r}",
                                fix=f"use one of {', '.join(self.names)}") from None

    def __contains__(self, name: object) -> bool:
        """Whether ``name`` is declared."""
        return name in self._by_name

    def __iter__(self) -> Iterator[Indicator]:
        """Iterate over the declarations in order."""
        return iter(self.indicators)

    def __len__(self) -> int:
        """Return the number of declared indicators."""
        return len(self.indicators)

    @property
    def names(self) -> list[str]:
        """Declared names, in order."""
        return [i.name for i in self.indicators]

    @property
    def groups(self) -> list[str]:
        """Groups in order of first appearance."""
        return list(dict.fromkeys(i.group for i in self.indicators))

    def in_index(self) -> list[Indicator]:
        """Return the indicators that enter the composite index by default."""
        return [i for i in self.indicators if i.in_index]

    def user(self) -> list[Indicator]:
        """Return the declared indicators geoplan does not compute (the user's table columns)."""
        return [i for i in self.indicators if not i.computed]

    def frame(self) -> pd.DataFrame:
        """Return the catalogue as a table (:data:`CATALOGUE_COLUMNS` plus ``computed``)."""
        rows = [{c: getattr(i, c) for c in (*CATALOGUE_COLUMNS, "computed")} for i in self.indicators]
        out = pd.DataFrame(rows, columns=[*CATALOGUE_COLUMNS, "computed"])
        out["in_index"] = out["in_index"].map({True: "yes", False: "no"})
        out["computed"] = out["computed"].map({True: "yes", False: "no"})
        return out


_YES = {"yes", "true", "1", "y"}
_NO = {"no", "false", "0", "n", ""}


def read_catalogue(path: str | os.PathLike[str], *, with_builtin: bool = True) -> Catalogue:
    """Read a catalogue file (CSV with :data:`CATALOGUE_COLUMNS`; ``in_index`` may be left out).

    Parameters
    ----------
    path
        The CSV file.
    with_builtin
        Start from :data:`BUILTIN`: rows naming a built-in indicator change its declaration
        (group, ``in_index``, description; its unit and direction must agree), other rows add
        user indicators. Without it only the file's rows are declared.

    Returns
    -------
    Catalogue

    Raises
    ------
    AnalysisError
        For a missing file or column, a bad name, direction or ``in_index`` value, a duplicate
        name, or a built-in indicator re-declared with another direction; each names the file,
        the line and the fix.
    """
    p = Path(path)
    label = str(p)
    if not p.is_file():
        raise AnalysisError(f"{label}: indicator catalogue not found",
                            fix="give the path of a CSV with columns " + ", ".join(CATALOGUE_COLUMNS))
    try:
        with p.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
            header = list(rows[0].keys()) if rows else []
    except (UnicodeDecodeError, csv.Error) as exc:
        raise AnalysisError(f"{label}: cannot read the catalogue ({exc})",
                            fix="save it as a UTF-8 comma-separated CSV") from None
    required = [c for c in CATALOGUE_COLUMNS if c not in ("in_index", "year", "description")]
    lost = [c for c in required if c not in header]
    if not rows or lost:
        raise AnalysisError(f"{label}: " + ("no rows" if not rows else f"missing column(s) {', '.join(lost)}"),
                            fix="the catalogue needs one row per indicator with columns "
                                + ", ".join(CATALOGUE_COLUMNS))
    builtin = {i.name: i for i in BUILTIN}
    out: dict[str, Indicator] = dict(builtin) if with_builtin else {}
    seen: set[str] = set()
    for line, row in enumerate(rows, start=2):
        where = f"{label}:{line}"
        name = (row.get("name") or "").strip()
        if not _NAME.match(name):
            raise AnalysisError(f"{where}: indicator name {name!r} is not usable as a column name",
                                fix="use lowercase letters, digits and underscores, starting with a letter")
        if name in seen:
            raise AnalysisError(f"{where}: indicator {name!r} is declared twice", fix="keep one row per indicator")
        seen.add(name)
        direction = (row.get("direction") or "").strip()
        if direction not in DIRECTIONS:
            raise AnalysisError(f"{where}: {name}: direction {direction!r} is not allowed",
                                fix="write higher_better (more is better) or lower_better")
        group = (row.get("group") or "").strip()
        if not _NAME.match(group):
            raise AnalysisError(f"{where}: {name}: group {group!r} is not a usable group name",
                                fix="use a short lowercase word such as demography, economy, accessibility")
        flag = (row.get("in_index") or "yes").strip().lower()
        if flag not in _YES | _NO:
            raise AnalysisError(f"{where}: {name}: in_index {row.get('in_index')!r} is not yes or no",
                                fix="write yes or no")
        unit = (row.get("unit") or "").strip()
        if name in builtin:
            b = builtin[name]
            if direction != b.direction:
                raise AnalysisError(f"{where}: {name} is computed by geoplan and is {b.direction}, not {direction}",
                                    fix=f"write {b.direction} or leave the row out")
            out[name] = replace(b, group=group, in_index=flag in _YES,
                                description=(row.get("description") or "").strip() or b.description)
            continue
        out[name] = Indicator(name=name, unit=unit, group=group, direction=direction,  # type: ignore[arg-type]
                              year=(row.get("year") or "").strip(), source=(row.get("source") or "").strip(),
                              description=(row.get("description") or "").strip(), in_index=flag in _YES)
    return Catalogue(tuple(out.values()), source=label)


# --------------------------------------------------------------------------------------
# the user's table


def read_table(
    path: str | os.PathLike[str] | pd.DataFrame,
    town_ids: Sequence[str],
    *,
    catalogue: Catalogue,
    label: str | None = None,
) -> pd.DataFrame:
    """Read the user's indicator values for the declared user indicators.

    Parameters
    ----------
    path
        A CSV file (or a DataFrame): wide (``id`` and one column per indicator) or long
        (``id``, ``indicator``, ``value``; other columns ignored).
    town_ids
        The towns of the run; the result has one row per town, in this order.
    catalogue
        The declarations; only :meth:`Catalogue.user` indicators are read, other columns are
        ignored.
    label
        Name of the source for messages (default: the path).

    Returns
    -------
    pandas.DataFrame
        ``id`` and one float column per user indicator; NaN where a town has no value (an
        empty cell or a town absent from the table: missing, not zero).

    Raises
    ------
    AnalysisError
        When the table lacks an ``id`` column, lists a town twice or names towns the layer does
        not have, or a declared indicator is missing or holds a non-numeric value; the message
        names the file, the column and the towns.
    """
    name = label or (str(path) if not isinstance(path, pd.DataFrame) else "indicator table")
    if isinstance(path, pd.DataFrame):
        raw = path.copy()
    else:
        p = Path(path)
        if not p.is_file():
            raise AnalysisError(f"{name}: indicator table not found",
                                fix="give the path of a CSV keyed by town id, or remove the setting")
        try:
            raw = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise AnalysisError(f"{name}: cannot read the indicator table ({exc})",
                                fix="save it as a UTF-8 comma-separated CSV with an id column") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    if "id" not in raw.columns:
        raise AnalysisError(f"{name}: no 'id' column", fix="key the table by the towns' id (the towns layer's id)")
    raw["id"] = raw["id"].astype(str).str.strip()
    users = [i.name for i in catalogue.user()]
    if {"indicator", "value"} <= set(raw.columns):
        dup = raw[raw.duplicated(["id", "indicator"], keep=False)]
        if len(dup):
            r = dup.iloc[0]
            raise AnalysisError(f"{name}: town {r['id']} has indicator {r['indicator']} more than once",
                                fix="keep one row per town and indicator")
        raw = raw[raw["indicator"].isin(users)]
        wide = raw.pivot_table(index="id", columns="indicator", values="value", aggfunc="first").reset_index()
        wide.columns.name = None
        for u in users:
            if u not in wide.columns and u in set(raw["indicator"]):
                wide[u] = ""
        long_form = True
    else:
        wide = raw
        long_form = False
        repeated = wide[wide["id"].duplicated()]["id"].unique()
        if len(repeated):
            raise AnalysisError(f"{name}: town id(s) {', '.join(map(str, repeated[:10]))} listed more than once",
                                fix="keep one row per town")
    lost = [u for u in users if u not in wide.columns]
    if lost:
        where = "has no rows for" if long_form else "has no column(s)"
        raise AnalysisError(f"{name} {where} {', '.join(lost)}, declared in {catalogue.source}",
                            fix="add the values to the table, or remove the indicator from the catalogue")
    unknown = sorted(set(wide["id"]) - {str(t) for t in town_ids})
    if unknown:
        raise AnalysisError(f"{name}: town id(s) {', '.join(unknown[:10])} are not in the towns layer",
                            fix="use the towns layer's id values (or remove those rows)")
    out = pd.DataFrame({"id": [str(t) for t in town_ids]})
    indexed = wide.set_index("id")
    for u in users:
        text = indexed[u].reindex(out["id"]).astype(object)
        blank = text.isna() | text.astype(str).str.strip().isin(["", "NA", "NaN", "nan"])
        values = pd.to_numeric(text.where(~blank, None), errors="coerce")
        bad = ~blank & (values.isna() | ~np.isfinite(values.astype(float)))
        if bad.any():
            shown = ", ".join(f"{t}: {v!r}" for t, v in zip(out["id"][bad.to_numpy()][:5], text[bad][:5], strict=True))
            raise AnalysisError(f"{name}: column {u} holds non-numeric values ({shown})",
                                fix="write numbers (decimal point, no units or thousands separators); "
                                    "leave a cell empty when the value is unknown")
        out[u] = values.to_numpy(dtype=float)
    return out


def catalogue_for(frame: pd.DataFrame, *, catalogue: Catalogue | None = None) -> Catalogue:
    """Return ``catalogue`` (default :meth:`Catalogue.builtin`) after checking ``frame`` has its columns.

    Parameters
    ----------
    frame
        An indicator table from :func:`compute`.
    catalogue
        Declarations to check.

    Returns
    -------
    Catalogue

    Raises
    ------
    AnalysisError
        When an indicator the catalogue puts in the index is not a column of ``frame``.
    """
    cat = catalogue or Catalogue.builtin()
    lost = [i.name for i in cat.in_index() if i.name not in frame.columns]
    if lost:
        raise AnalysisError(f"indicator(s) {', '.join(lost)} declared in {cat.source} are not in the indicator table",
                            fix="add them to the indicator table (indicators.table), or set in_index to no")
    return cat


def group_map(catalogue: Catalogue, names: Iterable[str]) -> Mapping[str, str]:
    """Group of each named indicator."""
    return {n: catalogue[n].group for n in names}


# --------------------------------------------------------------------------------------
# the scenario's inputs


def layer_folder(sources: Mapping[str, str]) -> Path | None:
    """Folder the towns layer was read from (``LayerSet.sources``), where the tables live beside it."""
    src = sources.get("towns")
    if not src:
        return None
    p = Path(src)
    if not p.exists() and ":" in src:
        p = Path(src.rsplit(":", 1)[0])
    return p.parent if p.exists() else None


def load_inputs(
    town_ids: Sequence[str],
    *,
    config: Any,
    folder: Path | None = None,
) -> tuple[Catalogue, pd.DataFrame | None]:
    """Read the catalogue and the user's table named by a scenario, or found beside the layers.

    Parameters
    ----------
    town_ids
        The towns of the run.
    config
        The scenario (its ``indicators`` section; paths resolve against the scenario file).
    folder
        The layer folder: ``indicator_catalogue.csv`` and ``indicators.csv`` there are used
        when the scenario names no files.

    Returns
    -------
    catalogue, table
        The catalogue (built-in only when no file is found) and the user's table (``None``
        when the catalogue declares no user indicator).

    Raises
    ------
    AnalysisError
        As :func:`read_catalogue` and :func:`read_table`, or when the catalogue declares user
        indicators but no table is given.
    """
    section = config.indicators
    cat_path = config.resolve(section.catalogue) if section.catalogue else (
        folder / "indicator_catalogue.csv" if folder is not None else None)
    catalogue = (read_catalogue(cat_path) if cat_path is not None and (section.catalogue or cat_path.is_file())
                 else Catalogue.builtin())
    if not catalogue.user():
        return catalogue, None
    tab_path = config.resolve(section.table) if section.table else (
        folder / "indicators.csv" if folder is not None else None)
    if tab_path is None or not tab_path.is_file():
        raise AnalysisError(f"{catalogue.source} declares indicator(s) {', '.join(i.name for i in catalogue.user())} "
                            f"but there is no indicator table ({tab_path or 'indicators.table not set'})",
                            fix="set indicators.table in the scenario to the CSV holding their values")
    return catalogue, read_table(tab_path, town_ids, catalogue=catalogue)
