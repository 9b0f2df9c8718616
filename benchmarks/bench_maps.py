"""Benchmark: map size and load time, with the embedded layers and with a continent of roads.

* the run's maps on the embedded layers (boundaries, 3,408 settlements, the surface), written
  by ``geoplan.run`` to a temporary folder;
* the agglomeration map with the real Asian highway graph of Travel Mapping as its roads layer
  (``../shared/data/real/tm_asia_highway_graph_*.csv.gz``, 139,779 segments; benchmark data
  only, never embedded): the map keeps display classes and merges and simplifies the lines, the
  full data stays in the exports.

For each map: bytes on disk, seconds to build and write it, and seconds until the page is ready
in headless Chromium with every network request blocked (median of 3 loads). Target: every map
under 2.5 MB. Also ``categories.png`` with all 9,899 OpenStreetMap places of Kazakhstan (labels
for the largest only). Run alone with ``python benchmarks/bench_maps.py``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

HERE = Path(__file__).resolve().parent
REAL = HERE.parents[1] / "shared" / "data" / "real"
TARGET_BYTES = 2_500_000


def asia_roads() -> gpd.GeoDataFrame | None:
    nodes_f, edges_f = REAL / "tm_asia_highway_graph_nodes.csv.gz", REAL / "tm_asia_highway_graph_edges.csv.gz"
    if not nodes_f.exists() or not edges_f.exists():
        return None
    nodes = pd.read_csv(nodes_f).set_index("node_id")
    edges = pd.read_csv(edges_f)
    a = nodes.loc[edges["u"], ["lon", "lat"]].to_numpy()
    b = nodes.loc[edges["v"], ["lon", "lat"]].to_numpy()
    lines = shapely.linestrings(np.stack([a, b], axis=1))
    return gpd.GeoDataFrame({"id": [f"e{i}" for i in range(len(edges))], "road_class": "trunk",
                             "length_km": edges["length_m"] / 1000}, geometry=lines, crs=4326)


def load_seconds(path: Path, repeats: int = 3) -> float | None:
    if not Path("/usr/bin/chromium").exists():
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    url = path.resolve().as_uri()
    times = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                     args=["--headless", "--no-sandbox", "--disable-gpu",
                                           "--disable-background-networking"])
        for _ in range(repeats):
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.route("**/*", lambda r: r.continue_() if r.request.url == url else r.abort())
            start = time.perf_counter()
            page.goto(url, wait_until="load")
            page.wait_for_function("window.geoplan && window.geoplan.isReady === true", timeout=60000)
            times.append(time.perf_counter() - start)
            page.close()
        browser.close()
    return statistics.median(times)


def report(name: str, path: Path, build_s: float) -> bool:
    size = path.stat().st_size
    load = load_seconds(path)
    ok = size < TARGET_BYTES
    load_text = f"{load:6.2f} s" if load is not None else "   n/a"
    print(f"{name:<44} {size / 1e6:6.2f} MB  build {build_s:6.1f} s  load {load_text}  "
          f"{'ok' if ok else 'OVER 2.5 MB'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    import geoplan
    from geoplan.maps import agglomeration_map, save_map

    ok = True
    print("map                                            size       build          load (offline, median of 3)")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        start = time.perf_counter()
        result = geoplan.run(out_dir=out / "run", progress=False)
        build = time.perf_counter() - start
        for name in ("agglomeration.html", "relocation.html"):
            ok &= report(f"{name} (embedded layers, run incl. analysis)", out / "run" / name, build)
        from geoplan.pipeline import _optional_layer

        layers = {k: _optional_layer(result.layers, k) for k in ("boundaries", "settlements")}
        roads = asia_roads()
        if roads is None:
            print("Asian highway graph not found: skipped")
        else:
            start = time.perf_counter()
            m = agglomeration_map(result.towns, result.centres, result.catchments, roads=roads,
                                  boundaries=layers.get("boundaries"), settlements=layers.get("settlements"),
                                  surface=out / "run" / "surface.tif")
            path = save_map(m, out / "asia.html")
            ok &= report(f"agglomeration.html, {len(roads):,} Asian roads", path, time.perf_counter() - start)
        # the PNG labels the largest places only, without overlaps, at any number of places
        from geoplan.maps import category_png

        places_f = REAL / "kz_places_hotosm_osm.geojson"
        if places_f.exists():
            places = gpd.read_file(places_f)
            places["population"] = pd.to_numeric(places.get("population"), errors="coerce").fillna(50)
            places["name_en"] = places.get("name:en", places.get("name"))
            start = time.perf_counter()
            png = category_png(result.towns, result.centres, out / "categories.png", roads=result.layers.roads,
                               boundaries=layers["boundaries"], settlements=places)
            print(f"categories.png with {len(places):,} places{'':<17} {png.stat().st_size / 1e6:6.2f} MB  "
                  f"build {time.perf_counter() - start:6.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
