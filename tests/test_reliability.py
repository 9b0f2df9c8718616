"""Reliability: output sets that are replaced whole or not at all, and hostile input (issue 14).

What is promised and checked here, with real writers and real processes (no mocks of geoplan):

- **every write of ``run`` can fail**: the number of file renames of a real run is counted, then
  the run's write stage is repeated with the k-th rename failing (disk full), for every k:
  the staging writes and the commit renames alike (of the town pages, one per town and all by
  the same writer, the first and the last). Each time the output folder is
  byte-identical to before, with no staging folder, backup or lock left;
- **a full disk in mid-write** (``RLIMIT_FSIZE`` in a child process: the real GDAL, SQLite and
  Python writers hit ``EFBIG``): ``geoplan surface`` and ``geoplan run`` exit 2 and leave the
  previous files; a GeoTIFF that GDAL only half wrote is caught by reading it back;
- **targets that cannot be replaced** are refused before anything is computed: a folder or a
  locked (immutable) file where an output goes, ``--out`` equal to or inside the layers, an
  output named like one of the layer set's files, an existing folder given to a single-file
  command;
- **concurrent runs** into one folder: a second writer waits for the folder lock (or fails
  naming the pid that holds it); two real runs started together both finish with the same,
  complete outputs;
- **hostile text**: names starting with ``=``, ``+``, ``-``, ``@`` reach CSV neutralised
  (OWASP), negative numbers stay numbers; ``$...$`` in a name is drawn as text;
- **numbers**: NaN and negative numeric options are refused by the option; a surface that would
  not fit in memory is refused before allocation with the finest resolution that fits;
- a layer folder without execute permission (as a normal user; root enters any folder).

The broken layer sets and scenarios of the same issue are in ``tests/test_badinput.py``
(``issue 14: ...`` cases), where each runs through ``geoplan run`` twice.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from test_cli_layers import copy_kz, edit, snapshot

import geoplan
import geoplan.pipeline
from geoplan import AnalysisError, OutputError
from geoplan._io import csv_safe, neutralise_csv_cell
from geoplan._outputs import LOCK_NAME, STAGING_PREFIX, _FolderLock, plan_outputs
from geoplan.cli import main
from geoplan.scenario import Scenario
from geoplan.surface import BYTES_PER_CELL, nearest_centre_surface

ROOT = Path(__file__).resolve().parents[1]
KZ = geoplan.embedded_layers_path()


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return (0 if info.value.code is None else int(info.value.code)), out, err


def child(*args: object, cwd: Path, limits: Callable[[], None] | None = None,
          timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m geoplan.cli ARGS`` in a child process, with optional resource limits set in it."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "MPLCONFIGDIR": str(cwd / ".mpl")}
    return subprocess.run([sys.executable, "-m", "geoplan.cli", *map(str, args)], cwd=cwd, env=env,
                          preexec_fn=limits, capture_output=True, text=True, timeout=timeout)


def clean(folder: Path) -> None:
    """No staging folder, backup, scratch file or lock left in an output folder."""
    left = [p.name for p in folder.iterdir() if p.name.startswith(".")]
    assert left == [], left


def file_size_limit(nbytes: int) -> Callable[[], None]:
    """Like a full disk: writes past ``nbytes`` fail with EFBIG (SIGXFSZ ignored, so they return)."""
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))

    return limit


# --------------------------------------------------------------------------------------
# fault injection at every write of run


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Two runs with a (coarse) surface and maps: 'previous' written to a folder, 'new' in memory."""
    base = tmp_path_factory.mktemp("reliability")
    coarse = Scenario.baseline().with_values(values={"surface.resolution_m": 25_000})
    whatif = coarse.with_values(values={"agglomeration.max_minutes": 40})
    geoplan.run(scenario=coarse, out_dir=base / "previous", progress=False)
    new = geoplan.run(scenario=whatif, progress=False)
    return {"previous": base / "previous", "new": new}


