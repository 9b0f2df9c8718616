"""Road networks: from a roads layer to a routable graph.

:func:`build_network` turns a roads layer (hand-made, or from :mod:`geoplan.osm`) into a
:class:`RoadNetwork`: nodes at segment ends and at vertices shared by several roads (a dangling
end within a snapping tolerance of another node, in metres in a metric CRS, is merged into it),
directed edges with length, speed and travel time. The network is held as flat arrays
(pandana's lesson: no Python object per node), turns into a CSR matrix for
:mod:`scipy.sparse.csgraph`, and into an osmnx-compatible ``networkx.MultiDiGraph`` for
interoperability. :func:`attach_places` connects towns and centres by projecting them onto the
nearest edge (not the nearest node) with an access leg.

Default speeds (:data:`DEFAULT_SPEEDS_KPH`) are average travel speeds for Kazakhstan, not speed
limits. The Rules of the Road allow 90 km/h outside settlements (110 on motorways, up to 140 on
the toll expressways) and 60 km/h in them; averages are lower because roads cross villages,
carry heavy trucks and vary in condition. The defaults reproduce typical door-to-door times:
Astana-Karaganda (205 km, mostly toll motorway) in about 2 h 20, Karaganda-Balkhash (372 km,
four-lane trunk) in about 4 h 10, Pavlodar-Ekibastuz (135 km, two-lane trunk) in about 1 h 40.
Four-lane trunk and primary roads get :data:`FOUR_LANE_BONUS_KPH` more; unpaved surfaces are
capped at :data:`UNPAVED_CAP_KPH`. A ``speed_kph`` value on a road overrides all of this, and a
run can pass its own ``speeds`` table.

:func:`build_rail_network` makes the same kind of network from the optional ``rail`` and
``rail_stations`` layers (nodes are stations, edges are links with their track length), and
:func:`attach_served_places` joins each town and centre to the station(s) that serve it, so
that :func:`geoplan.traveltime.od_matrix` gives rail travel times between places.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely
import shapely.ops
from pyproj import CRS, Geod, Transformer
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from geoplan._errors import GeoplanError, NetworkError
from geoplan._io import atomic_path, write_geojson
from geoplan.layers import GPKG_TIMESTAMP, ROAD_CLASSES, metric_crs

__all__ = [
    "DEFAULT_SPEEDS_KPH",
    "FOUR_LANE_BONUS_KPH",
    "UNPAVED_CAP_KPH",
    "RoadNetwork",
    "build_network",
    "attach_places",
    "network_from_arrays",
    "road_speeds",
    "write_network",
    "RAIL_SPEED_KPH",
    "build_rail_network",
    "attach_served_places",
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
#: Surface values (OSM ``surface=*`` vocabulary included) that get the unpaved speed cap.
_UNPAVED_OSM = ("compacted", "fine_gravel", "ground", "earth", "sand", "grass", "mud", "pebblestone", "rock", "soil")

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
        """Return the network as an osmnx-compatible ``MultiDiGraph``.

        Nodes are the integers ``0..n_nodes-1`` and carry ``x``/``y`` (lon/lat), ``label``
        (the node id) and ``street_count``; edges carry ``length`` (m), ``speed_kph``,
        ``travel_time`` (s), ``highway`` (road class), ``osmid`` and ``road`` (road id) and
        ``geometry``; the graph carries ``crs``. osmnx functions such as
        ``osmnx.routing.shortest_path(G, u, v, weight="travel_time")`` and
        ``osmnx.convert.graph_to_gdfs(G)`` work on it.
        """
        g = nx.MultiDiGraph(crs=self.crs.to_string(), name="geoplan road network")
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
    def from_networkx(cls, g: nx.MultiDiGraph | nx.DiGraph | nx.Graph) -> RoadNetwork:
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

        def _road(d: dict) -> str:
            r = d.get("road", d.get("osmid", ""))
            return ";".join(map(str, r)) if isinstance(r, list) else str(r)

        def _cls(d: dict) -> str:
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
        edge_geometry = shapely.linestrings(coords)
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


# --------------------------------------------------------------------------------------
# building from a roads layer


def _speeds(roads: gpd.GeoDataFrame, speeds: Mapping[str, float] | None) -> np.ndarray:
    table = dict(DEFAULT_SPEEDS_KPH)
    for cls_name, kph in (speeds or {}).items():
        if isinstance(kph, bool) or not isinstance(kph, numbers.Real) or not (math.isfinite(kph) and kph > 0):
            raise NetworkError(f"speed for road class '{cls_name}' is {kph!r}", fix="give a positive number of km/h")
        table[str(cls_name)] = float(kph)
    ids = roads["id"].astype(str).to_numpy(dtype=object) if "id" in roads.columns else np.arange(len(roads)).astype(str)
    classes = roads["road_class"].astype(object).to_numpy()
    classes = np.array([c.strip() if isinstance(c, str) else c for c in classes], dtype=object)
    if "speed_kph" in roads.columns:
        raw = roads["speed_kph"]
        override = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        given = raw.notna().to_numpy() & ~(raw.astype(str).str.strip() == "").to_numpy()
        wrong = given & ~(np.isfinite(override) & (override > 0))
        if wrong.any():
            listed = ", ".join(f"{i} ({v!r})" for i, v in zip(ids[wrong][:10], raw[wrong].head(10), strict=False))
            raise NetworkError(f"roads whose speed_kph is not a positive number: {listed}",
                               fix="type a plain number of km/h in speed_kph, or leave it empty for the class default")
        has_override = given
    else:
        override = np.full(len(roads), np.nan)
        has_override = np.zeros(len(roads), bool)
    known = np.isin(classes, list(table))
    if not (known | has_override).all():
        bad = ~(known | has_override)
        listed = ", ".join(f"{i} ({c!r})" for i, c in zip(ids[bad][:10], classes[bad][:10], strict=True))
        more = f" and {int(bad.sum()) - 10} more" if bad.sum() > 10 else ""
        raise NetworkError(
            f"roads with a class that has no speed: {listed}{more}",
            fix=f"set road_class to one of {', '.join(ROAD_CLASSES)}, or give speed_kph on the road or a speed "
                "for the class",
        )
    kph = np.array([table.get(c, np.nan) if isinstance(c, str) else np.nan for c in classes], dtype=float)
    if "lanes" in roads.columns:
        lanes = pd.to_numeric(roads["lanes"], errors="coerce").to_numpy(dtype=float)
        four = (lanes >= 4) & np.isin(classes, ("trunk", "primary"))
        kph = np.where(four, kph + FOUR_LANE_BONUS_KPH, kph)
    if "surface" in roads.columns:
        surface = roads["surface"].astype(object).map(lambda v: v.strip().lower() if isinstance(v, str) else v)
        unpaved = surface.isin(_UNPAVED + _UNPAVED_OSM).to_numpy()
        kph = np.where(unpaved, np.minimum(kph, UNPAVED_CAP_KPH), kph)
    return np.where(has_override, override, kph)


def road_speeds(roads: gpd.GeoDataFrame, *, speeds: Mapping[str, float] | None = None) -> np.ndarray:
    """Travel speed of each road in km/h, with the same rules as :func:`build_network`.

    Class default (:data:`DEFAULT_SPEEDS_KPH`, overridden per class by ``speeds``), plus
    :data:`FOUR_LANE_BONUS_KPH` on four-lane trunk and primary roads, capped at
    :data:`UNPAVED_CAP_KPH` on unpaved surfaces; a road's own ``speed_kph`` wins. Used by
    :mod:`geoplan.surface` so the raster and the network share one speed model.

    Raises
    ------
    NetworkError
        Naming the roads whose class has no speed, or a class given a non-positive speed.
    """
    if "road_class" not in roads.columns:
        raise NetworkError("the roads layer has no 'road_class' column",
                           fix="add 'road_class' (see `geoplan layers check`)")
    return _speeds(roads.reset_index(drop=True), speeds)


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
    snap_tolerance_m: float = 1.0,
    progress: bool = False,
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
        Print stage messages to stderr.

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
    kph_road = _speeds(roads, speeds)
    direction = _oneway(roads, road_ids)
    if progress:
        print(f"network: {len(roads):,} road segments", file=sys.stderr)

    pieces, part_of_piece = _split_at_shared_vertices(lines_m, tol_key=0.01)
    owner = road_of_part[part_of_piece]
    piece_len_m = shapely.length(pieces)
    declared = (pd.to_numeric(roads["length_km"], errors="coerce").to_numpy(dtype=float)
                if "length_km" in roads.columns else np.full(len(roads), np.nan))
    frac = piece_len_m / road_len_m[owner]
    use_declared = np.isfinite(declared[owner]) & (declared[owner] > 0)
    km = np.where(use_declared, declared[owner] * frac, piece_len_m / 1000.0)

    # Nodes: piece ends, merged when within the snapping tolerance.
    starts = shapely.get_coordinates(shapely.get_point(pieces, 0))
    ends = shapely.get_coordinates(shapely.get_point(pieces, -1))
    pts = np.vstack([starts, ends])
    exact_keys, inv = np.unique(np.round(pts, 2), axis=0, return_inverse=True)
    inv = inv.ravel()
    cluster = np.arange(len(exact_keys))
    if snap_tolerance_m > 0 and len(exact_keys) > 1:
        # Snap only dangling ends (used by one segment) onto the nearest other node within the
        # tolerance, without chaining: junctions of dense (OSM) networks stay as they are.
        degree = np.bincount(inv, minlength=len(exact_keys))
        dangling = np.flatnonzero(degree == 1)
        if dangling.size:
            key_pts = shapely.points(exact_keys)
            tree = shapely.STRtree(key_pts)
            a, b = tree.query(key_pts[dangling], predicate="dwithin", distance=snap_tolerance_m)
            other = dangling[a] != b
            a, b = a[other], b[other]
            if a.size:
                d = shapely.distance(key_pts[dangling[a]], key_pts[b])
                order = np.lexsort((b, d, a))  # nearest target first, ties by index
                first = np.r_[True, a[order][1:] != a[order][:-1]]
                src, dst = dangling[a[order][first]], b[order][first]
                # A pair of dangling ends snaps once, onto the lower index.
                mutual = np.isin(dst, src) & (src < dst)
                cluster[src[~mutual]] = dst[~mutual]
                cluster = cluster[cluster]  # resolve one level of a->b->c
    _, cluster = np.unique(cluster, return_inverse=True)
    node_of_pt = cluster.ravel()[inv]
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

    dir_piece = direction[owner]
    fwd = dir_piece >= 0
    back = dir_piece <= 0
    kph = kph_road[owner]
    rid = road_ids[owner]
    classes = roads["road_class"].to_numpy(dtype=object)[owner]
    classes = np.array([c.strip() if isinstance(c, str) else "" for c in classes], dtype=object)
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
        metric_crs=crs_m,
    )
    # Self-loops (a closed ring with no junction, or a piece shorter than the snapping
    # tolerance whose ends were merged) lead nowhere; routing never needs them.
    loops = net.edge_u == net.edge_v
    if loops.any():
        net = _subset_edges(net, ~loops)
    if progress:
        print(f"network: {net.n_nodes:,} nodes, {net.n_edges:,} directed edges", file=sys.stderr)
    return net


def _listed(ids: np.ndarray, limit: int = 10) -> str:
    """List ids for an error message: ``a, b, c and 4 more``."""
    shown = ", ".join(map(str, ids[:limit]))
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


_ONEWAY_FWD = {"1", "yes", "true", "1.0"}
_ONEWAY_REV = {"-1", "reverse", "-1.0"}
_ONEWAY_BOTH = {"0", "no", "false", "0.0", "", "nan", "none", "<na>"}


def _oneway(roads: gpd.GeoDataFrame, road_ids: np.ndarray) -> np.ndarray:
    """Direction of each road: 1 = only as drawn, -1 = only against the drawing, 0 = both ways.

    Accepts the layer's 0/1 and OSM's ``yes``/``no``/``-1``/``true``/``false``.
    """
    if "oneway" not in roads.columns:
        return np.zeros(len(roads), dtype=np.int8)
    text = roads["oneway"].astype(object).map(lambda v: "" if v is None or v is pd.NA else str(v).strip().lower())
    text = text.to_numpy(dtype=object)
    out = np.zeros(len(roads), dtype=np.int8)
    out[np.isin(text, list(_ONEWAY_FWD))] = 1
    out[np.isin(text, list(_ONEWAY_REV))] = -1
    unknown = ~np.isin(text, list(_ONEWAY_FWD | _ONEWAY_REV | _ONEWAY_BOTH))
    if unknown.any():
        listed = ", ".join(f"{i} ({v!r})" for i, v in zip(road_ids[unknown][:10], text[unknown][:10], strict=True))
        raise NetworkError(f"roads with an unreadable oneway value: {listed}",
                           fix="use 1 (one-way as drawn), -1 (one-way against the drawing) or 0/empty (two-way)")
    return out


def _subset_edges(net: RoadNetwork, keep: np.ndarray) -> RoadNetwork:
    return replace(
        net,
        edge_u=net.edge_u[keep], edge_v=net.edge_v[keep], edge_km=net.edge_km[keep], edge_kph=net.edge_kph[keep],
        edge_minutes=net.edge_minutes[keep], edge_road=net.edge_road[keep], edge_class=net.edge_class[keep],
        edge_geometry=net.edge_geometry[keep], _csr_cache={}, _index_cache={},
    )


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
    access_kph: float = 30.0,
    max_snap_km: float = 25.0,
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

    report = pd.DataFrame({
        "id": ids_all,
        "road": None,
        "snap_km": np.nan,
        "access_minutes": np.nan,
        "snapped": attached_before.copy(),
    })
    rows_new = np.flatnonzero(new)
    report.loc[rows_new, "road"] = np.where(snapped, net.edge_road[np.maximum(edge_of, 0)], None)
    report.loc[rows_new, "snap_km"] = np.where(np.isfinite(dist_m), dist_m / 1000.0, np.nan)
    report.loc[rows_new, "access_minutes"] = np.where(snapped, dist_m / 1000.0 / access_kph * 60.0, np.nan)
    report.loc[rows_new, "snapped"] = snapped
    if attached_before.any():
        _describe_existing(net, report, np.flatnonzero(attached_before))
    report["snapped"] = report["snapped"].astype(bool)
    report["snap_km"] = report["snap_km"].astype(float)
    report["access_minutes"] = report["access_minutes"].astype(float)

    node_id = _yield_labels(net.node_id, ids)
    node_x, node_y = list(net.node_x), list(net.node_y)
    node_lab = list(node_id)
    keep = np.ones(net.n_edges, bool)
    new_edges: list[tuple] = []  # (u, v, km, kph, road, class, geometry)

    # Group places by the undirected edge they hit: the edge and its twin (same road, reversed).
    hit = np.unique(edge_of[snapped])
    twin_of_hit = _twin_edges(net, hit)
    twin = dict(zip(hit.tolist(), twin_of_hit.tolist(), strict=True))
    twin.update({t: e for e, t in zip(hit.tolist(), twin_of_hit.tolist(), strict=True) if t >= 0})
    groups: dict[int, list[int]] = {}
    for i in np.flatnonzero(snapped):
        e = int(edge_of[i])
        tw = twin[e]
        groups.setdefault(min(e, tw) if tw >= 0 else e, []).append(int(i))

    to_m = Transformer.from_crs(4326, net.metric_crs, always_xy=True)
    inv = Transformer.from_crs(net.metric_crs, 4326, always_xy=True)
    canon = np.array(sorted(groups), dtype=np.int64)
    lines_m = shapely.transform(
        net.edge_geometry[canon], lambda xy: np.column_stack(to_m.transform(xy[:, 0], xy[:, 1])))
    pts_m = shapely.points(np.column_stack(to_m.transform(place_x, place_y)))
    for e, line in zip(canon.tolist(), lines_m, strict=True):
        members = groups[e]
        length = line.length
        t = shapely.line_locate_point(line, pts_m[members])
        order_t = np.argsort(t, kind="stable")
        members = [members[k] for k in order_t]
        t = t[order_t]
        chain = [int(net.edge_u[e])]
        cuts = [0.0]
        for i, ti in zip(members, t, strict=True):
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
                p_node = len(node_lab)
                node_lab.append(f"snap:{ids[i]}")
                node_x.append(lon)
                node_y.append(lat)
                chain.append(p_node)
                cuts.append(float(ti))
            # Place node and its access legs (both directions).
            t_node = len(node_lab)
            node_lab.append(ids[i])
            node_x.append(float(place_x[i]))
            node_y.append(float(place_y[i]))
            akm = float(dist_m[i]) / 1000.0
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
            if not isinstance(piece_m, shapely.LineString):  # substring of zero length is a Point
                piece_m = shapely.LineString([piece_m, piece_m])
            piece = shapely.transform(piece_m, lambda xy: np.column_stack(inv.transform(xy[:, 0], xy[:, 1])))
            # Pin the ends to the node coordinates so that the geometry joins exactly.
            coords = shapely.get_coordinates(piece)
            coords[0], coords[-1] = (node_x[a], node_y[a]), (node_x[b], node_y[b])
            piece = shapely.LineString(coords)
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
    geom_new = np.empty(len(ngeom), dtype=object)
    geom_new[:] = ngeom
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
        edge_geometry=np.r_[net.edge_geometry[keep], geom_new],
        metric_crs=net.metric_crs,
        crs=net.crs,
    )
    return out, report


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
        return shapely.transform(
            net.edge_geometry[edges], lambda xy: np.column_stack(to_m.transform(xy[:, 0], xy[:, 1])))

    px, py = (np.asarray(c, dtype=float) for c in to_m.transform(x[ok], y[ok]))
    pts_m = shapely.points(px, py)
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
        return cached[1]
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


# --------------------------------------------------------------------------------------
# rail


#: Default average speed of a passenger train between stations, km/h, stops included.
#: Kazakhstan's long-distance trains average 50-60 km/h over whole routes (timetables in the
#: fact notes: Balkhash-Almaty-2 51 and 58 km/h, the Pavlodar-Almaty Talgo via Semey 54-56
#: km/h); faster electric and Talgo services on Astana-Karaganda and Astana-Kokshetau reach
#: 75-90 km/h, the Taraz-Zhanatas local train 45 km/h. 60 km/h sits in the middle of the
#: long-distance range; links with a scheduled time (``typical_minutes``) use it instead.
RAIL_SPEED_KPH = 60.0

_GEOD = Geod(ellps="WGS84")


def _text(values: pd.Series) -> np.ndarray:
    """Return the values as stripped strings, ``""`` where missing."""
    def one(v: object) -> str:
        return "" if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else str(v).strip()

    return np.array([one(v) for v in values], dtype=object)


def build_rail_network(
    rail: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
    *,
    speed_kph: float = RAIL_SPEED_KPH,
    passenger_only: bool = True,
) -> RoadNetwork:
    """Build a routable railway network from the ``rail`` and ``rail_stations`` layers.

    Every station is a node labelled with its id (stations whose links are all left out stay
    as isolated nodes); every link is an edge in both directions with the layer's ``km`` (the
    track length, not the drawn length), drawn straight between its stations. Travel time is
    the link's ``typical_minutes`` where given, else ``km / speed_kph``. Edges have class
    ``"rail"`` and the link id as road id.

    Parameters
    ----------
    rail
        Links with ``id``, ``from_station``, ``to_station``, ``km`` and, with
        ``passenger_only``, ``passenger``; optional ``typical_minutes``.
    stations
        Station points with ``id``.
    speed_kph
        Average passenger-train speed, stops included (:data:`RAIL_SPEED_KPH`).
    passenger_only
        Keep only links with ``passenger == "yes"`` (regular passenger trains found).

    Returns
    -------
    RoadNetwork

    Raises
    ------
    NetworkError
        For a non-positive speed, missing columns or CRS, stations without a point, and naming
        the links whose station is unknown or whose ``km`` is not a positive number.
    """
    if isinstance(speed_kph, bool) or not (isinstance(speed_kph, numbers.Real) and math.isfinite(speed_kph)
                                           and speed_kph > 0):
        raise NetworkError(f"speed_kph is {speed_kph!r}", fix="give a positive average train speed in km/h")
    for name, gdf, cols in (("rail_stations", stations, ("id",)),
                            ("rail", rail, ("id", "from_station", "to_station", "km")
                             + (("passenger",) if passenger_only else ()))):
        missing = [c for c in cols if c not in gdf.columns]
        if missing:
            fix = ("add the column (see `geoplan layers check`)"
                   + (", or pass passenger_only=False" if "passenger" in missing else ""))
            raise NetworkError(f"the {name} layer has no {', '.join(repr(c) for c in missing)} column", fix=fix)
        if gdf.crs is None:
            raise NetworkError(f"the {name} layer has no CRS", fix="assign the CRS of its coordinates (EPSG:4326)")
    st_ids, st_geoms, st_absent = _place_points(stations, "id")
    if st_absent.any():
        raise NetworkError(f"stations without a point: {_listed(st_ids[st_absent])}",
                           fix="give every station its position (run `geoplan layers check`)")
    rail = rail.reset_index(drop=True)
    if passenger_only:
        rail = rail[_text(rail["passenger"]) == "yes"].reset_index(drop=True)
    link_ids = _text(rail["id"])
    a, b = _text(rail["from_station"]), _text(rail["to_station"])
    lookup = pd.Index(st_ids)
    u, v = lookup.get_indexer(a), lookup.get_indexer(b)
    unknown = (u < 0) | (v < 0)
    if unknown.any():
        listed = ", ".join(f"{i} ({x if ui < 0 else y})" for i, x, y, ui in
                           zip(link_ids[unknown][:10], a[unknown], b[unknown], u[unknown], strict=False))
        raise NetworkError(f"rail links whose station is not in rail_stations: {listed}",
                           fix="correct from_station/to_station or add the stations (run `geoplan layers check`)")
    km = pd.to_numeric(rail["km"], errors="coerce").to_numpy(dtype=float)
    bad = ~(np.isfinite(km) & (km > 0))
    if bad.any():
        raise NetworkError(f"rail links without a positive km: {_listed(link_ids[bad])}",
                           fix="fill in the track length in km (run `geoplan layers check`)")
    scheduled = (pd.to_numeric(rail["typical_minutes"], errors="coerce").to_numpy(dtype=float)
                 if "typical_minutes" in rail.columns else np.full(len(rail), np.nan))
    minutes = np.where(np.isfinite(scheduled) & (scheduled > 0), scheduled, km / float(speed_kph) * 60.0)
    return network_from_arrays(
        node_id=st_ids, node_x=shapely.get_x(st_geoms), node_y=shapely.get_y(st_geoms),
        edge_u=u, edge_v=v, edge_km=km, edge_minutes=minutes, edge_road=link_ids,
        edge_class=np.full(len(rail), "rail", dtype=object), twoway=True,
    )


def attach_served_places(
    net: RoadNetwork,
    stations: gpd.GeoDataFrame,
    places: gpd.GeoDataFrame,
    *,
    access_kph: float = 30.0,
    id_column: str = "id",
) -> tuple[RoadNetwork, pd.DataFrame]:
    """Join each place to the station(s) that serve it, for rail travel times between places.

    A place gets a node labelled with its id and, for every station whose ``serves`` is that
    id, an access leg in both directions of the great-circle (WGS 84 geodesic) distance
    between place and station at ``access_kph``. A station labelled with a place id (the
    station ``ekibastuz`` serving the town ``ekibastuz``) is renamed ``node:<id>``, as in
    :func:`attach_places`. A place that no station serves (or without a point) becomes an
    isolated node: its travel times are "unreachable", not an error. A place already added by
    an earlier call is kept as it is.

    Parameters
    ----------
    net
        The network from :func:`build_rail_network`.
    stations
        The ``rail_stations`` layer (``id``, ``serves``).
    places
        Points with an ``id`` column (towns and centres may be concatenated; duplicate ids
        are attached once).
    access_kph
        Speed on the access leg (getting to the station by road).
    id_column
        The column holding the place ids.

    Returns
    -------
    network, report
        The network with the places as nodes, and one row per place: ``id``, ``stations``
        (serving station ids joined by ``;``), ``access_km`` and ``access_minutes`` (to the
        nearest of them; empty for places kept from an earlier call), ``attached``.

    Raises
    ------
    NetworkError
        For non-positive ``access_kph``, stations without ``id``/``serves``, a serving station
        that is not a node of ``net``, and the place errors of :func:`attach_places`.
    """
    if not access_kph > 0:
        raise NetworkError(f"access_kph ({access_kph}) must be > 0", fix="use a positive speed")
    for col in ("id", "serves"):
        if col not in stations.columns:
            raise NetworkError(f"the rail_stations layer has no '{col}' column",
                               fix=f"add '{col}' (see `geoplan layers check`)")
    ids_all, geoms_all, absent = _place_points(places, id_column)
    serves, st_id = _text(stations["serves"]), _text(stations["id"])
    # Places added by an earlier call (with access legs, or isolated) are kept as they are: a
    # label that is not a station's, or whose station was already renamed node:<id>.
    labels = set(net.node_id.astype(str).tolist())
    stations_ids = set(st_id.tolist())
    legged = _attached_before(net, ids_all)[0]
    before = legged | np.array(
        [i in labels and (i not in stations_ids or f"node:{i}" in labels) for i in ids_all], dtype=bool)
    served = np.isin(serves, ids_all[~before]) & (serves != "")
    # Station nodes by their label in ``net`` (before places take the plain ids over).
    st_node = net.index_of(st_id[served])
    pos = pd.Index(ids_all).get_indexer(serves[served])
    ok = ~absent[pos]
    st_node, pos = st_node[ok], pos[ok]
    px, py = shapely.get_x(geoms_all[pos]), shapely.get_y(geoms_all[pos])
    _, _, dist_m = _GEOD.inv(px, py, net.node_x[st_node], net.node_y[st_node])
    km = np.asarray(dist_m, dtype=float) / 1000.0

    new = ~before
    place_node = np.full(len(ids_all), -1, dtype=np.int64)
    place_node[new] = net.n_nodes + np.arange(int(new.sum()))
    gx = np.where(absent, np.nan, shapely.get_x(geoms_all))
    gy = np.where(absent, np.nan, shapely.get_y(geoms_all))
    t_node = place_node[pos]
    legs = shapely.linestrings(np.stack([np.c_[px, py], np.c_[net.node_x[st_node], net.node_y[st_node]]], axis=1))
    leg_road = np.array([f"access:{i}" for i in ids_all[pos]], dtype=object)
    grown = network_from_arrays(
        node_id=np.r_[_yield_labels(net.node_id, ids_all[new]), ids_all[new]],
        node_x=np.r_[net.node_x, gx[new]],
        node_y=np.r_[net.node_y, gy[new]],
        edge_u=np.r_[net.edge_u, t_node, st_node],
        edge_v=np.r_[net.edge_v, st_node, t_node],
        edge_km=np.r_[net.edge_km, km, km],
        edge_minutes=np.r_[net.edge_minutes, km / access_kph * 60.0, km / access_kph * 60.0],
        edge_road=np.r_[net.edge_road, leg_road, leg_road],
        edge_class=np.r_[net.edge_class, np.full(2 * len(pos), "access", dtype=object)],
        edge_geometry=np.r_[net.edge_geometry, legs, shapely.reverse(legs)],
    )
    grown = replace(grown, metric_crs=net.metric_crs, crs=net.crs)

    # Report: the nearest serving station of each place.
    legs_frame = pd.DataFrame({"pos": pos, "station": net.node_id[st_node].astype(str), "km": km})
    legs_frame = legs_frame.sort_values(["pos", "km", "station"], kind="stable")
    names = legs_frame.groupby("pos")["station"].agg(";".join)
    best = legs_frame.drop_duplicates("pos", keep="first").set_index("pos")["km"]
    idx = np.arange(len(ids_all))
    report = pd.DataFrame({
        "id": ids_all,
        "stations": pd.Series(idx).map(names).to_numpy(dtype=object),
        "access_km": pd.Series(idx).map(best).to_numpy(dtype=float),
        "attached": np.isin(idx, pos) | legged,
    })
    report["access_minutes"] = report["access_km"] / access_kph * 60.0
    return grown, report[["id", "stations", "access_km", "access_minutes", "attached"]]


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
            previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
            pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_TIMESTAMP})
            try:
                with atomic_path(target) as tmp:
                    for name, gdf in (("edges", edges), ("nodes", nodes)):
                        pyogrio.write_dataframe(gdf, tmp, layer=name, driver="GPKG", append=tmp.exists(),
                                                layer_options={"SPATIAL_INDEX": "YES"})
            finally:
                pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
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
