"""Exports of the analysis results: RFC 7946 GeoJSON, a styled GeoPackage for QGIS, and CSV.

:func:`export_results` writes, into one folder,

- ``towns.geojson``, ``centres.geojson``, ``catchments.geojson``, ``flows.geojson``: RFC 7946
  (WGS 84 lon/lat, no ``crs`` member, counter-clockwise exterior rings, 6 decimals);
- ``results.gpkg``: every layer plus QGIS default styles in the ``layer_styles`` table, so the
  towns open coloured by category, catchments by band and flows scaled by people;
- ``towns.csv``: the towns table with ``lon``/``lat``, for spreadsheets.

Every file is written to a temporary name and renamed into place, and the same results always
give the same bytes: rows are sorted, GDAL's "last change" stamps and the styles' update time
are fixed (:data:`FIXED_TIMESTAMP`).

Examples
--------
>>> import geopandas as gpd, shapely, tempfile
>>> towns = gpd.GeoDataFrame({"id": ["a"], "name_en": ["Abai"], "category": ["monitor"]},
...                          geometry=[shapely.Point(72.85, 49.63)], crs=4326)
>>> centres = gpd.GeoDataFrame({"id": ["k"], "name_en": ["Karaganda"]},
...                            geometry=[shapely.Point(73.10, 49.80)], crs=4326)
>>> with tempfile.TemporaryDirectory() as tmp:  # removed afterwards
...     out = export_results(tmp, towns=towns, centres=centres, catchments=None, flows=None)
>>> sorted(out)
['catchments.geojson', 'centres.geojson', 'flows.geojson', 'results.gpkg', 'towns.csv', 'towns.geojson']

"""

from __future__ import annotations

import math
import os
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geoplan._errors import AnalysisError
from geoplan._io import (
    atomic_path,
    csv_safe,
    rfc7946_geometries,
    write_csv,
    write_geojson,
    write_gpkg,
    write_text_atomic,
)
from geoplan._results import ResultKind, check_result
from geoplan._style import (
    CATEGORIES,
    CATEGORY_COLOURS,
    CATEGORY_LABELS,
    CENTRE_COLOUR,
    FLOW_COLOUR,
    ROAD_COLOUR,
    SURFACE_CMAP,
    band_colours,
    qgis_rgba,
    surface_breaks,
    surface_colours,
)
from geoplan.settings import GEOJSON_PRECISION, GPKG_TIMESTAMP

__all__ = ["FIXED_TIMESTAMP", "FORMATS", "export_results", "qgis_style", "surface_qml", "tidy_columns", "towns_table",
           "write_results_gpkg"]

#: Timestamp written wherever a format wants "now" (GeoPackage ``last_change``, style
#: ``update_time``), so that two runs give byte-identical files.
FIXED_TIMESTAMP = GPKG_TIMESTAMP

_PathLike = str | os.PathLike[str]

#: GeoJSON files and the column that becomes each feature's ``id`` member.
_GEOJSON: tuple[tuple[ResultKind, str | None], ...] = (
    ("towns", "id"), ("centres", "id"), ("catchments", None), ("flows", None),
)

_DESCRIPTIONS = {
    "towns": "monotowns coloured by category",
    "centres": "growth centres sized by population",
    "catchments": "catchment bands by road travel time",
    "flows": "relocation flows, width by people",
    "roads": "road network by class",
}


#: Export formats of the result layers besides the GeoPackage and CSV (``--formats``).
FORMATS = ("geojson", "fgb", "parquet")

#: Columns holding whole numbers: written as integers (empty where unknown), never as 33066.0.
_INTEGER_COLUMNS = ("population", "population_year", "population_1999", "population_2009", "population_2021",
                    "nearest_centre_population", "people", "people_to_move", "capacity", "allocated", "band",
                    "rank", "rank_low", "rank_high", "settlements", "lanes")
#: Decimals kept per measure (a minute, 100 m, a person ...); other floats keep 6 significant digits.
_DECIMALS = {"minutes": 1, "km": 1, "snap_km": 2, "area_km2": 1, "accessibility": 0, "growth_pct_per_year": 2,
             "trend_years": 1, "capacity_used": 3, "score": 3, "share": 3, "minutes_change": 1}


