"""The shape of geoplan's code: rooms small enough to read, signatures callers cannot misuse.

These are the structure rules of the project (issue 10), checked on the source so that they
hold for code written after them:

- no module over ``MAX_MODULE_LINES`` lines: a module that grows past it holds two jobs;
- no function body over ``MAX_FUNCTION_LINES`` lines, counted from the first statement after
  the docstring; the few exceptions are named in ``LONG_OK`` with the reason;
- a public function's parameters with a default value are keyword-only (``f(towns, *, k=3)``):
  an option is never passed by position, so options can be added or reordered safely;
- progress bars only through :mod:`geoplan._progress` (quiet by default, enabled by the CLI).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "geoplan"
MAX_MODULE_LINES = 700
MAX_FUNCTION_LINES = 80

#: (module path relative to geoplan/, qualified function name) -> why it stays long.
LONG_OK: dict[tuple[str, str], str] = {}

#: Public functions that keep a positional parameter with a default, and why.
POSITIONAL_DEFAULT_OK: dict[tuple[str, str], str] = {
    ("_progress.py", "progress_bar"): "mirrors tqdm(iterable=None, ...), which callers know",
    ("_progress.py", "Progress.update"): "mirrors tqdm.update(n=1)",
}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _functions(tree: ast.Module) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef, bool]]:
    """(qualified name, node, is public) of every function, nested ones included."""
    out: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef, bool]] = []

    def visit(node: ast.AST, prefix: str, public: bool, in_class: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                is_public = public and not child.name.startswith("_")
                out.append((name, child, is_public))
                visit(child, f"{name}.", False, False)
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.", public and not child.name.startswith("_"), True)
            elif not isinstance(child, (ast.expr, ast.stmt)) or isinstance(child, (ast.If, ast.Try, ast.With)):
                visit(child, prefix, public, in_class)

    visit(tree, "", True, False)
    return out


def _body_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = fn.body
    first = body[0]
    if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        if len(body) == 1:
            return 0
        first = body[1]
    assert fn.end_lineno is not None
    return fn.end_lineno - first.lineno + 1


@pytest.mark.parametrize("path", _modules(), ids=_rel)
def test_module_is_small_enough(path: Path) -> None:
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_MODULE_LINES, (
        f"geoplan/{_rel(path)} has {n} lines (limit {MAX_MODULE_LINES}): split it along its jobs")


@pytest.mark.parametrize("path", _modules(), ids=_rel)
def test_functions_are_short(path: Path) -> None:
    long = [f"{name} (line {fn.lineno}): {_body_lines(fn)} lines"
            for name, fn, _ in _functions(_tree(path))
            if _body_lines(fn) > MAX_FUNCTION_LINES and (_rel(path), name) not in LONG_OK]
    assert not long, (f"geoplan/{_rel(path)}: functions over {MAX_FUNCTION_LINES} lines "
                      "(split them into named steps):\n" + "\n".join(long))


def test_long_function_exceptions_still_exist_and_are_long() -> None:
    """An exception that no longer applies is removed, so the list cannot hide new cases."""
    stale = []
    for (rel, name), _why in LONG_OK.items():
        found = {n: fn for n, fn, _ in _functions(_tree(PACKAGE / rel))}
        if name not in found or _body_lines(found[name]) <= MAX_FUNCTION_LINES:
            stale.append(f"{rel}::{name}")
    assert not stale, f"remove from LONG_OK: {stale}"


@pytest.mark.parametrize("path", [p for p in _modules() if "cli" not in p.relative_to(PACKAGE).parts], ids=_rel)
def test_public_options_are_keyword_only(path: Path) -> None:
    # The CLI is excluded: typer builds commands from positional-or-keyword parameters.
    wrong = []
    for name, fn, public in _functions(_tree(path)):
        if not public or (_rel(path), name) in POSITIONAL_DEFAULT_OK:
            continue
        positional = fn.args.posonlyargs + fn.args.args
        with_default = positional[len(positional) - len(fn.args.defaults):] if fn.args.defaults else []
        if with_default:
            wrong.append(f"{name} (line {fn.lineno}): {', '.join(a.arg for a in with_default)}")
    assert not wrong, (f"geoplan/{_rel(path)}: public functions with positional options "
                       "(put them after `*`):\n" + "\n".join(wrong))


@pytest.mark.parametrize("path", [p for p in _modules() if p.name != "_progress.py"], ids=_rel)
def test_progress_goes_through_the_helper(path: Path) -> None:
    tree = _tree(path)
    direct = [n.lineno for n in ast.walk(tree)
              if (isinstance(n, ast.Import) and any(a.name.split(".")[0] == "tqdm" for a in n.names))
              or (isinstance(n, ast.ImportFrom) and (n.module or "").split(".")[0] == "tqdm")]
    assert not direct, (f"geoplan/{_rel(path)} imports tqdm (lines {direct}): use "
                        "geoplan._progress.progress_bar, which is quiet unless the caller asks")


def test_the_rules_catch_what_they_are_meant_to(tmp_path: Path) -> None:
    """The checks themselves: each flags a small bad example and passes its corrected form."""
    bad = ast.parse(
        "def f(x, k=3):\n    '''Doc.'''\n" + "    y = 1\n" * 81
        + "class C:\n    def m(self, a, b=1):\n        return a\n    def _p(self, a=1):\n        return a\n")
    found = {name: (fn, public) for name, fn, public in _functions(bad)}
    assert _body_lines(found["f"][0]) == 81
    assert found["C.m"][1] and not found["C._p"][1]
    assert found["C.m"][0].args.defaults and not found["C.m"][0].args.kwonlyargs
    good = ast.parse("def f(x, *, k=3):\n    '''Doc.'''\n    return x\n")
    (_, fn, _), = _functions(good)
    assert _body_lines(fn) == 1 and not fn.args.defaults and fn.args.kw_defaults
