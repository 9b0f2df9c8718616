"""Benchmark: geoplan's travel-time surface vs calling skimage's MCP_Geometric directly.

Both run in the same process on the same generated grid (seeded): an off-road friction with
noise (land-cover-like variation), a few hundred straight roads burned in at 50-110 km/h, a
nodata region outside the study area, and several sources. The direct call gets the ready
cost array (minutes per cell crossing, inf outside the study area); geoplan's
:func:`~geoplan.surface.travel_time_surface` starts from the friction raster (minutes per metre,
NaN outside), so its time includes building the cost array, checking the sources and the
float32/nodata output. Target: geoplan within 1.3x of the direct call.

Run alone with ``python benchmarks/bench_surface.py [--size 4000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import time
import tracemalloc
from typing import Any

import numpy as np
from affine import Affine
from pyproj import CRS
from skimage.draw import line as draw_line
from skimage.graph import MCP_Geometric

from geoplan.surface import FrictionRaster, travel_time_surface

RESOLUTION_M = 1000.0
N_SOURCES = 12
N_ROADS = 300
TARGET_RATIO = 1.3


def make_grid(size: int, seed: int = 42) -> tuple[FrictionRaster, np.ndarray, np.ndarray]:
    """Friction raster, source cells (row, col) and source coordinates (x, y) for the benchmark."""
    rng = np.random.default_rng(seed)
    offroad = 60.0 / (20.0 * 1000.0)
    friction = offroad * rng.uniform(0.8, 1.5, size=(size, size))
    for _ in range(N_ROADS):
        r0, c0, r1, c1 = rng.integers(0, size, 4)
        rr, cc = draw_line(r0, c0, r1, c1)
        friction[rr, cc] = 60.0 / (rng.uniform(50.0, 110.0) * 1000.0)
    # Outside the study area: a disc in one corner.
    yy, xx = np.ogrid[:size, :size]
    friction[(yy - size) ** 2 + xx**2 < (0.3 * size) ** 2] = np.nan
    cells = []
    while len(cells) < N_SOURCES:
        r, c = (int(v) for v in rng.integers(0, size, 2))
        if np.isfinite(friction[r, c]):
            cells.append((r, c))
    cells_a = np.array(cells)
    transform = Affine(RESOLUTION_M, 0.0, 300_000.0, 0.0, -RESOLUTION_M, 5_000_000.0 + size * RESOLUTION_M)
    xy = np.column_stack([transform.c + (cells_a[:, 1] + 0.5) * RESOLUTION_M,
                          transform.f - (cells_a[:, 0] + 0.5) * RESOLUTION_M])
    return FrictionRaster(friction, transform, CRS.from_epsg(32642)), cells_a, xy


def _measure(fn: Any) -> tuple[Any, tuple[float, float], float]:
    """Result, (wall, CPU) seconds and traced peak memory (MB) of ``fn()``.

    Both sides are single-threaded, so CPU time is the steadier measure on a busy machine;
    the ratio uses it, and wall time is printed beside it.
    """
    gc.collect()
    tracemalloc.start()
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    seconds = (time.perf_counter() - w0, time.process_time() - c0)
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return out, seconds, peak


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark, print the figures and return them."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=4000, help="grid side in cells (default 4000)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each, order alternating; the median counts")
    args = ap.parse_args(argv if argv is not None else [])

    fr, cells, xy = make_grid(args.size)
    costs = np.nan_to_num(fr.array * RESOLUTION_M, nan=np.inf)
    # Warm-up on a small grid (imports, first-call overheads) so neither side pays them.
    small = FrictionRaster(np.full((64, 64), 0.003), fr.transform, fr.crs)
    travel_time_surface(small, np.array([[fr.transform.c + 10.5 * RESOLUTION_M, fr.transform.f - 10.5 * RESOLUTION_M]]))

    direct_t, ours_t = [], []
    direct_mb = ours_mb = 0.0
    direct = ours = None
    for k in range(max(1, args.repeat)):
        # Alternate the order: the first large run in a process also pays for fresh pages.
        for side in (("direct", "ours") if k % 2 == 0 else ("ours", "direct")):
            if side == "direct":
                (direct, tb), t, mb = _measure(lambda: MCP_Geometric(costs, fully_connected=True).find_costs(cells))
                del tb
                direct_t.append(t)
                direct_mb = max(direct_mb, mb)
            else:
                ours, t, mb = _measure(lambda: travel_time_surface(fr, xy))
                ours_t.append(t)
                ours_mb = max(ours_mb, mb)

    finite = np.isfinite(direct)
    max_diff = float(np.max(np.abs(ours.array[finite] - direct[finite].astype(np.float32)))) if finite.any() else 0.0
    assert np.all(ours.array[~finite] == ours.nodata), "nodata cells differ"
    d_wall, d_cpu = statistics.median(t[0] for t in direct_t), statistics.median(t[1] for t in direct_t)
    o_wall, o_cpu = statistics.median(t[0] for t in ours_t), statistics.median(t[1] for t in ours_t)
    ratio = o_cpu / d_cpu
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # Linux reports kB
    print(f"bench_surface: {args.size} x {args.size} grid ({args.size**2 / 1e6:.1f} M cells), "
          f"{N_SOURCES} sources, {N_ROADS} roads, median of {max(1, args.repeat)}")
    print(f"  skimage MCP_Geometric direct : {d_cpu:7.2f} s CPU ({d_wall:6.2f} s wall)   "
          f"peak traced memory {direct_mb:6.0f} MB")
    print(f"  geoplan travel_time_surface  : {o_cpu:7.2f} s CPU ({o_wall:6.2f} s wall)   "
          f"peak traced memory {ours_mb:6.0f} MB")
    verdict = "OK" if ratio <= TARGET_RATIO else "OVER TARGET"
    print(f"  ratio geoplan / direct (CPU) : {ratio:7.3f}   (target <= {TARGET_RATIO}) {verdict}")
    print(f"  max |difference|             : {max_diff:.2e} minutes (float32 output)")
    print(f"  process peak RSS             : {rss_mb:7.0f} MB")
    return {
        "size": float(args.size), "direct_s": d_cpu, "geoplan_s": o_cpu, "direct_wall_s": d_wall,
        "geoplan_wall_s": o_wall, "ratio": ratio, "direct_peak_mb": direct_mb, "geoplan_peak_mb": ours_mb,
        "peak_rss_mb": rss_mb, "max_diff_min": max_diff,
    }

if __name__ == "__main__":
    main(sys.argv[1:])
