"""The road network container: :class:`RoadNetwork` (flat arrays, CSR, networkx) and its writer."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely
import shapely.ops
from pyproj import CRS, Transformer
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from geoplan._errors import GeoplanError, NetworkError
from geoplan._io import write_geojson, write_gpkg
from geoplan.layers import metric_crs

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
    _csr_cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)
    _index_cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

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
        keys = [ids] if isinstance(ids, str) else [str(i) for i in ids]
        missing = [k for k in keys if k not in lookup]
        if missing:
            shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
            raise NetworkError(
                f"not in the road network: {shown}",
                fix="attach the places first (attach_places) or check the ids against the towns/centres layers",
            )
        return np.array([lookup[k] for k in keys], dtype=np.int64)

    def csr(self, *, weight: Weight = "minutes") -> csr_matrix:
        """Return the network as a sparse adjacency matrix for :mod:`scipy.sparse.csgraph`.

        Parallel edges are reduced to the one with the smallest weight. Also available after
        the call: :meth:`csr_edge`, the edge index behind each stored entry.
        """
        if weight not in self._csr_cache:
            # Zero weights stay explicit entries: csgraph treats a stored 0 as an edge of length 0.
            w = np.asarray(self.edge_minutes if weight == "minutes" else self.edge_km, dtype=float)
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

    def csr_edge(self, *, weight: Weight = "minutes") -> np.ndarray:
        """Edge index of each stored entry of :meth:`csr` (same order as its ``data``)."""
        self.csr(weight=weight)
        edges: np.ndarray = self._csr_cache[weight][1]
        return edges

    def edge_between(self, u: np.ndarray, v: np.ndarray, *, weight: Weight = "minutes") -> np.ndarray:
        """Index of the best edge from ``u[i]`` to ``v[i]`` (-1 where there is none)."""
        mat = self.csr(weight=weight)
        edges = self.csr_edge(weight=weight)
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
        _, labels = connected_components(self.csr(weight="km"), directed=True, connection="weak")
        sizes = np.bincount(labels)
        rank = np.empty_like(sizes)
        rank[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))
        out: np.ndarray = rank[labels]
        return out

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

    def to_networkx(self) -> nx.MultiDiGraph[Any]:
        """Return the network as an osmnx-compatible ``MultiDiGraph``.

        Nodes are the integers ``0..n_nodes-1`` and carry ``x``/``y`` (lon/lat), ``label``
        (the node id) and ``street_count``; edges carry ``length`` (m), ``speed_kph``,
        ``travel_time`` (s), ``highway`` (road class), ``osmid`` and ``road`` (road id) and
        ``geometry``; the graph carries ``crs``. osmnx functions such as
        ``osmnx.routing.shortest_path(G, u, v, weight="travel_time")`` and
        ``osmnx.convert.graph_to_gdfs(G)`` work on it.
        """
        g: nx.MultiDiGraph[Any] = nx.MultiDiGraph(crs=self.crs.to_string(), name="geoplan road network")
        # osmnx's street_count: distinct undirected neighbours of each node (self-loops excluded).
        a, b = np.minimum(self.edge_u, self.edge_v), np.maximum(self.edge_u, self.edge_v)
        pairs = np.unique(np.c_[a, b][a != b], axis=0) if self.n_edges else np.empty((0, 2), np.int64)
        streets = np.bincount(pairs.ravel(), minlength=self.n_nodes)
        g.add_nodes_from(
            (i, {"x": float(x), "y": float(y), "label": str(lab), "street_count": int(c)})
            for i, (lab, x, y, c) in enumerate(zip(self.node_id, self.node_x, self.node_y, streets, strict=True))
        )
        g.add_edges_from(
            (
                int(u),
                int(v),
                {
                    "osmid": str(road),
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
    def from_networkx(cls, g: nx.MultiDiGraph[Any] | nx.DiGraph[Any] | nx.Graph[Any]) -> RoadNetwork:
        """Build a network from an osmnx-style graph (``length`` in m, ``travel_time`` in s).

        Node ids come from the node attribute ``label`` when present (graphs made by
        :meth:`to_networkx`), else from the node keys. Edges need ``travel_time`` or
        ``speed_kph`` (osmnx: ``add_edge_speeds`` then ``add_edge_travel_times``). A projected
        graph (osmnx ``project_graph``) is brought back to lon/lat. An undirected graph gives
        two directed edges per edge.

        Raises
        ------
        NetworkError
            When nodes lack coordinates or edges lack a length or a travel time.
        """
        nodes = list(g.nodes)
        pos = {n: i for i, n in enumerate(nodes)}
        try:
            x = np.array([g.nodes[n]["x"] for n in nodes], dtype=float)
            y = np.array([g.nodes[n]["y"] for n in nodes], dtype=float)
        except KeyError as exc:
            raise NetworkError("graph nodes need 'x' and 'y' coordinates", fix="build the graph with osmnx") from exc
        labels = np.array([str(g.nodes[n].get("label", n)) for n in nodes], dtype=object)
        rows = list(g.edges(data=True))
        if not g.is_directed():
            rows = rows + [(b, a, d) for a, b, d in rows]
        u = np.array([pos[a] for a, _, _ in rows], dtype=np.int64)
        v = np.array([pos[b] for _, b, _ in rows], dtype=np.int64)
        km = np.array([d.get("length", np.nan) for _, _, d in rows], dtype=float) / 1000.0
        kph = np.array([d.get("speed_kph", np.nan) for _, _, d in rows], dtype=float)
        seconds = np.array([d.get("travel_time", np.nan) for _, _, d in rows], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            minutes = np.where(np.isnan(seconds), km / kph * 60.0, seconds / 60.0)
        missing = ~np.isfinite(minutes) | ~np.isfinite(km)
        if missing.any():
            a, b, _ = rows[int(np.flatnonzero(missing)[0])]
            raise NetworkError(
                f"{int(missing.sum())} graph edge(s) have no usable length/travel_time, e.g. {a} -> {b}",
                fix="add 'length' (m) and 'travel_time' (s) or 'speed_kph' to every edge "
                    "(osmnx: ox.add_edge_speeds(G); ox.add_edge_travel_times(G))",
            )

        def _road(d: dict[str, Any]) -> str:
            r = d.get("road", d.get("osmid", ""))
            return ";".join(map(str, r)) if isinstance(r, list) else str(r)

        def _cls(d: dict[str, Any]) -> str:
            h = d.get("highway", "")
            return ";".join(map(str, h)) if isinstance(h, list) else str(h)

        geoms = np.empty(len(rows), dtype=object)
        for k, (_, _, d) in enumerate(rows):
            geom = d.get("geometry")
            geoms[k] = geom if isinstance(geom, shapely.LineString) else None
        crs = CRS.from_user_input(g.graph.get("crs", "EPSG:4326"))
        if not crs.is_geographic or not crs.equals(CRS.from_epsg(4326)):
            to_ll = Transformer.from_crs(crs, 4326, always_xy=True)
            x, y = (np.asarray(c, dtype=float) for c in to_ll.transform(x, y))
            has = np.array([gm is not None for gm in geoms], dtype=bool)
            if has.any():
                geoms[has] = shapely.transform(
                    geoms[has], lambda xy: np.column_stack(to_ll.transform(xy[:, 0], xy[:, 1])))
        straight = np.array([gm is None for gm in geoms], dtype=bool)
        if straight.any():
            iu, iv = u[straight], v[straight]
            geoms[straight] = shapely.linestrings(np.stack([np.c_[x[iu], y[iu]], np.c_[x[iv], y[iv]]], axis=1))
        return network_from_arrays(
            node_id=labels, node_x=x, node_y=y, edge_u=u, edge_v=v,
            edge_km=km, edge_kph=kph, edge_minutes=minutes,
            edge_road=np.array([_road(d) for _, _, d in rows], dtype=object),
            edge_class=np.array([_cls(d) for _, _, d in rows], dtype=object),
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
    twoway: bool = False,
) -> RoadNetwork:
    """Assemble a :class:`RoadNetwork` from plain arrays (OSM readers, benchmarks, generated graphs).

    Parameters
    ----------
    node_id
        Unique node labels.
    node_x, node_y
        Node longitude and latitude (EPSG:4326).
    edge_u, edge_v
        Edge ends as indexes into the node arrays.
    edge_km
        Edge length in km.
    edge_kph, edge_minutes
        Speed and travel time; give at least one, the other is derived.
    edge_road, edge_class
        Road id and class of each edge (empty strings when omitted).
    edge_geometry
        LineStrings oriented ``u`` -> ``v``; straight lines between the nodes when omitted.
    twoway
        Every edge can be driven both ways: add the reverse of each edge (pandana's ``twoway``).

    Raises
    ------
    NetworkError
        When the arrays disagree in length, an edge points at a node that does not exist, a
        length or travel time is negative or not a number, or node labels repeat.
    """
    node_id = np.asarray(node_id, dtype=object)
    node_x = np.asarray(node_x, dtype=float)
    node_y = np.asarray(node_y, dtype=float)
    edge_u = np.asarray(edge_u, dtype=np.int64)
    edge_v = np.asarray(edge_v, dtype=np.int64)
    edge_km = np.asarray(edge_km, dtype=float)
    n, m = len(node_id), len(edge_u)
    if not (len(node_x) == len(node_y) == n):
        raise NetworkError(f"node arrays differ in length ({n} ids, {len(node_x)} x, {len(node_y)} y)",
                           fix="pass one id, x and y per node")
    if edge_minutes is None:
        if edge_kph is None:
            raise NetworkError("network_from_arrays needs edge_minutes or edge_kph", fix="pass one of them")
        with np.errstate(divide="ignore", invalid="ignore"):
            edge_minutes = edge_km / np.asarray(edge_kph, dtype=float) * 60.0
    edge_minutes = np.asarray(edge_minutes, dtype=float)
    if edge_kph is None:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            edge_kph = np.where(edge_minutes > 0, edge_km / (edge_minutes / 60.0), np.nan)
    edge_kph = np.asarray(edge_kph, dtype=float)
    edge_road = np.asarray(edge_road if edge_road is not None else np.full(m, "", dtype=object), dtype=object)
    edge_class = np.asarray(edge_class if edge_class is not None else np.full(m, "", dtype=object), dtype=object)
    lengths = {len(a) for a in (edge_v, edge_km, edge_kph, edge_minutes, edge_road, edge_class)}
    if edge_geometry is not None:
        lengths.add(len(edge_geometry))
    if lengths != {m}:
        raise NetworkError(f"edge arrays differ in length ({sorted(lengths | {m})})", fix="pass one value per edge")
    if m and (min(edge_u.min(), edge_v.min()) < 0 or max(edge_u.max(), edge_v.max()) >= n):
        raise NetworkError(f"edges refer to nodes outside 0..{n - 1}",
                           fix="edge_u/edge_v are indexes into the node arrays")
    for name, arr in (("edge_km", edge_km), ("edge_minutes", edge_minutes)):
        wrong = ~(np.isfinite(arr) & (arr >= 0))
        if wrong.any():
            k = int(np.flatnonzero(wrong)[0])
            road = f" (road {edge_road[k]})" if edge_road[k] else ""
            raise NetworkError(f"{int(wrong.sum())} edge(s) have a negative or missing {name}, "
                               f"e.g. edge {k}{road}: {arr[k]}",
                               fix="give every edge a length and a positive speed or a travel time")
    if len(pd.unique(node_id)) != n:
        dup = pd.Series(node_id)[pd.Series(node_id).duplicated()].astype(str).unique()
        raise NetworkError(f"node ids repeat: {_listed(dup)}", fix="give every node its own id")
    if twoway:
        edge_u, edge_v = np.r_[edge_u, edge_v], np.r_[edge_v, edge_u]
        edge_km, edge_kph = np.r_[edge_km, edge_km], np.r_[edge_kph, edge_kph]
        edge_minutes = np.r_[edge_minutes, edge_minutes]
        edge_road, edge_class = np.r_[edge_road, edge_road], np.r_[edge_class, edge_class]
        if edge_geometry is not None:
            geoms = np.asarray(edge_geometry, dtype=object)
            edge_geometry = np.r_[geoms, shapely.reverse(geoms)]
    if edge_geometry is None:
        coords = np.stack([np.c_[node_x[edge_u], node_y[edge_u]], np.c_[node_x[edge_v], node_y[edge_v]]], axis=1)
        edge_geometry = np.asarray(shapely.linestrings(coords))
    bounds = (np.nanmin(node_x), np.nanmin(node_y), np.nanmax(node_x), np.nanmax(node_y)) if n else (0, 0, 1, 1)
    return RoadNetwork(
        node_id=node_id,
        node_x=node_x,
        node_y=node_y,
        edge_u=edge_u,
        edge_v=edge_v,
        edge_km=edge_km,
        edge_kph=edge_kph,
        edge_minutes=edge_minutes,
        edge_road=edge_road,
        edge_class=edge_class,
        edge_geometry=np.asarray(edge_geometry, dtype=object),
        metric_crs=metric_crs(bounds),
    )


def _listed(ids: np.ndarray, limit: int = 10) -> str:
    """List ids for an error message: ``a, b, c and 4 more``."""
    shown = ", ".join(map(str, ids[:limit]))
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _subset_edges(net: RoadNetwork, keep: np.ndarray) -> RoadNetwork:
    return replace(
        net,
        edge_u=net.edge_u[keep], edge_v=net.edge_v[keep], edge_km=net.edge_km[keep], edge_kph=net.edge_kph[keep],
        edge_minutes=net.edge_minutes[keep], edge_road=net.edge_road[keep], edge_class=net.edge_class[keep],
        edge_geometry=net.edge_geometry[keep], _csr_cache={}, _index_cache={},
    )


# --------------------------------------------------------------------------------------
# writing


def write_network(net: RoadNetwork, path: str | os.PathLike[str]) -> list[Path]:
    """Write the network's edges and nodes for GIS (QGIS), atomically and reproducibly.

    A ``.gpkg`` file gets two layers, ``edges`` (:meth:`RoadNetwork.edges_frame`) and
    ``nodes`` (:meth:`RoadNetwork.nodes_frame`). A ``.geojson`` path gets the edges as RFC
    7946 GeoJSON and the nodes beside it in ``<stem>.nodes.geojson``.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Raises
    ------
    GeoplanError
        For another file type, or a target that cannot be written.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    edges, nodes = net.edges_frame(), net.nodes_frame()
    try:
        if suffix == ".gpkg":
            write_gpkg(target, {"edges": edges, "nodes": nodes},
                       fix="choose a writable path with free space")
            return [target]
        if suffix in (".geojson", ".json"):
            node_path = target.with_name(f"{target.stem}.nodes{target.suffix}")
            write_geojson(edges, target, id_column=None, name="edges")
            write_geojson(nodes, node_path, name="nodes")
            return [target, node_path]
    except (OSError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise GeoplanError(f"{target}: cannot write the network: {str(exc).splitlines()[0] if str(exc) else exc}",
                           fix="choose a writable path with free space") from exc
    raise GeoplanError(f"{target}: unknown network file type '{target.suffix}'",
                       fix="use a .gpkg (edges and nodes layers) or .geojson file name")
