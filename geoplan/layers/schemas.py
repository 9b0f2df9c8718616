"""Layer schemas: vocabularies, declared fields, the layer-set container.

The vocabularies, the declared fields of each layer kind, the :class:`LayerSet` container and
:class:`Problem` (one validation finding).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from geoplan._errors import LayerReadError
from geoplan.settings import (
    CENSUS_YEARS,
    CENTRE_ROLES,
    ENTERPRISE_STATUS,
    LENGTH_SOURCES,
    PLACE_TYPES,
    RESOURCE_STATUS,
    ROAD_CLASSES,
    STATION_KINDS,
    SURFACES,
    TRACKS,
    UTM_MAX_SPAN_DEG,
    YES_NO_UNKNOWN,
)

Kind = Literal["str", "int", "float"]
Severity = Literal["error", "warning"]



@dataclass(frozen=True)
class Field:
    """One attribute column of a layer schema.

    Parameters
    ----------
    name
        Column name.
    kind
        ``"str"``, ``"int"`` or ``"float"``.
    required
        The column must exist in the layer.
    nullable
        Values may be empty. A required, non-nullable column must be filled on every feature.
    allowed
        Allowed values (strings) or ``None`` for any.
    minimum, exclusive_minimum
        Lower bound for numbers (inclusive, or exclusive when ``exclusive_minimum``).
    maximum
        Upper bound for numbers (inclusive).
    description
        What the column means; shown in reports and docs.
    references
        Layers whose ``id`` a value must be (empty values excepted). A PostGIS store turns a
        reference to one layer present in the set into a foreign key.
    """

    name: str
    kind: Kind
    required: bool = False
    nullable: bool = True
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None
    exclusive_minimum: bool = False
    maximum: float | None = None
    description: str = ""
    references: tuple[str, ...] = ()


@dataclass(frozen=True)
class LayerSchema:
    """The declared shape of one layer kind.

    Parameters
    ----------
    name
        Layer name, also the file stem (``towns.geojson``) or GeoPackage layer name.
    geometry_type
        ``"Point"``, ``"LineString"`` or ``"Polygon"``. A single-part ``Multi*`` point or line
        is accepted and read as its part; a polygon layer accepts ``MultiPolygon`` features
        with any number of parts (a district with islands).
    fields
        Attribute columns, in the order they are written.
    id_field
        The column holding each feature's unique identifier.
    description
        What the layer holds; used in messages that ask for the layer.
    """

    name: str
    geometry_type: Literal["Point", "LineString", "Polygon"]
    fields: tuple[Field, ...]
    id_field: str = "id"
    description: str = ""

    def field(self, name: str) -> Field:
        """Return the field called ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def column_names(self) -> list[str]:
        """Declared column names in schema order."""
        return [f.name for f in self.fields]


_ID = Field("id", "str", required=True, nullable=False,
            description="unique ASCII identifier, used as a key across layers")
#: Largest population a place may have (no city has more; a larger figure is a typo, and the
#: bound keeps every sum of populations far inside int64).
MAX_POPULATION = 100_000_000

_POP_YEAR = Field("population_year", "int", minimum=1897, maximum=2100, description="year (1 January) of `population`")


def _census(year: int) -> Field:
    return Field(f"population_{year}", "int", exclusive_minimum=True, minimum=0, maximum=MAX_POPULATION,
                 description=f"{year} census, town proper")


TOWNS = LayerSchema(
    "towns",
    "Point",
    (
        _ID,
        Field("name_en", "str", required=True, nullable=False, description="English name"),
        Field("name_ru", "str", description="Russian name"),
        Field("name_kk", "str", description="Kazakh name (Cyrillic)"),
        Field("region", "str", description="oblast (boundaries since June 2022)"),
        Field("population", "int", required=True, nullable=False, minimum=0, exclusive_minimum=True,
              maximum=MAX_POPULATION, description="latest population figure"),
        _POP_YEAR,
        *(_census(year) for year in CENSUS_YEARS),
        Field("population_basis", "str", description="what the population figures cover"),
        Field("main_industry", "str", description="town-forming industry"),
        Field("enterprise", "str", description="town-forming enterprise"),
        Field("enterprise_status", "str", allowed=ENTERPRISE_STATUS, description="state of that enterprise"),
        Field("resource_status", "str", allowed=RESOURCE_STATUS, description="outlook of the resource base"),
        Field("resource_note", "str", description="why, in one sentence"),
        Field("resource_outlook", "str", description="older free-text outlook"),
        Field("on_list", "str", description="list-membership tags separated by |"),
        Field("sources", "str", description="pages the figures came from (space-separated)"),
    ),
    description="single-industry towns (monotowns)",
)

