"""Building a :class:`~geoplan.network.RoadNetwork` from a roads layer: split, snap, direct."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops
from pyproj import CRS, Transformer

from geoplan._errors import NetworkError
from geoplan._progress import logger, progress_enabled
from geoplan.layers import ROAD_CLASSES, metric_crs
from geoplan.network.graph import RoadNetwork, _listed, _subset_edges
from geoplan.network.speeds import _speeds
from geoplan.settings import SNAP_TOLERANCE_M


def _split_at_shared_vertices(lines: np.ndarray, tol_key: float) -> tuple[np.ndarray, np.ndarray]:
    """Split lines at interior vertices shared with another line (or another line's end).

    Returns the pieces and, for each piece, the index of the line it came from.
    """
    coords, owner = shapely.get_coordinates(lines, return_index=True)
    keys = np.round(coords / tol_key).astype(np.int64)
    _, vkey = np.unique(keys, axis=0, return_inverse=True)
    vkey = vkey.ravel()
    # Distinct lines touching each vertex key.
    pairs = np.unique(np.c_[vkey, owner], axis=0)
    n_lines_at = np.bincount(pairs[:, 0], minlength=vkey.max() + 1 if len(vkey) else 0)
    starts = np.r_[0, np.flatnonzero(owner[1:] != owner[:-1]) + 1]
    ends = np.r_[starts[1:] - 1, len(owner) - 1]
    is_end = np.zeros(len(owner), bool)
    is_end[starts] = True
    is_end[ends] = True
    split = ~is_end & (n_lines_at[vkey] > 1)
    if not split.any():
        return lines, np.arange(len(lines))
    rep = np.where(split, 2, 1)
    coords_rep = np.repeat(coords, rep, axis=0)
    owner_rep = np.repeat(owner, rep)
    first_pos = np.cumsum(rep) - rep
    new_piece = np.zeros(len(coords_rep), bool)
    new_piece[first_pos[starts]] = True
    new_piece[first_pos[split] + 1] = True
    piece = np.cumsum(new_piece) - 1
    pieces = shapely.linestrings(coords_rep, indices=piece)
    piece_owner = owner_rep[np.r_[0, np.flatnonzero(np.diff(piece)) + 1]]
    return np.asarray(pieces, dtype=object), piece_owner


def build_network(
    roads: gpd.GeoDataFrame,
    *,
    speeds: Mapping[str, float] | None = None,
    snap_tolerance_m: float = SNAP_TOLERANCE_M,
    progress: bool | None = None,
) -> RoadNetwork:
    """Build a routable network from a roads layer.

    Parameters
    ----------
    roads
        Road segments with at least ``id`` and ``road_class`` (the ``roads`` layer schema).
        Optional: ``length_km`` (road length; overrides the drawn length, apportioned when a
        line is split), ``speed_kph``, ``lanes``, ``surface``, ``oneway`` (1/``yes`` = one-way
        in the drawing direction, -1 = against it, 0/empty = two-way), ``from_node``/``to_node``
        (labels for the end nodes). Any CRS (it is reprojected); MultiLineStrings keep every
        part. Lines are split where they share a vertex with another line; lines that only
        cross in the drawing (bridges, overpasses) are not joined.
    speeds
        Speed per road class in km/h, overriding :data:`DEFAULT_SPEEDS_KPH` for this run.
    snap_tolerance_m
        A dangling segment end (used by one segment only) closer than this to another node is
        merged into it (metres, in a metric CRS). The default of 1 m only mends rounding; use
        tens of metres for hand-digitised layers with small gaps, and 0 for OpenStreetMap,
        whose dead ends near other roads are real.
    progress
        Log the size of the input and of the network (INFO, logger ``geoplan``); ``None``
        follows :func:`geoplan._progress.set_progress` (off in a library call).

    Returns
    -------
    RoadNetwork

    Raises
    ------
    NetworkError
        For an empty layer, a layer without CRS, and naming the roads concerned: a road with
        neither a known class nor its own speed, a ``speed_kph`` that is not a positive number,
        an unreadable ``oneway``, a missing or non-line geometry, or a line of zero length.
    """
    roads, road_ids = _checked_roads(roads)
    parts = _road_parts(roads, road_ids)
    kph_road = _speeds(roads, speeds)
    direction = _oneway(roads, road_ids)
    report = progress_enabled(progress)
    if report:
        logger.info("network: %s road segments", f"{len(roads):,}")

    pieces, part_of_piece = _split_at_shared_vertices(parts.lines_m, tol_key=0.01)
    owner = parts.road_of_part[part_of_piece]
    km = _piece_km(roads, pieces, owner, parts.road_len_m)

    # Nodes: piece ends, merged when within the snapping tolerance.
    starts = shapely.get_coordinates(shapely.get_point(pieces, 0))
    ends = shapely.get_coordinates(shapely.get_point(pieces, -1))
    pts = np.vstack([starts, ends])
    node_of_pt = _node_of_point(pts, snap_tolerance_m)
    n_nodes = int(node_of_pt.max()) + 1
    # Node position: the first end point of the cluster (stable, reproducible).
    first_pt = np.full(n_nodes, len(pts), dtype=np.int64)
    np.minimum.at(first_pt, node_of_pt, np.arange(len(pts)))
    node_xy_m = pts[first_pt]
    lon, lat = parts.to_m.transform(node_xy_m[:, 0], node_xy_m[:, 1], direction="INVERSE")
    n = len(pieces)
    u_piece, v_piece = node_of_pt[:n], node_of_pt[n:]
    labels = _node_labels(roads, owner, u_piece, v_piece, n_nodes)

    dir_piece = direction[owner]
    fwd = dir_piece >= 0
    back = dir_piece <= 0
    kph = kph_road[owner]
    rid = road_ids[owner]
    classes = roads["road_class"].to_numpy(dtype=object)[owner]
    classes = np.array([c.strip() if isinstance(c, str) else "" for c in classes], dtype=object)
    to_m = parts.to_m
    pieces_geo = shapely.transform(
        pieces, lambda xy: np.column_stack(to_m.transform(xy[:, 0], xy[:, 1], direction="INVERSE")))
    edge_u = np.r_[u_piece[fwd], v_piece[back]]
    edge_v = np.r_[v_piece[fwd], u_piece[back]]
    edge_km = np.r_[km[fwd], km[back]]
    edge_kph = np.r_[kph[fwd], kph[back]]
    geom = np.r_[pieces_geo[fwd], shapely.reverse(pieces_geo[back])]
    net = RoadNetwork(
        node_id=labels,
        node_x=np.asarray(lon, dtype=float),
        node_y=np.asarray(lat, dtype=float),
        edge_u=edge_u.astype(np.int64),
        edge_v=edge_v.astype(np.int64),
        edge_km=edge_km,
        edge_kph=edge_kph,
        edge_minutes=edge_km / edge_kph * 60.0,
        edge_road=np.r_[rid[fwd], rid[back]],
        edge_class=np.r_[classes[fwd], classes[back]],
        edge_geometry=np.asarray(geom, dtype=object),
        metric_crs=parts.crs_m,
    )
    # Self-loops (a closed ring with no junction, or a piece shorter than the snapping
    # tolerance whose ends were merged) lead nowhere; routing never needs them.
    loops = net.edge_u == net.edge_v
    if loops.any():
        net = _subset_edges(net, ~loops)
    if report:
        logger.info("network: %s nodes, %s directed edges", f"{net.n_nodes:,}", f"{net.n_edges:,}")
    return net


def _checked_roads(roads: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Check the roads layer's columns; return it with a fresh index, and its road ids.

    Raises
    ------
    NetworkError
        For an empty layer, a layer without CRS, a missing ``id``/``road_class`` column, and
        roads with neither a class nor their own speed.
    """
    if roads is None or len(roads) == 0:
        raise NetworkError("the roads layer has no features", fix="add road segments, or pick a larger OSM extract")
    if roads.crs is None:
        raise NetworkError("the roads layer has no CRS", fix="assign the CRS of its coordinates (e.g. EPSG:4326)")
    for col in ("id", "road_class"):
        if col not in roads.columns:
            raise NetworkError(f"the roads layer has no '{col}' column",
                               fix=f"add '{col}' (see `geoplan layers check`)")
    roads = roads.reset_index(drop=True)
    road_ids = roads["id"].astype(str).to_numpy(dtype=object)
    missing_class = (roads["road_class"].isna() | (roads["road_class"].astype(str).str.strip() == "")).to_numpy()
    if "speed_kph" in roads.columns:
        # A road without a class is still usable when it carries its own speed.
        missing_class = missing_class & pd.to_numeric(roads["speed_kph"], errors="coerce").isna().to_numpy()
    if missing_class.any():
        raise NetworkError(f"roads with neither road_class nor speed_kph: {_listed(road_ids[missing_class])}",
                           fix=f"set road_class to one of {', '.join(ROAD_CLASSES)}, or give speed_kph")
    return roads, road_ids


@dataclass(frozen=True)
class _RoadParts:
    """The line parts of the roads in a metric CRS: one per LineString (MultiLineStrings split)."""

    lines_m: np.ndarray  # the parts, in metres
    road_of_part: np.ndarray  # row of the road each part belongs to
    road_len_m: np.ndarray  # drawn length of each road (sum of its parts)
    crs_m: CRS  # the metric CRS
    to_m: Transformer  # EPSG:4326 -> crs_m (lon/lat order)


def _road_parts(roads: gpd.GeoDataFrame, road_ids: np.ndarray) -> _RoadParts:
    """Split the roads into line parts and project them to a metric CRS.

    Raises
    ------
    NetworkError
        Naming the roads with a missing or non-line geometry, coordinates that cannot be
        projected, or zero length.
    """
    geo = roads.to_crs(4326)
    geoms = geo.geometry.to_numpy()
    types = shapely.get_type_id(geoms)
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms) | ~np.isin(types, (1, 5))
    if bad.any():
        raise NetworkError(f"roads without a usable LineString geometry: {_listed(road_ids[bad])}",
                           fix="run `geoplan layers check` and fix them")
    # MultiLineStrings become one part per line; every part keeps its road's attributes.
    parts, road_of_part = shapely.get_parts(geoms, return_index=True)
    solid = ~shapely.is_empty(parts)  # an empty part of a MultiLineString carries nothing
    parts, road_of_part = parts[solid], road_of_part[solid]
    crs_m = metric_crs(shapely.total_bounds(parts))
    to_m = Transformer.from_crs(4326, crs_m, always_xy=True)
    lines_m = shapely.transform(parts, lambda xy: np.column_stack(to_m.transform(xy[:, 0], xy[:, 1])))
    road_len_m = np.bincount(road_of_part, weights=shapely.length(lines_m), minlength=len(roads))
    if not np.isfinite(road_len_m).all():
        bad = ~np.isfinite(road_len_m)
        raise NetworkError(f"roads whose coordinates cannot be projected: {_listed(road_ids[bad])}",
                           fix="check the coordinates and the layer's CRS (lon/lat must be within -180..180, -90..90)")
    flat = road_len_m == 0
    if flat.any():
        raise NetworkError(
            f"roads of zero length (all their points coincide): {_listed(road_ids[flat])}",
            fix="delete these segments, or redraw them from their start to their end "
                "(length_km alone cannot place a road)",
        )
    return _RoadParts(lines_m, road_of_part, road_len_m, crs_m, to_m)