def tidy_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy with integer columns as nullable integers and measures rounded sensibly.

    Parameters
    ----------
    frame
        A result table (any frame; unknown columns are left as they are).

    Returns
    -------
    pandas.DataFrame
        A copy.

    Examples
    --------
    >>> t = tidy_columns(pd.DataFrame({"population": [33066.0, None], "minutes": [146.21093, 1.0]}))
    >>> str(t["population"].dtype), t["population"].iloc[0], t["minutes"].tolist()
    ('Int64', np.int64(33066), [146.2, 1.0])
    """
    out = frame.copy()
    for col in out.columns:
        name = str(col)
        if name not in _INTEGER_COLUMNS and name not in _DECIMALS:
            continue
        values = pd.to_numeric(out[col], errors="coerce")
        if values.notna().sum() < out[col].notna().sum():
            continue  # text in a numeric-looking column: leave it as it is
        if name in _INTEGER_COLUMNS:
            finite = values[np.isfinite(values.astype(float))]
            if (finite == np.round(finite)).all():
                out[col] = values.round().astype("Int64")
        elif pd.api.types.is_float_dtype(values):
            out[col] = values.round(_DECIMALS[name])
    return out


def _with_ids(kind: str, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Give every feature an ``id``: catchments ``<centre>-<band>``, flows ``<origin>-<destination>``."""
    if "id" in gdf.columns or kind not in ("catchments", "flows"):
        return gdf
    a, b = ("centre", "band") if kind == "catchments" else ("origin", "destination")
    ids = gdf[a].astype(str) + "-" + gdf[b].astype(str)
    if ids.duplicated().any():  # e.g. two flows of the same pair: number them
        ids = ids + "-" + (ids.groupby(ids).cumcount() + 1).astype(str)
    out = gdf.copy()
    out.insert(0, "id", ids.to_numpy())
    return out


