"""Road networks: from a roads layer to a routable graph.

:func:`build_network` turns a roads layer (hand-made, or from :mod:`geoplan.osm`) into a
:class:`RoadNetwork`: nodes at segment ends and at vertices shared by several roads (ends within
a snapping tolerance, in metres in a metric CRS, are merged), directed edges with length, speed
and travel time. The network is held as flat arrays (pandana's lesson: no Python object per
node), turns into a CSR matrix for :mod:`scipy.sparse.csgraph`, and into an osmnx-compatible
``networkx.MultiDiGraph`` for interoperability. :func:`attach_places` connects towns and centres
by projecting them onto the nearest edge (not the nearest node) with an access leg.

Default speeds (:data:`DEFAULT_SPEEDS_KPH`) are average travel speeds for Kazakhstan, not speed
limits. The Rules of the Road allow 90 km/h outside settlements (110 on motorways, up to 140 on
the toll expressways) and 60 km/h in them; averages are lower because roads cross villages,
carry heavy trucks and vary in condition. The defaults reproduce typical door-to-door times:
Astana-Karaganda (205 km, mostly toll motorway) in about 2 h 20, Karaganda-Balkhash (372 km,
four-lane trunk) in about 4 h 10, Pavlodar-Ekibastuz (135 km, two-lane trunk) in about 1 h 40.
Four-lane trunk and primary roads get :data:`FOUR_LANE_BONUS_KPH` more; unpaved surfaces are
capped at :data:`UNPAVED_CAP_KPH`. A ``speed_kph`` value on a road overrides all of this, and a
run can pass its own ``speeds`` table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
import shapely.ops
from pyproj import CRS, Transformer
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from geoplan._errors import NetworkError
from geoplan.layers import ROAD_CLASSES, metric_crs

__all__ = [
    "DEFAULT_SPEEDS_KPH",
    "FOUR_LANE_BONUS_KPH",
    "UNPAVED_CAP_KPH",
    "RoadNetwork",
    "build_network",
    "attach_places",
    "network_from_arrays",
]

#: Average travel speed by road class, km/h (see the module docstring for the rationale).
DEFAULT_SPEEDS_KPH: dict[str, float] = {
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 70.0,
    "primary_link": 45.0,
    "secondary": 60.0,
    "secondary_link": 40.0,
    "tertiary": 50.0,
    "tertiary_link": 35.0,
    "unclassified": 40.0,
    "residential": 30.0,
    "living_street": 10.0,
    "service": 15.0,
    "track": 20.0,
}
#: Extra speed of trunk and primary roads with four or more lanes (divided, I-b category).
FOUR_LANE_BONUS_KPH = 10.0
#: Speed cap on gravel, dirt and other unpaved surfaces.
UNPAVED_CAP_KPH = 40.0
_UNPAVED = ("gravel", "unpaved", "dirt")
#: Keeps zero-length edges as explicit entries in sparse matrices (csgraph drops implicit zeros).
_EPS = 1e-9

Weight = Literal["minutes", "km"]


@dataclass
class RoadNetwork:
    """A directed road network held as arrays.

    Nodes are indexed ``0..n_nodes-1``; ``node_id`` holds their labels (place ids for attached
    places, ``from_node``/``to_node`` ids from the roads layer where given, ``n<k>`` otherwise).
    Edges are directed: a two-way road gives two edges. Geometries are EPSG:4326 LineStrings
    oriented from ``u`` to ``v``.
    """

    node_id: np.ndarray
    node_x: np.ndarray
    node_y: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_km: np.ndarray
    edge_kph: np.ndarray
    edge_minutes: np.ndarray
    edge_road: np.ndarray
    edge_class: np.ndarray
    edge_geometry: np.ndarray
    metric_crs: CRS
    crs: CRS = field(default_factory=lambda: CRS.from_epsg(4326))
    _csr_cache: dict = field(default_factory=dict, repr=False, compare=False)
    _index_cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_id)

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return len(self.edge_u)

    def __repr__(self) -> str:
        return f"RoadNetwork({self.n_nodes} nodes, {self.n_edges} directed edges, {self.edge_km.sum() / 2:,.0f} km)"

    def index_of(self, ids: Sequence[str] | np.ndarray | str) -> np.ndarray:
        """Node indexes of the node labels ``ids``.

        Raises
        ------
        NetworkError
            Naming every id that is not a node of the network.
        """
        if not self._index_cache:
            self._index_cache["map"] = {str(k): i for i, k in enumerate(self.node_id)}
        lookup: dict[str, int] = self._index_cache["map"]
        single = isinstance(ids, str)
        keys = [ids] if single else [str(i) for i in ids]
        missing = [k for k in keys if k not in lookup]
        if missing:
            shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
            raise NetworkError(
                f"not in the road network: {shown}",
                fix="attach the places first (attach_places) or check the ids against the towns/centres layers",
            )
        return np.array([lookup[k] for k in keys], dtype=np.int64)

    def csr(self, weight: Weight = "minutes") -> csr_matrix:
        """The network as a sparse adjacency matrix for :mod:`scipy.sparse.csgraph`.

        Parallel edges are reduced to the one with the smallest weight. Also available after
        the call: :meth:`csr_edge`, the edge index behind each stored entry.
        """
        if weight not in self._csr_cache:
            w = self.edge_minutes if weight == "minutes" else self.edge_km
            w = np.maximum(w, _EPS)
            order = np.lexsort((w, self.edge_v, self.edge_u))
            u, v = self.edge_u[order], self.edge_v[order]
            first = np.ones(len(order), bool)
            first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
            keep = order[first]
            n = self.n_nodes
            # Entries are sorted by (u, v) and unique, which is exactly CSR order.
            indptr = np.zeros(n + 1, dtype=np.int64)
            np.add.at(indptr, self.edge_u[keep] + 1, 1)
            indptr = np.cumsum(indptr)
            mat = csr_matrix((w[keep], self.edge_v[keep].astype(np.int32), indptr), shape=(n, n))
            self._csr_cache[weight] = (mat, keep)
        return self._csr_cache[weight][0]

    def csr_edge(self, weight: Weight = "minutes") -> np.ndarray:
        """Edge index of each stored entry of :meth:`csr` (same order as its ``data``)."""
        self.csr(weight)
        return self._csr_cache[weight][1]

    def edge_between(self, u: np.ndarray, v: np.ndarray, weight: Weight = "minutes") -> np.ndarray:
        """Index of the best edge from ``u[i]`` to ``v[i]`` (-1 where there is none)."""
        mat = self.csr(weight)
        edges = self.csr_edge(weight)
        u = np.asarray(u, dtype=np.int64)
        v = np.asarray(v, dtype=np.int64)
        # CSR entries are sorted by (row, column), so row * n + column is a sorted key array.
        key = f"keys_{weight}"
        if key not in self._csr_cache:
            rows = np.repeat(np.arange(self.n_nodes, dtype=np.int64), np.diff(mat.indptr))
            self._csr_cache[key] = rows * self.n_nodes + mat.indices.astype(np.int64)
        keys = self._csr_cache[key]
        want = u * self.n_nodes + v
        pos = np.searchsorted(keys, want)
        pos_c = np.minimum(pos, max(len(keys) - 1, 0))
        found = (pos < len(keys)) & (keys[pos_c] == want) if len(keys) else np.zeros(len(want), bool)
        return np.where(found, edges[pos_c] if len(keys) else -1, -1)

    def components(self) -> np.ndarray:
        """Weakly connected component label of each node (0 = the largest)."""
        _, labels = connected_components(self.csr("km"), directed=True, connection="weak")
        sizes = np.bincount(labels)
        rank = np.empty_like(sizes)
        rank[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))
        return rank[labels]

    def nodes_frame(self) -> gpd.GeoDataFrame:
        """Nodes as points: ``id``, ``component``, geometry."""
        return gpd.GeoDataFrame(
            {"id": self.node_id, "component": self.components()},
            geometry=gpd.points_from_xy(self.node_x, self.node_y),
            crs=self.crs,
        )

    def edges_frame(self) -> gpd.GeoDataFrame:
        """Directed edges as lines: ``u``, ``v`` (node labels), ``road``, ``class``, ``km``, ``kph``, ``minutes``."""
        return gpd.GeoDataFrame(
            {
                "u": self.node_id[self.edge_u],
                "v": self.node_id[self.edge_v],
                "road": self.edge_road,
                "class": self.edge_class,
                "km": self.edge_km,
                "kph": self.edge_kph,
                "minutes": self.edge_minutes,
            },
            geometry=gpd.GeoSeries(self.edge_geometry, crs=self.crs),
            crs=self.crs,
        )

    def to_networkx(self) -> nx.MultiDiGraph:
        """The network as an osmnx-compatible ``MultiDiGraph``.

        Nodes carry ``x``/``y`` (lon/lat); edges ``length`` (m), ``speed_kph``, ``travel_time``
        (s), ``highway``, ``road`` and ``geometry``; the graph carries ``crs``. osmnx functions
        such as ``osmnx.shortest_path(G, u, v, weight="travel_time")`` work on it.
        """
        g = nx.MultiDiGraph(crs=self.crs.to_string(), name="geoplan road network")
        g.add_nodes_from(
            (i, {"x": float(x), "y": float(y), "label": str(lab)})
            for i, (lab, x, y) in enumerate(zip(self.node_id, self.node_x, self.node_y, strict=True))
        )
        g.add_edges_from(
            (
                int(u),
                int(v),
                {
                    "length": float(km) * 1000.0,
                    "speed_kph": float(kph),
                    "travel_time": float(mins) * 60.0,
                    "highway": str(cls),
                    "road": str(road),
                    "geometry": geom,
                },
            )
            for u, v, km, kph, mins, cls, road, geom in zip(
                self.edge_u, self.edge_v, self.edge_km, self.edge_kph, self.edge_minutes,
                self.edge_class, self.edge_road, self.edge_geometry, strict=True,
            )
        )
        return g

    @classmethod
    def from_networkx(cls, g: nx.MultiDiGraph) -> RoadNetwork:
        """Build a network from an osmnx-style graph (``length`` in m, ``travel_time`` in s)."""
        nodes = list(g.nodes)
        pos = {n: i for i, n in enumerate(nodes)}
        x = np.array([g.nodes[n]["x"] for n in nodes], dtype=float)
        y = np.array([g.nodes[n]["y"] for n in nodes], dtype=float)
        rows = list(g.edges(data=True))
        u = np.array([pos[a] for a, _, _ in rows], dtype=np.int64)
        v = np.array([pos[b] for _, b, _ in rows], dtype=np.int64)
        km = np.array([d.get("length", 0.0) / 1000.0 for _, _, d in rows], dtype=float)
        kph = np.array([d.get("speed_kph", np.nan) for _, _, d in rows], dtype=float)
        minutes = np.array([d.get("travel_time", np.nan) / 60.0 for _, _, d in rows], dtype=float)
        minutes = np.where(np.isnan(minutes), km / kph * 60.0, minutes)
        geoms = np.array(
            [d.get("geometry") or shapely.linestrings([[x[pos[a]], y[pos[a]]], [x[pos[b]], y[pos[b]]]])
             for a, b, d in rows], dtype=object)
        return network_from_arrays(
            node_id=np.array([str(n) for n in nodes], dtype=object), node_x=x, node_y=y, edge_u=u, edge_v=v,
            edge_km=km, edge_kph=kph, edge_minutes=minutes,
            edge_road=np.array([str(d.get("osmid", "")) for _, _, d in rows], dtype=object),
            edge_class=np.array([str(d.get("highway", "")) for _, _, d in rows], dtype=object),
            edge_geometry=geoms,
        )


def network_from_arrays(
    *,
    node_id: np.ndarray,
    node_x: np.ndarray,
    node_y: np.ndarray,
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    edge_km: np.ndarray,
    edge_kph: np.ndarray | None = None,
    edge_minutes: np.ndarray | None = None,
    edge_road: np.ndarray | None = None,
    edge_class: np.ndarray | None = None,
    edge_geometry: np.ndarray | None = None,
) -> RoadNetwork:
    """Assemble a :class:`RoadNetwork` from plain arrays (benchmarks, generated graphs).

    Missing minutes are computed from km and kph; missing geometries become straight lines.
    """
    node_x = np.asarray(node_x, dtype=float)
    node_y = np.asarray(node_y, dtype=float)
    edge_u = np.asarray(edge_u, dtype=np.int64)
    edge_v = np.asarray(edge_v, dtype=np.int64)
    edge_km = np.asarray(edge_km, dtype=float)
    m = len(edge_u)
    if edge_minutes is None:
        if edge_kph is None:
            raise NetworkError("network_from_arrays needs edge_minutes or edge_kph", fix="pass one of them")
        edge_minutes = edge_km / np.asarray(edge_kph, dtype=float) * 60.0
    edge_minutes = np.asarray(edge_minutes, dtype=float)
    if edge_kph is None:
        with np.errstate(divide="ignore", invalid="ignore"):
            edge_kph = np.where(edge_minutes > 0, edge_km / (edge_minutes / 60.0), np.nan)
    if edge_geometry is None:
        coords = np.stack([np.c_[node_x[edge_u], node_y[edge_u]], np.c_[node_x[edge_v], node_y[edge_v]]], axis=1)
        edge_geometry = shapely.linestrings(coords)
    bounds = (np.nanmin(node_x), np.nanmin(node_y), np.nanmax(node_x), np.nanmax(node_y)) if len(node_x) else (0, 0, 1, 1)
    return RoadNetwork(
        node_id=np.asarray(node_id, dtype=object),
        node_x=node_x,
        node_y=node_y,
        edge_u=edge_u,
        edge_v=edge_v,
        edge_km=edge_km,
        edge_kph=np.asarray(edge_kph, dtype=float),
        edge_minutes=edge_minutes,
        edge_road=np.asarray(edge_road if edge_road is not None else np.full(m, "", dtype=object), dtype=object),
        edge_class=np.asarray(edge_class if edge_class is not None else np.full(m, "", dtype=object), dtype=object),
        edge_geometry=np.asarray(edge_geometry, dtype=object),
        metric_crs=metric_crs(bounds),
    )


# --------------------------------------------------------------------------------------
# building from a roads layer


def _speeds(roads: gpd.GeoDataFrame, speeds: Mapping[str, float] | None) -> np.ndarray:
    table = dict(DEFAULT_SPEEDS_KPH)
    for cls_name, kph in (speeds or {}).items():
        if not (isinstance(kph, (int, float)) and math.isfinite(kph) and kph > 0):
            raise NetworkError(f"speed for road class '{cls_name}' is {kph!r}", fix="give a positive number of km/h")
        table[str(cls_name)] = float(kph)
    classes = roads["road_class"].astype(object).to_numpy()
    known = np.isin(classes, list(table))
    if not known.all():
        bad = roads.loc[~known, ["id", "road_class"]].head(10)
        listed = ", ".join(f"{r.id} ({r.road_class!r})" for r in bad.itertuples())
        raise NetworkError(
            f"roads with a class that has no speed: {listed}",
            fix=f"set road_class to one of {', '.join(ROAD_CLASSES)}, or give speed_kph on the road or a speed for the class",
        )
    kph = np.array([table[c] for c in classes], dtype=float)
    if "lanes" in roads.columns:
        lanes = pd.to_numeric(roads["lanes"], errors="coerce").to_numpy(dtype=float)
        four = (lanes >= 4) & np.isin(classes, ("trunk", "primary"))
        kph = np.where(four, kph + FOUR_LANE_BONUS_KPH, kph)
    if "surface" in roads.columns:
        unpaved = roads["surface"].isin(_UNPAVED).to_numpy()
        kph = np.where(unpaved, np.minimum(kph, UNPAVED_CAP_KPH), kph)
    if "speed_kph" in roads.columns:
        override = pd.to_numeric(roads["speed_kph"], errors="coerce").to_numpy(dtype=float)
        kph = np.where(np.isfinite(override) & (override > 0), override, kph)
    return kph


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
    snap_tolerance_m: float = 100.0,
    progress: bool = False,
) -> RoadNetwork:
    """Build a routable network from a roads layer.

    Parameters
    ----------
    roads
        Road segments with at least ``id`` and ``road_class`` (the ``roads`` layer schema).
        Optional: ``length_km`` (road length; overrides the drawn length, apportioned when a
        line is split), ``speed_kph``, ``lanes``, ``surface``, ``oneway`` (1 = one-way in the
        drawing direction), ``from_node``/``to_node`` (labels for the end nodes).
    speeds
        Speed per road class in km/h, overriding :data:`DEFAULT_SPEEDS_KPH` for this run.
    snap_tolerance_m
        Segment ends closer than this are merged into one node (measured in a metric CRS).
    progress
        Print stage messages to stderr.

    Returns
    -------
    RoadNetwork

    Raises
    ------
    NetworkError
        For an empty layer, a road without class or speed, or a layer without CRS.
    """
    if roads is None or len(roads) == 0:
        raise NetworkError("the roads layer has no features", fix="add road segments, or pick a larger OSM extract")
    if roads.crs is None:
        raise NetworkError("the roads layer has no CRS", fix="assign the CRS of its coordinates (e.g. EPSG:4326)")
    for col in ("id", "road_class"):
        if col not in roads.columns:
            raise NetworkError(f"the roads layer has no '{col}' column", fix=f"add '{col}' (see `geoplan layers check`)")
    missing_class = roads["road_class"].isna() | (roads["road_class"].astype(str).str.strip() == "")
    if missing_class.any():
        ids = ", ".join(map(str, roads.loc[missing_class, "id"].head(10)))
        raise NetworkError(f"roads without road_class: {ids}", fix=f"set road_class to one of {', '.join(ROAD_CLASSES)}")
    roads = roads.reset_index(drop=True)
    geo = roads.to_crs(4326)
    geoms = geo.geometry.to_numpy()
    geoms = np.where(shapely.get_type_id(geoms) == 5, shapely.get_geometry(geoms, 0), geoms)
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms) | (shapely.get_type_id(geoms) != 1)
    if bad.any():
        ids = ", ".join(map(str, roads.loc[bad, "id"].head(10)))
        raise NetworkError(f"roads without a usable LineString geometry: {ids}", fix="run `geoplan layers check` and fix them")
    crs_m = metric_crs(shapely.total_bounds(geoms))
    to_m = Transformer.from_crs(4326, crs_m, always_xy=True)
    lines_m = shapely.transform(geoms, lambda xy: np.column_stack(to_m.transform(xy[:, 0], xy[:, 1])))
    kph_road = _speeds(roads, speeds)
    if progress:
        import sys

        print(f"network: {len(roads):,} road segments", file=sys.stderr)

    pieces, owner = _split_at_shared_vertices(lines_m, tol_key=0.01)
    piece_len_m = shapely.length(pieces)
    road_len_m = shapely.length(lines_m)
    declared = (pd.to_numeric(roads["length_km"], errors="coerce").to_numpy(dtype=float)
                if "length_km" in roads.columns else np.full(len(roads), np.nan))
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(road_len_m[owner] > 0, piece_len_m / road_len_m[owner], 1.0)
    km = np.where(np.isfinite(declared[owner]) & (declared[owner] > 0), declared[owner] * frac, piece_len_m / 1000.0)

    # Nodes: piece ends, merged when within the snapping tolerance.
    starts = shapely.get_coordinates(shapely.get_point(pieces, 0))
    ends = shapely.get_coordinates(shapely.get_point(pieces, -1))
    pts = np.vstack([starts, ends])
    exact_keys, inv = np.unique(np.round(pts, 2), axis=0, return_inverse=True)
    inv = inv.ravel()
    if snap_tolerance_m > 0 and len(exact_keys) > 1:
        tree = shapely.STRtree(shapely.points(exact_keys))
        a, b = tree.query(shapely.points(exact_keys), predicate="dwithin", distance=snap_tolerance_m)
        graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(len(exact_keys),) * 2)
        _, cluster = connected_components(graph, directed=False)
    else:
        cluster = np.arange(len(exact_keys))
    node_of_pt = cluster[inv]
    n_nodes = int(node_of_pt.max()) + 1
    # Node position: the first end point of the cluster (stable, reproducible).
    first_pt = np.full(n_nodes, len(pts), dtype=np.int64)
    np.minimum.at(first_pt, node_of_pt, np.arange(len(pts)))
    node_xy_m = pts[first_pt]
    lon, lat = to_m.transform(node_xy_m[:, 0], node_xy_m[:, 1], direction="INVERSE")
    n = len(pieces)
    u_piece, v_piece = node_of_pt[:n], node_of_pt[n:]

    # Labels: from_node/to_node on the road's first/last piece, else n<k>.
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

    oneway = (pd.to_numeric(roads["oneway"], errors="coerce").fillna(0).to_numpy() == 1
              if "oneway" in roads.columns else np.zeros(len(roads), bool))[owner]
    kph = kph_road[owner]
    road_ids = roads["id"].astype(str).to_numpy(dtype=object)[owner]
    classes = roads["road_class"].astype(str).to_numpy(dtype=object)[owner]
    pieces_geo = shapely.transform(pieces, lambda xy: np.column_stack(to_m.transform(xy[:, 0], xy[:, 1], direction="INVERSE")))
    back = ~oneway
    edge_u = np.r_[u_piece, v_piece[back]]
    edge_v = np.r_[v_piece, u_piece[back]]
    edge_km = np.r_[km, km[back]]
    edge_kph = np.r_[kph, kph[back]]
    geom = np.r_[pieces_geo, shapely.reverse(pieces_geo[back])]
    net = RoadNetwork(
        node_id=labels,
        node_x=np.asarray(lon, dtype=float),
        node_y=np.asarray(lat, dtype=float),
        edge_u=edge_u.astype(np.int64),
        edge_v=edge_v.astype(np.int64),
        edge_km=edge_km,
        edge_kph=edge_kph,
        edge_minutes=edge_km / edge_kph * 60.0,
        edge_road=np.r_[road_ids, road_ids[back]],
        edge_class=np.r_[classes, classes[back]],
        edge_geometry=np.asarray(geom, dtype=object),
        metric_crs=crs_m,
    )
    # Self-loops created by snapping (both ends merged) carry no information.
    loops = net.edge_u == net.edge_v
    if loops.any():
        net = _subset_edges(net, ~loops)
    if progress:
        import sys

        print(f"network: {net.n_nodes:,} nodes, {net.n_edges:,} directed edges", file=sys.stderr)
    return net


def _subset_edges(net: RoadNetwork, keep: np.ndarray) -> RoadNetwork:
    return replace(
        net,
        edge_u=net.edge_u[keep], edge_v=net.edge_v[keep], edge_km=net.edge_km[keep], edge_kph=net.edge_kph[keep],
        edge_minutes=net.edge_minutes[keep], edge_road=net.edge_road[keep], edge_class=net.edge_class[keep],
        edge_geometry=net.edge_geometry[keep], _csr_cache={}, _index_cache={},
    )


# --------------------------------------------------------------------------------------
# attaching places


def attach_places(
    net: RoadNetwork,
    places: gpd.GeoDataFrame,
    *,
    access_kph: float = 30.0,
    max_snap_km: float = 25.0,
    id_column: str = "id",
) -> tuple[RoadNetwork, pd.DataFrame]:
    """Connect points (towns, centres) to the network at their nearest edge.

    Each place is projected onto the nearest edge (not the nearest node); that edge and its
    reverse twin are split at the projection, and a node labelled with the place's id is
    joined to the split point by an access leg at ``access_kph``. A place farther than
    ``max_snap_km`` from every edge is not attached and is reported with ``snapped=False``, so
    travel times from it are "unreachable" rather than silently wrong.

    Parameters
    ----------
    net
        The network from :func:`build_network`.
    places
        Points with an ``id`` column (several layers can be concatenated; duplicate ids are
        attached once).
    access_kph
        Speed on the access leg (off the road network: local streets, tracks).
    max_snap_km
        Places farther than this from any road are flagged, not attached.

    Returns
    -------
    network, report
        The network with the places as nodes, and one row per place: ``id``, ``road`` (the
        road snapped to), ``snap_km``, ``access_minutes``, ``snapped``.
    """
    if access_kph <= 0 or max_snap_km < 0:
        raise NetworkError(f"access_kph ({access_kph}) must be > 0 and max_snap_km ({max_snap_km}) >= 0",
                           fix="use positive values")
    if places.crs is None:
        raise NetworkError("places have no CRS", fix="assign EPSG:4326 (or the CRS of their coordinates)")
    places = places.drop_duplicates(subset=id_column, keep="first").reset_index(drop=True)
    ids = places[id_column].astype(str).to_numpy(dtype=object)
    to_m = Transformer.from_crs(4326, net.metric_crs, always_xy=True)
    pts = places.to_crs(net.metric_crs).geometry.to_numpy()
    edges_m = shapely.transform(net.edge_geometry, lambda xy: np.column_stack(to_m.transform(xy[:, 0], xy[:, 1])))
    tree = shapely.STRtree(edges_m)
    nearest_edge, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
    # query_nearest returns (input index, tree index) pairs; one per place here.
    order = np.argsort(nearest_edge[0], kind="stable")
    edge_of = nearest_edge[1][order]
    dist = dist[order]
    snapped = dist <= max_snap_km * 1000.0
    report = pd.DataFrame({
        "id": ids,
        "road": np.where(snapped, net.edge_road[edge_of], None),
        "snap_km": dist / 1000.0,
        "access_minutes": np.where(snapped, dist / 1000.0 / access_kph * 60.0, np.nan),
        "snapped": snapped,
    })

    ll = places.to_crs(4326).geometry
    place_x, place_y = ll.x.to_numpy(), ll.y.to_numpy()
    node_id = net.node_id.copy()
    # A place id may already label a road node (schematic networks name nodes after places).
    clash = np.isin(node_id, ids)
    node_id[clash] = np.array([f"node:{v}" for v in node_id[clash]], dtype=object)
    node_x, node_y = list(net.node_x), list(net.node_y)
    node_lab = list(node_id)
    keep = np.ones(net.n_edges, bool)
    new_edges: list[tuple] = []  # (u, v, km, kph, road, class, geometry)

    # Twin of each edge: the reverse edge of the same road with the same geometry reversed.
    twin = _twins(net)
    # Group places by the undirected edge they hit (canonical = the smaller of edge, twin).
    tw_of = twin[edge_of]
    canon = np.where((tw_of >= 0) & (tw_of < edge_of), tw_of, edge_of)
    groups: dict[int, list[int]] = {}
    for i in np.flatnonzero(snapped):
        groups.setdefault(int(canon[i]), []).append(int(i))

    inv = Transformer.from_crs(net.metric_crs, 4326, always_xy=True)
    for e, members in sorted(groups.items()):
        line = edges_m[e]
        length = line.length
        t = np.array([line.project(pts[i]) for i in members])
        order_t = np.argsort(t, kind="stable")
        members = [members[k] for k in order_t]
        t = t[order_t]
        chain = [int(net.edge_u[e])]
        cuts = [0.0]
        for i, ti in zip(members, t, strict=True):
            # Reuse an end node when the projection falls on it (within 1 m).
            if ti <= 1.0:
                p_node = int(net.edge_u[e])
            elif ti >= length - 1.0:
                p_node = int(net.edge_v[e])
            else:
                p_xy = line.interpolate(ti)
                lon, lat = inv.transform(p_xy.x, p_xy.y)
                p_node = len(node_lab)
                node_lab.append(f"snap:{ids[i]}")
                node_x.append(lon)
                node_y.append(lat)
                if p_node != chain[-1]:
                    chain.append(p_node)
                    cuts.append(float(ti))
            # Place node and its access legs (both directions).
            t_node = len(node_lab)
            node_lab.append(ids[i])
            node_x.append(float(place_x[i]))
            node_y.append(float(place_y[i]))
            akm = float(dist[i]) / 1000.0
            leg = shapely.linestrings([[node_x[t_node], node_y[t_node]], [node_x[p_node], node_y[p_node]]])
            new_edges.append((t_node, p_node, akm, access_kph, f"access:{ids[i]}", "access", leg))
            new_edges.append((p_node, t_node, akm, access_kph, f"access:{ids[i]}", "access", shapely.reverse(leg)))
        if len(chain) == 1:
            continue  # every place sat on an end node: nothing to split
        chain.append(int(net.edge_v[e]))
        cuts.append(length)
        keep[e] = False
        tw = twin[e]
        if tw >= 0:
            keep[tw] = False
        for a, b, c0, c1 in zip(chain[:-1], chain[1:], cuts[:-1], cuts[1:], strict=True):
            frac = (c1 - c0) / length if length > 0 else 0.0
            piece_m = shapely.ops.substring(line, c0, c1)
            piece = shapely.transform(piece_m, lambda xy: np.column_stack(inv.transform(xy[:, 0], xy[:, 1])))
            km = float(net.edge_km[e]) * frac
            new_edges.append((a, b, km, float(net.edge_kph[e]), net.edge_road[e], net.edge_class[e], piece))
            if tw >= 0:
                new_edges.append((b, a, float(net.edge_km[tw]) * frac, float(net.edge_kph[tw]), net.edge_road[tw],
                                  net.edge_class[tw], shapely.reverse(piece)))

    # Unsnapped places become isolated nodes: routing to them gives "unreachable", not an error.
    for i in np.flatnonzero(~snapped):
        node_lab.append(ids[i])
        node_x.append(float(place_x[i]))
        node_y.append(float(place_y[i]))
    if not new_edges:
        return replace(net, node_id=np.array(node_lab, dtype=object), node_x=np.array(node_x, dtype=float),
                       node_y=np.array(node_y, dtype=float), _csr_cache={}, _index_cache={}), report
    nu, nv, nkm, nkph, nroad, ncls, ngeom = (list(c) for c in zip(*new_edges, strict=True))
    nkm_a = np.array(nkm, dtype=float)
    nkph_a = np.array(nkph, dtype=float)
    out = RoadNetwork(
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
        edge_geometry=np.r_[net.edge_geometry[keep], np.array(ngeom, dtype=object)],
        metric_crs=net.metric_crs,
    )
    return out, report


def _twins(net: RoadNetwork) -> np.ndarray:
    """For each edge, the index of the edge going back along the same road (or -1)."""
    key_f = pd.DataFrame({"u": net.edge_u, "v": net.edge_v, "r": net.edge_road, "i": np.arange(net.n_edges)})
    key_b = key_f.rename(columns={"u": "v", "v": "u", "i": "j"})
    m = key_f.merge(key_b, on=["u", "v", "r"], how="left").drop_duplicates("i", keep="first")
    twin = m.sort_values("i")["j"].to_numpy()
    return np.where(pd.isna(twin), -1, twin).astype(np.int64)
