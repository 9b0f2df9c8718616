"""Maps: the folium HTML (structure, escaping, size, determinism), the PNG, and a real Chromium.

Browser tests (``-m browser``) drive Debian's chromium through playwright. The map is opened
from a file and EVERY network request is aborted (tiles, anything else): the page must work
with what it carries (Leaflet and geoplan's script inlined).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from _kz_results import Results, build_results, vertex_count, with_hostile_text, xss_name
from matplotlib.image import imread
from pyproj import Transformer
from rasterio.transform import Affine

import geoplan
from geoplan._style import CATEGORIES, CATEGORY_COLOURS, CATEGORY_LABELS, band_colours
from geoplan.maps import (
    LEAFLET_CDN,
    LEAFLET_VERSION,
    MapContext,
    agglomeration_map,
    category_png,
    relocation_map,
    render_map,
    save_map,
)
from geoplan.maps.assets import ASSETS_DIR, asset_record, geoplan_css, geoplan_js, leaflet_css, leaflet_js
from geoplan.maps.difference import CHANGE_COLOUR, difference_map, road_changes, town_changes
from geoplan.maps.figures import place_labels
from geoplan.maps.web import latin

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
    """The features embedded for layer ``key`` (the JSON passed to geoplan.layer)."""
    start = html.index(f'geoplan.layer("{key}", ') + len(f'geoplan.layer("{key}", ')
    return json.JSONDecoder().raw_decode(html, start)[0]


def _call_args(html: str, function: str) -> list:
    """The JSON arguments of the first ``geoplan.<function>(...)`` call."""
    start = html.index(f"geoplan.{function}(") + len(f"geoplan.{function}(")
    return json.loads("[" + html[start:html.index(");\n", start)] + "]")


def _norm(text: str) -> str:
    """Text as render_map writes it (no blank lines, no trailing spaces)."""
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip())


def _data_part(html: str) -> str:
    """The page without the inlined Leaflet and runtime, JSON escapes undone (what data put there)."""
    for asset in (leaflet_js(), leaflet_css(), geoplan_js(), geoplan_css()):
        html = html.replace(_norm(asset), "")
    return html.replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u0026", "&").replace('\\"', '"')


def _layer_keys(html: str) -> list[str]:
    return re.findall(r'geoplan\.layer\("(\w+)"', html)


@pytest.fixture(scope="module")
def admin(kz_path: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The embedded boundaries and settlements layers."""
    return gpd.read_file(kz_path / "boundaries.geojson"), gpd.read_file(kz_path / "settlements.geojson")


# --------------------------------------------------------------------------------------
# HTML


def test_map_is_self_contained(res: Results) -> None:
    html = render_map(agglomeration_map(res.towns, res.centres, res.catchments, roads=res.roads))
    # Leaflet and geoplan's runtime are inlined: no script or stylesheet is loaded from anywhere
    assert re.findall(r"<script[^>]+src=", html) == []
    assert re.findall(r"<link[^>]+href=", html) == []
    assert _norm(leaflet_js()) in html and _norm(geoplan_js()) in html
    assert f'"{LEAFLET_VERSION}"' in leaflet_js()
    # the only URLs are the optional tile template and attribution links
    urls = set(re.findall(r"https?://[^\s\"'()<>\\]+", _data_part(html)))
    allowed = ("https://tile.openstreetmap.org/", "https://www.openstreetmap.org/copyright", "http://www.w3.org/2000/svg")
    unexpected = {u for u in urls if not u.startswith(allowed)}
    assert unexpected == set(), unexpected
    for word in ("jquery", "bootstrap", "awesome", "font-awesome", "d3."):
        assert word not in html.lower(), word
    # folium's class-level defaults are left alone for other maps in the same process
    assert any(name == "jquery" for name, _ in folium.Map.default_js)
    assert '"preferCanvas": true' in html
    # Leaflet's control images come as data URLs, marker images (unused) as nothing
    assert "url(images/" not in html and "url(data:image/png;base64," in html


def test_vendored_leaflet_matches_npm_and_its_record() -> None:
    record = asset_record()["leaflet"]
    assert record["version"] == LEAFLET_VERSION and record["licence"] == "BSD-2-Clause"
    assert (ASSETS_DIR / "leaflet" / "LICENSE").read_text().startswith("BSD 2-Clause License")
    for rel, digest in record["files"].items():
        assert hashlib.sha256((ASSETS_DIR / rel).read_bytes()).hexdigest() == digest, rel
    # The copy scripts/test.sh installs from the npm registry is byte-identical.
    npm = Path(os.environ.get("GEOPLAN_LEAFLET_DIR", ROOT / ".cache/npm/node_modules/leaflet/dist"))
    if not (npm / "leaflet.js").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{npm}/leaflet.js missing; scripts/test.sh installs it from npm")
        pytest.skip(f"no npm copy of Leaflet at {npm}")
    assert (npm / "leaflet.js").read_bytes() == (ASSETS_DIR / "leaflet" / "leaflet.js").read_bytes()
    assert (npm / "leaflet.css").read_bytes() == (ASSETS_DIR / "leaflet" / "leaflet.css").read_bytes()


def test_assets_url_points_leaflet_elsewhere(res: Results) -> None:
    html = render_map(agglomeration_map(res.towns, res.centres, None, assets_url=LEAFLET_CDN, tiles=False))
    assert f'src="{LEAFLET_CDN}/leaflet.js"' in html and f'href="{LEAFLET_CDN}/leaflet.css"' in html
    assert _norm(leaflet_js()) not in html and _norm(geoplan_js()) in html
    assert "tile.openstreetmap.org" not in html
    # without tiles the OSM-derived data is still credited
    assert "OpenStreetMap" in html


def test_osm_tiles_are_an_optional_layer_off_by_default(res: Results) -> None:
    html = render_map(agglomeration_map(res.towns, res.centres, res.catchments))
    url, attribution = _call_args(html, "tiles")
    assert url == "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    assert "openstreetmap.org/copyright" in attribution and "OpenStreetMap</a> contributors" in attribution
    # tiles=False: no tile layer at all
    assert "geoplan.tiles(" not in render_map(agglomeration_map(res.towns, res.centres, None, tiles=False))


