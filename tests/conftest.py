"""Shared fixtures: the embedded layers and the real third-party data beside the project."""

from __future__ import annotations

import os
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
