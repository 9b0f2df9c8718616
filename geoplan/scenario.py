r"""Scenarios: every tunable number of a run in one typed, validated YAML file.

A scenario file holds the speeds, the thresholds of the classification, the relocation
parameters and the network edits of one run. It is validated with pydantic: unknown keys are
rejected, every number has a range, and an error names the file, the line and the key path
(``scenarios/x.yaml:7: agglomeration.max_minuts: unknown key (did you mean max_minutes?);
allowed: max_minutes, min_centre_population, centre_larger_than_town``). Keys left out take the
defaults below, so an empty file is the baseline.

Defaults and why
----------------
=========================================  ========  ==================================================
key                                        default   rationale
=========================================  ========  ==================================================
``speeds.<road class>``                    network   average travel speeds, km/h; see
                                                     :data:`geoplan.network.DEFAULT_SPEEDS_KPH`
``network.snap_tolerance_m``               1         a dangling road end this close to a node joins it;
                                                     1 m mends rounding (hand-drawn layers with gaps
                                                     need tens of metres, OpenStreetMap 0)
``network.access_kph``                     30        speed from a town centre to its road (streets)
``network.max_snap_km``                    25        a place farther from every road is unreachable
``agglomeration.max_minutes``              90        Russia's 2025 monotown rules count settlements
                                                     within 1.5 h of transport accessibility of a core
                                                     city as part of its agglomeration
``agglomeration.min_centre_population``    50,000    OECD/EU functional urban areas need an urban
                                                     centre of at least 50,000 people
``agglomeration.centre_larger_than_town``  true      a town cannot belong to a smaller city's
                                                     agglomeration
``accessibility.half_life_minutes``        60        Hansen decay exp(-beta t), beta = ln 2 / 60 per
                                                     minute: a centre one hour away counts half, three
                                                     hours away an eighth; daily commuting fades after
                                                     an hour, so does a centre's everyday pull
``categories.trend_census``                2009      the population trend runs from this census to the
                                                     latest figure (25 Feb 2009; 1999 is also allowed)
``categories.min_trend_years``             5         a trend over fewer years is noise (Stepnogorsk's
                                                     latest figure is from 2012)
``categories.shrinking_pct_per_year``      0.0       relocation needs a town that loses people in
                                                     absolute terms although Kazakhstan's population grew
                                                     about 1.4 %/yr between the 2009 and 2021 censuses
``categories.fast_decline_pct_per_year``   -1.0      diversification is ruled out when a town loses more
                                                     than 1 %/yr (a tenth of its people per decade)
``categories.diversification_resources``   growing,  an economic base that is still there
                                           stable,
                                           not_res.
``categories.relocation_resources``        depleted, an economic base that is going
                                           declining
``categories.relocation_if_enterprise_     true      a closed town-forming enterprise also counts as a
closed``                                             lost economic base
``categories.relocation_max_population``   50,000    a town of 50,000+ is itself an urban centre by the
                                                     OECD definition: diversify or monitor, not empty it
``categories.relocation_max_accessibility`` none     optional: relocate only towns whose Hansen index is
                                                     below this (people)
``relocation.share_to_move``               0.2       planning assumption: the share of residents a
                                                     voluntary programme reaches; set from the budget
``relocation.capacity_share``              0.05      newcomers up to 5 % of a destination's population
                                                     over the programme do not strain its housing,
                                                     schools and clinics; set from its housing plans
``relocation.max_minutes``                 720       12 h by road (a day's drive) keeps family ties
``relocation.min_destination_population``  100,000   a destination needs a diversified labour market;
                                                     smaller centres are themselves single-industry
                                                     (Zhezkazgan)
``relocation.n_candidates``                3         destinations ranked per town that the allocation
                                                     may use
``catchments.bands``                       30, 60,   half-hour bands up to the 2 h commuting limit
                                           90, 120
``surface.resolution_m``                   1000      1 km cells: finer than the schematic roads are
                                                     accurate (see :mod:`geoplan.surface`)
``surface.offroad_kph``                    20        cross-country at the network's ``track`` speed
=========================================  ========  ==================================================

A file may start from another with ``extends: baseline.yaml``: the other file's keys come
first, this file's keys override them section by section, and its ``edits`` follow the other's.

Network edits (``edits``, applied in order by :func:`apply_edits`): ``add_roads`` (a roads
layer, path relative to the scenario file), ``set_class`` (road id -> class), ``set_speed``
(road id -> km/h), ``close`` (road ids). Each edit may carry a ``name`` and a ``source``.

Examples
--------
>>> from geoplan.scenario import Scenario, parse_scenario
>>> s = parse_scenario("agglomeration:\n  max_minutes: 60\n")
>>> s.agglomeration.max_minutes, s.agglomeration.min_centre_population
(60.0, 50000)
>>> round(Scenario.baseline().accessibility.beta_per_minute, 5)
0.01155

"""

