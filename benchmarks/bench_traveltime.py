"""Benchmark: geoplan travel times (scipy csgraph on the CSR network) vs networkx Dijkstra.

Two graphs, each timed in the same process against networkx on the same weights:

* a seeded, generated road-like graph of ``side x side`` nodes (default 1000 x 1000 = 1,000,000
  nodes): a jittered grid with 8 % of the streets deleted, diagonal shortcuts on 4 % of the
  cells, arterials every 10th row and column (80 km/h), collectors every 5th (60 km/h), local
  streets at 40 km/h and shortcuts at 50 km/h, all roads two-way;
* the real Asian highway graph from Travel Mapping (``../shared/data/real``, 131,758 nodes,
  139,779 undirected edges with ``length_m``), speeds by highway system (expressways 100 km/h,
  Asian Highway and E-road systems 80 km/h, everything else 60 km/h).

For each graph: network assembly (``network_from_arrays``), CSR build, one-to-all from one
source (``travel_times_from``), 20 sources in one call, ``od_matrix`` (20 origins x 1,000
destinations, with km along the fastest route) and ``attach_places`` (200 places). networkx
runs ``single_source_dijkstra_path_length`` on a ``DiGraph`` holding the same (parallel-edge
reduced) weights; on the big graph it runs ``--nx-sources`` sources and the 20-source time is
extrapolated (said so in the output). Distances are compared (max abs difference, minutes).
Times: wall and process CPU seconds; the ratios use CPU time (both sides are single-threaded,
and on a shared machine other processes steal wall time, not CPU time) and print the wall
ratio beside. Memory: tracemalloc peak of each geoplan stage (run again, untimed), the
process's RSS after each stage and its peak RSS (``ru_maxrss``).

Run alone with ``python benchmarks/bench_traveltime.py [--side 1000] [--nx-sources 2] [--no-asia]``.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from geoplan.network import RoadNetwork, attach_places, network_from_arrays
from geoplan.traveltime import od_matrix, travel_times_from

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
N_SOURCES = 20
N_DESTINATIONS = 1000
N_PLACES = 200
TARGET_RATIO = 20.0
#: Travel Mapping systems that are access-controlled expressways.
EXPRESSWAYS = {"jpne", "korex", "chng", "chngds", "myse", "twnf", "index", "chnjjjs", "thamw", "irnf", "tursf", "isrf"}


def rss_mb() -> float:
    """Current resident set size of this process, MB."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Clock(float):
    """Wall seconds of a timed call, carrying the process CPU seconds in ``cpu``.

    Both sides are single-threaded, so CPU time is the fair figure on a shared machine (other
    processes steal wall time, not CPU time); both are printed.
    """

    cpu: float

    def __new__(cls, wall: float, cpu: float) -> Clock:
        obj = super().__new__(cls, wall)
        obj.cpu = cpu
        return obj


def timed(fn: Callable[[], Any]) -> tuple[Any, Clock]:
    gc.collect()
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, Clock(time.perf_counter() - t0, time.process_time() - c0)


def traced_peak_mb(fn: Callable[[], Any]) -> float:
    """Peak memory allocated while running ``fn`` (tracemalloc; numpy buffers included)."""
    gc.collect()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return peak


def _km(x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray) -> np.ndarray:
    """Equirectangular distance in km (fine for edges of a few km)."""
    lat = np.radians((y0 + y1) / 2)
    return np.hypot((x1 - x0) * 111.32 * np.cos(lat), (y1 - y0) * 110.574)


def road_grid(side: int, seed: int = 7) -> dict[str, np.ndarray]:
    """Arrays of a generated road-like graph with ``side * side`` nodes (vectorised)."""
    rng = np.random.default_rng(seed)
    n = side * side
    row, col = np.divmod(np.arange(n), side)
    step = 0.004  # about 300 m at 50 N
    x = 65.0 + (col + rng.uniform(-0.35, 0.35, n)) * step
    y = 48.0 + (row + rng.uniform(-0.35, 0.35, n)) * step * 0.64
    idx = np.arange(n).reshape(side, side)
    # Horizontal and vertical streets, then diagonal shortcuts.
    hu, hv = idx[:, :-1].ravel(), idx[:, 1:].ravel()
    vu, vv = idx[:-1, :].ravel(), idx[1:, :].ravel()
    du, dv = idx[:-1, :-1].ravel(), idx[1:, 1:].ravel()
    h_line, v_line = row[hu], col[vu]
    u = np.r_[hu, vu, du]
    v = np.r_[hv, vv, dv]
    line = np.r_[h_line, v_line, np.full(len(du), -1)]
    kind = np.r_[np.zeros(len(hu) + len(vu), np.int8), np.ones(len(du), np.int8)]
    arterial = (line >= 0) & (line % 10 == 0)
    collector = (line >= 0) & (line % 5 == 0) & ~arterial
    keep = np.where(kind == 1, rng.random(len(u)) < 0.04, arterial | (rng.random(len(u)) >= 0.08))
    kph = np.select([kind == 1, arterial, collector], [50.0, 80.0, 60.0], 40.0)
    u, v, kph = u[keep], v[keep], kph[keep]
    # Roads wind: a road is 5-25 % longer than the straight line between its ends.
    km = _km(x[u], y[u], x[v], y[v]) * rng.uniform(1.05, 1.25, len(u))
    cls = np.select([kph == 80.0, kph == 60.0, kph == 50.0], ["primary", "secondary", "tertiary"], "residential")
    return {"node_id": np.arange(n).astype(str).astype(object), "node_x": x, "node_y": y,
            "edge_u": u, "edge_v": v, "edge_km": km, "edge_kph": kph, "edge_class": cls.astype(object)}


