"""Benchmark: start-up time of ``geoplan --help`` and ``geoplan layers check`` vs ``import geoplan``.

Each command runs in a fresh Python process ``--repeat`` times (default 7); the figures are the
fastest and the median wall time, so a busy machine shows in the median more than in the
minimum. Measured side by side:

* ``python -c pass`` -- the interpreter alone (the floor);
* ``python -c "import geoplan"`` -- the package today (error classes only; the rest loads on use);
* ``python -c "import geoplan; geoplan.read_layers"`` -- what ``import geoplan`` cost before
  issue 10 (it imported the layer model, hence geopandas, at once);
* ``geoplan --help`` and ``geoplan layers check`` (on the embedded layers), through
  ``python -m geoplan.cli``;
* with ``--baseline REV`` (default: ``0c3fc67``, the commit before the restructuring, when the
  repository has it): ``import geoplan`` and ``--help`` of that revision, checked out into a
  temporary folder with ``git archive``.

Run alone with ``python benchmarks/bench_startup.py [--repeat 7] [--baseline REV | --no-baseline]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "0c3fc67"
#: ``geoplan --help`` of a revision whose geoplan.cli was a module without ``__main__``.
_OLD_HELP = "import sys; sys.argv = ['geoplan', '--help']; from geoplan.cli import main; main()"


def _time(cmd: list[str], *, cwd: Path, pythonpath: Path, repeat: int) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    walls = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        walls.append(time.perf_counter() - t0)
        if proc.returncode not in (0, 1):  # layers check exits 1 when it finds problems
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return min(walls), statistics.median(walls)


def _baseline_tree(rev: str, into: Path) -> Path | None:
    """``geoplan/`` and ``layers/`` of ``rev`` extracted into ``into``; ``None`` without git or the revision."""
    try:
        data = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev, "geoplan", "layers"],
                              capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    tar_path = into / "baseline.tar"
    tar_path.write_bytes(data)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="data")
    return into


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--baseline", default=BASELINE, help="git revision to compare with")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args(argv)
    py = sys.executable
    cases = [
        ("python -c pass", [py, "-c", "pass"]),
        ("import geoplan", [py, "-c", "import geoplan"]),
        ("import geoplan + layer model (old import)", [py, "-c", "import geoplan; geoplan.read_layers"]),
        ("geoplan --help", [py, "-m", "geoplan.cli", "--help"]),
        ("geoplan layers check", [py, "-m", "geoplan.cli", "layers", "check"]),
    ]
    rows = []
    with tempfile.TemporaryDirectory(prefix="geoplan-bench-startup-") as tmp:
        for label, cmd in cases:
            rows.append((label, *_time(cmd, cwd=Path(tmp), pythonpath=ROOT, repeat=args.repeat)))
        if not args.no_baseline:
            base = _baseline_tree(args.baseline, Path(tmp))
            if base is None:
                print(f"baseline {args.baseline}: not in this repository, skipped")
            else:
                for label, cmd in [(f"import geoplan @ {args.baseline}", [py, "-c", "import geoplan"]),
                                   (f"geoplan --help @ {args.baseline}", [py, "-c", _OLD_HELP])]:
                    rows.append((label, *_time(cmd, cwd=Path(tmp), pythonpath=base, repeat=args.repeat)))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"start-up, wall seconds over {args.repeat} runs (load average {load:.1f}, Python "
          f"{sys.version.split()[0]}):")
    print(f"{'command':48s} {'fastest':>8s} {'median':>8s}")
    for label, fastest, median in rows:
        print(f"{label:48s} {fastest:8.3f} {median:8.3f}")


if __name__ == "__main__":
    main()
