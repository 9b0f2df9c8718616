"""The offline base map every geoplan map starts from, and the layers both maps share.

The base map needs no tile server: the country, its regions and (from zoom 7) its districts
are drawn from a ``boundaries`` layer, and place names (growth centres, monotowns, regions,
districts and, with a ``settlements`` layer, every settlement by size) are placed by the page
itself, largest first and never on top of each other. OpenStreetMap tiles are an optional
layer, off by default and switched off when unreachable.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Figure
from pyproj import CRS

from geoplan._errors import AnalysisError
from geoplan._html import escape_value, format_int, is_missing, row_value
from geoplan._results import check_result
from geoplan._style import (
    CATEGORIES,
    CATEGORY_COLOURS,
    CATEGORY_LABELS,
    CENTRE_COLOUR,
    OSM_ATTRIBUTION_HTML,
    OUTLINE_COLOUR,
)
from geoplan.layers import metric_crs
from geoplan.maps.assets import LEAFLET_VERSION, OSM_TILES
from geoplan.maps.elements import _Assets, _Call, _DataLayer, _Setup
from geoplan.maps.panels import methods_html
from geoplan.maps.popups import _town_popup, _town_tooltip
from geoplan.maps.web import _FALLBACK_BOUNDS, _bounds, _coord, _features, _records, _simplified, latin

__all__ = ["MapContext"]

#: Boundaries credit (the embedded layer's sources).
BOUNDARIES_ATTRIBUTION = "Boundaries: OCHA/HDX COD-AB (CC BY-IGO), geokz (CC BY 4.0)"

_LEVELS = {"country": 0, "region": 1, "district": 2, "0": 0, "1": 1, "2": 2}

#: Road display: (width px, colour, pane) by class; classes not listed are left out of maps.
ROAD_DISPLAY: dict[str, tuple[float, str, str | None]] = {
    "motorway": (3.0, "#3F3F3F", None),
    "trunk": (2.2, "#555555", None),
    "primary": (1.6, "#707070", None),
    "secondary": (1.1, "#8C8C8C", "gpRoadsMinor"),
    "tertiary": (0.8, "#A5A5A5", "gpRoadsMinor"),
}
PLANNED_COLOUR = "#B03A2E"
# outline of a town whose category is fragile (sensitivity runs) or borderline (a fact near its limit)
FRAGILE_DASH = "4 3"
BORDERLINE_DASH = "1 3"


@dataclass(frozen=True)
class MapContext:
    """What a map says about the run it shows: title bar and methods panel.

    Attributes
    ----------
    scenario
        Scenario name (``None``: no scenario line).
    description
        What the scenario assumes.
    run_date
        ISO date of the run (``None``: not shown).
    speeds
        Road speeds by class, km/h, for the methods panel.
    access_kph
        Speed of the leg from a place to its road, km/h.
    offroad_kph
        Off-road speed of the surface, km/h.
    bands
        Catchment bands, minutes.
    agglomeration_minutes
        Travel time that qualifies a town for an agglomeration (the default catchment band).
    profiles_url
        Folder (relative to the map) of the printable town profiles, e.g. ``"profiles/"``;
        ``None``: no profile links.
    planned_roads
        Ids of roads a scenario adds (drawn dashed).
    notes
        Extra caveats for the methods panel.
    """

    scenario: str | None = None
    description: str = ""
    run_date: str | None = None
    speeds: Mapping[str, float] = field(default_factory=dict)
    access_kph: float | None = None
    offroad_kph: float | None = None
    bands: Sequence[int] = ()
    agglomeration_minutes: float | None = None
    profiles_url: str | None = None
    planned_roads: frozenset[str] = frozenset()
    notes: Sequence[str] = ()

    @staticmethod
    def today() -> str:
        """Return the run date: ``SOURCE_DATE_EPOCH`` when set (reproducible builds), else today (UTC)."""
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        moment = (dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC) if epoch and epoch.isdigit()
                  else dt.datetime.now(tz=dt.UTC))
        return moment.date().isoformat()


# --------------------------------------------------------------------------------------
# boundaries and place names


def _levels(boundaries: gpd.GeoDataFrame) -> np.ndarray:
    """Level of each boundary feature: 0 country, 1 region, 2 district."""
    if "level" not in boundaries.columns:
        raise AnalysisError("boundaries layer has no 'level' column",
                            fix="give each feature a level: 0 (or 'country'), 1 ('region'), 2 ('district')")
    raw = boundaries["level"].astype(str).str.strip().str.lower().str.replace(r"\.0$", "", regex=True)
    levels = raw.map(_LEVELS)
    if levels.isna().any():
        bad = sorted(set(raw[levels.isna()]))[:5]
        raise AnalysisError(f"boundaries layer: unknown level(s) {', '.join(bad)}",
                            fix="use 0/1/2 or country/region/district")
    return levels.to_numpy(dtype=int)


def _name(row: Mapping[str, Any]) -> str:
    """Return the label of a place: its English name, else its Russian or local name in Latin letters."""
    for key in ("name_en", "name:en", "name_ru", "name", "name_kk"):
        v = row.get(key)
        if not is_missing(v) and str(v).strip():
            return latin(str(v).strip())
    return ""


def _lines(polys: np.ndarray, crs: CRS, tolerance_m: float) -> shapely.Geometry:
    """Return the borders of polygons as one set of lines (a shared border once), simplified in metres."""
    if not len(polys):
        return shapely.MultiLineString()
    metric = gpd.GeoSeries(polys, crs=4326).to_crs(crs).to_numpy()
    borders = shapely.union_all(shapely.boundary(shapely.make_valid(metric)))
    merged = shapely.line_merge(borders) if borders.geom_type == "MultiLineString" else borders
    simple = shapely.simplify(merged, tolerance_m, preserve_topology=False)
    back = gpd.GeoSeries([simple], crs=crs).to_crs(4326).to_numpy()
    return cast(shapely.Geometry, shapely.transform(back, lambda xy: np.round(xy, 4))[0])


def _boundary_layers(m: folium.Map, boundaries: gpd.GeoDataFrame, crs: CRS) -> list[list[Any]]:
    """Add the country fill and outline, region and district borders; return their label candidates."""
    levels = _levels(boundaries)
    geoms = boundaries.geometry.to_numpy()
    country = geoms[levels == 0]
    if not len(country):  # no country feature: the union of the regions (or districts) stands for it
        country = np.array([shapely.union_all(shapely.make_valid(geoms))], dtype=object)
    fill = _simplified(np.array([shapely.union_all(shapely.make_valid(country))], dtype=object), 1500.0, crs)
    m.add_child(_DataLayer("country", None, _features(fill, iter([{"style": {
        "color": "#4d4d4d", "weight": 1.6, "opacity": 0.9, "fillColor": "#FBFAF5", "fillOpacity": 1.0}}])),
        interactive=False, pane="gpCountry", attribution=BOUNDARIES_ATTRIBUTION))
    labels: list[list[Any]] = []
    for level, key, name, pane, style, tol in (
        (1, "regions", "Regions", "gpRegions", {"color": "#8a8a8a", "weight": 1.1, "opacity": 0.9}, 1200.0),
        (2, "districts", "Districts", "gpDistricts", {"color": "#b5b5b5", "weight": 0.7, "opacity": 0.9}, 400.0),
    ):
        sel = levels == level
        if not sel.any():
            continue
        lines = _lines(geoms[sel], crs, tol)
        m.add_child(_DataLayer(key, name, _features(np.array([lines], dtype=object), iter([{"style": style}])),
                               interactive=False, pane=pane))
        points = shapely.point_on_surface(shapely.make_valid(geoms[sel]))
        area = gpd.GeoSeries(geoms[sel], crs=4326).to_crs(crs).area.to_numpy()
        order = np.argsort(-area, kind="stable")
        recs = _records(boundaries[sel])
        for i in order:
            text = _name(recs[i])
            if not text:
                continue
            x, y = round(float(points[i].x), 4), round(float(points[i].y), 4)
            if level == 1:
                labels.append([text.upper(), x, y, 5, "region", 0, 0, 7])
            else:
                labels.append([text, x, y, 8, "district", 0, 0, None])
    return labels


def _settlement_zoom(pop: float) -> tuple[int, str]:
    """Smallest zoom showing a settlement's name, and its label class, by population."""
    for limit, zoom, cls in ((100_000, 5, "settle1"), (50_000, 6, "settle1"), (20_000, 7, "settle2"),
                             (10_000, 8, "settle2"), (3_000, 9, "settle3"), (1_000, 10, "settle3")):
        if pop >= limit:
            return zoom, cls
    return 11, "settle3"