def asia_graph(real: Path) -> dict[str, np.ndarray] | None:
    """Arrays of the Travel Mapping Asian highway graph, or None when the data is absent."""
    nodes_csv = real / "tm_asia_highway_graph_nodes.csv.gz"
    edges_csv = real / "tm_asia_highway_graph_edges.csv.gz"
    if not (nodes_csv.exists() and edges_csv.exists()):
        return None
    nodes = pd.read_csv(nodes_csv)
    edges = pd.read_csv(edges_csv)
    pos = pd.Series(np.arange(len(nodes)), index=nodes["node_id"].to_numpy())
    system = edges["system"].astype(str)
    kph = np.where(system.isin(EXPRESSWAYS), 100.0,
                   np.where(system.str.endswith("ah") | system.isin({"asiah", "eure"}), 80.0, 60.0))
    return {"node_id": nodes["node_id"].astype(str).to_numpy(dtype=object),
            "node_x": nodes["lon"].to_numpy(float), "node_y": nodes["lat"].to_numpy(float),
            "edge_u": pos[edges["u"].to_numpy()].to_numpy(), "edge_v": pos[edges["v"].to_numpy()].to_numpy(),
            "edge_km": edges["length_m"].to_numpy(float) / 1000.0, "edge_kph": kph,
            "edge_road": edges["route_root"].astype(str).to_numpy(dtype=object),
            "edge_class": system.to_numpy(dtype=object)}


def networkx_graph(net: RoadNetwork) -> nx.DiGraph:
    """The network as a networkx DiGraph with the same weights as our CSR matrix."""
    mat = net.csr("minutes").tocoo()
    g = nx.DiGraph()
    g.add_nodes_from(range(net.n_nodes))
    g.add_weighted_edges_from(zip(mat.row.tolist(), mat.col.tolist(), mat.data.tolist(), strict=True), weight="minutes")
    return g


def _nx_row(g: nx.DiGraph, s: int, n: int) -> np.ndarray:
    d = nx.single_source_dijkstra_path_length(g, s, weight="minutes")
    row = np.full(n, np.inf)
    row[np.fromiter(d.keys(), np.int64, len(d))] = np.fromiter(d.values(), float, len(d))
    return row


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    if not (np.isinf(a) == np.isinf(b)).all():
        return float("inf")  # different reachable sets
    fin = np.isfinite(a)
    return float(np.max(np.abs(a[fin] - b[fin]))) if fin.any() else 0.0


