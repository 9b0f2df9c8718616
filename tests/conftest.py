"""Shared fixtures: the embedded layers and the real third-party data beside the project."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import geoplan

ROOT = Path(__file__).resolve().parents[1]
#: Real third-party data (OSM extracts, boundaries, benchmark graphs); never copied into the repo.
REAL = ROOT.parent / "shared" / "data" / "real"
FACTS = ROOT.parent / "shared" / "data" / "facts"


def _need(path: Path) -> Path:
    if path.exists():
        return path
    if os.environ.get("CI") == "true":
        pytest.fail(f"{path} is missing; CI must run with ../shared beside the clone")
    pytest.skip(f"{path} not found: real test data lives in ../shared/data beside the project")


@pytest.fixture(scope="session")
def real_data() -> Path:
    """Folder ``../shared/data/real`` (skip when absent, fail under CI=true)."""
    return _need(REAL)


@pytest.fixture(scope="session")
def facts_dir() -> Path:
    """Folder ``../shared/data/facts`` (skip when absent, fail under CI=true)."""
    return _need(FACTS)


@pytest.fixture(scope="session")
def kz_path() -> Path:
    """The embedded Kazakhstan layer folder."""
    return geoplan.embedded_layers_path()


@pytest.fixture(scope="session")
def kz_layers(kz_path: Path) -> geoplan.LayerSet:
    """The embedded Kazakhstan layer set (read once; copy before editing)."""
    return geoplan.read_layers(kz_path)


# --------------------------------------------------------------------------------------
# PostgreSQL + PostGIS (tests/_pg.py): a private server started by the tests themselves


@pytest.fixture(scope="session")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A private PostgreSQL server with PostGIS on 127.0.0.1 (see ``tests/_pg.py``).

    Skips when Debian's ``postgresql`` and ``postgresql-NN-postgis-3`` are not installed
    (``scripts/test.sh`` installs them), fails under ``CI=true``.
    """
    from _pg import PgServer, find_bindir

    if find_bindir() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL with PostGIS is not installed; scripts/test.sh installs it (apt)")
        pytest.skip("PostgreSQL with PostGIS not installed (apt-get install postgresql postgresql-15-postgis-3)")
    server = PgServer(tmp_path_factory.mktemp("postgres")).start()
    try:
        yield server
    finally:
        server.stop()