def _settlement_labels(settlements: gpd.GeoDataFrame, places: gpd.GeoSeries, crs: CRS) -> list[list[Any]]:
    """Label candidates of settlements, largest first, with their other names for the search.

    A settlement that is a town or centre (linked by ``town_id``/``centre_id``, or within 2 km
    of one) is left out: the town or centre has its own symbol and label.
    """
    pts = settlements[settlements.geometry.geom_type == "Point"]
    if not len(pts):
        return []
    pop = (pd.to_numeric(pts["population"], errors="coerce").fillna(0).to_numpy(dtype=float)
           if "population" in pts else np.zeros(len(pts)))
    near = np.zeros(len(pts), dtype=bool)
    if len(places):
        tree = shapely.STRtree(places.to_crs(crs).to_numpy())
        idx, _ = tree.query_nearest(pts.geometry.to_crs(crs).to_numpy(), max_distance=2000.0, all_matches=False)
        near[idx] = True
    order = np.argsort(-pop, kind="stable")
    recs = _records(pts)
    xs, ys = pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()
    out: list[list[Any]] = []
    for i in order:
        r = recs[i]
        if near[i] or any(not is_missing(r.get(k)) for k in ("town_id", "centre_id")):
            continue
        text = _name(r)
        if not text:
            continue
        others = [str(r[k]) for k in ("name_ru", "name_kk", "name:ru", "name:kk", "name")
                  if not is_missing(r.get(k)) and str(r[k]) != text]
        zoom, cls = _settlement_zoom(pop[i])
        out.append([text, round(float(xs[i]), 4), round(float(ys[i]), 4), zoom, cls, 2.5, 1, None,
                    " ".join(dict.fromkeys(others))])
    return out