def test_map_embeds_one_marker_per_town_with_its_facts(res: Results) -> None:
    html = render_map(agglomeration_map(res.towns, res.centres, res.catchments))
    towns = _layer_data(html, "towns")
    assert [f["properties"]["id"] for f in towns] == sorted(res.towns["id"])
    by_id = res.towns.set_index("id")
    both = set(res.towns["id"]) & set(res.centres["id"])
    assert both == {"temirtau", "zhezkazgan"}
    for f in towns:
        row = by_id.loc[f["properties"]["id"]]
        assert f["geometry"]["type"] == "Point"
        assert f["geometry"]["coordinates"] == pytest.approx([row.geometry.x, row.geometry.y], abs=1e-5)
        assert f["properties"]["style"]["fillColor"] == CATEGORY_COLOURS[row["category"]]
        popup = f["properties"]["popup"]
        assert row["name_en"] in popup and CATEGORY_LABELS[row["category"]] in popup
        assert f"{row['minutes']:.0f} min" in popup and f"{row['km']:.0f} km" in popup
        assert row["nearest_centre_name"] in popup
        # one symbol for a town that is also a centre: the town's dot with the centre's ring
        if f["properties"]["id"] in both:
            assert f["properties"]["style"]["weight"] == 3.0 and "As a growth centre" in popup
    centres = _layer_data(html, "centres")
    assert {f["properties"]["id"] for f in centres} == set(res.centres["id"]) - both
    radius = {f["properties"]["id"]: f["properties"]["style"]["radius"] for f in centres}
    pop = res.centres.set_index("id")["population"]
    # circle area grows with population: radii are ordered like populations
    ids = sorted(radius, key=lambda i: pop[i])
    assert [radius[i] for i in ids] == sorted(radius.values())


def test_ranking_columns_are_shown_when_present(res: Results) -> None:
    n = len(res.towns)
    towns = res.towns.assign(score=np.linspace(0.9, 0.1, n), rank=np.arange(1, n + 1), rank_low=1, rank_high=5,
                             group="group_a", borderline=[True] + [False] * (n - 1))
    ctx = MapContext(profiles_url="profiles/")
    html = render_map(agglomeration_map(towns, res.centres, None, context=ctx))
    first = _layer_data(html, "towns")
    popup = next(f for f in first if f["properties"]["id"] == towns.loc[0, "id"])["properties"]["popup"]
    assert "Score" in popup and "0.90" in popup and "Rank" in popup and "range 1–5" in popup
    assert "borderline" in popup and "group a" in popup
    assert f'href="profiles/{towns.loc[0, "id"]}.html"' in popup
    start = html.index("geoplan.init(")
    assert json.JSONDecoder().raw_decode(html, html.index("{", start))[0]["profiles"] == "profiles/index.html"
    # population series as a small chart
    assert "<svg class=\"gp-spark\"" in popup
    # without the columns: no such rows
    plain = _layer_data(render_map(agglomeration_map(res.towns, res.centres, None)), "towns")
    assert all("Score" not in f["properties"]["popup"] and "profiles/" not in f["properties"]["popup"]
               for f in plain)


def test_fragile_and_borderline_towns_are_marked(res: Results) -> None:
    n = len(res.towns)
    towns = res.towns.assign(stability=[0.46, 0.9] + [1.0] * (n - 2), fragile=[True] + [False] * (n - 1),
                             borderline=[True, True] + [False] * (n - 2),
                             borderline_on=["reach 94 min vs 90 (else agglomeration)", "score 62.7 vs 67.8"]
                             + [None] * (n - 2))
    html = render_map(agglomeration_map(towns, res.centres, None))
    props = {f["properties"]["id"]: f["properties"] for f in _layer_data(html, "towns")}
    first, second = props[towns.loc[0, "id"]], props[towns.loc[1, "id"]]
    # fragile: dashed outline; borderline only: dotted; the others plain
    assert first["style"]["dashArray"] == "4 3" and second["style"]["dashArray"] == "1 3"
    assert all("dashArray" not in props[t]["style"] for t in towns["id"][2:])
    assert "fragile (holds in 46 % of runs)" in first["tooltip"]
    assert "borderline: reach 94 min vs 90 (else agglomeration)" in first["tooltip"]
    assert "fragile" not in second["tooltip"] and "borderline: score 62.7 vs 67.8" in second["tooltip"]
    assert "category holds in 46 % of runs" in first["popup"] and "Borderline on" in first["popup"]
    assert "category holds in 90 % of runs" in second["popup"]
    legend = _call_args(html, "legend")[0]
    assert "gp-fragile" in legend and "(1)</div>" in legend.split("gp-fragile")[1].split("</div>")[0] + "</div>"
    assert "gp-borderline" in legend
    # without the columns: no marks, no legend rows
    plain = render_map(agglomeration_map(res.towns, res.centres, None))
    assert "gp-fragile" not in _call_args(plain, "legend")[0]
    assert all("dashArray" not in f["properties"]["style"] for f in _layer_data(plain, "towns"))


def test_popup_names_the_decree_agglomeration(res: Results) -> None:
    towns = res.towns.assign(decree_agglomeration=np.where(res.towns["id"] == "khromtau", "aktobe", ""),
                             decree_level=pd.array([2 if t == "khromtau" else None for t in res.towns["id"]],
                                                   dtype="Int64"))
    props = {f["properties"]["id"]: f["properties"]
             for f in _layer_data(render_map(agglomeration_map(towns, res.centres, None)), "towns")}
    assert "2023 decree</th><td>Aktobe agglomeration (level 2)" in props["khromtau"]["popup"]
    assert "2023 decree" not in props["ridder"]["popup"]


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


