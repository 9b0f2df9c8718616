"""Maps of the analysis results: interactive Leaflet maps (folium) and a static PNG.

:func:`agglomeration_map` shows growth centres sized by population, monotowns coloured by
category, nested catchment bands and, optionally, the travel-time surface;
:func:`relocation_map` shows the relocation flows along their road routes and how much of each
destination's capacity they use. :func:`save_map` writes either as one HTML file, atomically
and byte-identically for the same inputs. :func:`category_png` draws the categories with
matplotlib for reports.

The HTML needs only Leaflet: folium's other defaults (jQuery, Bootstrap, Font Awesome,
awesome-markers) are left out, points are canvas circle markers, popups are plain Leaflet
popups and the legend is plain HTML/CSS, so the map works offline once ``assets_url`` points
at a local copy of Leaflet's ``dist`` folder. Every text that comes from data is HTML-escaped
before it reaches a popup or tooltip.

Examples
--------
>>> import geopandas as gpd, shapely
>>> towns = gpd.GeoDataFrame({"id": ["a"], "name_en": ["Abai"], "category": ["monitor"]},
...                          geometry=[shapely.Point(72.85, 49.63)], crs=4326)
>>> centres = gpd.GeoDataFrame({"id": ["k"], "name_en": ["Karaganda"], "population": [500000]},
...                            geometry=[shapely.Point(73.10, 49.80)], crs=4326)
>>> m = agglomeration_map(towns, centres, None, tiles=False)
>>> "jquery" in render_map(m).lower()
False

"""

from __future__ import annotations

import base64
import copy
import html
import io
import json
import math
import os
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from branca.element import Element, MacroElement
from folium.template import Template
from matplotlib import colormaps
from matplotlib.image import imsave
from pyproj import CRS, Transformer
from rasterio.transform import Affine
from rasterio.warp import Resampling, calculate_default_transform, reproject

from geoplan._errors import AnalysisError, LayerReadError
from geoplan._io import write_bytes_atomic, write_text_atomic
from geoplan._results import check_result
from geoplan._style import (
    CAPACITY_CMAP,
    CATEGORIES,
    CATEGORY_COLOURS,
    CATEGORY_LABELS,
    CENTRE_COLOUR,
    FLOW_COLOUR,
    OSM_ATTRIBUTION_HTML,
    OSM_ATTRIBUTION_TEXT,
    ROAD_COLOUR,
    SURFACE_CMAP,
    band_colours,
    ramp_hex,
)
from geoplan.layers import metric_crs

__all__ = [
    "LEAFLET_CDN",
    "LEAFLET_VERSION",
    "OSM_TILES",
    "agglomeration_map",
    "category_png",
    "relocation_map",
    "render_map",
    "save_map",
]

LEAFLET_VERSION = "1.9.4"
#: Where the HTML loads Leaflet from unless ``assets_url`` says otherwise.
LEAFLET_CDN = f"https://cdn.jsdelivr.net/npm/leaflet@{LEAFLET_VERSION}/dist"
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"

#: Decimals of coordinates in the HTML: 5 is about 1 m, far below what a web map can show.
_MAP_PRECISION = 5
_PathLike = str | os.PathLike[str]


# --------------------------------------------------------------------------------------
# folium elements that need nothing but Leaflet


