"""Benchmark: one process vs a Dask LocalCluster of 2 worker processes (geoplan.distributed).

Two jobs, each run in this process and on ``LocalCluster(n_workers=2, threads_per_worker=1)``:

* a **1,000 x 1,000 OD table** on the real Asian highway graph of Travel Mapping (131,758
  nodes; ``../shared/data/real``): :func:`geoplan.traveltime.od_matrix` vs
  :func:`geoplan.distributed.od_matrix` (the search arrays scattered once, 8 chunks);
* **1,000 sensitivity runs**: :func:`geoplan.sensitivity.run_sensitivity` (Latin-hypercube
  Monte Carlo over the scenario's assumptions, the model vectorised over the runs of a chunk)
  in 20 chunks, in this process and with ``mapper=chunk_mapper(client)`` (the model sent to each
  worker once); also 100,000 runs.

Figures: wall seconds (what parallelism buys), CPU seconds of this process and of the workers
(``time.process_time`` read on each worker before and after), the cluster's start-up time apart.
The results are checked equal. On a shared machine the wall figures depend on the load (printed).

Run alone with ``python benchmarks/bench_distributed.py [--runs 1000,100000] [--size 1000]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_traveltime import REAL, asia_graph  # noqa: E402

import geoplan  # noqa: E402
from geoplan.classify import indicators  # noqa: E402
from geoplan.distributed import chunk_mapper  # noqa: E402
from geoplan.distributed import od_matrix as dist_od_matrix  # noqa: E402
from geoplan.indicators import layer_folder, load_inputs  # noqa: E402
from geoplan.network import attach_places, build_network, network_from_arrays  # noqa: E402
from geoplan.scenario import Scenario  # noqa: E402
from geoplan.sensitivity import prepare, run_sensitivity  # noqa: E402
from geoplan.traveltime import od_matrix  # noqa: E402


def _worker_cpu(client: Any) -> float:
    return float(sum(client.run(time.process_time).values()))


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="1000,100000", help="sensitivity runs (default 1000,100000), in 20 tasks")
    ap.add_argument("--size", type=int, default=1000, help="OD table origins = destinations (default 1000)")
    args = ap.parse_args(argv if argv is not None else [])
    from distributed import Client, LocalCluster

    print(f"bench_distributed: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    layers = geoplan.read_layers(geoplan.embedded_layers_path())
    cfg = Scenario.baseline()
    net, _ = attach_places(build_network(layers.roads), layers.towns)
    net, _ = attach_places(net, layers.centres.loc[~layers.centres["id"].isin(layers.towns["id"])])
    od = od_matrix(net, list(layers.towns["id"]), list(layers.centres["id"]))
    cat, table = load_inputs(list(layers.towns["id"]), config=cfg, folder=layer_folder(layers.sources))
    model = prepare(layers.towns, layers.centres, od, indicators(layers.towns, layers.centres, od, table=table),
                    config=cfg, catalogue=cat)
    n_runs = [int(r) for r in args.runs.split(",")]

    asia = asia_graph(REAL)
    big = None
    if asia is not None:
        big = network_from_arrays(**asia, twoway=True)
        rng = np.random.default_rng(1)
        main_nodes = np.flatnonzero(big.components() == 0)
        ids = np.asarray(big.node_id)
        o = list(ids[rng.choice(main_nodes, args.size, replace=False)])
        d = list(ids[rng.choice(main_nodes, args.size, replace=False)])
        od_matrix(big, o[:1], d[:2])

    rows = []
    if big is not None:
        single, c, w = timed(lambda: od_matrix(big, o, d))
        rows.append((f"OD table {args.size:,} x {args.size:,} (Asia)", "one process", w, c, 0.0))
    sens_single = {}
    for n in n_runs:
        sens_single[n], c, w = timed(lambda n=n: run_sensitivity(model, config=cfg, runs=n, chunk=max(1, n // 20)))
        rows.append((f"{n:,} sensitivity runs", "one process", w, c, 0.0))

    t0 = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.wait_for_workers(2)
        start_s = time.perf_counter() - t0
        # Warm the workers (imports, compiled kernel) so the timings are the jobs themselves.
        _, c, w = timed(lambda: run_sensitivity(model, config=cfg, runs=4, chunk=2, mapper=chunk_mapper(client)))
        if big is not None:
            dist_od_matrix(big, o[:2], d[:2], scheduler=client, chunks=2)
        print(f"LocalCluster(2 workers) start {start_s:.1f} s wall; warm-up (imports, kernel) {w:.1f} s wall")
        if big is not None:
            wc0 = _worker_cpu(client)
            spread, c, w = timed(lambda: dist_od_matrix(big, o, d, scheduler=client, chunks=8))
            rows.append((f"OD table {args.size:,} x {args.size:,} (Asia)", "LocalCluster(2)", w, c,
                         _worker_cpu(client) - wc0))
            assert np.array_equal(spread.minutes, single.minutes) and np.array_equal(spread.km, single.km)
        for n in n_runs:
            wc0 = _worker_cpu(client)
            spread_s, c, w = timed(lambda n=n: run_sensitivity(model, config=cfg, runs=n, chunk=max(1, n // 20),
                                                               mapper=chunk_mapper(client)))
            rows.append((f"{n:,} sensitivity runs", "LocalCluster(2)", w, c, _worker_cpu(client) - wc0))
            assert spread_s.towns.equals(sens_single[n].towns)
    rows.sort(key=lambda r: r[0])
    print("\n| job | where | wall s | CPU s here | CPU s workers | speed-up (wall) |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    base_wall: dict[str, float] = {}
    for job, where, w, c, wc in rows:
        base_wall.setdefault(job, w)
        print(f"| {job} | {where} | {w:.2f} | {c:.2f} | {wc:.2f} | {base_wall[job] / w:.2f}x |")
    print(f"\nresults identical: yes; LocalCluster start-up {start_s:.1f} s (not in the rows); "
          f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
