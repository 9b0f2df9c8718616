"""Notebooks: every notebook in notebooks/ runs top to bottom, is stored clean, uses the public API.

Each notebook is executed with nbclient in a Jupyter kernel of *this* interpreter (a kernelspec
written for ``sys.executable`` is put first on ``JUPYTER_PATH``, so a user-level ``python3``
kernel pointing at another Python cannot be picked up), with ``notebooks/`` as the working
directory, as when a user opens it in Jupyter. Besides "no cell raised", each notebook must
show what it teaches: the validation errors it provokes, the figures it draws, the inline
Leaflet map, the infeasible-allocation message.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("*.ipynb"))
SHARED_OSM = ROOT.parent / "shared" / "data" / "real" / "osm"

CELL_TIMEOUT_S = 300


def test_notebooks_exist() -> None:
    names = [p.name for p in NOTEBOOKS]
    assert names == [
        "01_layers.ipynb",
        "02_travel_times.ipynb",
        "03_agglomeration.ipynb",
        "04_relocation.ipynb",
        "05_scenarios.ipynb",
        "06_openstreetmap.ipynb",
        "07_team_postgis.ipynb",
    ]


def test_readme_lists_every_notebook() -> None:
    readme = (NB_DIR / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in NOTEBOOKS if p.name not in readme]
    assert not missing, f"notebooks/README.md does not mention {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    assert "widgets" not in nb.metadata
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has stored outputs: clear them"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count: clear it"
        assert "attachments" not in cell or not cell.attachments, f"{path.name} cell {i} has attachments"


_PRIVATE_DOTTED = re.compile(r"geoplan[.\w]*\._\w")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_uses_public_api_only(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        src = cell.source
        assert not _PRIVATE_DOTTED.search(src), f"{path.name} cell {i} uses a private geoplan name"
        tree = ast.parse(src)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("geoplan"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} cell {i} imports private {private} from {node.module}"
            if isinstance(node, ast.Import):
                private = [a.name for a in node.names if a.name.startswith("geoplan") and "._" in a.name]
                assert not private, f"{path.name} cell {i} imports private module {private}"
            # No private attribute of anything (geoplan objects included: RoadNetwork caches etc.).
            if isinstance(node, ast.Attribute):
                private_attr = node.attr.startswith("_") and not node.attr.endswith("__")
                assert not private_attr, f"{path.name} cell {i} uses the private attribute .{node.attr}"


# --------------------------------------------------------------------------------------
# execution


@pytest.fixture(scope="session")
def kernel_name(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``python3`` kernelspec for this interpreter, first on JUPYTER_PATH."""
    data_dir = tmp_path_factory.mktemp("jupyter")
    write_kernel_spec(data_dir / "kernels" / "python3")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(data_dir), prepend=os.pathsep)
        # Figures through the inline backend whatever the caller's environment says.
        mp.delenv("MPLBACKEND", raising=False)
        yield "python3"


def _execute(path: Path, kernel_name: str) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(NB_DIR)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, on the first exception
    return nb


def test_kernel_is_this_interpreter(kernel_name: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("import os, sys\nprint(sys.executable)\nprint(os.getcwd())"))
    NotebookClient(nb, timeout=60, kernel_name=kernel_name, resources={"metadata": {"path": str(NB_DIR)}}).execute()
    executable, cwd = nb.cells[0].outputs[0].text.split()
    # The same interpreter, however either side spells its path (venv symlinks, relative parts).
    assert Path(executable).resolve() == Path(sys.executable).resolve()
    assert Path(cwd).resolve() == NB_DIR.resolve()


def _outputs(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]


def _text(nb: nbformat.NotebookNode) -> str:
    """Everything a reader sees as text: streams and plain-text representations."""
    parts = []
    for o in _outputs(nb):
        if o.output_type == "stream":
            parts.append(o.text)
        elif o.output_type in ("execute_result", "display_data"):
            parts.append(o.data.get("text/plain", ""))
            parts.append(o.data.get("text/html", ""))
    return "\n".join(parts)


def _count(nb: nbformat.NotebookNode, mime: str) -> int:
    return sum(mime in o.get("data", {}) for o in _outputs(nb))


def _leaflet_maps(nb: nbformat.NotebookNode) -> int:
    return sum("leaflet" in o.get("data", {}).get("text/html", "").lower() for o in _outputs(nb))


def _check_01(nb: nbformat.NotebookNode, text: str) -> None:
    # The three mistakes of the edit are reported by the validator, then fixed.
    for check in ("duplicate_id", "swapped_coordinates", "not_allowed"):
        assert check in text
    assert "LayerValidationError" not in text  # caught and printed, not raised
    assert "the layer set has 3 error(s)" in text
    assert "0 errors" in text
    assert "errors after the round trip: 0" in text
    assert _count(nb, "image/png") >= 1


