"""The indicator catalogue and the indicator table of the towns.

A composite assessment needs two things (OECD/JRC *Handbook on Constructing Composite
Indicators*, 2008, steps 2 and 4): a declared set of indicators, each with its unit, its theme
(group), its direction (is more better or worse?), its year and its source, and a table of their
values per town. This module holds both:

- :class:`Indicator` and :class:`Catalogue`: the declarations. :data:`BUILTIN` lists the
  indicators geoplan computes itself; a catalogue file (``indicator_catalogue.csv``: ``name``,
  ``unit``, ``group``, ``direction``, ``year``, ``source``, ``description``, ``in_index``) adds a
  user's own indicators (an akimat's 78 socio-economic indicators) without touching code, and
  may re-declare the built-in ones to change their group or take them out of the index.
- :func:`read_table`: a user's indicator table (``indicators.csv`` keyed by town ``id``; wide, one
  column per indicator, or long, ``id, indicator, value``). Only the columns the catalogue
  declares are used; a declared column that is missing or holds text is an error naming the
  file, the column and the towns.
- :func:`compute`: the indicators geoplan computes from the layers and the travel times.

Computed indicators
-------------------
``minutes``, ``km``
    Road travel time and distance to the nearest *qualifying* growth centre: at least
    ``agglomeration.min_centre_population`` people, larger than the town (when
    ``agglomeration.centre_larger_than_town``), never the town itself.
``minutes_regional_centre``, ``km_regional_centre``
    To the administrative centre of the town's own region (a centre with role
    ``regional_centre`` or ``republican`` and the same ``region``); 0 for a town that is that
    centre (Zhezkazgan, the Ulytau region's centre since 2022).
``minutes_city``, ``km_city``
    To the nearest city of ``indicators.city_population`` people or more (100,000 by default),
    other than the town itself.
``population_60``, ``population_90``
    People living in other places reachable within 60 and 90 minutes by road (the bands in
    ``indicators.reach_minutes``); the places are the settlements layer when one is given with
    its travel times, else the growth centres only (then a lower bound, said in the catalogue).
``accessibility``
    Hansen (1959) accessibility, the sum over all centres except the town itself of
    ``population * exp(-beta * minutes)``, ``beta = ln 2 / accessibility.half_life_minutes``.
``growth_pct_per_year``
    Annualised population change over the best available pair of figures among the 1999,
    2009 and 2021 censuses and the latest estimate: the most recent pair at least
    ``indicators.min_trend_years`` apart. ``trend_basis`` says which pair
    (``"2009 census to 2024 estimate"``) and ``trend_years`` the interval.
``population``
    Size: the latest population figure (people).
``resource_outlook``
    The resource base as an ordinal score: depleted 0, declining 1, stable 2, growing 3;
    ``not_resource`` (the town does not live from extraction) counts as stable, 2.
``enterprise``
    The town-forming enterprise: closed 0, partly operating 1, operating 2.

Missing values are never filled in: an indicator that cannot be computed (no census pair, no
reachable centre) is NaN and is named in the town's ``missing`` column.

Examples
--------
>>> from geoplan.indicators import BUILTIN, Catalogue
>>> cat = Catalogue.builtin()
>>> cat["minutes"].direction, cat["minutes"].group
('lower_better', 'accessibility')
>>> [i.name for i in cat.in_index()][:3]
['population', 'growth_pct_per_year', 'resource_outlook']
"""

from __future__ import annotations

import csv
import math
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
    "CENSUS_DATES",
    "CATALOGUE_COLUMNS",
    "Catalogue",
    "Indicator",
    "compute",
    "od_arrays",
    "population_trend",
    "read_catalogue",
    "read_table",
]

Direction = Literal["higher_better", "lower_better"]
DIRECTIONS: tuple[str, ...] = ("higher_better", "lower_better")

