"""Attaching places (towns, centres) to a network by projecting them onto the nearest edge."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops
from pyproj import Transformer

from geoplan._errors import NetworkError
from geoplan.network.graph import RoadNetwork, _listed
from geoplan.settings import ACCESS_KPH, MAX_SNAP_KM

# --------------------------------------------------------------------------------------
# attaching places


def _place_points(places: gpd.GeoDataFrame, id_column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check places; return their ids (first occurrence of each), EPSG:4326 points and missing-point mask.

    Raises
    ------
    NetworkError
        For places without CRS, id column or id, and geometries that are not points.
    """
    if places.crs is None:
        raise NetworkError("places have no CRS", fix="assign EPSG:4326 (or the CRS of their coordinates)")
    if id_column not in places.columns:
        raise NetworkError(f"places have no '{id_column}' column", fix=f"add an '{id_column}' column with unique ids")
    no_id = places[id_column].isna() | (places[id_column].astype(str).str.strip() == "")
    if no_id.any():
        rows = _listed(np.flatnonzero(no_id.to_numpy()))
        raise NetworkError(f"{int(no_id.sum())} place(s) without an id (rows {rows})",
                           fix=f"fill in '{id_column}' for every place")
    places = places.drop_duplicates(subset=id_column, keep="first").reset_index(drop=True)
    ids_all = places[id_column].astype(str).to_numpy(dtype=object)
    geoms_all = places.to_crs(4326).geometry.to_numpy()
    absent = shapely.is_missing(geoms_all) | shapely.is_empty(geoms_all)
    not_point = ~absent & (shapely.get_type_id(geoms_all) != 0)
    if not_point.any():
        raise NetworkError(f"places that are not points: {_listed(ids_all[not_point])}",
                           fix="give each place a Point geometry (its centre)")
    return ids_all, geoms_all, absent


