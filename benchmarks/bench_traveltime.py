"""Benchmark: geoplan ``od_matrix`` vs raw scipy csgraph vs pandana vs igraph, side by side.

Three graphs, every engine in the same process on the same weights, CPU seconds (median of
``--reps`` runs; ``time.process_time``, all threads of the process -- pandana's queries use
OpenMP threads, the others one core), wall seconds beside, results compared with raw scipy:

* a seeded, generated road grid of ``side x side`` nodes (default 1,000,000 nodes, 3.8 M
  directed edges): jittered, 8 % of streets deleted, diagonal shortcuts, arterials every 10th
  row/column at 80 km/h, collectors every 5th at 60, local streets at 40, all two-way;
* the real Asian highway graph of Travel Mapping (131,758 nodes, 279,558 directed edges;
  ``../shared/data/real``), 100 km/h on expressway systems, 80 on Asian Highway / E-road
  systems, 60 elsewhere;
* places x growth centres on the real Kazakhstan highway graph of Travel Mapping
  (``kz_highways_travelmapping.gpkg``) with the 29 monotowns, the first 1,000 and all 9,899
  OpenStreetMap places of Kazakhstan (``kz_places_hotosm_osm.geojson``) attached, x the 21
  embedded growth centres.

On the first two: ``k`` = 1, 20, 100, 1,000 sources x 1,000 destinations (random nodes of the
largest component, seeded). Engines:

* **geoplan** ``od_matrix``: travel time *and* the km of each fastest route;
* **scipy**: ``csgraph.dijkstra(csr, indices=sources)`` then the destination columns (minutes
  only), in chunks of 16 sources to bound memory -- the compiled core, the yardstick;
* **pandana** 0.8 (contraction hierarchies): ``shortest_path_lengths`` on the k x 1,000 pairs;
  its preprocessing (``Network(...)``) is timed apart and added in the "with prep." column;
* **igraph**: ``Graph.distances(source, target, weights)``.

On the places x centres graph scipy is run both ways: from the places (what a table of
origins x destinations does naively) and from the 21 centres on the transposed graph.

Run alone with ``python benchmarks/bench_traveltime.py [--side 1000] [--reps 3] [--ks 1,20,100,1000]
[--only grid,asia,places]``. ``--quick`` runs a 200 x 200 grid, k up to 20 and 1 rep (a smoke test).
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.sparse.csgraph import dijkstra

from geoplan.network import RoadNetwork, attach_places, build_network, network_from_arrays
from geoplan.traveltime import od_matrix

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
EMBEDDED = Path(__file__).resolve().parents[1] / "layers" / "kazakhstan"
N_DESTINATIONS = 1000
#: Travel Mapping systems that are access-controlled expressways.
EXPRESSWAYS = {"jpne", "korex", "chng", "chngds", "myse", "twnf", "index", "chnjjjs", "thamw", "irnf", "tursf", "isrf"}
#: Travel Mapping systems of the Kazakhstan graph: national main roads, Asian Highways and E-roads are trunk.
CLASS_OF_SYSTEM = {"kazkaz": "trunk", "asiah": "trunk", "eure": "trunk", "kazkz": "primary"}
SCIPY_CHUNK = 16


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(fn: Callable[[], Any], reps: int) -> tuple[Any, float, float]:
    """Run ``fn`` ``reps`` times; return its last value and the median CPU and wall seconds."""
    cpu, wall, out = [], [], None
    for _ in range(max(1, reps)):
        out = None
        gc.collect()
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    return out, statistics.median(cpu), statistics.median(wall)


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


def kz_roads(real: Path) -> gpd.GeoDataFrame | None:
    """The Travel Mapping Kazakhstan highway graph as a geoplan roads layer, or None when absent."""
    path = real / "kz_highways_travelmapping.gpkg"
    if not path.exists():
        return None
    edges = gpd.read_file(path, layer="graph_edges")
    first_system = edges["systems"].astype(str).str.split(r"[;, ]").str[0]
    return gpd.GeoDataFrame({"id": [f"tm{i}" for i in range(len(edges))],
                             "road_class": first_system.map(CLASS_OF_SYSTEM).fillna("primary"),
                             "length_km": edges["length_m"] / 1000.0},
                            geometry=edges.geometry.values, crs=edges.crs)


def osm_places(real: Path) -> gpd.GeoDataFrame | None:
    """The 9,899 OpenStreetMap places of Kazakhstan (id ``osm<osm_id>``), or None when absent."""
    path = real / "kz_places_hotosm_osm.geojson"
    if not path.exists():
        return None
    places = gpd.read_file(path)
    return gpd.GeoDataFrame({"id": "osm" + places["osm_id"].astype(str),
                             "population": pd.to_numeric(places["population"], errors="coerce")},
                            geometry=places.geometry.values, crs=places.crs)


# --------------------------------------------------------------------------------------
# the engines


def scipy_table(net: RoadNetwork, sources: np.ndarray, targets: np.ndarray, *, transpose: bool = False) -> np.ndarray:
    """Raw scipy csgraph: minutes from each source, the target columns kept (chunked)."""
    mat = net.csr(weight="minutes")
    if transpose:
        mat = mat.T.tocsr()
    out = np.empty((len(sources), len(targets)))
    for s in range(0, len(sources), SCIPY_CHUNK):
        out[s:s + SCIPY_CHUNK] = np.atleast_2d(dijkstra(mat, directed=True, indices=sources[s:s + SCIPY_CHUNK]))[
            :, targets]
    return out


def pandana_network(net: RoadNetwork) -> Any:
    """pandana Network (contraction hierarchies built here) on the same reduced edges and minutes."""
    import pandana

    mat = net.csr(weight="minutes").tocoo()
    nodes = pd.DataFrame({"x": net.node_x, "y": net.node_y}, index=np.arange(net.n_nodes))
    edges = pd.DataFrame({"from": mat.row.astype(np.int64), "to": mat.col.astype(np.int64), "minutes": mat.data})
    return pandana.Network(nodes["x"], nodes["y"], edges["from"], edges["to"], edges[["minutes"]], twoway=False)


def pandana_table(pnet: Any, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
    a = np.repeat(sources, len(targets))
    b = np.tile(targets, len(sources))
    d = np.asarray(pnet.shortest_path_lengths(a, b, imp_name="minutes"), dtype=float)
    d[d >= 4e6] = np.inf  # pandana's value for "no path"
    return d.reshape(len(sources), len(targets))


def igraph_graph(net: RoadNetwork) -> Any:
    import igraph as ig

    mat = net.csr(weight="minutes").tocoo()
    g = ig.Graph(n=net.n_nodes, edges=np.column_stack([mat.row, mat.col]).tolist(), directed=True)
    g.es["minutes"] = mat.data.tolist()
    return g


def igraph_table(g: Any, sources: np.ndarray, targets: np.ndarray, *, mode: str = "out") -> np.ndarray:
    return np.asarray(g.distances(source=sources.tolist(), target=targets.tolist(), weights="minutes", mode=mode),
                      dtype=float)


def max_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Largest absolute difference; ``inf`` when the reachable pairs differ."""
    if not (np.isinf(a) == np.isinf(b)).all():
        return float("inf")
    fin = np.isfinite(a)
    return float(np.max(np.abs(a[fin] - b[fin]))) if fin.any() else 0.0


