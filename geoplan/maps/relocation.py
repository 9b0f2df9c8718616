"""The relocation map: flows as curved arrows scaled by people, destinations' capacity used."""

from __future__ import annotations

import html
import math
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from geoplan._html import escape_value, format_int, format_minutes, row_value
from geoplan._results import check_result
from geoplan._style import CAPACITY_CMAP, CENTRE_COLOUR, FLOW_COLOUR, ramp_hex
from geoplan.maps.assets import _MAP_PRECISION
from geoplan.maps.basemap import (
    MapContext,
    _centre_radius,
    _finish,
    _legend_categories,
    _Page,
    _prepare,
    _roads_layer,
    _town_features,
)
from geoplan.maps.elements import _DataLayer
from geoplan.maps.popups import _centre_popup, _table
from geoplan.maps.web import _features, _records, _simplified
from geoplan.settings import MAP_SIMPLIFY_M

__all__ = ["curved_flow", "relocation_map"]

_TO_M = Transformer.from_crs(4326, 3857, always_xy=True)
_TO_LL = Transformer.from_crs(3857, 4326, always_xy=True)


def _flow_width(people: float, max_people: float, max_width_px: float) -> float:
    """Line width in pixels proportional to people (2 px for none, ``max_width_px`` for the largest)."""
    return 2.0 + (max_width_px - 2.0) * (people / max_people if max_people > 0 else 0.0)


def curved_flow(start: tuple[float, float], end: tuple[float, float], *, bend: float = 0.18,
                n: int = 33) -> tuple[shapely.LineString, float]:
    """Bend a flow line from ``start`` to ``end`` (lon/lat) to its left; give its arrival angle.

    The curve is a quadratic Bézier in Web Mercator whose control point lies ``bend`` times the
    straight length to the left of the midpoint, so two opposite flows do not overlap.

    Parameters
    ----------
    start, end
        Origin and destination, lon/lat.
    bend
        Offset of the control point as a share of the straight length.
    n
        Number of points on the curve.

    Returns
    -------
    tuple of (shapely.LineString, float)
        The curve (lon/lat, rounded) and the direction of arrival in screen degrees (clockwise
        from east, y down), the same at every zoom since Web Mercator is conformal.

    Examples
    --------
    >>> line, angle = curved_flow((70.0, 50.0), (71.0, 50.0))
    >>> line.coords[0], line.coords[-1]
    ((70.0, 50.0), (71.0, 50.0))
    >>> round(angle)  # arrives heading east-south-east: it bent to the north (left) first
    20
    """
    (x0, x1), (y0, y1) = _TO_M.transform([start[0], end[0]], [start[1], end[1]])
    dx, dy = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2 - bend * dy, (y0 + y1) / 2 + bend * dx
    t = np.linspace(0.0, 1.0, n)
    xs = (1 - t) ** 2 * x0 + 2 * (1 - t) * t * cx + t**2 * x1
    ys = (1 - t) ** 2 * y0 + 2 * (1 - t) * t * cy + t**2 * y1
    lon, lat = _TO_LL.transform(xs, ys)
    coords = np.round(np.column_stack([lon, lat]), _MAP_PRECISION)
    coords[0], coords[-1] = np.round(start, _MAP_PRECISION), np.round(end, _MAP_PRECISION)
    tx, ty = x1 - cx, y1 - cy  # tangent at the end
    angle = math.degrees(math.atan2(-ty, tx)) if (tx or ty) else 0.0
    return shapely.LineString(coords), round(angle, 1)


