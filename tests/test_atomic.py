"""Atomic outputs: a run killed at any point leaves every earlier output whole.

``geoplan run`` writes all its files into a hidden staging folder inside the output folder and
renames them into place only when every one is complete. These tests start a real
``python -m geoplan.cli run`` on a folder holding the outputs of an earlier run (of another
scenario, so old and new files differ), kill it with SIGKILL at chosen moments — during
start-up, as soon as the staging folder appears, while it fills, right after the first rename —
and check the invariant that must hold whatever the moment: each output is byte-identical to
either its previous version or the complete new one, never a mix or a partial file, and any
leftover is a hidden ``.geoplan-staging-*`` folder (and the ``.geoplan.lock`` file of the killed
writer) that the next run removes. A run that fails
(an infeasible allocation, a disk error while writing) leaves the earlier outputs untouched and
no staging folder behind.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import geoplan
import geoplan.maps.render
import geoplan.pipeline
from geoplan import AnalysisError, GeoplanError

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
STAGING = ".geoplan-staging-"
LOCK = ".geoplan.lock"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Outputs of the baseline (the 'previous' run) and of a what-if (the 'new' run), no surface."""
    base = tmp_path_factory.mktemp("atomic")
    whatif = base / "whatif.yaml"
    # A stricter agglomeration reach changes categories, hence the towns outputs and the maps.
    whatif.write_text(f"extends: {BASELINE}\nname: whatif\nagglomeration:\n  max_minutes: 40\n", encoding="utf-8")
    geoplan.run(out_dir=base / "previous", with_surface=False, progress=False)
    geoplan.run(scenario=whatif, out_dir=base / "new", with_surface=False, progress=False)
    old, new = snapshot(base / "previous"), snapshot(base / "new")
    assert set(old) == set(new)
    changed = {n for n in old if old[n] != new[n]}
    assert {"towns.geojson", "towns.csv", "results.gpkg", "agglomeration.html", "categories.png"} <= changed
    return {"dir": base, "whatif": whatif, "previous": base / "previous", "new": base / "new"}