def export_results(
    out_dir: _PathLike,
    *,
    towns: gpd.GeoDataFrame,
    centres: gpd.GeoDataFrame,
    catchments: gpd.GeoDataFrame | None,
    flows: gpd.GeoDataFrame | None,
    roads: gpd.GeoDataFrame | None = None,
    formats: Sequence[str] = ("geojson",),
    excel: bool = False,
    metadata: Mapping[str, str] | None = None,
) -> dict[str, Path]:
    """Write the analysis results as GeoJSON (or FlatGeobuf, GeoParquet), a styled GeoPackage and CSV.

    Every feature has an ``id`` (catchments ``<centre>-<band>``, flows
    ``<origin>-<destination>``), whole-number columns stay integers and measures are rounded to
    a sensible precision (:func:`tidy_columns`).

    Parameters
    ----------
    out_dir
        Folder to write into (created if needed). Existing files of the same names are
        replaced, each only once its new version is complete.
    towns, centres, catchments, flows
        Results in the results schema. ``catchments`` or ``flows`` may be ``None`` or empty:
        their GeoJSON is then an empty FeatureCollection and their GeoPackage layer empty.
    roads
        Optional roads layer, added to the GeoPackage (not to the GeoJSON files) for context.
    formats
        Per-layer files to write besides the GeoPackage: any of ``geojson`` (RFC 7946),
        ``fgb`` (FlatGeobuf) and ``parquet`` (GeoParquet 1.0).
    excel
        Write ``towns.csv`` with a UTF-8 byte-order mark, so that Excel in any locale (e.g.
        Russian) reads the Cyrillic names right.
    metadata
        Key/value pairs recorded in the GeoPackage's metadata (e.g. the scenario name and the
        geoplan version).

    Returns
    -------
    dict of str to pathlib.Path
        File name -> path of every file written.

    Raises
    ------
    AnalysisError
        If a result lacks a required column, has bad geometries or unknown categories.
    ValueError
        For an unknown format.

    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"Invalid value: unknown export format(s) {', '.join(map(str, unknown))}, "
                         f"needs to be among {', '.join(FORMATS)}")
    frames: dict[str, gpd.GeoDataFrame] = {
        "towns": check_result(towns, "towns"),
        "centres": check_result(centres, "centres"),
        "catchments": check_result(catchments, "catchments"),
        "flows": check_result(flows, "flows"),
    }
    if roads is not None:
        frames["roads"] = check_result(roads, "roads")
    frames = {k: gpd.GeoDataFrame(tidy_columns(_with_ids(k, v)), geometry=v.geometry.name, crs=v.crs)
              for k, v in frames.items()}
    out = Path(out_dir)
    written: dict[str, Path] = {}
    for kind, _ in _GEOJSON:
        if "geojson" in formats:
            path = out / f"{kind}.geojson"
            written[path.name] = write_geojson(frames[kind], path, id_column="id", name=kind)
        if "fgb" in formats:
            path = out / f"{kind}.fgb"
            written[path.name] = _write_fgb(frames[kind], path, kind)
        if "parquet" in formats:
            path = out / f"{kind}.parquet"
            written[path.name] = _write_parquet(frames[kind], path)
    written["results.gpkg"] = write_results_gpkg(out / "results.gpkg", frames, metadata=metadata)
    table = towns_table(frames["towns"])
    written["towns.csv"] = (write_text_atomic(out / "towns.csv", "\ufeff" + csv_safe(table).to_csv(
        index=False, lineterminator="\r\n")) if excel else write_csv(table, out / "towns.csv"))
    return written


def _write_fgb(gdf: gpd.GeoDataFrame, path: Path, kind: str) -> Path:
    """Write one layer as FlatGeobuf (lon/lat, rounded like the GeoJSON), atomically."""
    geoms = rfc7946_geometries(gdf.geometry)
    frame = gpd.GeoDataFrame(gdf.drop(columns=gdf.geometry.name), geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)
    gtype, promote = _geometry_type(kind, geoms)
    with atomic_path(path) as tmp:
        pyogrio.write_dataframe(frame, tmp, driver="FlatGeobuf", layer=kind, geometry_type=gtype,
                                promote_to_multi=promote, layer_options={"SPATIAL_INDEX": "YES"})
    return path


def _write_parquet(gdf: gpd.GeoDataFrame, path: Path) -> Path:
    """Write one layer as GeoParquet (WKB geometries, lon/lat), atomically."""
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise AnalysisError(f"{path}: GeoParquet needs the pyarrow package",
                            fix="pip install pyarrow, or leave 'parquet' out of --formats") from exc
    geoms = rfc7946_geometries(gdf.geometry)
    frame = gpd.GeoDataFrame(gdf.drop(columns=gdf.geometry.name), geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False, compression="zstd", schema_version="1.0.0")
    return path


def towns_table(towns: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return the towns result as a plain table: every attribute plus ``lon`` and ``lat`` (6 decimals)."""
    towns = check_result(towns, "towns")
    table = pd.DataFrame(towns.drop(columns=towns.geometry.name))
    xy = shapely.get_coordinates(towns.geometry.to_numpy()) if len(towns) else np.empty((0, 2))
    table["lon"] = np.round(xy[:, 0], GEOJSON_PRECISION)
    table["lat"] = np.round(xy[:, 1], GEOJSON_PRECISION)
    return table


# --------------------------------------------------------------------------------------
# GeoPackage


def _geometry_type(kind: str, geoms: np.ndarray) -> tuple[str, bool]:
    """GeoPackage geometry type of a layer and whether to promote single parts to multi."""
    if kind in ("towns", "centres"):
        return "Point", False
    if kind == "catchments":
        return "MultiPolygon", True
    multi = bool(len(geoms)) and bool((shapely.get_type_id(geoms) == shapely.GeometryType.MULTILINESTRING).any())
    return ("MultiLineString", True) if multi else ("LineString", False)


