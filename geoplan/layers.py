"""Layer sets: declared schemas, reading, validation and writing.

A *layer set* is what a GIS specialist edits: ``towns`` (the monotowns), ``centres`` (growth
centres) and ``roads`` (a line per road segment), optionally with a schematic railway:
``rail_stations`` (points) and ``rail`` (a straight line per link between two stations). It
can live in a folder of GeoJSON, Shapefile or FlatGeobuf files named after the layers, or in
one GeoPackage with one layer per kind. :func:`read_layers` reads any of these;
:func:`validate` returns every problem as data (:class:`Problem`) instead of stopping at the
first, so a report can list them all.

Examples
--------
>>> import geoplan
>>> layers = geoplan.read_layers(geoplan.embedded_layers_path())
>>> sorted(layers.names)
['centres', 'rail', 'rail_stations', 'roads', 'towns']
>>> [p for p in geoplan.validate(layers) if p.severity == "error"]
[]
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import pyogrio.raw
import shapely
from pyproj import CRS
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from shapely.errors import GEOSException

from geoplan._errors import GeoplanError, LayerReadError, LayerValidationError
from geoplan._io import atomic_path, write_geojson, write_text_atomic

__all__ = [
    "Field",
    "LayerSchema",
    "SCHEMAS",
    "ROAD_CLASSES",
    "OPTIONAL_LAYERS",
    "LayerSet",
    "Problem",
    "ValidationConfig",
    "read_layers",
    "validate",
    "require_valid",
    "write_layers",
    "problems_frame",
    "metric_crs",
    "embedded_layers_path",
    "GPKG_TIMESTAMP",
]

Kind = Literal["str", "int", "float"]
Severity = Literal["error", "warning"]

#: Road classes geoplan knows, in OpenStreetMap's ``highway=*`` vocabulary so that layers made
#: from OSM and hand-made layers share one speed table.
ROAD_CLASSES: tuple[str, ...] = (
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "track",
)

RESOURCE_STATUS = ("depleted", "declining", "stable", "growing", "not_resource")
ENTERPRISE_STATUS = ("operating", "partly_operating", "closed")
CENTRE_ROLES = ("republican", "regional_centre", "other")
LENGTH_SOURCES = ("published", "estimated")
SURFACES = ("asphalt", "concrete", "paved", "gravel", "unpaved", "dirt")
STATION_KINDS = ("city", "town", "junction", "border")
YES_NO_UNKNOWN = ("yes", "no", "unknown")
TRACKS = ("1", "2", "3", "4", "unknown")


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


@dataclass(frozen=True)
class LayerSchema:
    """The declared shape of one layer kind.

    Parameters
    ----------
    name
        Layer name, also the file stem (``towns.geojson``) or GeoPackage layer name.
    geometry_type
        ``"Point"`` or ``"LineString"``; a single-part ``Multi*`` geometry is accepted and
        read as its part.
    fields
        Attribute columns, in the order they are written.
    id_field
        The column holding each feature's unique identifier.
    description
        What the layer holds; used in messages that ask for the layer.
    """

    name: str
    geometry_type: Literal["Point", "LineString"]
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
_POP_YEAR = Field("population_year", "int", minimum=1897, maximum=2100, description="year (1 January) of `population`")


def _census(year: int) -> Field:
    return Field(f"population_{year}", "int", exclusive_minimum=True, minimum=0,
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
              description="latest population figure"),
        _POP_YEAR,
        _census(1999),
        _census(2009),
        _census(2021),
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
              description="population"),
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
        Field("serves", "str", description="id of the town or centre the station serves; empty for junctions"),
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
        Field("from_station", "str", required=True, nullable=False, description="rail_stations id at one end"),
        Field("to_station", "str", required=True, nullable=False, description="rail_stations id at the other end"),
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

#: Schemas of the layer kinds geoplan reads, by layer name.
SCHEMAS: dict[str, LayerSchema] = {s.name: s for s in (TOWNS, CENTRES, ROADS, RAIL_STATIONS, RAIL)}
#: Layer kinds a layer set may omit: the analysis runs on roads; rail adds ``--mode rail``.
OPTIONAL_LAYERS: tuple[str, ...] = ("rail_stations", "rail")

_VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".fgb", ".shp")
_META_FILE = "layerset.json"


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


@dataclass(frozen=True)
class ValidationConfig:
    """Thresholds of :func:`validate`.

    Parameters
    ----------
    snap_tolerance_m
        Road ends closer than this to another road (but not on it) are reported as dangling.
    max_access_km
        Towns and centres farther than this from every road are reported.
    extent_margin_deg
        Slack around the layer set's declared extent before a feature counts as outside it.
    """

    snap_tolerance_m: float = 100.0
    max_access_km: float = 25.0
    extent_margin_deg: float = 0.5


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
            dict(self.meta),
            dict(self.native_crs),
            list(self.read_problems),
        )


def embedded_layers_path(name: str = "kazakhstan") -> Path:
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
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "layers" / name, here / "_layers" / name):
        if candidate.is_dir():
            return candidate
    raise LayerReadError(f"embedded layer set '{name}' not found", fix="reinstall geoplan, or pass a layer path")


# --------------------------------------------------------------------------------------
# reading


def _find_layer_file(folder: Path, name: str) -> Path | None:
    for suffix in _VECTOR_SUFFIXES:
        candidate = folder / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _gdal_reason(exc: BaseException) -> str:
    """Return the first line of a GDAL/pyogrio error, without advice meant for GDAL's own tools."""
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    first = text.splitlines()[0]
    first = first.split("; It might help to specify the correct driver")[0]
    return first.replace("not recognized as being in a supported file format.",
                         "not recognized as a supported vector format")


def _is_wgs84_lonlat(crs: CRS) -> bool:
    return bool(crs.is_geographic) and crs.datum is not None and crs.datum.name.startswith("World Geodetic System 1984")


def _shapefile_name(name: str, used: set[str]) -> str:
    """Return the column name GDAL's Shapefile driver writes for ``name`` (10 characters, unique)."""
    out = name[:10]
    n = 1
    while out.lower() in used and n < 100:
        out = f"{name[:8]}_{n}" if n < 10 else f"{name[:8]}{n:02d}"
        n += 1
    used.add(out.lower())
    return out