def relocation_map(
    towns: gpd.GeoDataFrame,
    centres: gpd.GeoDataFrame,
    flows: gpd.GeoDataFrame | None,
    *,
    roads: gpd.GeoDataFrame | None = None,
    boundaries: gpd.GeoDataFrame | None = None,
    settlements: gpd.GeoDataFrame | None = None,
    context: MapContext | None = None,
    tiles: bool = True,
    assets_url: str | None = None,
    title: str = "Relocation flows and destination capacity",
    simplify_m: float = MAP_SIMPLIFY_M / 2,
    max_width_px: float = 14.0,
) -> folium.Map:
    """Interactive map of relocation: flows as curved arrows, destinations' capacity used.

    Parameters
    ----------
    towns
        Towns result; relocation towns are drawn larger.
    centres
        Centres result with ``capacity``, ``allocated`` and ``capacity_used`` (0..1); circles
        sized by capacity (population when there is no capacity) and shaded by capacity used.
    flows
        Flows result (``origin``, ``destination``, ``people``, road-route lines), or ``None``.
        Each flow is drawn as a curved arrow from its origin to its destination whose width is
        proportional to people; the popup gives the road route's minutes and km.
    roads
        Optional roads layer for context.
    boundaries, settlements, context, tiles, assets_url, title
        As in :func:`geoplan.maps.agglomeration_map`.
    simplify_m
        Tolerance in metres for simplifying road lines.
    max_width_px
        Width of the largest flow in pixels.

    Returns
    -------
    folium.Map

    """
    if simplify_m < 0 or max_width_px < 2:
        raise ValueError(f"Invalid value: simplify_m needs to be >= 0 (got {simplify_m}), "
                         f"max_width_px >= 2 (got {max_width_px})")
    flows = check_result(flows, "flows")
    page = _prepare(towns, centres, roads, tiles=tiles, assets_url=assets_url, title=title,
                    boundaries=boundaries, settlements=settlements, context=context)
    towns, centres, ctx = page.towns, page.centres, page.context
    if page.roads is not None and len(page.roads):
        layers, road_legend = _roads_layer(page.roads, page.crs, simplify_m, ctx.planned_roads, page.extent)
        for layer in layers:
            page.m.add_child(layer)
    else:
        road_legend = ""
    has_cap = "capacity" in centres.columns
    radius = _destination_radii(centres, "capacity" if has_cap else "population")
    flows_out, legend_flows = _add_flows(page, flows, radius, max_width_px=max_width_px)
    _add_destinations(page, radius)
    stops = ",".join(ramp_hex(CAPACITY_CMAP, np.linspace(0, 1, 6), vmin=-0.15, vmax=1.0))
    page.m.add_child(_DataLayer("towns", "Monotowns", _town_features(
        towns, page.names, flows_out, centres=centres, emphasise="relocation", profiles_url=ctx.profiles_url,
        capacity=True), front=True))
    page.legend += [
        f"<h4>{html.escape(title)}</h4>",
        legend_flows,
        f'<h5>Destinations</h5><div class="gp-note">size = {"capacity" if has_cap else "population"}; '
        f'shade = capacity used</div><div class="gp-ramp" style="background:linear-gradient(to right,{stops})">'
        '</div><div class="gp-ends"><span>0 %</span><span>100 %</span></div>',
        _legend_categories(towns, bool(page.both)),
        road_legend,
    ]
    return _finish(page)


def _destination_radii(centres: gpd.GeoDataFrame, size_col: str) -> dict[str, float]:
    """Pixel radius of each centre by id, its area proportional to ``size_col`` (capacity or population)."""
    size = (pd.to_numeric(centres[size_col], errors="coerce") if size_col in centres
            else pd.Series(np.nan, index=centres.index))
    max_size = float(size.max()) if len(size) and size.notna().any() else 0.0
    return {str(i): _centre_radius(s, max_size) for i, s in zip(centres["id"], size, strict=True)}


