"""scripts/run.sh: the baseline writes the committed maps/, a what-if scenario never does."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _command(*args: str) -> str:
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "run.sh"), *args], capture_output=True, text=True,
                          env={**os.environ, "GEOPLAN_RUN_PRINT": "1"}, timeout=60, check=True)
    return proc.stdout.strip()


def test_baseline_run_writes_the_committed_maps() -> None:
    assert _command() == "geoplan run --out out/kazakhstan --maps maps"
    assert _command("--scenario", "scenarios/baseline.yaml").startswith("geoplan run --out out/kazakhstan --maps maps ")


@pytest.mark.parametrize("args", [("--scenario", "scenarios/center_west.yaml"), ("-s", "scenarios/center_west.yaml"),
                                  ("--scenario=scenarios/center_west.yaml", "--no-surface")])
def test_a_scenario_writes_its_maps_beside_its_outputs(args: tuple[str, ...]) -> None:
    cmd = _command(*args)
    assert cmd.startswith("geoplan run --out out/center_west --maps out/center_west/maps ")
    assert " maps " not in f" {cmd.split(' --maps ', 1)[1]} ".replace("out/center_west/maps", "")
    assert cmd.endswith(" ".join(args))