def write_results_gpkg(path: _PathLike, layers: Mapping[str, gpd.GeoDataFrame], *, styles: bool = True,
                       metadata: Mapping[str, str] | None = None) -> Path:
    """Write result layers into one GeoPackage with QGIS default styles, atomically.

    Parameters
    ----------
    path
        Output ``.gpkg`` file; replaced only once the new file is complete.
    layers
        Layer name (``towns``, ``centres``, ``catchments``, ``flows``, ``roads``) -> result
        frame, written in this order. Geometries are rounded like the GeoJSON files.
    styles
        Store a default QGIS style per layer in the ``layer_styles`` table (the table QGIS
        itself creates with "Save as default" in a GeoPackage).
    metadata
        Key/value pairs stored as the GeoPackage's dataset metadata (GDAL metadata domain,
        ``gpkg_metadata`` table): e.g. ``scenario``, ``scenario_description``,
        ``geoplan_version``.

    Returns
    -------
    pathlib.Path
        ``path``.

    """
    target = Path(path)
    checked: dict[str, gpd.GeoDataFrame] = {}
    for name, gdf in layers.items():
        if name not in _DESCRIPTIONS:
            raise AnalysisError(f"{target}: unknown result layer '{name}'",
                                fix=f"use one of {', '.join(_DESCRIPTIONS)}")
        checked[name] = check_result(gdf, name)  # type: ignore[arg-type]
    frames: dict[str, gpd.GeoDataFrame] = {}
    types: dict[str, tuple[str | None, bool | None]] = {}
    for name, gdf in checked.items():
        geoms = rfc7946_geometries(gdf.geometry)
        types[name] = _geometry_type(name, geoms)
        frames[name] = gpd.GeoDataFrame(gdf.drop(columns=gdf.geometry.name), geometry=gpd.GeoSeries(geoms, crs=4326),
                                        crs=4326)

    def add_styles(tmp: Path) -> None:
        _write_layer_styles(tmp, {name: qgis_style(name, gdf=gdf) for name, gdf in checked.items()})

    # GeoPackage 1.2 opens without warnings in older GDAL/QGIS (3.22 LTR).
    return write_gpkg(target, frames, geometry_types=types, version="1.2", metadata=metadata,
                      finish=add_styles if styles else None,
                      error=AnalysisError,
                      fix="check that the folder is writable and the columns hold plain values")


# The layout QGIS creates through GDAL ("Save as default" in a GeoPackage): an attribute
# table with FID "id", registered in gpkg_contents, with GDAL's feature-count triggers.
_LAYER_STYLES_DDL = (
    'CREATE TABLE "layer_styles" ( "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "f_table_catalog" TEXT(256), '
    '"f_table_schema" TEXT(256), "f_table_name" TEXT(256), "f_geometry_column" TEXT(256), "styleName" TEXT(30), '
    '"styleQML" TEXT, "styleSLD" TEXT, "useAsDefault" BOOLEAN, "description" TEXT, "owner" TEXT(30), '
    "\"ui\" TEXT(30), \"update_time\" DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
)
_COUNT_TRIGGERS = (
    'CREATE TRIGGER "trigger_insert_feature_count_layer_styles" AFTER INSERT ON "layer_styles" BEGIN UPDATE '
    "gpkg_ogr_contents SET feature_count = feature_count + 1 WHERE lower(table_name) = lower('layer_styles'); END",
    'CREATE TRIGGER "trigger_delete_feature_count_layer_styles" AFTER DELETE ON "layer_styles" BEGIN UPDATE '
    "gpkg_ogr_contents SET feature_count = feature_count - 1 WHERE lower(table_name) = lower('layer_styles'); END",
)


def _write_layer_styles(gpkg: Path, styles: Mapping[str, tuple[str, str]]) -> None:
    con = sqlite3.connect(gpkg)
    try:
        with con:
            geom_cols = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"))
            con.execute(_LAYER_STYLES_DDL)
            con.execute(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change, srs_id) "
                "VALUES ('layer_styles', 'attributes', 'layer_styles', '', ?, 0)", (FIXED_TIMESTAMP,))
            has_counts = con.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'gpkg_ogr_contents'").fetchone()
            if has_counts:
                con.execute("INSERT INTO gpkg_ogr_contents (table_name, feature_count) VALUES ('layer_styles', 0)")
                for trigger in _COUNT_TRIGGERS:
                    con.execute(trigger)
            con.executemany(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                "styleName, styleQML, styleSLD, useAsDefault, description, owner, ui, update_time) "
                "VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, '', NULL, ?)",
                [(name, geom_cols.get(name, "geom"), name, qml, sld, f"geoplan: {_DESCRIPTIONS[name]}", FIXED_TIMESTAMP)
                 for name, (qml, sld) in styles.items()],
            )
    finally:
        con.close()


