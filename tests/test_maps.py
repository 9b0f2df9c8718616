"""Maps: the folium HTML (structure, escaping, size, determinism), the PNG, and a real Chromium.

Browser tests (``-m browser``) drive Debian's chromium through playwright. The page is served
from 127.0.0.1; Leaflet's CDN URLs are answered from the copy that ``scripts/test.sh`` installs
from the npm registry (``GEOPLAN_LEAFLET_DIR``), and every other external request (tiles,
anything else) is aborted, so the map must work with Leaflet alone.
"""

from __future__ import annotations

import base64
import functools
import http.server
import io
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import folium
import numpy as np
import pytest
import rasterio
import shapely
from _kz_results import Results, build_results, vertex_count, with_hostile_text, xss_name
from matplotlib import colormaps
from matplotlib.image import imread
from pyproj import Transformer
from rasterio.transform import Affine

import geoplan
from geoplan._style import CATEGORIES, CATEGORY_COLOURS, CATEGORY_LABELS
from geoplan.maps import LEAFLET_CDN, agglomeration_map, category_png, relocation_map, render_map, save_map

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="module")
def res(kz_layers: geoplan.LayerSet) -> Results:
    return build_results(kz_layers)


@pytest.fixture(scope="module")
def surface_tif(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small travel-time GeoTIFF in UTM 42N: minutes at 60 km/h from Karaganda, a nodata corner."""
    path = tmp_path_factory.mktemp("surface") / "minutes.tif"
    to_utm = Transformer.from_crs(4326, 32643, always_xy=True)
    cx, cy = to_utm.transform(73.1, 49.8)
    cell = 5000.0
    n = 120
    x0, y0 = cx - 0.25 * n * cell, cy + 0.7 * n * cell  # off-centre, so a flipped image would show
    xs = x0 + (np.arange(n) + 0.5) * cell
    ys = y0 - (np.arange(n) + 0.5) * cell
    gx, gy = np.meshgrid(xs, ys)
    minutes = (np.hypot(gx - cx, gy - cy) / 1000 / 60 * 60).astype("float32")
    minutes[:20, -20:] = -9999  # nodata (north-east corner)
    minutes[-5:, -5:] = np.inf  # unreachable
    with rasterio.open(path, "w", driver="GTiff", width=n, height=n, count=1, dtype="float32", crs="EPSG:32643",
                       transform=Affine(cell, 0, x0, 0, -cell, y0), nodata=-9999) as dst:
        dst.write(minutes, 1)
    return path


def _layer_data(html: str, key: str) -> list[dict]:
    """The features embedded for layer ``key`` (the JSON passed to geoplanLayer)."""
    names = dict(re.findall(r'window\.geoplan\.layers\["([a-z]+)"\] = (\w+);', html))
    var = names[key]
    m = re.search(rf"var {var} = geoplanLayer\((\[.*?\]), \{{", html, re.S)
    return json.loads(m.group(1))


# --------------------------------------------------------------------------------------
# HTML


def test_map_loads_nothing_but_leaflet(res: Results) -> None:
    html = render_map(agglomeration_map(res.towns, res.centres, res.catchments, roads=res.roads))
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
    styles = re.findall(r'<link[^>]+href="([^"]+)"', html)
    assert scripts == [f"{LEAFLET_CDN}/leaflet.js"]
    assert styles == [f"{LEAFLET_CDN}/leaflet.css"]
    for word in ("jquery", "bootstrap", "awesome", "font-awesome", "d3.", "$("):
        assert word not in html.lower(), word
    # folium's class-level defaults are left alone for other maps in the same process
    assert any(name == "jquery" for name, _ in folium.Map.default_js)
    assert "preferCanvas" in html and '"preferCanvas": true' in html


def test_assets_url_points_leaflet_elsewhere(res: Results) -> None:
    html = render_map(agglomeration_map(res.towns, res.centres, None, assets_url="vendor/leaflet/", tiles=False))
    assert 'src="vendor/leaflet/leaflet.js"' in html and 'href="vendor/leaflet/leaflet.css"' in html
    assert "cdn.jsdelivr" not in html and "tile.openstreetmap.org" not in html
    # without tiles the OSM-derived data is still credited
    assert "OpenStreetMap" in html


def test_osm_tiles_are_credited(res: Results) -> None:
    html = render_map(agglomeration_map(res.towns, res.centres, res.catchments))
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in html
    html = html.replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u0026", "&").replace('\\"', '"')
    assert "openstreetmap.org/copyright" in html and "OpenStreetMap</a> contributors" in html


def test_map_embeds_one_marker_per_town_with_its_facts(res: Results) -> None:
    html = render_map(agglomeration_map(res.towns, res.centres, res.catchments))
    towns = _layer_data(html, "towns")
    assert [f["properties"]["id"] for f in towns] == sorted(res.towns["id"])
    by_id = res.towns.set_index("id")
    for f in towns:
        row = by_id.loc[f["properties"]["id"]]
        assert f["geometry"]["type"] == "Point"
        assert f["geometry"]["coordinates"] == pytest.approx([row.geometry.x, row.geometry.y], abs=1e-5)
        assert f["properties"]["style"]["fillColor"] == CATEGORY_COLOURS[row["category"]]
        popup = f["properties"]["popup"]
        assert row["name_en"] in popup and CATEGORY_LABELS[row["category"]] in popup
        assert f"{row['minutes']:.0f} min" in popup and f"{row['km']:.0f} km" in popup
        assert row["nearest_centre_name"] in popup
    centres = _layer_data(html, "centres")
    radius = {f["properties"]["id"]: f["properties"]["style"]["radius"] for f in centres}
    pop = res.centres.set_index("id")["population"]
    # circle area grows with population: radii are ordered like populations
    ids = sorted(radius, key=lambda i: pop[i])
    assert [radius[i] for i in ids] == sorted(radius.values())


def test_unreachable_town_says_so(res: Results) -> None:
    towns = res.towns.copy()
    towns.loc[towns["id"] == "aksai", ["minutes", "km"]] = np.nan
    html = render_map(agglomeration_map(towns, res.centres, None))
    aksai = next(f for f in _layer_data(html, "towns") if f["properties"]["id"] == "aksai")
    assert "unreachable by road" in aksai["properties"]["popup"]
    assert "Road distance" not in aksai["properties"]["popup"]


def test_same_bytes_in_a_fresh_process(res: Results, tmp_path: Path) -> None:
    """Another interpreter with another hash seed writes the same HTML and PNG."""
    here = save_map(relocation_map(res.towns, res.centres, res.flows, roads=res.roads), tmp_path / "here.html")
    here_png = category_png(res.towns, res.centres, tmp_path / "here.png", roads=res.roads)
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import geoplan
        from _kz_results import build_results
        from geoplan.maps import category_png, relocation_map, save_map
        r = build_results(geoplan.read_layers(geoplan.embedded_layers_path()))
        save_map(relocation_map(r.towns, r.centres, r.flows, roads=r.roads), {str(tmp_path / "there.html")!r})
        category_png(r.towns, r.centres, {str(tmp_path / "there.png")!r}, roads=r.roads)
    """)
    subprocess.run([sys.executable, "-c", script], check=True, env=dict(os.environ, PYTHONHASHSEED="4242"),
                   timeout=120)
    assert (tmp_path / "there.html").read_bytes() == here.read_bytes()
    assert (tmp_path / "there.png").read_bytes() == here_png.read_bytes()