def _script_json(value: Any) -> str:
    """JSON that is safe inside a <script> element (no '</script>', no '<!--', no U+2028)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


class _Setup(MacroElement):
    """Page set-up: CSS, the ``window.geoplan`` registry, panes, a metric scale bar, ordering."""

    _template = Template("""
        {% macro header(this, kwargs) %}
            <style>{{ this.css }}</style>
        {% endmacro %}
        {% macro script(this, kwargs) %}
            window.geoplan = {map: {{ this._parent.get_name() }}, layers: {}, front: []};
            {{ this._parent.get_name() }}.createPane("gpSurface").style.zIndex = 350;
            L.control.scale({imperial: false, maxWidth: 160}).addTo({{ this._parent.get_name() }});
            // A layer switched back on is drawn last; keep the points above the areas and lines.
            {{ this._parent.get_name() }}.on("overlayadd", function () {
                window.geoplan.front.forEach(function (key) { window.geoplan.layers[key].bringToFront(); });
            });
            function geoplanLayer(features, opts) {
                var layer = L.geoJSON(null, {
                    attribution: opts.attribution || null,
                    interactive: opts.interactive,
                    pointToLayer: function (f, latlng) {
                        return L.circleMarker(latlng, L.extend({interactive: opts.interactive}, f.properties.style));
                    },
                    style: function (f) { return f.properties.style; },
                    onEachFeature: function (f, l) {
                        if (f.properties.popup) { l.bindPopup(f.properties.popup, {maxWidth: 360}); }
                        if (f.properties.tooltip) {
                            var sticky = f.geometry.type !== "Point";
                            l.bindTooltip(f.properties.tooltip, {sticky: sticky, direction: "top"});
                        }
                    }
                });
                layer.addData({type: "FeatureCollection", features: features});
                return layer;
            }
        {% endmacro %}
    """)

    def __init__(self) -> None:
        super().__init__()
        self._name = "GeoplanSetup"
        self.css = _CSS


class _DataLayer(folium.map.Layer):
    """A GeoJSON layer drawn by Leaflet alone, with per-feature style, popup and tooltip.

    ``features`` are GeoJSON features whose ``properties`` hold ``style`` (Leaflet path
    options), ``popup`` and ``tooltip`` (HTML, already escaped) and an optional ``id``.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = geoplanLayer({{ this.data }}, {{ this.opts }});
            window.geoplan.layers[{{ this.key|tojson }}] = {{ this.get_name() }};
            {% if this.front %}window.geoplan.front.push({{ this.key|tojson }});{% endif %}
        {% endmacro %}
    """)

    def __init__(self, key: str, name: str, features: list[dict[str, Any]], *, front: bool = False,
                 interactive: bool = True, attribution: str | None = None, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "GeoplanLayer"
        self.key = key
        self.front = front
        self.data = _script_json(features)
        self.opts = _script_json({"interactive": interactive, "attribution": attribution})


class _Legend(MacroElement):
    """A plain HTML/CSS legend in a Leaflet control (no external scripts)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.control({position: "bottomright"});
            {{ this.get_name() }}.onAdd = function () {
                var div = L.DomUtil.create("div", "gp-legend leaflet-control");
                div.innerHTML = {{ this.content }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, content_html: str) -> None:
        super().__init__()
        self._name = "GeoplanLegend"
        self.content = _script_json(content_html)


_CSS = """
.gp-legend{background:rgba(255,255,255,.93);padding:8px 10px;font:12px/1.4 system-ui,-apple-system,"Segoe UI",
Roboto,sans-serif;color:#222;border-radius:4px;box-shadow:0 1px 5px rgba(0,0,0,.35);max-width:270px}
.gp-legend h4{margin:0 0 4px;font-size:13px}.gp-legend h5{margin:6px 0 2px;font-size:12px}
.gp-row{display:flex;align-items:center;gap:6px;margin:1px 0}
.gp-dot{display:inline-block;width:12px;height:12px;border-radius:50%;border:1px solid #1a1a1a;flex:none}
.gp-ring{display:inline-block;border-radius:50%;border:2px solid #333;background:rgba(255,255,255,.6);flex:none}
.gp-sw{display:inline-block;width:18px;height:12px;border:1px solid #555;flex:none}
.gp-line{display:inline-block;width:28px;flex:none}
.gp-ramp{height:10px;border:1px solid #555;margin:2px 0}.gp-ends{display:flex;justify-content:space-between}
.gp-note{color:#555;font-size:11px;margin-top:4px}
.gp-popup h4{margin:0 0 2px;font-size:14px}.gp-popup .gp-sub{color:#555;margin-bottom:4px}
.gp-popup table{border-collapse:collapse}.gp-popup th{text-align:left;padding:1px 8px 1px 0;font-weight:600;
vertical-align:top;white-space:nowrap}.gp-popup td{padding:1px 0}.gp-popup p{margin:6px 0 0}
""".strip()


# --------------------------------------------------------------------------------------
# formatting: every value that came from data goes through html.escape


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and not math.isfinite(value)


def _esc(value: Any) -> str:
    return "" if _missing(value) else html.escape(str(value), quote=True)


def _int(value: Any) -> str:
    return "" if _missing(value) else f"{round(float(value)):,}"


def _minutes(value: Any) -> str:
    if _missing(value):
        return "unreachable by road"
    m = float(value)
    return f"{m:.0f} min" if m < 60 else f"{m:.0f} min ({int(m // 60)} h {round(m % 60):02d})"


def _row_get(row: Mapping[str, Any], key: str) -> Any:
    value = row.get(key)
    return None if _missing(value) else value


def _table(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rows if v)
    return f"<table>{body}</table>" if body else ""


def _swatch(colour: str) -> str:
    return f'<span class="gp-dot" style="background:{colour};display:inline-block;vertical-align:-1px"></span> '


def _pop_text(row: Mapping[str, Any]) -> str:
    year = f" ({_esc(row.get('population_year'))})" if _row_get(row, "population_year") else ""
    return _int(row.get("population")) + year if _row_get(row, "population") is not None else ""


def _town_popup(row: Mapping[str, Any], names: Mapping[str, str],
                flows_out: Mapping[str, list[tuple[str, int]]]) -> str:
    cat = str(row["category"])
    other_names = " · ".join(_esc(row.get(k)) for k in ("name_kk", "name_ru") if _row_get(row, k) is not None)
    centre = _row_get(row, "nearest_centre_name") or names.get(str(_row_get(row, "nearest_centre") or ""), "")
    growth = _row_get(row, "growth_pct_per_year")
    status = _esc(row.get("enterprise_status")).replace("_", " ")
    enterprise = _esc(row.get("enterprise")) + (f" ({status})" if status else "")
    dest = _row_get(row, "destination")
    moves = flows_out.get(str(row["id"]), [])
    rows = [
        ("Category", _swatch(CATEGORY_COLOURS[cat]) + html.escape(CATEGORY_LABELS[cat])),
        ("Nearest centre", _esc(centre)),
        ("Travel time", html.escape(_minutes(row.get("minutes"))) if "minutes" in row else ""),
        ("Road distance", f"{float(row['km']):.0f} km" if _row_get(row, "km") is not None else ""),
        ("Population", _pop_text(row)),
        ("Region", _esc(row.get("region"))),
        ("Industry", _esc(row.get("main_industry"))),
        ("Enterprise", enterprise),
        ("Resource base", _esc(row.get("resource_status")).replace("_", " ")),
        ("Growth", f"{float(growth):+.1f} % per year" if growth is not None else ""),
        ("Accessibility", f"{float(row['accessibility']):,.0f}" if _row_get(row, "accessibility") is not None else ""),
        ("Destination", _esc(names.get(str(dest), dest)) if dest is not None else ""),
        ("Relocating", "<br>".join(f"{_int(p)} people to {_esc(n)}" for n, p in moves)),
    ]
    reasons = _row_get(row, "reasons")
    return (
        f'<div class="gp-popup"><h4>{_esc(row["name_en"])}</h4>'
        + (f'<div class="gp-sub">{other_names}</div>' if other_names else "")
        + _table(rows)
        + (f"<p>{_esc(reasons)}</p>" if reasons is not None else "")
        + "</div>"
    )


def _town_tooltip(row: Mapping[str, Any]) -> str:
    cat = str(row["category"])
    extra = f" · {html.escape(_minutes(row.get('minutes')))}" if "minutes" in row else ""
    return f"<b>{_esc(row['name_en'])}</b><br>{html.escape(CATEGORY_LABELS[cat])}{extra}"


def _centre_popup(row: Mapping[str, Any], *, capacity: bool) -> str:
    other_names = " · ".join(_esc(row.get(k)) for k in ("name_kk", "name_ru") if _row_get(row, k) is not None)
    rows = [
        ("Role", _esc(row.get("role")).replace("_", " ")),
        ("Region", _esc(row.get("region"))),
        ("Population", _pop_text(row)),
    ]
    if capacity:
        used = _row_get(row, "capacity_used")
        rows += [
            ("Capacity", f"{_int(row.get('capacity'))} people" if _row_get(row, "capacity") is not None else ""),
            ("Allocated", f"{_int(row.get('allocated'))} people" if _row_get(row, "allocated") is not None else ""),
            ("Capacity used", f"{100 * float(used):.0f} %" if used is not None else ""),
        ]
    return (f'<div class="gp-popup"><h4>{_esc(row["name_en"])}</h4>'
            + (f'<div class="gp-sub">{other_names}</div>' if other_names else "")
            + "<div class=\"gp-sub\">growth centre</div>" + _table(rows) + "</div>")


# --------------------------------------------------------------------------------------
# geometry for the web: simplified in metres, rounded, as GeoJSON dicts


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


# --------------------------------------------------------------------------------------
# the travel-time surface


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


# --------------------------------------------------------------------------------------
# building the maps


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


def agglomeration_map(
    towns: gpd.GeoDataFrame,
    centres: gpd.GeoDataFrame,
    catchments: gpd.GeoDataFrame | None,
    *,
    surface: _PathLike | None = None,
    roads: gpd.GeoDataFrame | None = None,
    tiles: bool = True,
    assets_url: str | None = None,
    title: str = "Monotowns, growth centres and catchments",
    simplify_m: float = 500.0,
    surface_max_minutes: float | None = None,
    surface_max_px: int = 1024,
) -> folium.Map:
    """Interactive map of agglomeration candidates: towns by category, centres, catchment bands.

    Parameters
    ----------
    towns
        Towns result (see the results schema): points with ``id``, ``name_en``, ``category``
        and, when present, the travel time and distance to the nearest centre, ``reasons``
        and the towns layer's facts, all shown in each town's popup.
    centres
        Centres result or layer; circles sized by ``population``.
    catchments
        Catchment bands (``centre``, ``band`` in minutes, polygons), or ``None``. Drawn widest
        band first, so every shorter band lies on top.
    surface
        Optional single-band GeoTIFF of travel minutes in any CRS, drawn under everything.
    roads
        Optional roads layer, drawn as thin grey lines for context.
    tiles
        Add the OpenStreetMap base map (tile requests need the internet).
    assets_url
        Folder or URL holding ``leaflet.js`` and ``leaflet.css`` (default: jsDelivr CDN).
    title
        Page title.
    simplify_m
        Tolerance in metres for simplifying catchments, and half of it for roads (keeps the file
        small).
    surface_max_minutes
        Minutes at the dark end of the surface's colour ramp; longer times get its darkest
        colour. Default: the 95th percentile of the surface, rounded up to half an hour.
    surface_max_px
        Largest side of the surface image in pixels.

    Returns
    -------
    folium.Map
        Write it with :func:`save_map` (deterministic), not ``Map.save``.

    Raises
    ------
    AnalysisError
        If a result lacks a required column, has a bad geometry or an unknown category.
    LayerReadError
        If ``surface`` cannot be read as a single-band raster with a CRS.

    """
    if simplify_m < 0 or surface_max_px < 16:
        raise ValueError(f"Invalid value: simplify_m needs to be >= 0 (got {simplify_m}), "
                         f"surface_max_px an integer >= 16 (got {surface_max_px})")
    catchments = check_result(catchments, "catchments")
    towns, centres, roads_r, crs, m, names = _prepare(towns, centres, roads, tiles=tiles, assets_url=assets_url,
                                                      title=title)
    legend = [f"<h4>{html.escape(title)}</h4>", _legend_categories(towns)]

    if surface is not None:
        s = _surface_overlay(surface, max_px=surface_max_px, vmax=surface_max_minutes, cmap=SURFACE_CMAP)
        folium.raster_layers.ImageOverlay(s.url, s.bounds, name="Travel time surface", opacity=0.6, pane="gpSurface",
                                          interactive=False, pixelated=False).add_to(m)
        stops = ",".join(ramp_hex(SURFACE_CMAP, np.linspace(0, 1, 6)))
        legend.append(f'<h5>Travel time to nearest centre</h5><div class="gp-ramp" style="background:'
                      f'linear-gradient(to right,{stops})"></div><div class="gp-ends"><span>0</span>'
                      f"<span>{'≥ ' if s.clipped else ''}{s.vmax:.0f} min</span></div>")

    if len(catchments):
        colours = band_colours(catchments["band"].to_numpy())
        order = catchments.sort_values(["band", "centre"], ascending=[False, True], kind="mergesort")
        geoms = _simplified(order.geometry.to_numpy(), simplify_m, crs)
        town_names = dict(zip(towns["id"].astype(str), towns["name_en"].astype(str), strict=True))
        props = []
        for row in _records(order):
            band = int(row["band"])
            cname = _row_get(row, "centre_name") or names.get(str(row["centre"]), row["centre"])
            listed = [t.strip() for t in str(_row_get(row, "towns") or "").split(",") if t.strip()]
            rows = [
                ("Travel time", f"≤ {band} min by road"),
                ("Area", f"{float(row['area_km2']):,.0f} km²" if _row_get(row, "area_km2") is not None else ""),
                ("Population", _int(row.get("population")) if _row_get(row, "population") is not None else ""),
                ("Monotowns", ", ".join(_esc(town_names.get(t, t)) for t in listed)),
            ]
            props.append({
                "style": {"color": colours[band], "weight": 1, "opacity": 0.9, "fillColor": colours[band],
                          "fillOpacity": 0.18},
                "popup": (f'<div class="gp-popup"><h4>{_esc(cname)}</h4><div class="gp-sub">catchment</div>'
                          f"{_table(rows)}</div>"),
                "tooltip": f"{_esc(cname)} · ≤ {band} min",
            })
        m.add_child(_DataLayer("catchments", "Catchments", _features(geoms, iter(props)),
                               attribution=OSM_ATTRIBUTION_HTML))
        swatches = "".join(f'<div class="gp-row"><span class="gp-sw" style="background:{c};opacity:.75"></span>'
                           f"≤ {b} min by road</div>" for b, c in sorted(colours.items()))
        legend.append(f"<h5>Catchments</h5>{swatches}")

    if roads_r is not None and len(roads_r):
        m.add_child(_roads_layer(roads_r, crs, simplify_m / 2))

    pops = pd.to_numeric(centres["population"], errors="coerce") if "population" in centres else pd.Series([])
    max_pop = float(pops.max()) if pops.notna().any() else 0.0
    geoms = _simplified(centres.geometry.to_numpy(), 0, None)
    props = []
    for row in _records(centres):
        props.append({
            "id": str(row["id"]),
            "style": {"radius": _centre_radius(row.get("population"), max_pop), "color": CENTRE_COLOUR, "weight": 2,
                      "fillColor": "#FFFFFF", "fillOpacity": 0.55},
            "popup": _centre_popup(row, capacity=False),
            "tooltip": f"<b>{_esc(row['name_en'])}</b><br>growth centre · {_int(row.get('population'))}",
        })
    m.add_child(_DataLayer("centres", "Growth centres", _features(geoms, iter(props)), front=True))
    legend.append(_legend_centres("size = population"))

    m.add_child(_DataLayer("towns", "Monotowns", _town_features(towns, names, {}), front=True))
    if not tiles:
        legend.append(f'<div class="gp-note">Roads and places partly {OSM_ATTRIBUTION_TEXT}</div>')
    m.add_child(_Legend("".join(legend)))
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return m


def relocation_map(
    towns: gpd.GeoDataFrame,
    centres: gpd.GeoDataFrame,
    flows: gpd.GeoDataFrame | None,
    *,
    roads: gpd.GeoDataFrame | None = None,
    tiles: bool = True,
    assets_url: str | None = None,
    title: str = "Relocation flows and destination capacity",
    simplify_m: float = 250.0,
    max_width_px: float = 14.0,
) -> folium.Map:
    """Interactive map of relocation: flows along their road routes, destinations' capacity used.

    Parameters
    ----------
    towns
        Towns result; relocation towns are drawn larger.
    centres
        Centres result with ``capacity``, ``allocated`` and ``capacity_used`` (0..1); circles
        sized by capacity (population when there is no capacity) and shaded by capacity used.
    flows
        Flows result (``origin``, ``destination``, ``people``, road-route lines), or ``None``.
        Line width is proportional to people.
    roads
        Optional roads layer for context.
    tiles, assets_url, title
        As in :func:`agglomeration_map`.
    simplify_m
        Tolerance in metres for simplifying flow and road lines.
    max_width_px
        Width of the largest flow in pixels.

    Returns
    -------
    folium.Map

    """
    if simplify_m < 0 or max_width_px < 1.5:
        raise ValueError(f"Invalid value: simplify_m needs to be >= 0 (got {simplify_m}), "
                         f"max_width_px >= 1.5 (got {max_width_px})")
    flows = check_result(flows, "flows")
    towns, centres, roads_r, crs, m, names = _prepare(towns, centres, roads, tiles=tiles, assets_url=assets_url,
                                                      title=title)
    town_names = dict(zip(towns["id"].astype(str), towns["name_en"].astype(str), strict=True))
    legend = [f"<h4>{html.escape(title)}</h4>"]

    if roads_r is not None and len(roads_r):
        m.add_child(_roads_layer(roads_r, crs, simplify_m))

    flows_out: dict[str, list[tuple[str, int]]] = {}
    people = pd.to_numeric(flows["people"], errors="coerce").fillna(0).to_numpy(dtype=float)
    max_people = float(people.max()) if len(people) else 0.0
    if len(flows):
        order = np.argsort(-people, kind="mergesort")  # thick lines first, thin ones stay clickable on top
        ordered = flows.iloc[order]
        geoms = _simplified(ordered.geometry.to_numpy(), simplify_m, crs)
        props = []
        for row, n in zip(_records(ordered), people[order], strict=True):
            oname = _row_get(row, "origin_name") or town_names.get(str(row["origin"]), row["origin"])
            dname = _row_get(row, "destination_name") or names.get(str(row["destination"]), row["destination"])
            flows_out.setdefault(str(row["origin"]), []).append((str(dname), int(n)))
            width = _flow_width(n, max_people, max_width_px)
            rows = [
                ("People", _int(n)),
                ("Travel time", html.escape(_minutes(row.get("minutes"))) if "minutes" in row else ""),
                ("Road distance", f"{float(row['km']):.0f} km" if _row_get(row, "km") is not None else ""),
            ]
            props.append({
                "style": {"color": FLOW_COLOUR, "weight": round(width, 2), "opacity": 0.75, "lineCap": "round"},
                "popup": f'<div class="gp-popup"><h4>{_esc(oname)} → {_esc(dname)}</h4>{_table(rows)}</div>',
                "tooltip": f"{_esc(oname)} → {_esc(dname)}: {_int(n)} people",
            })
        m.add_child(_DataLayer("flows", "Relocation flows", _features(geoms, iter(props)),
                               attribution=OSM_ATTRIBUTION_HTML))
        samples = sorted({max_people, max_people / 2, max_people / 4}, reverse=True)
        lines = "".join(
            f'<div class="gp-row"><span class="gp-line" style="height:{_flow_width(s, max_people, max_width_px):.1f}px;'
            f'background:{FLOW_COLOUR}"></span>{_int(s)} people</div>' for s in samples)
        legend.append(f"<h5>Relocation flows (along roads)</h5>{lines}")
    else:
        m.add_child(_DataLayer("flows", "Relocation flows", [], attribution=OSM_ATTRIBUTION_HTML))
        legend.append('<h5>Relocation flows</h5><div class="gp-note">No relocation flows in this result.</div>')

    has_cap = "capacity" in centres.columns
    size_col = "capacity" if has_cap else "population"
    size = (pd.to_numeric(centres[size_col], errors="coerce") if size_col in centres
            else pd.Series(np.nan, index=centres.index))
    max_size = float(size.max()) if len(size) and size.notna().any() else 0.0
    used = (pd.to_numeric(centres["capacity_used"], errors="coerce").to_numpy(dtype=float)
            if "capacity_used" in centres else np.full(len(centres), np.nan))
    fills = ramp_hex(CAPACITY_CMAP, np.nan_to_num(used, nan=0.0), vmin=-0.15, vmax=1.0)
    geoms = _simplified(centres.geometry.to_numpy(), 0, None)
    props = []
    for row, s, u, fill in zip(_records(centres), size, used, fills, strict=True):
        tip = f"<b>{_esc(row['name_en'])}</b>" + (f"<br>{100 * u:.0f} % of capacity used" if math.isfinite(u) else "")
        props.append({
            "id": str(row["id"]),
            "style": {"radius": _centre_radius(s, max_size), "color": CENTRE_COLOUR, "weight": 2, "fillColor": fill,
                      "fillOpacity": 0.85},
            "popup": _centre_popup(row, capacity=True),
            "tooltip": tip,
        })
    m.add_child(_DataLayer("centres", "Destinations", _features(geoms, iter(props)), front=True))
    stops = ",".join(ramp_hex(CAPACITY_CMAP, np.linspace(0, 1, 6), vmin=-0.15, vmax=1.0))
    legend.append(
        f'<h5>Destinations</h5><div class="gp-note">size = {"capacity" if has_cap else "population"}; '
        f'shade = capacity used</div><div class="gp-ramp" style="background:linear-gradient(to right,{stops})"></div>'
        '<div class="gp-ends"><span>0 %</span><span>100 %</span></div>'
    )

    m.add_child(_DataLayer("towns", "Monotowns", _town_features(towns, names, flows_out, emphasise="relocation"),
                           front=True))
    legend.append(_legend_categories(towns))
    if not tiles:
        legend.append(f'<div class="gp-note">Roads and places partly {OSM_ATTRIBUTION_TEXT}</div>')
    m.add_child(_Legend("".join(legend)))
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    return m


# --------------------------------------------------------------------------------------
# deterministic HTML


_HEX_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")


def _element_ids(root: Element) -> set[str]:
    seen: set[int] = set()
    ids: set[str] = set()
    stack: list[Element] = [root]
    while stack:
        el = stack.pop()
        if id(el) in seen:
            continue
        seen.add(id(el))
        ids.add(el._id)
        stack.extend(el._children.values())
        stack.extend(v for k, v in vars(el).items() if k != "_parent" and isinstance(v, Element))
    return ids


def render_map(m: folium.Map) -> str:
    """Render the map as one HTML page, identical for identical inputs.

    folium names every element with a random 128-bit hex id; they are replaced, in order of
    first appearance, by sequential numbers so that two runs give the same bytes.

    Parameters
    ----------
    m
        A map from :func:`agglomeration_map` or :func:`relocation_map` (any folium map works).

    Returns
    -------
    str
        The HTML text.
    """
    # Render a copy: folium adds elements with fresh random ids on every render, so rendering
    # the same Map object twice would otherwise repeat them.
    root = copy.deepcopy(m.get_root())
    text = root.render()
    known = _element_ids(root)
    mapping: dict[str, str] = {}

    def _sub(match: re.Match[str]) -> str:
        token = match.group(0)
        if token not in known:
            return token
        return mapping.setdefault(token, f"{len(mapping) + 1:04d}")

    text = _HEX_ID.sub(_sub, text)
    # Trailing spaces from folium's templates only add bytes and diff noise.
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip()) + "\n"


