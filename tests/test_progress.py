"""geoplan._progress: the library is quiet unless asked; the command line shows logs and bars."""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

import geoplan
import geoplan.traveltime
from geoplan import _progress
from geoplan._progress import logger, progress_bar, progress_enabled, reporting, set_progress
from geoplan.network import build_network
from geoplan.osm import read_osm
from geoplan.traveltime import od_matrix


@pytest.fixture
def roads() -> gpd.GeoDataFrame:
    lines = [shapely.LineString([(69.0, 50.0), (69.1, 50.0)]), shapely.LineString([(69.1, 50.0), (69.2, 50.1)])]
    return gpd.GeoDataFrame({"id": ["a", "b"], "road_class": ["trunk", "primary"]}, geometry=lines, crs=4326)


def test_library_calls_are_quiet(roads: gpd.GeoDataFrame, capfd: pytest.CaptureFixture[str],
                                 caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="geoplan"):
        build_network(roads)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert not [r for r in caplog.records if r.name.startswith("geoplan")]


def test_progress_true_logs_through_the_geoplan_logger(roads: gpd.GeoDataFrame,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="geoplan"):
        build_network(roads, progress=True)
    messages = [r.getMessage() for r in caplog.records if r.name == "geoplan"]
    assert messages == ["network: 2 road segments", "network: 3 nodes, 4 directed edges"]


def test_reporting_attaches_and_removes_its_handler(roads: gpd.GeoDataFrame) -> None:
    before = list(logger.handlers), logger.level
    out = io.StringIO()
    with reporting(stream=out):
        assert progress_enabled(None)
        build_network(roads)  # progress follows the switch reporting() turned on
    assert out.getvalue().splitlines() == ["network: 2 road segments", "network: 3 nodes, 4 directed edges"]
    assert (list(logger.handlers), logger.level) == before
    assert not progress_enabled(None)
    build_network(roads)
    assert len(out.getvalue().splitlines()) == 2


def test_switches_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEOPLAN_PROGRESS", raising=False)
    assert not progress_enabled(None) and progress_enabled(True) and not progress_enabled(False)
    monkeypatch.setenv("GEOPLAN_PROGRESS", "1")
    assert progress_enabled(None) and not progress_enabled(False)
    set_progress(False)
    try:
        assert not progress_enabled(None) and progress_enabled(True)
    finally:
        set_progress(None)
    assert _progress._default is None


def test_bar_iterates_everything_and_counts(capfd: pytest.CaptureFixture[str]) -> None:
    assert list(progress_bar(iter("abc"), enabled=False)) == ["a", "b", "c"]
    bar = progress_bar(range(5), desc="x", enabled=True)
    assert list(bar) == [0, 1, 2, 3, 4]
    assert bar._bar is None  # closed after the loop
    with pytest.raises(TypeError, match="no iterable"):
        list(progress_bar(total=3, enabled=False))


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal, so tqdm draws bars into it when they are enabled."""

    def isatty(self) -> bool:
        return True


def test_od_matrix_is_quiet_by_default_and_shows_its_bar_when_enabled(
        kz_layers: geoplan.LayerSet, monkeypatch: pytest.MonkeyPatch) -> None:
    net = build_network(kz_layers.roads)
    ids = list(net.node_id)  # every node: more than one batch of the compiled search
    assert len(ids) > 2 * geoplan.traveltime._CHUNK
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    quiet = od_matrix(net, ids, ids)
    assert term.getvalue() == ""
    with reporting(stream=io.StringIO()):  # what the geoplan command does around a command
        shown = od_matrix(net, ids, ids)
    assert "travel times" in term.getvalue() and "batch" in term.getvalue()
    np.testing.assert_array_equal(quiet.minutes, shown.minutes)
    explicit = _Terminal()
    monkeypatch.setattr(sys, "stderr", explicit)
    od_matrix(net, ids, ids, progress=True)
    assert "travel times" in explicit.getvalue()


def test_osm_read_is_quiet_by_default_and_shows_its_passes_when_enabled(
        real_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = real_data / "osm" / "andorra.osm.pbf"
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    quiet = read_osm(path)
    assert term.getvalue() == ""
    shown = read_osm(path, progress=True)
    bars = term.getvalue()
    assert "reading andorra.osm.pbf: ways" in bars and "reading andorra.osm.pbf: nodes" in bars
    assert f"/{path.stat().st_size / 1024:.0f}k" in bars  # the nodes pass counts the file's bytes, in KiB
    assert quiet.equals(shown)
