"""The optional rail layers and rail travel times (layers.rail*, network.build_rail_network, --mode rail).

Expected figures come from the fact tables (``kz_rail_*.csv``) and the published distances and
service notes in the facts' SOURCES.md, not from geoplan's own output.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from pyproj import Geod

import geoplan
from geoplan._errors import NetworkError
from geoplan.cli import main
from geoplan.layers import RAIL, RAIL_STATIONS, LayerSet, read_layers, validate
from geoplan.network import attach_served_places, build_rail_network
from geoplan.traveltime import od_matrix, travel_times_from

#: Monotowns whose station has no regular passenger train, per the facts' SOURCES.md ("Station
#: but no passenger service found"), plus Saran, which has no station at all.
NO_PASSENGER_TOWNS = {"shakhtinsk", "satpayev", "karazhal", "priozersk", "stepnogorsk", "kentau", "tekeli",
                      "serebryansk", "altai", "zhanaozen"}


@pytest.fixture(scope="module")
def physical(kz_layers: LayerSet) -> geoplan.RoadNetwork:
    """Every rail link, with or without passenger trains."""
    return build_rail_network(kz_layers["rail"], kz_layers["rail_stations"], passenger_only=False)


@pytest.fixture(scope="module")
def places(kz_layers: LayerSet) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(pd.concat([kz_layers.towns[["id", "geometry"]], kz_layers.centres[["id", "geometry"]]],
                                      ignore_index=True), crs=4326)


@pytest.fixture(scope="module")
def served(kz_layers: LayerSet, places: gpd.GeoDataFrame) -> tuple[geoplan.RoadNetwork, pd.DataFrame]:
    net = build_rail_network(kz_layers["rail"], kz_layers["rail_stations"])
    return attach_served_places(net, kz_layers["rail_stations"], places)


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return (0 if info.value.code is None else int(info.value.code)), out, err


# --------------------------------------------------------------------------------------
# the embedded layers against the fact tables


def test_embedded_rail_layers_validate_clean(kz_layers: LayerSet) -> None:
    assert {"rail_stations", "rail"} <= set(kz_layers.names)
    assert [p for p in validate(kz_layers) if p.layer in ("rail", "rail_stations")] == []
    assert list(kz_layers["rail"].columns) == [*RAIL.column_names, "geometry"]
    assert list(kz_layers["rail_stations"].columns) == [*RAIL_STATIONS.column_names, "geometry"]


def test_rail_layers_match_the_facts(kz_layers: LayerSet, facts_dir: Path) -> None:
    st_facts = pd.read_csv(facts_dir / "kz_rail_stations.csv", keep_default_na=False).set_index("station_id")
    ln_facts = pd.read_csv(facts_dir / "kz_rail_links.csv").set_index("link_id")
    stations = kz_layers["rail_stations"].set_index("id")
    rail = kz_layers["rail"].set_index("id")
    assert (len(stations), len(rail)) == (89, 95) == (len(st_facts), len(ln_facts))
    assert sorted(stations.index) == sorted(st_facts.index)
    assert sorted(rail.index) == sorted(ln_facts.index)
    st = stations.loc[st_facts.index]
    assert np.array_equal(st.geometry.x.to_numpy(), st_facts["lon"].to_numpy())
    assert np.array_equal(st.geometry.y.to_numpy(), st_facts["lat"].to_numpy())
    # serves keeps the towns and centres; other road nodes (Shu, Esil ...) are the station's own id.
    places = set(kz_layers.towns["id"]) | set(kz_layers.centres["id"])
    want = st_facts["serves"].where(st_facts["serves"].isin(places), None)
    assert st["serves"].tolist() == want.tolist()
    dropped = st_facts[(st_facts["serves"] != "") & ~st_facts["serves"].isin(places)]
    assert (dropped["serves"] == dropped.index).all()
    ln = rail.loc[ln_facts.index]
    assert np.array_equal(ln["km"].to_numpy(), ln_facts["km"].to_numpy())
    assert (ln[["from_station", "to_station", "passenger", "electrified"]].to_numpy()
            == ln_facts[["from_station", "to_station", "passenger", "electrified"]].to_numpy()).all()
    assert (ln["km_source"] == ln_facts["km_source"].str.split(" ").str[0]).all()
    assert ln["km"].sum() == pytest.approx(13640.6, abs=0.05)  # total in the facts' SOURCES.md
    published = ln["km_source"] == "published"
    assert (published.sum(), round(ln.loc[published, "km"].sum(), 1)) == (8, 2068.5)
    # Straight lines between the stations; km is the track, never shorter than the chord.
    ends = np.array([[c[0], c[-1]] for c in ln.geometry.map(lambda g: list(g.coords))])
    assert np.array_equal(ends[:, 0], st.loc[ln["from_station"], ["geometry"]].geometry.map(
        lambda p: (p.x, p.y)).tolist())
    _, _, chord = Geod(ellps="WGS84").inv(ends[:, 0, 0], ends[:, 0, 1], ends[:, 1, 0], ends[:, 1, 1])
    assert (ln["km"].to_numpy() * 1000 >= chord).all()


def test_a_layer_set_without_rail_stays_valid(kz_path: Path, tmp_path: Path) -> None:
    for name in ("towns", "centres", "roads"):
        shutil.copy(kz_path / f"{name}.geojson", tmp_path)
    layers = read_layers(tmp_path)
    assert sorted(layers.names) == ["centres", "roads", "towns"]
    assert validate(layers) == []


# --------------------------------------------------------------------------------------
# validation of broken rail layers


def _broken(kz_layers: LayerSet, **edits: tuple[str, str, str, object]) -> list[geoplan.Problem]:
    layers = kz_layers.copy()
    for layer, fid, col, value in edits.values():
        gdf = layers.layers[layer]
        gdf.loc[gdf["id"] == fid, col] = value
    return [p for p in validate(layers) if p.severity == "error"]


def test_unknown_station_is_named(kz_layers: LayerSet) -> None:
    errors = _broken(kz_layers, a=("rail", "RL003", "to_station", "karagandy"))
    assert [(p.layer, p.feature_id, p.check) for p in errors] == [("rail", "RL003", "unknown_station")]
    assert "to_station 'karagandy' is not a rail_stations id" in errors[0].message
    rail = kz_layers["rail"].copy()
    rail.loc[rail["id"] == "RL003", "to_station"] = "karagandy"
    with pytest.raises(NetworkError, match=r"not in rail_stations: RL003 \(karagandy\)\n"):
        build_rail_network(rail, kz_layers["rail_stations"], passenger_only=False)


def test_unknown_serves_is_named(kz_layers: LayerSet) -> None:
    errors = _broken(kz_layers, a=("rail_stations", "ekibastuz", "serves", "ekibastus"))
    assert [(p.layer, p.feature_id, p.check) for p in errors] == [("rail_stations", "ekibastuz", "unknown_place")]
    assert "station ekibastuz serves 'ekibastus'" in errors[0].message


def test_generic_checks_cover_rail(kz_layers: LayerSet) -> None:
    errors = _broken(kz_layers, a=("rail", "RL010", "electrified", "maybe"), b=("rail", "RL011", "km", -5.0),
                     c=("rail", "RL012", "km", None), d=("rail_stations", "shu", "kind", "halt"))
    found = {(p.layer, p.feature_id, p.check) for p in errors}
    assert found == {("rail", "RL010", "not_allowed"), ("rail", "RL011", "out_of_range"),
                     ("rail", "RL012", "null_value"), ("rail_stations", "shu", "not_allowed")}
    layers = kz_layers.copy()
    rail = layers.layers["rail"]
    layers.layers["rail"] = pd.concat([rail, rail.iloc[[0]]], ignore_index=True)
    del layers.layers["rail_stations"]
    checks = {(p.layer, p.feature_id, p.check) for p in validate(layers) if p.severity == "error"}
    assert checks == {("rail", "RL001", "duplicate_id"), ("rail", None, "missing_layer")}


def test_self_link_is_an_error(kz_layers: LayerSet) -> None:
    errors = _broken(kz_layers, a=("rail", "RL001", "to_station", "petropavl"))
    assert [(p.feature_id, p.check) for p in errors] == [("RL001", "self_link")]


# --------------------------------------------------------------------------------------
# the rail network


def test_rail_graph_is_one_connected_component(physical: geoplan.RoadNetwork) -> None:
    assert (physical.n_nodes, physical.n_edges) == (89, 190)
    assert (physical.components() == 0).all()
    assert set(physical.edge_class) == {"rail"}


@pytest.mark.parametrize(("a", "b", "published_km", "tolerance"), [
    ("kostanay", "astana", 707.0, 0.01),       # Kostanay station article
    ("balkhash", "moiynty", 127.0, 0.01),      # 018.kz
    ("aktogay", "dostyk", 304.0, 0.01),        # kk.wikipedia
    ("dostyk", "moiynty", 836.0, 0.01),        # 018.kz
    ("kostanay", "almaty_1", 2025.0, 0.01),    # published through distance
    ("moiynty", "shu", 438.0, 0.02),           # rail-news.kz; +1.9 % per the facts' own check
    ("taraz", "zhanatas", 180.0, 0.01),
])
def test_published_distances_hold(physical: geoplan.RoadNetwork, a: str, b: str, published_km: float,
                                  tolerance: float) -> None:
    km = travel_times_from(physical, [a], weight="km")[0, physical.index_of(b)[0]]
    assert km == pytest.approx(published_km, rel=tolerance)


def test_travel_minutes_use_schedule_or_speed(kz_layers: LayerSet) -> None:
    rail, stations = kz_layers["rail"], kz_layers["rail_stations"]
    net = build_rail_network(rail, stations, speed_kph=60.0)
    frame = net.edges_frame()
    assert len(frame) == 2 * int((rail["passenger"] == "yes").sum())  # 83 passenger links, both ways
    # Taraz-Karatau and Karatau-Zhanatas carry the apportioned 4 h local-train time (125 + 115).
    sched = frame[frame["road"].isin(["RL091", "RL092"])].groupby("road")["minutes"].agg(sorted)
    assert sched.to_dict() == {"RL091": [125.0, 125.0], "RL092": [115.0, 115.0]}
    other = frame[~frame["road"].isin(["RL091", "RL092"])]
    assert np.allclose(other["minutes"], other["km"])  # 60 km/h: one minute per km
    fast = build_rail_network(rail, stations, speed_kph=120.0).edges_frame()
    fast = fast[~fast["road"].isin(["RL091", "RL092"])]
    assert np.allclose(fast["minutes"], fast["km"] / 2)
    with pytest.raises(NetworkError, match="speed_kph"):
        build_rail_network(rail, stations, speed_kph=0)


def test_od_matrix_equals_networkx_dijkstra(served: tuple[geoplan.RoadNetwork, pd.DataFrame],
                                            kz_layers: LayerSet) -> None:
    net, _ = served
    towns, centres = kz_layers.towns["id"].tolist(), kz_layers.centres["id"].tolist()
    od = od_matrix(net, towns, centres)
    g = net.to_networkx()
    want = np.full(od.minutes.shape, np.inf)
    dest = net.index_of(centres)
    for i, src in enumerate(net.index_of(towns)):
        seconds = nx.single_source_dijkstra_path_length(g, int(src), weight="travel_time")
        want[i] = [seconds.get(int(d), np.inf) / 60.0 for d in dest]
    assert np.array_equal(np.isinf(od.minutes), np.isinf(want))
    finite = np.isfinite(want)
    assert np.allclose(od.minutes[finite], want[finite], rtol=1e-9)


def test_places_reach_their_stations(served: tuple[geoplan.RoadNetwork, pd.DataFrame],
                                     physical: geoplan.RoadNetwork, kz_layers: LayerSet) -> None:
    net, report = served
    towns, centres = kz_layers.towns["id"].tolist(), kz_layers.centres["id"].tolist()
    od = od_matrix(net, towns, centres)
    minutes = od.frame()
    assert np.isinf(minutes.loc["saran"]).all()  # no station: unreachable, not an error
    assert not report.set_index("id").loc["saran", "attached"]
    assert np.isfinite(minutes.loc["temirtau", "karaganda"]) and np.isfinite(minutes.loc["ekibastuz", "pavlodar"])
    # The towns cut off by rail are exactly Saran and those whose station has no passenger train.
    cut_off = {t for t in towns if np.isinf(minutes.loc[t].drop(t, errors="ignore")).all()}
    assert cut_off == NO_PASSENGER_TOWNS | {"saran"}
    # Ekibastuz-Pavlodar: 131.6 km station to station in the facts, plus the two access legs.
    km = od.frame(value="km").loc["ekibastuz", "pavlodar"]
    rep = report.set_index("id")
    assert km == pytest.approx(131.6 + rep.loc["ekibastuz", "access_km"] + rep.loc["pavlodar", "access_km"], abs=0.05)
    # Karaganda is served by its passenger station and by Karaganda-Sortirovochnaya.
    assert set(rep.loc["karaganda", "stations"].split(";")) == {"karaganda", "karaganda_sort"}
    assert set(net.node_id) >= {"node:karaganda", "karaganda", "karaganda_sort", "saran"}


def test_access_leg_is_the_geodesic_distance(served: tuple[geoplan.RoadNetwork, pd.DataFrame],
                                             kz_layers: LayerSet) -> None:
    _, report = served
    town = kz_layers.towns.set_index("id").geometry["ekibastuz"]
    station = kz_layers["rail_stations"].set_index("id").geometry["ekibastuz"]
    _, _, metres = Geod(ellps="WGS84").inv(town.x, town.y, station.x, station.y)
    row = report.set_index("id").loc["ekibastuz"]
    assert row["access_km"] == pytest.approx(metres / 1000)
    assert row["access_minutes"] == pytest.approx(metres / 1000 / 30.0 * 60.0)


def test_attaching_again_keeps_earlier_places(kz_layers: LayerSet, places: gpd.GeoDataFrame,
                                              served: tuple[geoplan.RoadNetwork, pd.DataFrame]) -> None:
    net = build_rail_network(kz_layers["rail"], kz_layers["rail_stations"])
    stations = kz_layers["rail_stations"]
    step, _ = attach_served_places(net, stations, kz_layers.towns)
    step, report = attach_served_places(step, stations, places)  # Saran (isolated) and the towns kept
    assert step.n_nodes == served[0].n_nodes and step.n_edges == served[0].n_edges
    assert not report.set_index("id").loc["saran", "attached"]
    towns, centres = kz_layers.towns["id"].tolist(), kz_layers.centres["id"].tolist()
    a, b = od_matrix(step, towns, centres).minutes, od_matrix(served[0], towns, centres).minutes
    assert np.array_equal(np.isinf(a), np.isinf(b)) and np.allclose(a[np.isfinite(a)], b[np.isfinite(b)])


# --------------------------------------------------------------------------------------
# CLI


def test_cli_traveltime_rail(tmp_path: Path, capsys: pytest.CaptureFixture[str], kz_layers: LayerSet) -> None:
    out_csv = tmp_path / "rail.csv"
    code, out, err = run(capsys, "traveltime", "--mode", "rail", "--out", out_csv)
    assert code == 0, err
    # Saran and the ten towns without passenger trains are cut off from all 21 centres.
    assert f"({len(kz_layers.towns)} towns x 21 centres, {11 * 21} unreachable)" in out
    table = pd.read_csv(out_csv)
    assert len(table) == len(kz_layers.towns) * len(kz_layers.centres)
    assert not table.loc[table["origin"] == "saran", "reachable"].any()
    assert table.loc[table["origin"] == "saran", "minutes"].isna().all()
    row = table[(table["origin"] == "temirtau") & (table["destination"] == "karaganda")]
    assert bool(row["reachable"].iloc[0])
    assert "saran" in err and "no passenger service" in err
    # Road mode (the default) reaches Saran.
    code, _, err = run(capsys, "traveltime", "--out", tmp_path / "road.csv")
    assert code == 0, err
    assert pd.read_csv(tmp_path / "road.csv").query("origin == 'saran'")["reachable"].all()


def test_cli_rail_mode_names_missing_layers(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            kz_path: Path) -> None:
    for name in ("towns", "centres", "roads", "rail_stations"):
        shutil.copy(kz_path / f"{name}.geojson", tmp_path)
    code, _, err = run(capsys, "traveltime", tmp_path, "--mode", "rail", "--out", tmp_path / "x.csv")
    assert code == 2
    assert "--mode rail needs the layer(s) rail" in err and "rail_stations" not in err.split("needs")[1].split("\n")[0]
    assert not (tmp_path / "x.csv").exists()
    code, _, err = run(capsys, "traveltime", "--mode", "plane", "--out", tmp_path / "y.csv")
    assert code == 2 and "--mode" in err


def test_cli_rail_mode_reports_broken_rail_layer(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 kz_path: Path) -> None:
    folder = tmp_path / "kz"
    shutil.copytree(kz_path, folder)
    doc = json.loads((folder / "rail.geojson").read_text(encoding="utf-8"))
    doc["features"][0]["properties"]["to_station"] = "nowhere"
    (folder / "rail.geojson").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    code, _, err = run(capsys, "traveltime", folder, "--mode", "rail", "--out", tmp_path / "x.csv")
    assert code == 2
    assert "RL001" in err and "'nowhere' is not a rail_stations id" in err
