"""Travel times on a :class:`~geoplan.network.RoadNetwork` with compiled shortest paths.

One-to-all searches (:func:`travel_times_from`) run in :func:`scipy.sparse.csgraph.dijkstra`
on the network's CSR matrix. Origin x destination tables (:func:`od_matrix`) run a compiled
(numba) Dijkstra that carries the second quantity along with the first in the same pass, so the
table holds the travel time *and* the road km of that fastest route (or, with ``weight="km"``,
the shortest distance and its travel time) at the cost of one search per row:

* it searches from whichever side has fewer places, on the reversed graph when that is the
  destinations;
* each search stops as soon as every requested place is settled (or at the cutoff);
* ties are broken lexicographically: among routes equally fast (to the last bit), the one
  with the fewest km, so the km of a pair does not depend on which other places are asked.

The travel times equal :func:`scipy.sparse.csgraph.dijkstra`'s bit for bit when searching from
the origins; from the destinations the sums run along the route the other way, which can move
the last bit (relative differences below 1e-15 per edge).

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

import math
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import dijkstra

from geoplan._errors import NetworkError
from geoplan._progress import progress_bar, progress_enabled
from geoplan.network import RoadNetwork, Weight

__all__ = ["ODMatrix", "od_matrix", "ODPlan", "plan_od", "SearchGraph", "search_graph", "od_block", "check_cutoff",
           "travel_times_from", "route_geometry", "routes", "path_sums"]


@dataclass(frozen=True)
class ODMatrix:
    """Origin x destination travel times.

    Attributes
    ----------
    origins, destinations
        Node labels (place ids).
    minutes
        Travel time of the chosen route, ``inf`` where unreachable (or beyond the cutoff).
    km
        Road length of that route, ``inf`` where unreachable.
    weight
        What the route minimises: ``"minutes"`` (the fastest route, the default) or ``"km"``
        (the shortest route); :meth:`nearest` ranks destinations by it.
    """

    origins: np.ndarray
    destinations: np.ndarray
    minutes: np.ndarray
    km: np.ndarray
    weight: Weight = "minutes"

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

    def frame(self, *, value: str = "minutes") -> pd.DataFrame:
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
        """Return the nearest destination of each origin: ``origin``, ``destination``, ``minutes``, ``km``.

        Nearest by travel time, or by road km for a matrix computed with ``weight="km"``.

        With ``exclude_self`` a destination with the origin's own id is never chosen (a town
        that is also a growth centre is not its own nearest centre). Origins with no reachable
        destination get ``None`` and NaN.
        """
        mins = (self.km if self.weight == "km" else self.minutes).copy()
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
        if mins.shape[1] == 0:
            dest = np.full(len(self.origins), None, dtype=object)
            minutes = km = np.full(len(self.origins), np.nan)
        else:
            dest, minutes, km = self.destinations[best], self.minutes[rows, best], self.km[rows, best]
        return pd.DataFrame({
            "origin": self.origins.astype(str),
            "destination": np.where(found, dest, np.full(len(dest), None, dtype=object)),
            "minutes": np.where(found, minutes, np.nan),
            "km": np.where(found, km, np.nan),
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
    _check_weight(weight)
    limit = check_cutoff(cutoff, unit=weight)
    idx = _indices(net, sources)
    return np.asarray(dijkstra(net.csr(weight=weight), directed=True, indices=idx, limit=limit), dtype=float)


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


def check_cutoff(cutoff: float | None, *, unit: str = "minutes") -> float:
    """Return the search limit for ``cutoff``: ``inf`` for ``None``, else the cutoff as a float.

    Raises
    ------
    NetworkError
        For a cutoff that is not a positive number (zero, negative, NaN, text).
    """
    if cutoff is None:
        return math.inf
    try:
        value = float(cutoff)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(cutoff, bool) or not value > 0:  # also catches NaN
        raise NetworkError(f"cutoff must be a positive number of {unit}, got {cutoff!r}",
                           fix=f"give a positive number of {unit}, or no cutoff to search the whole network")
    return value


@dataclass(frozen=True)
class SearchGraph:
    """One direction of a network as CSR arrays for :func:`od_block`.

    Plain numpy arrays (cheap to pickle: :mod:`geoplan.distributed` ships them to each worker
    once). Row ``u`` holds the edges leaving ``u`` (entering ``u`` on the reversed graph);
    parallel edges are reduced to the best one by (``primary``, ``secondary``).

    Attributes
    ----------
    indptr, indices
        CSR structure (int64 row pointers, int32 column indexes).
    primary
        The weight the search minimises, per entry.
    secondary
        The quantity carried along the chosen route (km when minimising minutes, and the
        other way round), per entry.
    weight
        Name of the primary weight.
    reverse
        Whether the edges are reversed (a search from destinations).
    """

    indptr: np.ndarray
    indices: np.ndarray
    primary: np.ndarray
    secondary: np.ndarray
    weight: Weight = "minutes"
    reverse: bool = False

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.indptr) - 1

    @property
    def nbytes(self) -> int:
        """Size of the arrays in bytes."""
        return int(self.indptr.nbytes + self.indices.nbytes + self.primary.nbytes + self.secondary.nbytes)


def search_graph(net: RoadNetwork, *, weight: Weight = "minutes", reverse: bool = False) -> SearchGraph:
    """Return the CSR arrays of ``net`` for :func:`od_block` (cached on the network).

    Parameters
    ----------
    net
        The network.
    weight
        ``"minutes"`` (fastest routes; km carried along) or ``"km"`` (shortest routes; minutes
        carried along).
    reverse
        Reverse every edge: a search from a place on the reversed graph gives the travel times
        *to* that place.
    """
    _check_weight(weight)
    key = ("search", weight, bool(reverse))
    cached = net._csr_cache.get(key)
    if cached is None:
        u, v = (net.edge_v, net.edge_u) if reverse else (net.edge_u, net.edge_v)
        u = np.asarray(u, dtype=np.int64)
        v = np.asarray(v, dtype=np.int64)
        w_min = np.asarray(net.edge_minutes, dtype=float)
        w_km = np.asarray(net.edge_km, dtype=float)
        w1, w2 = (w_km, w_min) if weight == "km" else (w_min, w_km)
        order = np.lexsort((w2, w1, v, u))
        first = np.ones(len(order), bool)
        first[1:] = (u[order[1:]] != u[order[:-1]]) | (v[order[1:]] != v[order[:-1]])
        keep = order[first]
        indptr = np.zeros(net.n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(u[keep], minlength=net.n_nodes), out=indptr[1:])
        if net.n_nodes >= 2**31 - 1:
            raise NetworkError(f"{net.n_nodes:,} nodes: more than the OD search handles (2^31 - 2)",
                               fix="split the network into regions")
        cached = SearchGraph(indptr=indptr, indices=np.ascontiguousarray(v[keep], dtype=np.int32),
                             primary=np.ascontiguousarray(w1[keep]), secondary=np.ascontiguousarray(w2[keep]),
                             weight=weight, reverse=bool(reverse))
        net._csr_cache[key] = cached
    return cached


def _check_weight(weight: str) -> None:
    if weight not in ("minutes", "km"):
        raise NetworkError(f"weight must be 'minutes' or 'km', got {weight!r}",
                           fix="use 'minutes' for the fastest routes or 'km' for the shortest")


def _heap_put(heap: np.ndarray, hk1: np.ndarray, hk2: np.ndarray, pos: np.ndarray, i: int, node: int,
              k1: float, k2: float) -> None:
    """Heap step of :func:`_od_kernel`: store ``node`` with keys ``(k1, k2)`` in slot ``i``."""
    heap[i] = node
    hk1[i] = k1
    hk2[i] = k2
    pos[node] = i


def _heap_pop(heap: np.ndarray, hk1: np.ndarray, hk2: np.ndarray, pos: np.ndarray, size: int) -> None:
    """Heap step of :func:`_od_kernel`: move the last entry (slot ``size``) to the root and sift it down.

    ``heap`` holds node indexes, ``hk1``/``hk2`` their keys (compared lexicographically) and
    ``pos`` each node's slot; ``size`` is the heap's size without the entry being moved.
    """
    x = heap[size]
    x1 = hk1[size]
    x2 = hk2[size]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and (hk1[c + 1] < hk1[c] or (hk1[c + 1] == hk1[c] and hk2[c + 1] < hk2[c])):
            c += 1
        if hk1[c] < x1 or (hk1[c] == x1 and hk2[c] < x2):
            _heap_put(heap, hk1, hk2, pos, i, heap[c], hk1[c], hk2[c])
            i = c
        else:
            break
    _heap_put(heap, hk1, hk2, pos, i, x, x1, x2)


def _heap_sift_up(heap: np.ndarray, hk1: np.ndarray, hk2: np.ndarray, pos: np.ndarray, i: int, v: int,
                  nd: float, nk: float) -> None:
    """Heap step of :func:`_od_kernel`: put node ``v`` with keys ``(nd, nk)`` at slot ``i`` or above it."""
    while i > 0:
        q = (i - 1) >> 1
        if nd < hk1[q] or (nd == hk1[q] and nk < hk2[q]):
            _heap_put(heap, hk1, hk2, pos, i, heap[q], hk1[q], hk2[q])
            i = q
        else:
            break
    _heap_put(heap, hk1, hk2, pos, i, v, nd, nk)


def _od_kernel(indptr: np.ndarray, indices: np.ndarray, w1: np.ndarray, w2: np.ndarray,
               sources: np.ndarray, targets: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Dijkstra from each source, lexicographic on (w1, w2), until every target is settled.

    Compiled by numba (:func:`_compiled_kernel`). An indexed binary heap that holds the keys
    itself; one int32 per node (``pos``: -1 unseen, -2 settled, else its heap slot) is all the
    per-node state, so a relaxation touches one node array (32-bit indexes: half the memory
    traffic of 64-bit ones). Only what a search touched is reset, so a search that stops early
    costs only what it explored. Returns ``(b, t)`` arrays
    of the w1 and w2 sums to each target (``inf`` where unreachable or beyond ``limit``);
    ``targets`` must be unique.
    """
    n = len(indptr) - 1
    b = len(sources)
    t = len(targets)
    out1 = np.full((b, t), np.inf)
    out2 = np.full((b, t), np.inf)
    slot = np.full(n, -1, np.int32)
    for j in range(t):
        slot[targets[j]] = j
    pos = np.full(n, -1, np.int32)
    heap = np.empty(n, np.int32)
    hk1 = np.empty(n)
    hk2 = np.empty(n)
    touched = np.empty(n, np.int32)
    for r in range(b):
        s = sources[r]
        heap[0] = s
        hk1[0] = 0.0
        hk2[0] = 0.0
        pos[s] = 0
        size = 1
        touched[0] = s
        nt = 1
        left = t
        while size > 0:
            u = heap[0]
            du = hk1[0]
            ku = hk2[0]
            size -= 1
            if size > 0:  # move the last entry to the root and sift it down
                _heap_pop(heap, hk1, hk2, pos, size)
            pos[u] = -2
            j = slot[u]
            if j >= 0:
                out1[r, j] = du
                out2[r, j] = ku
                left -= 1
                if left == 0:
                    break
            for e in range(indptr[u], indptr[u + 1]):
                v = indices[e]
                p = pos[v]
                if p == -2:
                    continue
                nd = du + w1[e]
                if nd > limit:
                    continue
                nk = ku + w2[e]
                if p == -1:
                    touched[nt] = v
                    nt += 1
                    i = size
                    size += 1
                elif nd < hk1[p] or (nd == hk1[p] and nk < hk2[p]):
                    i = p
                else:
                    continue
                _heap_sift_up(heap, hk1, hk2, pos, i, v, nd, nk)
        for k in range(nt):
            pos[touched[k]] = -1
    return out1, out2