# --------------------------------------------------------------------------------------
# QGIS styles (QML for QGIS, SLD for everything else)

_QGIS_VERSION = "3.28.0-Firenze"
_QML_DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"


def _options(props: Mapping[str, str]) -> ET.Element:
    node = ET.Element("Option", type="Map")
    for key, value in props.items():
        ET.SubElement(node, "Option", name=key, type="QString", value=value)
    return node


def _data_defined(props: Mapping[str, str]) -> ET.Element:
    """``<data_defined_properties>`` with an expression per property name."""
    dd = ET.Element("data_defined_properties")
    root = ET.SubElement(dd, "Option", type="Map")
    ET.SubElement(root, "Option", name="name", type="QString", value="")
    if props:
        holder = ET.SubElement(root, "Option", name="properties", type="Map")
        for key, expression in props.items():
            prop = ET.SubElement(holder, "Option", name=key, type="Map")
            ET.SubElement(prop, "Option", name="active", type="bool", value="true")
            ET.SubElement(prop, "Option", name="expression", type="QString", value=expression)
            ET.SubElement(prop, "Option", name="type", type="int", value="3")
    else:
        ET.SubElement(root, "Option", name="properties")
    ET.SubElement(root, "Option", name="type", type="QString", value="collection")
    return dd


def _symbol(kind: str, name: str, props: Mapping[str, str], expressions: Mapping[str, str] | None = None) -> ET.Element:
    layer_class = {"marker": "SimpleMarker", "line": "SimpleLine", "fill": "SimpleFill"}[kind]
    sym = ET.Element("symbol", type=kind, name=name, alpha="1", clip_to_extent="1", force_rhr="0")
    sym.append(_data_defined({}))
    layer = ET.SubElement(sym, "layer", {"class": layer_class, "enabled": "1", "locked": "0", "pass": "0"})
    layer.append(_options(props))
    layer.append(_data_defined(expressions or {}))
    return sym


def _marker(fill: str, *, size: float = 3.2, outline: str = "#1A1A1A", fill_alpha: float = 1.0,
            outline_width: float = 0.3, size_expression: str | None = None, name: str = "0") -> ET.Element:
    props = {"angle": "0", "color": qgis_rgba(fill, alpha=fill_alpha), "horizontal_anchor_point": "1",
             "joinstyle": "bevel", "name": "circle", "outline_color": qgis_rgba(outline), "outline_style": "solid",
             "outline_width": f"{outline_width:g}", "outline_width_unit": "MM", "scale_method": "diameter",
             "size": f"{size:g}", "size_unit": "MM", "vertical_anchor_point": "1"}
    return _symbol("marker", name, props, {"size": size_expression} if size_expression else None)


def _line(colour: str, *, width: float = 0.5, alpha: float = 1.0, width_expression: str | None = None,
          name: str = "0") -> ET.Element:
    props = {"capstyle": "round", "joinstyle": "round", "line_color": qgis_rgba(colour, alpha=alpha),
             "line_style": "solid", "line_width": f"{width:g}", "line_width_unit": "MM"}
    return _symbol("line", name, props, {"outlineWidth": width_expression} if width_expression else None)


def _fill(colour: str, *, alpha: float, outline: str, name: str = "0") -> ET.Element:
    props = {"color": qgis_rgba(colour, alpha=alpha), "joinstyle": "bevel", "outline_color": qgis_rgba(outline),
             "outline_style": "solid", "outline_width": "0.3", "outline_width_unit": "MM", "style": "solid"}
    return _symbol("fill", name, props)


def _renderer(kind: str, **attrs: str) -> ET.Element:
    base = {"type": kind, "forceraster": "0", "symbollevels": "0", "enableorderby": "0", "referencescale": "-1"}
    base.update(attrs)
    return ET.Element("renderer-v2", base)


def _order_by(renderer: ET.Element, column: str, *, ascending: bool) -> None:
    renderer.set("enableorderby", "1")
    clause = ET.SubElement(ET.SubElement(renderer, "orderby"), "orderByClause", asc="1" if ascending else "0",
                           nullsFirst="0")
    clause.text = f'"{column}"'


