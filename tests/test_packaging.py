"""Packaging: pyproject.toml, environment.yml, the CI entry point and the console script agree."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

import geoplan
import geoplan.layers.schemas

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
#: PyPI name -> conda-forge name, where they differ.
CONDA_NAMES = {"osmium": "pyosmium"}


def _lower_bound(specifiers: list[tuple[str, str]]) -> str | None:
    bounds = [v for op, v in specifiers if op == ">="]
    assert len(bounds) <= 1
    return bounds[0] if bounds else None


def _pyproject_deps() -> dict[str, str | None]:
    out = {}
    for line in PYPROJECT["project"]["dependencies"]:
        req = Requirement(line)
        out[CONDA_NAMES.get(req.name.lower(), req.name.lower())] = _lower_bound(
            [(s.operator, s.version) for s in req.specifier]
        )
    return out


def _conda_deps() -> dict[str, str | None]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    assert env["channels"] == ["conda-forge"]
    out = {}
    for item in env["dependencies"]:
        assert isinstance(item, str), f"unexpected entry {item!r} (pip section?)"
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)\s*(?:(>=|==|<=|<|>|=)\s*([0-9][^\s,]*))?", item.strip())
        assert m, item
        name, op, version = m.groups()
        out[name.lower()] = version if op == ">=" else None
        assert op in (None, ">="), f"{item}: use lower bounds only, as pyproject.toml does"
    return out


def test_environment_yml_lists_the_runtime_dependencies() -> None:
    conda = _conda_deps()
    py = conda.pop("python")
    conda.pop("pip", None)
    assert PYPROJECT["project"]["requires-python"] == f">={py}"
    assert conda == _pyproject_deps()


def test_every_runtime_dependency_has_a_lower_bound() -> None:
    deps = _pyproject_deps()
    assert deps and all(v is not None for v in deps.values()), deps
    assert "pyosmium" in deps  # the osmium <-> pyosmium mapping is exercised


def test_installed_versions_satisfy_pyproject() -> None:
    for line in PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["test"]:
        req = Requirement(line)
        try:
            installed = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{req.name} is declared but not installed")
        assert req.specifier.contains(Version(installed), prereleases=True), (req, installed)


def test_test_extras_cover_the_test_suite() -> None:
    extras = {Requirement(r).name for r in PYPROJECT["project"]["optional-dependencies"]["test"]}
    assert {"pytest", "hypothesis", "pytest-timeout"} <= extras
    assert "timeout" in PYPROJECT["tool"]["pytest"]["ini_options"]  # needs pytest-timeout


def _readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", readme, flags=re.M | re.S)
    commands = [line.strip() for block in blocks for line in block.splitlines() if "scripts/test.sh" in line]
    assert commands, "README has no fenced command running scripts/test.sh"
    assert len(set(commands)) == 1, commands
    return commands[0]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    command = _readme_test_command()
    assert command == "bash scripts/test.sh"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    lines = [ln.strip() for ln in ci.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    # Set-up lines aside (strict mode, cd to the checkout), the only command is the README's.
    work = [ln for ln in lines if not ln.startswith(("set ", "cd "))]
    assert work == [command]
    assert shlex.split(command)[1] == "scripts/test.sh" and (ROOT / "scripts" / "test.sh").is_file()


def test_shell_scripts_parse() -> None:
    for script in [ROOT / ".ci" / "run", *sorted((ROOT / "scripts").glob("*.sh"))]:
        result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert result.returncode == 0, (script, result.stderr)
    assert "pytest" in (ROOT / "scripts" / "test.sh").read_text(encoding="utf-8")


def test_console_script() -> None:
    assert PYPROJECT["project"]["scripts"] == {"geoplan": "geoplan.cli:main"}
    eps = [ep for ep in importlib.metadata.entry_points(group="console_scripts") if ep.name == "geoplan"]
    assert len(eps) == 1 and eps[0].value == "geoplan.cli:main"
    from geoplan.cli import main

    assert eps[0].load() is main


def test_version_and_embedded_layers_packaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert geoplan.__version__ == PYPROJECT["project"]["version"]
    include = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert include == {"layers/kazakhstan": "geoplan/_layers/kazakhstan"}
    src = ROOT / "layers" / "kazakhstan"
    assert {"towns.geojson", "centres.geojson", "roads.geojson", "layerset.json"} <= {p.name for p in src.iterdir()}
    assert geoplan.embedded_layers_path() == src  # from the source tree
    # Laid out as in the wheel (no layers/ beside the package), the layers are found where
    # force-include puts them.
    site = tmp_path / "site-packages"
    shutil.copytree(src, site / include["layers/kazakhstan"])
    (site / "geoplan" / "layers").mkdir(parents=True)
    shutil.copy(Path(geoplan.layers.schemas.__file__), site / "geoplan" / "layers" / "schemas.py")
    spec = importlib.util.spec_from_file_location("wheel_layers", site / "geoplan" / "layers" / "schemas.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "wheel_layers", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    found = module.embedded_layers_path()
    assert found == site / "geoplan" / "_layers" / "kazakhstan"
    assert len(geoplan.read_layers(found).towns) == 29
