"""Side by side in one process: the OD search kernel as one function vs split into heap steps.

``geoplan.traveltime._od_kernel`` was one 96-line numba function; it now calls two heap steps
(``_heap_pop``, ``_heap_sift_up``) that numba compiles and inlines. This script compiles the
kernel as it was at ``--rev`` (read from git) next to today's, runs both on the same arrays
(alternating, median of ``--reps`` CPU times, ``time.process_time``) and checks that they
return identical arrays. Graphs: the generated road grid of ``bench_traveltime.py`` and the
real Asian highway graph (skipped when ``../shared/data/real`` is absent).

Run with ``python benchmarks/kernel_split.py [--rev fa12d59] [--side 1000] [--reps 5]``; the
figures are in ``RESULTS.md`` (section 1).
"""

from __future__ import annotations

import argparse
import ast
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_traveltime as bt

from geoplan import traveltime as tt
from geoplan.network import RoadNetwork, network_from_arrays


def kernel_at(rev: str) -> Callable[..., Any]:
    """``_od_kernel`` as it was at git revision ``rev``, compiled by numba."""
    import numba

    root = Path(__file__).resolve().parents[1]
    src = subprocess.run(["git", "-C", str(root), "show", f"{rev}:geoplan/traveltime.py"], capture_output=True,
                         text=True, check=True).stdout
    fn = next(n for n in ast.parse(src).body if isinstance(n, ast.FunctionDef) and n.name == "_od_kernel")
    ns: dict[str, Any] = {"np": np}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), f"traveltime@{rev}", "exec"), ns)
    return numba.njit(cache=False, nogil=True)(ns["_od_kernel"])  # type: ignore[no-any-return]


def graphs(side: int) -> Iterator[tuple[str, RoadNetwork]]:
    yield f"grid {side} x {side}", network_from_arrays(**bt.road_grid(side), twoway=True)
    asia = bt.asia_graph(bt.REAL)
    if asia is None:
        print("Asian highway graph: skipped (../shared/data/real absent)")
    else:
        yield "Asian highway graph", network_from_arrays(**asia, twoway=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rev", default="fa12d59", help="git revision with the one-function kernel")
    ap.add_argument("--side", type=int, default=1000, help="generated grid side in nodes")
    ap.add_argument("--reps", type=int, default=5, help="runs per figure (median)")
    args = ap.parse_args(argv)
    before = kernel_at(args.rev)
    after = tt._compiled_kernel()
    print("| graph | nodes | k x 1,000 | one function (s CPU) | split (s CPU) | split / one |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, net in graphs(args.side):
        sg = tt.search_graph(net)
        rng = np.random.default_rng(3)
        targets = np.unique(rng.choice(net.n_nodes, bt.N_DESTINATIONS, replace=False)).astype(np.int64)
        for k in (1, 20, 100, 1000) if net.n_nodes < 500_000 else (1, 20, 100):
            sources = rng.choice(net.n_nodes, k, replace=False).astype(np.int64)
            call = (sg.indptr, sg.indices, sg.primary, sg.secondary, sources, targets, np.inf)
            before(*call), after(*call)  # compile
            t_before: list[float] = []
            t_after: list[float] = []
            for _ in range(args.reps if k < 1000 else max(1, args.reps // 2)):
                t0 = time.process_time()
                a = before(*call)
                t_before.append(time.process_time() - t0)
                t0 = time.process_time()
                b = after(*call)
                t_after.append(time.process_time() - t0)
            if not (np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])):
                raise SystemExit(f"{name}, k = {k}: the two kernels disagree")
            m0, m1 = statistics.median(t_before), statistics.median(t_after)
            print(f"| {name} | {net.n_nodes:,} | {k:,} | {m0:.3f} | {m1:.3f} | {m1 / m0:.2f} |", flush=True)


if __name__ == "__main__":
    main()