from __future__ import annotations

import difflib
import itertools
import math
import os
import types
import typing
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator
from pyproj import Geod

from geoplan._errors import ScenarioError
from geoplan._io import write_text_atomic
from geoplan.layers import RESOURCE_STATUS, ROAD_CLASSES, SCHEMAS, LayerSet, embedded_layers_path, validate
from geoplan.network import DEFAULT_SPEEDS_KPH

__all__ = [
    "AccessibilityConfig",
    "AgglomerationConfig",
    "CatchmentsConfig",
    "CategoriesConfig",
    "Edit",
    "NetworkConfig",
    "RelocationConfig",
    "Scenario",
    "SurfaceConfig",
    "apply_edits",
    "dump_scenario",
    "load_scenario",
    "parse_scenario",
]

RoadClass = Literal[ROAD_CLASSES]  # type: ignore[valid-type]
ResourceStatus = Literal[RESOURCE_STATUS]  # type: ignore[valid-type]
Kph = Annotated[float, Field(gt=0, le=200)]
_GEOD = Geod(ellps="WGS84")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_default=True)


class NetworkConfig(_Section):
    """How the roads layer becomes a routable network (see :func:`geoplan.network.build_network`)."""

    snap_tolerance_m: float = Field(1.0, ge=0, le=10_000, description="dangling ends this close to a node join it, m")
    access_kph: float = Field(30.0, gt=0, le=200, description="speed on the leg from a place to its road, km/h")
    max_snap_km: float = Field(25.0, gt=0, le=1_000, description="places farther from every road are unreachable, km")


class AgglomerationConfig(_Section):
    """When a town is an agglomeration candidate: a large enough centre within road reach."""

    max_minutes: float = Field(90.0, gt=0, le=24 * 60, description="road travel time to the centre, minutes")
    min_centre_population: int = Field(50_000, gt=0, description="smallest population of a qualifying centre")
    centre_larger_than_town: bool = Field(True, description="the centre must have more people than the town")


class AccessibilityConfig(_Section):
    """Hansen accessibility: sum over centres of population x exp(-beta x minutes).

    Give either ``half_life_minutes`` (beta = ln 2 / half-life) or ``beta`` (per minute).
    """

    half_life_minutes: float = Field(60.0, gt=0, le=24 * 60, description="minutes after which a centre counts half")
    beta: float | None = Field(None, gt=0, le=10, description="decay per minute; overrides half_life_minutes")

    @model_validator(mode="after")
    def _one_of(self) -> AccessibilityConfig:
        if self.beta is not None and "half_life_minutes" in self.model_fields_set:
            raise ValueError("give either beta or half_life_minutes, not both")
        return self

    @property
    def beta_per_minute(self) -> float:
        """The decay parameter beta in effect, per minute."""
        return self.beta if self.beta is not None else math.log(2) / self.half_life_minutes


class CategoriesConfig(_Section):
    """Thresholds of the category rules (see :mod:`geoplan.classify`)."""

    trend_census: Literal[1999, 2009] = Field(2009, description="census the population trend starts from")
    min_trend_years: float = Field(5.0, ge=0, le=100, description="shorter trends are treated as unknown, years")
    shrinking_pct_per_year: float = Field(0.0, ge=-50, le=50, description="relocation: growth below this, %/yr")
    fast_decline_pct_per_year: float = Field(-1.0, ge=-50, le=50,
                                             description="diversification: growth at least this, %/yr")
    diversification_resources: list[ResourceStatus] = Field(
        default_factory=lambda: ["growing", "stable", "not_resource"],
        description="resource_status values that allow diversification")
    relocation_resources: list[ResourceStatus] = Field(
        default_factory=lambda: ["depleted", "declining"],
        description="resource_status values that allow relocation")
    relocation_if_enterprise_closed: bool = Field(True, description="a closed enterprise also allows relocation")
    relocation_max_population: int = Field(50_000, gt=0, description="larger towns are never relocation candidates")
    relocation_max_accessibility: float | None = Field(
        None, gt=0, description="optional: relocation only below this Hansen index (people)")

    @model_validator(mode="after")
    def _consistent(self) -> CategoriesConfig:
        if self.fast_decline_pct_per_year > self.shrinking_pct_per_year:
            raise ValueError(
                f"fast_decline_pct_per_year ({self.fast_decline_pct_per_year:g}) must not be above "
                f"shrinking_pct_per_year ({self.shrinking_pct_per_year:g})")
        both = sorted(set(self.diversification_resources) & set(self.relocation_resources))
        if both:
            raise ValueError(f"resource status {', '.join(both)} is in both diversification_resources and "
                             "relocation_resources; each status may lead to one category only")
        return self