CENTRES = LayerSchema(
    "centres",
    "Point",
    (
        _ID,
        Field("name_en", "str", required=True, nullable=False, description="English name"),
        Field("name_ru", "str", description="Russian name"),
        Field("name_kk", "str", description="Kazakh name (Cyrillic)"),
        Field("region", "str", description="oblast or city of republican significance"),
        Field("role", "str", required=True, nullable=False, allowed=CENTRE_ROLES, description="administrative role"),
        Field("population", "int", required=True, nullable=False, minimum=0, exclusive_minimum=True,
              maximum=MAX_POPULATION, description="population"),
        _POP_YEAR,
        Field("sources", "str", description="pages the figures came from (space-separated)"),
    ),
    description="growth centres (cities that anchor agglomerations and receive relocated residents)",
)

ROADS = LayerSchema(
    "roads",
    "LineString",
    (
        _ID,
        Field("road_class", "str", required=True, nullable=False, allowed=ROAD_CLASSES,
              description="OSM-style class; sets the default speed"),
        Field("road_ref", "str", description="road number(s)"),
        Field("name", "str", description="road name"),
        Field("from_node", "str", description="id of the place at the start of the segment"),
        Field("to_node", "str", description="id of the place at the end of the segment"),
        Field("lanes", "int", minimum=1, maximum=12, description="number of lanes, empty if unknown"),
        Field("length_km", "float", minimum=0, exclusive_minimum=True,
              description="road length; empty = length of the line"),
        Field("length_source", "str", allowed=LENGTH_SOURCES,
              description="whether length_km is published or estimated"),
        Field("surface", "str", allowed=SURFACES, description="surface, empty if unknown"),
        Field("speed_kph", "float", minimum=0, exclusive_minimum=True, maximum=200,
              description="speed override; empty = class default"),
        Field("oneway", "int", minimum=0, maximum=1, description="1 = traversable only from start to end"),
        Field("note", "str", description="how the length was obtained"),
    ),
    description="road segments, one line per segment between junctions or places",
)

RAIL_STATIONS = LayerSchema(
    "rail_stations",
    "Point",
    (
        _ID,
        Field("name_en", "str", required=True, nullable=False, description="English name"),
        Field("name_ru", "str", description="Russian name"),
        Field("serves", "str", description="id of the town or centre the station serves; empty for junctions",
              references=("towns", "centres")),
        Field("kind", "str", allowed=STATION_KINDS, description="city, town, junction or border station"),
        Field("source", "str", description="where the coordinates come from"),
    ),
    description="railway stations (the station building, not the town centre)",
)

RAIL = LayerSchema(
    "rail",
    "LineString",
    (
        _ID,
        Field("from_station", "str", required=True, nullable=False, description="rail_stations id at one end",
              references=("rail_stations",)),
        Field("to_station", "str", required=True, nullable=False, description="rail_stations id at the other end",
              references=("rail_stations",)),
        Field("line", "str", description="name of the railway line"),
        Field("km", "float", required=True, nullable=False, minimum=0, exclusive_minimum=True,
              description="track length between the stations (not the length of the drawn line)"),
        Field("km_source", "str", allowed=LENGTH_SOURCES, description="whether km is published or estimated"),
        Field("electrified", "str", allowed=YES_NO_UNKNOWN, description="yes, no or unknown"),
        Field("tracks", "str", allowed=TRACKS, description="number of main tracks, or unknown"),
        Field("passenger", "str", allowed=YES_NO_UNKNOWN,
              description="yes = regular passenger trains use the link (as of the source's date)"),
        Field("typical_minutes", "float", minimum=0, exclusive_minimum=True,
              description="scheduled passenger-train time over the link; empty = from km and an average speed"),
        Field("note", "str", description="sources of km, passenger status and electrification"),
    ),
    description="railway links, one straight line per link between two stations",
)

BOUNDARIES = LayerSchema(
    "boundaries",
    "Polygon",
    (
        _ID,
        Field("level", "int", required=True, nullable=False, minimum=0, maximum=2,
              description="0 = country, 1 = region (oblast, city of republican significance), 2 = district"),
        Field("kato", "str", description="official code (KATO in Kazakhstan)"),
        Field("name_en", "str", required=True, nullable=False, description="English name"),
        Field("name_ru", "str", description="Russian name"),
        Field("name_kk", "str", description="Kazakh name (Cyrillic)"),
        Field("name_alt", "str", description="other spellings separated by | (matched against towns' region)"),
        Field("parent_id", "str", description="id of the enclosing unit: a district's region, a region's country"),
        Field("iso_3166_2", "str", description="ISO 3166-2 code of the region"),
    ),
    description="administrative boundaries: country, regions and districts (level 0/1/2) as one polygon coverage",
)