# --------------------------------------------------------------------------------------
# roads


def _schematic(roads: gpd.GeoDataFrame) -> bool:
    """Tell whether most roads are straight lines between places (a schematic network)."""
    if not len(roads):
        return False
    counts = shapely.get_num_coordinates(roads.geometry.to_numpy())
    return bool(np.mean(counts <= 2) >= 0.8)


#: Most road vertices a map embeds; a larger network is simplified further until it fits.
ROAD_VERTEX_BUDGET = 60_000


def _roads_layer(roads: gpd.GeoDataFrame, crs: Any, tolerance_m: float,
                 planned: frozenset[str] = frozenset(),
                 extent: tuple[float, float, float, float] | None = None) -> tuple[list[_DataLayer], str]:
    """Roads by class for display (minor classes from zoom 7, others left out), planned ones dashed.

    Returns the layers (major, minor) and their legend HTML. Only roads that touch ``extent``
    (lon/lat, the map's area) are drawn; lines of the same class are merged and simplified,
    more coarsely while they exceed :data:`ROAD_VERTEX_BUDGET` vertices (the full roads stay in
    the exports).
    """
    if extent is not None and len(roads):
        roads = roads[shapely.intersects(roads.geometry.to_numpy(), shapely.box(*extent))]
    classes = roads["road_class"].astype(str).to_numpy() if "road_class" in roads else np.full(len(roads), "primary")
    ids = roads["id"].astype(str).to_numpy() if "id" in roads else np.full(len(roads), "")
    is_planned = np.isin(ids, list(planned)) if planned else np.zeros(len(roads), dtype=bool)
    if "status" in roads:
        is_planned |= roads["status"].astype(str).str.lower().isin(["planned", "under_construction"]).to_numpy()
    geoms = roads.geometry.to_numpy()
    groups: list[tuple[str, bool, object]] = []  # (class, planned, merged lines of the class)
    for cls in ROAD_DISPLAY:
        for plan in (False, True):
            sel = (classes == cls) & (is_planned == plan)
            if sel.any():
                parts = shapely.get_parts(geoms[sel])
                groups.append((cls, plan, shapely.line_merge(shapely.multilinestrings(parts))))
    tol = tolerance_m
    simple = _simplified(np.array([g for *_, g in groups], dtype=object), tol, crs) if groups else np.array([])
    for _ in range(8):
        if not groups or int(shapely.get_num_coordinates(simple).sum()) <= ROAD_VERTEX_BUDGET:
            break
        tol *= 2
        simple = _simplified(np.array([g for *_, g in groups], dtype=object), tol, crs)
    feats: list[dict[str, Any]] = []
    shown: list[str] = []
    for (cls, plan, _), geom in zip(groups, simple, strict=True):
        width, colour, pane = ROAD_DISPLAY[cls]
        style: dict[str, Any] = {"color": PLANNED_COLOUR if plan else colour,
                                 "weight": width + (0.6 if plan else 0), "opacity": 0.95 if plan else 0.85,
                                 "lineCap": "round"}
        if plan:
            style["dashArray"] = "7 6"
        feats.extend(_features(np.array([geom], dtype=object), iter([{"style": style, "pane": pane}])))
        if not plan:
            shown.append(cls)
    if not feats:
        return [], ""
    # minor classes live in their own pane, shown from zoom 7
    major = [f for f in feats if f["properties"].get("pane") is None]
    minor = [f for f in feats if f["properties"].get("pane") is not None]
    for f in feats:
        f["properties"].pop("pane", None)
    layers = [_DataLayer("roads", "Roads", major, interactive=False, attribution=OSM_ATTRIBUTION_HTML)]
    if minor:
        layers.append(_DataLayer("roadsMinor", "Minor roads (from zoom 7)", minor, interactive=False,
                                 pane="gpRoadsMinor"))
    rows = "".join(
        f'<div class="gp-row"><span class="gp-line" style="height:{ROAD_DISPLAY[c][0]:.1f}px;'
        f'background:{ROAD_DISPLAY[c][1]}"></span>{c}{" (from zoom 7)" if ROAD_DISPLAY[c][2] else ""}</div>'
        for c in shown)
    if is_planned.any():
        rows += '<div class="gp-row"><span class="gp-dash"></span>planned (scenario)</div>'
    note = ('<div class="gp-note"><b>Schematic</b>: roads drawn as straight lines between places; '
            "travel times use the road lengths.</div>") if _schematic(roads) else ""
    return layers, f"<h5>Roads</h5>{rows}{note}"


