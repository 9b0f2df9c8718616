"""Tests of the `geoplan network build` and `geoplan traveltime` commands."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

import geoplan
from geoplan.cli import main
from geoplan.network import attach_places, build_network
from geoplan.traveltime import od_matrix


def run(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.fixture(scope="module")
def kz_od(kz_layers):
    """The reference matrix, computed through the API."""
    places = pd.concat([kz_layers.towns[["id", "geometry"]], kz_layers.centres[["id", "geometry"]]], ignore_index=True)
    net, _ = attach_places(build_network(kz_layers.roads), gpd.GeoDataFrame(places, crs=4326))
    return od_matrix(net, list(kz_layers.towns["id"]), list(kz_layers.centres["id"]))


def test_traveltime_writes_every_town_centre_pair(tmp_path, capsys, kz_layers, kz_od):
    code, out, _ = run(["traveltime", "--out", tmp_path / "tt.csv"], capsys)
    assert code == 0, out
    assert "609 pairs" in out and "0 unreachable" in out
    df = pd.read_csv(tmp_path / "tt.csv", keep_default_na=False, na_values=[""])
    assert list(df.columns) == ["origin", "destination", "minutes", "km", "reachable"]
    assert len(df) == 29 * 21
    assert set(df["origin"]) == set(kz_layers.towns["id"]) and set(df["destination"]) == set(kz_layers.centres["id"])
    assert df.equals(df.sort_values(["origin", "destination"]).reset_index(drop=True))
    assert df["reachable"].all()
    self_pair = df[(df.origin == "temirtau") & (df.destination == "temirtau")].iloc[0]
    assert self_pair.minutes < 0.001 and self_pair.km < 0.001
    # The values are the API's, rounded to 3 decimals.
    ref = kz_od.long().set_index(["origin", "destination"])
    got = df.set_index(["origin", "destination"]).loc[ref.index]
    np.testing.assert_allclose(got["minutes"], ref["minutes"], atol=5e-4, rtol=0)
    np.testing.assert_allclose(got["km"], ref["km"], atol=5e-4, rtol=0)
    # Hand-checkable: the Karaganda satellites within an hour; Balkhash-Karaganda 372-375 km.
    for town in ("saran", "shakhtinsk", "abai", "temirtau"):
        assert got.loc[(town, "karaganda"), "minutes"] < 60
    assert 372 <= got.loc[("balkhash", "karaganda"), "km"] <= 375


def test_traveltime_is_reproducible_and_reversible(tmp_path, capsys):
    assert run(["traveltime", "--out", tmp_path / "a.csv"], capsys)[0] == 0
    assert run(["traveltime", "--out", tmp_path / "b.csv"], capsys)[0] == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    args = ["traveltime", "--out", tmp_path / "r.csv", "--origins", "centres", "--destinations", "towns"]
    code, _, _ = run(args, capsys)
    assert code == 0
    fwd = pd.read_csv(tmp_path / "a.csv").set_index(["origin", "destination"])
    rev = pd.read_csv(tmp_path / "r.csv")
    assert len(rev) == 21 * 29
    rev = rev.rename(columns={"origin": "destination", "destination": "origin"}).set_index(["origin", "destination"])
    # Every road is two-way, so the way back takes as long.
    np.testing.assert_allclose(rev.loc[fwd.index, "minutes"], fwd["minutes"], atol=1e-3)


def test_traveltime_cutoff_marks_far_pairs_unreachable(tmp_path, capsys, kz_od):
    code, out, _ = run(["traveltime", "--out", tmp_path / "c.csv", "--cutoff", "90"], capsys)
    assert code == 0
    df = pd.read_csv(tmp_path / "c.csv")
    ref = kz_od.long()
    assert (df["reachable"] == (ref["minutes"] <= 90)).all()
    assert df.loc[~df["reachable"], ["minutes", "km"]].isna().all().all()
    assert df.loc[df["reachable"], "minutes"].max() <= 90
    assert f"{int((ref['minutes'] > 90).sum())} unreachable" in out


def test_traveltime_reports_a_town_without_roads(tmp_path, capsys, kz_layers):
    layers = kz_layers.copy()
    towns = layers.layers["towns"]
    # Move Arkalyk 200 km north-west into the steppe, far from every road of the layer.
    towns.loc[towns["id"] == "arkalyk", "geometry"] = shapely.Point(63.0, 51.7)
    folder = geoplan.write_layers(layers, tmp_path / "kz")
    code, out, err = run(["traveltime", folder, "--out", tmp_path / "t.csv"], capsys)
    assert code == 0, err
    assert "arkalyk" in err and "unreachable" in err
    df = pd.read_csv(tmp_path / "t.csv")
    lost = df[df.origin == "arkalyk"]
    assert len(lost) == 21 and not lost["reachable"].any() and lost["minutes"].isna().all()
    assert df[df.origin != "arkalyk"]["reachable"].all()
    assert "21 unreachable" in out


def test_traveltime_rejects_bad_options(tmp_path, capsys):
    code, _, err = run(["traveltime", "--out", tmp_path / "x.csv", "--origins", "villages"], capsys)
    assert code == 2 and "towns, centres" in err
    code, _, err = run(["traveltime", "--out", tmp_path / "x.csv", "--cutoff", "-5"], capsys)
    assert code == 2 and "cutoff" in err
    assert not (tmp_path / "x.csv").exists()


def test_network_build_writes_edges_and_nodes(tmp_path, capsys):
    code, out, _ = run(["network", "build", "--out", tmp_path / "net.gpkg"], capsys)
    assert code == 0
    assert "161 nodes" in out and "352 directed edges" in out and "1 component(s)" in out
    layers = dict(pyogrio.list_layers(tmp_path / "net.gpkg"))
    assert layers == {"edges": "LineString", "nodes": "Point"}
    edges = gpd.read_file(tmp_path / "net.gpkg", layer="edges")
    nodes = gpd.read_file(tmp_path / "net.gpkg", layer="nodes")
    assert len(edges) == 352 and len(nodes) == 161
    assert {"u", "v", "road", "class", "km", "kph", "minutes"} <= set(edges.columns)
    assert set(edges["u"]) | set(edges["v"]) == set(nodes["id"])
    # GeoJSON: edges in the named file, nodes beside it; same bytes on a second run.
    assert run(["network", "build", "--out", tmp_path / "net.geojson"], capsys)[0] == 0
    first = (tmp_path / "net.geojson").read_bytes()
    assert len(gpd.read_file(tmp_path / "net.nodes.geojson")) == 161
    assert run(["network", "build", "--out", tmp_path / "net.geojson"], capsys)[0] == 0
    assert (tmp_path / "net.geojson").read_bytes() == first


def test_network_build_rejects_unknown_formats(tmp_path, capsys):
    code, _, err = run(["network", "build", "--out", tmp_path / "net.shp"], capsys)
    assert code == 2 and ".gpkg" in err


def test_network_build_from_osm(tmp_path, capsys, real_data):
    osm = real_data / "osm" / "monaco.osm.pbf"
    code, out, _ = run(["network", "build", "--osm", osm, "--out", tmp_path / "monaco.gpkg"], capsys)
    assert code == 0
    from geoplan.osm import read_osm

    net = build_network(read_osm(osm), snap_tolerance_m=0)
    assert f"{net.n_nodes:,} nodes" in out and f"{net.n_edges:,} directed edges" in out
    assert len(gpd.read_file(tmp_path / "monaco.gpkg", layer="edges")) == net.n_edges


def test_network_build_from_osm_without_roads(tmp_path, capsys):
    empty = Path(tmp_path / "no_roads.osm")
    empty.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n'
        '  <node id="1" lat="50.0" lon="73.0" version="1"><tag k="place" v="town"/><tag k="name" v="X"/></node>\n'
        '  <node id="2" lat="50.1" lon="73.1" version="1"/>\n'
        '  <way id="10" version="1"><nd ref="1"/><nd ref="2"/><tag k="waterway" v="river"/></way>\n'
        "</osm>\n",
        encoding="utf-8",
    )
    code, _, err = run(["network", "build", "--osm", empty, "--out", tmp_path / "n.gpkg"], capsys)
    assert code == 2
    assert "no_roads.osm" in err and "Traceback" not in err
    assert not (tmp_path / "n.gpkg").exists()


def _monaco_places(folder: Path) -> Path:
    """Two towns and one centre in Monaco (no roads layer: the roads come from OSM)."""
    towns = gpd.GeoDataFrame(
        {"id": ["fontvieille", "larvotto"], "name_en": ["Fontvieille", "Larvotto"], "population": [3600, 5400]},
        geometry=gpd.points_from_xy([7.4165, 7.4350], [43.7290, 43.7450]), crs=4326)
    centres = gpd.GeoDataFrame(
        {"id": ["monaco_ville"], "name_en": ["Monaco-Ville"], "role": ["other"], "population": [975]},
        geometry=gpd.points_from_xy([7.4230], [43.7310]), crs=4326)
    folder.mkdir()
    towns.to_file(folder / "towns.geojson")
    centres.to_file(folder / "centres.geojson")
    return folder


def test_traveltime_and_catchments_on_osm_roads(tmp_path, capsys, real_data) -> None:
    pbf = real_data / "osm" / "monaco.osm.pbf"
    places = _monaco_places(tmp_path / "monaco")
    csv = tmp_path / "od.csv"
    code, _, err = run(["traveltime", places, "--osm", pbf, "--out", csv], capsys)
    assert code == 0, err
    table = pd.read_csv(csv)
    assert list(table["origin"]) == ["fontvieille", "larvotto"]
    assert table["reachable"].all()
    # Both towns are within 3 km of the centre in a city: a few minutes, a few km by road.
    assert (table["km"] > 0.3).all() and (table["km"] < 5).all()
    assert (table["minutes"] < 15).all()
    # Same figures through the API.
    layers = geoplan.read_layers(places, required=("towns", "centres"))
    net = build_network(geoplan.read_osm(pbf), snap_tolerance_m=0)
    net, _ = attach_places(net, gpd.GeoDataFrame(pd.concat([layers.towns, layers.centres]), crs=4326))
    od = od_matrix(net, ["fontvieille", "larvotto"], ["monaco_ville"])
    np.testing.assert_allclose(table["minutes"], od.minutes[:, 0].round(3), atol=1e-3)

    out_geo = tmp_path / "c.geojson"
    code, _, err = run(["catchments", places, "--osm", pbf, "--bands", "5,10", "--out", out_geo], capsys)
    assert code == 0, err
    catch = gpd.read_file(out_geo)
    assert list(catch["band"]) == [5, 10]
    assert catch.geometry.iloc[1].covers(catch.geometry.iloc[0])


def test_osm_option_needs_towns_and_centres(tmp_path, capsys, real_data) -> None:
    empty = tmp_path / "nothing"
    empty.mkdir()
    code, _, err = run(["traveltime", empty, "--osm", real_data / "osm" / "monaco.osm.pbf", "--out",
                        tmp_path / "x.csv"], capsys)
    assert code == 2 and "towns" in err and "Traceback" not in err
    assert not (tmp_path / "x.csv").exists()


CENTER_WEST = Path(__file__).resolve().parents[1] / "scenarios" / "center_west.yaml"


def test_traveltime_and_catchments_follow_a_scenario(tmp_path, capsys):
    """--scenario applies the what-if's network edits, as `geoplan run` does (Center-West corridor)."""
    base, what_if = tmp_path / "base.csv", tmp_path / "cw.csv"
    assert run(["traveltime", "--out", str(base)], capsys)[0] == 0
    assert run(["traveltime", "--scenario", str(CENTER_WEST), "--out", str(what_if)], capsys)[0] == 0
    a = pd.read_csv(base).set_index(["origin", "destination"])
    b = pd.read_csv(what_if).set_index(["origin", "destination"])
    # The corridor Astana-Arkalyk-Torgai-Irgiz makes Arkalyk -> Astana much shorter and nothing longer
    # by more than the access-leg shift noted in the README.
    assert b.loc[("arkalyk", "astana"), "minutes"] < a.loc[("arkalyk", "astana"), "minutes"] - 60
    assert (b["minutes"] <= a["minutes"] + 0.05).all()
    code, _, err = run(["catchments", "--scenario", str(CENTER_WEST), "--bands", "60",
                        "--out", str(tmp_path / "c.geojson")], capsys)
    assert code == 0, err
    bands = gpd.read_file(tmp_path / "c.geojson")
    assert set(bands["band"]) == {60}