# --------------------------------------------------------------------------------------
# benchmarks


def row(cells: list[str]) -> None:
    print("| " + " | ".join(cells) + " |", flush=True)


def bench_k(name: str, net: RoadNetwork, ks: list[int], reps: int, *, engines: set[str],
            big_reps: int, igraph_max_k: int, seed: int = 11) -> None:
    """k sources x 1,000 destinations on one graph, every engine, one markdown row per (k, engine)."""
    rng = np.random.default_rng(seed)
    main = np.flatnonzero(net.components() == 0)
    dest = rng.choice(main, min(N_DESTINATIONS, len(main)), replace=False)
    pool = rng.choice(main, min(max(ks), len(main)), replace=False)
    ids = np.asarray(net.node_id)
    print(f"\n### {name}: {net.n_nodes:,} nodes, {net.n_edges:,} directed edges; k sources x {len(dest):,} "
          f"destinations (largest component: {len(main):,} nodes)\n")
    od_matrix(net, list(ids[pool[:1]]), list(ids[dest[:2]]))  # compile / load the kernel, build the arrays
    scipy_table(net, pool[:1], dest)
    prep: dict[str, tuple[float, float]] = {}
    others: dict[str, Any] = {}
    if "igraph" in engines:
        others["igraph"], c, w = measure(lambda: igraph_graph(net), 1)
        prep["igraph"] = (c, w)
    if "pandana" in engines:
        others["pandana"], c, w = measure(lambda: pandana_network(net), 1)
        prep["pandana"] = (c, w)
    for eng, (c, w) in prep.items():
        print(f"{eng} preparation: {c:.2f} s CPU ({w:.2f} s wall)")
    print(f"peak RSS so far {peak_rss_mb():,.0f} MB\n")
    row(["k", "engine", "CPU s (median)", "wall s", "x scipy (CPU)", "with prep. x scipy", "max diff vs scipy (min)",
         "reps"])
    row(["---:", "---", "---:", "---:", "---:", "---:", "---:", "---:"])
    for k in ks:
        src = pool[:k]
        r = reps if k < 1000 else big_reps
        ref, sc_cpu, sc_wall = measure(lambda src=src: scipy_table(net, src, dest), r)
        row([f"{k:,}", "scipy csgraph (minutes only)", f"{sc_cpu:.3f}", f"{sc_wall:.3f}", "1.00", "", "0", str(r)])
        od, c, w = measure(lambda src=src: od_matrix(net, list(ids[src]), list(ids[dest])), r)
        row([f"{k:,}", "**geoplan od_matrix** (minutes + km)", f"{c:.3f}", f"{w:.3f}", f"{c / sc_cpu:.2f}", "",
             f"{max_diff(od.minutes, ref):.2g}", str(r)])
        if "igraph" in engines and k > igraph_max_k:
            row([f"{k:,}", "igraph distances", "not run (--igraph-max-k)", "", "", "", "", ""])
        elif "igraph" in engines:
            got, c, w = measure(lambda src=src: igraph_table(others["igraph"], src, dest), r)
            row([f"{k:,}", "igraph distances", f"{c:.3f}", f"{w:.3f}", f"{c / sc_cpu:.2f}",
                 f"{(c + prep['igraph'][0]) / sc_cpu:.2f}", f"{max_diff(got, ref):.2g}", str(r)])
        if "pandana" in engines:
            got, c, w = measure(lambda src=src: pandana_table(others["pandana"], src, dest), r)
            row([f"{k:,}", "pandana CH (pairs)", f"{c:.3f}", f"{w:.3f}", f"{c / sc_cpu:.2f}",
                 f"{(c + prep['pandana'][0]) / sc_cpu:.2f}", f"{max_diff(got, ref):.2g}", str(r)])
    print(f"\npeak RSS {peak_rss_mb():,.0f} MB")