def _piece_km(roads: gpd.GeoDataFrame, pieces: np.ndarray, owner: np.ndarray, road_len_m: np.ndarray) -> np.ndarray:
    """Length of each piece in km: its share of the road's ``length_km`` when given, else as drawn."""
    piece_len_m = shapely.length(pieces)
    declared = (pd.to_numeric(roads["length_km"], errors="coerce").to_numpy(dtype=float)
                if "length_km" in roads.columns else np.full(len(roads), np.nan))
    frac = piece_len_m / road_len_m[owner]
    use_declared = np.isfinite(declared[owner]) & (declared[owner] > 0)
    return np.asarray(np.where(use_declared, declared[owner] * frac, piece_len_m / 1000.0))


def _node_of_point(pts: np.ndarray, snap_tolerance_m: float) -> np.ndarray:
    """Node number (0..n-1) of each piece end: equal points, and dangling ends snapped within the tolerance."""
    exact_keys, inv = np.unique(np.round(pts, 2), axis=0, return_inverse=True)
    inv = inv.ravel()
    cluster = np.arange(len(exact_keys))
    if snap_tolerance_m > 0 and len(exact_keys) > 1:
        cluster = _snap_dangling(exact_keys, inv, snap_tolerance_m)
    _, cluster = np.unique(cluster, return_inverse=True)
    return np.asarray(cluster.ravel()[inv])