def test_catchments_are_drawn_widest_band_first(res: Results) -> None:
    html = render_map(agglomeration_map(res.towns, res.centres, res.catchments))
    feats = _layer_data(html, "catchments")
    assert len(feats) == len(res.catchments)
    bands = [int(re.search(r"≤ (\d+) min", f["properties"]["tooltip"]).group(1)) for f in feats]
    assert bands == sorted(bands, reverse=True)
    assert all(0 < f["properties"]["style"]["fillOpacity"] < 0.5 for f in feats)  # semi-transparent


def test_national_map_is_small_simplified_and_rounded(res: Results, surface_tif: Path, tmp_path: Path) -> None:
    m = agglomeration_map(res.towns, res.centres, res.catchments, roads=res.roads, surface=surface_tif)
    path = save_map(m, tmp_path / "agglomeration.html")
    size = path.stat().st_size
    assert size < 2_000_000
    html = path.read_text(encoding="utf-8")
    feats = _layer_data(html, "catchments")
    n_html = sum(len(ring) for f in feats for poly in (
        [f["geometry"]["coordinates"]] if f["geometry"]["type"] == "Polygon" else f["geometry"]["coordinates"])
        for ring in poly)
    n_input = vertex_count(res.catchments.geometry)
    assert n_html < n_input / 3, (n_html, n_input)  # 500 m simplification removes most vertices
    coords = re.findall(r"-?\d+\.\d+", json.dumps([f["geometry"] for f in feats]))
    assert max(len(c.split(".")[1]) for c in coords) <= 5
    # simplification keeps the shape: areas within 3 % of the input
    simple = shapely.from_geojson([json.dumps(f["geometry"]) for f in feats])
    order = res.catchments.sort_values(["band", "centre"], ascending=[False, True])
    crs = res.catchments.estimate_utm_crs()
    a_in = order.to_crs(crs).area.to_numpy()
    import geopandas as gpd

    a_out = gpd.GeoSeries(simple, crs=4326).to_crs(crs).area.to_numpy()
    np.testing.assert_allclose(a_out, a_in, rtol=0.03)