def test_national_map_is_small_simplified_and_rounded(res: Results, surface_tif: Path, tmp_path: Path,
                                                       admin: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    boundaries, settlements = admin
    m = agglomeration_map(res.towns, res.centres, res.catchments, roads=res.roads, surface=surface_tif,
                          boundaries=boundaries, settlements=settlements)
    path = save_map(m, tmp_path / "agglomeration.html")
    size = path.stat().st_size
    print(f"agglomeration map with boundaries, {len(settlements)} settlements and surface: {size / 1e6:.2f} MB")
    assert size < 2_500_000
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
    a_out = gpd.GeoSeries(simple, crs=4326).to_crs(crs).area.to_numpy()
    np.testing.assert_allclose(a_out, a_in, rtol=0.03)
    # the basemap: the country outline, region borders (each shared border once), districts
    country = shapely.from_geojson(json.dumps(_layer_data(html, "country")[0]["geometry"]))
    true_country = shapely.union_all(boundaries[boundaries["level"] == 0].geometry.to_numpy())
    assert country.symmetric_difference(true_country).area < 0.01 * true_country.area
    regions = shapely.from_geojson(json.dumps(_layer_data(html, "regions")[0]["geometry"]))
    region_polys = boundaries[boundaries["level"] == 1].to_crs(crs)
    drawn_km = gpd.GeoSeries([regions], crs=4326).to_crs(crs).length.iloc[0] / 1000
    perimeter_km = region_polys.length.sum() / 1000
    # shared borders drawn once: between half the perimeters and all of them
    assert 0.5 * perimeter_km < drawn_km < 0.9 * perimeter_km, (drawn_km, perimeter_km)
    assert "districts" in _layer_keys(html)
    # settlement names by size: larger first, the largest at low zoom
    labels = _call_args(html, "setLabels")[0]
    settle = [c for c in labels if c[4].startswith("settle")]
    assert 1000 < len(settle) <= len(settlements)
    assert [c[3] for c in settle] == sorted(c[3] for c in settle)
    named = {c[0] for c in settle}
    assert "Talgar" in named and "Almaty" not in named  # Almaty is a centre: one label only


def test_roads_by_class_planned_dashed_and_schematic(res: Results) -> None:
    roads = res.roads.copy()
    planned_id = str(roads["id"].iloc[0])
    ctx = MapContext(planned_roads=frozenset({planned_id}))
    html = render_map(agglomeration_map(res.towns, res.centres, None, roads=roads, context=ctx))
    feats = _layer_data(html, "roads") + (_layer_data(html, "roadsMinor") if "roadsMinor" in _layer_keys(html) else [])
    dashed = [f for f in feats if "dashArray" in f["properties"]["style"]]
    assert len(dashed) == 1
    planned = shapely.from_geojson(json.dumps(dashed[0]["geometry"]))
    assert planned.distance(roads.geometry.iloc[0].interpolate(0.5, normalized=True)) < 1e-3
    widths = {f["properties"]["style"]["weight"] for f in feats if "dashArray" not in f["properties"]["style"]}
    assert len(widths) >= 3  # styled by class
    assert "<b>Schematic</b>" in _data_part(html) and "planned (scenario)" in html
    # a real (not straight-line) network is not called schematic
    bent = roads.assign(geometry=[shapely.LineString([g.coords[0], g.interpolate(0.5, normalized=True).coords[0],
                                                      g.coords[-1]]) for g in roads.geometry])
    assert "<b>Schematic</b>" not in _data_part(render_map(agglomeration_map(res.towns, res.centres, None, roads=bent)))


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
    # Outside the popups (escaped HTML), names go to the page as JSON strings that the runtime
    # shows with textContent (labels, search): drop those calls, then no markup is left.
    data = html
    for asset in (leaflet_js(), geoplan_js()):
        data = data.replace(_norm(asset), "")
    data = re.sub(r"geoplan\.(setLabels|placeList)\(.*\);", "", data)
    assert "<img" not in data and "onerror=" not in data.replace("onerror=\\u0026quot;", "")
    assert xss_name() in [c[0] for c in _call_args(html, "setLabels")[0]]
    town = _layer_data(html, "towns")[0]
    assert town["properties"]["popup"].count("&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;") == 1
    assert "&lt;b&gt;left&lt;/b&gt;" in town["properties"]["popup"]
    assert "Қарағанды облысы — Карагандинская область" in town["properties"]["popup"]
    assert "&lt;img" in town["properties"]["tooltip"]
    # a scenario description that closes the script element stays text
    ctx = MapContext(scenario='x"><b>', description="</script><script>window.__xss=1</script>")
    html = render_map(agglomeration_map(hostile.towns, hostile.centres, None, context=ctx))
    assert "</script><script>window.__xss" not in html
    start = html.index("geoplan.init(")
    cfg = json.JSONDecoder().raw_decode(html, html.index("{", start))[0]
    assert cfg["description"] == "</script><script>window.__xss=1</script>" and cfg["scenario"] == 'x"><b>'
    assert "No boundaries layer" in cfg["notes"][0]


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
        # a curved arrow from the origin town to the destination, bent off the straight line
        coords = f["geometry"]["coordinates"]
        assert coords[0] == pytest.approx(list(row.geometry.coords[0]), abs=1e-4)
        assert coords[-1] == pytest.approx(list(row.geometry.coords[-1]), abs=1e-4)
        chord = shapely.LineString([coords[0], coords[-1]])
        assert shapely.Point(coords[len(coords) // 2]).distance(chord) > 0.05 * chord.length
        assert f["properties"]["arrow"]["size"] >= 9 and f["properties"]["arrow"]["gap"] > 5
    centres = {f["properties"]["id"]: f for f in _layer_data(html, "centres") + _layer_data(html, "towns")}
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
    assert _layer_data(html, "towns") == [] and "catchments" not in _layer_keys(html)


def test_bad_input_raises_analysis_error(res: Results) -> None:
    with pytest.raises(geoplan.AnalysisError, match="category"):
        agglomeration_map(res.towns.drop(columns="category"), res.centres, res.catchments)
    with pytest.raises(geoplan.AnalysisError, match=r"catchments result.*Polygon"):
        agglomeration_map(res.towns, res.centres, res.catchments.assign(geometry=res.catchments.representative_point()))


# --------------------------------------------------------------------------------------
# travel-time surface


def _png(url: str) -> np.ndarray:
    assert url.startswith("data:image/png;base64,")
    return np.round(imread(io.BytesIO(base64.b64decode(url.split(",", 1)[1])), format="png") * 255).astype(np.uint8)


def test_surface_overlay_is_reprojected_and_coloured(res: Results, surface_tif: Path) -> None:
    html = render_map(agglomeration_map(res.towns, res.centres, res.catchments, surface=surface_tif,
                                        surface_max_px=64))
    key, url, bounds, opts = _call_args(html, "image")
    assert key == "surface" and opts["name"] == "Travel time surface"
    rgba = _png(url)
    h, w = rgba.shape[:2]
    assert rgba.shape[2] == 4 and max(h, w) <= 64
    (south, west), (north, east) = bounds
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
    assert "Travel time to nearest centre" in html

    # the values under the cursor: minutes in red/green at half resolution
    _, probe = _call_args(html, "surfaceProbe")
    assert probe["bounds"] == bounds
    packed = _png(probe["values"])
    minutes = (packed[..., 0].astype(float) * 256 + packed[..., 1]) * probe["step"]
    valid = packed[..., 3] == 255
    assert valid.sum() > 0.8 * valid.size
    # registration: the smallest time lies on Karaganda, the raster's source point
    row, col = np.unravel_index(np.argmin(np.where(valid, minutes, np.inf)), minutes.shape)
    hv, wv = minutes.shape
    to_m = Transformer.from_crs(4326, 3857, always_xy=True)
    (x0, y0), (x1, y1) = to_m.transform(west, north), to_m.transform(east, south)
    lon, lat = Transformer.from_crs(3857, 4326, always_xy=True).transform(
        x0 + (col + 0.5) * (x1 - x0) / wv, y0 + (row + 0.5) * (y1 - y0) / hv)
    assert abs(lon - 73.1) < 1.5 * (east - west) / wv and abs(lat - 49.8) < 1.5 * (north - south) / hv
    # and it grows at 1 minute per km (the raster is 60 km/h from Karaganda)
    rr, cc = np.indices(minutes.shape)
    far = valid & (np.hypot(rr - row, cc - col) > 10)
    assert minutes[far].min() > 60
    # colours are classes broken at the catchment bands, from the same values
    legend = _data_part(html).split("Travel time to nearest centre")[1][:3000]
    breaks = [float(x) for x in re.findall(r'<span style="left:[\d.]+%">([\d.]+)</span>', legend)]
    assert breaks[:4] == [30.0, 60.0, 90.0, 120.0]
    colours = re.findall(r"(#[0-9A-F]{6}) [\d.]+% [\d.]+%", legend)
    assert len(colours) == len(breaks) + 1 and len(set(colours)) == len(colours)
    palette = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in colours])
    sub = rgba[::2, ::2][: minutes.shape[0], : minutes.shape[1]]
    cls = np.digitize(minutes, breaks)
    same = (sub[..., :3] == palette[cls]).all(axis=2)
    assert same[valid & (sub[..., 3] == 255)].mean() > 0.97
    # the surface's colours are not the categories' nor the catchments'
    assert not set(colours) & set(CATEGORY_COLOURS.values())
    assert not set(colours) & set(band_colours([30, 60, 90, 120]).values())


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
                  "--disable-component-update", "--no-first-run", "--disable-default-apps", "--disable-sync"],
        )
        yield b
        b.close()