def _plan(out: Path) -> geoplan._outputs.OutputSet:
    return geoplan.pipeline.plan_run_outputs(out, None, with_surface=True, with_maps=True, inputs=[KZ])


def _write(result: geoplan.RunResult, out: Path) -> dict[str, Path]:
    return geoplan.pipeline._write(result, _plan(out), out, None, True)


def test_a_failure_at_any_write_of_run_leaves_the_outputs_as_they_were(
        results: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    new = results["new"]
    assert isinstance(new, geoplan.RunResult)
    real_replace = os.replace
    calls: list[tuple[str, str]] = []

    def counting(src: object, dst: object) -> None:
        calls.append((str(src), str(dst)))
        real_replace(src, dst)  # type: ignore[arg-type]

    # A successful write: how many renames (staged files, then the commit) does it make?
    out = tmp_path / "counted"
    shutil.copytree(results["previous"], out)  # type: ignore[arg-type]
    monkeypatch.setattr(os, "replace", counting)
    _write(new, out)
    monkeypatch.setattr(os, "replace", real_replace)
    expected = snapshot(out)
    committed = [c for c in calls if Path(c[1]).parent == out]
    plan = _plan(out)
    assert len(committed) == len(plan.targets) + len(plan.subfolders)  # every output once, folders whole
    assert len(calls) > len(committed) and (out / "profiles" / "index.html").is_file()
    # Every rename, except the town pages between the first and the last (the same writer).
    pages = [k for k, (_, dst) in enumerate(calls, 1)
             if Path(dst).parent.name == "profiles" and Path(dst).parent.parent != out]
    moments = [k for k in range(1, len(calls) + 1) if k not in pages[1:-1]]
    print(f"\n{len(calls)} renames in a run's write stage; failing each of {len(moments)}")

    before = snapshot(results["previous"])  # type: ignore[arg-type]
    assert before != expected
    for k in moments:
        target = tmp_path / f"fail_{k}"
        shutil.copytree(results["previous"], target)  # type: ignore[arg-type]
        n = {"calls": 0}

        def failing(src: object, dst: object, k: int = k) -> None:
            n["calls"] += 1
            if n["calls"] == k:
                raise OSError(errno.ENOSPC, "No space left on device", str(dst))
            real_replace(src, dst)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "replace", failing)
        with pytest.raises(OutputError, match="cannot write outputs: .*No space left on device") as info:
            _write(new, target)
        monkeypatch.setattr(os, "replace", real_replace)
        assert info.value.fix
        if k > len(calls) - len(committed):  # failed in the commit: the replaced files were restored
            assert "restored" in info.value.message, info.value.message
        assert snapshot(target) == before, f"rename {k} of {len(calls)}: outputs changed"
        clean(target)
    # And the next run, undisturbed, writes the whole new set.
    _write(new, tmp_path / "fail_1")
    assert snapshot(tmp_path / "fail_1") == expected


@pytest.mark.parametrize("limit", [20_000, 400_000])
def test_full_disk_during_run(results: dict[str, object], tmp_path: Path, limit: int) -> None:
    """The real writers meet EFBIG part-way (small files pass, large ones fail): exit 2, nothing replaced."""
    out = tmp_path / "out"
    shutil.copytree(results["previous"], out)  # type: ignore[arg-type]
    before = snapshot(out)
    whatif = tmp_path / "whatif.yaml"
    whatif.write_text("surface:\n  resolution_m: 20000\nagglomeration:\n  max_minutes: 40\n", encoding="utf-8")
    proc = child("run", "--scenario", whatif, "--out", out, "--quiet", cwd=tmp_path, limits=file_size_limit(limit))
    assert proc.returncode == 2, proc.stderr
    assert "geoplan: error: " in proc.stderr and "Traceback" not in proc.stderr and "fix: " in proc.stderr
    assert snapshot(out) == before
    clean(out)