class RelocationConfig(_Section):
    """Who moves, where to, and how much each destination can take."""

    share_to_move: float = Field(0.2, gt=0, le=1, description="share of a relocation town's population to move")
    capacity_share: float = Field(0.05, gt=0, le=1,
                                  description="a destination takes at most this share of its population")
    max_minutes: float = Field(720.0, gt=0, le=7 * 24 * 60, description="farthest destination by road, minutes")
    min_destination_population: int = Field(100_000, gt=0, description="smallest destination population")
    n_candidates: int = Field(3, ge=1, le=100, description="ranked destinations per town the allocation may use")


class CatchmentsConfig(_Section):
    """Travel-time bands of the nested catchments around each centre."""

    bands: list[Annotated[int, Field(gt=0, le=24 * 60)]] = Field(
        default_factory=lambda: [30, 60, 90, 120], description="band limits in minutes, increasing")

    @field_validator("bands")
    @classmethod
    def _increasing(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("give at least one band")
        if any(b <= a for a, b in itertools.pairwise(v)):
            raise ValueError(f"bands must be strictly increasing, got {v}")
        return v


class SurfaceConfig(_Section):
    """The raster travel-time surface."""

    resolution_m: float = Field(1000.0, gt=0, le=100_000, description="cell size, m")
    offroad_kph: float = Field(20.0, gt=0, le=200, description="speed across country off the roads, km/h")


def _path_text(v: str | None) -> str | None:
    # pathlib raises ValueError on a NUL character; say so in the scenario's terms.
    if v is not None and "\0" in v:
        raise ValueError("a path cannot contain a NUL character")
    return v


class Edit(_Section):
    """One network edit. Its operations run in the order add_roads, set_class, set_speed, close."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    name: str | None = Field(None, description="what the edit represents")
    source: str | None = Field(None, description="where the plan is published")
    add_roads: str | None = Field(None, description="roads layer to add, relative to the scenario file")
    set_class: dict[str, RoadClass] = Field(default_factory=dict, description="road id -> road class")
    set_speed: dict[str, Kph] = Field(default_factory=dict, description="road id -> speed, km/h")
    close: list[str] = Field(default_factory=list, description="road ids to remove")

    @field_validator("add_roads")
    @classmethod
    def _path(cls, v: str | None) -> str | None:
        return _path_text(v)

    @model_validator(mode="after")
    def _does_something(self) -> Edit:
        if not (self.add_roads or self.set_class or self.set_speed or self.close):
            raise ValueError("an edit needs at least one of add_roads, set_class, set_speed, close")
        return self


class Scenario(_Section):
    """A complete, validated set of run parameters. See the module docstring for the defaults."""

    extends: str | None = Field(None, description="scenario file whose keys this one starts from (relative path)")
    name: str = Field("baseline", description="short name used in outputs")
    description: str = Field("", description="what the scenario assumes")
    layers: str | None = Field(None, description="layer folder or GeoPackage, relative to the scenario file; "
                                                 "empty = the embedded Kazakhstan layers")
    speeds: dict[RoadClass, Kph] = Field(default_factory=lambda: dict(DEFAULT_SPEEDS_KPH),
                                         description="km/h by road class; classes left out keep the default")
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    agglomeration: AgglomerationConfig = Field(default_factory=AgglomerationConfig)
    accessibility: AccessibilityConfig = Field(default_factory=AccessibilityConfig)
    categories: CategoriesConfig = Field(default_factory=CategoriesConfig)
    relocation: RelocationConfig = Field(default_factory=RelocationConfig)
    catchments: CatchmentsConfig = Field(default_factory=CatchmentsConfig)
    surface: SurfaceConfig = Field(default_factory=SurfaceConfig)
    edits: list[Edit] = Field(default_factory=list)

    _source: str = PrivateAttr("<defaults>")
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @field_validator("extends", "layers")
    @classmethod
    def _paths(cls, v: str | None) -> str | None:
        return _path_text(v)

    @field_validator("speeds", mode="after")
    @classmethod
    def _complete_speeds(cls, v: dict[str, float]) -> dict[str, float]:
        # Keep every class so that a dumped scenario states every speed it used.
        merged = dict(DEFAULT_SPEEDS_KPH)
        merged.update(v)
        return {k: float(merged[k]) for k in ROAD_CLASSES if k in merged}

    @classmethod
    def baseline(cls) -> Scenario:
        """Return the defaults: the baseline run on the embedded layers."""
        return cls()

    @property
    def source(self) -> str:
        """The file the scenario was read from (for messages)."""
        return self._source

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths in the scenario are resolved against."""
        return self._base_dir

    def resolve(self, path: str | os.PathLike[str]) -> Path:
        """Resolve a path from the scenario against the scenario file's folder."""
        p = Path(os.path.expanduser(os.fspath(path)))
        return p if p.is_absolute() else (self._base_dir / p).resolve()

    def layers_path(self) -> Path:
        """Return the path of the layer set this scenario runs on."""
        if self.layers is None:
            return embedded_layers_path()
        return self.resolve(self.layers)

    def with_values(self, values: Mapping[str, Any] | None = None, /, **dotted: Any) -> Scenario:
        """Return a validated copy with some keys changed, named by dotted key paths.

        Parameters
        ----------
        values
            New values by dotted key path, e.g. ``{"relocation.capacity_share": 0.02}``.
        **dotted
            More values as keyword arguments (e.g. ``name="test"``); they win over ``values``.

        Raises
        ------
        ScenarioError
            Naming the key path, as for a scenario file.

        Examples
        --------
        >>> Scenario.baseline().with_values({"relocation.capacity_share": 0.02}).relocation.capacity_share
        0.02
        """
        data = self.model_dump(mode="python", exclude={"extends"})
        for key, value in {**dict(values or {}), **dotted}.items():
            *parents, last = str(key).split(".")
            node = data
            for part in parents:
                if not isinstance(node, dict) or part not in node:
                    raise ScenarioError(f"{self.source}: {key}: unknown key path",
                                        fix="use a dotted path such as relocation.capacity_share")
                node = node[part]
            node[last] = value
        try:
            out = Scenario.model_validate(data)
        except ValidationError as exc:
            raise _scenario_error(exc, f"{self.source} (changed values)", None) from None
        return out.with_source(self.source, self.base_dir)

    def with_source(self, source: str, base_dir: str | os.PathLike[str]) -> Scenario:
        """Set where the scenario came from (used for messages and relative paths); returns self."""
        self._source = str(source)
        self._base_dir = Path(base_dir).resolve()
        return self


# --------------------------------------------------------------------------------------
# reading


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that rejects duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            continue
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first given on line {seen[key] + 1})", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _node_line(root: yaml.Node | None, loc: tuple[Any, ...], *, key: bool = False) -> int | None:
    """1-based line of the YAML node at ``loc`` (or of its key); the deepest node found otherwise."""
    node = root
    line = None if root is None else root.start_mark.line + 1
    for i, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            for k_node, v_node in node.value:
                if isinstance(k_node, yaml.ScalarNode) and k_node.value == str(part):
                    last = i == len(loc) - 1
                    line = (k_node if (key or last) else v_node).start_mark.line + 1
                    node = v_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _unwrap(annotation: Any) -> Any:
    """Return the model class inside Optional[...] / list[...] / Annotated[...] (or the type)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else annotation
    return annotation


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """Return the pydantic model whose fields live at ``loc`` in a scenario document."""
    model: Any = Scenario
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            origin = typing.get_origin(model)
            if origin is list and isinstance(part, int):
                model = _unwrap(typing.get_args(model)[0])
                continue
            return None
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        model = _unwrap(field.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _keypath(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _describe(err: dict[str, Any]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    got = err.get("input")
    shown = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
    bounds = {"greater_than": "greater than", "greater_than_equal": "at least", "less_than": "less than",
              "less_than_equal": "at most"}
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return f"must be {bounds[kind]} {limit:g} (got {shown})" if isinstance(limit, (int, float)) \
            else f"must be {bounds[kind]} {limit} (got {shown})"
    if kind == "literal_error":
        return f"{shown} is not allowed; allowed: {str(ctx.get('expected', '')).replace(' or ', ', ')}"
    simple = {"float_parsing": "a number", "float_type": "a number", "int_parsing": "a whole number",
              "int_type": "a whole number", "int_from_float": "a whole number", "bool_parsing": "true or false",
              "bool_type": "true or false", "string_type": "text", "dict_type": "a mapping of keys to values",
              "list_type": "a list", "model_type": "a mapping of keys to values", "model_attributes_type":
              "a mapping of keys to values", "finite_number": "a finite number"}
    if kind in simple:
        return f"must be {simple[kind]} (got {shown})"
    if kind == "missing":
        return "required key is missing"
    msg = str(err.get("msg", kind))
    return msg.removeprefix("Value error, ")


def _scenario_error(exc: ValidationError, source: str, root: yaml.Node | None, n_base: int = 0) -> ScenarioError:
    lines: list[str] = []
    fixes: list[str] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if n_base and len(loc) > 1 and loc[0] == "edits" and isinstance(loc[1], int):
            # Edits inherited through ``extends`` come first; number this file's edits as it does.
            loc = ("edits", loc[1] - n_base, *loc[2:])
        if loc and loc[-1] == "[key]":
            # A bad dictionary key (e.g. an unknown road class under ``speeds``).
            loc = loc[:-1]
            where = _node_line(root, loc, key=True)
            allowed = ", ".join(ROAD_CLASSES) if loc and loc[0] == "speeds" else ""
            text = f"{_keypath(loc)}: unknown road class" if allowed else f"{_keypath(loc)}: invalid key"
            close = difflib.get_close_matches(str(loc[-1]), ROAD_CLASSES, n=1) if allowed else []
            text += (f" (did you mean {close[0]}?)" if close else "") + (f"; allowed: {allowed}" if allowed else "")
        elif err["type"] == "extra_forbidden":
            model = _model_at(loc[:-1])
            allowed_keys = list(model.model_fields) if model else []
            where = _node_line(root, loc, key=True)
            close = difflib.get_close_matches(str(loc[-1]), allowed_keys, n=1)
            text = (f"{_keypath(loc)}: unknown key" + (f" (did you mean {close[0]}?)" if close else "")
                    + (f"; allowed: {', '.join(allowed_keys)}" if allowed_keys else ""))
            fixes.append("unknown key")
        else:
            where = _node_line(root, loc)
            text = f"{_keypath(loc)}: {_describe(err)}"
        lines.append((f"line {where}: " if where else "") + text)
    if len(lines) == 1:
        line = lines[0]
        if line.startswith("line "):
            num, rest = line[5:].split(": ", 1)
            msg = f"{source}:{num}: {rest}"
        else:
            msg = f"{source}: {line}"
    else:
        msg = f"{source}: {len(lines)} problems:\n" + "\n".join(f"  {x}" for x in lines)
    if fixes and len(fixes) == len(lines):
        fix = "rename the key to one of the allowed keys, or delete it"
    else:
        fix = ("correct the value(s) named above; `geoplan scenario show` prints every key with its default, "
               "and the geoplan.scenario documentation gives each range and why")
    return ScenarioError(msg, fix=fix)


def parse_scenario(text: str, *, source: str = "<string>", base_dir: str | os.PathLike[str] | None = None) -> Scenario:
    """Validate a scenario given as YAML text.

    Parameters
    ----------
    text
        The YAML document. Empty text gives the baseline.
    source
        Name used in error messages (normally the file path).
    base_dir
        Folder that relative paths (``extends``, ``layers``, ``edits[].add_roads``) are
        resolved against; defaults to the current folder.

    Raises
    ------
    ScenarioError
        For YAML syntax errors (with line and column), duplicate keys, unknown keys, values
        out of range or of the wrong type, and files (``extends``, ``layers``, ``add_roads``)
        that do not exist.

    """
    return _parse(text, source, Path(base_dir) if base_dir is not None else Path.cwd(), ())


def _yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = exc.problem or exc.context or "invalid YAML"
        raise ScenarioError(f"{where}: YAML syntax error: {problem}",
                            fix="fix the YAML at that line (indent with spaces, 'key: value', lists with '- ')",
                            ) from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{source}: YAML syntax error: {exc}", fix="fix the YAML") from exc
    except RecursionError:
        raise ScenarioError(f"{source}: YAML nested too deeply to read",
                            fix="a scenario needs a few levels of nesting at most") from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        # PyYAML builds explicitly tagged scalars (!!float '', !!timestamp 2001-13-45) with plain
        # Python conversions, whose failures are not YAMLError.
        raise ScenarioError(f"{source}: a tagged YAML value cannot be read ({type(exc).__name__}: {exc})",
                            fix="remove the explicit tag (!!float, !!int, !!bool, !!timestamp) or give it a valid "
                                "value") from None
    return data, root


def _explicit(scenario: Scenario) -> dict[str, Any]:
    """Return the keys a scenario set itself, relative paths made absolute (for ``extends``)."""
    data = scenario.model_dump(mode="json", exclude_unset=True)
    data.pop("extends", None)
    if data.get("layers") is not None:
        data["layers"] = str(scenario.resolve(data["layers"]))
    for edit in data.get("edits", []):
        if edit.get("add_roads") is not None:
            edit["add_roads"] = str(scenario.resolve(edit["add_roads"]))
    return data


def _merge(base: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """``own`` over ``base``: mappings merge key by key, ``edits`` are appended, the rest replaced."""
    out = dict(base)
    for key, value in own.items():
        if key == "edits" and isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = out[key] + value
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _unusable(path: Path, *, folder: bool = False) -> str | None:
    """Why ``path`` cannot be used (``None`` when it is an existing file, or folder too if ``folder``)."""
    try:
        ok = path.exists() if folder else path.is_file()
    except OSError as exc:  # e.g. a file name longer than the file system allows
        return f"not a usable path ({exc.strerror or exc})"
    return None if ok else "no such file"


def _bools_for_numbers(data: Any, annotation: Any, loc: tuple[Any, ...] = (), seen: set[int] | None = None,
                       ) -> list[tuple[Any, ...]]:
    """Locations where the YAML has true/false but the model wants a number.

    pydantic's lax mode reads them as 1 and 0, so ``max_minutes: true`` would silently mean one
    minute.
    """
    seen = set() if seen is None else seen
    kind = _unwrap(annotation)
    if isinstance(data, bool):
        return [loc] if kind in (int, float) else []
    if not isinstance(data, (dict, list)) or id(data) in seen:
        return []
    seen.add(id(data))
    out: list[tuple[Any, ...]] = []
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if isinstance(kind, type) and issubclass(kind, BaseModel) and isinstance(data, dict):
        for key, value in data.items():
            field = kind.model_fields.get(str(key))
            if field is not None:
                out += _bools_for_numbers(value, field.annotation, (*loc, key), seen)
    elif origin is dict and isinstance(data, dict) and len(args) == 2:
        for key, value in data.items():
            out += _bools_for_numbers(value, args[1], (*loc, key), seen)
    elif origin is list and isinstance(data, list) and args:
        for i, value in enumerate(data):
            out += _bools_for_numbers(value, args[0], (*loc, i), seen)
    return out


def _parse(text: str, source: str, base_dir: Path, chain: tuple[Path, ...]) -> Scenario:
    data, root = _yaml(text, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: a scenario must be a mapping of keys to values, got a {type(data).__name__}",
                            fix="start the file with keys such as 'name:' or 'agglomeration:'")
    bools = _bools_for_numbers(data, Scenario)
    if bools:
        shown = [f"line {_node_line(root, loc)}: {_keypath(loc)}" for loc in bools[:5]]
        where = f"{source}:{_node_line(root, bools[0])}: {_keypath(bools[0])}" if len(bools) == 1 else \
            f"{source}: {', '.join(shown)}"
        raise ScenarioError(f"{where}: must be a number, not true/false",
                            fix="write the number itself (true and false are not 1 and 0 in a scenario)")
    n_base = 0
    ext = data.get("extends")
    if ext is not None:
        line = _node_line(root, ("extends",))
        if not isinstance(ext, str) or not ext.strip() or "\0" in ext:
            raise ScenarioError(f"{source}:{line}: extends: must be the path of another scenario file (got {ext!r})",
                                fix="write e.g. 'extends: baseline.yaml' (relative to this file's folder)")
        parent_path = Path(os.path.expanduser(ext))
        parent_path = (parent_path if parent_path.is_absolute() else base_dir / parent_path).resolve()
        if parent_path in chain:
            raise ScenarioError(f"{source}:{line}: extends: {parent_path} extends itself "
                                f"({' -> '.join(p.name for p in (*chain, parent_path))})",
                                fix="break the cycle of 'extends'")
        if (why := _unusable(parent_path)) is not None:
            raise ScenarioError(f"{source}:{line}: extends: {why}: {parent_path}",
                                fix="give the path relative to this scenario file's folder, or an absolute path")
        parent = _load(parent_path, (*chain, parent_path))
        n_base = len(parent.edits)
        data = _merge(_explicit(parent), data)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise _scenario_error(exc, source, root, n_base) from None
    scenario.with_source(source, base_dir)
    missing = []
    if scenario.layers is not None and (why := _unusable(scenario.layers_path(), folder=True)) is not None:
        missing.append((("layers",), scenario.layers_path(), why))
    for k, edit in enumerate(scenario.edits):
        if edit.add_roads is not None and (why := _unusable(scenario.resolve(edit.add_roads))) is not None:
            missing.append((("edits", k - n_base, "add_roads"), scenario.resolve(edit.add_roads), why))
    if missing:
        loc, path, why = missing[0]
        line = _node_line(root, loc)
        raise ScenarioError(f"{source}:{line}: {_keypath(loc)}: {why}: {path}",
                            fix="give the path relative to the scenario file's folder, or an absolute path")
    return scenario


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and validate a scenario file (see :func:`parse_scenario`).

    A file may start from another one with ``extends: other.yaml``: the other file's keys are
    read first, this file's keys override them section by section, and its ``edits`` are
    applied after the other file's.

    Parameters
    ----------
    path
        The scenario YAML file; relative paths in it are resolved against its folder.

    Raises
    ------
    ScenarioError
        When the file cannot be read or is invalid; the message names the file, line and key.

    """
    p = Path(path)
    return _load(p, (p.resolve(),))