def save_map(m: folium.Map, path: _PathLike) -> Path:
    """Write ``m`` as a standalone HTML file, atomically and deterministically (see :func:`render_map`).

    Parameters
    ----------
    m
        The map.
    path
        Output ``.html`` file.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    return write_text_atomic(path, render_map(m))


# --------------------------------------------------------------------------------------
# static PNG


def _nice_length(span_m: float) -> float:
    """Return the longest round length (m) no longer than a fifth of ``span_m``."""
    target = span_m / 5
    steps = (1000, 2000, 5000, 10000, 20000, 25000, 50000, 100000, 200000, 250000, 500000, 1000000)
    return float(max((s for s in steps if s <= target), default=steps[0]))


def category_png(
    towns: gpd.GeoDataFrame,
    centres: gpd.GeoDataFrame,
    path: _PathLike,
    *,
    roads: gpd.GeoDataFrame | None = None,
    title: str | None = "Monotowns by category",
    dpi: int = 150,
    width_in: float = 10.0,
    labels: bool = True,
) -> Path:
    """Draw the town categories as a PNG map (matplotlib), atomically and reproducibly.

    Parameters
    ----------
    towns
        Towns result; points coloured by ``category`` with the web maps' palette.
    centres
        Growth centres; open circles with area proportional to ``population``.
    path
        Output ``.png`` file.
    roads
        Optional roads layer, drawn in light grey (credited to OpenStreetMap contributors).
    title
        Figure title, or ``None``.
    dpi, width_in
        Resolution and width of the image.
    labels
        Label towns with ``name_en``.

    Returns
    -------
    pathlib.Path
        ``path``.

    """
    from matplotlib import patheffects
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    towns = check_result(towns, "towns")
    centres = check_result(centres, "centres")
    roads_r = check_result(roads, "roads") if roads is not None else None
    bounds = _bounds(towns, centres, roads_r) or (46.0, 40.0, 88.0, 56.0)
    crs = metric_crs(bounds)
    t = towns.to_crs(crs)
    c = centres.to_crs(crs)
    xs = np.concatenate([t.geometry.x.to_numpy(), c.geometry.x.to_numpy()]) if len(t) + len(c) else np.array([0.0])
    ys = np.concatenate([t.geometry.y.to_numpy(), c.geometry.y.to_numpy()]) if len(t) + len(c) else np.array([0.0])
    if roads_r is not None and len(roads_r):
        rb = roads_r.to_crs(crs).total_bounds
        xs, ys = np.append(xs, rb[[0, 2]]), np.append(ys, rb[[1, 3]])
    xmin, xmax, ymin, ymax = xs.min(), xs.max(), ys.min(), ys.max()
    span = max(xmax - xmin, ymax - ymin, 50000.0)
    pad = 0.05 * span
    aspect = (ymax - ymin + 2 * pad) / max(xmax - xmin + 2 * pad, 1.0)
    fig = Figure(figsize=(width_in, max(3.0, width_in * aspect + 0.9)), dpi=dpi, layout="constrained")
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_xlim(xmin - pad, xmax + pad)
    ax.set_ylim(ymin - pad, ymax + pad)
    if title:
        ax.set_title(title, fontsize=13, loc="left")

    if roads_r is not None and len(roads_r):
        coords, index = shapely.get_coordinates(roads_r.to_crs(crs).geometry.to_numpy(), return_index=True)
        parts = np.split(coords, np.flatnonzero(np.diff(index)) + 1)
        ax.add_collection(LineCollection(parts, colors=ROAD_COLOUR, linewidths=0.6, alpha=0.8, zorder=1))

    if len(c):
        pop = (pd.to_numeric(c["population"], errors="coerce").fillna(0).to_numpy(dtype=float)
               if "population" in c else np.zeros(len(c)))
        sizes = 20 + 480 * pop / max(pop.max(), 1.0)  # marker area (pt²): 20 plus a share proportional to population
        ax.scatter(c.geometry.x, c.geometry.y, s=sizes, facecolors="white", edgecolors=CENTRE_COLOUR,
                   linewidths=1.2, alpha=0.9, zorder=2)
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    if len(t):
        colours = [CATEGORY_COLOURS[str(k)] for k in t["category"]]
        ax.scatter(t.geometry.x, t.geometry.y, s=46, c=colours, edgecolors="#1A1A1A", linewidths=0.7, zorder=3)
        if labels:
            for x, y, name in zip(t.geometry.x, t.geometry.y, t["name_en"].astype(str), strict=True):
                ax.annotate(name, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=6.5, zorder=4,
                            path_effects=halo)

    counts = t["category"].astype(object).value_counts() if len(t) else pd.Series(dtype=int)
    handles = [Line2D([], [], marker="o", linestyle="", markersize=7, markerfacecolor=CATEGORY_COLOURS[k],
                      markeredgecolor="#1A1A1A", label=f"{CATEGORY_LABELS[k]} ({int(counts.get(k, 0))})")
               for k in CATEGORIES]
    handles.append(Line2D([], [], marker="o", linestyle="", markersize=10, markerfacecolor="white",
                          markeredgecolor=CENTRE_COLOUR, label="Growth centre (area = population)"))
    ax.legend(handles=handles, loc="lower left", fontsize=8, frameon=True, framealpha=0.9, title="Monotowns",
              title_fontsize=9)

    bar = _nice_length(xmax - xmin)
    x0, y0 = xmax + pad - bar - 0.02 * span, ymin - pad + 0.04 * span
    ax.plot([x0, x0 + bar], [y0, y0], color="#222222", linewidth=3, solid_capstyle="butt", zorder=5)
    ax.text(x0 + bar / 2, y0 + 0.012 * span, f"{bar / 1000:g} km", ha="center", va="bottom", fontsize=8, zorder=5)
    credit = "Roads and places partly " + OSM_ATTRIBUTION_TEXT if roads_r is not None else ""
    if credit:
        ax.text(0.995, 0.005, credit, transform=ax.transAxes, ha="right", va="bottom", fontsize=6, color="#555555")

    buf = io.BytesIO()
    # No "Software" chunk: the bytes depend on the drawing, not on the matplotlib build.
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None}, facecolor="white", bbox_inches="tight",
                pad_inches=0.15)
    return write_bytes_atomic(path, buf.getvalue())