def bench_places(real: Path, reps: int, engines: set[str]) -> None:
    """Places x 21 growth centres on the Kazakhstan highway graph at 29 / 1,000 / 9,899 places."""
    roads, places = kz_roads(real), osm_places(real)
    if roads is None or places is None:
        print(f"\n### places x centres: skipped ({real} lacks the Kazakhstan graph or places)")
        return
    towns = gpd.read_file(EMBEDDED / "towns.geojson")[["id", "geometry"]]
    centres = gpd.read_file(EMBEDDED / "centres.geojson")[["id", "geometry"]]
    everyone = pd.concat([towns, centres[~centres["id"].isin(towns["id"])], places[["id", "geometry"]]],
                         ignore_index=True)
    (net, _), c, w = measure(lambda: attach_places(build_network(roads, snap_tolerance_m=0),
                                                        gpd.GeoDataFrame(everyone, crs=4326), max_snap_km=1e4), 1)
    print(f"\n### places x 21 centres, Kazakhstan highway graph (Travel Mapping) + OSM places\n\n"
          f"build_network + attach_places of {len(everyone):,} places: {c:.2f} s CPU ({w:.2f} s wall); "
          f"network {net.n_nodes:,} nodes, {net.n_edges:,} directed edges\n")
    c_ids = list(centres["id"])
    c_idx = net.index_of(c_ids)
    od_matrix(net, c_ids[:1], c_ids[:2])
    others: dict[str, Any] = {}
    if "igraph" in engines:
        others["igraph"] = igraph_graph(net)
    if "pandana" in engines:
        others["pandana"], pc, _ = measure(lambda: pandana_network(net), 1)
        print(f"pandana preparation: {pc:.2f} s CPU\n")
    rng = np.random.default_rng(5)
    sample = list(rng.choice(places["id"].to_numpy(), 1000, replace=False))
    sizes = [("29 monotowns", list(towns["id"])), ("1,000 OSM places", sample), ("9,899 OSM places",
                                                                                 list(places["id"]))]
    row(["places", "engine", "CPU s (median)", "wall s", "x scipy from centres", "max diff (min)"])
    row(["---", "---", "---:", "---:", "---:", "---:"])
    for label, p_ids in sizes:
        p_idx = net.index_of(p_ids)
        ref, sc, sw = measure(lambda p_idx=p_idx: scipy_table(net, c_idx, p_idx, transpose=True).T, reps)
        row([label, "scipy from the 21 centres (transposed)", f"{sc:.3f}", f"{sw:.3f}", "1.00", "0"])
        got, c, w = measure(lambda p_idx=p_idx: scipy_table(net, p_idx, c_idx), reps)
        row([label, "scipy from the places", f"{c:.3f}", f"{w:.3f}", f"{c / sc:.2f}", f"{max_diff(got, ref):.2g}"])
        od, c, w = measure(lambda p_ids=p_ids: od_matrix(net, p_ids, c_ids), reps)
        row([label, "**geoplan od_matrix** (minutes + km)", f"{c:.3f}", f"{w:.3f}", f"{c / sc:.2f}",
             f"{max_diff(od.minutes, ref):.2g}"])
        if "igraph" in engines:
            got, c, w = measure(lambda p_idx=p_idx: igraph_table(others["igraph"], c_idx, p_idx, mode="in").T, reps)
            row([label, "igraph from the centres (mode=in)", f"{c:.3f}", f"{w:.3f}", f"{c / sc:.2f}",
                 f"{max_diff(got, ref):.2g}"])
        if "pandana" in engines:
            got, c, w = measure(lambda p_idx=p_idx: pandana_table(others["pandana"], p_idx, c_idx), reps)
            row([label, "pandana CH (pairs, prep. not counted)", f"{c:.3f}", f"{w:.3f}", f"{c / sc:.2f}",
                 f"{max_diff(got, ref):.2g}"])


