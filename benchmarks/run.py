"""Run every benchmark: ``python benchmarks/run.py [NAME ...]``.

Each ``benchmarks/bench_<name>.py`` module with a ``main()`` function is run in a fresh Python
process (so that one benchmark's memory does not count against the next), one after the other;
give names (``traveltime``, ``pipeline``, ``distributed``, ``surface``) to run only those. The
figures go to stdout. Exit status 1 if a benchmark failed.
"""

from __future__ import annotations

import importlib.util
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _run_one(path: Path) -> None:
    """Import ``path`` and call its ``main()`` (inside the child process)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    main = getattr(module, "main", None)
    if main is None:
        print(f"{path.name}: no main(), skipped")
        return
    main([])


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) == 2 and args[0] == "--one":
        _run_one(Path(args[1]))
        return 0
    wanted = set(args)
    found = sorted(HERE.glob("bench_*.py"))
    chosen = [p for p in found if not wanted or p.stem.removeprefix("bench_") in wanted]
    unknown = wanted - {p.stem.removeprefix("bench_") for p in found}
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; "
              f"available: {', '.join(p.stem.removeprefix('bench_') for p in found)}", file=sys.stderr)
        return 2
    print(f"geoplan benchmarks on {platform.node()}: {platform.processor() or platform.machine()}, "
          f"{__import__('os').cpu_count()} CPUs, Python {platform.python_version()}")
    failed = []
    for path in chosen:
        print(f"\n######## {path.name}", flush=True)
        t0 = time.perf_counter()
        code = subprocess.call([sys.executable, str(Path(__file__).resolve()), "--one", str(path)], cwd=HERE.parent)
        print(f"######## {path.name}: {'done' if code == 0 else f'FAILED (exit {code})'} in "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
        if code != 0:
            failed.append(path.name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