def _snap_dangling(exact_keys: np.ndarray, inv: np.ndarray, snap_tolerance_m: float) -> np.ndarray:
    """For each distinct end point (``exact_keys``), the point it merges into (itself when none).

    Snap only dangling ends (used by one segment) onto the nearest other node within the
    tolerance: junctions of dense (OSM) networks stay as they are. Each dangling end points at
    one node, so the snaps form trees; a chain of ends (0, 3, 7 and 12 m apart with a 10 m
    tolerance) is followed to its root and becomes one node.
    """
    cluster = np.arange(len(exact_keys))
    degree = np.bincount(inv, minlength=len(exact_keys))
    dangling = np.flatnonzero(degree == 1)
    if not dangling.size:
        return cluster
    key_pts = np.asarray(shapely.points(exact_keys))
    tree = shapely.STRtree(key_pts)
    a, b = tree.query(key_pts[dangling], predicate="dwithin", distance=snap_tolerance_m)
    other = dangling[a] != b
    a, b = a[other], b[other]
    if not a.size:
        return cluster
    d = shapely.distance(key_pts[dangling[a]], key_pts[b])
    order = np.lexsort((b, d, a))  # nearest target first, ties by index
    first = np.r_[True, a[order][1:] != a[order][:-1]]
    src, dst = dangling[a[order][first]], b[order][first]
    # Two dangling ends that are each other's nearest snap once, onto the lower index.
    target = np.arange(len(exact_keys))
    target[src] = dst
    mutual = (target[dst] == src) & (src < dst)
    cluster[src[~mutual]] = dst[~mutual]
    for _ in range(64):  # pointer jumping: a->b->c->d ends at d (chains halve each round)
        up = cluster[cluster]
        if np.array_equal(up, cluster):
            break
        cluster = up
    return cluster