def _load(p: Path, chain: tuple[Path, ...]) -> Scenario:
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{p}: no such scenario file",
                            fix="check the path (the repository's scenarios/ folder holds baseline.yaml and "
                                "center_west.yaml)") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})",
                            fix="save the file as UTF-8") from None
    except OSError as exc:
        raise ScenarioError(f"{p}: cannot read: {exc.strerror or exc}",
                            fix="check the path and its permissions") from None
    return _parse(text, str(p), p.parent, chain)


def dump_scenario(scenario: Scenario, path: str | os.PathLike[str] | None = None) -> str:
    """Write the scenario as YAML, with every default filled in.

    Parameters
    ----------
    scenario
        The scenario to write.
    path
        Also write the text to this file, atomically. Relative paths are rewritten relative to
        its folder, so the written file still points at the same layers.

    Returns
    -------
    str
        The YAML text.
    """
    data = scenario.model_dump(mode="json", exclude_none=True)
    data.pop("extends", None)  # the dump is complete: it no longer needs its parent
    target_dir = Path(path).resolve().parent if path is not None else None
    if target_dir is not None:
        def rel(p: str) -> str:
            return os.path.relpath(scenario.resolve(p), target_dir)

        if "layers" in data:
            data["layers"] = rel(data["layers"])
        for edit in data.get("edits", []):
            if "add_roads" in edit:
                edit["add_roads"] = rel(edit["add_roads"])
    for edit in data.get("edits", []):
        # Empty operations are noise in a file a planner reads.
        for key in ("set_class", "set_speed", "close"):
            if not edit.get(key):
                edit.pop(key, None)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
    if path is not None:
        write_text_atomic(path, text)
    return text