# --------------------------------------------------------------------------------------
# towns and centres: one symbol for a place that is both


def _centre_radius(population: Any, max_population: float) -> float:
    """Pixel radius with the circle's area proportional to population."""
    if is_missing(population) or max_population <= 0:
        return 5.0
    return round(4.0 + 16.0 * math.sqrt(max(float(population), 0.0) / max_population), 2)


def _town_features(towns: gpd.GeoDataFrame, names: Mapping[str, str],
                   flows_out: Mapping[str, list[tuple[str, int]]], *, centres: gpd.GeoDataFrame | None = None,
                   emphasise: str | None = None, profiles_url: str | None = None,
                   capacity: bool = False) -> list[dict[str, Any]]:
    """Town markers coloured by category; a town that is also a centre gets the centre's ring."""
    geoms = _simplified(towns.geometry.to_numpy(), 0, None)
    by_centre = {str(r["id"]): r for r in _records(centres)} if centres is not None else {}
    max_pop = _max_population(centres)
    props = []
    for row in _records(towns):
        cat = str(row["category"])
        tid = str(row["id"])
        centre = by_centre.get(tid)
        style: dict[str, Any] = {"radius": 8.0 if emphasise == cat else 6.5, "color": OUTLINE_COLOUR, "weight": 1.2,
                                 "fillColor": CATEGORY_COLOURS[cat], "fillOpacity": 0.95}
        if centre is not None:
            style.update(radius=max(8.0, _centre_radius(centre.get("population"), max_pop)), color=CENTRE_COLOUR,
                         weight=3.0)
        if _flag(row, "fragile"):
            style.update(dashArray=FRAGILE_DASH, weight=max(float(style["weight"]), 2.2))
        elif _flag(row, "borderline"):
            style.update(dashArray=BORDERLINE_DASH, weight=max(float(style["weight"]), 2.2))
        url = f"{profiles_url.rstrip('/')}/{tid}.html" if profiles_url else None
        props.append({
            "id": tid,
            "style": style,
            "popup": _town_popup(row, names, flows_out, centre=centre, profile_url=url, capacity=capacity),
            "tooltip": _town_tooltip(row) + ("<br>also a growth centre" if centre is not None else ""),
        })
    return _features(geoms, iter(props))


def _max_population(centres: gpd.GeoDataFrame | None) -> float:
    if centres is None or "population" not in centres or not len(centres):
        return 0.0
    pops = pd.to_numeric(centres["population"], errors="coerce")
    return float(pops.max()) if pops.notna().any() else 0.0