def bench(name: str, arrays: dict[str, np.ndarray], *, nx_sources: int, seed: int = 11) -> dict[str, float]:
    """Time geoplan and networkx on one graph and print the figures."""
    out: dict[str, float] = {}
    print(f"\n== {name}")
    base_rss = rss_mb()

    def stage(label: str, seconds: Clock, traced: float | None = None, note: str = "") -> None:
        mem = f"traced peak {traced:6.0f} MB" if traced is not None else " " * 21
        print(f"  {label:<50s}{seconds:8.3f} s wall {seconds.cpu:8.3f} s cpu   {mem}   RSS {rss_mb():6.0f} MB"
              f"   peak RSS {peak_rss_mb():6.0f} MB" + (f"   {note}" if note else ""))

    net, t = timed(lambda: network_from_arrays(**arrays, twoway=True))
    stage(f"network_from_arrays ({net.n_nodes:,} nodes, {net.n_edges:,} edges)", t)
    out["build_s"] = t
    _, t = timed(lambda: net.csr("minutes"))
    stage("CSR matrix (once per network)", t)
    out["csr_s"] = t

    rng = np.random.default_rng(seed)
    comp = net.components()
    main_nodes = np.flatnonzero(comp == 0)
    sources = rng.choice(main_nodes, N_SOURCES, replace=False)
    print(f"  largest component: {len(main_nodes):,} of {net.n_nodes:,} nodes; {N_SOURCES} sources drawn from it")

    # geoplan: warm-up call (first-call overheads), then the timed runs.
    travel_times_from(net, sources[:1])
    _, t_one = timed(lambda: travel_times_from(net, sources[:1]))
    stage("geoplan one-to-all, 1 source", t_one, traced_peak_mb(lambda: travel_times_from(net, sources[:1])))
    many, t_many = timed(lambda: travel_times_from(net, sources))
    stage(f"geoplan one-to-all, {N_SOURCES} sources (one call)", t_many,
          traced_peak_mb(lambda: travel_times_from(net, sources)))
    dest = rng.choice(main_nodes, N_DESTINATIONS, replace=False)
    o_ids, d_ids = list(net.node_id[sources]), list(net.node_id[dest])
    od, t_od = timed(lambda: od_matrix(net, o_ids, d_ids, progress=False))
    stage(f"geoplan od_matrix {N_SOURCES} x {N_DESTINATIONS:,} (+ km)", t_od,
          traced_peak_mb(lambda: od_matrix(net, o_ids, d_ids, progress=False)))
    assert np.array_equal(od.minutes, many[:, dest]), "od_matrix and travel_times_from disagree"
    pick = rng.choice(net.n_edges, N_PLACES, replace=False)
    mid = shapely.line_interpolate_point(net.edge_geometry[pick], 0.5, normalized=True)
    places = gpd.GeoDataFrame({"id": [f"place{i}" for i in range(N_PLACES)]},
                              geometry=gpd.GeoSeries(mid, crs=4326).translate(0.002, 0.001), crs=4326)
    (attached, report), t_att = timed(lambda: attach_places(net, places))
    stage(f"geoplan attach_places ({N_PLACES} places)", t_att, None,
          f"{int(report['snapped'].sum())} snapped, median {report['snap_km'].median():.2f} km")
    del attached
    out.update(one_s=t_one, many_s=t_many, od_s=t_od, attach_s=t_att)

    # networkx on the same weights.
    rss0 = rss_mb()
    g, t_g = timed(lambda: networkx_graph(net))
    stage("networkx DiGraph from the same weights", t_g, None, f"+{rss_mb() - rss0:.0f} MB RSS")
    k = min(nx_sources, N_SOURCES)
    diffs, times = [], []
    for s in range(k):
        row, t = timed(lambda s=s, g=g: _nx_row(g, int(sources[s]), net.n_nodes))
        times.append(t)
        diffs.append(_max_diff(many[s], row))
    nx_one = times[0]
    nx_many = Clock(float(np.mean(times)) * N_SOURCES, float(np.mean([t.cpu for t in times])) * N_SOURCES)
    stage("networkx single_source_dijkstra_path_length, 1", nx_one)
    extrapolated = k < N_SOURCES
    stage(f"networkx, {N_SOURCES} sources" + (" (EXTRAPOLATED)" if extrapolated else ""), nx_many, None,
          f"from the mean of {k} source(s)" if extrapolated else "")
    del g
    max_diff = max(diffs)
    r_one, r_many = nx_one.cpu / t_one.cpu, nx_many.cpu / t_many.cpu
    w_one, w_many = nx_one / t_one, nx_many / t_many
    verdict = lambda r: "OK" if r >= TARGET_RATIO else "BELOW TARGET"  # noqa: E731
    print(f"  ratio networkx / geoplan, 1 source  : {r_one:7.1f} x cpu ({w_one:5.1f} x wall)   "
          f"(target >= {TARGET_RATIO:g} x) {verdict(r_one)}")
    print(f"  ratio networkx / geoplan, {N_SOURCES} sources: {r_many:7.1f} x cpu ({w_many:5.1f} x wall)   "
          f"(target >= {TARGET_RATIO:g} x) {verdict(r_many)}"
          + ("   networkx time extrapolated" if extrapolated else ""))
    print(f"  max |difference| over {k} source(s)       : {max_diff:.3g} minutes (same reachable nodes: "
          f"{'yes' if np.isfinite(max_diff) else 'NO'})")
    print(f"  memory: RSS {rss_mb():.0f} MB now ({rss_mb() - base_rss:+.0f} MB over the stage start), "
          f"process peak {peak_rss_mb():.0f} MB")
    out.update(nx_one_s=nx_one, nx_many_s=nx_many, ratio_one=r_one, ratio_many=r_many, ratio_one_wall=w_one,
               ratio_many_wall=w_many, max_diff=max_diff,
               nx_extrapolated=float(extrapolated), peak_rss_mb=peak_rss_mb())
    return out


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Run the benchmark, print the figures and return them."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=1000, help="generated grid side in nodes (default 1000: 1 M nodes)")
    ap.add_argument("--nx-sources", type=int, default=2,
                    help="networkx sources on the generated graph; the 20-source time is extrapolated (default 2)")
    ap.add_argument("--no-asia", action="store_true", help="skip the real Asian highway graph")
    args = ap.parse_args(argv if argv is not None else [])
    print(f"bench_traveltime: geoplan (scipy {__import__('scipy').__version__}) vs networkx {nx.__version__}, "
          f"numpy {np.__version__}, Python {sys.version.split()[0]}")
    results: dict[str, dict[str, float]] = {}
    arrays, t = timed(lambda: road_grid(args.side))
    print(f"generated graph arrays in {t:.2f} s")
    results["grid"] = bench(f"generated road grid {args.side} x {args.side} (seeded)", arrays,
                            nx_sources=args.nx_sources)
    del arrays
    gc.collect()
    if not args.no_asia:
        asia = asia_graph(REAL)
        if asia is None:
            print(f"\n== Asian highway graph: skipped ({REAL} not found)")
        else:
            results["asia"] = bench("Travel Mapping Asian highway graph (real)", asia, nx_sources=N_SOURCES)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
