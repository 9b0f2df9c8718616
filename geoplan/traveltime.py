"""Travel times on a :class:`~geoplan.network.RoadNetwork` with compiled shortest paths.

All searches run in :func:`scipy.sparse.csgraph.dijkstra` on the network's CSR matrix. The
distance in km reported with a travel time is the length of the *fastest* route (not the
shortest one), summed along the shortest-path tree with vectorised pointer jumping.

Examples
--------
>>> import geoplan
>>> from geoplan.network import build_network, attach_places
>>> from geoplan.traveltime import od_matrix
>>> layers = geoplan.read_layers(geoplan.embedded_layers_path())
>>> net, _ = attach_places(build_network(layers.roads), layers.towns)
>>> od = od_matrix(net, ["saran", "abai"], ["karaganda"])
>>> bool((od.minutes < 60).all())  # Karaganda's satellite towns are within an hour
True
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import dijkstra
from tqdm import tqdm

from geoplan._errors import NetworkError
from geoplan.network import RoadNetwork, Weight

__all__ = ["ODMatrix", "od_matrix", "travel_times_from", "route_geometry", "routes", "path_sums"]


@dataclass(frozen=True)
class ODMatrix:
    """Origin x destination travel times.

    Attributes
    ----------
    origins, destinations
        Node labels (place ids).
    minutes
        Fastest travel time, ``inf`` where unreachable (or beyond the cutoff).
    km
        Road length of that fastest route, ``inf`` where unreachable.
    """

    origins: np.ndarray
    destinations: np.ndarray
    minutes: np.ndarray
    km: np.ndarray

    def long(self) -> pd.DataFrame:
        """One row per pair: ``origin``, ``destination``, ``minutes``, ``km``, ``reachable``.

        Unreachable pairs have ``reachable=False`` and empty (NaN) minutes and km.
        """
        o = np.repeat(self.origins, len(self.destinations))
        d = np.tile(self.destinations, len(self.origins))
        minutes = self.minutes.ravel()
        km = self.km.ravel()
        reach = np.isfinite(minutes)
        df = pd.DataFrame({
            "origin": o.astype(str),
            "destination": d.astype(str),
            "minutes": np.where(reach, minutes, np.nan),
            "km": np.where(reach, km, np.nan),
            "reachable": reach,
        })
        return df.sort_values(["origin", "destination"], kind="stable").reset_index(drop=True)

    def frame(self, value: str = "minutes") -> pd.DataFrame:
        """Return the matrix as a wide table: origins as rows, destinations as columns (``inf`` = unreachable).

        Parameters
        ----------
        value
            ``"minutes"`` or ``"km"``.
        """
        if value not in ("minutes", "km"):
            raise ValueError(f"value must be 'minutes' or 'km', got {value!r}")
        data = self.minutes if value == "minutes" else self.km
        return pd.DataFrame(data, index=pd.Index(self.origins.astype(str), name="origin"),
                            columns=pd.Index(self.destinations.astype(str), name="destination"))

    def nearest(self, *, exclude_self: bool = True) -> pd.DataFrame:
        """Return the fastest destination of each origin: ``origin``, ``destination``, ``minutes``, ``km``.

        With ``exclude_self`` a destination with the origin's own id is never chosen (a town
        that is also a growth centre is not its own nearest centre). Origins with no reachable
        destination get ``None`` and NaN.
        """
        mins = self.minutes.copy()
        if exclude_self:
            same = self.origins.astype(str)[:, None] == self.destinations.astype(str)[None, :]
            mins[same] = np.inf
        if mins.shape[1] == 0:
            best = np.zeros(len(self.origins), dtype=np.int64)
            found = np.zeros(len(self.origins), bool)
        else:
            best = np.argmin(mins, axis=1)
            found = np.isfinite(mins[np.arange(len(self.origins)), best])
        rows = np.arange(len(self.origins))
        return pd.DataFrame({
            "origin": self.origins.astype(str),
            "destination": np.where(found, self.destinations[best] if mins.shape[1] else None, None),
            "minutes": np.where(found, mins[rows, best] if mins.shape[1] else np.nan, np.nan),
            "km": np.where(found, self.km[rows, best] if mins.shape[1] else np.nan, np.nan),
        })


def _indices(net: RoadNetwork, nodes: Sequence[str] | np.ndarray) -> np.ndarray:
    arr = np.asarray(nodes)
    if arr.dtype.kind in "iu":
        if arr.size and (arr.min() < 0 or arr.max() >= net.n_nodes):
            raise NetworkError(f"node index out of range 0..{net.n_nodes - 1}", fix="pass valid node indexes or ids")
        return arr.astype(np.int64)
    return net.index_of(list(arr))


def travel_times_from(
    net: RoadNetwork,
    sources: Sequence[str] | np.ndarray,
    *,
    weight: Weight = "minutes",
    cutoff: float | None = None,
) -> np.ndarray:
    """Shortest travel time (or km) from each source to every node.

    Parameters
    ----------
    net
        The network.
    sources
        Node labels, or node indexes (integers).
    weight
        ``"minutes"`` or ``"km"``.
    cutoff
        Stop searching beyond this value; farther nodes get ``inf``.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(sources), net.n_nodes)``.
    """
    idx = _indices(net, sources)
    if cutoff is not None and not cutoff > 0:
        raise NetworkError(f"cutoff must be positive, got {cutoff}", fix="give a positive number of minutes")
    return dijkstra(net.csr(weight), directed=True, indices=idx, limit=np.inf if cutoff is None else cutoff)


def path_sums(pred: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Sum ``values`` (one per node: the value of the edge into it) along a shortest-path tree.

    ``pred`` is a predecessor row from :func:`scipy.sparse.csgraph.dijkstra` (-9999 at the root
    and at unreached nodes); the result holds, for each node, the sum of ``values`` over the
    nodes on its path from the root (the root's own value excluded). Uses pointer jumping:
    O(n log depth), no Python loop over nodes. ``pred`` may also be a forest over flattened
    rows (indexes into the flat array).
    """
    n = len(pred)
    idx = np.arange(n)
    jump = np.where(pred < 0, idx, pred)
    acc = np.where(pred < 0, 0.0, np.asarray(values, dtype=float))
    while True:
        nxt = jump[jump]
        if np.array_equal(nxt, jump):
            return acc
        # acc[i] holds the sum from i up to (not including) jump[i]; roots hold 0.
        acc = acc + np.where(jump != idx, acc[jump], 0.0)
        jump = nxt