def test_rendering_is_deterministic(res: Results, surface_tif: Path, tmp_path: Path) -> None:
    def agg() -> folium.Map:
        return agglomeration_map(res.towns, res.centres, res.catchments, roads=res.roads, surface=surface_tif)

    a = save_map(agg(), tmp_path / "a.html")
    b = save_map(agg(), tmp_path / "b.html")
    assert a.read_bytes() == b.read_bytes()
    m = relocation_map(res.towns, res.centres, res.flows)
    assert render_map(m) == render_map(m) == render_map(relocation_map(res.towns, res.centres, res.flows))
    assert not re.search(r"_[0-9a-f]{32}\b", a.read_text(encoding="utf-8"))  # no random folium ids left


def test_data_text_is_escaped(res: Results) -> None:
    hostile = with_hostile_text(res)
    html = render_map(agglomeration_map(hostile.towns, hostile.centres, hostile.catchments))
    assert "<img" not in html and "onerror=" not in html.replace("onerror=\\u0026quot;", "")
    town = _layer_data(html, "towns")[0]
    assert town["properties"]["popup"].count("&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;") == 1
    assert "&lt;b&gt;left&lt;/b&gt;" in town["properties"]["popup"]
    assert "Қарағанды облысы — Карагандинская область" in town["properties"]["popup"]
    assert "&lt;img" in town["properties"]["tooltip"]


def test_relocation_map_flows(res: Results) -> None:
    html = render_map(relocation_map(res.towns, res.centres, res.flows, roads=res.roads))
    flows = _layer_data(html, "flows")
    assert len(flows) == len(res.flows) > 0
    people = {(f["properties"]["tooltip"].split(":")[0]): f["properties"]["style"]["weight"] for f in flows}
    # width grows with people
    by_people = res.flows.sort_values("people")
    pairs = zip(by_people["origin_name"], by_people["destination_name"], strict=True)
    widths = [people[f"{o} → {d}"] for o, d in pairs]
    assert widths == sorted(widths) and widths[-1] > widths[0]
    for f, (_, row) in zip(sorted(flows, key=lambda f: f["properties"]["tooltip"]),
                           res.flows.sort_values("origin_name").iterrows(), strict=True):
        assert f"{row['people']:,}" in f["properties"]["popup"]
        # the line follows the road route: its ends are the origin town and the destination
        start, end = f["geometry"]["coordinates"][0], f["geometry"]["coordinates"][-1]
        assert start == pytest.approx(list(row.geometry.coords[0]), abs=1e-4)
        assert end == pytest.approx(list(row.geometry.coords[-1]), abs=1e-4)
    centres = {f["properties"]["id"]: f for f in _layer_data(html, "centres")}
    for _, row in res.centres[res.centres["allocated"] > 0].iterrows():
        assert f"{100 * row['capacity_used']:.0f} %" in centres[row["id"]]["properties"]["popup"]
    towns = {f["properties"]["id"]: f for f in _layer_data(html, "towns")}
    for _, row in res.flows.iterrows():
        assert f"{row['people']:,} people to {row['destination_name']}" in towns[row["origin"]]["properties"]["popup"]


