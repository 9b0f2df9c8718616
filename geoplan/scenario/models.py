"""The typed scenario model: one pydantic section per part of a run, with documented defaults."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator
from pyproj import Geod

from geoplan import settings as S
from geoplan._errors import ScenarioError
from geoplan.layers import embedded_layers_path
from geoplan.layers.io import layer_url_scheme
from geoplan.scenario.assessment import (
    CategoriesConfig,
    CompositeConfig,
    IndicatorsConfig,
    RelocationConfig,
    SensitivityConfig,
    check_consistency,
)
from geoplan.settings import DEFAULT_SPEEDS_KPH, RESOURCE_STATUS, ROAD_CLASSES

RoadClass = Literal[ROAD_CLASSES]  # type: ignore[valid-type]
ResourceStatus = Literal[RESOURCE_STATUS]  # type: ignore[valid-type]
Kph = Annotated[float, Field(gt=0, le=S.MAX_KPH)]
_GEOD = Geod(ellps="WGS84")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_default=True)


class NetworkConfig(_Section):
    """How the roads layer becomes a routable network (see :func:`geoplan.network.build_network`)."""

    snap_tolerance_m: float = Field(S.SNAP_TOLERANCE_M, ge=0, le=10_000,
                                    description="dangling ends this close to a node join it, m")
    access_kph: float = Field(S.ACCESS_KPH, gt=0, le=S.MAX_KPH,
                              description="speed on the leg from a place to its road, km/h")
    max_snap_km: float = Field(S.MAX_SNAP_KM, gt=0, le=1_000,
                               description="places farther from every road are unreachable, km")


class AgglomerationConfig(_Section):
    """When a town is an agglomeration candidate: a large enough centre within road reach."""

    max_minutes: float = Field(S.AGGLOMERATION_MAX_MINUTES, gt=0, le=24 * 60,
                               description="road travel time to the centre, minutes")
    min_centre_population: int = Field(S.MIN_CENTRE_POPULATION, gt=0,
                                       description="smallest population of a qualifying centre")
    centre_larger_than_town: bool = Field(S.CENTRE_LARGER_THAN_TOWN,
                                          description="the centre must have more people than the town")


class AccessibilityConfig(_Section):
    """Hansen accessibility: sum over centres of population x exp(-beta x minutes).

    Give either ``half_life_minutes`` (beta = ln 2 / half-life) or ``beta`` (per minute).
    """

    half_life_minutes: float = Field(S.HALF_LIFE_MINUTES, gt=0, le=24 * 60,
                                     description="minutes after which a centre counts half")
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


class CatchmentsConfig(_Section):
    """Travel-time bands of the nested catchments around each centre."""

    bands: list[Annotated[int, Field(gt=0, le=24 * 60)]] = Field(
        default_factory=lambda: list(S.CATCHMENT_BANDS), description="band limits in minutes, increasing")

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

    resolution_m: float = Field(S.SURFACE_RESOLUTION_M, gt=0, le=100_000, description="cell size, m")
    offroad_kph: float = Field(S.OFFROAD_KPH, gt=0, le=S.MAX_KPH,
                               description="speed across country off the roads, km/h")


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
    layers: str | None = Field(None, description="layer folder or GeoPackage, relative to the scenario file, or a "
                                                 "postgresql://user@host:port/db?schema=NAME URL; "
                                                 "empty = the embedded Kazakhstan layers")
    roads: str | None = Field(None, description="roads layer file (e.g. from `geoplan osm download`) replacing the "
                                                "layer set's roads, relative to the scenario file; empty = keep them")
    speeds: dict[RoadClass, Kph] = Field(default_factory=lambda: dict(DEFAULT_SPEEDS_KPH),
                                         description="km/h by road class; classes left out keep the default")
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    agglomeration: AgglomerationConfig = Field(default_factory=AgglomerationConfig)
    accessibility: AccessibilityConfig = Field(default_factory=AccessibilityConfig)
    indicators: IndicatorsConfig = Field(default_factory=IndicatorsConfig)
    composite: CompositeConfig = Field(default_factory=CompositeConfig)
    categories: CategoriesConfig = Field(default_factory=CategoriesConfig)
    sensitivity: SensitivityConfig = Field(default_factory=SensitivityConfig)
    relocation: RelocationConfig = Field(default_factory=RelocationConfig)
    catchments: CatchmentsConfig = Field(default_factory=CatchmentsConfig)
    surface: SurfaceConfig = Field(default_factory=SurfaceConfig)
    edits: list[Edit] = Field(default_factory=list)

    _source: str = PrivateAttr("<defaults>")
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @field_validator("extends", "layers", "roads")
    @classmethod
    def _paths(cls, v: str | None) -> str | None:
        return _path_text(v)

    @model_validator(mode="after")
    def _assessment(self) -> Scenario:
        check_consistency(self)
        return self

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

    def layers_path(self) -> Path | str:
        """Return the path of the layer set this scenario runs on (a ``postgresql://`` URL as it is)."""
        if self.layers is None:
            return embedded_layers_path()
        if layer_url_scheme(self.layers) is not None:
            return self.layers
        return self.resolve(self.layers)

    def roads_path(self) -> Path | None:
        """Return the path of the roads layer that replaces the layer set's roads, or ``None``."""
        return None if self.roads is None else self.resolve(self.roads)

    def with_values(self, *, values: Mapping[str, Any] | None = None, **dotted: Any) -> Scenario:
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
        >>> Scenario.baseline().with_values(values={"relocation.capacity_share": 0.02}).relocation.capacity_share
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
        from geoplan.scenario.loading import _scenario_error  # loading imports this module

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
