"""Checks on the analysis results that maps and exports consume (see the results schema).

Maps and exports accept results from the pipeline and from users' own code and files, so
they check what they rely on and fail with an :class:`~geoplan.AnalysisError` that names the
result, the feature and the fix, instead of a KeyError deep inside folium or GDAL.
"""

from __future__ import annotations

from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan._errors import AnalysisError
from geoplan.settings import CATEGORIES

__all__ = ["RESULT_COLUMNS", "ResultKind", "check_result", "empty_result", "feature_labels"]

ResultKind = Literal["towns", "centres", "catchments", "flows", "roads"]

#: Columns of each result in the results schema (towns and centres also carry their layer's columns).
RESULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "towns": ("id", "name_en", "nearest_centre", "nearest_centre_name", "minutes", "km", "snap_km",
              "accessibility", "growth_pct_per_year", "category", "reasons", "destination"),
    "centres": ("id", "name_en", "population", "capacity", "allocated", "capacity_used"),
    "catchments": ("centre", "centre_name", "band", "area_km2", "towns", "population", "settlements"),
    "flows": ("origin", "origin_name", "destination", "destination_name", "people", "minutes", "km"),
    "roads": ("id", "road_class"),
}

#: Columns without which a result cannot be drawn or exported at all.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "towns": ("id", "name_en", "category"),
    "centres": ("id", "name_en"),
    "catchments": ("centre", "band"),
    "flows": ("origin", "destination", "people"),
    "roads": (),
}

_GEOMETRY: dict[str, tuple[str, ...]] = {
    "towns": ("Point",),
    "centres": ("Point",),
    "catchments": ("Polygon", "MultiPolygon"),
    "flows": ("LineString", "MultiLineString"),
    "roads": ("LineString", "MultiLineString"),
}

_TYPE_IDS = {
    "Point": shapely.GeometryType.POINT.value,
    "LineString": shapely.GeometryType.LINESTRING.value,
    "Polygon": shapely.GeometryType.POLYGON.value,
    "MultiLineString": shapely.GeometryType.MULTILINESTRING.value,
    "MultiPolygon": shapely.GeometryType.MULTIPOLYGON.value,
}

_SORT: dict[str, tuple[str, ...]] = {
    "towns": ("id",),
    "centres": ("id",),
    "catchments": ("centre", "band"),
    "flows": ("origin", "destination"),
    "roads": ("id",),
}

_PRODUCER = {
    "towns": "geoplan.classify",
    "centres": "geoplan.relocation",
    "catchments": "geoplan.catchments",
    "flows": "geoplan.relocation",
    "roads": "the roads layer",
}


def empty_result(kind: ResultKind) -> gpd.GeoDataFrame:
    """Return an empty result of ``kind`` with the schema's columns, in EPSG:4326."""
    return gpd.GeoDataFrame({c: pd.Series([], dtype=object) for c in RESULT_COLUMNS[kind]},
                            geometry=gpd.GeoSeries([], crs=4326), crs=4326)


def feature_labels(gdf: pd.DataFrame, kind: str) -> np.ndarray:
    """Label each feature for messages: its id, ``centre/band`` or ``origin->destination``."""
    if kind == "catchments" and {"centre", "band"} <= set(gdf.columns):
        return (gdf["centre"].astype(str) + "/" + gdf["band"].astype(str) + " min").to_numpy(dtype=object)
    if kind == "flows" and {"origin", "destination"} <= set(gdf.columns):
        return (gdf["origin"].astype(str) + "->" + gdf["destination"].astype(str)).to_numpy(dtype=object)
    if "id" in gdf.columns:
        return gdf["id"].astype(str).to_numpy(dtype=object)
    return np.array([f"#{i + 1}" for i in range(len(gdf))], dtype=object)


def _some(labels: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(str(x) for x in labels[:limit])
    return shown + (f" and {len(labels) - limit} more" if len(labels) > limit else "")


def check_result(gdf: gpd.GeoDataFrame | None, kind: ResultKind) -> gpd.GeoDataFrame:
    """Check a result frame and return it in EPSG:4326, sorted as the schema says.

    ``None`` stands for an empty result (for instance no relocation flows).

    Raises
    ------
    AnalysisError
        When the frame is not a GeoDataFrame, has no CRS, lacks a required column, has a
        missing or wrong geometry, duplicate ids, or (towns) an unknown category.

    """
    if gdf is None:
        return empty_result(kind)
    fix_src = f"pass the {kind} result of {_PRODUCER[kind]} (see 'Analysis results schema')"
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise AnalysisError(f"{kind} result is a {type(gdf).__name__}, not a GeoDataFrame", fix=fix_src)
    missing = [c for c in _REQUIRED[kind] if c not in gdf.columns]
    if missing:
        raise AnalysisError(f"{kind} result has no column(s) {', '.join(missing)}", fix=fix_src)
    if len(gdf) and gdf.crs is None:
        raise AnalysisError(f"{kind} result has no CRS", fix="set it, e.g. gdf.set_crs(4326) for lon/lat")
    out = gdf.copy()
    if out.crs is None:
        out = out.set_crs(4326)
    elif not out.crs.equals("EPSG:4326"):
        out = out.to_crs(4326)
    labels = feature_labels(out, kind)
    geoms = out.geometry.to_numpy()
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if bad.any():
        raise AnalysisError(f"{kind} result: feature(s) {_some(labels[bad])} have no geometry",
                            fix=f"drop them or give each a {' or '.join(_GEOMETRY[kind])}")
    types = np.asarray(shapely.get_type_id(geoms))
    allowed_ids = [_TYPE_IDS[t] for t in _GEOMETRY[kind]]
    wrong = ~np.isin(types, allowed_ids)
    if wrong.any():
        raise AnalysisError(f"{kind} result: feature(s) {_some(labels[wrong])} are not {' or '.join(_GEOMETRY[kind])}",
                            fix=fix_src)
    if kind in ("towns", "centres"):
        dup = out["id"].astype(str).duplicated(keep=False).to_numpy()
        if dup.any():
            raise AnalysisError(f"{kind} result: id(s) {_some(np.unique(labels[dup]))} occur more than once",
                                fix="give every feature a unique id")
    if kind == "towns":
        cat = out["category"].astype(object)
        unknown = ~cat.isin(CATEGORIES).to_numpy()
        if unknown.any():
            found = sorted({str(v) for v in cat[unknown]})
            raise AnalysisError(
                f"towns result: feature(s) {_some(labels[unknown])} have category {', '.join(found)}",
                fix=f"use one of {', '.join(CATEGORIES)}",
            )
    if kind == "flows" and len(out):
        people = pd.to_numeric(out["people"], errors="coerce").to_numpy(dtype=float)
        badp = ~np.isfinite(people) | (people < 0)
        if badp.any():
            raise AnalysisError(f"flows result: flow(s) {_some(labels[badp])} have no valid number of people",
                                fix="give each flow a whole number of people >= 0")
    keys = [c for c in _SORT[kind] if c in out.columns]
    if keys and len(out):
        out = out.sort_values(keys, kind="mergesort", key=lambda s: s.astype(str) if s.dtype == object else s)
    return out.reset_index(drop=True)