def _attached_before(net: RoadNetwork, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the place ids handled by an earlier call: attached, and left isolated (too far).

    Both keep what they have; adding them again would duplicate their node labels.
    """
    existing = set(net.edge_road[net.edge_class == "access"].tolist())
    attached = np.array([f"access:{i}" in existing for i in ids], dtype=bool)
    degree = np.bincount(np.r_[net.edge_u, net.edge_v], minlength=net.n_nodes)
    isolated_labels = set(net.node_id[degree == 0].astype(str).tolist())
    isolated = np.array([str(i) in isolated_labels for i in ids], dtype=bool) & ~attached
    return attached, isolated


def _yield_labels(node_id: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Node labels with every label that is also a place id renamed ``node:<id>``.

    Schematic networks name their nodes after places (a road junction or a station ``ekibastuz``);
    the place node being attached takes over the plain id.
    """
    node_id = node_id.copy()
    clash = pd.Series(node_id, dtype=object).isin(set(ids.tolist())).to_numpy()  # hashed: fast on big networks
    node_id[clash] = np.array([f"node:{v}" for v in node_id[clash]], dtype=object)
    return node_id


def attach_places(
    net: RoadNetwork,
    places: gpd.GeoDataFrame,
    *,
    access_kph: float = ACCESS_KPH,
    max_snap_km: float = MAX_SNAP_KM,
    id_column: str = "id",
) -> tuple[RoadNetwork, pd.DataFrame]:
    """Connect points (towns, centres) to the network at their nearest edge.

    Each place is projected onto the nearest road edge (not the nearest node); that edge and
    its reverse twin are split at the projection, and a node labelled with the place's id is
    joined to the split point by an access leg at ``access_kph`` in both directions. Several
    places on one edge are chained along it in order. A place farther than ``max_snap_km``
    from every edge (or without a geometry) is added as an isolated node and reported with
    ``snapped=False``, so travel times to and from it are "unreachable" rather than wrong.

    A place id that already labels a road node (schematic networks name junctions after
    towns) takes over the label; the road node is renamed ``node:<id>``. A place id that is
    already attached (from an earlier call) is kept as it is.

    Parameters
    ----------
    net
        The network from :func:`build_network`.
    places
        Points with an ``id`` column (several layers can be concatenated; duplicate ids are
        attached once, the first occurrence wins).
    access_kph
        Speed on the access leg (off the road network: local streets, tracks).
    max_snap_km
        Places farther than this from any road are flagged, not attached.
    id_column
        The column holding the place ids.

    Returns
    -------
    network, report
        The network with the places as nodes, and one row per place: ``id``, ``road`` (the
        road snapped to), ``snap_km``, ``access_minutes``, ``snapped``.

    Raises
    ------
    NetworkError
        For non-positive ``access_kph``, places without CRS or id column, or geometries that
        are not points.
    """
    if not (access_kph > 0 and max_snap_km >= 0):
        raise NetworkError(f"access_kph ({access_kph}) must be > 0 and max_snap_km ({max_snap_km}) >= 0",
                           fix="use positive values")
    ids_all, geoms_all, absent = _place_points(places, id_column)
    attached_before, isolated_before = _attached_before(net, ids_all)
    new = ~(attached_before | isolated_before)
    ids = ids_all[new]
    geoms = geoms_all[new]
    absent_new = absent[new]

    place_x = np.where(absent_new, np.nan, shapely.get_x(geoms))
    place_y = np.where(absent_new, np.nan, shapely.get_y(geoms))
    edge_of, dist_m = _nearest_edges(net, place_x, place_y, max_snap_km * 1000.0)
    snapped = edge_of >= 0
    report = _snap_report(net, ids_all, new, attached_before, edge_of, dist_m, access_kph)

    grow = _Growth(list(_yield_labels(net.node_id, ids)), list(net.node_x), list(net.node_y),
                   np.ones(net.n_edges, bool))
    groups, twin = _edge_groups(net, edge_of, snapped)
    to_m = Transformer.from_crs(4326, net.metric_crs, always_xy=True)
    inv = Transformer.from_crs(net.metric_crs, 4326, always_xy=True)
    canon = np.array(sorted(groups), dtype=np.int64)
    lines_m = shapely.transform(
        net.edge_geometry[canon], lambda xy: np.column_stack(to_m.transform(xy[:, 0], xy[:, 1])))
    pts_m = np.asarray(shapely.points(np.column_stack(to_m.transform(place_x, place_y))))
    places_m = _Places(ids, place_x, place_y, pts_m, dist_m, access_kph)
    for e, line in zip(canon.tolist(), lines_m, strict=True):
        chain, cuts = _place_along_edge(net, grow, e, line, groups[e], places_m, inv)
        if len(chain) > 1:  # else every place sat on an end node: nothing to split
            _split_edge(net, grow, e, twin[e], line, chain, cuts, inv)

    # Unsnapped places become isolated nodes: routing to them gives "unreachable", not an error.
    for i in np.flatnonzero(~snapped):
        grow.add_node(ids[i], float(place_x[i]), float(place_y[i]))
    return grow.network(net), report


def _snap_report(net: RoadNetwork, ids_all: np.ndarray, new: np.ndarray, attached_before: np.ndarray,
                 edge_of: np.ndarray, dist_m: np.ndarray, access_kph: float) -> pd.DataFrame:
    """One row per place: ``id``, ``road``, ``snap_km``, ``access_minutes``, ``snapped``."""
    snapped = edge_of >= 0
    report = pd.DataFrame({
        "id": ids_all,
        "road": None,
        "snap_km": np.nan,
        "access_minutes": np.nan,
        "snapped": attached_before.copy(),
    })
    rows_new = np.flatnonzero(new)
    road_of = net.edge_road[np.maximum(edge_of, 0)].astype(object)
    road_of[~snapped] = None
    report.loc[rows_new, "road"] = road_of
    report.loc[rows_new, "snap_km"] = np.where(np.isfinite(dist_m), dist_m / 1000.0, np.nan)
    report.loc[rows_new, "access_minutes"] = np.where(snapped, dist_m / 1000.0 / access_kph * 60.0, np.nan)
    report.loc[rows_new, "snapped"] = snapped
    if attached_before.any():
        _describe_existing(net, report, np.flatnonzero(attached_before))
    report["snapped"] = report["snapped"].astype(bool)
    report["snap_km"] = report["snap_km"].astype(float)
    report["access_minutes"] = report["access_minutes"].astype(float)
    return report


@dataclass
class _Growth:
    """Nodes and edges added while attaching places; the network is built once, at the end."""

    node_lab: list[Any]
    node_x: list[float]
    node_y: list[float]
    keep: np.ndarray  # edges of the network kept (False: split)
    new_edges: list[tuple[Any, ...]] = field(default_factory=list)  # (u, v, km, kph, road, class, geometry)

    def add_node(self, label: Any, x: float, y: float) -> int:
        """Append a node; return its index."""
        self.node_lab.append(label)
        self.node_x.append(x)
        self.node_y.append(y)
        return len(self.node_lab) - 1

    def network(self, net: RoadNetwork) -> RoadNetwork:
        """``net`` with the nodes and edges added, and without the edges that were split."""
        node_lab, node_x, node_y = self.node_lab, self.node_x, self.node_y
        if not self.new_edges:
            return replace(net, node_id=np.array(node_lab, dtype=object), node_x=np.array(node_x, dtype=float),
                           node_y=np.array(node_y, dtype=float), _csr_cache={}, _index_cache={})
        keep = self.keep
        nu, nv, nkm, nkph, nroad, ncls, ngeom = (list(c) for c in zip(*self.new_edges, strict=True))
        nkm_a = np.array(nkm, dtype=float)
        nkph_a = np.array(nkph, dtype=float)
        geom_new = np.empty(len(ngeom), dtype=object)
        geom_new[:] = ngeom
        return RoadNetwork(
            node_id=np.array(node_lab, dtype=object),
            node_x=np.array(node_x, dtype=float),
            node_y=np.array(node_y, dtype=float),
            edge_u=np.r_[net.edge_u[keep], np.array(nu, dtype=np.int64)],
            edge_v=np.r_[net.edge_v[keep], np.array(nv, dtype=np.int64)],
            edge_km=np.r_[net.edge_km[keep], nkm_a],
            edge_kph=np.r_[net.edge_kph[keep], nkph_a],
            edge_minutes=np.r_[net.edge_minutes[keep], nkm_a / nkph_a * 60.0],
            edge_road=np.r_[net.edge_road[keep], np.array(nroad, dtype=object)],
            edge_class=np.r_[net.edge_class[keep], np.array(ncls, dtype=object)],
            edge_geometry=np.r_[net.edge_geometry[keep], geom_new],
            metric_crs=net.metric_crs,
            crs=net.crs,
        )


@dataclass(frozen=True)
class _Places:
    """The places being attached: ids, lon/lat, points in the metric CRS, distance to their edge."""

    ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    pts_m: np.ndarray
    dist_m: np.ndarray
    access_kph: float


def _edge_groups(net: RoadNetwork, edge_of: np.ndarray, snapped: np.ndarray) -> tuple[dict[int, list[int]],
                                                                                      dict[int, int]]:
    """Places grouped by the undirected edge they hit (the edge and its twin: same road, reversed).

    Returns the groups (keyed by the lower edge index of the pair) and the twin of every edge
    hit (-1 for a one-way edge).
    """
    hit = np.unique(edge_of[snapped])
    twin_of_hit = _twin_edges(net, hit)
    twin = dict(zip(hit.tolist(), twin_of_hit.tolist(), strict=True))
    twin.update({t: e for e, t in zip(hit.tolist(), twin_of_hit.tolist(), strict=True) if t >= 0})
    groups: dict[int, list[int]] = {}
    for i in np.flatnonzero(snapped):
        e = int(edge_of[i])
        tw = twin[e]
        groups.setdefault(min(e, tw) if tw >= 0 else e, []).append(int(i))
    return groups, twin


def _place_along_edge(net: RoadNetwork, grow: _Growth, e: int, line: shapely.LineString, members: list[int],
                      places: _Places, inv: Transformer) -> tuple[list[int], list[float]]:
    """Add the places snapped to edge ``e``, in order along it, with their access legs.

    Returns the chain of nodes along the edge (its start, then the split points added) and the
    distance of each along ``line`` (metres).
    """
    length = line.length
    t = shapely.line_locate_point(line, places.pts_m[members])
    order_t = np.argsort(t, kind="stable")
    members = [members[k] for k in order_t]
    t = t[order_t]
    chain = [int(net.edge_u[e])]
    cuts = [0.0]
    ids = places.ids
    for member, ti in zip(members, t, strict=True):
        # Reuse an end node when the projection falls on it (within 1 m), and the previous
        # split point when two places project to the same spot.
        if ti <= 1.0:
            p_node = int(net.edge_u[e])
        elif ti >= length - 1.0:
            p_node = int(net.edge_v[e])
        elif len(cuts) > 1 and ti - cuts[-1] <= 1.0:
            p_node = chain[-1]
        else:
            p_xy = line.interpolate(ti)
            lon, lat = inv.transform(p_xy.x, p_xy.y)
            p_node = grow.add_node(f"snap:{ids[member]}", lon, lat)
            chain.append(p_node)
            cuts.append(float(ti))
        # Place node and its access legs (both directions).
        t_node = grow.add_node(ids[member], float(places.x[member]), float(places.y[member]))
        akm = float(places.dist_m[member]) / 1000.0
        leg = shapely.linestrings([[grow.node_x[t_node], grow.node_y[t_node]],
                                   [grow.node_x[p_node], grow.node_y[p_node]]])
        kph = places.access_kph
        grow.new_edges.append((t_node, p_node, akm, kph, f"access:{ids[member]}", "access", leg))
        grow.new_edges.append((p_node, t_node, akm, kph, f"access:{ids[member]}", "access", shapely.reverse(leg)))
    return chain, cuts


def _split_edge(net: RoadNetwork, grow: _Growth, e: int, tw: int, line: shapely.LineString, chain: list[int],
                cuts: list[float], inv: Transformer) -> None:
    """Replace edge ``e`` (and its twin ``tw``, or -1) by pieces between the nodes of ``chain``."""
    length = line.length
    chain = [*chain, int(net.edge_v[e])]
    cuts = [*cuts, length]
    grow.keep[e] = False
    if tw >= 0:
        grow.keep[tw] = False
    node_x, node_y = grow.node_x, grow.node_y
    for a, b, c0, c1 in zip(chain[:-1], chain[1:], cuts[:-1], cuts[1:], strict=True):
        frac = (c1 - c0) / length if length > 0 else 0.0
        piece_m = shapely.ops.substring(line, c0, c1)
        if not isinstance(piece_m, shapely.LineString):  # substring of zero length is a Point
            piece_m = shapely.LineString([piece_m, piece_m])
        piece = shapely.transform(piece_m, lambda xy: np.column_stack(inv.transform(xy[:, 0], xy[:, 1])))
        # Pin the ends to the node coordinates so that the geometry joins exactly.
        coords = shapely.get_coordinates(piece)
        coords[0], coords[-1] = (node_x[a], node_y[a]), (node_x[b], node_y[b])
        piece = shapely.LineString(coords)
        km = float(net.edge_km[e]) * frac
        grow.new_edges.append((a, b, km, float(net.edge_kph[e]), net.edge_road[e], net.edge_class[e], piece))
        if tw >= 0:
            grow.new_edges.append((b, a, float(net.edge_km[tw]) * frac, float(net.edge_kph[tw]), net.edge_road[tw],
                                   net.edge_class[tw], shapely.reverse(piece)))


def _nearest_edges(net: RoadNetwork, x: np.ndarray, y: np.ndarray, max_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Nearest road edge (access legs excluded) of each lon/lat point within ``max_m`` metres.

    Returns the edge index (-1 when none is within reach or the point is missing) and the
    distance in metres to the nearest edge in the network's metric CRS (also for points out
    of reach; ``inf`` for missing points).
    An R-tree over the lon/lat geometries gives a first, nearly nearest edge; its metric
    distance bounds the search, and the edges in that reach are measured exactly in metres.
    Only edges near the places are projected, so attaching a few places to a network of
    millions of edges stays cheap.
    """
    k = len(x)
    edge_of = np.full(k, -1, dtype=np.int64)
    dist = np.full(k, np.inf)
    ok = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    road = np.flatnonzero(net.edge_class != "access")
    if len(ok) == 0 or len(road) == 0:
        return edge_of, dist
    tree = _edge_tree(net, road)
    to_m = Transformer.from_crs(4326, net.metric_crs, always_xy=True)

    def metric(edges: np.ndarray) -> np.ndarray:
        return np.asarray(shapely.transform(
            net.edge_geometry[edges], lambda xy: np.column_stack(to_m.transform(xy[:, 0], xy[:, 1]))))

    px, py = (np.asarray(c, dtype=float) for c in to_m.transform(x[ok], y[ok]))
    pts_m = np.asarray(shapely.points(px, py))
    # 1. The nearest edge in degrees is an upper bound on the metric distance to the nearest.
    i_pt, i_tree = tree.query_nearest(shapely.points(x[ok], y[ok]), all_matches=False)
    first = np.full(len(ok), -1, dtype=np.int64)
    first[i_pt] = road[i_tree]
    bound = shapely.distance(pts_m, metric(first))
    reach = bound * 1.01 + 1.0  # few edges lie within the nearest distance, however far that is
    # 2. Every edge within that reach, found with the lon/lat box of a metric square around
    #    the point (its outline's 8 points, taken back to lon/lat, bound the box).
    ring = np.array([(-1, -1), (0, -1), (1, -1), (1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0)], dtype=float)
    bx = px[:, None] + reach[:, None] * ring[None, :, 0]
    by = py[:, None] + reach[:, None] * ring[None, :, 1]
    lon, lat = (np.asarray(c, dtype=float).reshape(bx.shape)
                for c in to_m.transform(bx.ravel(), by.ravel(), direction="INVERSE"))
    pad_x = (lon.max(axis=1) - lon.min(axis=1)) * 0.01
    pad_y = (lat.max(axis=1) - lat.min(axis=1)) * 0.01
    boxes = shapely.box(lon.min(axis=1) - pad_x, lat.min(axis=1) - pad_y,
                        lon.max(axis=1) + pad_x, lat.max(axis=1) + pad_y)
    p_idx, t_idx = tree.query(boxes)
    cand = np.r_[road[t_idx], first]
    p_idx = np.r_[p_idx, np.arange(len(ok))]
    uniq, where = np.unique(cand, return_inverse=True)
    d = shapely.distance(pts_m[p_idx], metric(uniq)[where.ravel()])
    # Nearest per point; ties go to the lowest edge index (reproducible).
    order = np.lexsort((cand, d, p_idx))
    best = order[np.r_[True, p_idx[order][1:] != p_idx[order][:-1]]]
    pt = ok[p_idx[best]]
    dist[pt] = d[best]
    within = d[best] <= max_m
    edge_of[pt[within]] = cand[best][within]
    return edge_of, dist


def _edge_tree(net: RoadNetwork, road: np.ndarray) -> shapely.STRtree:
    """R-tree over the lon/lat geometries of the edges ``road`` (cached on the network)."""
    cached = net._csr_cache.get("edge_tree")
    if cached is not None and np.array_equal(cached[0], road):
        tree: shapely.STRtree = cached[1]
        return tree
    tree = shapely.STRtree(net.edge_geometry[road])
    net._csr_cache["edge_tree"] = (road, tree)
    return tree


def _twin_edges(net: RoadNetwork, edges: np.ndarray) -> np.ndarray:
    """For each edge in ``edges``, the edge going back along the same road and line (or -1)."""
    out = np.full(len(edges), -1, dtype=np.int64)
    if len(edges) == 0:
        return out
    n = max(net.n_nodes, 1)
    if "edge_key_order" not in net._csr_cache:
        key = net.edge_u * n + net.edge_v
        order = np.argsort(key, kind="stable")
        net._csr_cache["edge_key_order"] = (order, key[order])
    order, sorted_key = net._csr_cache["edge_key_order"]
    want = net.edge_v[edges] * n + net.edge_u[edges]
    lo = np.searchsorted(sorted_key, want, side="left")
    hi = np.searchsorted(sorted_key, want, side="right")
    for k, (e, a, b) in enumerate(zip(edges.tolist(), lo.tolist(), hi.tolist(), strict=True)):
        coords = shapely.get_coordinates(net.edge_geometry[e])[::-1]
        for c in order[a:b].tolist():
            if net.edge_road[c] != net.edge_road[e]:
                continue
            other = shapely.get_coordinates(net.edge_geometry[c])
            if other.shape == coords.shape and np.allclose(other, coords, rtol=0, atol=1e-9):
                out[k] = c
                break
    return out


def _describe_existing(net: RoadNetwork, report: pd.DataFrame, rows: np.ndarray) -> None:
    """Fill the report rows of places attached by an earlier call from their access legs."""
    for r in rows.tolist():
        pid = report.loc[r, "id"]
        legs = np.flatnonzero(net.edge_road == f"access:{pid}")
        leg = legs[0]
        report.loc[r, "snap_km"] = float(net.edge_km[leg])
        report.loc[r, "access_minutes"] = float(net.edge_minutes[leg])
        far = net.edge_v[leg] if net.node_id[net.edge_u[leg]] == pid else net.edge_u[leg]
        roads_at = net.edge_road[(net.edge_u == far) & (net.edge_class != "access")]
        report.loc[r, "road"] = str(roads_at[0]) if len(roads_at) else None