def test_empty_results_give_a_valid_map(res: Results) -> None:
    towns = res.towns[res.towns["category"] != "relocation"]
    html = render_map(relocation_map(towns, res.centres, None))
    assert _layer_data(html, "flows") == []
    assert "No relocation flows" in html and "Relocation (0)" in html
    html = render_map(agglomeration_map(towns.iloc[0:0], res.centres, res.catchments.iloc[0:0]))
    assert _layer_data(html, "towns") == [] and "catchments" not in re.findall(r'layers\["(\w+)"\]', html)


def test_bad_input_raises_analysis_error(res: Results) -> None:
    with pytest.raises(geoplan.AnalysisError, match="category"):
        agglomeration_map(res.towns.drop(columns="category"), res.centres, res.catchments)
    with pytest.raises(geoplan.AnalysisError, match=r"catchments result.*Polygon"):
        agglomeration_map(res.towns, res.centres, res.catchments.assign(geometry=res.catchments.representative_point()))


# --------------------------------------------------------------------------------------
# travel-time surface


def test_surface_overlay_is_reprojected_and_coloured(res: Results, surface_tif: Path) -> None:
    html = render_map(agglomeration_map(res.towns, res.centres, res.catchments, surface=surface_tif,
                                        surface_max_px=64))
    m = re.search(r'L\.imageOverlay\(\s*"data:image/png;base64,([^"]+)",\s*(\[\[.*?\]\])', html, re.S)
    rgba = np.round(imread(io.BytesIO(base64.b64decode(m.group(1))), format="png") * 255).astype(np.uint8)
    h, w = rgba.shape[:2]
    assert rgba.shape[2] == 4 and max(h, w) <= 64
    (south, west), (north, east) = json.loads(m.group(2))
    with rasterio.open(surface_tif) as src:
        b = src.bounds
    to_ll = Transformer.from_crs(32643, 4326, always_xy=True)
    lons, lats = to_ll.transform([b.left, b.right, b.left, b.right], [b.bottom, b.bottom, b.top, b.top])
    # the Mercator box of the UTM square holds its corners (to within one output pixel,
    # GDAL rounds the suggested size) and is not much larger
    tol = max((east - west) / w, (north - south) / h)
    assert west <= min(lons) + tol and east >= max(lons) - tol
    assert south <= min(lats) + tol and north >= max(lats) - tol
    assert (east - west) < 1.2 * (max(lons) - min(lons))
    assert rgba[0, -1, 3] == 0 and rgba[h // 2, w // 2, 3] == 255  # nodata corner transparent, data opaque
    assert "gpSurface" in html and "Travel time to nearest centre" in html
    # registration: the lightest (0 min) pixel lies on Karaganda, the raster's source point
    light = np.asarray(colormaps["magma_r"](0.0)[:3]) * 255
    dist = np.where(rgba[..., 3] > 0, np.abs(rgba[..., :3].astype(float) - light).sum(axis=2), np.inf)
    row, col = np.unravel_index(np.argmin(dist), dist.shape)
    to_m = Transformer.from_crs(4326, 3857, always_xy=True)
    (x0, y0), (x1, y1) = to_m.transform(west, north), to_m.transform(east, south)
    lon, lat = Transformer.from_crs(3857, 4326, always_xy=True).transform(
        x0 + (col + 0.5) * (x1 - x0) / w, y0 + (row + 0.5) * (y1 - y0) / h)
    assert abs(lon - 73.1) < 1.5 * (east - west) / w and abs(lat - 49.8) < 1.5 * (north - south) / h
    # and colours darken away from it (magma reversed: near = light)
    rr, cc = np.indices((h, w))
    far = np.hypot(rr - row, cc - col)
    brightness = rgba[..., :3].astype(float).sum(axis=2)
    opaque = rgba[..., 3] > 0
    assert brightness[(far < 5) & opaque].mean() > brightness[(far > 30) & opaque].mean() + 100
    # the ramp tops out at the 95th percentile, so the legend says "≥"
    assert "≥ " in html.split("Travel time to nearest centre")[1][:400]


def test_surface_errors_name_the_file(res: Results, tmp_path: Path) -> None:
    missing = tmp_path / "nope.tif"
    with pytest.raises(geoplan.LayerReadError, match=r"nope\.tif"):
        agglomeration_map(res.towns, res.centres, None, surface=missing)
    two = tmp_path / "two.tif"
    with rasterio.open(two, "w", driver="GTiff", width=4, height=4, count=2, dtype="float32", crs="EPSG:4326",
                       transform=Affine(0.1, 0, 70, 0, -0.1, 50)) as dst:
        dst.write(np.ones((2, 4, 4), "float32"))
    with pytest.raises(geoplan.LayerReadError, match="2 bands"):
        agglomeration_map(res.towns, res.centres, None, surface=two)
    nocrs = tmp_path / "nocrs.tif"
    with rasterio.open(nocrs, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32",
                       transform=Affine(0.1, 0, 70, 0, -0.1, 50)) as dst:
        dst.write(np.ones((1, 4, 4), "float32"))
    with pytest.raises(geoplan.LayerReadError, match="no CRS"):
        agglomeration_map(res.towns, res.centres, None, surface=nocrs)


# --------------------------------------------------------------------------------------
# PNG


def test_category_png(res: Results, tmp_path: Path) -> None:
    a = category_png(res.towns, res.centres, tmp_path / "a.png", roads=res.roads)
    b = category_png(res.towns, res.centres, tmp_path / "b.png", roads=res.roads)
    assert a.read_bytes() == b.read_bytes()
    def rgb8(path: Path) -> np.ndarray:
        return np.round(imread(path, format="png")[..., :3] * 255).astype(np.uint32)

    img = rgb8(a)
    assert img.shape[1] > 1000 and img.shape[0] > 500

    def count(path: Path, colour: str) -> int:
        rgb = rgb8(path)
        packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        return int((packed == int(colour[1:], 16)).sum())

    for cat in CATEGORIES:
        assert count(a, CATEGORY_COLOURS[cat]) > 0, cat
    # More relocation towns -> more relocation-coloured pixels: the colours come from the data.
    moved = res.towns.assign(category="relocation")
    c = category_png(moved, res.centres, tmp_path / "c.png")
    assert count(c, CATEGORY_COLOURS["relocation"]) > 3 * count(a, CATEGORY_COLOURS["relocation"])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# --------------------------------------------------------------------------------------
# browser


def _leaflet_dir() -> Path:
    env = os.environ.get("GEOPLAN_LEAFLET_DIR")
    path = Path(env) if env else ROOT / ".cache" / "npm" / "node_modules" / "leaflet" / "dist"
    if not (path / "leaflet.js").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Leaflet not found at {path}; scripts/test.sh installs it from npm")
        pytest.skip(f"Leaflet not found at {path} (npm install --prefix .cache/npm leaflet@1.9.4)")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path("/usr/bin/chromium").exists():
        if os.environ.get("CI") == "true":
            pytest.fail("/usr/bin/chromium is missing")
        pytest.skip("/usr/bin/chromium is missing")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"],
        )
        yield b
        b.close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Page:
    """A page with Leaflet answered locally, every other external request aborted, errors recorded."""

    def __init__(self, browser, base: str, leaflet: Path) -> None:
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 860})
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", lambda msg: self.errors.append(msg.text)
                     if msg.type == "error" and "Failed to load resource" not in msg.text else None)

        def route(r) -> None:
            url = r.request.url
            if url.startswith(base + "/"):
                r.continue_()
            elif url.startswith(LEAFLET_CDN + "/") and (leaflet / url[len(LEAFLET_CDN) + 1:].split("?")[0]).is_file():
                r.fulfill(path=str(leaflet / url[len(LEAFLET_CDN) + 1:].split("?")[0]))
            else:
                self.blocked.append(url)
                r.abort()

        self.page.route("**/*", route)

    def open(self, url: str) -> None:
        self.page.goto(url, wait_until="load")
        self.page.wait_for_function("window.geoplan && window.geoplan.layers.towns !== undefined")
        _redrawn(self.page)

    def close(self) -> None:
        self.context.close()


