"""PostGIS store: push, read and pull times against the same layer set in a GeoPackage.

Starts a private PostgreSQL + PostGIS server (Debian's packages, as the tests do: tests/_pg.py)
on 127.0.0.1, then for the embedded Kazakhstan set and for copies with the roads layer repeated
``k`` times (ids made unique, every copy shifted by a few metres) measures, best of ``--repeat``:

- validate (part of every push: a set with errors is never pushed);
- ``push_layers`` into an empty schema (tables, constraints, indexes created) and again into the
  same schema (tables emptied and refilled, diff counts and content hashes for ``layer_versions``);
- ``read_layers(URL)`` and ``pull_layers`` to a GeoPackage;
- ``write_layers`` / ``read_layers`` of the same set as a GeoPackage, side by side.

Usage: ``python benchmarks/bench_postgis.py [--scales 1,20,100] [--repeat 2]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the throw-away server of the tests

import geoplan  # noqa: E402
from geoplan.store import pull_layers, push_layers  # noqa: E402


def scaled(base: geoplan.LayerSet, k: int) -> geoplan.LayerSet:
    """``base`` with its roads repeated ``k`` times (unique ids, each copy 5 m further east)."""
    if k == 1:
        return base.copy()
    out = base.copy()
    roads = base.roads
    copies = []
    for i in range(k):
        c = roads.copy()
        c["id"] = c["id"].astype(str) + f"_{i}"
        c["geometry"] = c.geometry.translate(xoff=i * 5e-5)
        copies.append(c)
    out.layers["roads"] = pd.concat(copies, ignore_index=True)
    return out


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, value = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return min(times), value


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Run the benchmark, print the figures and return them."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="1,20,100", help="roads repeated this many times (default 1,20,100)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each; the best counts")
    args = ap.parse_args(argv if argv is not None else [])
    from _pg import PASSWORD, PgServer, find_bindir

    if find_bindir() is None:
        print("PostgreSQL with PostGIS is not installed (apt-get install postgresql postgresql-postgis); skipped")
        return {}
    figures: dict[str, float] = {}
    base = geoplan.read_layers(geoplan.embedded_layers_path())
    with tempfile.TemporaryDirectory(prefix="geoplan-bench-pg-") as tmp:
        t0 = time.perf_counter()
        server = PgServer(Path(tmp) / "pg").start()
        print(f"server up in {time.perf_counter() - t0:.1f} s (initdb, start, CREATE EXTENSION postgis)")
        os.environ["PGPASSWORD"] = PASSWORD
        try:
            print(f"{'features':>9s} {'MB sent':>8s} {'validate':>9s} {'push new':>9s} {'push again':>10s} "
                  f"{'read URL':>9s} {'pull gpkg':>10s} {'write gpkg':>11s} {'read gpkg':>10s}")
            for k in (int(s) for s in args.scales.split(",") if s.strip()):
                layers = scaled(base, k)
                n = sum(len(g) for g in layers.layers.values())
                t_val, _ = best(lambda layers=layers: geoplan.validate(layers), args.repeat)
                fresh = iter(range(10_000))
                t_new, report = best(lambda layers=layers, k=k, fresh=fresh: push_layers(
                    layers, server.url(schema=f"s{k}_{next(fresh)}")), args.repeat)
                url = server.url(schema=f"s{k}_again")
                push_layers(layers, url)
                t_again, _ = best(lambda layers=layers, url=url: push_layers(layers, url), args.repeat)
                t_read, back = best(lambda url=url: geoplan.read_layers(url), args.repeat)
                assert sum(len(g) for g in back.layers.values()) == n
                gpkg = Path(tmp) / f"pulled{k}.gpkg"
                t_pull, _ = best(lambda url=url, gpkg=gpkg: pull_layers(url, gpkg), args.repeat)
                direct = Path(tmp) / f"direct{k}.gpkg"
                t_write, _ = best(lambda layers=layers, direct=direct: geoplan.write_layers(layers, direct),
                                  args.repeat)
                t_rgpkg, _ = best(lambda direct=direct: geoplan.read_layers(direct), args.repeat)
                mb = report.bytes / 1e6
                print(f"{n:9,d} {mb:8.2f} {t_val:8.2f}s {t_new:8.2f}s {t_again:9.2f}s {t_read:8.2f}s "
                      f"{t_pull:9.2f}s {t_write:10.2f}s {t_rgpkg:9.2f}s", flush=True)
                figures.update({f"features_{k}": n, f"mb_{k}": mb, f"validate_s_{k}": t_val, f"push_new_s_{k}": t_new,
                                f"push_again_s_{k}": t_again, f"read_url_s_{k}": t_read, f"pull_gpkg_s_{k}": t_pull,
                                f"write_gpkg_s_{k}": t_write, f"read_gpkg_s_{k}": t_rgpkg})
        finally:
            server.stop()
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