def test_full_disk_while_writing_a_geotiff_keeps_the_previous_file(tmp_path: Path) -> None:
    out = tmp_path / "surface.tif"
    ok = child("surface", "--resolution", "20000", "--out", out, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    before = out.read_bytes()
    # A finer grid, on a "disk" that takes 30 kB per file: GDAL meets EFBIG while writing tiles.
    proc = child("surface", "--resolution", "5000", "--out", out, cwd=tmp_path, limits=file_size_limit(30_000))
    assert proc.returncode == 2, proc.stderr
    assert f"{out}: " in proc.stderr and "Traceback" not in proc.stderr and "fix: " in proc.stderr
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".mpl")) == ["surface.tif"]


# --------------------------------------------------------------------------------------
# targets refused before anything is computed


def test_blocked_output_names_are_refused_before_computing(capsys: pytest.CaptureFixture[str],
                                                           results: dict[str, object], tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(results["previous"], out)  # type: ignore[arg-type]
    (out / "towns.csv").unlink()
    (out / "towns.csv").mkdir()  # a folder where an output goes
    before = snapshot(out)
    code, stdout, err = cli(capsys, "run", "--no-surface", "--out", out)
    assert code == 2 and stdout == "" and "[1/" not in err and "Traceback" not in err
    assert f"{out / 'towns.csv'}: is an existing folder" in err and "fix: " in err
    assert snapshot(out) == before and (out / "towns.csv").is_dir()


def test_a_locked_output_is_refused_before_computing(capsys: pytest.CaptureFixture[str],
                                                     results: dict[str, object], tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(results["previous"], out)  # type: ignore[arg-type]
    locked = out / "towns.csv"
    # An immutable file: even root cannot open it for writing, like a file Excel holds on Windows.
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i not available on this file system")
    try:
        before = snapshot(out)
        code, _, err = cli(capsys, "run", "--no-surface", "--out", out)
        assert code == 2 and "[1/" not in err
        assert f"{locked}: cannot be replaced" in err and "open in another program" in err and "fix: close" in err
        assert snapshot(out) == before
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=True)


def test_out_equal_to_or_inside_the_layers_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    layers = copy_kz(tmp_path / "layers")
    before = snapshot(layers)
    for out in (layers, layers / "out"):
        code, _, err = cli(capsys, "run", "--layers", layers, "--no-surface", "--out", out)
        assert code == 2 and "[1/" not in err and "Traceback" not in err, err
        assert "is inside the input folder" in err and "fix: choose an output folder outside" in err, err
    code, _, err = cli(capsys, "run", "--layers", layers, "--no-surface", "--out", layers / "roads.geojson")
    assert code == 2 and "is a file, not a folder" in err
    code, _, err = cli(capsys, "run", "--layers", layers, "--no-surface", "--out", tmp_path / "out",
                       "--maps", layers / "maps")
    assert code == 2 and "inside the input folder" in err
    # Single-file commands: never onto a file the layer set reads, or would read (towns.gpkg).
    for command, name in (("traveltime", "towns.geojson"), ("catchments", "towns.gpkg"), ("surface", "roads.shp")):
        code, _, err = cli(capsys, command, layers, "--out", layers / name)
        assert code == 2 and "is one of the inputs" in err, err
    code, _, err = cli(capsys, "osm", "convert", tmp_path / "x.osm", "--to", KZ / "roads.geojson")
    assert code == 2 and "is one of the inputs" in err
    assert snapshot(layers) == before and not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["surface", "catchments", "traveltime", "network build"])
def test_single_file_out_naming_a_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    code, stdout, err = cli(capsys, *command.split(), "--out", folder)
    assert code == 2 and stdout == "" and "Traceback" not in err
    assert err.startswith(f"geoplan: error: {folder}: is an existing folder") and "fix: name the output file" in err
    assert [p.name for p in folder.iterdir()] == ["keep.txt"]


# --------------------------------------------------------------------------------------
# concurrent writers