def _place_entries(towns: gpd.GeoDataFrame, centres: gpd.GeoDataFrame, town_ids: set[str],
                   max_pop: float) -> tuple[list[list[Any]], list[dict[str, Any]]]:
    """Label candidates (centres, then towns, by population) and search entries of towns and centres."""
    labels: list[list[Any]] = []
    places: list[dict[str, Any]] = []
    crec = _records(centres)
    cpop = [(row_value(r, "population") or 0.0) for r in crec]
    for i in np.argsort(-np.asarray(cpop, dtype=float), kind="stable") if crec else []:
        r, g = crec[i], centres.geometry.iloc[i]
        cid = str(r["id"])
        radius = _centre_radius(r.get("population"), max_pop)
        if cid in town_ids:
            continue  # labelled as a town (one symbol)
        labels.append([_name(r) or cid, _coord(g.x), _coord(g.y), 4, "centre", radius, 0, None])
        places.append(_place(r, g, "centres", "growth centre", None, float(cpop[i])))
    trec = _records(towns)
    tpop = [(row_value(r, "population") or 0.0) for r in trec]
    rank = [(row_value(r, "rank")) for r in trec]
    for i in np.argsort(-np.asarray(tpop, dtype=float), kind="stable") if trec else []:
        r, g = trec[i], towns.geometry.iloc[i]
        both = str(r["id"]) in set(centres["id"].astype(str))
        cls = "centre" if both else "town"
        labels.append([_name(r) or str(r["id"]), _coord(g.x), _coord(g.y), 4 if both else 5, cls,
                       8.0 if both else 6.5, 0, None])
        cat = str(r["category"])
        sub = CATEGORY_LABELS[cat] + (f" · rank {format_int(rank[i])}" if rank[i] is not None else "")
        places.append(_place(r, g, "towns", sub, CATEGORY_COLOURS[cat], float(tpop[i]) + 1e9))
    return labels, places


def _place(r: Mapping[str, Any], g: shapely.Point, layer: str, sub: str, colour: str | None,
           rank: float) -> dict[str, Any]:
    names = [str(r[k]) for k in ("name_en", "name_ru", "name_kk") if not is_missing(r.get(k))]
    return {"id": str(r["id"]), "name": _name(r) or str(r["id"]), "search": " ".join(names), "lon": _coord(g.x),
            "lat": _coord(g.y), "layer": layer, "sub": sub, "colour": colour, "rank": rank, "list": True,
            "zoom": 9}


def _flag(row: Mapping[str, Any], name: str) -> bool:
    """Tell whether a town has the ``fragile``/``borderline`` mark (False when the column is absent or empty)."""
    value = row_value(row, name)
    return value is not None and bool(value)


def _legend_categories(towns: gpd.GeoDataFrame, both: bool) -> str:
    counts = towns["category"].astype(object).value_counts()
    rows = "".join(
        f'<div class="gp-row"><span class="gp-dot" style="background:{CATEGORY_COLOURS[c]}"></span>'
        f"{html.escape(CATEGORY_LABELS[c])} ({int(counts.get(c, 0))})</div>"
        for c in CATEGORIES
    )
    if both:
        rows += ('<div class="gp-row"><span class="gp-both" style="background:#fff"></span>'
                 "monotown that is also a growth centre</div>")
    recs = _records(towns)
    fragile = sum(_flag(r, "fragile") for r in recs)
    borderline = sum(_flag(r, "borderline") and not _flag(r, "fragile") for r in recs)
    if fragile:
        rows += ('<div class="gp-row"><span class="gp-dot gp-fragile"></span>'
                 f"fragile: category changes in many sensitivity runs ({fragile})</div>")
    if borderline:
        rows += ('<div class="gp-row"><span class="gp-dot gp-borderline"></span>'
                 f"borderline: a deciding fact near its limit ({borderline})</div>")
    return f"<h5>Monotowns</h5>{rows}"


def _legend_centres(label: str) -> str:
    return (f'<h5>Growth centres</h5><div class="gp-row"><span class="gp-ring" style="width:10px;height:10px">'
            f'</span><span class="gp-ring" style="width:20px;height:20px"></span>{html.escape(label)}</div>')


# --------------------------------------------------------------------------------------
# the page


@dataclass
class _Page:
    """A map being built: its folium map, checked layers, metric CRS, labels and legend parts."""

    m: folium.Map
    towns: gpd.GeoDataFrame
    centres: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame | None
    crs: CRS
    names: dict[str, str]
    both: set[str]
    context: MapContext
    extent: tuple[float, float, float, float] | None = None
    labels: list[list[Any]] = field(default_factory=list)
    places: list[dict[str, Any]] = field(default_factory=list)
    legend: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fit: list[list[float]] | None = None