_KERNEL: list[Callable[..., tuple[np.ndarray, np.ndarray]]] = []


def _compiled_kernel() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """:func:`_od_kernel` compiled by numba on first use (cached on disk; numba imported lazily).

    The kernel calls its heap steps by name; each function is compiled over globals in which
    those names are the compiled steps (numba inlines them: measured as fast as the single
    function they were split from, ``benchmarks/RESULTS.md``).
    """
    if not _KERNEL:
        import numba

        jit = numba.njit(cache=True, nogil=True)
        compiled: dict[str, Any] = {}
        for fn in (_heap_put, _heap_pop, _heap_sift_up, _od_kernel):  # each after the steps it calls
            compiled[fn.__name__] = jit(types.FunctionType(fn.__code__, {**globals(), **compiled}, fn.__name__))
        _KERNEL.append(compiled["_od_kernel"])
    return _KERNEL[0]


def od_block(graph: SearchGraph, sources: np.ndarray, targets: np.ndarray, *,
             limit: float = math.inf) -> tuple[np.ndarray, np.ndarray]:
    """Primary and secondary sums from each source to each target (the compiled core of :func:`od_matrix`).

    Parameters
    ----------
    graph
        The arrays from :func:`search_graph`.
    sources, targets
        Node indexes; repeated targets are searched once.
    limit
        Do not search beyond this primary value; farther pairs are ``inf``.

    Returns
    -------
    tuple of numpy.ndarray
        ``(primary, secondary)``, each ``(len(sources), len(targets))``.
    """
    src = np.ascontiguousarray(sources, dtype=np.int64)
    tgt = np.asarray(targets, dtype=np.int64)
    uniq, inverse = np.unique(tgt, return_inverse=True)
    if len(src) == 0 or len(uniq) == 0:
        empty = np.full((len(src), len(tgt)), np.inf)
        return empty, empty.copy()
    first, second = _compiled_kernel()(graph.indptr, graph.indices, graph.primary, graph.secondary,
                                       src, np.ascontiguousarray(uniq), float(limit))
    if len(uniq) == len(tgt) and np.array_equal(uniq, tgt):
        return first, second
    return first[:, inverse], second[:, inverse]