class _Page:
    """A map opened from its file with EVERY other request aborted; errors and requests recorded."""

    def __init__(self, browser, path: Path, *, width: int = 1280, height: int = 860) -> None:
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.url = path.resolve().as_uri()
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", lambda msg: self.errors.append(msg.text)
                     if msg.type == "error" and "Failed to load resource" not in msg.text else None)

        def route(r) -> None:
            if r.request.url == self.url:
                r.continue_()
            else:
                self.blocked.append(r.request.url)
                r.abort()

        self.page.route("**/*", route)

    def open(self) -> float:
        started = time.perf_counter()
        self.page.goto(self.url, wait_until="load")
        self.page.wait_for_function("window.geoplan && window.geoplan.isReady === true")
        _redrawn(self.page)
        return time.perf_counter() - started

    def view(self, lat: float, lon: float, zoom: int) -> None:
        self.page.evaluate("([lat, lon, z]) => { geoplan.map.setView([lat, lon], z, {animate: false}); }",
                           [lat, lon, zoom])
        _redrawn(self.page)

    def labels(self) -> list[dict]:
        return self.page.evaluate("""() => Array.from(document.querySelectorAll('.gp-lbl')).map(e => {
            const r = e.getBoundingClientRect();
            return {text: e.textContent, cls: e.className, x0: r.left, y0: r.top, x1: r.right, y1: r.bottom};
        })""")

    def close(self) -> None:
        self.context.close()


