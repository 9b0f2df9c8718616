"""Analysis results in the results schema, built from the real embedded Kazakhstan layers.

Maps and exports are tested before the analysis modules exist, so this builds plausible results
independently of geoplan's own analysis: road travel times by Dijkstra on the roads layer with
networkx (the roads' ``from_node``/``to_node`` are the towns' and centres' ids), a simple rule
for the category, catchments as buffers of the roads reachable within each band, flows along
the fastest road route. When the pipeline lands, the fixtures can switch to its output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

import geoplan
from geoplan.layers import metric_crs

SPEED_KPH = {"motorway": 100.0, "trunk": 80.0, "primary": 70.0, "secondary": 60.0}
BANDS = (30, 60, 90, 120)


@dataclass
class Results:
    towns: gpd.GeoDataFrame
    centres: gpd.GeoDataFrame
    catchments: gpd.GeoDataFrame
    flows: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame


def _graph(roads: gpd.GeoDataFrame, crs) -> nx.Graph:
    metric_len = roads.to_crs(crs).length.to_numpy() / 1000
    g = nx.Graph()
    for row, line_km in zip(roads.itertuples(index=False), metric_len, strict=True):
        km = float(row.length_km) if pd.notna(row.length_km) else float(line_km)
        minutes = km / SPEED_KPH.get(row.road_class, 50.0) * 60
        u, v = row.from_node, row.to_node
        if g.has_edge(u, v) and g[u][v]["minutes"] <= minutes:
            continue
        g.add_edge(u, v, minutes=minutes, km=km, geometry=row.geometry, start=u, road=row.id)
    return g


def _route(g: nx.Graph, path: list[str]) -> shapely.LineString:
    coords: list[tuple[float, float]] = []
    for a, b in pairwise(path):
        e = g[a][b]
        pts = list(e["geometry"].coords)
        if e["start"] != a:
            pts.reverse()
        coords.extend(pts if not coords else pts[1:])
    return shapely.LineString(coords)


def build_results(layers: geoplan.LayerSet, *, relocation_share: float = 0.1) -> Results:
    towns_l = layers.towns.copy()
    centres_l = layers.centres.copy()
    roads = layers.roads.copy()
    crs = metric_crs(tuple(roads.total_bounds))
    g = _graph(roads, crs)
    centre_ids = centres_l["id"].tolist()
    cname = dict(zip(centres_l["id"], centres_l["name_en"], strict=True))
    cpop = dict(zip(centres_l["id"], centres_l["population"], strict=True))
    dist: dict[str, dict[str, float]] = {}
    paths: dict[str, dict[str, list[str]]] = {}
    for cid in centre_ids:
        dist[cid], paths[cid] = nx.single_source_dijkstra(g, cid, weight="minutes")

    rows = []
    for t in towns_l.itertuples(index=False):
        options = [(dist[c].get(t.id, math.inf), c) for c in centre_ids if c != t.id]
        minutes, nearest = min(options)
        path = paths[nearest][t.id][::-1]  # town -> centre
        km = sum(g[a][b]["km"] for a, b in pairwise(path))
        access = sum(cpop[c] * math.exp(-dist[c].get(t.id, math.inf) / 60) for c in centre_ids if c != t.id)
        growth = ((t.population / t.population_2009) ** (1 / (t.population_year - 2009)) - 1) * 100 \
            if pd.notna(t.population_2009) and t.population_year > 2009 else math.nan
        if minutes <= 90:
            cat = "agglomeration"
            why = f"{cname[nearest]} is {minutes:.0f} minutes away by road."
        elif t.resource_status in ("depleted", "declining") or t.enterprise_status == "closed":
            cat = "relocation"
            why = (f"Resource base {t.resource_status}, enterprise {t.enterprise_status}, "
                   f"{minutes:.0f} minutes to a centre.")
        elif growth < 0:
            cat = "diversification"
            why = f"Population falling by {abs(growth):.1f} % a year, far from a centre."
        else:
            cat = "monitor"
            why = "Stable resource base and population; no action yet."
        rows.append({
            "id": t.id, "nearest_centre": nearest, "nearest_centre_name": cname[nearest], "minutes": minutes,
            "km": km, "snap_km": 0.0, "accessibility": access, "growth_pct_per_year": growth, "category": cat,
            "reasons": why, "destination": nearest if cat == "relocation" else None, "route_nodes": path,
        })
    extra = pd.DataFrame(rows)
    towns = towns_l.merge(extra.drop(columns="route_nodes"), on="id", how="left")
    towns = towns.sort_values("id").reset_index(drop=True)

    flow_rows = []
    for r in extra[extra["category"] == "relocation"].itertuples(index=False):
        pop = int(towns_l.loc[towns_l["id"] == r.id, "population"].iloc[0])
        flow_rows.append({
            "origin": r.id, "origin_name": towns_l.loc[towns_l["id"] == r.id, "name_en"].iloc[0],
            "destination": r.destination, "destination_name": cname[r.destination],
            "people": round(pop * relocation_share), "minutes": r.minutes, "km": r.km,
            "geometry": _route(g, r.route_nodes),
        })
    flows = gpd.GeoDataFrame(flow_rows, geometry="geometry", crs=4326) if flow_rows else \
        gpd.GeoDataFrame(columns=["origin", "origin_name", "destination", "destination_name", "people", "minutes",
                                  "km", "geometry"], geometry="geometry", crs=4326)
    flows = flows.sort_values(["origin", "destination"]).reset_index(drop=True)

    allocated = flows.groupby("destination")["people"].sum() if len(flows) else pd.Series(dtype=int)
    centres = centres_l.copy()
    centres["capacity"] = (centres["population"] * 0.05).round().astype(int)
    centres["allocated"] = centres["id"].map(allocated).fillna(0).astype(int)
    centres["capacity_used"] = centres["allocated"] / centres["capacity"]
    centres = centres.sort_values("id").reset_index(drop=True)

    # Catchments: road segments reachable within the band, buffered, plus a disk at the centre.
    seg = roads.to_crs(crs)
    towns_m = towns.to_crs(crs)
    cat_rows = []
    for cid in centre_ids:
        centre_pt = centres_l.loc[centres_l["id"] == cid].to_crs(crs).geometry.iloc[0]
        for band in BANDS:
            ok = seg["from_node"].map(lambda n, c=cid, b=band: dist[c].get(n, math.inf) <= b) & \
                seg["to_node"].map(lambda n, c=cid, b=band: dist[c].get(n, math.inf) <= b)
            parts = [centre_pt.buffer(band / 60 * 15_000, quad_segs=32)]
            parts += list(seg.geometry[ok].buffer(10_000, quad_segs=32))
            poly = shapely.union_all(parts)
            inside = towns_m[towns_m.within(poly)]
            cat_rows.append({
                "centre": cid, "centre_name": cname[cid], "band": band, "area_km2": poly.area / 1e6,
                "towns": ", ".join(sorted(inside["id"])), "population": int(inside["population"].sum()),
                "geometry": poly,
            })
    catchments = gpd.GeoDataFrame(cat_rows, geometry="geometry", crs=crs).to_crs(4326)
    catchments = catchments.sort_values(["centre", "band"]).reset_index(drop=True)
    return Results(towns, centres, catchments, flows, roads)


def xss_name() -> str:
    return '<img src=x onerror="window.__xss=1">'


def with_hostile_text(res: Results) -> Results:
    """A copy whose first town carries an HTML payload, quotes and Kazakh/Russian text."""
    towns = res.towns.copy()
    towns.loc[0, "name_en"] = xss_name()
    towns.loc[0, "reasons"] = 'Said "no" & <b>left</b>; Қарағанды облысы — Карагандинская область'
    return Results(towns, res.centres, res.catchments, res.flows, res.roads)


def vertex_count(geoms: gpd.GeoSeries) -> int:
    return int(shapely.get_num_coordinates(np.asarray(geoms.to_numpy())).sum())
