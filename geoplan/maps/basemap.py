"""Geometry for the web (simplified in metres, rounded), the base map and the layers both maps share."""

from __future__ import annotations

import base64
import html
import io
import math
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from matplotlib import colormaps
from matplotlib.image import imsave
from pyproj import CRS, Transformer
from rasterio.transform import Affine
from rasterio.warp import Resampling, calculate_default_transform, reproject

from geoplan._errors import AnalysisError, LayerReadError
from geoplan._results import check_result
from geoplan._style import (
    CATEGORIES,
    CATEGORY_COLOURS,
    CATEGORY_LABELS,
    OSM_ATTRIBUTION_HTML,
    ROAD_COLOUR,
)
from geoplan.layers import metric_crs
from geoplan.maps.assets import _MAP_PRECISION, LEAFLET_CDN, OSM_TILES, _PathLike
from geoplan.maps.elements import _DataLayer, _Setup
from geoplan.maps.popups import _missing, _town_popup, _town_tooltip


def _simplified(geoms: np.ndarray, tolerance_m: float, crs: Any) -> np.ndarray:
    """Simplify lon/lat geometries with a tolerance in metres (in a metric CRS), then round."""
    out = geoms
    if tolerance_m > 0 and len(geoms):
        metric = gpd.GeoSeries(geoms, crs=4326).to_crs(crs)
        simple = shapely.simplify(metric.to_numpy(), tolerance_m, preserve_topology=True)
        out = gpd.GeoSeries(simple, crs=crs).to_crs(4326).to_numpy()
    return shapely.transform(np.asarray(out, dtype=object), lambda xy: np.round(xy, _MAP_PRECISION))


def _mapping(geom: shapely.Geometry) -> dict[str, Any]:
    return shapely.geometry.mapping(geom)


def _features(geoms: np.ndarray, props: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "Feature", "geometry": _mapping(g), "properties": p} for g, p in zip(geoms, props, strict=True)]