def _redrawn(page) -> None:
    """Wait until Leaflet's canvas renderer has drawn (it redraws on the next animation frame)."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def _overlaps(labels: list[dict]) -> list[tuple[str, str]]:
    out = []
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            if a["x0"] < b["x1"] - 1 and a["x1"] > b["x0"] + 1 and a["y0"] < b["y1"] - 1 and a["y1"] > b["y0"] + 1:
                out.append((a["text"], b["text"]))
    return out


def _town_point(page, town_id: str, zoom: int = 9) -> tuple[float, float]:
    page.mouse.move(640, 850)  # leave the previous marker so its tooltip closes
    page.evaluate(
        """([id, zoom]) => {
            const l = geoplan.layers.towns.getLayers().find(x => x.feature.properties.id === id);
            geoplan.map.setView(l.getLatLng(), zoom, {animate: false});
        }""", [town_id, zoom])
    _redrawn(page)
    return tuple(page.evaluate(
        """(id) => {
            const l = geoplan.layers.towns.getLayers().find(x => x.feature.properties.id === id);
            const p = geoplan.map.latLngToContainerPoint(l.getLatLng());
            const r = geoplan.map.getContainer().getBoundingClientRect();
            return [r.left + p.x, r.top + p.y];
        }""", town_id))


@pytest.mark.browser
def test_agglomeration_map_offline_in_chromium(browser, tmp_path: Path, res: Results, surface_tif: Path,
                                               admin: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    boundaries, settlements = admin
    hostile = with_hostile_text(res)
    ctx = MapContext(scenario="baseline", description="</script><script>window.__xss=2</script> & more",
                     run_date="2026-12-06", speeds={"trunk": 80.0}, access_kph=30.0, bands=[30, 60, 90, 120],
                     agglomeration_minutes=90.0)
    path = save_map(agglomeration_map(hostile.towns, hostile.centres, hostile.catchments, roads=hostile.roads,
                                      surface=surface_tif, boundaries=boundaries, settlements=settlements,
                                      context=ctx), tmp_path / "agglomeration.html")
    p = _Page(browser, path)
    try:
        page = p.page
        seconds = p.open()
        print(f"agglomeration map ({path.stat().st_size / 1e6:.2f} MB): loaded offline in {seconds:.2f} s")
        # markers: one per town, where the town is
        markers = page.evaluate("""() => geoplan.layers.towns.getLayers().map(l => [
            l.feature.properties.id, l instanceof L.CircleMarker, l.getLatLng().lng, l.getLatLng().lat])""")
        assert sorted(m[0] for m in markers) == sorted(hostile.towns["id"])
        xy = hostile.towns.set_index("id").geometry
        for tid, circle, lon, lat in markers:
            assert circle and (lon, lat) == pytest.approx((xy[tid].x, xy[tid].y), abs=1e-5)
        # the basemap is drawn from the boundaries: country filled, regions outlined
        for key in ("country", "regions"):
            assert page.evaluate(f"() => geoplan.layers.{key}.getLayers()[0]._parts.length") > 0, key
        fill = page.evaluate("""() => {
            const c = document.querySelector('.leaflet-gpCountry-pane canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0;
            for (let i = 0; i < d.length; i += 4) { if (d[i] === 251 && d[i+1] === 250 && d[i+2] === 245) n++; }
            return n / (c.width * c.height);
        }""")
        assert fill > 0.1, fill  # the country's fill covers a good part of the national view
        assert page.evaluate("() => getComputedStyle(geoplan.map.getPane('gpDistricts')).display") == "none"
        # place names at national zoom: centres and towns, regions; never overlapping
        labels = p.labels()
        texts = {lab["text"] for lab in labels}
        assert {"Astana", "Almaty", "Karaganda"} <= texts and "AKMOLA" in texts
        assert _overlaps(labels) == []
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "agglomeration_national.png"))
        # Karaganda at zoom 9: the four towns around it each labelled, districts drawn, settlements named
        p.view(49.85, 73.0, 9)
        labels = p.labels()
        texts = {lab["text"] for lab in labels}
        assert {"Temirtau", "Saran", "Shakhtinsk", xss_name(), "Karaganda"} <= texts, texts  # Abai renamed
        assert any("settle" in lab["cls"] for lab in labels)
        assert _overlaps(labels) == []
        assert page.evaluate("() => getComputedStyle(geoplan.map.getPane('gpDistricts')).display") != "none"
        page.screenshot(path=str(ARTIFACTS / "agglomeration_karaganda.png"))

        # catchments: one band at a time, or one centre's bands
        n90 = int((hostile.catchments["band"] == 90).sum())
        assert page.evaluate("() => geoplan.layers.catchments.getLayers().length") == n90
        page.select_option(".gp-picker select >> nth=0", "30")
        assert page.evaluate("() => geoplan.layers.catchments.getLayers().length") == int(
            (hostile.catchments["band"] == 30).sum())
        page.select_option(".gp-picker select >> nth=0", "all")
        page.select_option(".gp-picker select >> nth=1", "karaganda")
        assert page.evaluate("() => geoplan.layers.catchments.getLayers().map(l => l.feature.properties.centre)") == [
            "karaganda"] * int((hostile.catchments["centre"] == "karaganda").sum())

        # the surface: its value under the cursor
        page.evaluate("() => { geoplan.map.setView([49.8, 73.1], 9, {animate: false}); }")
        _redrawn(page)
        page.wait_for_function("() => true")
        box = page.evaluate("""() => { const p = geoplan.map.latLngToContainerPoint([49.8, 73.1]);
            const r = geoplan.map.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }""")
        page.mouse.move(box[0] + 3, box[1] + 3)
        page.mouse.move(box[0] + 1, box[1] + 1)
        probe = page.locator(".gp-probe")
        probe.wait_for(state="visible", timeout=5000)
        assert re.fullmatch(r"Travel time here: \d min", probe.inner_text()), probe.inner_text()

        # search in Russian and Kazakh finds the town and opens its popup
        page.mouse.move(640, 850)
        search = page.locator(".gp-search input")
        temirtau = hostile.towns.set_index("id").loc["temirtau"]
        for query in (temirtau["name_ru"][:5], temirtau["name_kk"]):
            search.fill(query)
            first = page.locator(".gp-results button").first
            assert "Temirtau" in first.inner_text()
        search.press("Enter")
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for(state="visible", timeout=5000)
        assert "Temirtau" in popup.inner_text() and "As a growth centre" in popup.inner_text()
        page.evaluate("() => { geoplan.map.closePopup(); }")
        # a settlement is found by its Russian name too
        search.fill("Талгар")
        assert "Talgar" in page.locator(".gp-results button").first.inner_text()
        # the town list is keyboard-reachable buttons
        page.locator(".gp-list summary").click()
        assert page.locator(".gp-list button").count() == len(hostile.towns) + len(
            set(hostile.centres["id"]) - set(hostile.towns["id"]))
        page.locator(".gp-list button").first.focus()
        assert page.evaluate("() => document.activeElement.className") == "gp-place"

        # the hostile name is text in the popup and the tooltip, the description in the title bar
        x, y = _town_point(page, hostile.towns.loc[0, "id"])
        page.mouse.move(x, y)
        tooltip = page.locator(".leaflet-tooltip", has_text="onerror")
        tooltip.wait_for(state="visible", timeout=5000)
        assert xss_name() in tooltip.inner_text()
        page.mouse.click(x, y)
        popup.wait_for(state="visible", timeout=5000)
        assert xss_name() in popup.inner_text() and "<b>left</b>" in popup.inner_text()
        assert xss_name() in [lab["text"] for lab in p.labels()]
        assert ctx.description in page.locator(".gp-desc").inner_text()
        assert page.evaluate("() => document.querySelectorAll('img:not(.leaflet-image-layer)').length") == 0
        page.wait_for_timeout(100)
        assert page.evaluate("() => [window.__xss, window.__xss2]") == [None, None]

        # methods panel, legend collapsible, fullscreen and print buttons
        page.get_by_role("button", name="Methods & sources").click()
        dialog = page.get_by_role("dialog")
        assert "Schematic network" in dialog.inner_text() and "CC BY-IGO" in dialog.inner_text()
        page.keyboard.press("Escape")
        assert not dialog.is_visible()
        legend = page.locator("details.gp-legend")
        assert legend.get_attribute("open") is not None
        legend.locator("summary").click()
        assert legend.get_attribute("open") is None
        assert page.get_by_role("button", name="Fullscreen").is_visible()
        assert p.errors == [] and p.blocked == []  # nothing was even requested

        # web tiles: an optional layer; switched on while offline it turns itself off and says so
        assert page.evaluate("() => geoplan.map.hasLayer(geoplan.layers.tiles)") is False
        page.evaluate("() => { geoplan.map.addLayer(geoplan.layers.tiles); }")
        page.wait_for_function("() => !geoplan.map.hasLayer(geoplan.layers.tiles)", timeout=10000)
        assert "could not be loaded" in page.locator(".gp-notes").inner_text()
        assert p.blocked and all(u.startswith("https://tile.openstreetmap.org/") for u in p.blocked)
        assert p.errors == []
    finally:
        p.close()


@pytest.mark.browser
def test_relocation_map_offline_in_chromium(browser, tmp_path: Path, res: Results,
                                            admin: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    boundaries, settlements = admin
    path = save_map(relocation_map(res.towns, res.centres, res.flows, roads=res.roads, boundaries=boundaries,
                                   settlements=settlements), tmp_path / "relocation.html")
    p = _Page(browser, path)
    try:
        page = p.page
        seconds = p.open()
        print(f"relocation map ({path.stat().st_size / 1e6:.2f} MB): loaded offline in {seconds:.2f} s")
        assert page.evaluate("() => geoplan.layers.flows.getLayers().length") == len(res.flows)
        assert page.evaluate("() => geoplan.layers.flowsArrows.getLayers().length") == len(res.flows)
        assert page.locator(".gp-arrow svg").count() == len(res.flows)
        weights = page.evaluate("() => geoplan.layers.flows.getLayers().map(l => l.options.weight)")
        assert max(weights) > min(weights) >= 2  # visible at national zoom
        assert "Relocation flows" in page.locator(".gp-legend").inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "relocation_national.png"))
        origin = res.flows.iloc[0]
        x, y = _town_point(page, origin["origin"])
        page.mouse.click(x, y)
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for(state="visible", timeout=5000)
        assert f"{origin['people']:,} people to {origin['destination_name']}" in popup.inner_text()
        assert p.errors == [] and p.blocked == []
    finally:
        p.close()


@pytest.mark.browser
def test_initial_view_shows_every_town_clear_of_the_panels(browser, tmp_path: Path, res: Results,
                                                           admin: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    """At 1400x900 the whole country is in view: no town (Ridder, Altai, Oskemen in the east) under the legend."""
    boundaries, settlements = admin
    maps = {
        "agglomeration.html": agglomeration_map(res.towns, res.centres, res.catchments, roads=res.roads,
                                                boundaries=boundaries, settlements=settlements),
        "relocation.html": relocation_map(res.towns, res.centres, res.flows, roads=res.roads,
                                          boundaries=boundaries, settlements=settlements),
    }
    east = res.towns.loc[res.towns.geometry.x.idxmax(), "id"]
    for name, m in maps.items():
        p = _Page(browser, save_map(m, tmp_path / name), width=1400, height=900)
        try:
            p.open()
            found = p.page.evaluate("""() => {
                const box = (s) => { const e = document.querySelector(s); if (!e) { return null; }
                    const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
                const c = geoplan.map.getContainer().getBoundingClientRect();
                const pts = {};
                for (const key of ["towns", "centres"]) {
                    geoplan.layers[key].getLayers().forEach(l => {
                        const q = geoplan.map.latLngToContainerPoint(l.getLatLng());
                        pts[l.feature.properties.id] = [c.left + q.x, c.top + q.y];
                    });
                }
                return {pts: pts, legend: box("details.gp-legend"), title: box(".gp-title"),
                        open: document.querySelector("details.gp-legend").open};
            }""")
            assert found["open"], name  # wide enough: the legend starts open, and the towns are clear of it
            assert {"ridder", east} <= set(found["pts"]), name
            for tid, (x, y) in found["pts"].items():
                assert 0 <= x <= 1400 and 0 <= y <= 900, (name, tid, x, y)
                for panel in ("legend", "title"):
                    x0, y0, x1, y1 = found[panel]
                    assert not (x0 <= x <= x1 and y0 <= y <= y1), (name, tid, panel, (x, y), found[panel])
            assert p.errors == [] and p.blocked == []
        finally:
            p.close()


@pytest.mark.browser
def test_bad_input_maps_render_in_chromium(browser, tmp_path: Path, res: Results) -> None:
    """No boundaries layer, a centre without population, no flows: a readable map that says so."""
    towns = res.towns[res.towns["category"] != "relocation"]
    centres = res.centres.copy()
    centres["population"] = centres["population"].astype(float)
    centres.loc[centres["id"] == "karaganda", "population"] = np.nan
    save_map(relocation_map(towns, centres, None), tmp_path / "empty.html")
    save_map(agglomeration_map(towns, centres, res.catchments), tmp_path / "noboundaries.html")
    for name in ("empty.html", "noboundaries.html"):
        p = _Page(browser, tmp_path / name)
        try:
            p.open()
            page = p.page
            assert page.evaluate("() => geoplan.layers.towns.getLayers().length") == len(towns)
            assert "No boundaries layer" in page.locator(".gp-notes").inner_text()
            assert len(p.labels()) > 5
            if name == "empty.html":
                assert page.evaluate("() => geoplan.layers.flows.getLayers().length") == 0
                assert "No relocation flows" in page.locator(".gp-legend").inner_text()
            x, y = page.evaluate("""() => { const l = geoplan.layers.centres.getLayers().find(
                x => x.feature.properties.id === 'karaganda'); geoplan.map.setView(l.getLatLng(), 9, {animate: false});
                const p = geoplan.map.latLngToContainerPoint(l.getLatLng());
                const r = geoplan.map.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }""")
            _redrawn(page)
            page.mouse.click(x, y)
            popup = page.locator(".leaflet-popup-content")
            popup.wait_for(state="visible", timeout=5000)
            assert "Population" in popup.inner_text() and "unknown" in popup.inner_text()
            assert p.errors == [] and p.blocked == []
        finally:
            p.close()


# --------------------------------------------------------------------------------------
# difference map


def _what_if(res: Results) -> dict:
    towns = res.towns.copy()
    towns.loc[towns["id"] == "arkalyk", "category"] = "agglomeration"
    towns.loc[towns["id"] == "aksai", "minutes"] = towns.loc[towns["id"] == "aksai", "minutes"] - 40
    roads = res.roads.copy()
    closed = str(roads["id"].iloc[1])
    current = roads.loc[roads.index[2], "road_class"]
    roads.loc[roads.index[2], "road_class"] = "secondary" if current != "secondary" else "primary"
    new = roads.iloc[[0]].copy()
    new["id"] = "NEW1"
    new["geometry"] = [shapely.LineString([(66.9, 50.2), (71.4, 51.2)])]
    roads = pd.concat([roads[roads["id"] != closed], new], ignore_index=True)
    roads = gpd.GeoDataFrame(roads, geometry="geometry", crs=4326)
    return {"towns": towns, "centres": res.centres, "catchments": res.catchments.iloc[::2], "roads": roads}


def test_difference_map_shows_what_changes(res: Results) -> None:
    before = {"towns": res.towns, "centres": res.centres, "catchments": res.catchments, "roads": res.roads}
    after = _what_if(res)
    html = render_map(difference_map(before, after, names=("baseline", "center_west")))
    towns = {f["properties"]["id"]: f for f in _layer_data(html, "towns")}
    changed = {k for k, f in towns.items() if f["properties"]["style"]["color"] == CHANGE_COLOUR}
    assert changed == {"arkalyk", "aksai"}
    assert "Monitor → <b>Agglomeration candidate</b>" in towns["arkalyk"]["properties"]["popup"] or \
        "→ <b>Agglomeration candidate</b>" in towns["arkalyk"]["properties"]["popup"]
    assert "Travel time" in towns["aksai"]["properties"]["popup"]
    roads = _layer_data(html, "roadChanges")
    kinds = sorted(f["properties"]["tooltip"].split(": ")[1] for f in roads)
    assert kinds == ["added in center_west", "changed", "closed in center_west"]
    assert "road class: " in next(f for f in roads if "changed" in f["properties"]["tooltip"])["properties"]["popup"]
    assert len(_layer_data(html, "catchmentsBefore")) == len(res.catchments)
    assert len(_layer_data(html, "catchmentsAfter")) == len(res.catchments.iloc[::2])
    assert "What changes: baseline → center_west" in html and "changed (2 of" in _data_part(html)


def test_town_and_road_changes_tables(res: Results) -> None:
    after = _what_if(res)
    ch = town_changes(res.towns, after["towns"]).set_index("id")["changes"]
    assert [c[0] for c in ch["arkalyk"]] == ["Category"] and ch["abai"] == []
    rc = road_changes(res.roads, after["roads"])
    assert sorted(rc["change"]) == ["added", "changed", "closed"]
    assert road_changes(res.roads, res.roads).empty


@pytest.mark.browser
def test_difference_map_offline_in_chromium(browser, tmp_path: Path, res: Results,
                                            admin: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    boundaries, settlements = admin
    before = {"towns": res.towns, "centres": res.centres, "catchments": res.catchments, "roads": res.roads}
    path = save_map(difference_map(before, _what_if(res), names=("baseline", "what-if"), boundaries=boundaries,
                                   settlements=settlements), tmp_path / "difference.html")
    p = _Page(browser, path)
    try:
        page = p.page
        seconds = p.open()
        print(f"difference map ({path.stat().st_size / 1e6:.2f} MB): loaded offline in {seconds:.2f} s")
        assert page.evaluate("() => geoplan.layers.roadChanges.getLayers().length") == 3
        # the picker drives both runs' catchments
        n90 = page.evaluate("() => geoplan.layers.catchmentsBefore.getLayers().length")
        assert n90 == int((res.catchments["band"] == 90).sum())
        page.select_option(".gp-picker select >> nth=0", "30")
        assert page.evaluate("() => geoplan.layers.catchmentsBefore.getLayers().length") == int(
            (res.catchments["band"] == 30).sum())
        x, y = _town_point(page, "arkalyk")
        page.mouse.click(x, y)
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for(state="visible", timeout=5000)
        assert "Agglomeration candidate" in popup.inner_text() and "→" in popup.inner_text()
        assert "Arkalyk" in {lab["text"] for lab in p.labels()}
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "difference.png"))
        assert p.errors == [] and p.blocked == []
    finally:
        p.close()


def test_png_labels_never_overlap_and_the_largest_come_first() -> None:
    rng = np.random.default_rng(7)
    n = 3000
    pts = rng.uniform(0, 1000, size=(n, 2))
    sizes = np.column_stack([rng.uniform(20, 90, n), np.full(n, 10.0)])
    placed = place_labels(pts, sizes, np.full(n, 3.0), (0.0, 0.0, 1000.0, 1000.0),
                          obstacles=[(0.0, 0.0, 200.0, 150.0)], symbols=pts, symbol_radii=np.full(n, 3.0))
    boxes = []
    for i, tx, ty, ha, _ in placed:
        w, h = sizes[i]
        left = tx if ha == "left" else (tx - w if ha == "right" else tx - w / 2)
        boxes.append((left, ty - h / 2, left + w, ty + h / 2))
    b = np.array(boxes)
    assert (b[:, 0] >= 0).all() and (b[:, 2] <= 1000).all() and (b[:, 1] >= 0).all() and (b[:, 3] <= 1000).all()
    overlap = ((b[:, None, 0] < b[None, :, 2] - 1e-9) & (b[:, None, 2] > b[None, :, 0] + 1e-9)
               & (b[:, None, 1] < b[None, :, 3] - 1e-9) & (b[:, None, 3] > b[None, :, 1] + 1e-9))
    np.fill_diagonal(overlap, False)
    assert not overlap.any()
    legend = (b[:, 0] < 200) & (b[:, 1] < 150)
    assert not legend.any()  # nothing under the legend
    # priority: the first places get labels far more often than the dense tail
    done = np.zeros(n, dtype=bool)
    done[[i for i, *_ in placed]] = True
    assert done[:100].mean() > 2 * done[-1000:].mean() and done.sum() < n / 2


def test_category_png_draws_the_country_and_labels_centres(res: Results, tmp_path: Path,
                                                          admin: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    boundaries, settlements = admin
    path = category_png(res.towns, res.centres, tmp_path / "c.png", roads=res.roads, boundaries=boundaries,
                        settlements=settlements)
    rgb = np.round(imread(path, format="png")[..., :3] * 255).astype(np.uint32)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    assert (packed == 0xFBFAF5).mean() > 0.2  # the country's fill
    # without boundaries there is no country fill
    bare = category_png(res.towns, res.centres, tmp_path / "b.png", roads=res.roads)
    rgb = np.round(imread(bare, format="png")[..., :3] * 255).astype(np.uint32)
    assert (((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]) == 0xFBFAF5).mean() < 0.01


def test_category_png_labels_places_in_latin_letters(res: Results, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   admin: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]) -> None:
    """A settlement label is its name_en when it has one, else its Russian name in Latin letters: no Cyrillic."""
    import matplotlib.axes

    boundaries, settlements = admin
    drawn: list[tuple[str, float]] = []
    text = matplotlib.axes.Axes.text

    def record(self, x, y, s, *args, **kwargs):  # type: ignore[no-untyped-def]
        drawn.append((s, kwargs.get("fontsize") if kwargs.get("zorder") == 6 else None))
        return text(self, x, y, s, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "text", record)
    category_png(res.towns, res.centres, tmp_path / "c.png", roads=res.roads, boundaries=boundaries,
                 settlements=settlements)
    small = [s for s, fs in drawn if fs == 6.0]  # settlement labels (place labels are drawn at zorder 6)
    assert len(small) >= 10
    cyrillic = re.compile("[\u0400-\u04FF]")
    assert [s for s, _ in drawn if cyrillic.search(s)] == []
    has_en = settlements["name_en"].notna() & (settlements["name_en"].astype(str).str.strip() != "")
    english = set(settlements.loc[has_en, "name_en"].str.strip())
    local_of_english = (set(settlements.loc[has_en, "name"].astype(str))
                        | set(settlements.loc[has_en, "name_ru"].astype(str)))
    allowed = english | {latin(str(n).strip()) for n in settlements.loc[~has_en, "name_ru"].fillna(
        settlements.loc[~has_en, "name"])}
    assert set(small) <= allowed | {latin(n) for n in english}
    assert not set(small) & (local_of_english - english)  # never the local name of a place with an English one
    assert set(small) & english and set(small) - english  # both kinds occur on the real layer
    # the web map's place names too (the Cyrillic names stay searchable)
    html = render_map(agglomeration_map(res.towns, res.centres, None, boundaries=boundaries, settlements=settlements))
    names = [lab[0] for lab in _call_args(html, "setLabels")[0]]
    assert "Kosshy" in names and [n for n in names if cyrillic.search(n)] == []
    assert any(lab[0] == "Kosshy" and "Қосшы" in str(lab[-1]) for lab in _call_args(html, "setLabels")[0])


def test_category_png_rings_fragile_towns(res: Results, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib.axes

    labels: list[str] = []
    legend = matplotlib.axes.Axes.legend

    def record(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        labels.extend(h.get_label() for h in kwargs.get("handles", []))
        return legend(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "legend", record)
    n = len(res.towns)
    towns = res.towns.assign(fragile=[True, True] + [False] * (n - 2))
    marked = category_png(towns, res.centres, tmp_path / "f.png", labels=False)
    assert any(lab.startswith("Fragile") and lab.endswith("(2)") for lab in labels)
    labels.clear()
    plain = category_png(res.towns, res.centres, tmp_path / "p.png", labels=False)
    assert not any(lab.startswith("Fragile") for lab in labels)
    a, b = (imread(x, format="png")[..., :3] for x in (marked, plain))
    assert a.shape == b.shape and (np.abs(a - b).sum(axis=2) > 0.1).sum() > 50  # the rings are drawn