def _add_flows(page: _Page, flows: gpd.GeoDataFrame, radius: dict[str, float], *,
               max_width_px: float) -> tuple[dict[str, list[tuple[str, int]]], str]:
    """Add the flows as curved arrows, thickest first; return the flows out of each town and the legend."""
    town_names = dict(zip(page.towns["id"].astype(str), page.towns["name_en"].astype(str), strict=True))
    flows_out: dict[str, list[tuple[str, int]]] = {}
    people = pd.to_numeric(flows["people"], errors="coerce").fillna(0).to_numpy(dtype=float)
    max_people = float(people.max()) if len(people) else 0.0
    if not len(flows):
        page.m.add_child(_DataLayer("flows", "Relocation flows", []))
        return flows_out, '<h5>Relocation flows</h5><div class="gp-note">No relocation flows in this result.</div>'
    order = np.argsort(-people, kind="mergesort")  # thick lines first, thin ones stay clickable on top
    ordered = flows.iloc[order]
    geoms = []
    props = []
    for row, n, line in zip(_records(ordered), people[order], ordered.geometry.to_numpy(), strict=True):
        oname = row_value(row, "origin_name") or town_names.get(str(row["origin"]), row["origin"])
        dname = row_value(row, "destination_name") or page.names.get(str(row["destination"]), row["destination"])
        flows_out.setdefault(str(row["origin"]), []).append((str(dname), int(n)))
        width = _flow_width(n, max_people, max_width_px)
        coords = shapely.get_coordinates(line)
        curve, angle = curved_flow(tuple(coords[0]), tuple(coords[-1]))
        geoms.append(curve)
        rows = [
            ("People", format_int(n)),
            ("Travel time", html.escape(format_minutes(row.get("minutes"))) if "minutes" in row else ""),
            ("Road distance", f"{float(row['km']):.0f} km" if row_value(row, "km") is not None else ""),
        ]
        arrow: dict[str, Any] = {"angle": angle, "size": round(max(9.0, 1.6 * width + 4), 1),
                                 "gap": round(radius.get(str(row["destination"]), 5.0) + 1.5, 1),
                                 "colour": FLOW_COLOUR}
        props.append({
            "id": str(row.get("id", f"{row['origin']}-{row['destination']}")),
            "style": {"color": FLOW_COLOUR, "weight": round(width, 2), "opacity": 0.8, "lineCap": "butt"},
            "arrow": arrow,
            "popup": (f'<div class="gp-popup"><h4>{escape_value(oname)} → {escape_value(dname)}</h4>{_table(rows)}'
                      '<div class="gp-note">Drawn as a curve from town to destination; minutes and km are '
                      "along the fastest road route.</div></div>"),
            "tooltip": f"{escape_value(oname)} → {escape_value(dname)}: {format_int(n)} people",
        })
    page.m.add_child(_DataLayer("flows", "Relocation flows", _features(np.array(geoms, dtype=object), iter(props)),
                                arrows=True))
    samples = sorted({max_people, max_people / 2, max_people / 4}, reverse=True)
    lines_html = "".join(
        f'<div class="gp-row"><span class="gp-line" style="height:{_flow_width(s, max_people, max_width_px):.1f}px;'
        f'background:{FLOW_COLOUR}"></span>{format_int(s)} people</div>' for s in samples)
    return flows_out, f"<h5>Relocation flows (arrow to destination)</h5>{lines_html}"


def _add_destinations(page: _Page, radius: dict[str, float]) -> None:
    """Add the centres that are not towns, sized by ``radius`` and shaded by the capacity used."""
    centres = page.centres
    used = (pd.to_numeric(centres["capacity_used"], errors="coerce").to_numpy(dtype=float)
            if "capacity_used" in centres else np.full(len(centres), np.nan))
    fills = ramp_hex(CAPACITY_CMAP, np.nan_to_num(used, nan=0.0), vmin=-0.15, vmax=1.0)
    keep = ~centres["id"].astype(str).isin(page.both).to_numpy()
    geoms = _simplified(centres.geometry.to_numpy()[keep], 0, None)
    props = []
    for row, u, fill in zip(_records(centres[keep]), used[keep], np.asarray(fills, dtype=object)[keep], strict=True):
        tip = (f"<b>{escape_value(row['name_en'])}</b>"
               + (f"<br>{100 * u:.0f} % of capacity used" if math.isfinite(u) else ""))
        props.append({
            "id": str(row["id"]),
            "style": {"radius": radius[str(row["id"])], "color": CENTRE_COLOUR, "weight": 2, "fillColor": fill,
                      "fillOpacity": 0.85},
            "popup": _centre_popup(row, capacity=True),
            "tooltip": tip,
        })
    page.m.add_child(_DataLayer("centres", "Destinations", _features(geoms, iter(props)), front=True))