@dataclass(frozen=True)
class ODPlan:
    """How :func:`od_matrix` runs a request: which side it searches from, and what it asks for.

    Built by :func:`plan_od`; :mod:`geoplan.distributed` runs the same plan on workers.

    Attributes
    ----------
    origins, destinations
        The requested labels, in order.
    weight
        ``"minutes"`` or ``"km"``.
    reverse
        Search from the destinations on the reversed graph (there are fewer of them).
    sources, targets
        Node indexes searched from and to.
    limit
        The cutoff (``inf`` without one).
    """

    origins: np.ndarray
    destinations: np.ndarray
    weight: Weight
    reverse: bool
    sources: np.ndarray
    targets: np.ndarray
    limit: float

    def assemble(self, primary: np.ndarray, secondary: np.ndarray) -> ODMatrix:
        """Return the :class:`ODMatrix` from the ``(sources x targets)`` results of :func:`od_block`."""
        if self.reverse:
            primary, secondary = primary.T, secondary.T
        minutes, km = (secondary, primary) if self.weight == "km" else (primary, secondary)
        return ODMatrix(self.origins, self.destinations, np.ascontiguousarray(minutes), np.ascontiguousarray(km),
                        weight=self.weight)


def _place_indices(net: RoadNetwork, places: Sequence[str] | np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels and node indexes of ``places``; duplicates and unknown ids are errors."""
    arr = np.asarray(places)
    if arr.dtype.kind in "iu":
        idx = _indices(net, arr)
        labels = np.asarray([str(x) for x in net.node_id[idx]], dtype=object)
    else:
        labels = np.asarray([str(x) for x in arr.tolist()], dtype=object)
    seen = pd.Index(labels)
    if seen.has_duplicates:
        dup = list(dict.fromkeys(seen[seen.duplicated()].tolist()))
        shown = ", ".join(dup[:10]) + (" ..." if len(dup) > 10 else "")
        raise NetworkError(f"{what} list the same place more than once: {shown}",
                           fix=f"give each of the {what} once (drop the duplicates)")
    if arr.dtype.kind not in "iu":
        idx = net.index_of(labels) if len(labels) else np.zeros(0, np.int64)
    return labels, idx


def plan_od(net: RoadNetwork, origins: Sequence[str] | np.ndarray, destinations: Sequence[str] | np.ndarray, *,
            weight: Weight = "minutes", cutoff: float | None = None) -> ODPlan:
    """Check an OD request and choose the side to search from (see :func:`od_matrix`).

    Raises
    ------
    NetworkError
        For an unknown weight, a cutoff that is not a positive number, repeated ids or ids that
        are not nodes of the network.
    """
    _check_weight(weight)
    limit = check_cutoff(cutoff, unit=weight)
    o_labels, o_idx = _place_indices(net, origins, "origins")
    d_labels, d_idx = _place_indices(net, destinations, "destinations")
    reverse = len(d_idx) < len(o_idx)
    sources, targets = (d_idx, o_idx) if reverse else (o_idx, d_idx)
    return ODPlan(o_labels, d_labels, weight, reverse, sources, targets, limit)


#: Sources per call of the compiled search in :func:`od_matrix` (a progress step).
_CHUNK = 64


def od_matrix(
    net: RoadNetwork,
    origins: Sequence[str] | np.ndarray,
    destinations: Sequence[str] | np.ndarray,
    *,
    weight: Weight = "minutes",
    cutoff: float | None = None,
    progress: bool | None = None,
) -> ODMatrix:
    """Travel time and road distance of the fastest (or shortest) route for every origin x destination pair.

    One compiled Dijkstra search per origin, or per destination on the reversed network when
    there are fewer destinations; each search stops once every requested place is settled.
    The second quantity (km of the fastest route, or minutes of the shortest) is summed in the
    same pass. Among equally fast routes the one with the fewest km is taken.

    Parameters
    ----------
    net
        A network with the origins and destinations attached (:func:`~geoplan.network.attach_places`).
    origins, destinations
        Node labels (or node indexes as an integer array), each listed once.
    weight
        ``"minutes"``: the fastest route (default); ``"km"``: the shortest route.
    cutoff
        In units of ``weight``; pairs farther apart are reported as unreachable (``inf``).
    progress
        Show a progress bar on stderr (when it is a terminal) for large jobs; ``None`` follows
        :func:`geoplan._progress.set_progress` (off in a library call, on in the ``geoplan`` command).

    Returns
    -------
    ODMatrix

    Raises
    ------
    NetworkError
        For ids that are not nodes of the network, ids listed twice, an unknown weight, or a
        cutoff that is not a positive number.
    """
    plan = plan_od(net, origins, destinations, weight=weight, cutoff=cutoff)
    graph = search_graph(net, weight=weight, reverse=plan.reverse)
    b, t = len(plan.sources), len(plan.targets)
    first = np.full((b, t), np.inf)
    second = np.full((b, t), np.inf)
    if b and t:
        starts = range(0, b, _CHUNK)
        show = progress_enabled(progress) and len(starts) > 1
        for s in progress_bar(starts, desc="travel times", unit="batch", enabled=show):
            rows = slice(s, s + _CHUNK)
            first[rows], second[rows] = od_block(graph, plan.sources[rows], plan.targets, limit=plan.limit)
    return plan.assemble(first, second)


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
    mat = net.csr(weight="minutes")
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
