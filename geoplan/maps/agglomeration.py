"""The agglomeration map: towns by category, growth centres, catchment bands, the travel-time surface."""

from __future__ import annotations

import html

import folium
import geopandas as gpd

from geoplan._html import escape_value, format_int, row_value
from geoplan._results import check_result
from geoplan._style import CENTRE_COLOUR, OSM_ATTRIBUTION_HTML, SURFACE_CMAP, band_colours
from geoplan.maps.assets import _PathLike
from geoplan.maps.basemap import (
    MapContext,
    _centre_radius,
    _finish,
    _legend_categories,
    _legend_centres,
    _max_population,
    _Page,
    _prepare,
    _roads_layer,
    _town_features,
)
from geoplan.maps.elements import _Call, _DataLayer
from geoplan.maps.overlay import _surface_overlay
from geoplan.maps.popups import _centre_popup, _table
from geoplan.maps.web import _features, _records, _simplified
from geoplan.settings import CATCHMENT_BANDS, MAP_SIMPLIFY_M

__all__ = ["agglomeration_map", "surface_legend"]


def surface_legend(breaks: list[float], colours: list[str], *, clipped: bool) -> str:
    """Legend HTML of the surface classes: one box per class, ticks at the breaks.

    Parameters
    ----------
    breaks
        Class breaks in minutes (the catchment bands among them).
    colours
        One colour per class (``len(breaks) + 1``).
    clipped
        Times beyond the last break exist.

    Returns
    -------
    str
        HTML.
    """
    n = len(colours)
    stops = ",".join(f"{c} {100 * i / n:.2f}% {100 * (i + 1) / n:.2f}%" for i, c in enumerate(colours))
    spans = "".join(f'<span style="left:{100 * (i + 1) / n:.2f}%">{b:g}</span>' for i, b in enumerate(breaks))
    return (f'<h5>Travel time to nearest centre (minutes)</h5><div class="gp-ramp" style="background:'
            f'linear-gradient(to right,{stops})"></div><div class="gp-ticks">{spans}</div>'
            '<div class="gp-note">Ticks at the catchment bands, then longer steps'
            + ("; the last colour is anything longer" if clipped else "")
            + ". Point at the map to read the time there.</div>")