#: Census reference dates as decimal years. 1999 and 2009 were counted on 25 February; the 2021
#: census ran through September and October 2021 and is dated 1 October (an approximation of
#: under a month).
CENSUS_DATES: dict[int, float] = {1999: 1999 + 55 / 365, 2009: 2009 + 55 / 365, 2021: 2021 + 273 / 365}

#: Columns of a catalogue file, in order.
CATALOGUE_COLUMNS: tuple[str, ...] = ("name", "unit", "group", "direction", "year", "source", "description",
                                      "in_index")

#: Ordinal scores of the resource outlook (``not_resource``: no depletion risk, scored as stable).
RESOURCE_SCORES: dict[str, float] = {"depleted": 0.0, "declining": 1.0, "stable": 2.0, "growing": 3.0,
                                     "not_resource": 2.0}
#: Ordinal scores of the town-forming enterprise's state.
ENTERPRISE_SCORES: dict[str, float] = {"closed": 0.0, "partly_operating": 1.0, "operating": 2.0}

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


#: The indicators geoplan computes (see the module docstring for their definitions).
BUILTIN: tuple[Indicator, ...] = (
    _b("population", "people", "demography", "higher_better", "size: latest population figure",
       source="towns layer: population, population_year"),
    _b("growth_pct_per_year", "%/yr", "demography", "higher_better",
       "annualised population change over the best pair of census/estimate figures (see trend_basis)",
       source="towns layer: population_1999/2009/2021 and the latest figure"),
    _b("resource_outlook", "score 0-3", "economy", "higher_better",
       "resource base: depleted 0, declining 1, stable or not resource-based 2, growing 3",
       source="towns layer: resource_status"),
    _b("enterprise", "score 0-2", "economy", "higher_better",
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
    catalogue: Catalogue,
    town_ids: Sequence[str],
    *,
    label: str | None = None,
) -> pd.DataFrame:
    """Read the user's indicator values for the declared user indicators.

    Parameters
    ----------
    path
        A CSV file (or a DataFrame): wide (``id`` and one column per indicator) or long
        (``id``, ``indicator``, ``value``; other columns ignored).
    catalogue
        The declarations; only :meth:`Catalogue.user` indicators are read, other columns are
        ignored.
    town_ids
        The towns of the run; the result has one row per town, in this order.
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


# --------------------------------------------------------------------------------------
# travel-time arrays


def od_arrays(od: Any, origins: Sequence[str] | np.ndarray, destinations: Sequence[str] | np.ndarray,
              ) -> tuple[np.ndarray, np.ndarray]:
    """Minutes and km of ``od`` as arrays aligned to ``origins`` x ``destinations``.

    Parameters
    ----------
    od
        An :class:`~geoplan.traveltime.ODMatrix` (anything with ``origins``, ``destinations``,
        ``minutes`` and ``km`` arrays) or a long table with columns ``origin``,
        ``destination``, ``minutes`` and ``km``.
    origins, destinations
        Ids in the order wanted.

    Returns
    -------
    minutes, km
        Arrays of shape ``(len(origins), len(destinations))``; ``inf`` where a pair is
        unreachable, NaN or absent from ``od``.

    """
    o = pd.Index([str(x) for x in origins])
    d = pd.Index([str(x) for x in destinations])
    minutes = np.full((len(o), len(d)), np.inf)
    km = np.full((len(o), len(d)), np.inf)
    if all(hasattr(od, a) for a in ("origins", "destinations", "minutes", "km")):
        oi = pd.Index([str(x) for x in od.origins]).get_indexer(o)
        di = pd.Index([str(x) for x in od.destinations]).get_indexer(d)
        ro, rd = oi >= 0, di >= 0
        src_m = np.asarray(od.minutes, dtype=float)
        src_k = np.asarray(od.km, dtype=float)
        minutes[np.ix_(ro, rd)] = src_m[np.ix_(oi[ro], di[rd])]
        km[np.ix_(ro, rd)] = src_k[np.ix_(oi[ro], di[rd])]
    elif isinstance(od, pd.DataFrame):
        need = {"origin", "destination", "minutes", "km"}
        if not need <= set(od.columns):
            raise AnalysisError(f"OD table lacks column(s) {', '.join(sorted(need - set(od.columns)))}",
                                fix="pass an ODMatrix or its .long() table (origin, destination, minutes, km)")
        frame = od.assign(origin=od["origin"].astype(str), destination=od["destination"].astype(str))
        if frame.duplicated(["origin", "destination"]).any():
            dup = frame[frame.duplicated(["origin", "destination"])].iloc[0]
            raise AnalysisError(f"OD table lists {dup['origin']} -> {dup['destination']} more than once",
                                fix="keep one row per origin-destination pair")
        oi = o.get_indexer(pd.Index(frame["origin"]))
        di = d.get_indexer(pd.Index(frame["destination"]))
        keep = (oi >= 0) & (di >= 0)
        minutes[oi[keep], di[keep]] = pd.to_numeric(frame["minutes"], errors="coerce").to_numpy(float)[keep]
        km[oi[keep], di[keep]] = pd.to_numeric(frame["km"], errors="coerce").to_numpy(float)[keep]
    else:
        raise AnalysisError(f"cannot read travel times from a {type(od).__name__}",
                            fix="pass an ODMatrix (geoplan.traveltime.od_matrix) or its .long() table")
    bad = ~np.isfinite(minutes)
    minutes[bad] = np.inf
    km[bad | ~np.isfinite(km)] = np.inf
    return minutes, km


def populations(frame: pd.DataFrame, layer: str) -> np.ndarray:
    """Return populations as floats; raise naming every feature without a usable figure.

    Parameters
    ----------
    frame
        A layer with ``id``, ``population`` (and ``name_en`` for the message).
    layer
        Layer name for the message.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    AnalysisError
        Naming every feature whose population is missing, not a number or not positive.
    """
    if "population" not in frame.columns:
        raise AnalysisError(f"the {layer} layer has no 'population' column",
                            fix=f"add the latest population of each feature to the {layer} layer")
    pop = pd.to_numeric(frame["population"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(pop) | (pop <= 0)
    if bad.any():
        names = frame.get("name_en", frame["id"]).astype(str).to_numpy()
        ids = frame["id"].astype(str).to_numpy()
        shown = ", ".join(f"{n} ({i})" for n, i in zip(names[bad][:10], ids[bad][:10], strict=True))
        raise AnalysisError(f"{layer} without a population figure: {shown}",
                            fix=f"fill 'population' (latest official estimate, with 'population_year') for these "
                                f"features in the {layer} layer; a category cannot be given without it")
    return pop


# --------------------------------------------------------------------------------------
# population trend


def population_trend(frame: pd.DataFrame, *, min_years: float = 5.0) -> pd.DataFrame:
    """Annualised population change over the best available pair of figures.

    The figures are the 1999, 2009 and 2021 censuses (``population_1999`` ...) and the latest
    figure (``population`` on 1 January ``population_year``). The best pair is the most
    recent one at least ``min_years`` apart: the latest figure against the most recent census
    old enough, else an older pair.

    Parameters
    ----------
    frame
        The towns layer (or any table with those columns).
    min_years
        Shortest interval that counts as a trend.

    Returns
    -------
    pandas.DataFrame
        ``growth_pct_per_year`` (``100 * ((end / start) ** (1 / years) - 1)``), ``trend_years``,
        ``trend_basis`` (``"2009 census to 2024 estimate"``; why there is none otherwise),
        aligned to ``frame``'s rows.

    Examples
    --------
    >>> t = pd.DataFrame({"population": [46401], "population_year": [2012],
    ...                   "population_1999": [47372], "population_2009": [46712]})
    >>> population_trend(t)["trend_basis"].iloc[0]
    '1999 census to 2012 estimate'
    """
    n = len(frame)

    def col(name: str) -> np.ndarray:
        if name not in frame.columns:
            return np.full(n, np.nan)
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)

    figures: list[tuple[str, np.ndarray, np.ndarray]] = []
    for year, date in CENSUS_DATES.items():
        figures.append((f"{year} census", col(f"population_{year}"), np.full(n, date)))
    latest_year = col("population_year")
    figures.append(("estimate", col("population"), latest_year))
    rate = np.full(n, np.nan)
    span = np.full(n, np.nan)
    basis: list[str] = []
    for i in range(n):
        have = [(lbl, float(v[i]), float(d[i])) for lbl, v, d in figures
                if np.isfinite(v[i]) and v[i] > 0 and np.isfinite(d[i])]
        have.sort(key=lambda f: f[2], reverse=True)
        found = None
        for k, end in enumerate(have):
            for start in have[k + 1:]:
                if end[2] - start[2] >= min_years:
                    found = (start, end)
                    break
            if found:
                break
        if found is None:
            if len(have) < 2:
                basis.append("fewer than two population figures" if have else "no population figures")
            else:
                basis.append(f"figures span less than {min_years:g} years")
            continue
        (s_lbl, s_val, s_date), (e_lbl, e_val, e_date) = found
        years = e_date - s_date
        rate[i] = 100.0 * ((e_val / s_val) ** (1.0 / years) - 1.0)
        span[i] = years
        e_text = f"{int(e_date)} estimate" if e_lbl == "estimate" else e_lbl
        s_text = f"{int(s_date)} estimate" if s_lbl == "estimate" else s_lbl
        basis.append(f"{s_text} to {e_text}")
    return pd.DataFrame({"growth_pct_per_year": rate, "trend_years": span, "trend_basis": basis},
                        index=frame.index)


# --------------------------------------------------------------------------------------
# the computed indicators


def _nearest(minutes: np.ndarray, km: np.ndarray, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best allowed column per row: index (-1 when none), minutes and km (NaN when none)."""
    masked = np.where(allowed & np.isfinite(minutes), minutes, np.inf)
    if masked.shape[1] == 0:
        n = masked.shape[0]
        return np.full(n, -1), np.full(n, np.nan), np.full(n, np.nan)
    best = np.argmin(masked, axis=1)
    rows = np.arange(masked.shape[0])
    ok = np.isfinite(masked[rows, best])
    return (np.where(ok, best, -1), np.where(ok, masked[rows, best], np.nan),
            np.where(ok, km[rows, best], np.nan))


def compute(
    towns: pd.DataFrame,
    centres: pd.DataFrame,
    od: Any,
    *,
    min_centre_population: int = 50_000,
    centre_larger_than_town: bool = True,
    beta_per_minute: float = math.log(2) / 60,
    city_population: int = 100_000,
    reach_minutes: Sequence[float] = (60, 90),
    min_trend_years: float = 5.0,
    regional_roles: Iterable[str] = ("regional_centre", "republican"),
    settlements: pd.DataFrame | None = None,
    settlements_od: Any = None,
    snaps: pd.DataFrame | None = None,
    table: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Compute the spatial and demographic indicators of every town.

    Parameters
    ----------
    towns, centres
        The towns and centres layers (``id``, ``name_en``, ``population``, ``region``;
        centres also ``role``; towns the census columns, ``resource_status``,
        ``enterprise_status``).
    od
        Travel times from every town to every centre (ODMatrix or its long table).
    min_centre_population, centre_larger_than_town
        What makes a centre qualify for ``minutes``/``km``.
    beta_per_minute
        Decay of the Hansen accessibility.
    city_population
        Smallest city for ``minutes_city``/``km_city``.
    reach_minutes
        Bands of the ``population_<m>`` indicators.
    min_trend_years
        Shortest interval of the population trend.
    regional_roles
        Centre roles that make a centre the administrative centre of its region.
    settlements, settlements_od
        Optional settlements layer (``id``, ``population``) and the travel times from the towns
        to them, for ``population_<m>``; without them the growth centres are counted.
    snaps
        The report of :func:`~geoplan.network.attach_places` (``id``, ``snap_km``).
    table
        The user's indicators (from :func:`read_table`), merged by ``id``.

    Returns
    -------
    pandas.DataFrame
        One row per town sorted by ``id``: ``id``; the computed indicators (see the module
        docstring); descriptive columns ``nearest_centre``, ``nearest_centre_name``,
        ``nearest_centre_population``, ``regional_centre``, ``regional_centre_name``,
        ``city``, ``city_name``, ``centre_role`` (the role of the centre the town itself is,
        if any), ``trend_years``, ``trend_basis``, ``snap_km``; the user's columns; and
        ``missing`` (the indicators that could not be computed, comma-separated).

    Raises
    ------
    AnalysisError
        Naming every town or centre without a population figure.
    """
    towns = towns.sort_values("id", kind="mergesort", key=lambda s: s.astype(str)).reset_index(drop=True)
    centres = centres.sort_values("id", kind="mergesort", key=lambda s: s.astype(str)).reset_index(drop=True)
    t_id = towns["id"].astype(str).to_numpy(dtype=object)
    c_id = centres["id"].astype(str).to_numpy(dtype=object)
    t_pop = populations(towns, "towns")
    c_pop = populations(centres, "centres")
    c_name = centres.get("name_en", centres["id"]).astype(str).to_numpy(dtype=object)
    minutes, km = od_arrays(od, t_id, c_id)
    not_self = t_id[:, None] != c_id[None, :]
    n = len(t_id)

    def pick(arr: np.ndarray, idx: np.ndarray) -> pd.Series:
        return pd.Series([arr[j] if j >= 0 else None for j in idx], dtype=object)

    qualifies = not_self & (c_pop[None, :] >= min_centre_population)
    if centre_larger_than_town:
        qualifies &= c_pop[None, :] > t_pop[:, None]
    best, m_best, k_best = _nearest(minutes, km, qualifies)

    c_role = (centres["role"].astype(str).to_numpy(dtype=object) if "role" in centres.columns
              else np.full(len(c_id), "", dtype=object))
    c_region = (centres["region"].astype(str).to_numpy(dtype=object) if "region" in centres.columns
                else np.full(len(c_id), "", dtype=object))
    t_region = (towns["region"].astype(str).to_numpy(dtype=object) if "region" in towns.columns
                else np.full(n, "", dtype=object))
    roles = set(regional_roles)
    is_regional = np.array([r in roles for r in c_role], dtype=bool)
    same_region = (t_region[:, None] == c_region[None, :]) & is_regional[None, :]
    reg_min = np.where(~not_self, 0.0, minutes)
    reg_km = np.where(~not_self, 0.0, km)
    reg, m_reg, k_reg = _nearest(reg_min, reg_km, same_region)

    city, m_city, k_city = _nearest(minutes, km, not_self & (c_pop[None, :] >= city_population))

    reach = not_self & np.isfinite(minutes)
    with np.errstate(over="ignore", invalid="ignore"):
        weights = np.where(reach, np.exp(-beta_per_minute * np.where(reach, minutes, 0.0)), 0.0)
    access = np.where(reach.any(axis=1), weights @ c_pop if len(c_id) else 0.0, np.nan)

    if settlements is not None and settlements_od is not None and len(settlements):
        s_id = settlements["id"].astype(str).to_numpy(dtype=object)
        s_pop = pd.to_numeric(settlements["population"], errors="coerce").fillna(0).to_numpy(dtype=float)
        s_min, _ = od_arrays(settlements_od, t_id, s_id)
        s_min = np.where(t_id[:, None] == s_id[None, :], np.inf, s_min)
        if "town_id" in settlements.columns:
            # A settlement that is the town itself (linked by town_id) is not another place.
            linked = settlements["town_id"].astype(object).where(settlements["town_id"].notna(), "").astype(str)
            s_min = np.where(t_id[:, None] == linked.to_numpy(dtype=object)[None, :], np.inf, s_min)
    else:
        s_pop, s_min = c_pop, np.where(not_self, minutes, np.inf)
    role_of = dict(zip(c_id, c_role, strict=True))
    centre_role = np.array([role_of.get(t) for t in t_id], dtype=object)

    trend = population_trend(towns, min_years=min_trend_years)
    res = towns["resource_status"] if "resource_status" in towns.columns else pd.Series([None] * n)
    ent = towns["enterprise_status"] if "enterprise_status" in towns.columns else pd.Series([None] * n)
    snap_km = np.full(n, np.nan)
    if snaps is not None and {"id", "snap_km"} <= set(snaps.columns):
        s = snaps.drop_duplicates("id")
        snap_km = pd.to_numeric(s.set_index(s["id"].astype(str))["snap_km"].reindex(t_id),
                                errors="coerce").to_numpy(dtype=float)

    out = pd.DataFrame({
        "id": t_id,
        "population": t_pop,
        "growth_pct_per_year": trend["growth_pct_per_year"].to_numpy(),
        "resource_outlook": res.map(RESOURCE_SCORES).astype(float).to_numpy(),
        "enterprise": ent.map(ENTERPRISE_SCORES).astype(float).to_numpy(),
        "minutes": m_best,
        "km": k_best,
        "minutes_regional_centre": m_reg,
        "km_regional_centre": k_reg,
        "minutes_city": m_city,
        "km_city": k_city,
    })
    for band in reach_minutes:
        within = s_min <= float(band)
        out[f"population_{float(band):g}"] = np.where(within, s_pop[None, :], 0.0).sum(axis=1)
    out["accessibility"] = access
    out["nearest_centre"] = pick(c_id, best)
    out["nearest_centre_name"] = pick(c_name, best)
    out["nearest_centre_population"] = pd.array([int(c_pop[j]) if j >= 0 else None for j in best], dtype="Int64")
    out["regional_centre"] = pick(c_id, reg)
    out["regional_centre_name"] = pick(c_name, reg)
    out["city"] = pick(c_id, city)
    out["city_name"] = pick(c_name, city)
    out["centre_role"] = pd.Series(centre_role, dtype=object)
    out["trend_years"] = trend["trend_years"].to_numpy()
    out["trend_basis"] = trend["trend_basis"].to_numpy()
    out["snap_km"] = snap_km
    if table is not None:
        user = table.assign(id=table["id"].astype(str)).set_index("id")
        for c in user.columns:
            if c in out.columns:
                raise AnalysisError(f"indicator table column {c!r} clashes with an indicator geoplan computes",
                                    fix=f"rename the column (and its catalogue row), e.g. {c}_local")
            out[c] = user[c].reindex(t_id).to_numpy(dtype=float)
    value_cols = [c for c in out.columns if c not in _DESCRIPTIVE]
    missing = []
    for i in range(n):
        missing.append(", ".join(c for c in value_cols if not np.isfinite(out[c].iloc[i])))
    out["missing"] = missing
    return out


_DESCRIPTIVE = frozenset({"id", "nearest_centre", "nearest_centre_name", "nearest_centre_population",
                          "regional_centre", "regional_centre_name", "city", "city_name", "centre_role",
                          "trend_years", "trend_basis", "snap_km", "missing"})


def descriptive_columns() -> frozenset[str]:
    """Columns of :func:`compute`'s result that are not indicator values."""
    return _DESCRIPTIVE


def catalogue_for(frame: pd.DataFrame, catalogue: Catalogue | None = None) -> Catalogue:
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
    config: Any,
    town_ids: Sequence[str],
    *,
    folder: Path | None = None,
) -> tuple[Catalogue, pd.DataFrame | None]:
    """Read the catalogue and the user's table named by a scenario, or found beside the layers.

    Parameters
    ----------
    config
        The scenario (its ``indicators`` section; paths resolve against the scenario file).
    town_ids
        The towns of the run.
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
    return catalogue, read_table(tab_path, catalogue, town_ids)