def _prepare(
    towns: gpd.GeoDataFrame,
    centres: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame | None,
    *,
    tiles: bool,
    assets_url: str | None,
    title: str,
    boundaries: gpd.GeoDataFrame | None,
    settlements: gpd.GeoDataFrame | None,
    context: MapContext | None,
) -> _Page:
    """Check the shared layers and start the page: assets, title bar, base map, place names."""
    towns = check_result(towns, "towns")
    centres = check_result(centres, "centres")
    roads_r = check_result(roads, "roads") if roads is not None else None
    ctx = context or MapContext()
    b = _bounds(towns, centres)
    if boundaries is not None and len(boundaries):
        boundaries = boundaries.to_crs(4326) if boundaries.crs is not None else boundaries.set_crs(4326)
        b = _bounds(boundaries)
    crs = metric_crs(b or _FALLBACK_BOUNDS)
    lon0, lat0 = ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) if b else (67.0, 48.0)
    m = folium.Map(location=[_coord(lat0), _coord(lon0)], zoom_start=5, tiles=None, prefer_canvas=True,
                   control_scale=False, zoom_control=False)
    # Instance lists: folium's add_js_link would otherwise edit the class-level defaults.
    m.default_js = []
    m.default_css = []
    root = cast(Figure, m.get_root())
    root.title = html.escape(title)
    root.header.add_child(_Assets(assets_url), name="geoplan_assets")
    root.header.add_child(folium.Element('<meta name="viewport" content="width=device-width, initial-scale=1">'),
                          name="viewport")
    both = set(towns["id"].astype(str)) & set(centres["id"].astype(str))
    names = dict(zip(centres["id"].astype(str), centres["name_en"].astype(str), strict=True))
    extent = (b[0] - 1.0, b[1] - 1.0, b[2] + 1.0, b[3] + 1.0) if b else None
    page = _Page(m, towns, centres, roads_r, crs, names, both, ctx, extent)
    notes: list[str] = []
    if boundaries is None or not len(boundaries):
        notes.append("No boundaries layer: the country, regions and districts are not drawn.")
    schematic = roads_r is not None and _schematic(roads_r)
    m.add_child(_Setup({
        "title": title, "scenario": ctx.scenario, "description": ctx.description, "runDate": ctx.run_date,
        "notes": notes, "prefix": f"Leaflet {LEAFLET_VERSION}",
        "profiles": f"{ctx.profiles_url.rstrip('/')}/index.html" if ctx.profiles_url else None,
        "methods": methods_html(ctx, schematic=schematic, boundaries=boundaries is not None and len(boundaries) > 0,
                                settlements=settlements is not None and len(settlements) > 0, tiles=tiles),
    }))
    if boundaries is not None and len(boundaries):
        page.labels.extend(_boundary_layers(m, boundaries, crs))
    if tiles:
        m.add_child(_Call("tiles", OSM_TILES, OSM_ATTRIBUTION_HTML))
    if b:
        pad = 0.3
        m.fit_bounds([[b[1] - pad, b[0] - pad], [b[3] + pad, b[2] + pad]])
        # Fitted again once the panels exist, with room for them (geoplan.fit in the runtime).
        page.fit = [[_coord(b[1] - pad), _coord(b[0] - pad)], [_coord(b[3] + pad), _coord(b[2] + pad)]]
    place_labels, places = _place_entries(towns, centres, both, _max_population(centres))
    page.labels = place_labels + page.labels
    page.places = places
    if settlements is not None and len(settlements):
        s = settlements.to_crs(4326) if settlements.crs is not None else settlements.set_crs(4326)
        own = gpd.GeoSeries(np.concatenate([towns.geometry.to_numpy(), centres.geometry.to_numpy()]), crs=4326)
        page.labels.extend(_settlement_labels(s, own, crs))
    return page


def _finish(page: _Page) -> folium.Map:
    """Add place names, search, legend and the layer control (in this order: the last on top)."""
    # Priority: centres and towns first, then regions, then settlements by size, then districts.
    order = {"centre": 0, "town": 1, "region": 2, "settle1": 3, "settle2": 4, "settle3": 5, "district": 6}
    labels = sorted(page.labels, key=lambda c: order[c[4]])  # stable: sizes stay in order within a class
    page.m.add_child(_Call("setLabels", labels))
    page.m.add_child(_Call("placeList", page.places))
    if page.notes:
        for note in page.notes:
            page.m.add_child(_Call("note", note))
    page.m.add_child(_Call("legend", "".join(page.legend)))
    if page.fit is not None:
        page.m.add_child(_Call("fit", page.fit))
    page.m.add_child(_Call("ready"))
    return page.m


def _esc_list(values: Sequence[Any]) -> str:
    return ", ".join(escape_value(v) for v in values)