def agglomeration_map(
    towns: gpd.GeoDataFrame,
    centres: gpd.GeoDataFrame,
    catchments: gpd.GeoDataFrame | None,
    *,
    surface: _PathLike | None = None,
    roads: gpd.GeoDataFrame | None = None,
    boundaries: gpd.GeoDataFrame | None = None,
    settlements: gpd.GeoDataFrame | None = None,
    context: MapContext | None = None,
    tiles: bool = True,
    assets_url: str | None = None,
    title: str = "Monotowns, growth centres and catchments",
    simplify_m: float = MAP_SIMPLIFY_M,
    surface_max_minutes: float | None = None,
    surface_max_px: int = 1024,
) -> folium.Map:
    """Interactive map of agglomeration candidates: towns by category, centres, catchment bands.

    The page is self-contained (Leaflet inlined, nothing fetched): a base map from
    ``boundaries``, place names by size and zoom without collisions, search, a town list, a
    catchment picker (one band at a time, or one centre's bands), the surface with its value
    under the cursor, a title bar with the scenario and a methods panel.

    Parameters
    ----------
    towns
        Towns result (see the results schema): points with ``id``, ``name_en``, ``category``
        and, when present, the travel time and distance to the nearest centre, ``reasons``,
        ``score``/``rank``/``group``/``fragile``/``borderline`` and the towns layer's facts, all
        shown in each town's popup.
    centres
        Centres result or layer; circles sized by ``population``. A centre that is also a town
        (same id) is drawn once, as the town with the centre's ring.
    catchments
        Catchment bands (``centre``, ``band`` in minutes, polygons), or ``None``.
    surface
        Optional single-band GeoTIFF of travel minutes in any CRS, drawn under everything.
    roads
        Optional roads layer, styled by class (planned roads dashed).
    boundaries
        Optional boundaries layer with ``level`` (0 country, 1 region, 2 district) and names;
        without it the map says so and still works.
    settlements
        Optional settlements layer (points, ``population``, names) for place names.
    context
        Scenario, run date and model facts for the title bar and the methods panel.
    tiles
        Offer OpenStreetMap web tiles as an optional layer (off by default; switched off by the
        page when unreachable).
    assets_url
        Folder or URL holding ``leaflet.js`` and ``leaflet.css`` to link instead of inlining
        Leaflet (default: inlined, works offline).
    title
        Page title.
    simplify_m
        Tolerance in metres for simplifying catchments, and half of it for roads.
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
    page = _prepare(towns, centres, roads, tiles=tiles, assets_url=assets_url, title=title,
                    boundaries=boundaries, settlements=settlements, context=context)
    ctx = page.context
    page.legend.append(_legend_categories(page.towns, bool(page.both)))
    bands = sorted({int(b) for b in catchments["band"]}) if len(catchments) else [int(b) for b in ctx.bands]
    if surface is not None:
        _add_surface(page, surface, bands=bands or list(CATCHMENT_BANDS), max_px=surface_max_px,
                     vmax=surface_max_minutes)
    if len(catchments):
        _add_catchments(page, catchments, bands, simplify_m=simplify_m)
    if page.roads is not None and len(page.roads):
        layers, legend = _roads_layer(page.roads, page.crs, simplify_m / 2, ctx.planned_roads, page.extent)
        for layer in layers:
            page.m.add_child(layer)
        page.legend.append(legend)
    _add_centres(page)
    page.legend.append(_legend_centres("size = population"))
    page.m.add_child(_DataLayer("towns", "Monotowns", _town_features(
        page.towns, page.names, {}, centres=page.centres, profiles_url=ctx.profiles_url), front=True))
    page.legend.insert(0, f"<h4>{html.escape(title)}</h4>")
    return _finish(page)


def _add_surface(page: _Page, surface: _PathLike, *, bands: list[int], max_px: int, vmax: float | None) -> None:
    """Add the travel-time surface under everything, its value under the cursor and its legend."""
    s = _surface_overlay(surface, max_px=max_px, vmax=vmax, cmap=SURFACE_CMAP, bands=bands)
    page.m.add_child(_Call("image", "surface", s.url, s.bounds,
                           {"name": "Travel time surface", "opacity": 0.6, "attribution": OSM_ATTRIBUTION_HTML}))
    page.m.add_child(_Call("surfaceProbe", "surface", {"values": s.values_url, "bounds": s.bounds, "step": s.step}))
    page.legend.append(surface_legend(s.breaks, s.colours, clipped=s.clipped))


def _add_catchments(page: _Page, catchments: gpd.GeoDataFrame, bands: list[int], *, simplify_m: float) -> None:
    """Add the catchment bands (widest first), the band/centre picker and their legend."""
    names, ctx = page.names, page.context
    colours = band_colours(catchments["band"].to_numpy())
    order = catchments.sort_values(["band", "centre"], ascending=[False, True], kind="mergesort")
    geoms = _simplified(order.geometry.to_numpy(), simplify_m, page.crs)
    town_names = dict(zip(page.towns["id"].astype(str), page.towns["name_en"].astype(str), strict=True))
    props = []
    for row in _records(order):
        band = int(row["band"])
        cname = row_value(row, "centre_name") or names.get(str(row["centre"]), row["centre"])
        listed = [t.strip() for t in str(row_value(row, "towns") or "").split(",") if t.strip()]
        rows = [
            ("Travel time", f"≤ {band} min by road"),
            ("Area", f"{float(row['area_km2']):,.0f} km²" if row_value(row, "area_km2") is not None else ""),
            ("Population", format_int(row.get("population")) if row_value(row, "population") is not None else ""),
            ("Settlements", format_int(row.get("settlements")) if row_value(row, "settlements") is not None else ""),
            ("Monotowns", ", ".join(escape_value(town_names.get(t, t)) for t in listed)),
        ]
        props.append({
            "centre": str(row["centre"]),
            "band": band,
            "style": {"color": colours[band], "weight": 1.6, "opacity": 0.95, "fillColor": colours[band],
                      "fillOpacity": 0.14},
            "popup": (f'<div class="gp-popup"><h4>{escape_value(cname)}</h4><div class="gp-sub">catchment</div>'
                      f"{_table(rows)}</div>"),
            "tooltip": f"{escape_value(cname)} · ≤ {band} min",
        })
    page.m.add_child(_DataLayer("catchments", "Catchments", _features(geoms, iter(props)),
                                attribution=OSM_ATTRIBUTION_HTML))
    default = int(ctx.agglomeration_minutes) if ctx.agglomeration_minutes in bands else bands[len(bands) // 2]
    with_bands = sorted({str(c) for c in catchments["centre"]})
    pick = [[c, names.get(c, c)] for c in sorted(with_bands, key=lambda c: names.get(c, c))]
    page.m.add_child(_Call("catchmentPicker", "catchments", bands, pick, default))
    swatches = "".join(f'<div class="gp-row"><span class="gp-sw" style="border-color:{c};border-width:2px;'
                       f'background:{c}33"></span>≤ {b} min by road</div>' for b, c in sorted(colours.items()))
    page.legend.append(f"<h5>Catchments</h5>{swatches}<div class=\"gp-note\">One band at a time: pick the "
                       "band or a centre's bands at the top right.</div>")


def _add_centres(page: _Page) -> None:
    """Add the growth centres that are not towns: white circles, area proportional to population."""
    max_pop = _max_population(page.centres)
    only = page.centres[~page.centres["id"].astype(str).isin(page.both)]
    geoms = _simplified(only.geometry.to_numpy(), 0, None)
    props = []
    for row in _records(only):
        pop = format_int(row.get("population"))
        props.append({
            "id": str(row["id"]),
            "style": {"radius": _centre_radius(row.get("population"), max_pop), "color": CENTRE_COLOUR, "weight": 2,
                      "fillColor": "#FFFFFF", "fillOpacity": 0.55},
            "popup": _centre_popup(row, capacity=False),
            "tooltip": f"<b>{escape_value(row['name_en'])}</b><br>growth centre" + (f" · {pop}" if pop else ""),
        })
    page.m.add_child(_DataLayer("centres", "Growth centres", _features(geoms, iter(props)), front=True))
