"""The whole analysis (:func:`geoplan.run`, ``geoplan run``, ``geoplan compare``) on the embedded layers.

One baseline run in this process and the same run through the command line in a fresh
interpreter (another hash seed) must give byte-identical files. The expectations below can be
checked by hand against the layers and the scenario: Saran is 24 km by road from Karaganda,
relocation moves a fifth of a town's people to a centre of 100,000+ within 12 hours, and so on.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Geod

import geoplan
from geoplan.cli import main
from geoplan.pipeline import RunResult

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
KZ = geoplan.embedded_layers_path()
CATEGORIES = {"agglomeration", "diversification", "relocation", "monitor", "not_assessed"}
OUTPUTS = ("towns.geojson", "catchments.geojson", "flows.geojson", "centres.geojson", "towns.csv", "results.gpkg",
           "agglomerations.geojson", "agglomerations.csv", "decree_comparison.csv", "surface.tif", "surface.qml",
           "agglomeration.html",
           "relocation.html", "categories.png", "sensitivity.csv", "ranking.png", "relocation_comparison.csv",
           "relocation_years.csv")
STAGES = ("read and validate layers", "build network and attach places", "travel times towns x centres", "catchments",
          "agglomerations", "travel-time surface", "classify towns", "sensitivity (2,000 runs)",
          "relocation allocation", "write outputs")


def _features(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["features"]


def _props(path: Path) -> dict[str, dict]:
    return {f["properties"].get("id", i): f["properties"] for i, f in enumerate(_features(path))}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The baseline, surface at 5 km cells: once through the API, once through the CLI in a subprocess."""
    tmp = tmp_path_factory.mktemp("pipeline")
    scenario = tmp / "coarse.yaml"
    scenario.write_text(f"extends: {SCENARIOS / 'baseline.yaml'}\nname: coarse\nsurface:\n  resolution_m: 5000\n",
                        encoding="utf-8")
    result = geoplan.run(scenario=scenario, out_dir=tmp / "api", with_surface=True, progress=False)
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONHASHSEED": "4321"}
    proc = subprocess.run([sys.executable, "-m", "geoplan.cli", "run", "--scenario", str(scenario),
                           "--out", str(tmp / "cli")], cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return {"result": result, "api": tmp / "api", "cli": tmp / "cli", "stdout": proc.stdout, "stderr": proc.stderr}


def test_two_runs_are_byte_identical(baseline: dict) -> None:
    api, cli = baseline["api"], baseline["cli"]
    assert sorted(p.name for p in api.iterdir()) == sorted([*OUTPUTS, "profiles"])
    assert sorted(p.name for p in cli.iterdir()) == sorted([*OUTPUTS, "profiles"])
    different = [name for name in OUTPUTS if (api / name).read_bytes() != (cli / name).read_bytes()]
    assert different == []
    profiles = sorted(p.name for p in (api / "profiles").iterdir())
    assert profiles == sorted([*(f"{i}.html" for i in baseline["result"].towns["id"]), "index.html"])
    assert all((api / "profiles" / n).read_bytes() == (cli / "profiles" / n).read_bytes() for n in profiles)
    # No clock or random id leaks into the text outputs.
    for name in ("towns.geojson", "catchments.geojson", "flows.geojson", "centres.geojson", "towns.csv",
                 "agglomeration.html", "relocation.html"):
        text = (api / name).read_text(encoding="utf-8")
        assert not re.search(r"20[2-9]\d-\d\d-\d\dT\d\d:\d\d", text), name


def test_every_town_has_its_figures(baseline: dict) -> None:
    towns = _props(baseline["api"] / "towns.geojson")
    layer = geoplan.read_layers(KZ).towns
    assert sorted(towns) == sorted(layer["id"])  # all 29, nothing lost or added
    for tid, t in towns.items():
        assert t["category"] in CATEGORIES, tid
        # The reasons say which centre and how far, in words a planner can check (a town not
        # assessed says why; a growth point is not measured against another centre).
        if t["status"] == "exited":
            assert t["category"] == "not_assessed" and t["reasons"].startswith("Left the monotown list"), tid
        elif t["growth_point"]:
            assert t["reasons"].startswith("itself a growth centre"), tid
        else:
            assert isinstance(t["reasons"], str) and t["nearest_centre_name"] in t["reasons"], (tid, t["reasons"])
        assert isinstance(t["nearest_centre"], str) and t["nearest_centre"] != tid
        assert t["minutes"] > 0 and t["km"] > 0, tid
        # Faster than 130 km/h door to door is impossible on these roads; slower than 15 km/h too.
        assert 15 <= t["km"] / (t["minutes"] / 60) <= 130, tid
    with (baseline["api"] / "towns.csv").open(encoding="utf-8", newline="") as f:
        rows = {r["id"]: r for r in csv.DictReader(f)}
    assert {k: r["category"] for k, r in rows.items()} == {k: t["category"] for k, t in towns.items()}


def test_flows_follow_the_relocation_rules(baseline: dict) -> None:
    towns = _props(baseline["api"] / "towns.geojson")
    centres = _props(baseline["api"] / "centres.geojson")
    flows = [f["properties"] for f in _features(baseline["api"] / "flows.geojson")]
    assert flows
    moved: dict[str, int] = {}
    for f in flows:
        assert set(f) >= {"origin", "destination", "people", "minutes", "km"}
        assert isinstance(f["people"], int) and f["people"] > 0
        assert towns[f["origin"]]["category"] == "relocation"
        assert f["destination"] in centres and f["destination"] != f["origin"]
        # Scenario defaults: a destination of 100,000+ people within 720 minutes by road.
        assert centres[f["destination"]]["population"] >= 100_000
        assert 0 < f["minutes"] <= 720 and f["km"] > 0
        moved[f["origin"]] = moved.get(f["origin"], 0) + f["people"]
    # A fifth of each relocation town's people, rounded half up.
    expected = {tid: math.floor(t["population"] * 0.2 + 0.5) for tid, t in towns.items()
                if t["category"] == "relocation"}
    assert moved == expected
    # No destination takes more than 5 % of its own population.
    taken: dict[str, int] = {}
    for f in flows:
        taken[f["destination"]] = taken.get(f["destination"], 0) + f["people"]
    assert all(n <= centres[c]["population"] * 0.05 for c, n in taken.items())


def test_towns_that_are_centres_never_serve_themselves(baseline: dict) -> None:
    towns = _props(baseline["api"] / "towns.geojson")
    flows = [f["properties"] for f in _features(baseline["api"] / "flows.geojson")]
    for tid in ("temirtau", "zhezkazgan"):  # in both the towns and the centres layer
        assert tid in _props(baseline["api"] / "centres.geojson")
        assert towns[tid]["nearest_centre"] != tid
        assert towns[tid].get("destination") != tid
        assert all(f["origin"] != f["destination"] for f in flows)
    # Temirtau's nearest other centre is Karaganda, 36 km down the motorway.
    assert towns["temirtau"]["nearest_centre"] == "karaganda"


def test_saran_has_left_the_list_and_is_measured_but_not_assessed(baseline: dict) -> None:
    saran = _props(baseline["api"] / "towns.geojson")["saran"]
    # Saran left the monotown list in 2024: reported, its indicators computed, no category.
    assert saran["status"] == "exited" and saran["category"] == "not_assessed"
    assert saran["score"] is None and saran["rank"] is None
    assert saran["nearest_centre"] == "karaganda"
    # About 24 km by road (published distance), well within the 90-minute reach.
    assert 20 <= saran["km"] <= 28 and saran["minutes"] <= 90
    assert "Left the monotown list (exited_2024)" in saran["reasons"]


def test_outputs_are_rfc7946(baseline: dict) -> None:
    for name in ("towns.geojson", "catchments.geojson", "flows.geojson", "centres.geojson"):
        doc = json.loads((baseline["api"] / name).read_text(encoding="utf-8"))
        assert set(doc) <= {"type", "name", "features"}, name  # no "crs" member (RFC 7946, 4)
        assert doc["type"] == "FeatureCollection" and doc["features"]
        geoms = shapely.from_geojson([json.dumps(f["geometry"]) for f in doc["features"]])
        xy = shapely.get_coordinates(geoms)
        assert (np.abs(xy[:, 0]) <= 180).all() and (np.abs(xy[:, 1]) <= 90).all(), name
        assert (np.round(xy, 6) == xy).all(), name  # 6 decimals (RFC 7946, 11.2)
        polygons = shapely.get_parts(geoms[shapely.get_type_id(geoms) >= 3])
        if len(polygons):
            # Exterior rings counter-clockwise (RFC 7946, 3.1.6).
            assert shapely.is_ccw(shapely.get_exterior_ring(polygons)).all(), name


def test_cli_prints_a_summary_of_all_towns(baseline: dict) -> None:
    out = baseline["stdout"].splitlines()
    names = geoplan.read_layers(KZ).towns.set_index("id")["name_en"]
    header = next(i for i, line in enumerate(out) if line.split()[:3] == ["id", "town", "population"])
    footer = next(i for i, line in enumerate(out) if line.startswith("categories: "))
    rows = out[header + 1 : footer]
    assert len(rows) == 29
    assert sorted(r.split()[0] for r in rows) == sorted(names.index)
    assert all(names[r.split()[0]] in r for r in rows)
    counts = dict(re.findall(r"(\w+) (\d+)", out[footer].removeprefix("categories: ")))
    assert set(counts) <= CATEGORIES and sum(map(int, counts.values())) == 29
    flows = _features(baseline["api"] / "flows.geojson")
    people = sum(f["properties"]["people"] for f in flows)
    assert f"relocation: {people:,} people in {len(flows)} flows" in out
    assert out[-1].startswith("wrote: ") and str(baseline["cli"] / "towns.geojson") in out[-1]


def test_cli_reports_each_stage_on_stderr(baseline: dict) -> None:
    lines = baseline["stderr"].splitlines()
    starts = [m.groups() for m in map(re.compile(r"^\[(\d+)/(\d+)\] (.+) \.\.\.$").match, lines) if m]
    ends = [m.groups() for m in map(re.compile(r"^\[(\d+)/(\d+)\] (.+): done in \d+\.\d s$").match, lines) if m]
    expected = [(str(k), str(len(STAGES)), s) for k, s in enumerate(STAGES, 1)]
    assert starts == expected and ends == expected
    assert "geoplan: warning" not in baseline["stderr"]  # the embedded layers are clean
    assert baseline["stdout"].count("[1/") == 0  # progress never mixes into the table


# --------------------------------------------------------------------------------------
# scenarios that add roads


def _shortcut(tmp: Path) -> Path:
    """A what-if: a straight motorway from Karaganda to Balkhash, on the network's own nodes."""
    roads = geoplan.read_layers(KZ).roads
    ends = {}
    for _, r in roads.iterrows():
        coords = list(r.geometry.coords)
        ends.setdefault(r["from_node"], coords[0])
        ends.setdefault(r["to_node"], coords[-1])
    line = {"type": "LineString", "coordinates": [list(ends["karaganda"]), list(ends["balkhash"])]}
    feature = {"type": "Feature", "properties": {"id": "KZP500", "road_class": "motorway", "from_node": "karaganda",
                                                 "to_node": "balkhash"}, "geometry": line}
    (tmp / "shortcut.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}),
                                          encoding="utf-8")
    path = tmp / "shortcut.yaml"
    path.write_text(f"extends: {SCENARIOS / 'baseline.yaml'}\nname: shortcut\n"
                    "edits:\n  - add_roads: shortcut.geojson\n", encoding="utf-8")
    return path


def _minutes(result: RunResult) -> dict[str, float]:
    return dict(zip(result.towns["id"], result.towns["minutes"], strict=True))


def test_adding_roads_never_makes_a_town_slower(baseline: dict, tmp_path: Path) -> None:
    before = _minutes(baseline["result"])
    corridor = geoplan.run(scenario=SCENARIOS / "center_west.yaml", with_surface=False, progress=False)
    shortcut = geoplan.run(scenario=_shortcut(tmp_path), with_surface=False, progress=False)
    for result in (corridor, shortcut):
        after = _minutes(result)
        assert after.keys() == before.keys()
        slower = {t: (before[t], after[t]) for t in before if not after[t] <= before[t] + 1e-6}
        assert slower == {}, result.scenario.name

    # Arkalyk to Astana on the corridor: 108 + 59 + 216 km of two-lane trunk road at 80 km/h.
    towns = corridor.towns.set_index("id")
    assert towns.loc["arkalyk", "nearest_centre"] == "astana"
    assert towns.loc["arkalyk", "minutes"] == pytest.approx((108 + 59 + 216) / 80 * 60, abs=3)
    assert towns.loc["arkalyk", "minutes"] < before["arkalyk"]
    # Balkhash on the shortcut: the motorway's geodesic length at 100 km/h, plus a short access leg.
    (x0, y0), (x1, y1) = shortcut.layers.roads.set_index("id").loc["KZP500"].geometry.coords
    km = Geod(ellps="WGS84").inv(x0, y0, x1, y1)[2] / 1000
    balkhash = shortcut.towns.set_index("id").loc["balkhash"]
    assert balkhash["nearest_centre"] == "karaganda"
    assert km / 100 * 60 <= balkhash["minutes"] <= km / 100 * 60 + 5
    assert balkhash["minutes"] < before["balkhash"] - 30


def test_compare_writes_the_changed_towns(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "changes.csv"
    with pytest.raises(SystemExit) as info:
        main(["compare", str(SCENARIOS / "baseline.yaml"), str(SCENARIOS / "center_west.yaml"), "--out", str(out),
              "--maps", str(tmp_path / "maps")])
    stdout, _ = capsys.readouterr()
    assert info.value.code in (0, None)
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows, stdout
    assert f"{len(rows)} town(s) change" in stdout and f"wrote {out}" in stdout
    by_id = {r["id"]: r for r in rows}
    # The corridor runs through Arkalyk; its nearest centre becomes Astana.
    arkalyk = by_id["arkalyk"]
    assert arkalyk["nearest_centre_baseline"] == "zhezkazgan" and arkalyk["nearest_centre_center_west"] == "astana"
    assert float(arkalyk["minutes_center_west"]) < float(arkalyk["minutes_baseline"])
    for r in rows:
        assert r["changes"], r
        assert float(r["minutes_center_west"]) <= float(r["minutes_baseline"]) + 0.05
    # the difference map: the changed towns ringed, the corridor's roads added
    page = (tmp_path / "maps" / "difference.html").read_text(encoding="utf-8")
    assert f"wrote {tmp_path / 'maps' / 'difference.html'}" in stdout
    start = page.index('geoplan.layer("towns", ') + len('geoplan.layer("towns", ')
    towns = json.JSONDecoder().raw_decode(page, start)[0]
    ringed = {f["properties"]["id"] for f in towns if f["properties"]["style"]["color"] == "#CC79A7"}
    assert ringed == set(by_id)
    start = page.index('geoplan.layer("roadChanges", ') + len('geoplan.layer("roadChanges", ')
    roads = json.JSONDecoder().raw_decode(page, start)[0]
    assert {f["properties"]["id"] for f in roads} == {f"road-KZP00{i}" for i in range(1, 6)}
    assert "baseline → center_west" in page


def test_formats_excel_metadata_and_surface_style(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "--out", str(tmp_path / "out"), "--no-surface", "--quiet", "--formats", "fgb,parquet",
              "--excel"])
    assert info.value.code in (0, None)
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"towns.fgb", "flows.parquet", "results.gpkg", "towns.csv"} <= names and "towns.geojson" not in names
    assert (tmp_path / "out" / "towns.csv").read_bytes().startswith(b"\xef\xbb\xbf")


    meta = pyogrio.read_info(tmp_path / "out" / "results.gpkg", layer="towns")["dataset_metadata"]
    assert meta["scenario"] == "baseline" and meta["geoplan_version"] == geoplan.__version__
    with pytest.raises(SystemExit) as info:
        main(["run", "--out", str(tmp_path / "bad"), "--formats", "shp"])
    assert info.value.code != 0 and not (tmp_path / "bad").exists()
    assert "--formats: unknown format(s) shp" in capsys.readouterr().err


