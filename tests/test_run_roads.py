"""``geoplan run --roads`` / the scenario ``roads`` key: the whole analysis on another roads layer.

The roads are the real highway graph of Kazakhstan from Travel Mapping (test data only, read
from ``../shared/data/real/``), written as a GeoPackage roads layer as ``geoplan osm download``
writes one; towns, centres and settlements stay the embedded ones.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

from geoplan import ScenarioError
from geoplan.cli import main as cli_main
from geoplan.osm import write_roads
from geoplan.pipeline import run
from geoplan.scenario import load_scenario

CLASS_OF_SYSTEM = {"kazkaz": "trunk", "asiah": "trunk", "eure": "trunk", "kazkz": "primary"}


@pytest.fixture(scope="module")
def tm_roads_file(real_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    edges = gpd.read_file(real_data / "kz_highways_travelmapping.gpkg", layer="graph_edges")
    first_system = edges["systems"].astype(str).str.split(r"[;, ]").str[0]
    roads = gpd.GeoDataFrame({"id": [f"tm{i}" for i in range(len(edges))],
                              "road_class": first_system.map(CLASS_OF_SYSTEM).fillna("primary")},
                             geometry=edges.geometry.values, crs=edges.crs)
    return write_roads(roads, tmp_path_factory.mktemp("tm") / "roads.gpkg")


@pytest.fixture(scope="module")
def tm_run(tm_roads_file: Path, tmp_path_factory: pytest.TempPathFactory):
    """The baseline run on the Travel Mapping roads, through a scenario file's ``roads`` key."""
    folder = tmp_path_factory.mktemp("scenario")
    (folder / "roads.gpkg").write_bytes(tm_roads_file.read_bytes())
    sc_file = folder / "real_roads.yaml"
    sc_file.write_text("name: real_roads\nroads: roads.gpkg\n", encoding="utf-8")
    sc = load_scenario(sc_file)
    assert sc.roads_path() == (folder / "roads.gpkg").resolve()
    return run(scenario=sc, with_surface=False, progress=False)


def test_run_on_other_roads(tm_run) -> None:
    result = tm_run
    assert result.layers.sources["roads"].endswith("roads.gpkg")
    assert result.layers.roads["id"].str.startswith("tm").all()
    assert len(result.layers.roads) > 3000
    # The embedded places are analysed on the real highways: most towns reach a centre.
    assert np.isfinite(result.towns["minutes"].to_numpy(dtype=float)).mean() > 0.8
    base = run(with_surface=False, progress=False)
    assert not np.allclose(result.towns["minutes"].to_numpy(dtype=float), base.towns["minutes"].to_numpy(dtype=float),
                           equal_nan=True)
    kar = result.catchments[(result.catchments["centre"] == "karaganda")].sort_values("band")
    assert (np.diff(kar["area_km2"].to_numpy()) > 0).all()
    assert "temirtau" in kar["towns"].iloc[-1].split(", ")


def test_cli_run_roads(tm_roads_file: Path, tm_run, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        cli_main(["run", "--roads", str(tm_roads_file), "--no-surface", "--out", str(out), "--quiet"])
    assert exc.value.code == 0
    towns = gpd.read_file(out / "towns.geojson")
    np.testing.assert_allclose(tm_run.towns.set_index("id").loc[towns["id"], "minutes"].to_numpy(dtype=float),
                               towns["minutes"].to_numpy(dtype=float), atol=0.051)  # the file rounds to 0.1


def test_missing_roads_file_is_named(tmp_path: Path) -> None:
    sc_file = tmp_path / "x.yaml"
    sc_file.write_text("roads: nowhere.gpkg\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"roads.*nowhere\.gpkg"):
        load_scenario(sc_file)
