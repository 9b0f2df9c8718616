"""The relocation map: flows along their road routes, destinations' capacity used."""

from __future__ import annotations

import html
import math

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from geoplan._results import check_result
from geoplan._style import (
    CAPACITY_CMAP,
    CENTRE_COLOUR,
    FLOW_COLOUR,
    OSM_ATTRIBUTION_HTML,
    OSM_ATTRIBUTION_TEXT,
    ramp_hex,
)
from geoplan.maps.basemap import (
    _centre_radius,
    _features,
    _flow_width,
    _legend_categories,
    _prepare,
    _records,
    _roads_layer,
    _simplified,
    _town_features,
)
from geoplan.maps.elements import _DataLayer, _Legend
from geoplan.maps.popups import _centre_popup, _esc, _int, _minutes, _row_get, _table


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