def _labeling(field: str, *, italic: bool = False, size: float = 8.0) -> ET.Element:
    labeling = ET.Element("labeling", type="simple")
    settings = ET.SubElement(labeling, "settings", calloutType="simple")
    style = ET.SubElement(settings, "text-style", fieldName=field, isExpression="0", fontSize=f"{size:g}",
                          fontSizeUnit="Point", fontItalic="1" if italic else "0", textColor="34,34,34,255",
                          textOpacity="1", namedStyle="Italic" if italic else "Regular")
    ET.SubElement(style, "text-buffer", bufferDraw="1", bufferSize="0.8", bufferSizeUnits="MM",
                  bufferColor="255,255,255,255", bufferOpacity="0.9")
    ET.SubElement(settings, "placement", placement="6", dist="1.2", distUnits="MM")
    ET.SubElement(settings, "rendering", obstacle="1", scaleVisibility="0")
    return labeling


def _qml(renderer: ET.Element, *, geometry_type: int, labeling: ET.Element | None = None) -> str:
    root = ET.Element("qgis", version=_QGIS_VERSION, styleCategories="Symbology|Labeling",
                      labelsEnabled="1" if labeling is not None else "0")
    root.append(renderer)
    if labeling is not None:
        root.append(labeling)
    ET.SubElement(root, "layerGeometryType").text = str(geometry_type)
    ET.indent(root, space=" ")
    return _QML_DOCTYPE + ET.tostring(root, encoding="unicode") + "\n"


# SLD 1.1 as QGIS writes it (prefixed element names; the prefixes are declared on the root).
_SLD_NS = {
    "xmlns": "http://www.opengis.net/sld",
    "xmlns:se": "http://www.opengis.net/se",
    "xmlns:ogc": "http://www.opengis.net/ogc",
    "xmlns:xlink": "http://www.w3.org/1999/xlink",
    "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "xsi:schemaLocation": "http://www.opengis.net/sld http://schemas.opengis.net/sld/1.1.0/StyledLayerDescriptor.xsd",
    "version": "1.1.0",
}


def _svg(parent: ET.Element, tag: str, params: Mapping[str, str]) -> ET.Element:
    node = ET.SubElement(parent, tag)
    for key, value in params.items():
        ET.SubElement(node, "se:SvgParameter", name=key).text = value
    return node


def _sld_point(fill: str, stroke: str, size_px: float, fill_opacity: float = 1.0) -> ET.Element:
    sym = ET.Element("se:PointSymbolizer")
    graphic = ET.SubElement(sym, "se:Graphic")
    mark = ET.SubElement(graphic, "se:Mark")
    ET.SubElement(mark, "se:WellKnownName").text = "circle"
    _svg(mark, "se:Fill", {"fill": fill.lower(), "fill-opacity": f"{fill_opacity:g}"})
    _svg(mark, "se:Stroke", {"stroke": stroke.lower(), "stroke-width": "1"})
    ET.SubElement(graphic, "se:Size").text = f"{size_px:g}"
    return sym


def _sld_line(stroke: str, width_px: float) -> ET.Element:
    sym = ET.Element("se:LineSymbolizer")
    _svg(sym, "se:Stroke", {"stroke": stroke.lower(), "stroke-width": f"{width_px:g}", "stroke-linejoin": "round",
                            "stroke-linecap": "round"})
    return sym


def _sld_polygon(fill: str, opacity: float, stroke: str) -> ET.Element:
    sym = ET.Element("se:PolygonSymbolizer")
    _svg(sym, "se:Fill", {"fill": fill.lower(), "fill-opacity": f"{opacity:g}"})
    _svg(sym, "se:Stroke", {"stroke": stroke.lower(), "stroke-width": "1"})
    return sym


