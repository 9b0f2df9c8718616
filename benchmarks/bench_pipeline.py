"""Benchmark: the whole ``geoplan run`` at settlement scale -- time and peak memory per stage.

The embedded layer set with two layers replaced:

* ``roads``: the real Kazakhstan highway graph of Travel Mapping
  (``../shared/data/real/kz_highways_travelmapping.gpkg``, 3,901 segments; test and benchmark
  data only, never embedded), trunk for national / Asian Highway / E-road systems, primary else;
* ``towns``: the 29 monotowns plus OpenStreetMap places of Kazakhstan
  (``kz_places_hotosm_osm.geojson``, seeded sample) up to 29 / 1,000 / 9,899 places. The OSM
  places carry their ``population`` tag (50 where it has none) and nothing else, so they are
  classified ``monitor`` -- the classification is not the point here, the cost of each stage is.

Each size runs in a fresh process (so peak memory is its own), the full run with outputs and
maps written to a temporary folder. Per stage: CPU seconds (``time.process_time``), wall
seconds, and the peak resident memory during the stage (sampled every 10 ms) with its rise
over the stage start.

Run alone with ``python benchmarks/bench_pipeline.py [--sizes 29,1000,9899] [--no-surface]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REAL = HERE.parents[1] / "shared" / "data" / "real"
CLASS_OF_SYSTEM = {"kazkaz": "trunk", "asiah": "trunk", "eure": "trunk", "kazkz": "primary"}


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class PeakSampler:
    """Largest RSS seen since :meth:`reset`, sampled by a background thread."""

    def __init__(self, every: float = 0.01) -> None:
        self.peak = rss_mb()
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, rss_mb())

    def reset(self) -> float:
        now = rss_mb()
        self.peak = now
        return now

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def layer_set(n_places: int, seed: int = 3) -> Any:
    """The embedded layers with Travel Mapping roads and ``n_places`` towns."""
    import geoplan
    from geoplan.layers import LayerSet

    base = geoplan.read_layers(geoplan.embedded_layers_path())
    edges = gpd.read_file(REAL / "kz_highways_travelmapping.gpkg", layer="graph_edges")
    first_system = edges["systems"].astype(str).str.split(r"[;, ]").str[0]
    roads = gpd.GeoDataFrame({"id": [f"tm{i}" for i in range(len(edges))],
                              "road_class": first_system.map(CLASS_OF_SYSTEM).fillna("primary"),
                              "length_km": edges["length_m"] / 1000.0},
                             geometry=edges.geometry.values, crs=4326)
    towns = base.towns
    extra = n_places - len(towns)
    if extra > 0:
        osm = gpd.read_file(REAL / "kz_places_hotosm_osm.geojson")
        osm = osm.iloc[np.sort(np.random.default_rng(seed).choice(len(osm), min(extra, len(osm)), replace=False))]
        pop = pd.to_numeric(osm["population"], errors="coerce")
        names = osm["name:en"].fillna(osm["name"]).fillna("osm" + osm["osm_id"].astype(str))
        places = gpd.GeoDataFrame({"id": ("osm" + osm["osm_id"].astype(str)).to_numpy(),
                                   "name_en": names.astype(str).to_numpy(),
                                   "population": np.where(pop > 0, pop, 50).astype(np.int64)},
                                  geometry=osm.geometry.values, crs=4326)
        towns = gpd.GeoDataFrame(pd.concat([towns, places], ignore_index=True), crs=4326)
    layers = dict(base.layers, roads=roads, towns=towns)
    return LayerSet(layers=layers, meta=dict(base.meta))


def run_one(n_places: int, with_surface: bool) -> dict[str, Any]:
    """One pipeline run at ``n_places`` towns, stage by stage (inside a fresh process)."""
    import geoplan.pipeline as pl

    layers = layer_set(n_places)
    sampler = PeakSampler()
    stages: list[dict[str, Any]] = []
    original: Callable[..., Any] = pl._Stages.__call__

    def timed_stage(self: Any, name: str, fn: Callable[[], Any]) -> Any:
        start = sampler.reset()
        c0, t0 = time.process_time(), time.perf_counter()
        value = original(self, name, fn)
        stages.append({"stage": name, "cpu": time.process_time() - c0, "wall": time.perf_counter() - t0,
                       "peak_mb": sampler.peak, "rise_mb": sampler.peak - start})
        return value

    pl._Stages.__call__ = timed_stage  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as tmp:
        c0, t0 = time.process_time(), time.perf_counter()
        result = pl.run(layers=layers, out_dir=Path(tmp) / "out", with_surface=with_surface, progress=False)
        total = {"cpu": time.process_time() - c0, "wall": time.perf_counter() - t0}
        sizes = {p.name: p.stat().st_size for p in (Path(tmp) / "out").iterdir() if p.is_file()}
    sampler.stop()
    reachable = int(result.towns["minutes"].notna().sum()) if "minutes" in result.towns else -1
    return {"places": len(layers.towns), "roads": len(layers.roads), "stages": stages, "total": total,
            "reachable": reachable, "outputs_mb": {k: v / 1e6 for k, v in sorted(sizes.items())},
            "peak_mb": max(s["peak_mb"] for s in stages)}


def main(argv: list[str] | None = None) -> dict[int, dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="29,1000,9899", help="numbers of places (default 29,1000,9899)")
    ap.add_argument("--no-surface", action="store_true", help="leave the raster surface out")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv if argv is not None else [])
    if args.one is not None:
        print(json.dumps(run_one(args.one, not args.no_surface)))
        return {}
    if not (REAL / "kz_highways_travelmapping.gpkg").exists():
        print(f"bench_pipeline: skipped ({REAL} not found)")
        return {}
    print(f"bench_pipeline: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    results: dict[int, dict[str, Any]] = {}
    for n in (int(s) for s in args.sizes.split(",")):
        cmd = [sys.executable, str(Path(__file__).resolve()), "--one", str(n)] + (["--no-surface"] * args.no_surface)
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE.parent, check=False)
        if out.returncode != 0:
            print(f"\n{n} places: FAILED\n{out.stderr[-3000:]}")
            continue
        res = json.loads(out.stdout.strip().splitlines()[-1])
        results[n] = res
        print(f"\n### {res['places']:,} places, {res['roads']:,} road segments: {res['total']['cpu']:.1f} s CPU, "
              f"{res['total']['wall']:.1f} s wall, peak RSS {res['peak_mb']:,.0f} MB, "
              f"{res['reachable']:,} places reached\n")
        print("| stage | CPU s | wall s | peak RSS MB | rise MB |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for s in res["stages"]:
            print(f"| {s['stage']} | {s['cpu']:.2f} | {s['wall']:.2f} | {s['peak_mb']:,.0f} | {s['rise_mb']:+,.0f} |")
        print("\noutputs (MB): " + ", ".join(f"{k} {v:.2f}" for k, v in res["outputs_mb"].items()), flush=True)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