def _node_labels(roads: gpd.GeoDataFrame, owner: np.ndarray, u_piece: np.ndarray, v_piece: np.ndarray,
                 n_nodes: int) -> np.ndarray:
    """Node labels: ``from_node``/``to_node`` on the road's first/last piece, else ``n<k>``."""
    labels = np.array([f"n{i}" for i in range(n_nodes)], dtype=object)
    if "from_node" in roads.columns and "to_node" in roads.columns:
        first_piece = np.r_[True, owner[1:] != owner[:-1]]
        last_piece = np.r_[owner[1:] != owner[:-1], True]
        for nodes, mask, col in ((u_piece, first_piece, "from_node"), (v_piece, last_piece, "to_node")):
            vals = roads[col].to_numpy(dtype=object)[owner[mask]]
            ok = pd.notna(vals)
            # Reverse order so the first road mentioning a node wins (deterministic).
            labels[nodes[mask][ok][::-1]] = vals[ok][::-1].astype(str)
        if len(set(labels)) != len(labels):
            # Two clusters claimed the same label (ends not snapped together): keep it unique.
            seen: dict[str, int] = {}
            for i, lab in enumerate(labels):
                if lab in seen:
                    labels[i] = f"{lab}#{i}"
                seen.setdefault(lab, i)
    return labels


_ONEWAY_FWD = {"1", "yes", "true", "1.0"}
_ONEWAY_REV = {"-1", "reverse", "-1.0"}
_ONEWAY_BOTH = {"0", "no", "false", "0.0", "", "nan", "none", "<na>"}


def _oneway(roads: gpd.GeoDataFrame, road_ids: np.ndarray) -> np.ndarray:
    """Direction of each road: 1 = only as drawn, -1 = only against the drawing, 0 = both ways.

    Accepts the layer's 0/1 and OSM's ``yes``/``no``/``-1``/``true``/``false``.
    """
    if "oneway" not in roads.columns:
        return np.zeros(len(roads), dtype=np.int8)
    text = roads["oneway"].astype(object).map(
        lambda v: "" if v is None or v is pd.NA else str(v).strip().lower()).to_numpy(dtype=object)
    out = np.zeros(len(roads), dtype=np.int8)
    out[np.isin(text, list(_ONEWAY_FWD))] = 1
    out[np.isin(text, list(_ONEWAY_REV))] = -1
    unknown = ~np.isin(text, list(_ONEWAY_FWD | _ONEWAY_REV | _ONEWAY_BOTH))
    if unknown.any():
        listed = ", ".join(f"{i} ({v!r})" for i, v in zip(road_ids[unknown][:10], text[unknown][:10], strict=True))
        raise NetworkError(f"roads with an unreadable oneway value: {listed}",
                           fix="use 1 (one-way as drawn), -1 (one-way against the drawing) or 0/empty (two-way)")
    return out