def _check_02(nb: nbformat.NotebookNode, text: str) -> None:
    m = re.search(r"(\d+) of (\d+) places attached", text)
    assert m and m.group(1) == m.group(2), "every town and centre is within reach of a road"
    assert "karaganda" in text.lower()
    assert _count(nb, "image/png") >= 4  # nearest-centre bars, route, catchments, surface


def _check_03(nb: nbformat.NotebookNode, text: str) -> None:
    for category in ("agglomeration", "diversification", "relocation", "monitor"):
        assert category in text
    assert _leaflet_maps(nb) >= 1, "the agglomeration map is shown inline"
    assert _count(nb, "image/png") >= 1


def _check_04(nb: nbformat.NotebookNode, text: str) -> None:
    assert "cannot place everyone" in text, "an infeasible capacity is shown with its message"
    assert "raise relocation.capacity_share" in text, "the message says which key to change"
    assert "relocation.capacity_share: must be greater than 0" in text
    assert _leaflet_maps(nb) >= 1, "the relocation map is shown inline"
    assert _count(nb, "image/png") >= 1


def _check_05(nb: nbformat.NotebookNode, text: str) -> None:
    assert "arkalyk" in text.lower()
    assert "karazhal" in text.lower()  # the inline what-if
    assert _count(nb, "image/png") >= 1


def _check_06(nb: nbformat.NotebookNode, text: str) -> None:
    if any((SHARED_OSM / name).exists() for name in ("andorra.osm.pbf", "monaco.osm.pbf")):
        assert "extract:" in text
        assert "RoadNetwork(" in text
        assert re.search(r"(\d+) of \1 origins reach a centre", text)
        assert _count(nb, "image/png") >= 1
    else:
        # Like the real_data fixture: CI must exercise the OSM path, so the extracts must be there.
        assert os.environ.get("CI") != "true", f"{SHARED_OSM} is missing; CI must run with ../shared beside the clone"
        assert "No OpenStreetMap extract" in text
        assert _count(nb, "image/png") == 0


def _check_07(nb: nbformat.NotebookNode, text: str) -> None:
    if os.environ.get("GEOPLAN_PG_URL"):
        assert "pushed as push 1" in text
        assert "geoplan_demo.towns: POINT, EPSG:4326" in text
        assert 'violates check constraint "population must be greater than 0"' in text
        assert "0 errors" in text
        assert "karazhal" in text and "changed" in text  # the diff against the files
        assert "the run sees the edit: karazhal population 1500" in text
        assert "after the QGIS edit" in text
        assert "towns content changed between push 1 and push 2: True" in text
        assert "'population': [8123, 1500]" in text  # the edit log
        assert "dropped the demo schemas" in text
        assert "geoplan-test-pw" not in text  # the password never shows
    else:
        assert "No PostgreSQL server configured" in text


def _postgis_for(path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Notebook 07 gets a private PostGIS server (tests/_pg.py) when Debian's packages are installed."""
    monkeypatch.delenv("GEOPLAN_PG_URL", raising=False)
    if path.stem != "07_team_postgis":
        return
    from _pg import PASSWORD, find_bindir

    if find_bindir() is None:
        # Like the pg fixture: CI must exercise the database path.
        assert os.environ.get("CI") != "true", "PostgreSQL with PostGIS is not installed; scripts/test.sh installs it"
        return
    server = request.getfixturevalue("pg")
    monkeypatch.setenv("GEOPLAN_PG_URL", server.url())
    monkeypatch.setenv("PGPASSWORD", PASSWORD)


CHECKS = {
    "01_layers": _check_01,
    "02_travel_times": _check_02,
    "03_agglomeration": _check_03,
    "04_relocation": _check_04,
    "05_scenarios": _check_05,
    "06_openstreetmap": _check_06,
    "07_team_postgis": _check_07,
}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, kernel_name: str, request: pytest.FixtureRequest,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    _postgis_for(path, request, monkeypatch)
    before = sorted(p.name for p in NB_DIR.iterdir())
    nb = _execute(path, kernel_name)
    errors = [o for o in _outputs(nb) if o.output_type == "error"]
    assert not errors, f"{path.name}: {errors[0].ename}: {errors[0].evalue}" if errors else ""
    CHECKS[path.stem](nb, _text(nb))
    # Notebooks write into temporary folders only, never next to themselves.
    assert sorted(p.name for p in NB_DIR.iterdir()) == before
