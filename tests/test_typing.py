"""The public API is typed: mypy --strict (pydantic plugin, config in pyproject.toml) passes on geoplan/.

Also checks that the lazily loaded names of ``geoplan/__init__.py`` are the names type checkers
see (the ``if TYPE_CHECKING:`` imports), and that each of them resolves at run time.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import geoplan

ROOT = Path(__file__).resolve().parents[1]


def _type_checking_names() -> dict[str, str]:
    tree = ast.parse((ROOT / "geoplan" / "__init__.py").read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module
                names.update({a.asname or a.name: imp.module for a in imp.names})
    return names


def test_lazy_names_are_the_typed_names() -> None:
    lazy = {name: module for module, names in geoplan._LAZY.items() for name in names}
    assert lazy == _type_checking_names()
    assert set(lazy) <= set(geoplan.__all__)


def test_every_public_name_resolves() -> None:
    for name in geoplan.__all__:
        assert getattr(geoplan, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = geoplan.nope  # type: ignore[attr-defined]


def test_package_is_marked_typed() -> None:
    assert (ROOT / "geoplan" / "py.typed").is_file()


def test_mypy_strict_is_clean(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    # The cache lives in the repository (.mypy_cache, ignored by git) so reruns are quick.
    proc = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary", "--hide-error-context"],
                          cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "MYPY_FORCE_COLOR": "0"})
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    assert proc.returncode == 0 and not errors, (
        f"mypy reports {len(errors)} error(s) on geoplan/ (run `python -m mypy`):\n" + "\n".join(errors[:60])
        + proc.stderr[-2000:])


def test_bad_input_errors_are_value_errors() -> None:
    # Code written against the standard library's convention (``except ValueError``) catches them.
    for cls in (geoplan.LayerError, geoplan.LayerReadError, geoplan.LayerValidationError, geoplan.NetworkError,
                geoplan.ScenarioError, geoplan.AnalysisError):
        assert issubclass(cls, geoplan.GeoplanError) and issubclass(cls, ValueError), cls
    with pytest.raises(ValueError, match="fix: give"):
        raise geoplan.NetworkError("bad speed", fix="give a positive number")


def test_no_public_function_is_named_like_its_module() -> None:
    """``geoplan.surface`` must stay the module: a function of that name could not be exported."""
    clashes = []
    for path in sorted((ROOT / "geoplan").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
        module = path.parent.name if path.name == "__init__.py" else path.stem
        if module in names:
            clashes.append(f"{path.relative_to(ROOT)}: {module}")
    assert not clashes, clashes
    assert {"catchment_bands", "nearest_centre_surface", "scenario_layers"} <= set(geoplan.__all__)


def test_every_module_all_resolves() -> None:
    """Each module's ``__all__`` names only what it defines (a renamed function leaves no stale name)."""
    import importlib

    stale = []
    for path in sorted((ROOT / "geoplan").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name.endswith("__main__"):
            continue
        module = importlib.import_module(name)
        stale += [f"{name}.{n}" for n in getattr(module, "__all__", ()) if not hasattr(module, n)]
    assert not stale, stale