def _records(gdf: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    cols = [str(c) for c in frame.columns]
    return [dict(zip(cols, row, strict=True)) for row in frame.to_numpy(dtype=object)]


def _bounds(*frames: gpd.GeoDataFrame | None) -> tuple[float, float, float, float] | None:
    boxes = [f.total_bounds for f in frames if f is not None and len(f)]
    if not boxes:
        return None
    b = np.vstack(boxes)
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def _flow_width(people: float, max_people: float, max_width_px: float) -> float:
    """Line width in pixels proportional to people (1.5 px for none, ``max_width_px`` for the largest)."""
    return 1.5 + (max_width_px - 1.5) * (people / max_people if max_people > 0 else 0.0)


def _centre_radius(population: Any, max_population: float) -> float:
    """Pixel radius with the circle's area proportional to population."""
    if _missing(population) or max_population <= 0:
        return 5.0
    return round(4.0 + 16.0 * math.sqrt(max(float(population), 0.0) / max_population), 2)



@dataclass(frozen=True)
class _Surface:
    url: str
    bounds: list[list[float]]
    vmax: float
    clipped: bool


def _surface_overlay(path: _PathLike, *, max_px: int, vmax: float | None, cmap: str) -> _Surface:
    """Reproject a single-band travel-time GeoTIFF to Web Mercator and colour it as a PNG data URL."""
    src_path = Path(path)
    try:
        with rasterio.open(src_path) as src:
            if src.count != 1:
                raise LayerReadError(f"{src_path}: travel-time raster has {src.count} bands, expected 1",
                                     fix="pass the single-band minutes GeoTIFF written by geoplan.surface")
            if src.crs is None:
                raise LayerReadError(f"{src_path}: travel-time raster has no CRS",
                                     fix="write the raster with its CRS (e.g. gdal_edit.py -a_srs EPSG:4326)")
            data = src.read(1, masked=True).astype("float64").filled(np.nan)
            src_crs, src_transform, (w, h), bounds = src.crs, src.transform, (src.width, src.height), src.bounds
    except rasterio.errors.RasterioIOError as exc:
        raise LayerReadError(f"{src_path}: cannot read travel-time raster: {str(exc).splitlines()[0]}",
                             fix="pass a GeoTIFF of travel minutes (geoplan.surface writes one)") from exc
    data[~np.isfinite(data)] = np.nan  # unreachable cells (inf) are left transparent
    if not np.isfinite(data).any():
        raise AnalysisError(f"{src_path}: travel-time raster has no finite value",
                            fix="check that the surface was computed from at least one reachable centre")
    with warnings.catch_warnings():  # rasterio's own use of affine's deprecated '*'
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        dst_transform, dw, dh = calculate_default_transform(src_crs, "EPSG:3857", w, h, *bounds)
    scale = max(dw, dh) / max_px
    if scale > 1:  # coarser cells, same footprint: keeps the embedded PNG small
        left, top = dst_transform.c, dst_transform.f
        right, bottom = left + dst_transform.a * dw, top + dst_transform.e * dh
        dw, dh = max(1, math.ceil(dw / scale)), max(1, math.ceil(dh / scale))
        dst_transform = Affine((right - left) / dw, 0.0, left, 0.0, (bottom - top) / dh, top)
    out = np.full((dh, dw), np.nan, dtype="float64")
    reproject(data, out, src_transform=src_transform, src_crs=src_crs, src_nodata=np.nan,
              dst_transform=dst_transform, dst_crs="EPSG:3857", dst_nodata=np.nan, resampling=Resampling.bilinear)
    if vmax is not None:
        top_minutes = float(vmax)
    else:
        # A few remote cells (hours off-road) would wash out the ramp where people live.
        top_minutes = math.ceil(float(np.nanpercentile(data, 95)) / 30) * 30.0
    top_minutes = top_minutes if top_minutes > 0 else 1.0
    clipped = bool(np.nanmax(data) > top_minutes)
    rgba = (colormaps[cmap](np.clip(np.nan_to_num(out, nan=0.0) / top_minutes, 0, 1)) * 255).round().astype(np.uint8)
    rgba[..., 3] = np.where(np.isfinite(out), 255, 0)
    buf = io.BytesIO()
    imsave(buf, rgba, format="png", metadata={"Software": None})
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    to_ll = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    west, north = to_ll.transform(dst_transform.c, dst_transform.f)
    east, south = to_ll.transform(dst_transform.c + dst_transform.a * dw, dst_transform.f + dst_transform.e * dh)
    return _Surface(url, [[round(south, 6), round(west, 6)], [round(north, 6), round(east, 6)]], top_minutes, clipped)



def _base_map(bounds: tuple[float, float, float, float] | None, *, tiles: bool, assets_url: str | None,
              title: str) -> folium.Map:
    lon0, lat0 = ((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2) if bounds else (67.0, 48.0)
    m = folium.Map(location=[round(lat0, 5), round(lon0, 5)], zoom_start=5, tiles=None, prefer_canvas=True,
                   control_scale=False)
    base = (assets_url or LEAFLET_CDN).rstrip("/")
    # Instance lists: folium's add_js_link would otherwise edit the class-level defaults.
    m.default_js = [("leaflet", f"{base}/leaflet.js")]
    m.default_css = [("leaflet_css", f"{base}/leaflet.css")]
    m.get_root().title = html.escape(title)
    m.add_child(_Setup())
    if tiles:
        folium.TileLayer(OSM_TILES, attr=OSM_ATTRIBUTION_HTML, name="OpenStreetMap", max_zoom=19).add_to(m)
    if bounds:
        pad = 0.3
        m.fit_bounds([[bounds[1] - pad, bounds[0] - pad], [bounds[3] + pad, bounds[2] + pad]])
    return m


def _roads_layer(roads: gpd.GeoDataFrame, crs: Any, tolerance_m: float) -> _DataLayer:
    weight = {"motorway": 2.4, "trunk": 1.8, "primary": 1.4}
    geoms = _simplified(roads.geometry.to_numpy(), tolerance_m, crs)
    classes = roads["road_class"].astype(object).to_numpy() if "road_class" in roads else np.full(len(roads), None)
    props = ({"style": {"color": ROAD_COLOUR, "weight": weight.get(str(c), 1.0), "opacity": 0.8}} for c in classes)
    return _DataLayer("roads", "Roads", _features(geoms, props), interactive=False, attribution=OSM_ATTRIBUTION_HTML)


def _town_features(towns: gpd.GeoDataFrame, names: Mapping[str, str],
                   flows_out: Mapping[str, list[tuple[str, int]]], *, emphasise: str | None = None) -> list[dict]:
    geoms = _simplified(towns.geometry.to_numpy(), 0, None)
    props = []
    for row in _records(towns):
        cat = str(row["category"])
        radius = 8.0 if emphasise == cat else 6.5
        props.append({
            "id": str(row["id"]),
            "style": {"radius": radius, "color": "#1A1A1A", "weight": 1.2, "fillColor": CATEGORY_COLOURS[cat],
                      "fillOpacity": 0.95},
            "popup": _town_popup(row, names, flows_out),
            "tooltip": _town_tooltip(row),
        })
    return _features(geoms, iter(props))


def _legend_categories(towns: gpd.GeoDataFrame) -> str:
    counts = towns["category"].astype(object).value_counts()
    rows = "".join(
        f'<div class="gp-row"><span class="gp-dot" style="background:{CATEGORY_COLOURS[c]}"></span>'
        f"{html.escape(CATEGORY_LABELS[c])} ({int(counts.get(c, 0))})</div>"
        for c in CATEGORIES
    )
    return f"<h5>Monotowns</h5>{rows}"


def _legend_centres(label: str) -> str:
    return (f'<h5>Growth centres</h5><div class="gp-row"><span class="gp-ring" style="width:10px;height:10px">'
            f'</span><span class="gp-ring" style="width:20px;height:20px"></span>{html.escape(label)}</div>')


def _prepare(
    towns: gpd.GeoDataFrame,
    centres: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame | None,
    *,
    tiles: bool,
    assets_url: str | None,
    title: str,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame | None, CRS, folium.Map, dict[str, str]]:
    """Check the layers both maps share and start the map: layers, metric CRS, map, centre names."""
    towns = check_result(towns, "towns")
    centres = check_result(centres, "centres")
    roads_r = check_result(roads, "roads") if roads is not None else None
    bounds = _bounds(towns, centres)
    crs = metric_crs(bounds or (46.0, 40.0, 88.0, 56.0))
    m = _base_map(bounds, tiles=tiles, assets_url=assets_url, title=title)
    names = dict(zip(centres["id"].astype(str), centres["name_en"].astype(str), strict=True))
    return towns, centres, roads_r, crs, m, names