SETTLEMENTS = LayerSchema(
    "settlements",
    "Point",
    (
        _ID,
        Field("name", "str", description="local name"),
        Field("name_en", "str", description="English name"),
        Field("name_ru", "str", description="Russian name"),
        Field("name_kk", "str", description="Kazakh name (Cyrillic)"),
        Field("place", "str", allowed=PLACE_TYPES, description="OpenStreetMap place type"),
        Field("population", "int", required=True, nullable=False, minimum=0, description="inhabitants"),
        Field("district", "str", description="district the place lies in (from the boundaries)"),
        Field("district_kato", "str", description="KATO code of that district"),
        Field("region", "str", description="region the place lies in (from the boundaries)"),
        Field("region_kato", "str", description="KATO code of that region"),
        Field("town_id", "str", description="id of the monotown that is the same place (counted once, as the town)",
              references=("towns",)),
        Field("centre_id", "str", description="id of the growth centre that is the same place",
              references=("centres",)),
    ),
    description="populated places with their population (settlements)",
)

#: Schemas of the layer kinds geoplan reads, by layer name.
SCHEMAS: dict[str, LayerSchema] = {
    s.name: s for s in (TOWNS, CENTRES, ROADS, RAIL_STATIONS, RAIL, BOUNDARIES, SETTLEMENTS)
}
#: Layer kinds a layer set may omit: the analysis runs on roads; rail adds ``--mode rail``;
#: boundaries give districts and regions, settlements the population around the centres.
OPTIONAL_LAYERS: tuple[str, ...] = ("rail_stations", "rail", "boundaries", "settlements")


@dataclass(frozen=True)
class Problem:
    """One validation finding.

    Attributes
    ----------
    severity
        ``"error"`` (the layer set cannot be analysed) or ``"warning"`` (results may be wrong).
    layer
        Layer name (``towns``, ``centres``, ``roads``) or ``"layerset"``.
    feature_id
        The feature's id, ``"#N"`` (1-based row) when it has none, or ``None`` for the layer.
    check
        Short machine-readable code, e.g. ``"duplicate_id"``.
    message
        What is wrong.
    fix
        What to do about it.
    source
        The file (and GeoPackage layer) the feature came from.
    """

    severity: Severity
    layer: str
    feature_id: str | None
    check: str
    message: str
    fix: str
    source: str = ""

    def __str__(self) -> str:
        where = f"{self.layer}" + (f" feature {self.feature_id}" if self.feature_id is not None else "")
        src = f" [{self.source}]" if self.source else ""
        return f"{self.severity.upper()}: {where}{src}: {self.message} — fix: {self.fix}"


@dataclass
class LayerSet:
    """A set of layers read from one folder or GeoPackage.

    Attributes
    ----------
    layers
        GeoDataFrames by layer name, in EPSG:4326 when the source CRS was known.
    sources
        Where each layer came from (``file`` or ``file:layer``), for messages.
    meta
        Optional metadata from ``layerset.json``: ``name``, ``extent`` (lon/lat bounds).
    native_crs
        The CRS each layer had in its file (``None`` when it had none).
    read_problems
        Problems noticed while reading (geometries that cannot be parsed, a GeoJSON ``crs``
        member, Shapefile column names that could not be restored); :func:`validate`
        reports them with its own findings.
    """

    layers: dict[str, gpd.GeoDataFrame]
    sources: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    native_crs: dict[str, CRS | None] = field(default_factory=dict)
    read_problems: list[Problem] = field(default_factory=list)

    def __getitem__(self, name: str) -> gpd.GeoDataFrame:
        try:
            return self.layers[name]
        except KeyError:
            raise LayerReadError(
                f"layer set has no '{name}' layer (it has: {', '.join(sorted(self.layers)) or 'none'})",
                fix=f"add a '{name}' layer ({SCHEMAS[name].description if name in SCHEMAS else 'see docs'})",
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.layers)

    @property
    def names(self) -> list[str]:
        """Names of the layers present."""
        return list(self.layers)

    @property
    def towns(self) -> gpd.GeoDataFrame:
        """The ``towns`` layer."""
        return self["towns"]

    @property
    def centres(self) -> gpd.GeoDataFrame:
        """The ``centres`` layer."""
        return self["centres"]

    @property
    def roads(self) -> gpd.GeoDataFrame:
        """The ``roads`` layer."""
        return self["roads"]

    def copy(self) -> LayerSet:
        """Deep copy, so a scenario can edit layers without touching the original."""
        return LayerSet(
            {k: v.copy() for k, v in self.layers.items()},
            dict(self.sources),
            copy.deepcopy(self.meta),  # nested: extent list, credits
            dict(self.native_crs),
            list(self.read_problems),
        )


