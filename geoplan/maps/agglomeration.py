"""The agglomeration map: towns by category, centres, catchment bands, the surface."""

from __future__ import annotations

import html

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from geoplan._results import check_result
from geoplan._style import (
    CENTRE_COLOUR,
    OSM_ATTRIBUTION_HTML,
    OSM_ATTRIBUTION_TEXT,
    SURFACE_CMAP,
    band_colours,
    ramp_hex,
)
from geoplan.maps.assets import _PathLike
from geoplan.maps.basemap import (
    _centre_radius,
    _features,
    _legend_categories,
    _legend_centres,
    _prepare,
    _records,
    _roads_layer,
    _simplified,
    _surface_overlay,
    _town_features,
)
from geoplan.maps.elements import _DataLayer, _Legend
from geoplan.maps.popups import _centre_popup, _esc, _int, _row_get, _table


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



