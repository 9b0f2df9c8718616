"""``geoplan layers check`` and ``geoplan layers export``: reports, exit codes, and no damage on bad input.

Exit codes: 0 clean, 1 problems found (errors; warnings too with ``--strict``), 2 unreadable
input or bad usage. Bad input never shows a Python traceback and never creates or changes an
output file.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyogrio
import pytest

import geoplan
from geoplan.cli import main

KZ = geoplan.embedded_layers_path()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process; return (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    code = info.value.code
    return (0 if code is None else int(code)), out, err


def run_subprocess(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "geoplan.cli", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def copy_kz(dest: Path) -> Path:
    shutil.copytree(KZ, dest)
    return dest


def edit(path: Path, fid: str, **props: object) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    feat = next(f for f in doc["features"] if f["properties"]["id"] == fid)
    geometry = props.pop("geometry", feat["geometry"])
    feat["properties"].update(props)
    feat["geometry"] = geometry
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


# --------------------------------------------------------------------------------------
# bad inputs: each returns the path to check and text the report must contain


def bad_population(tmp: Path) -> tuple[Path, list[str]]:
    d = copy_kz(tmp / "in")
    edit(d / "towns.geojson", "balkhash", population="12 000")
    return d, ["balkhash", "wrong_type", "'12 000'", "towns.geojson"]


def duplicate_id(tmp: Path) -> tuple[Path, list[str]]:
    d = copy_kz(tmp / "in")
    edit(d / "roads.geojson", "KZR011", id="KZR010")
    return d, ["KZR010", "duplicate_id", "roads.geojson"]


def swapped(tmp: Path) -> tuple[Path, list[str]]:
    d = copy_kz(tmp / "in")
    edit(d / "centres.geojson", "kostanay", geometry={"type": "Point", "coordinates": [53.2144, 63.6246]})
    return d, ["kostanay", "swapped_coordinates", "centres.geojson"]


def unknown_class(tmp: Path) -> tuple[Path, list[str]]:
    d = copy_kz(tmp / "in")
    edit(d / "roads.geojson", "KZR042", road_class="highway", length_km=0)
    return d, ["KZR042", "not_allowed", "out_of_range", "'highway'"]


def outside_area(tmp: Path) -> tuple[Path, list[str]]:
    d = copy_kz(tmp / "in")
    edit(d / "towns.geojson", "zhitikara", geometry={"type": "Point", "coordinates": [37.62, 55.75]})  # Moscow
    return d, ["zhitikara", "outside_extent", "layerset.json"]


def bad_geometry(tmp: Path) -> tuple[Path, list[str]]:
    d = copy_kz(tmp / "in")
    bowtie = {"type": "Polygon", "coordinates": [[[69, 49], [70, 50], [70, 49], [69, 50], [69, 49]]]}
    edit(d / "towns.geojson", "rudny", geometry=bowtie)
    edit(d / "towns.geojson", "saran", geometry=None)
    edit(d / "roads.geojson", "KZR100", geometry={"type": "LineString", "coordinates": [[70, 50], [70, 50]]})
    return d, ["rudny", "wrong_geometry_type", "saran", "empty_geometry", "KZR100", "Too few points"]


def bad_numbers(tmp: Path) -> tuple[Path, list[str]]:
    d = copy_kz(tmp / "in")
    edit(d / "towns.geojson", "lisakovsk", population=-31178)
    text = (d / "centres.geojson").read_text(encoding="utf-8")
    (d / "centres.geojson").write_text(text.replace('"population":263893', '"population":NaN'), encoding="utf-8")
    return d, ["lisakovsk", "out_of_range", "aktau", "null_value"]


def projected_as_wgs84(tmp: Path) -> tuple[Path, list[str]]:
    d = copy_kz(tmp / "in")
    doc = json.loads((d / "centres.geojson").read_text(encoding="utf-8"))
    for f in doc["features"]:  # metres, as if exported from UTM without saying so
        x, y = f["geometry"]["coordinates"]
        f["geometry"]["coordinates"] = [round(x * 11_000, 1), round(y * 111_000, 1)]
    (d / "centres.geojson").write_text(json.dumps(doc), encoding="utf-8")
    return d, ["coordinates_out_of_range", "astana", "looks projected"]


def no_crs_shapefile(tmp: Path) -> tuple[Path, list[str]]:
    d = copy_kz(tmp / "in")
    (d / "centres.geojson").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Shapefile field-name laundering
        pyogrio.write_dataframe(geoplan.read_layers(KZ).centres, d / "centres.shp")
    (d / "centres.prj").unlink()
    return d, ["centres", "missing_crs", "centres.shp", "Set CRS"]


def truncated(tmp: Path) -> tuple[Path, list[str]]:
    d = copy_kz(tmp / "in")
    data = (d / "roads.geojson").read_bytes()
    (d / "roads.geojson").write_bytes(data[: len(data) // 3])
    return d, ["roads.geojson", "cannot read layer"]


def cp1251(tmp: Path) -> tuple[Path, list[str]]:
    d = copy_kz(tmp / "in")
    text = (d / "towns.geojson").read_text(encoding="utf-8")
    (d / "towns.geojson").write_bytes(text.encode("cp1251", errors="replace"))
    return d, ["towns.geojson", "UTF-8", "iconv"]


def random_gpkg(tmp: Path) -> tuple[Path, list[str]]:
    tmp.mkdir(exist_ok=True)
    path = tmp / "layers.gpkg"
    path.write_bytes(np.random.default_rng(1).bytes(4096))
    return path, ["layers.gpkg", "not a readable vector dataset"]


def missing_layer(tmp: Path) -> tuple[Path, list[str]]:
    d = copy_kz(tmp / "in")
    (d / "roads.geojson").unlink()
    return d, ["missing layer(s) roads", str(d)]


def missing_folder(tmp: Path) -> tuple[Path, list[str]]:
    return tmp / "no" / "such" / "folder", ["no such file or folder"]


PROBLEMS: dict[str, Callable[[Path], tuple[Path, list[str]]]] = {
    "text population": bad_population,
    "duplicate id": duplicate_id,
    "swapped lat/lon": swapped,
    "unknown class, zero length": unknown_class,
    "town outside study area": outside_area,
    "shapefile without .prj": no_crs_shapefile,
    "polygon, empty and collapsed geometry": bad_geometry,
    "negative and NaN population": bad_numbers,
    "projected coordinates without CRS": projected_as_wgs84,
}
UNREADABLE: dict[str, Callable[[Path], tuple[Path, list[str]]]] = {
    "truncated GeoJSON": truncated,
    "CP1251 GeoJSON": cp1251,
    "random bytes .gpkg": random_gpkg,
    "missing layer": missing_layer,
    "missing folder": missing_folder,
}


# --------------------------------------------------------------------------------------
# layers check


def test_check_embedded_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "layers", "check")
    assert code == 0, err
    assert (f"layer set: {KZ} (towns 29, centres 21, roads 176, rail_stations 89, rail 95, boundaries 245, "
            "settlements 3408)") in out
    assert out.rstrip().endswith("no problems found")


def test_check_json_embedded(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "layers", "check", KZ, "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report == {"path": str(KZ), "layers": {"towns": 29, "centres": 21, "roads": 176,
                                                         "rail_stations": 89, "rail": 95, "boundaries": 245,
                                                         "settlements": 3408},
                      "errors": 0, "warnings": 0, "problems": []}


@pytest.mark.parametrize("case", list(PROBLEMS))
def test_check_reports_problems(capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str) -> None:
    path, needles = PROBLEMS[case](tmp_path)
    code, out, err = run(capsys, "layers", "check", path)
    assert code == 1, out + err
    assert err == ""
    for needle in needles:
        assert needle in out, (needle, out)
    assert "fix:" in out and "error(s)" in out.splitlines()[-1]

    code, out, _ = run(capsys, "layers", "check", path, "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["errors"] >= 1
    for p in report["problems"]:
        assert set(p) == {"severity", "layer", "feature_id", "check", "message", "fix", "source"}
        assert p["message"] and p["fix"] and p["source"]
    text = json.dumps(report, ensure_ascii=False)
    assert all(n.replace("'", "") in text.replace("'", "") for n in needles if not n.startswith("Set "))


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_check_unreadable_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str) -> None:
    path, needles = UNREADABLE[case](tmp_path)
    code, out, err = run(capsys, "layers", "check", path)
    assert code == 2
    assert out == ""
    assert err.startswith("geoplan: error: ")
    assert "\n  fix: " in err
    for needle in needles:
        assert needle in err, (needle, err)
    assert "Traceback" not in err


def test_warnings_exit_0_unless_strict(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    d = copy_kz(tmp_path / "in")
    # 41 km from the nearest road, still in Karazhal's region (Ulytau): a far_from_road warning only.
    edit(d / "towns.geojson", "karazhal", geometry={"type": "Point", "coordinates": [66.5, 48.5]})
    code, out, _ = run(capsys, "layers", "check", d)
    assert code == 0 and "far_from_road" in out and "0 error(s), 1 warning(s)" in out
    code, _, _ = run(capsys, "layers", "check", d, "--strict")
    assert code == 1
    code, out, _ = run(capsys, "layers", "check", d, "--max-access-km", "500")
    assert code == 0 and out.rstrip().endswith("no problems found")


def test_snap_tolerance_option(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    d = copy_kz(tmp_path / "in")
    doc = json.loads((d / "roads.geojson").read_text(encoding="utf-8"))
    # A short spur whose end stops about 300 m short of road KZR001's start (Astana).
    x, y = doc["features"][0]["geometry"]["coordinates"][0]
    doc["features"].append({"type": "Feature", "properties": {"id": "KZR999", "road_class": "primary"},
                            "geometry": {"type": "LineString", "coordinates": [[x, y + 0.2], [x, y + 0.0027]]}})
    (d / "roads.geojson").write_text(json.dumps(doc), encoding="utf-8")
    code, out, _ = run(capsys, "layers", "check", d, "--format", "json")
    assert code == 0
    assert "dangling_end" not in {p["check"] for p in json.loads(out)["problems"]}
    code, out, _ = run(capsys, "layers", "check", d, "--format", "json", "--snap-tolerance-m", "500")
    dangling = [p for p in json.loads(out)["problems"] if p["check"] == "dangling_end"]
    assert [p["feature_id"] for p in dangling] == ["KZR999"]


def test_bad_format_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "layers", "check", "--format", "xml")
    assert code == 2 and out == ""
    assert "--format" in err and "'text' or 'json'" in err and "Traceback" not in err


def test_debug_shows_traceback(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "--debug", "layers", "check", tmp_path / "missing")
    assert code == 2 and "Traceback" in err and "LayerReadError" in err


# --------------------------------------------------------------------------------------
# layers export


def test_export_geopackage(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_file = tmp_path / "out" / "kz.gpkg"
    code, out, err = run(capsys, "layers", "export", "--to", out_file)
    assert code == 0, err
    assert out.strip() == (f"wrote towns (29), centres (21), roads (176), rail_stations (89), rail (95), "
                           f"boundaries (245), settlements (3408) to {out_file}")
    assert sorted(p.name for p in out_file.parent.iterdir()) == ["kz.gpkg", "kz.layerset.json"]
    back = geoplan.read_layers(out_file)
    kz = geoplan.read_layers(KZ)
    for name in kz.names:
        a, b = kz[name].sort_values("id").reset_index(drop=True), back[name].sort_values("id").reset_index(drop=True)
        assert list(a.columns) == list(b.columns)
        assert a.geometry.geom_equals_exact(b.geometry, tolerance=0).all()
        assert a.drop(columns="geometry").astype(str).equals(b.drop(columns="geometry").astype(str))
    # The round trip is clean and the file can be checked in turn.
    code, out, _ = run(capsys, "layers", "check", out_file)
    assert code == 0 and "no problems found" in out


def test_export_geojson_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, _ = run(capsys, "layers", "export", KZ, "--to", tmp_path / "folder")
    assert code == 0
    names = ("boundaries.geojson", "centres.geojson", "layerset.json", "rail.geojson", "rail_stations.geojson",
             "roads.geojson", "settlements.geojson", "towns.geojson")
    assert snapshot(tmp_path / "folder") == {n: (KZ / n).read_bytes() for n in names}


@pytest.mark.parametrize("case", [*PROBLEMS, *UNREADABLE])
def test_export_bad_input_writes_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str) -> None:
    path, needles = {**PROBLEMS, **UNREADABLE}[case](tmp_path / "src")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    existing = out_dir / "existing.gpkg"
    existing.write_bytes(b"an older export")
    before_src = snapshot(path) if path.is_dir() else None
    before = snapshot(out_dir)
    for target in (out_dir / "new.gpkg", existing, out_dir / "new_folder"):
        code, _, err = run(capsys, "layers", "export", path, "--to", target)
        assert code == 2
        assert "Traceback" not in err and "geoplan: error:" in err
        assert any(n in err for n in needles)
        if case in PROBLEMS:
            assert "nothing written" in err and "--force" in err
    assert snapshot(out_dir) == before  # nothing created, the old file byte-identical, no temporaries
    if before_src is not None:
        assert snapshot(path) == before_src  # the input is never touched


def test_export_force_writes_despite_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path, _ = bad_population(tmp_path / "src")
    code, _, _ = run(capsys, "layers", "export", path, "--to", tmp_path / "forced.gpkg", "--force")
    assert code == 0
    towns = geoplan.read_layers(tmp_path / "forced.gpkg").towns
    assert towns.loc[towns["id"] == "balkhash", "population"].tolist() == ["12 000"]  # kept as typed, for fixing


# --------------------------------------------------------------------------------------
# the real entry point, in a fresh interpreter


def test_subprocess_entry_point(tmp_path: Path) -> None:
    ok = run_subprocess("layers", "check", cwd=tmp_path)
    assert ok.returncode == 0 and "no problems found" in ok.stdout and ok.stderr == ""

    path, _ = truncated(tmp_path / "broken")
    before = snapshot(tmp_path)
    broken = run_subprocess("layers", "export", path, "--to", "out.gpkg", cwd=tmp_path)
    assert broken.returncode == 2
    assert broken.stderr.startswith("geoplan: error: ") and "Traceback" not in broken.stderr
    assert "roads.geojson" in broken.stderr and "fix:" in broken.stderr
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["layers", "frobnicate"], "No such command 'frobnicate'"),
        (["layers", "check", "--bogus"], "No such option: --bogus"),
        (["layers", "export", "--to"], "'--to' requires an argument"),
    ],
)
def test_usage_errors_exit_2_without_traceback(
    capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    code, _, err = run(capsys, *args)
    assert code == 2 and needle in err and "Traceback" not in err


def test_subprocess_usage_error(tmp_path: Path) -> None:
    usage = run_subprocess("layers", "frobnicate", cwd=tmp_path)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr and "frobnicate" in usage.stderr


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "layers", "check", "--help")
    assert code == 0 and "--format" in out and "--strict" in out and "--max-access-km" in out


def test_layers_show_lists_ids_names_and_road_ends(capsys: pytest.CaptureFixture[str]) -> None:
    layers = geoplan.read_layers(geoplan.embedded_layers_path())
    code, out, _ = run(capsys, "layers", "show", "roads")
    assert code == 0 and out.splitlines()[-1] == f"{len(layers.roads)} feature(s) in roads"
    first = layers.roads.iloc[0]
    row = next(line for line in out.splitlines() if line.split()[:1] == [first["id"]])
    x0, y0 = first.geometry.coords[0]
    x1, y1 = first.geometry.coords[-1]
    assert first["from_node"] in row and first["to_node"] in row
    assert f"{x0:.5f},{y0:.5f}" in row and f"{x1:.5f},{y1:.5f}" in row  # what an edit needs to start at
    code, out, _ = run(capsys, "layers", "show", "towns")
    assert code == 0
    for _, town in layers.towns.iterrows():
        assert any(town["id"] in line and town["name_en"] in line for line in out.splitlines()), town["id"]
    code, _, err = run(capsys, "layers", "show", "airports")
    assert code == 2 and "no 'airports' layer" in err and err.count("\n") <= 3
