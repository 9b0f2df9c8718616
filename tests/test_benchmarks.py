"""Smoke test of the benchmark scripts (the benchmarks themselves are not part of the test run)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_bench_traveltime_quick_mode_compares_geoplan_with_scipy(capsys: pytest.CaptureFixture[str]) -> None:
    bench = _load("bench_traveltime")
    bench.main(["--quick", "--side", "40", "--ks", "1,5", "--only", "grid", "--engines", "scipy,geoplan"])
    out = capsys.readouterr().out
    rows = [line.split(" | ") for line in out.splitlines() if "od_matrix" in line]
    assert len(rows) == 2  # k = 1 and 5
    for cells in rows:
        assert cells[6] == "0"  # max difference vs scipy, minutes
    assert "generated road grid 40 x 40" in out