def _restore_shapefile_names(columns: list[str], schema: LayerSchema) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Map Shapefile-truncated column names back to schema names.

    The dBase format keeps 10 characters per column name, so GDAL (and QGIS) write
    ``population_year`` as ``populati_1`` and ``resource_status`` as ``resource_s``. For each
    group of schema names sharing their first 10 characters, every order-preserving subset is
    laundered the way GDAL does; the columns are renamed only when exactly one subset gives
    the file's columns. Returns the renames and, for columns that could stand for several
    schema names, the candidates.
    """
    rename: dict[str, str] = {}
    ambiguous: dict[str, list[str]] = {}
    families: dict[str, list[str]] = {}
    for f in schema.column_names:
        families.setdefault(f[:10].lower(), []).append(f)
    for prefix, members in families.items():
        if all(len(m) <= 10 for m in members):
            continue
        stem = prefix[:8]
        # GDAL's names for clashes: 8 characters + "_N" (N < 10) or + "NN".
        in_file = [c for c in columns if c.lower() == prefix
                   or (len(c) == 10 and c.lower().startswith(stem) and (c[8] == "_" or c[8].isdigit())
                       and c[9].isdigit())]
        if not in_file:
            continue
        matches = []
        for mask in range(1, 2 ** len(members)):
            subset = [m for i, m in enumerate(members) if mask >> i & 1]
            used: set[str] = set()
            if [_shapefile_name(m, used).lower() for m in subset] == [c.lower() for c in in_file]:
                matches.append(subset)
        for i, c in enumerate(in_file):
            candidates = sorted({m[i] for m in matches})
            if len(candidates) == 1 and candidates[0] != c:
                rename[c] = candidates[0]
            elif len(candidates) > 1:
                ambiguous[c] = candidates
    return rename, ambiguous


def _read_one(path: Path, layer: str | None, label: str, name: str, source: str
              ) -> tuple[gpd.GeoDataFrame, CRS | None, list[Problem]]:
    """Read one layer; return it in EPSG:4326, its CRS in the file, and problems noticed."""
    problems: list[Problem] = []
    schema = SCHEMAS[name]
    suffix = path.suffix.lower()
    unparsed: dict[int, str] = {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                gdf = pyogrio.read_dataframe(path, layer=layer)
            except GEOSException:
                # One geometry GEOS cannot build (a one-point line, say) must not hide the rest.
                gdf = pyogrio.read_dataframe(path, layer=layer, on_invalid="ignore")
                _, _, wkb, _ = pyogrio.raw.read(path, layer=layer, columns=[])
                for i in np.flatnonzero(gdf.geometry.isna().to_numpy() & pd.notna(wkb)):
                    try:
                        shapely.from_wkb(wkb[i])
                    except GEOSException as exc:
                        unparsed[int(i)] = str(exc).split(": ", 1)[-1]
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1].hex()
        if suffix == ".shp":
            fix = (f"write the file's real encoding (for Cyrillic usually CP1251) into "
                   f"{path.with_suffix('.cpg').name}, or re-save the layer with encoding UTF-8")
        else:
            fix = ("re-save the file as UTF-8 (QGIS: Export ▸ Save Features As… ▸ Encoding UTF-8; "
                   "or iconv -f CP1251 -t UTF-8)")
        why = "GeoJSON must be UTF-8 (RFC 7946, section 11)" if suffix in (".geojson", ".json") else "cannot decode it"
        raise LayerReadError(
            f"{label}: text is not in the file's declared encoding {exc.encoding.upper()} (byte 0x{bad}); {why}",
            fix=fix,
        ) from exc
    except Exception as exc:  # any GDAL failure means "unreadable file"
        raise LayerReadError(
            f"{label}: cannot read layer: {_gdal_reason(exc)}",
            fix="open the file in QGIS to see whether it is complete; re-export it as GeoPackage or GeoJSON (UTF-8)",
        ) from exc
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        raise LayerReadError(f"{label}: layer has no geometry column", fix="export the layer with its geometry")
    if unparsed:
        ids = _feature_ids(gdf, schema.id_field)
        for i, reason in sorted(unparsed.items()):
            problems.append(Problem("error", name, ids[i], "invalid_geometry", f"geometry cannot be read: {reason}",
                                    "redraw it: a line needs at least two different points", source))
    if suffix == ".shp":
        rename, ambiguous = _restore_shapefile_names([str(c) for c in gdf.columns], schema)
        gdf = gdf.rename(columns=rename)
        for col, candidates in ambiguous.items():
            # A required column whose identity is uncertain (is 'population' population_year cut
            # short?) must not be trusted silently.
            required = any(schema.field(cand).required for cand in candidates)
            use = f"it is read as '{col}' but cannot be trusted" if col in schema.column_names else "it is ignored"
            problems.append(Problem(
                "error" if required else "warning", name, None, "truncated_column",
                f"Shapefile column '{col}' may be any of {', '.join(candidates)} (the format cuts names to 10 "
                f"characters); {use}",
                "rename the column to its full name (QGIS: Layer Properties ▸ Fields) or use GeoPackage, "
                "which keeps full column names", source))
    native = gdf.crs
    if native is not None and not native.equals("EPSG:4326"):
        geoms = gdf.geometry.to_numpy()
        present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        if native.is_projected and present.any():
            x0, y0, x1, y1 = shapely.total_bounds(geoms[present])
            if -180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90:
                problems.append(Problem(
                    "error", name, None, "crs_mismatch",
                    f"the layer is labelled {native.name} (projected, metres) but its coordinates "
                    f"({x0:.4g}..{x1:.4g}, {y0:.4g}..{y1:.4g}) look like longitude/latitude degrees",
                    "assign EPSG:4326 instead (QGIS: Layer ▸ Set CRS of Layer; GeoJSON: delete the 'crs' member)",
                    source))
        if suffix in (".geojson", ".json") and not _is_wgs84_lonlat(native):
            problems.append(Problem(
                "warning", name, None, "unexpected_crs",
                f"the GeoJSON declares {native.name} in a 'crs' member; RFC 7946 GeoJSON is WGS 84 lon/lat only and "
                "web maps and strict readers ignore the member, placing the features wrongly (geoplan reprojects it)",
                "re-save the layer in EPSG:4326 without a 'crs' member (geoplan layers export, or QGIS Save "
                "Features As with CRS EPSG:4326 and RFC7946=YES)", source))
        try:
            gdf = gdf.to_crs(4326)
        except Exception as exc:  # any pyproj failure means "unusable CRS"
            raise LayerReadError(
                f"{label}: cannot reproject from {native.to_string()} to EPSG:4326: {exc}",
                fix="save the layer in EPSG:4326 (WGS 84)",
            ) from exc
    return gdf, native, problems


def read_layers(path: str | os.PathLike[str], *, required: tuple[str, ...] = ("towns", "centres", "roads")) -> LayerSet:
    """Read a layer set from a folder or a GeoPackage.

    Parameters
    ----------
    path
        A folder holding ``towns``, ``centres`` and ``roads`` (and optionally ``rail_stations``
        and ``rail``) as ``.geojson``, ``.gpkg``, ``.fgb`` or ``.shp`` files named after the
        layer, or one ``.gpkg`` file holding layers with those names. An optional
        ``layerset.json`` in the folder (or beside the GeoPackage, named
        ``<stem>.layerset.json``) declares ``name`` and ``extent``.
    required
        Layers that must be present; the rail layers are optional by default.

    Returns
    -------
    LayerSet
        Layers reprojected to EPSG:4326 (when their CRS is known), unvalidated: call
        :func:`validate` next.

    Raises
    ------
    LayerReadError
        When the path does not exist, a required layer is missing, or a file cannot be read.

    Notes
    -----
    - GeoJSON must be UTF-8 (RFC 7946); a file in another encoding (CP1251, Latin-1) is
      refused with a :class:`LayerReadError` rather than read as garbled text. A Shapefile's
      encoding comes from its ``.cpg`` file; without one, Cyrillic text usually reads garbled
      and :func:`validate` warns (``suspect_encoding``).
    - Shapefile column names hold 10 characters, so GDAL and QGIS write ``population_year``
      as ``populati_1`` and ``resource_status`` as ``resource_s``. Such names are mapped back
      to the schema's when the file's columns allow one reading only (always the case for a
      layer with all its schema columns, in schema order); otherwise they are left as they are
      and reported (``truncated_column``). GeoPackage has no such limit.
    - A geometry GEOS cannot build (a one-point line) becomes empty and is reported as
      ``invalid_geometry``, rather than making the whole layer unreadable.
    """
    root = Path(path)
    try:
        exists = root.exists()
    except (OSError, ValueError) as exc:  # a name too long for the file system, a NUL character
        raise LayerReadError(f"{root}: not a usable path ({getattr(exc, 'strerror', None) or exc})",
                             fix="pass the folder or GeoPackage that holds the layers") from None
    if not exists:
        raise LayerReadError(f"{root}: no such file or folder",
                             fix="pass the folder or GeoPackage that holds the layers")
    layers: dict[str, gpd.GeoDataFrame] = {}
    sources: dict[str, str] = {}
    native: dict[str, CRS | None] = {}
    read_problems: list[Problem] = []
    meta_path: Path
    if root.is_dir():
        meta_path = root / _META_FILE
        for name in SCHEMAS:
            file = _find_layer_file(root, name)
            if file is None:
                continue
            gpkg_layer = name if file.suffix == ".gpkg" else None
            label = f"{file}" + (f" (layer {name})" if gpkg_layer else "")
            sources[name] = str(file)
            layers[name], native[name], found = _read_one(file, gpkg_layer, label, name, sources[name])
            read_problems.extend(found)
        where = f"folder {root}"
    else:
        meta_path = root.with_name(f"{root.stem}.{_META_FILE}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # GDAL's notes on odd GeoPackage headers; errors still raise
                available = [str(n) for n, _ in pyogrio.list_layers(root)]
        except Exception as exc:  # any GDAL failure means "not a vector dataset"
            raise LayerReadError(
                f"{root}: not a readable vector dataset ({_gdal_reason(exc)})",
                fix="pass a GeoPackage or a folder of GeoJSON/Shapefile/FlatGeobuf files",
            ) from exc
        for name in SCHEMAS:
            if name in available:
                label = f"{root} (layer {name})"
                sources[name] = f"{root}:{name}"
                layers[name], native[name], found = _read_one(root, name, label, name, sources[name])
                read_problems.extend(found)
        where = f"{root} (layers: {', '.join(available) or 'none'})"
    missing = [n for n in required if n not in layers]
    if missing:
        raise LayerReadError(
            f"{where}: missing layer(s) {', '.join(missing)}",
            fix="provide " + ", ".join(f"'{m}' ({SCHEMAS[m].description})" for m in missing)
            + " as <name>.geojson/.gpkg/.shp/.fgb in the folder or as GeoPackage layers with those names",
        )
    meta: dict[str, Any] = {}
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise LayerReadError(f"{meta_path}: not valid JSON ({exc})", fix="fix or delete the file") from exc
        if "extent" in meta and not (isinstance(meta["extent"], list) and len(meta["extent"]) == 4):
            raise LayerReadError(f"{meta_path}: 'extent' must be [lon_min, lat_min, lon_max, lat_max]",
                                 fix="correct 'extent'")
    return LayerSet(layers, sources, meta, native, read_problems)


# --------------------------------------------------------------------------------------
# validation


def metric_crs(bounds: tuple[float, float, float, float] | np.ndarray) -> CRS:
    """Return a metric CRS for distances within lon/lat ``bounds``.

    UTM for areas narrower than 6 degrees; otherwise an Albers equal-area conic with
    standard parallels at 1/6 and 5/6 of the latitude span (scale error under 1 % across a
    country the size of Kazakhstan).
    """
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        minx, miny, maxx, maxy = -1.0, -1.0, 1.0, 1.0
    minx, maxx = max(minx, -180.0), min(maxx, 180.0)
    miny, maxy = max(miny, -89.0), min(maxy, 89.0)
    lon0 = (minx + maxx) / 2
    lat0 = (miny + maxy) / 2
    if maxx - minx <= 6 and maxy - miny <= 6:
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


class _Collector:
    def __init__(self, layers: LayerSet) -> None:
        self.items: list[Problem] = []
        self.layers = layers

    def add(self, severity: Severity, layer: str, fid: str | None, check: str, message: str, fix: str) -> None:
        self.items.append(Problem(severity, layer, fid, check, message, fix, self.layers.sources.get(layer, "")))


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
    scalar = obj.map(lambda v: isinstance(v, (str, int, float, np.integer, np.floating)) and not isinstance(v, bool))
    scalar = scalar.to_numpy(dtype=bool)
    blank = obj.map(lambda v: v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
                    or (isinstance(v, str) and not v.strip())).to_numpy(dtype=bool)
    text = obj.where(scalar & ~blank, None).map(lambda v: v.strip() if isinstance(v, str) else v)
    parsed = pd.to_numeric(text, errors="coerce").astype(float)
    parsed = parsed.where(np.isfinite(parsed.to_numpy()))
    bad = ~blank & parsed.isna().to_numpy()
    return parsed, bad


#: Cyrillic text decoded with the wrong code page: CP1251 read as Latin-1 gives runs of
#: accented capitals and small letters ("Àáàé" for "Абай"); UTF-8 read as a single-byte code
#: page gives "Ð" or "Ñ" before a second byte ("Ð\x90Ð±Ð°Ð¹").
_MOJIBAKE = r"[\u00c0-\u00ff]{3,}|[\u00d0\u00d1][\u0080-\u00bf]"


def _check_text_encoding(c: _Collector, name: str, gdf: gpd.GeoDataFrame, schema: LayerSchema, ids: np.ndarray) -> None:
    """One warning per layer whose text looks decoded with the wrong code page."""
    hits: dict[str, np.ndarray] = {}
    for f in schema.fields:
        if f.kind != "str" or f.name not in gdf.columns:
            continue
        text = gdf[f.name].map(lambda v: v if isinstance(v, str) else "").astype(object)
        hit = text.str.contains(_MOJIBAKE, regex=True) & ~text.str.contains("[\u0400-\u04ff]", regex=True)
        if hit.any():
            hits[f.name] = hit.to_numpy(dtype=bool)
    if not hits:
        return
    suspect = np.logical_or.reduce(list(hits.values()))
    first = int(np.flatnonzero(suspect)[0])
    column = next(k for k, h in hits.items() if h[first])
    c.add("warning", name, ids[first], "suspect_encoding",
          f"text in {', '.join(repr(k) for k in hits)} on {int(suspect.sum())} feature(s) looks decoded with the "
          f"wrong encoding (e.g. {column} = {str(gdf[column].iloc[first])[:40]!r})",
          "declare the file's encoding (for a Shapefile, a .cpg file holding e.g. CP1251) or re-save it as UTF-8")


def _check_fields(c: _Collector, name: str, gdf: gpd.GeoDataFrame, schema: LayerSchema, ids: np.ndarray) -> None:
    for f in schema.fields:
        if f.name not in gdf.columns:
            if f.required:
                c.add("error", name, None, "missing_column", f"required column '{f.name}' is missing ({f.description})",
                      f"add {'an' if f.kind == 'int' else 'a'} {f.kind} column '{f.name}' to the layer "
                      "(QGIS: Layer Properties ▸ Fields)")
            continue
        col = gdf[f.name]
        empty = col.isna().to_numpy().copy()
        if f.kind == "str":
            empty |= (col.astype(str).str.strip() == "").to_numpy() & col.notna().to_numpy()
        if not f.nullable:
            for fid in ids[empty]:
                c.add("error", name, fid, "null_value", f"'{f.name}' is empty but required ({f.description})",
                      f"fill in '{f.name}'")
        if f.kind in ("int", "float"):
            parsed, bad = _coerce_numbers(col)
            for fid, raw in zip(ids[bad], col[bad], strict=True):
                c.add("error", name, fid, "wrong_type", f"'{f.name}' must be a number, got {str(raw)!r}",
                      f"type a plain number in '{f.name}' (no units, spaces or thousands separators) or leave it empty")
            ok = parsed.notna().to_numpy()
            if f.kind == "int":
                frac = ok & (np.abs(parsed.to_numpy() - np.round(parsed.to_numpy())) > 1e-9)
                for fid, v in zip(ids[frac], parsed[frac], strict=True):
                    c.add("error", name, fid, "wrong_type", f"'{f.name}' must be a whole number, got {v}",
                          f"round '{f.name}'")
            vals = parsed.to_numpy()
            if f.minimum is not None:
                low = ok & ((vals <= f.minimum) if f.exclusive_minimum else (vals < f.minimum))
                bound = f"greater than {f.minimum:g}" if f.exclusive_minimum else f"at least {f.minimum:g}"
                for fid, v in zip(ids[low], vals[low], strict=True):
                    c.add("error", name, fid, "out_of_range", f"'{f.name}' is {v:g}; it must be {bound}",
                          f"correct '{f.name}' or leave it empty if unknown" if f.nullable else f"correct '{f.name}'")
            if f.maximum is not None:
                high = ok & (vals > f.maximum)
                for fid, v in zip(ids[high], vals[high], strict=True):
                    c.add("error", name, fid, "out_of_range", f"'{f.name}' is {v:g}; it must be at most {f.maximum:g}",
                          f"correct '{f.name}'")
        elif f.allowed is not None:
            present = col.notna().to_numpy() & ~empty
            vals = col.astype(str).str.strip().to_numpy()
            bad = present & ~np.isin(vals, f.allowed)
            for fid, v in zip(ids[bad], vals[bad], strict=True):
                c.add("error", name, fid, "not_allowed", f"'{f.name}' is {v!r}; allowed: {', '.join(f.allowed)}",
                      f"set '{f.name}' to one of the allowed values")
    _check_text_encoding(c, name, gdf, schema, ids)
    if schema.id_field in gdf.columns:
        idcol = gdf[schema.id_field]
        present = idcol.notna() & (idcol.astype(str).str.strip() != "")
        dup = idcol[present].astype(str).duplicated(keep="first")
        for fid in sorted(set(idcol[present][dup].astype(str))):
            n = int((idcol.astype(str) == fid).sum())
            c.add("error", name, fid, "duplicate_id", f"id '{fid}' is used by {n} features",
                  "give every feature its own id (delete the copy or rename one)")


def _check_geometry(c: _Collector, name: str, gdf: gpd.GeoDataFrame, schema: LayerSchema, ids: np.ndarray,
                    extent: list[float] | None, margin: float) -> np.ndarray:
    """Geometry checks; returns the mask of features whose geometry is usable."""
    geoms = gdf.geometry.to_numpy()
    missing = shapely.is_missing(geoms)
    empty = ~missing & shapely.is_empty(geoms)
    # A geometry that could not be parsed was reported while reading; do not call it empty too.
    unparsed = {p.feature_id for p in c.items if p.layer == name and p.check == "invalid_geometry"}
    for fid in ids[missing | empty]:
        if fid not in unparsed:
            c.add("error", name, fid, "empty_geometry", "feature has no geometry",
                  "draw the feature's geometry or delete the feature")
    present = ~(missing | empty)
    types = np.array(shapely.get_type_id(geoms))
    want = {"Point": (0, 4), "LineString": (1, 5)}[schema.geometry_type]
    single_multi = present & (types == want[1]) & (shapely.get_num_geometries(geoms) == 1)
    wrong = present & ~np.isin(types, want[0]) & ~single_multi
    for fid, t in zip(ids[wrong], shapely.get_type_id(geoms[wrong]), strict=True):
        kind = ["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon",
                "GeometryCollection"][int(t)]
        fix = ("split it into single parts (QGIS: Vector ▸ Geometry Tools ▸ Multipart to Singleparts)"
               if kind.startswith("Multi") else f"redraw it as a {schema.geometry_type}")
        c.add("error", name, fid, "wrong_geometry_type",
              f"geometry is a {kind}; this layer holds {schema.geometry_type}s", fix)
    usable = present & ~wrong
    invalid = usable & ~shapely.is_valid(geoms)
    for fid, reason in zip(ids[invalid], shapely.is_valid_reason(geoms[invalid]), strict=True):
        c.add("error", name, fid, "invalid_geometry", f"invalid geometry: {reason}",
              "repair it (QGIS: Vector ▸ Geometry Tools ▸ Fix Geometries) or redraw it")
    usable &= ~invalid
    if gdf.crs is None:
        c.add("error", name, None, "missing_crs", "layer has no coordinate reference system",
              "assign the CRS the coordinates are in (QGIS: Layer ▸ Set CRS of Layer; geopandas: set_crs)")
    if not usable.any():
        return usable
    bounds = shapely.bounds(geoms)
    if gdf.crs is None or gdf.crs.is_geographic:
        outside = usable & ((bounds[:, 0] < -180) | (bounds[:, 2] > 180) | (bounds[:, 1] < -90) | (bounds[:, 3] > 90))
        for fid, b in zip(ids[outside], bounds[outside], strict=True):
            c.add("error", name, fid, "coordinates_out_of_range",
                  f"coordinates ({b[0]:.6g}, {b[1]:.6g}) are not longitude/latitude degrees; the layer is labelled "
                  "EPSG:4326 but looks projected", "assign the layer its real (projected) CRS instead of EPSG:4326")
        usable &= ~outside
        if extent is not None:
            x0, y0, x1, y1 = extent
            cx, cy = (bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2
            inside = (cx >= x0 - margin) & (cx <= x1 + margin) & (cy >= y0 - margin) & (cy <= y1 + margin)
            swapped = (cy >= x0 - margin) & (cy <= x1 + margin) & (cx >= y0 - margin) & (cx <= y1 + margin)
            out = usable & ~inside
            for fid, x, y, sw in zip(ids[out], cx[out], cy[out], swapped[out], strict=True):
                if sw:
                    c.add("error", name, fid, "swapped_coordinates",
                          f"at lon {x:.4f}, lat {y:.4f}, outside the expected extent; swapping gives a point inside it",
                          "swap longitude and latitude (x = longitude, y = latitude)")
                else:
                    c.add("error", name, fid, "outside_extent",
                          f"at lon {x:.4f}, lat {y:.4f}, outside the layer set's extent {extent}",
                          "move the feature to its real location, or widen 'extent' in layerset.json")
            usable &= inside
    return usable


#: Vertex spacing (degrees, about 200 m) used before projecting lon/lat lines to metres. A
#: straight segment in the file is straight in lon/lat; projected as a two-point chord it can
#: sit kilometres away from that line mid-way along a long road link (2.4 km on the embedded
#: Kazakhstan network). Densified, the projected line stays within a millimetre of it.
_DENSIFY_DEG = 0.002


def _metric_lines(geoms: np.ndarray, crs: CRS) -> np.ndarray:
    """Lon/lat lines in the metric ``crs``, following the lon/lat line rather than its chord."""
    dense = shapely.segmentize(geoms, _DENSIFY_DEG)
    return gpd.GeoSeries(dense, crs=4326).to_crs(crs).to_numpy()


def _road_endpoints(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    first = shapely.get_coordinates(shapely.get_point(lines, 0))
    last = shapely.get_coordinates(shapely.get_point(lines, -1))
    return first, last


def _check_roads(c: _Collector, roads: gpd.GeoDataFrame, ids: np.ndarray, usable: np.ndarray,
                 crs: CRS, cfg: ValidationConfig) -> None:
    if usable.sum() == 0:
        return
    lines = _metric_lines(roads.geometry.to_numpy()[usable], crs)
    lines = np.where(shapely.get_type_id(lines) == 5, shapely.get_geometry(lines, 0), lines)  # single-part multis
    rid = ids[usable]
    length_m = shapely.length(lines)
    for fid in rid[length_m <= 0.5]:
        c.add("error", "roads", fid, "zero_length", "road has zero length (start and end are the same point)",
              "delete the segment or redraw it between two different places")
    if "length_km" in roads.columns:
        declared, _ = _coerce_numbers(roads["length_km"])
        declared = declared.to_numpy()[usable]
        short = np.isfinite(declared) & (declared > 0) & (declared * 1000 < 0.9 * length_m)
        for fid, d, g in zip(rid[short], declared[short], length_m[short], strict=True):
            c.add("warning", "roads", fid, "length_shorter_than_line",
                  f"length_km is {d:g} but the line itself is {g / 1000:.1f} km long",
                  "check length_km (a road cannot be shorter than its straight line)")
    # Topology: nodes = endpoints rounded to 1 cm, so connectivity needs shared end coordinates.
    first, last = _road_endpoints(lines)
    ends = np.vstack([first, last])
    keys, inverse = np.unique(np.round(ends, 2), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    n = len(rid)
    u, v = inverse[:n], inverse[n:]
    graph = coo_matrix((np.ones(n), (u, v)), shape=(len(keys), len(keys)))
    ncomp, labels = connected_components(graph, directed=False)
    if ncomp > 1:
        comp_of_road = labels[u]
        sizes = np.bincount(comp_of_road, minlength=ncomp)
        main = int(np.argmax(sizes))
        for comp in sorted(set(range(ncomp)) - {main}, key=lambda k: (-sizes[k], k)):
            members = sorted(rid[comp_of_road == comp].tolist())
            shown = ", ".join(members[:10]) + (f" and {len(members) - 10} more" if len(members) > 10 else "")
            c.add("warning", "roads", members[0], "disconnected_component",
                  f"{len(members)} road(s) not connected to the main network ({sizes[main]} roads): {shown}",
                  "connect them with a road to the main network, or snap their ends onto it")
    # Dangling ends: an end used by one segment only that lies near another road.
    degree = np.bincount(inverse, minlength=len(keys))
    tree = shapely.STRtree(lines)
    for which, pts in (("start", first), ("end", last)):
        idx = inverse[:n] if which == "start" else inverse[n:]
        dangling = np.flatnonzero(degree[idx] == 1)
        if dangling.size == 0:
            continue
        points = shapely.points(pts[dangling])
        p_idx, l_idx = tree.query(points, predicate="dwithin", distance=cfg.snap_tolerance_m)
        keep = l_idx != dangling[p_idx]
        p_idx, l_idx = p_idx[keep], l_idx[keep]
        dist = shapely.distance(points[p_idx], lines[l_idx])
        # Only the nearest other road per end (ties: the smallest id), not every road of a junction.
        order = np.lexsort((rid[l_idx].astype(str), np.round(dist, 3), p_idx))
        nearest = order[np.r_[True, p_idx[order][1:] != p_idx[order][:-1]]] if order.size else order
        for p_i, line_i, d in zip(p_idx[nearest], l_idx[nearest], dist[nearest], strict=True):
            own = dangling[p_i]
            if d <= 0.01:
                # Ends exactly on another line's interior: a T-junction without a node.
                msg = f"{which} lies on road {rid[line_i]} but that road has no vertex there"
                fix = f"split road {rid[line_i]} at this point so the two connect"
            else:
                msg = f"{which} is {d:.0f} m from road {rid[line_i]} but not connected to it"
                fix = f"snap the {which} onto road {rid[line_i]} (QGIS snapping, or Snap Geometries to Layer)"
            c.add("warning", "roads", rid[own], "dangling_end", msg, fix)


def _check_access(c: _Collector, layers: LayerSet, crs: CRS, usable: dict[str, np.ndarray],
                  cfg: ValidationConfig) -> None:
    roads = layers.layers.get("roads")
    if roads is None or not usable["roads"].any():
        return
    road_lines = _metric_lines(roads.geometry.to_numpy()[usable["roads"]], crs)
    tree = shapely.STRtree(road_lines)
    for name in ("towns", "centres"):
        gdf = layers.layers.get(name)
        if gdf is None or not usable[name].any():
            continue
        ids = _feature_ids(gdf, "id")[usable[name]]
        pts = gpd.GeoSeries(gdf.geometry.to_numpy()[usable[name]], crs=4326).to_crs(crs).to_numpy()
        _, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
        far = dist > cfg.max_access_km * 1000
        for fid, d in zip(ids[far], dist[far], strict=True):
            c.add("warning", name, fid, "far_from_road",
                  f"nearest road is {d / 1000:.1f} km away (limit {cfg.max_access_km:g} km)",
                  "add the road that serves this place, or check its coordinates")


def _check_identity(c: _Collector, layers: LayerSet, crs: CRS, usable: dict[str, np.ndarray]) -> None:
    """One identity per place: a town that is also a centre must share id, position and name."""
    towns, centres = layers.layers.get("towns"), layers.layers.get("centres")
    if towns is None or centres is None or "id" not in towns or "id" not in centres:
        return
    if not usable["towns"].any() or not usable["centres"].any():
        return
    t = towns[usable["towns"]].to_crs(crs)
    ce = centres[usable["centres"]].to_crs(crs)
    joined = gpd.sjoin_nearest(t[["id", "name_en", "geometry"]] if "name_en" in t else t[["id", "geometry"]],
                               ce[["id", "geometry"]].rename(columns={"id": "centre_id"}),
                               max_distance=5000, distance_col="dist")
    for _, row in joined.sort_values("id").iterrows():
        if row["id"] != row["centre_id"]:
            c.add("warning", "towns", str(row["id"]), "identity",
                  f"lies {row['dist'] / 1000:.1f} km from centre '{row['centre_id']}'; the same place has two ids",
                  f"use the id '{row['centre_id']}' in both layers so the place has one identity")
    tid, cid = _plain_text(t["id"]), _plain_text(ce["id"])
    shared = sorted((set(tid) & set(cid)) - {""})  # blank ids are reported as null_value, not matched
    for pid in shared:
        a = t.geometry.to_numpy()[tid == pid][0]
        b = ce.geometry.to_numpy()[cid == pid][0]
        d = float(a.distance(b))
        if d > 5000:
            c.add("warning", "towns", pid, "identity",
                  f"town and centre with id '{pid}' are {d / 1000:.1f} km apart",
                  "use the same coordinates for the same place in both layers")


def _plain_text(values: pd.Series) -> np.ndarray:
    """Each value as stripped text; ``""`` for empty values (None, NaN, NA)."""
    def one(v: object) -> str:
        return "" if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else str(v).strip()

    return np.array([one(v) for v in values], dtype=object)


def _id_set(gdf: gpd.GeoDataFrame | None) -> set[str]:
    if gdf is None or "id" not in gdf.columns:
        return set()
    return set(_plain_text(gdf["id"])) - {""}


def _check_rail(c: _Collector, layers: LayerSet) -> None:
    """Cross-references of the rail layers: link ends are stations, ``serves`` names a place."""
    stations, rail = layers.layers.get("rail_stations"), layers.layers.get("rail")
    if rail is not None and stations is None:
        c.add("error", "rail", None, "missing_layer",
              "the rail layer has no rail_stations layer to name its link ends",
              f"add a 'rail_stations' layer ({RAIL_STATIONS.description}) beside the rail layer")
    if rail is not None and stations is not None and "id" in stations.columns:
        known = _id_set(stations)
        ids = _feature_ids(rail, "id")
        for col in ("from_station", "to_station"):
            if col not in rail.columns:
                continue  # reported as missing_column
            vals = _plain_text(rail[col])
            unknown = (vals != "") & ~np.isin(vals, list(known))
            for fid, v in zip(ids[unknown], vals[unknown], strict=True):
                c.add("error", "rail", fid, "unknown_station", f"{col} '{v}' is not a rail_stations id",
                      f"correct {col}, or add station '{v}' to the rail_stations layer")
        if {"from_station", "to_station"} <= set(rail.columns):
            a, b = _plain_text(rail["from_station"]), _plain_text(rail["to_station"])
            loop = (a == b) & (a != "")
            for fid, v in zip(ids[loop], a[loop], strict=True):
                c.add("error", "rail", fid, "self_link", f"link starts and ends at station '{v}'",
                      "set from_station and to_station to the two different stations the link joins")
    towns, centres = layers.layers.get("towns"), layers.layers.get("centres")
    if stations is not None and "serves" in stations.columns:
        if towns is None or centres is None or len(towns) == 0 or len(centres) == 0:
            return  # nothing sound to check against; a missing or empty place layer is reported itself
        places = _id_set(towns) | _id_set(centres)
        ids = _feature_ids(stations, "id")
        vals = _plain_text(stations["serves"])
        unknown = (vals != "") & ~np.isin(vals, list(places))
        for fid, v in zip(ids[unknown], vals[unknown], strict=True):
            c.add("error", "rail_stations", fid, "unknown_place",
                  f"station {fid} serves '{v}', which is neither a towns nor a centres id",
                  "set 'serves' to the id of the town or centre the station serves, or leave it empty")


def validate(layers: LayerSet, *, config: ValidationConfig | None = None) -> list[Problem]:
    """Check a layer set and return every problem found.

    Parameters
    ----------
    layers
        The layer set from :func:`read_layers`.
    config
        Thresholds; defaults to :class:`ValidationConfig`.

    Returns
    -------
    list of Problem
        Sorted by layer, severity, feature id and check. Empty when the layer set is clean.
        Errors make the layer set unusable for analysis; warnings flag likely mistakes.

    Notes
    -----
    Check codes (``Problem.check``). Errors: ``empty_layer``, ``missing_column``,
    ``null_value``, ``wrong_type`` (text such as ``"12 000"`` in a number column),
    ``out_of_range`` (e.g. a population of 0 or less), ``not_allowed`` (a value outside the
    schema's list, e.g. an unknown road class), ``duplicate_id``, ``empty_geometry``,
    ``wrong_geometry_type``, ``invalid_geometry`` (with the reason GEOS gives),
    ``missing_crs``, ``crs_mismatch`` (a projected CRS on lon/lat coordinates),
    ``coordinates_out_of_range`` (projected coordinates labelled EPSG:4326),
    ``swapped_coordinates``, ``outside_extent``, ``zero_length``, and ``truncated_column``
    when a required Shapefile column name is ambiguous. Warnings: ``unexpected_crs`` (a
    GeoJSON ``crs`` member), ``suspect_encoding``, ``truncated_column``,
    ``length_shorter_than_line``, ``disconnected_component``, ``dangling_end`` (within
    ``snap_tolerance_m`` of another road), ``far_from_road`` (beyond ``max_access_km``) and
    ``identity`` (one place with two ids, or one id at two places).

    The optional rail layers get the same column and geometry checks, plus these errors:
    ``unknown_station`` (a rail link's ``from_station``/``to_station`` is not a
    ``rail_stations`` id), ``self_link``, ``missing_layer`` (``rail`` without
    ``rail_stations``) and ``unknown_place`` (a station ``serves`` an id that is neither a
    town nor a centre).
    """
    cfg = config or ValidationConfig()
    c = _Collector(layers)
    c.items.extend(layers.read_problems)
    extent = layers.meta.get("extent")
    usable: dict[str, np.ndarray] = {}
    for name, gdf in layers.layers.items():
        schema = SCHEMAS.get(name)
        if schema is None:
            continue
        ids = _feature_ids(gdf, schema.id_field)
        if len(gdf) == 0:
            c.add("error", name, None, "empty_layer", "layer has no features", f"add the {schema.description}")
        _check_fields(c, name, gdf, schema, ids)
        usable[name] = _check_geometry(c, name, gdf, schema, ids, extent, cfg.extent_margin_deg)
    ok = {n: usable[n] if layers.layers[n].crs is not None else np.zeros_like(usable[n]) for n in usable}
    if any(m.any() for m in ok.values()):
        allb = np.vstack([shapely.bounds(layers.layers[n].geometry.to_numpy()[m]) for n, m in ok.items() if m.any()])
        crs = metric_crs((allb[:, 0].min(), allb[:, 1].min(), allb[:, 2].max(), allb[:, 3].max()))
        empty = np.zeros(0, bool)
        if "roads" in ok:
            _check_roads(c, layers.roads, _feature_ids(layers.roads, "id"), ok["roads"], crs, cfg)
            _check_access(c, layers, crs, {n: ok.get(n, empty) for n in ("towns", "centres", "roads")}, cfg)
        _check_identity(c, layers, crs, {n: ok.get(n, empty) for n in ("towns", "centres")})
    _check_rail(c, layers)
    order = {"error": 0, "warning": 1}
    return sorted(c.items, key=lambda p: (p.layer, order[p.severity], p.feature_id or "", p.check, p.message))


def require_valid(layers: LayerSet, *, config: ValidationConfig | None = None) -> list[Problem]:
    """Validate and raise :class:`LayerValidationError` if there is any error; return the warnings.

    Parameters
    ----------
    layers
        The layer set from :func:`read_layers`.
    config
        Thresholds; defaults to :class:`ValidationConfig`.

    Raises
    ------
    LayerValidationError
        Listing the first 20 errors; ``problems`` holds every problem found.
    """
    problems = validate(layers, config=config)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        shown = "\n".join(f"  {p}" for p in errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise LayerValidationError(
            f"the layer set has {len(errors)} error(s):\n{shown}{more}",
            problems=problems,
            fix="correct the features listed (run 'geoplan layers check' for the full report) and run again",
        )
    return problems


def problems_frame(problems: list[Problem]) -> pd.DataFrame:
    """Problems as a table with one row per problem."""
    cols = ["severity", "layer", "feature_id", "check", "message", "fix", "source"]
    return pd.DataFrame([asdict(p) for p in problems], columns=cols)


# --------------------------------------------------------------------------------------
# normalising and writing


def normalise(gdf: gpd.GeoDataFrame, schema: LayerSchema) -> gpd.GeoDataFrame:
    """Columns in schema order with canonical dtypes; single-part multi-geometries unwrapped.

    Assumes the layer passed :func:`validate` (numbers parse, ids are unique).
    """
    out = gpd.GeoDataFrame(index=range(len(gdf)))
    for f in schema.fields:
        if f.name not in gdf.columns:
            continue
        col = gdf[f.name].reset_index(drop=True)
        if f.kind == "int":
            out[f.name] = _coerce_numbers(col)[0].round().astype("Int64")
        elif f.kind == "float":
            out[f.name] = _coerce_numbers(col)[0].astype(float)
        else:
            out[f.name] = col.astype(object).where(col.notna(), None).map(lambda v: v if v is None else str(v))
    extra = [c for c in gdf.columns if c not in schema.column_names and c != gdf.geometry.name]
    for col in extra:
        out[col] = gdf[col].reset_index(drop=True)
    geoms = gdf.geometry.to_numpy()
    multi = shapely.get_type_id(geoms) >= 4
    geoms = np.where(multi, shapely.get_geometry(geoms, 0), geoms)
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms, crs=gdf.crs), crs=gdf.crs)


def _with_integer_columns(gdf: gpd.GeoDataFrame, schema: LayerSchema | None) -> gpd.GeoDataFrame:
    """``gdf`` with its schema's integer columns as nullable integers where every value is one.

    Readers give an integer column with empty cells as float (``1999.0``); written back like
    that it becomes a REAL GeoPackage field and ``1999.0`` in GeoJSON. Columns holding anything
    but whole numbers (a forced export of a layer with errors) are left as they are.
    """
    if schema is None:
        return gdf
    out = gdf
    for f in schema.fields:
        if f.kind != "int" or f.name not in gdf.columns or pd.api.types.is_integer_dtype(gdf[f.name]):
            continue
        parsed, bad = _coerce_numbers(gdf[f.name])
        vals = parsed.to_numpy()
        ok = ~np.isnan(vals)
        if bad.any() or (gdf[f.name].notna().to_numpy() & ~ok).any() or (np.abs(vals[ok]) >= 2**53).any():
            continue
        if (vals[ok] != np.round(vals[ok])).any():
            continue
        if out is gdf:
            out = gdf.copy()
        out[f.name] = parsed.round().astype("Int64")
    return out


#: The date GDAL writes into a GeoPackage's ``gpkg_contents.last_change``: fixed, so that the
#: same layers always give the same bytes (GDAL writes the current time otherwise).
GPKG_TIMESTAMP = "2000-01-01T00:00:00.000Z"


def write_layers(layers: LayerSet, path: str | os.PathLike[str]) -> Path:
    """Write a layer set as one GeoPackage (``*.gpkg``) or a folder of RFC 7946 GeoJSON files.

    Every file is written to a temporary file and renamed into place, so an existing file is
    replaced only by a complete one, and the same layers give byte-identical files. The layer
    set's metadata is written beside it (``layerset.json`` in a folder, ``<stem>.layerset.json``
    beside a GeoPackage); a stale ``<stem>.layerset.json`` from an earlier export is removed
    when the layer set has none (a folder's ``layerset.json`` is left as it is).

    Parameters
    ----------
    layers
        The layer set to write.
    path
        A ``.gpkg`` file (one layer per layer of the set), or a folder that receives
        ``<layer>.geojson`` files.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    GeoplanError
        When the target cannot be written (permissions, a folder in the way, a full disk).
    """
    target = Path(path)
    try:
        if target.suffix.lower() == ".gpkg":
            sidecar = target.with_name(f"{target.stem}.{_META_FILE}")
            previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
            pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_TIMESTAMP})
            try:
                with atomic_path(target) as tmp:
                    for name, gdf in layers.layers.items():
                        pyogrio.write_dataframe(_with_integer_columns(gdf, SCHEMAS.get(name)), tmp, layer=name,
                                                driver="GPKG", append=tmp.exists(),
                                                layer_options={"SPATIAL_INDEX": "YES"})
            finally:
                pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
            if layers.meta:
                write_text_atomic(sidecar, json.dumps(layers.meta, indent=2, ensure_ascii=False) + "\n")
            elif sidecar.is_file():
                sidecar.unlink()
            return target
        target.mkdir(parents=True, exist_ok=True)
        for name, gdf in layers.layers.items():
            if gdf.crs is None:
                raise GeoplanError(f"layer '{name}' has no CRS; cannot write it as RFC 7946 GeoJSON to {target}",
                                   fix="assign the layer's CRS, or export to a .gpkg file")
            write_geojson(_with_integer_columns(gdf, SCHEMAS.get(name)), target / f"{name}.geojson", name=name)
        if layers.meta:
            write_text_atomic(target / _META_FILE, json.dumps(layers.meta, indent=2, ensure_ascii=False) + "\n")
        return target
    except GeoplanError:
        raise
    except (OSError, ValueError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        # ValueError: values JSON cannot hold (infinite coordinates) when exporting with errors.
        raise GeoplanError(
            f"{target}: cannot write the layer set: {_gdal_reason(exc)}",
            fix="choose a writable path (a .gpkg file name or a folder) with free space",
        ) from exc