def _start(scenario: Path, out: Path, cwd: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-m", "geoplan.cli", "run", "--scenario", str(scenario), "--out", str(out),
                             "--no-surface", "--quiet"], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for(proc: subprocess.Popen[bytes], condition: Callable[[], bool], timeout: float = 120.0) -> bool:
    """Poll ``condition`` every few ms; False when the process ended (or time ran out) first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        if proc.poll() is not None:
            return condition()
        time.sleep(0.002)
    return False


def _stagings(out: Path) -> list[Path]:
    return sorted(out.glob(f"{STAGING}*"))


def _check_invariant(out: Path, old: dict[str, bytes], new: dict[str, bytes]) -> dict[str, int]:
    """Every output is the old or the new version in full; anything else is a hidden staging folder."""
    visible = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    top = {name.split("/")[0] for name in old}  # profiles/<town>.html sit in one folder
    assert visible == top, visible ^ top
    hidden = [p for p in out.iterdir() if p.name.startswith(".") and p.name != LOCK]
    assert all(p.is_dir() and p.name.startswith(STAGING) for p in hidden), hidden
    if (out / LOCK).exists():  # a killed writer's lock file: no process holds it any more
        assert (out / LOCK).is_file() and (out / LOCK).read_text().strip().isdigit()
    state = {"old": 0, "new": 0, "staging": len(hidden)}
    for name in sorted(old):
        data = (out / name).read_bytes()
        if data == old[name] and data == new[name]:
            continue  # unchanged by the scenario (catchments, ...)
        assert data in (old[name], new[name]), f"{name} is neither the previous nor the new version"
        state["old" if data == old[name] else "new"] += 1
    return state


def _moved(out: Path, inodes: dict[str, int]) -> Callable[[], bool]:
    def check() -> bool:
        for name, ino in inodes.items():
            try:
                if (out / name).stat().st_ino != ino:
                    return True
            except FileNotFoundError:  # pragma: no cover - a rename never removes the name
                return True
        return False

    return check


def test_killed_run_leaves_outputs_whole(runs: dict[str, Path], tmp_path: Path) -> None:
    old, new = snapshot(runs["previous"]), snapshot(runs["new"])

    def staging_files(out: Path) -> int:
        return sum(1 for s in _stagings(out) for p in s.rglob("*") if p.is_file())

    def after(seconds: float) -> Callable[[], bool]:
        t0 = time.monotonic()
        return lambda: time.monotonic() - t0 > seconds

    moments: dict[str, Callable[[Path, dict[str, int]], Callable[[], bool]]] = {
        "during start-up": lambda out, _: after(0.3),
        "staging folder created": lambda out, _: lambda: bool(_stagings(out)),
        # (the town profiles are written after the commit, one atomic file each: not staged)
        "staging half full": lambda out, _: lambda: staging_files(out) >= sum("/" not in n for n in old) // 2,
        "first output replaced": lambda out, inodes: _moved(out, inodes),
    }
    states: dict[str, dict[str, int]] = {}
    for moment, make in moments.items():
        out = tmp_path / moment.replace(" ", "_")
        shutil.copytree(runs["previous"], out)
        inodes = {name: (out / name).stat().st_ino for name in old}
        proc = _start(runs["whatif"], out, tmp_path)
        try:
            reached = _wait_for(proc, make(out, inodes))
            proc.send_signal(signal.SIGKILL)
        finally:
            _, err = proc.communicate(timeout=120)
        if proc.returncode != -signal.SIGKILL:
            # It finished before the kill: then it must have succeeded, with every file new.
            assert proc.returncode == 0, err.decode()
        states[moment] = _check_invariant(out, old, new)
        states[moment]["killed"] = int(reached and proc.returncode == -signal.SIGKILL)
    print("\nstate after SIGKILL:", states)  # shown with -s, for the record

    # Killed before the staging folder exists: nothing changed at all.
    assert states["during start-up"]["killed"] == 1
    assert snapshot(tmp_path / "during_start-up") == old
    # Killed while staging (which lasts a second or more, polled every 2 ms): the earlier outputs
    # are all still there and the staging folder is left over.
    for moment in ("staging folder created", "staging half full"):
        assert states[moment] == {"old": states[moment]["old"], "new": 0, "staging": 1, "killed": 1}, states
        assert states[moment]["old"] > 0

    # The next run removes the leftovers and replaces everything.
    for out in (tmp_path / "staging_folder_created", tmp_path / "staging_half_full"):
        geoplan.run(scenario=runs["whatif"], out_dir=out, with_surface=False, progress=False)
        assert _stagings(out) == [] and not (out / LOCK).exists()
        assert snapshot(out) == new


def test_failed_analysis_leaves_outputs_untouched(runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(runs["previous"], out)
    before = snapshot(out)
    infeasible = tmp_path / "infeasible.yaml"
    infeasible.write_text("relocation:\n  capacity_share: 0.0001\n", encoding="utf-8")
    with pytest.raises(AnalysisError, match="cannot place everyone"):
        geoplan.run(scenario=infeasible, out_dir=out, with_surface=False, progress=False)
    assert snapshot(out) == before and _stagings(out) == []
    with pytest.raises(AnalysisError):
        geoplan.run(scenario=infeasible, out_dir=tmp_path / "fresh", with_surface=False, progress=False)
    assert not (tmp_path / "fresh").exists()


def test_failed_write_leaves_outputs_untouched(runs: dict[str, Path], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[Path] = []

    def disk_full(m: object, path: Path) -> None:
        # The data files are already in the staging folder when the maps are written.
        written.extend(p for p in path.parent.iterdir() if p.suffix in (".geojson", ".csv", ".gpkg"))
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(geoplan.maps.render, "save_map", disk_full)
    out = tmp_path / "out"
    shutil.copytree(runs["previous"], out)
    before = snapshot(out)
    with pytest.raises(GeoplanError, match=r"cannot write outputs: .*No space left on device") as info:
        geoplan.run(scenario=runs["whatif"], out_dir=out, with_surface=False, progress=False)
    assert info.value.fix
    assert {p.name for p in written} >= {"towns.geojson", "towns.csv", "results.gpkg"}
    assert snapshot(out) == before and _stagings(out) == []

    # A folder the failed run had to create is removed again, with its missing parents.
    fresh = tmp_path / "new" / "out"
    with pytest.raises(GeoplanError, match="cannot write outputs"):
        geoplan.run(scenario=runs["whatif"], out_dir=fresh, with_surface=False, progress=False)
    assert not (tmp_path / "new").exists()