def _sld_rule(title: str, symbolizer: ET.Element, *, equals: tuple[str, str] | None = None,
              between: tuple[str, float, float] | None = None) -> ET.Element:
    rule = ET.Element("se:Rule")
    ET.SubElement(rule, "se:Name").text = title
    ET.SubElement(ET.SubElement(rule, "se:Description"), "se:Title").text = title
    if equals is not None:
        cond = ET.SubElement(ET.SubElement(rule, "ogc:Filter"), "ogc:PropertyIsEqualTo")
        ET.SubElement(cond, "ogc:PropertyName").text = equals[0]
        ET.SubElement(cond, "ogc:Literal").text = equals[1]
    if between is not None:
        both = ET.SubElement(ET.SubElement(rule, "ogc:Filter"), "ogc:And")
        low = ET.SubElement(both, "ogc:PropertyIsGreaterThan")
        ET.SubElement(low, "ogc:PropertyName").text = between[0]
        ET.SubElement(low, "ogc:Literal").text = f"{between[1]:g}"
        high = ET.SubElement(both, "ogc:PropertyIsLessThanOrEqualTo")
        ET.SubElement(high, "ogc:PropertyName").text = between[0]
        ET.SubElement(high, "ogc:Literal").text = f"{between[2]:g}"
    rule.append(symbolizer)
    return rule