def _redrawn(page) -> None:
    """Wait until Leaflet's canvas renderer has drawn (it redraws on the next animation frame)."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def _town_point(page, town_id: str, zoom: int = 9) -> tuple[float, float]:
    page.mouse.move(640, 850)  # leave the previous marker so its tooltip closes
    page.evaluate(
        """([id, zoom]) => {
            const l = geoplan.layers.towns.getLayers().find(x => x.feature.properties.id === id);
            geoplan.map.setView(l.getLatLng(), zoom, {animate: false});
        }""", [town_id, zoom])
    _redrawn(page)
    x, y = page.evaluate(
        """(id) => {
            const l = geoplan.layers.towns.getLayers().find(x => x.feature.properties.id === id);
            const p = geoplan.map.latLngToContainerPoint(l.getLatLng());
            const r = geoplan.map.getContainer().getBoundingClientRect();
            return [r.left + p.x, r.top + p.y];
        }""", town_id)
    return x, y


@pytest.mark.browser
def test_agglomeration_map_in_chromium(browser, served, res: Results, surface_tif: Path) -> None:
    leaflet = _leaflet_dir()
    folder, base = served
    hostile = with_hostile_text(res)
    save_map(agglomeration_map(hostile.towns, hostile.centres, hostile.catchments, roads=hostile.roads,
                               surface=surface_tif), folder / "agglomeration.html")
    started = time.perf_counter()
    p = _Page(browser, base, leaflet)
    try:
        page = p.page
        p.open(f"{base}/agglomeration.html")
        # one circle marker per town, where the town is
        markers = page.evaluate("""() => geoplan.layers.towns.getLayers().map(l => [
            l.feature.properties.id, l instanceof L.CircleMarker, l.getLatLng().lng, l.getLatLng().lat])""")
        assert sorted(m[0] for m in markers) == sorted(hostile.towns["id"])
        assert all(m[1] for m in markers)
        xy = hostile.towns.set_index("id").geometry
        for tid, _, lon, lat in markers:
            assert (lon, lat) == pytest.approx((xy[tid].x, xy[tid].y), abs=1e-5)
        assert page.evaluate("() => geoplan.map.hasLayer(geoplan.layers.towns)")
        # every catchment polygon is projected and drawn on the canvas
        drawn = page.evaluate("""() => geoplan.layers.catchments.getLayers().map(l => l._parts.length)""")
        assert len(drawn) == len(hostile.catchments) and all(n > 0 for n in drawn)
        coverage = """() => {
            const c = document.querySelector('.leaflet-overlay-pane canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; }
            return n / (c.width * c.height);
        }"""
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "agglomeration_map.png"))
        # Around Karaganda the bands fill much of the view: hiding them must clear canvas pixels.
        page.evaluate("() => { geoplan.map.setView([49.8, 73.1], 8, {animate: false}); }")
        _redrawn(page)
        with_catchments = page.evaluate(coverage)
        page.evaluate("() => { geoplan.map.removeLayer(geoplan.layers.catchments); }")
        _redrawn(page)
        without = page.evaluate(coverage)
        page.evaluate("() => { geoplan.map.addLayer(geoplan.layers.catchments); }")
        assert with_catchments > without + 0.05, (with_catchments, without)
        # the surface image decoded from its data URL
        assert page.evaluate("() => document.querySelector('.leaflet-gpSurface-pane img').naturalWidth") > 0
        legend = page.locator(".gp-legend")
        assert legend.is_visible()
        for cat in CATEGORIES:
            assert CATEGORY_LABELS[cat] in legend.inner_text()
        assert page.locator(".leaflet-control-scale").is_visible()
        assert page.locator(".leaflet-control-layers").is_visible()
        assert "© OpenStreetMap contributors" in page.locator(".leaflet-control-attribution").inner_text()

        # click a normal town: its popup shows its name and minutes
        town = hostile.towns.set_index("id").loc["arkalyk"]
        x, y = _town_point(page, "arkalyk")
        page.mouse.click(x, y)
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for(state="visible", timeout=5000)
        text = popup.inner_text()
        assert town["name_en"] in text and f"{town['minutes']:.0f} min" in text
        assert CATEGORY_LABELS[town["category"]] in text and town["reasons"] in text
        page.evaluate("() => { geoplan.map.closePopup(); }")
        page.wait_for_function("() => !document.querySelector('.leaflet-popup')")  # after its fade-out

        # the hostile name is shown as text in the popup and the tooltip, and never runs
        x, y = _town_point(page, hostile.towns.loc[0, "id"])
        page.mouse.move(x, y)
        tooltip = page.locator(".leaflet-tooltip", has_text="onerror")
        tooltip.wait_for(state="visible", timeout=5000)
        assert xss_name() in tooltip.inner_text()
        page.mouse.click(x, y)
        popup.wait_for(state="visible", timeout=5000)
        assert xss_name() in popup.inner_text()
        assert "<b>left</b>" in popup.inner_text()
        images = "() => document.querySelectorAll('.leaflet-popup-content img, .leaflet-tooltip img').length"
        assert page.evaluate(images) == 0
        page.wait_for_timeout(100)
        assert page.evaluate("() => window.__xss") is None
        page.screenshot(path=str(ARTIFACTS / "agglomeration_popup.png"))
        assert p.errors == []
        assert all(not u.startswith(LEAFLET_CDN) for u in p.blocked)  # Leaflet itself was served
    finally:
        p.close()
    print(f"agglomeration map browser checks: {time.perf_counter() - started:.1f} s")


@pytest.mark.browser
def test_relocation_map_in_chromium(browser, served, res: Results) -> None:
    leaflet = _leaflet_dir()
    folder, base = served
    save_map(relocation_map(res.towns, res.centres, res.flows, roads=res.roads), folder / "relocation.html")
    p = _Page(browser, base, leaflet)
    try:
        page = p.page
        p.open(f"{base}/relocation.html")
        assert page.evaluate("() => geoplan.layers.flows.getLayers().length") == len(res.flows)
        assert page.evaluate("() => geoplan.layers.towns.getLayers().length") == len(res.towns)
        weights = page.evaluate("() => geoplan.layers.flows.getLayers().map(l => l.options.weight)")
        assert max(weights) > min(weights)
        assert page.locator(".gp-legend").is_visible()
        assert "Relocation flows" in page.locator(".gp-legend").inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "relocation_map.png"))
        origin = res.flows.iloc[0]
        x, y = _town_point(page, origin["origin"])
        page.mouse.click(x, y)
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for(state="visible", timeout=5000)
        assert f"{origin['people']:,} people to {origin['destination_name']}" in popup.inner_text()
        assert p.errors == []
    finally:
        p.close()


@pytest.mark.browser
def test_empty_relocation_map_in_chromium(browser, served, res: Results) -> None:
    leaflet = _leaflet_dir()
    folder, base = served
    towns = res.towns[res.towns["category"] != "relocation"]
    save_map(relocation_map(towns, res.centres, None), folder / "empty.html")
    p = _Page(browser, base, leaflet)
    try:
        p.open(f"{base}/empty.html")
        assert p.page.evaluate("() => geoplan.layers.flows.getLayers().length") == 0
        assert p.page.evaluate("() => geoplan.layers.towns.getLayers().length") == len(towns)
        assert "No relocation flows" in p.page.locator(".gp-legend").inner_text()
        assert p.errors == []
    finally:
        p.close()