def test_extract_outside_the_layers_gives_one_line(tmp_path, capsys, real_data) -> None:
    """Andorra's roads against the Kazakhstan layers: one error naming the extract, not one per road."""
    out = tmp_path / "x.csv"
    code, _, err = run(["traveltime", "--osm", real_data / "osm" / "andorra.osm.pbf", "--out", out], capsys)
    assert code == 2 and "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("geoplan: error")]
    assert len(errors) == 1 and "andorra.osm.pbf" in errors[0] and "entirely outside" in errors[0]
    assert "ERROR: roads feature" not in err
    assert not out.exists()


def test_network_build_follows_a_scenario(tmp_path, capsys, kz_layers):
    """`network build --scenario` builds the network `geoplan run` routes on: edits and speeds apply."""
    planned = gpd.read_file(CENTER_WEST.with_name("center_west_roads.geojson"))
    base, what_if = tmp_path / "base.gpkg", tmp_path / "cw.gpkg"
    assert run(["network", "build", "--out", base], capsys)[0] == 0
    code, out, err = run(["network", "build", "--scenario", CENTER_WEST, "--out", what_if], capsys)
    assert code == 0, err
    assert "under scenario center_west (1 edit operation(s))" in out
    a, b = gpd.read_file(base, layer="edges"), gpd.read_file(what_if, layer="edges")
    # Every added segment is a two-way edge pair; the baseline network has none of them.
    assert len(b) == len(a) + 2 * len(planned)
    assert set(b["road"]) - set(a["road"]) == set(planned["id"]) and not set(planned["id"]) & set(a["road"])
    assert len(a) == 2 * len(kz_layers.roads)
    # A speed edit and a speed table of the scenario reach the built network.
    sc = tmp_path / "slow.yaml"
    sc.write_text("speeds:\n  motorway: 90\nedits:\n  - name: works\n    set_speed: {KZR001: 50}\n", encoding="utf-8")
    assert run(["network", "build", "--scenario", sc, "--out", tmp_path / "slow.gpkg"], capsys)[0] == 0
    slow = gpd.read_file(tmp_path / "slow.gpkg", layer="edges")
    kph = slow.groupby("road")["kph"].first()
    assert kph["KZR001"] == 50 and a.groupby("road")["kph"].first()["KZR001"] == 100
    motorways = slow[(slow["class"] == "motorway") & (slow["road"] != "KZR001")]
    assert len(motorways) and (motorways["kph"] == 90).all()