def test_a_run_without_surface_removes_a_stale_one(baseline: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(baseline["api"], out)
    assert (out / "surface.tif").exists()
    geoplan.run(out_dir=out, with_surface=False, with_maps=False, progress=False)
    assert not (out / "surface.tif").exists()
    # Everything else was rewritten by this run (same baseline data, so the same bytes).
    assert (out / "towns.geojson").read_bytes() == (baseline["api"] / "towns.geojson").read_bytes()


def test_assessment_outputs(baseline: dict) -> None:
    towns = _props(baseline["api"] / "towns.geojson")
    for col in ("score", "rank", "group", "category", "status", "stability", "borderline", "fragile", "reasons",
                "rank_p05", "rank_p95", "flipped_by"):
        assert all(col in t for t in towns.values()), col
    listed = {k: t for k, t in towns.items() if t["status"] == "listed"}
    assert sorted(t["rank"] for t in listed.values()) == list(range(1, 28))
    assert all(t["fragile"] == (t["stability"] < 0.8) for t in listed.values())
    # The layer's text columns survive next to the scores computed from the statuses.
    arkalyk = towns["arkalyk"]
    assert arkalyk["enterprise"].startswith("Torgai bauxite mine") and arkalyk["enterprise_score"] == 0
    assert arkalyk["resource_outlook"].startswith("bauxite reserves") and arkalyk["resource_score"] == 0
    # Ridder: 94 min from Oskemen, borderline on the reach, and fragile.
    assert towns["ridder"]["borderline"] and towns["ridder"]["fragile"]
    with (baseline["api"] / "sensitivity.csv").open(encoding="utf-8", newline="") as f:
        rows = {r["id"]: r for r in csv.DictReader(f)}
    assert set(rows) == set(listed) and float(rows["temirtau"]["stability"]) == 1.0
    assert (baseline["api"] / "ranking.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with (baseline["api"] / "relocation_comparison.csv").open(encoding="utf-8", newline="") as f:
        modes = {r["mode"]: r for r in csv.DictReader(f)}
    assert set(modes) == {"cities", "policy"}
    assert modes["cities"]["people_to_move"] == modes["policy"]["people_to_move"]
    with (baseline["api"] / "relocation_years.csv").open(encoding="utf-8", newline="") as f:
        years = list(csv.DictReader(f))
    assert all(int(r["placed"]) <= int(r["quota"]) for r in years)
    assert sum(int(r["placed"]) for r in years) == int(modes["policy"]["placed"])


def test_decree_outputs(baseline: dict) -> None:
    """The 2023 decree beside the embedded layers: compared district by district, marked on towns."""
    with (baseline["api"] / "decree_comparison.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["centre"] for r in rows} == {"almaty", "astana", "shymkent", "aktobe", "karaganda"}
    decreed = [r for r in rows if r["in_decree"] == "True"]
    assert len(decreed) == 26 and sum(r["agreement"] == "both" for r in decreed) >= 24
    towns = _props(baseline["api"] / "towns.geojson")
    marked = {k for k, t in towns.items() if t["decree_agglomeration"]}
    assert marked == {"abai", "khromtau", "saran", "shakhtinsk", "temirtau"}
    # Every listed town the decree puts in an agglomeration is an agglomeration candidate of that centre.
    for k in marked - {"saran"}:
        assert towns[k]["category"] == "agglomeration"
        assert towns[k]["nearest_centre"] == towns[k]["decree_agglomeration"]
    assert towns["temirtau"]["decree_level"] == 2 and towns["ridder"]["decree_level"] is None


def test_compare_table_fits_100_columns_with_names(capsys: pytest.CaptureFixture[str]) -> None:
    from geoplan.cli import main

    with pytest.raises(SystemExit) as info:
        main(["compare", "-q", str(SCENARIOS / "baseline.yaml"), str(SCENARIOS / "center_west.yaml")])
    out, err = capsys.readouterr()
    assert info.value.code in (0, None) and err == ""  # -q: no progress lines
    lines = out.splitlines()
    assert max(map(len, lines)) <= 100
    assert lines[0].split()[:2] == ["town", "category"]
    arkalyk = next(line for line in lines if line.startswith("Arkalyk"))
    assert "Zhezkazgan -> Astana" in arkalyk  # centre names, before -> after
    assert "zhezkazgan" not in out  # no ids