def test_a_second_writer_waits_for_the_folder_lock_then_fails_clearly(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    holder = _FolderLock(out)
    holder.acquire(0)
    assert (out / LOCK_NAME).read_text().strip() == str(os.getpid())
    plan = plan_outputs([out / "a.csv"])
    with pytest.raises(OutputError, match=rf"another geoplan process \(pid {os.getpid()}\) is writing") as info:
        with plan.writing(lock_wait_s=0.3) as staging:
            staging.path(out / "a.csv").write_text("x\n")
    assert str(out / LOCK_NAME) in str(info.value.fix)
    holder.release()
    with plan.writing(lock_wait_s=0.3) as staging:
        staging.path(out / "a.csv").write_text("x\n")
    assert [p.name for p in out.iterdir()] == ["a.csv"]


def test_two_runs_into_one_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    procs = [subprocess.Popen([sys.executable, "-m", "geoplan.cli", "run", "--no-surface", "--quiet", "--out", str(out)],
                              cwd=tmp_path, env={**os.environ, "PYTHONWARNINGS": "ignore",
                                                 "MPLCONFIGDIR": str(tmp_path / f".mpl{i}")},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for i in range(2)]
    errors = [p.communicate(timeout=300)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    clean(out)
    single = tmp_path / "single"
    geoplan.run(out_dir=single, with_surface=False, progress=False)
    assert snapshot(out) == snapshot(single)


# --------------------------------------------------------------------------------------
# hostile text


def test_csv_cells_a_spreadsheet_would_run_are_neutralised() -> None:
    import pandas as pd

    hostile = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    df = pd.DataFrame({"name": [*hostile, "Aksu", "-12.5", "+7"], "minutes": [-1.5, 2, 3, 4, 5, 6, -7, 8, 9]})
    safe = csv_safe(df)
    assert safe["name"].tolist()[:6] == ["'" + h for h in hostile]
    assert safe["name"].tolist()[6:] == ["Aksu", "-12.5", "+7"]  # plain numbers stay numbers
    assert safe["minutes"].tolist() == df["minutes"].tolist()
    assert csv_safe(pd.DataFrame({"=cmd": [1]})).columns.tolist() == ["'=cmd"]
    assert neutralise_csv_cell(-3) == -3 and neutralise_csv_cell(None) is None


def test_hostile_names_through_a_whole_run(tmp_path: Path) -> None:
    layers = copy_kz(tmp_path / "layers")
    edit(layers / "towns.geojson", "balkhash", name_en="=HYPERLINK(\"http://evil\",\"Balkhash\")")
    edit(layers / "towns.geojson", "abai", name_en="$\\frac{1}{0}$ Abai $x^{", region="@SUM(A1)")
    edit(layers / "towns.geojson", "aksu", name_en="-2+3+cmd|' /C calc'!A0")
    out = tmp_path / "out"
    result = geoplan.run(layers=layers, out_dir=out, with_surface=False, progress=False)
    assert (out / "categories.png").read_bytes().startswith(b"\x89PNG")  # mathtext drawn as text
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO((out / "towns.csv").read_text(encoding="utf-8")))}
    assert rows["balkhash"]["name_en"] == "'=HYPERLINK(\"http://evil\",\"Balkhash\")"
    assert rows["abai"]["region"] == "'@SUM(A1)" and rows["abai"]["name_en"].startswith("$")
    assert rows["aksu"]["name_en"].startswith("'-2+3")
    # Numbers are untouched, negative ones included (longitudes west of Greenwich would be).
    assert float(rows["aksu"]["lon"]) == pytest.approx(float(result.towns.set_index("id").geometry["aksu"].x))
    # The GeoJSON keeps the names as they are: only spreadsheets need the quote.
    towns = json.loads((out / "towns.geojson").read_text(encoding="utf-8"))
    assert any(f["properties"]["name_en"].startswith("=HYPERLINK") for f in towns["features"])


# --------------------------------------------------------------------------------------
# numbers


@pytest.mark.parametrize("args", [
    ("surface", "--resolution", "nan"), ("surface", "--resolution", "-100"), ("surface", "--offroad-kph", "0"),
    ("catchments", "--offroad-kph", "inf"), ("catchments", "--bands", "30,nan"), ("catchments", "--bands", "-30"), ("traveltime", "--cutoff", "-5"), ("traveltime", "--max-snap-km", "nan"),
    ("network", "build", "--snap-m", "-1"), ("layers", "check", "--max-access-km", "nan"),
])
def test_nan_and_negative_options(capsys: pytest.CaptureFixture[str], tmp_path: Path, args: tuple[str, ...]) -> None:
    option = next(a for a in args if a.startswith("--"))
    code, stdout, err = cli(capsys, *args, *(("--out", tmp_path / "x") if args[0] != "layers" else ()))
    assert code == 2 and stdout == "" and "Traceback" not in err
    assert f"'{option}'" in err and "must be" in err, err
    assert not (tmp_path / "x").exists()


def test_surface_memory_is_estimated_before_allocating(tmp_path: Path) -> None:
    layers = geoplan.read_layers(KZ)
    budget = 60 * 2**20
    with pytest.raises(AnalysisError, match="refused before allocating") as info:
        nearest_centre_surface(layers, resolution_m=1000, max_memory_bytes=budget)
    fit = float(info.value.fix.split("resolution of ")[1].split(" m")[0])  # type: ignore[union-attr]
    assert fit > 1000
    # The suggestion is the finest that fits: it runs within the budget, and 5 % finer does not.
    result = nearest_centre_surface(layers, resolution_m=fit, max_memory_bytes=budget)
    assert result.array.size * BYTES_PER_CELL <= budget
    with pytest.raises(AnalysisError, match="too large"):
        nearest_centre_surface(layers, resolution_m=fit * 0.95, max_memory_bytes=budget)


def test_surface_refuses_what_the_process_may_not_allocate(tmp_path: Path) -> None:
    # A child limited to 6 GiB of address space asks for a 200 m grid of Kazakhstan (about 6 GiB).
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (6 * 2**30, 6 * 2**30))

    proc = child("surface", "--resolution", "200", "--out", tmp_path / "s.tif", cwd=tmp_path, limits=limit, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "refused before allocating it" in proc.stderr and "the finest that fits" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "s.tif").exists()