#: Cells (origins x nodes) of one Dijkstra batch in :func:`od_matrix`: bounds the memory of
#: the distance and predecessor arrays (about 16 bytes per cell) on large networks.
_BATCH_CELLS = 20_000_000


def _tree_km(net: RoadNetwork, pred: np.ndarray) -> np.ndarray:
    """Road km from each row's source to every node along the shortest-path trees ``pred``.

    One row at a time: on large networks this keeps the working set in cache and is several
    times faster than pointer jumping over all rows flattened.
    """
    b, n = pred.shape
    out = np.empty((b, n))
    nodes = np.arange(n, dtype=np.int64)
    for r in range(b):
        p = pred[r]
        has = p >= 0
        into = np.zeros(n)
        if has.any():
            into[has] = net.edge_km[net.edge_between(p[has], nodes[has])]
        out[r] = path_sums(p, into)
    return out


def od_matrix(
    net: RoadNetwork,
    origins: Sequence[str],
    destinations: Sequence[str],
    *,
    cutoff: float | None = None,
    progress: bool = False,
) -> ODMatrix:
    """Fastest travel time and its road distance for every origin x destination pair.

    Parameters
    ----------
    net
        A network with the origins and destinations attached (:func:`~geoplan.network.attach_places`).
    origins, destinations
        Node labels.
    cutoff
        Minutes; pairs more than this apart are reported as unreachable (``inf``).
    progress
        Show a progress bar on stderr (when it is a terminal) for large jobs.

    Returns
    -------
    ODMatrix

    Raises
    ------
    NetworkError
        For ids that are not nodes of the network, or a cutoff that is not positive.
    """
    if cutoff is not None and not cutoff > 0:
        raise NetworkError(f"cutoff must be positive, got {cutoff}", fix="give a positive number of minutes")
    o_idx = _indices(net, origins)
    d_idx = _indices(net, destinations)
    mat = net.csr("minutes")
    limit = np.inf if cutoff is None else float(cutoff)
    minutes = np.full((len(o_idx), len(d_idx)), np.inf)
    km = np.full((len(o_idx), len(d_idx)), np.inf)
    if len(o_idx) and len(d_idx):
        batch = max(1, _BATCH_CELLS // max(net.n_nodes, 1))
        starts = range(0, len(o_idx), batch)
        show = progress and len(starts) > 1
        for s in tqdm(starts, desc="travel times", unit="batch", disable=None if show else True, file=sys.stderr):
            rows = slice(s, s + batch)
            dist, pred = dijkstra(mat, directed=True, indices=o_idx[rows], return_predecessors=True, limit=limit)
            dist = np.atleast_2d(dist)
            pred = np.atleast_2d(pred)
            total = _tree_km(net, pred)
            reach = np.isfinite(dist[:, d_idx])
            minutes[rows] = dist[:, d_idx]
            km[rows] = np.where(reach, total[:, d_idx], np.inf)
    return ODMatrix(np.asarray(list(map(str, origins)), dtype=object),
                    np.asarray(list(map(str, destinations)), dtype=object), minutes, km)


def routes(net: RoadNetwork, pairs: Sequence[tuple[str, str]]) -> list[shapely.LineString | None]:
    """Return the road geometry (EPSG:4326) of the fastest route for each (origin, destination) pair.

    One Dijkstra search per distinct origin.

    Parameters
    ----------
    net
        The network the places are attached to.
    pairs
        ``(origin, destination)`` node labels.

    Returns
    -------
    list of shapely.LineString or None
        One per pair, in order; ``None`` for an unreachable pair and for a place paired with
        itself.

    Raises
    ------
    NetworkError
        For labels that are not nodes of the network.
    """
    out: list[shapely.LineString | None] = [None] * len(pairs)
    by_origin: dict[str, list[int]] = {}
    for k, (o, _) in enumerate(pairs):
        by_origin.setdefault(str(o), []).append(k)
    mat = net.csr("minutes")
    for o, ks in sorted(by_origin.items()):
        src = int(net.index_of(o)[0])
        _, pred = dijkstra(mat, directed=True, indices=src, return_predecessors=True)
        for k in ks:
            dst = int(net.index_of(str(pairs[k][1]))[0])
            if dst == src:
                continue
            path = [dst]
            while path[-1] != src and pred[path[-1]] >= 0:
                path.append(int(pred[path[-1]]))
            if path[-1] != src:
                continue
            path.reverse()
            edges = net.edge_between(np.array(path[:-1]), np.array(path[1:]))
            parts = [shapely.get_coordinates(g) for g in net.edge_geometry[edges]]
            coords = np.vstack([parts[0]] + [p[1:] for p in parts[1:]]) if parts else np.empty((0, 2))
            out[k] = shapely.LineString(coords) if len(coords) >= 2 else None
    return out


def route_geometry(net: RoadNetwork, origin: str, destination: str) -> shapely.LineString | None:
    """Road geometry (EPSG:4326) of the fastest route from ``origin`` to ``destination``."""
    return routes(net, [(origin, destination)])[0]