# --------------------------------------------------------------------------------------
# network edits


def _read_added_roads(path: Path, where: str) -> gpd.GeoDataFrame:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gdf = pyogrio.read_dataframe(path)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ScenarioError(f"{where}: cannot read roads layer {path}: {reason}",
                            fix="give a GeoJSON, GeoPackage, Shapefile or FlatGeobuf of LineStrings") from exc
    if gdf.crs is None:
        raise ScenarioError(f"{where}: {path} has no CRS", fix="save the layer with its CRS (EPSG:4326 for lon/lat)")
    return gdf.to_crs(4326)


def _unknown_ids(ids: list[str], roads: gpd.GeoDataFrame) -> list[str]:
    known = set(roads["id"].astype(str))
    return [i for i in ids if i not in known]


def _raise_unknown(ids: list[str], roads: gpd.GeoDataFrame, where: str, source: str) -> None:
    known = sorted(roads["id"].astype(str))
    hints = [f"{i} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(i, known, n=1)) else i for i in ids]
    raise ScenarioError(f"{where}: no road with id {', '.join(hints)} in the roads layer ({source})",
                        fix="use ids from the roads layer's 'id' column (or of a layer added by an earlier edit)")


def _node_positions(roads: gpd.GeoDataFrame) -> dict[str, tuple[float, float]]:
    """Position of each named node (from_node/to_node) in a roads layer, from the line ends."""
    if not {"from_node", "to_node"} <= set(roads.columns) or roads.empty:
        return {}
    geoms = roads.geometry.to_numpy()
    geoms = np.where(shapely.get_type_id(geoms) == 5, shapely.get_geometry(geoms, 0), geoms)
    first = shapely.get_coordinates(shapely.get_point(geoms, 0))
    last = shapely.get_coordinates(shapely.get_point(geoms, -1))
    out: dict[str, tuple[float, float]] = {}
    for col, xy in (("from_node", first), ("to_node", last)):
        for node, (x, y) in zip(roads[col].to_numpy(dtype=object), xy, strict=True):
            if isinstance(node, str) and node and node not in out:
                out[node] = (float(x), float(y))
    return out


def _check_added(new: gpd.GeoDataFrame, base: gpd.GeoDataFrame, layers: LayerSet, path: Path, where: str,
                 snap_tolerance_m: float) -> None:
    """Check the schema, geometry, ids and connection of roads added by a scenario."""
    probe = LayerSet({"roads": new}, sources={"roads": str(path)}, meta=dict(layers.meta))
    errors = [p for p in validate(probe) if p.severity == "error"]
    if errors:
        shown = "\n".join(f"  {p}" for p in errors[:10])
        if len(errors) > 10:
            shown += f"\n  ... and {len(errors) - 10} more"
        raise ScenarioError(f"{where}: the roads in {path} have {len(errors)} error(s):\n{shown}",
                            fix="correct the features listed (`geoplan layers check` explains each check)")
    clash = sorted(set(new["id"].astype(str)) & set(base["id"].astype(str)))
    if clash:
        raise ScenarioError(f"{where}: road id(s) {', '.join(clash[:10])} in {path} are already in the roads layer",
                            fix="give planned roads their own ids (e.g. a prefix such as KZP)")
    # A named end node must sit where the existing network has that node, or it will not connect.
    known = _node_positions(base)
    ends = _node_positions(new)
    far = []
    for node, (x, y) in ends.items():
        if node in known:
            geod_m = _metres(x, y, *known[node])
            if geod_m > max(snap_tolerance_m, 1.0):
                far.append(f"{node} ({geod_m / 1000:.1f} km away)")
    if far:
        raise ScenarioError(f"{where}: roads in {path} end at node(s) {', '.join(far)} from the network's node of the "
                            "same name",
                            fix="move the line ends onto the existing nodes (QGIS snapping) or rename them")
    combined = pd.concat([base, new[[c for c in new.columns if c in base.columns or c == new.geometry.name]]],
                         ignore_index=True)
    combined = gpd.GeoDataFrame(combined, geometry=base.geometry.name, crs=4326)
    added = set(new["id"].astype(str))
    loose = [p for p in validate(LayerSet({"roads": combined}, sources={"roads": str(path)}, meta=dict(layers.meta)))
             if p.check == "disconnected_component" and p.feature_id in added]
    if loose:
        raise ScenarioError(f"{where}: roads in {path} are not connected to the network: {loose[0].message}",
                            fix="make the planned road start and end on existing road nodes")


def _metres(x1: float, y1: float, x2: float, y2: float) -> float:
    return float(_GEOD.inv(x1, y1, x2, y2)[2])


def apply_edits(layers: LayerSet, scenario: Scenario) -> LayerSet:
    """Apply a scenario's network edits to a copy of ``layers``.

    Edits run in list order; within one edit: ``add_roads``, then ``set_class``, ``set_speed``
    and ``close``. Later edits may refer to roads added by earlier ones. The input is not
    modified. ``meta["edits"]`` of the result lists what was applied, one line per operation.

    Parameters
    ----------
    layers
        The layer set the scenario runs on.
    scenario
        The scenario whose ``edits`` to apply (``network.snap_tolerance_m`` decides how close an
        added road's end must be to the existing node of the same name).

    Raises
    ------
    ScenarioError
        Naming the scenario key when a road id is unknown, an added layer is unreadable,
        invalid, reuses an existing id or is not connected to the network.

    """
    out = layers.copy()
    if not scenario.edits:
        return out
    roads = out.roads.copy()
    src = out.sources.get("roads", "roads layer")
    log: list[str] = []
    for k, edit in enumerate(scenario.edits):
        label = f"{scenario.source}: edits[{k}]" + (f" ({edit.name})" if edit.name else "")
        if edit.add_roads is not None:
            path = scenario.resolve(edit.add_roads)
            new = _read_added_roads(path, f"{label}.add_roads")
            _check_added(new, roads, out, path, f"{label}.add_roads", scenario.network.snap_tolerance_m)
            keep = [c for c in new.columns if c in SCHEMAS["roads"].column_names or c == new.geometry.name]
            new = new[keep]
            if new.geometry.name != roads.geometry.name:
                new = new.rename_geometry(roads.geometry.name)
            roads = gpd.GeoDataFrame(pd.concat([roads, new], ignore_index=True), geometry=roads.geometry.name, crs=4326)
            log.append(f"edits[{k}]: added {len(new)} road(s) from {path.name}: {', '.join(new['id'].astype(str))}")
        if edit.set_class:
            bad = _unknown_ids(list(edit.set_class), roads)
            if bad:
                _raise_unknown(bad, roads, f"{label}.set_class", src)
            ids = roads["id"].astype(str)
            for rid, cls in edit.set_class.items():
                roads.loc[ids == rid, "road_class"] = cls
            log.append(f"edits[{k}]: class of {', '.join(f'{r}->{c}' for r, c in edit.set_class.items())}")
        if edit.set_speed:
            bad = _unknown_ids(list(edit.set_speed), roads)
            if bad:
                _raise_unknown(bad, roads, f"{label}.set_speed", src)
            if "speed_kph" not in roads.columns:
                roads["speed_kph"] = np.nan
            roads["speed_kph"] = pd.to_numeric(roads["speed_kph"], errors="coerce").astype(float)
            ids = roads["id"].astype(str)
            for rid, kph in edit.set_speed.items():
                roads.loc[ids == rid, "speed_kph"] = float(kph)
            log.append(f"edits[{k}]: speed of {', '.join(f'{r}->{v:g} km/h' for r, v in edit.set_speed.items())}")
        if edit.close:
            bad = _unknown_ids(list(edit.close), roads)
            if bad:
                _raise_unknown(bad, roads, f"{label}.close", src)
            roads = roads[~roads["id"].astype(str).isin(edit.close)].reset_index(drop=True)
            log.append(f"edits[{k}]: closed {', '.join(edit.close)}")
    out.layers["roads"] = roads
    out.meta = {**out.meta, "edits": log}
    return out