def test_study_area_in_metres_labelled_degrees(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    area = tmp_path / "area.geojson"
    # UTM metres in a GeoJSON file, which says nothing about its CRS (so readers assume degrees).
    area.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
                    "geometry": {"type": "Polygon", "coordinates": [[[200000, 4500000], [900000, 4500000],
                                                                     [900000, 5600000], [200000, 4500000]]]}}]}))
    code, _, err = cli(capsys, "surface", "--resolution", "20000", "--study-area", area, "--out", tmp_path / "s.tif")
    assert code == 2 and "Traceback" not in err
    assert f"{area}: the study area is labelled WGS 84" in err and "look like metres" in err and "fix: " in err
    assert not (tmp_path / "s.tif").exists()


# --------------------------------------------------------------------------------------
# permissions (as an unprivileged user: root reads any folder)


def test_layer_folder_without_execute_permission(tmp_path: Path) -> None:
    import tempfile

    if os.geteuid() == 0:
        # Root enters any folder; the interpreter (under /root) is closed to other users, so the
        # check cannot run as one either. CI as a normal user runs it.
        pytest.skip("running as root, which ignores folder permissions")
    base = Path(tempfile.mkdtemp(prefix="geoplan-perm-"))
    try:
        base.chmod(0o777)
        layers = copy_kz(base / "layers")
        layers.chmod(0o644)  # readable listing, but no entering it
        for args in (("layers", "check", layers), ("run", "--layers", layers, "--no-surface", "--out", base / "out")):
            proc = child(*args, cwd=base)
            assert proc.returncode == 2, proc.stderr
            assert f"{layers}: permission denied" in proc.stderr and "chmod u+rx" in proc.stderr, proc.stderr
            assert "Traceback" not in proc.stderr
        assert not (base / "out").exists()
    finally:
        (base / "layers").chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)
