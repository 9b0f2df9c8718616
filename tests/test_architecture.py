"""The import direction of geoplan's modules: data flows one way, so imports do too.

``LAYERS`` is the order of ``COORD.md``/``README.md``: a module may import from its own rank
and the ranks above it, never from a rank below (``layers`` must not import ``network``,
``network`` must not import ``classify``). Modules listed here that do not exist (yet) are
skipped; a module that exists but is not listed fails the test, so that every new module is
given its place. Imports under ``if TYPE_CHECKING:`` are annotations only and not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "geoplan"

#: Ranks from the bottom (imported by everything) to the top (imports everything).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("settings",),
    ("_errors",),
    ("_io", "_outputs", "_progress", "_results"),
    ("layers",),
    ("scenario",),
    ("geography",),
    ("osm",),
    ("network",),
    ("traveltime",),
    ("distributed",),
    ("catchments", "surface"),
    ("indicators", "composite", "classify", "agglomeration"),
    ("sensitivity",),
    ("relocation",),
    ("_style", "_html", "charts", "maps", "profiles", "export"),
    ("store",),
    ("pipeline",),
    ("cli", "__main__"),
)
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def _top(path: Path) -> str:
    """``geoplan/network/build.py`` -> ``network``; ``geoplan/_io.py`` -> ``_io``."""
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py" and "__pycache__" not in p.parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, imported module relative to geoplan, names) of every geoplan import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    inside = path.is_relative_to(PACKAGE)
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts) if inside else "geoplan.x"
    if path.name != "__init__.py":
        package = package.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names if a.name.split(".")[0] == "geoplan"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            if module.split(".")[0] == "geoplan":
                found.append((node.lineno, module, [a.name for a in node.names]))
    out = []
    for line, module, names in found:
        parts = module.split(".")[1:]
        if parts:
            out.append((line, parts[0], names))
        else:  # from geoplan import settings / from geoplan import X (the version is fine to take)
            out += [(line, n, []) for n in names if n != "__version__"]
    return out


def test_every_module_has_a_rank() -> None:
    missing = sorted({_top(p) for p in _modules()} - set(RANK))
    assert not missing, f"modules without a place in the import order: {missing}; add them to LAYERS"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_one_way(path: Path) -> None:
    me = _top(path)
    if me not in RANK:
        pytest.skip(f"{me} has no rank (reported by test_every_module_has_a_rank)")
    wrong = []
    for line, target, _ in _imports(path):
        if target not in RANK:
            wrong.append(f"line {line}: imports geoplan.{target}, not a module (import it where it is defined)")
        elif RANK[target] > RANK[me]:
            wrong.append(f"line {line}: imports geoplan.{target} (rank {RANK[target]}) from rank {RANK[me]}")
    assert not wrong, f"{path.relative_to(PACKAGE.parent)} imports against the data flow:\n" + "\n".join(wrong)


#: The same rule one level down, inside the assessment packages: the relocation policy mode builds on
#: the cities mode; the indicator catalogue and the computed indicators do not import each other.
WITHIN: dict[str, tuple[tuple[str, ...], ...]] = {
    "indicators": (("catalogue", "computed"),),
    "relocation": (("cities",), ("policy",)),
}


@pytest.mark.parametrize("package", sorted(WITHIN))
def test_imports_go_one_way_inside_packages(package: str) -> None:
    rank = {name: i for i, names in enumerate(WITHIN[package]) for name in names}
    wrong = []
    for path in sorted((PACKAGE / package).glob("*.py")):
        me = path.stem
        if me == "__init__":
            continue
        if me not in rank:
            wrong.append(f"{me}: no place in WITHIN[{package!r}]")
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[:2] == ["geoplan", package]:
                sub = (node.module or "").split(".")[2:3]
                if not sub:
                    wrong.append(f"{me} line {node.lineno}: imports the package geoplan.{package} from inside it")
                elif rank.get(sub[0], len(rank)) > rank[me]:
                    wrong.append(f"{me} line {node.lineno}: imports geoplan.{package}.{sub[0]}, above it")
    assert not wrong, f"geoplan/{package}/ imports against its order:\n" + "\n".join(wrong)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_names_from_other_modules(path: Path) -> None:
    me = _top(path)
    wrong = [f"line {line}: {n} from geoplan.{target}" for line, target, names in _imports(path)
             for n in names if target != me and n.startswith("_") and not n.startswith("__")]
    assert not wrong, (f"{path.relative_to(PACKAGE.parent)} uses private helpers of other modules "
                       "(make them public where they belong):\n" + "\n".join(wrong))


def test_settings_imports_nothing_heavy() -> None:
    tree = ast.parse((PACKAGE / "settings.py").read_text(encoding="utf-8"))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"__future__", "typing"}, imported


def test_the_check_sees_a_wrong_import(tmp_path: Path) -> None:
    bad = PACKAGE / "layers" / "schemas.py"
    imports = _imports(bad)
    assert any(t == "settings" for _, t, _ in imports)  # the parser finds real imports
    fake = tmp_path / "x.py"
    fake.write_text("from geoplan.network import build_network\nfrom geoplan.settings import X\n")
    assert [(t, n) for _, t, n in _imports(fake)] == [("network", ["build_network"]), ("settings", ["X"])]