def embedded_layers_path(*, name: str = "kazakhstan") -> Path:
    """Return the folder of an embedded layer set shipped with geoplan.

    Looks in the source tree's ``layers/`` first, then in the copy packaged into the wheel.

    Parameters
    ----------
    name
        The layer set's folder name; ``"kazakhstan"`` is the one geoplan ships.

    Raises
    ------
    LayerReadError
        When no such layer set is installed.
    """
    here = Path(__file__).resolve().parent.parent  # the geoplan package
    for candidate in (here.parent / "layers" / name, here / "_layers" / name):
        if candidate.is_dir():
            return candidate
    raise LayerReadError(f"embedded layer set '{name}' not found", fix="reinstall geoplan, or pass a layer path")


def metric_crs(bounds: tuple[float, float, float, float] | np.ndarray) -> CRS:
    """Return a metric CRS for distances within lon/lat ``bounds``.

    UTM for areas at most :data:`~geoplan.settings.UTM_MAX_SPAN_DEG` degrees across; otherwise an
    Albers equal-area conic with standard parallels at 1/6 and 5/6 of the latitude span (scale error under 1 % across a
    country the size of Kazakhstan).
    """
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        minx, miny, maxx, maxy = -1.0, -1.0, 1.0, 1.0
    minx, maxx = max(minx, -180.0), min(maxx, 180.0)
    miny, maxy = max(miny, -89.0), min(maxy, 89.0)
    lon0 = (minx + maxx) / 2
    lat0 = (miny + maxy) / 2
    if maxx - minx <= UTM_MAX_SPAN_DEG and maxy - miny <= UTM_MAX_SPAN_DEG:
        zone = int((lon0 + 180) // 6) + 1
        return CRS.from_epsg((32600 if lat0 >= 0 else 32700) + min(max(zone, 1), 60))
    span = max(maxy - miny, 1.0)
    lat1, lat2 = miny + span / 6, maxy - span / 6
    return CRS.from_proj4(f"+proj=aea +lat_1={lat1:.4f} +lat_2={lat2:.4f} +lat_0={lat0:.4f} +lon_0={lon0:.4f} "
                          "+datum=WGS84 +units=m +no_defs")


def _feature_ids(gdf: gpd.GeoDataFrame, id_field: str) -> np.ndarray:
    """Each feature's id as text, or '#N' (1-based row) when it has none."""
    rows = np.array([f"#{i + 1}" for i in range(len(gdf))], dtype=object)
    if id_field not in gdf.columns:
        return rows
    ids = gdf[id_field].to_numpy(dtype=object)
    blank = pd.isna(gdf[id_field]).to_numpy() | (gdf[id_field].astype(str).str.strip() == "").to_numpy()
    text = np.array([str(v) for v in ids], dtype=object)
    return np.where(blank, rows, text)


def _coerce_numbers(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Numbers parsed from ``values``; also the mask of non-empty values that are not finite numbers.

    Text such as ``"12 000"``, booleans, lists (a JSON array in a GeoJSON property) and
    infinities are "not numbers": the caller reports them rather than guessing.
    """
    if pd.api.types.is_bool_dtype(values):
        parsed = pd.Series(np.nan, index=values.index, dtype=float)
        return parsed, values.notna().to_numpy()
    if pd.api.types.is_numeric_dtype(values):
        parsed = values.astype(float)
        inf = np.isinf(parsed.to_numpy())
        return parsed.where(~inf), inf
    obj = values.astype(object)
    scalar = obj.map(lambda v: isinstance(v, (str, int, float, np.integer, np.floating))
                     and not isinstance(v, bool)).to_numpy(dtype=bool)
    blank = obj.map(lambda v: v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
                    or (isinstance(v, str) and not v.strip())).to_numpy(dtype=bool)
    text = obj.where(scalar & ~blank, None).map(lambda v: v.strip() if isinstance(v, str) else v)
    parsed = pd.to_numeric(text, errors="coerce").astype(float)
    parsed = parsed.where(np.isfinite(parsed.to_numpy()))
    bad = ~blank & parsed.isna().to_numpy()
    return parsed, bad