def _engines(wanted: set[str]) -> set[str]:
    found = {"scipy", "geoplan"}
    for mod in sorted({"igraph", "pandana"} & wanted):
        try:
            __import__(mod)
            found.add(mod)
        except ImportError:
            print(f"{mod}: not installed (pip install {mod}); its rows are left out")
    return found


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print markdown tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=1000, help="generated grid side in nodes (default 1000: 1 M nodes)")
    ap.add_argument("--ks", default="1,20,100,1000", help="numbers of sources (default 1,20,100,1000)")
    ap.add_argument("--reps", type=int, default=3, help="runs per figure, the median counts (default 3)")
    ap.add_argument("--grid-big-reps", type=int, default=1,
                    help="runs for k >= 1,000 on the generated grid (default 1: each run takes minutes)")
    ap.add_argument("--only", default="grid,asia,places", help="which parts: grid, asia, places")
    ap.add_argument("--igraph-max-k", type=int, default=1000,
                    help="largest k igraph runs on the generated grid (it takes about 2x scipy)")
    ap.add_argument("--quick", action="store_true", help="smoke test: 200 x 200 grid (or --side), k <= 20, 1 rep")
    ap.add_argument("--engines", default="scipy,geoplan,igraph,pandana",
                    help="engines to run (default: all that are installed)")
    args = ap.parse_args(argv if argv is not None else [])
    ks = [int(k) for k in args.ks.split(",")]
    parts = set(args.only.split(","))
    if args.quick:
        args.side, args.reps, ks = min(args.side, 200), 1, [k for k in ks if k <= 20] or [1]
    import scipy

    warnings.filterwarnings("ignore", message="Unsigned integer")  # pandana, on pairs with no path
    print(f"bench_traveltime: numpy {np.__version__}, scipy {scipy.__version__}, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    engines = _engines(set(args.engines.split(",")))
    for mod in ("igraph", "pandana", "numba"):
        if mod in engines or mod == "numba":  # numba: geoplan's compiled search
            print(f"  {mod} {getattr(__import__(mod), '__version__', '?')}")
    if "grid" in parts:
        arrays = road_grid(args.side)
        net = network_from_arrays(**arrays, twoway=True)
        del arrays
        bench_k(f"generated road grid {args.side} x {args.side}", net, ks, args.reps, engines=engines,
                big_reps=min(args.grid_big_reps, args.reps), igraph_max_k=args.igraph_max_k)
        del net
        gc.collect()
    if "asia" in parts:
        asia = asia_graph(REAL)
        if asia is None:
            print(f"\n### Asian highway graph: skipped ({REAL} not found)")
        else:
            bench_k("Travel Mapping Asian highway graph (real)", network_from_arrays(**asia, twoway=True), ks,
                    args.reps, engines=engines, big_reps=args.reps, igraph_max_k=max(ks))
    if "places" in parts and not args.quick:
        bench_places(REAL, args.reps, engines)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}; peak RSS {peak_rss_mb():,.0f} MB")


if __name__ == "__main__":
    main(sys.argv[1:])