def _sld(layer: str, rules: list[ET.Element]) -> str:
    root = ET.Element("StyledLayerDescriptor", _SLD_NS)
    named = ET.SubElement(root, "NamedLayer")
    ET.SubElement(named, "se:Name").text = layer
    user = ET.SubElement(named, "UserStyle")
    ET.SubElement(user, "se:Name").text = layer
    fts = ET.SubElement(user, "se:FeatureTypeStyle")
    fts.extend(rules)
    ET.indent(root, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def qgis_style(kind: str, *, gdf: gpd.GeoDataFrame | None = None) -> tuple[str, str]:
    """Return the default QGIS style of a result layer as ``(QML, SLD)`` text.

    Towns get a categorized renderer on ``category`` (the web maps' colours) with name labels;
    catchments a graduated renderer on ``band`` drawn widest first; flows a line whose width
    follows ``people``; centres circles whose area follows ``population``; roads grey lines
    by class. ``gdf`` supplies data-dependent classes (the catchment bands).
    """
    if kind == "towns":
        renderer = _renderer("categorizedSymbol", attr="category")
        cats = ET.SubElement(renderer, "categories")
        syms = ET.SubElement(renderer, "symbols")
        rules = []
        for i, cat in enumerate(CATEGORIES):
            ET.SubElement(cats, "category", value=cat, symbol=str(i), label=CATEGORY_LABELS[cat], render="true",
                          type="string")
            syms.append(_marker(CATEGORY_COLOURS[cat], name=str(i)))
            rules.append(_sld_rule(CATEGORY_LABELS[cat], _sld_point(CATEGORY_COLOURS[cat], "#1A1A1A", 11),
                                   equals=("category", cat)))
        ET.SubElement(renderer, "source-symbol").append(_marker("#999999"))
        return _qml(renderer, geometry_type=0, labeling=_labeling("name_en")), _sld(kind, rules)
    if kind == "centres":
        renderer = _renderer("singleSymbol")
        size = 'coalesce(2 + 7 * sqrt("population" / maximum("population")), 3)'
        ET.SubElement(renderer, "symbols").append(
            _marker("#FFFFFF", fill_alpha=0.6, outline=CENTRE_COLOUR, outline_width=0.5, size=4, size_expression=size))
        rule = _sld_rule("Growth centre", _sld_point("#FFFFFF", CENTRE_COLOUR, 14, fill_opacity=0.6))
        return (_qml(renderer, geometry_type=0, labeling=_labeling("name_en", italic=True, size=7.5)),
                _sld(kind, [rule]))
    if kind == "catchments":
        bands = sorted({int(b) for b in gdf["band"]}) if gdf is not None and len(gdf) else []
        if not bands:
            renderer = _renderer("singleSymbol")
            ET.SubElement(renderer, "symbols").append(_fill("#807DBA", alpha=0.25, outline="#807DBA"))
            return (_qml(renderer, geometry_type=2),
                    _sld(kind, [_sld_rule("Catchment", _sld_polygon("#807DBA", 0.25, "#807DBA"))]))
        colours = band_colours(bands)
        renderer = _renderer("graduatedSymbol", attr="band", graduatedMethod="GraduatedColor")
        ranges = ET.SubElement(renderer, "ranges")
        syms = ET.SubElement(renderer, "symbols")
        rules = []
        lower = 0.0
        for i, band in enumerate(bands):
            label = f"≤ {band} min"
            ET.SubElement(ranges, "range", lower=f"{lower:.6f}", upper=f"{band:.6f}", symbol=str(i), label=label,
                          render="true")
            syms.append(_fill(colours[band], alpha=0.25, outline=colours[band], name=str(i)))
            rules.append(_sld_rule(label, _sld_polygon(colours[band], 0.25, colours[band]),
                                   between=("band", lower if i else -1.0, float(band))))
            lower = float(band)
        ET.SubElement(renderer, "mode", name="manual")
        _order_by(renderer, "band", ascending=False)  # widest band first, shorter bands on top
        return _qml(renderer, geometry_type=2), _sld(kind, rules)
    if kind == "flows":
        renderer = _renderer("singleSymbol")
        width = 'coalesce(0.4 + 3.6 * "people" / maximum("people"), 0.4)'
        ET.SubElement(renderer, "symbols").append(_line(FLOW_COLOUR, width=1.0, alpha=0.8, width_expression=width))
        _order_by(renderer, "people", ascending=False)  # thin flows drawn on top of thick ones
        return _qml(renderer, geometry_type=1), _sld(kind, [_sld_rule("Relocation flow", _sld_line(FLOW_COLOUR, 3))])
    if kind == "roads":
        renderer = _renderer("singleSymbol")
        width = ("CASE WHEN \"road_class\" = 'motorway' THEN 0.8 WHEN \"road_class\" = 'trunk' THEN 0.6 "
                 "WHEN \"road_class\" = 'primary' THEN 0.45 ELSE 0.3 END")
        ET.SubElement(renderer, "symbols").append(_line(ROAD_COLOUR, width=0.4, width_expression=width))
        return _qml(renderer, geometry_type=1), _sld(kind, [_sld_rule("Road", _sld_line(ROAD_COLOUR, 1))])
    raise AnalysisError(f"no QGIS style for layer '{kind}'", fix=f"use one of {', '.join(_DESCRIPTIONS)}")


def surface_qml(*, bands: Sequence[int] = (30, 60, 90, 120), vmax: float = 480.0) -> str:
    """QGIS style (``.qml``) of the travel-time GeoTIFF: the maps' classes, broken at the bands.

    Written as ``surface.qml`` beside ``surface.tif``, QGIS opens the raster in the same
    colours as the web map's surface.

    Parameters
    ----------
    bands
        Catchment bands, minutes (class breaks).
    vmax
        Longest time with its own class; longer times share the last colour.

    Returns
    -------
    str
        The QML text.

    Examples
    --------
    >>> 'value="30"' in surface_qml(bands=[30, 60])
    True
    """
    breaks = surface_breaks(list(bands), vmax)
    colours = surface_colours(len(breaks) + 1, SURFACE_CMAP)
    root = ET.Element("qgis", version="3.22.0", styleCategories="AllStyleCategories")
    pipe = ET.SubElement(root, "pipe")
    renderer = ET.SubElement(pipe, "rasterrenderer", type="singlebandpseudocolor", band="1", opacity="1",
                             alphaBand="-1", classificationMin="0", classificationMax=f"{breaks[-1]:g}",
                             nodataColor="")
    shader = ET.SubElement(ET.SubElement(renderer, "rastershader"), "colorrampshader", colorRampType="DISCRETE",
                           classificationMode="1", clip="0", minimumValue="0", maximumValue=f"{breaks[-1]:g}")
    lower = 0.0
    for upper, colour in zip([*breaks, math.inf], colours, strict=True):
        label = f"{lower:g}–{upper:g} min" if math.isfinite(upper) else f"≥ {lower:g} min"
        ET.SubElement(shader, "item", alpha="255", value="inf" if not math.isfinite(upper) else f"{upper:g}",
                      label=label, color=colour.lower())
        lower = upper
    ET.SubElement(pipe, "brightnesscontrast", brightness="0", contrast="0", gamma="1")
    ET.SubElement(root, "blendMode").text = "0"
    ET.indent(root)
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode") + "\n"
