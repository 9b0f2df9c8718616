"""Scenario files: validation messages, defaults, dumping, extends and network edits."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

import geoplan
import geoplan.catchments as catchments
import geoplan.network as network
import geoplan.surface as surface
from geoplan.network import build_network
from geoplan.scenario import Scenario, apply_edits, dump_scenario, load_scenario, parse_scenario, scenario_layers
from geoplan.traveltime import od_matrix

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


def _error(text: str, tmp_path: Path, name: str = "x.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(geoplan.ScenarioError) as info:
        load_scenario(path)
    return str(info.value)


# --------------------------------------------------------------------------------------
# shipped files and defaults


def test_baseline_file_states_exactly_the_defaults():
    # The file says "every key below is also the built-in default": hold it to that.
    shipped = load_scenario(SCENARIOS / "baseline.yaml").model_dump(exclude={"description"})
    defaults = Scenario.baseline().model_dump(exclude={"description"})
    assert shipped == defaults


def test_empty_file_is_the_baseline(tmp_path):
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    assert load_scenario(tmp_path / "empty.yaml").model_dump() == Scenario.baseline().model_dump()


def test_defaults_agree_with_the_modules_that_use_them():
    s = Scenario.baseline()
    assert s.speeds == network.DEFAULT_SPEEDS_KPH
    build = inspect.signature(network.build_network).parameters
    attach = inspect.signature(network.attach_places).parameters
    assert s.network.snap_tolerance_m == build["snap_tolerance_m"].default
    assert s.network.access_kph == attach["access_kph"].default
    assert s.network.max_snap_km == attach["max_snap_km"].default
    assert tuple(s.catchments.bands) == tuple(catchments.DEFAULT_BANDS)
    assert s.surface.resolution_m == surface.DEFAULT_RESOLUTION_M
    assert s.surface.offroad_kph == surface.DEFAULT_OFFROAD_KPH


def test_documented_defaults():
    s = Scenario.baseline()
    assert s.agglomeration.max_minutes == 90  # Russia 2025: 1.5 h
    assert s.agglomeration.min_centre_population == 50_000  # OECD functional urban areas
    # Half weight per hour: a centre 60 min away counts half, 120 min a quarter.
    assert np.exp(-s.accessibility.beta_per_minute * 60) == pytest.approx(0.5)
    assert np.exp(-s.accessibility.beta_per_minute * 120) == pytest.approx(0.25)


def test_partial_speeds_keep_the_other_defaults():
    s = parse_scenario("speeds:\n  trunk: 95\n")
    assert s.speeds["trunk"] == 95
    assert s.speeds["motorway"] == network.DEFAULT_SPEEDS_KPH["motorway"]


def test_dump_round_trips(tmp_path):
    s = load_scenario(SCENARIOS / "center_west.yaml")
    out = tmp_path / "deep" / "copy.yaml"
    text = dump_scenario(s, path=out)
    again = load_scenario(out)
    assert again.model_dump(exclude={"edits", "extends"}) == s.model_dump(exclude={"edits", "extends"})
    # The relative path was rewritten so that it still names the same file.
    assert again.resolve(again.edits[0].add_roads) == s.resolve(s.edits[0].add_roads)
    assert "extends" not in text and "add_roads" in text


def test_extends_merges_sections_and_appends_edits(tmp_path):
    (tmp_path / "a.yaml").write_text(
        "agglomeration:\n  max_minutes: 60\n  min_centre_population: 80000\n"
        "edits:\n  - close: [KZR164]\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text(
        "extends: a.yaml\nagglomeration:\n  max_minutes: 45\nedits:\n  - close: [KZR165]\n", encoding="utf-8")
    s = load_scenario(tmp_path / "b.yaml")
    assert s.agglomeration.max_minutes == 45
    assert s.agglomeration.min_centre_population == 80_000  # kept from a.yaml
    assert [e.close for e in s.edits] == [["KZR164"], ["KZR165"]]


# --------------------------------------------------------------------------------------
# bad input: each message names the file, the line, the key path and what is allowed


def test_typo_key(tmp_path):
    msg = _error("name: t\nagglomeration:\n  max_minuts: 60\n", tmp_path)
    assert "x.yaml:3: agglomeration.max_minuts: unknown key" in msg
    assert "did you mean max_minutes?" in msg
    assert "allowed: max_minutes, min_centre_population, centre_larger_than_town" in msg


def test_unknown_top_level_section(tmp_path):
    msg = _error("relocaton:\n  share_to_move: 0.1\n", tmp_path)
    assert "x.yaml:1: relocaton: unknown key (did you mean relocation?)" in msg


def test_negative_threshold(tmp_path):
    msg = _error("agglomeration:\n  max_minutes: -5\n", tmp_path)
    assert "x.yaml:2: agglomeration.max_minutes: must be greater than 0 (got -5)" in msg


def test_share_above_one(tmp_path):
    msg = _error("relocation:\n  capacity_share: 1.5\n", tmp_path)
    assert "relocation.capacity_share: must be at most 1 (got 1.5)" in msg


def test_wrong_type(tmp_path):
    msg = _error("relocation:\n  n_candidates: three\n", tmp_path)
    assert "x.yaml:2: relocation.n_candidates: must be a whole number (got 'three')" in msg


def test_unknown_allowed_value(tmp_path):
    msg = _error("categories:\n  rules:\n    - {category: relocate, small: true}\n    - {category: monitor}\n",
                 tmp_path)
    assert "categories.rules[0].category: 'relocate' is not allowed" in msg
    assert "'relocation'" in msg


def test_unknown_road_class_in_speeds(tmp_path):
    msg = _error("speeds:\n  trunk: 90\n  motorwya: 120\n", tmp_path)
    assert "x.yaml:3: speeds.motorwya: unknown road class (did you mean motorway?)" in msg


def test_speed_out_of_range(tmp_path):
    assert "speeds.trunk: must be greater than 0 (got 0)" in _error("speeds:\n  trunk: 0\n", tmp_path)


def test_several_problems_listed_together(tmp_path):
    msg = _error("agglomeration:\n  max_minutes: -1\nrelocation:\n  share_to_move: 0\n", tmp_path)
    assert "2 problems" in msg
    assert "line 2: agglomeration.max_minutes" in msg and "line 4: relocation.share_to_move" in msg


def test_decision_table_needs_a_catch_all(tmp_path):
    msg = _error("categories:\n  rules:\n    - {category: monitor, small: true}\n", tmp_path)
    assert "the last rule must have no conditions" in msg


def test_decision_table_groups_must_exist(tmp_path):
    msg = _error("categories:\n  rules:\n    - {category: relocation, group: lowest}\n    - {category: monitor}\n",
                 tmp_path)
    assert "categories.rules[0].group: 'lowest' is not one of composite.groups.names (high, medium, low)" in msg


def test_bad_weights_and_groups(tmp_path):
    assert "weights must be >= 0" in _error("composite:\n  weights: {population: -1}\n", tmp_path)
    assert "weights must be >= 0" in _error("composite:\n  group_weights: {demography: -0.5}\n", tmp_path)
    msg = _error("composite:\n  groups: {method: fixed, cutoffs: [40, 60]}\n", tmp_path)
    assert "method fixed needs 2 decreasing cutoffs" in msg


def test_bands_must_increase(tmp_path):
    assert "strictly increasing" in _error("catchments:\n  bands: [30, 90, 60]\n", tmp_path)


def test_beta_and_half_life_exclusive(tmp_path):
    assert "either beta or half_life_minutes" in _error(
        "accessibility:\n  beta: 0.02\n  half_life_minutes: 30\n", tmp_path)
    assert parse_scenario("accessibility:\n  beta: 0.02\n").accessibility.beta_per_minute == 0.02


def test_yaml_syntax_error_has_line(tmp_path):
    msg = _error("name: x\nagglomeration:\n  max_minutes: [90\nrelocation: {}\n", tmp_path)
    assert "x.yaml:4:" in msg and "YAML syntax error" in msg


def test_tab_indentation(tmp_path):
    msg = _error("agglomeration:\n\tmax_minutes: 90\n", tmp_path)
    assert "x.yaml:2:" in msg and "YAML syntax error" in msg


def test_duplicate_key(tmp_path):
    msg = _error("agglomeration:\n  max_minutes: 90\n  max_minutes: 60\n", tmp_path)
    assert "x.yaml:3:" in msg and "duplicate key 'max_minutes' (first given on line 2)" in msg


def test_not_a_mapping(tmp_path):
    assert "must be a mapping" in _error("- 1\n- 2\n", tmp_path)


def test_missing_file(tmp_path):
    with pytest.raises(geoplan.ScenarioError, match="no such scenario file"):
        load_scenario(tmp_path / "nope.yaml")


def test_empty_edit(tmp_path):
    assert "x.yaml:2: edits[0]: an edit needs at least one of add_roads" in _error(
        "edits:\n  - name: nothing\n", tmp_path)


def test_missing_added_layer(tmp_path):
    msg = _error("edits:\n  - add_roads: planned.geojson\n", tmp_path)
    assert "x.yaml:2: edits[0].add_roads: no such file" in msg and "planned.geojson" in msg


def test_extends_errors(tmp_path):
    assert "extends: no such file" in _error("extends: nothere.yaml\n", tmp_path)
    (tmp_path / "loop_a.yaml").write_text("extends: loop_b.yaml\n", encoding="utf-8")
    (tmp_path / "loop_b.yaml").write_text("extends: loop_a.yaml\n", encoding="utf-8")
    with pytest.raises(geoplan.ScenarioError, match="extends itself"):
        load_scenario(tmp_path / "loop_a.yaml")
    # An error in the parent is reported against the parent's file and line.
    (tmp_path / "parent.yaml").write_text("name: p\nrelocation:\n  share_to_move: 2\n", encoding="utf-8")
    msg = _error("extends: parent.yaml\n", tmp_path, "child.yaml")
    assert "parent.yaml:3: relocation.share_to_move" in msg


def test_edit_numbering_follows_the_file_with_extends(tmp_path):
    (tmp_path / "parent.yaml").write_text("edits:\n  - close: [KZR001]\n", encoding="utf-8")
    msg = _error("extends: parent.yaml\nedits:\n  - set_speed: {KZR002: -3}\n", tmp_path, "child.yaml")
    assert "child.yaml:3: edits[0].set_speed.KZR002: must be greater than 0" in msg


# --------------------------------------------------------------------------------------
# network edits


def test_edits_change_a_copy(kz_layers):
    s = parse_scenario("edits:\n  - set_class: {KZR164: primary}\n    set_speed: {KZR165: 35}\n"
                       "  - close: [KZR166]\n")
    out = apply_edits(kz_layers, s)
    roads = out.roads.set_index("id")
    assert roads.loc["KZR164", "road_class"] == "primary"
    assert roads.loc["KZR165", "speed_kph"] == 35
    assert "KZR166" not in roads.index
    assert len(out.roads) == len(kz_layers.roads) - 1
    # The input layer set is untouched.
    orig = kz_layers.roads.set_index("id")
    assert orig.loc["KZR164", "road_class"] == "secondary" and "KZR166" in orig.index
    assert len(out.meta["edits"]) == 3


@pytest.mark.parametrize("op", ["set_class: {KZR999: trunk}", "set_speed: {KZR999: 50}", "close: [KZR999]"])
def test_unknown_road_id(kz_layers, tmp_path, op):
    path = tmp_path / "edit.yaml"
    path.write_text(f"edits:\n  - name: upgrade\n    {op}\n", encoding="utf-8")
    s = load_scenario(path)
    key = op.split(":")[0]
    with pytest.raises(geoplan.ScenarioError) as info:
        apply_edits(kz_layers, s)
    msg = str(info.value)
    assert f"edit.yaml: edits[0] (upgrade).{key}: no road with id KZR999" in msg
    assert "did you mean" in msg and "fix:" in msg


def test_numeric_road_ids_are_text(kz_layers):
    s = parse_scenario("edits:\n  - close: [176]\n")
    assert s.edits[0].close == ["176"]
    with pytest.raises(geoplan.ScenarioError, match="no road with id 176"):
        apply_edits(kz_layers, s)


def _planned(tmp_path: Path, rows: list[dict], name: str = "planned.geojson") -> Path:
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)
    path = tmp_path / name
    gdf.to_file(path, driver="GeoJSON")
    return path


def _node(kz_layers, node: str) -> tuple[float, float]:
    roads = kz_layers.roads
    if (roads["from_node"] == node).any():
        return shapely.get_coordinates(roads[roads["from_node"] == node].geometry.iloc[0])[0].tolist()
    return shapely.get_coordinates(roads[roads["to_node"] == node].geometry.iloc[0])[-1].tolist()


def test_added_roads_are_checked(kz_layers, tmp_path):
    sar, sha = _node(kz_layers, "saran"), _node(kz_layers, "shakhtinsk")
    good = {"id": "P1", "road_class": "primary", "from_node": "saran", "to_node": "shakhtinsk", "length_km": 20.0,
            "geometry": shapely.LineString([sar, sha])}
    cases = {
        "clash": ({**good, "id": "KZR001"}, "already in the roads layer"),
        "bad class": ({**good, "road_class": "highway"}, "'road_class' is 'highway'"),
        "moved end": ({**good, "geometry": shapely.LineString([[sar[0] + 0.2, sar[1]], sha])},
                      "end at node(s) saran"),
        "island": ({**good, "from_node": "a", "to_node": "b",
                    "geometry": shapely.LineString([[60.0, 45.0], [60.5, 45.2]])}, "not connected to the network"),
    }
    for label, (row, expect) in cases.items():
        path = _planned(tmp_path, [row], f"{label.replace(' ', '_')}.geojson")
        (tmp_path / "s.yaml").write_text(f"edits:\n  - add_roads: {path.name}\n", encoding="utf-8")
        with pytest.raises(geoplan.ScenarioError) as info:
            apply_edits(kz_layers, load_scenario(tmp_path / "s.yaml"))
        assert "edits[0].add_roads" in str(info.value), label
        assert expect in str(info.value), label
    path = _planned(tmp_path, [good])
    (tmp_path / "s.yaml").write_text(f"edits:\n  - add_roads: {path.name}\n  - set_speed: {{P1: 40}}\n",
                                     encoding="utf-8")
    out = apply_edits(kz_layers, load_scenario(tmp_path / "s.yaml"))
    assert out.roads.set_index("id").loc["P1", "speed_kph"] == 40  # a later edit can refer to an added road


# --------------------------------------------------------------------------------------
# the what-if: the Center - West corridor


@pytest.fixture(scope="module")
def center_west(kz_layers):
    return apply_edits(kz_layers, load_scenario(SCENARIOS / "center_west.yaml"))


def test_center_west_layer_is_valid(center_west, kz_layers):
    assert len(center_west.roads) == len(kz_layers.roads) + 5
    errors = [p for p in geoplan.validate(center_west) if p.severity == "error"]
    assert errors == []
    added = center_west.roads[center_west.roads["id"].str.startswith("KZP")]
    # The segments share out the published corridor length of 865 km.
    assert added["length_km"].sum() == pytest.approx(865)
    assert (added["length_km"] * 1000 >= added.to_crs(added.estimate_utm_crs()).length).all()


def _road_od(layers, ids):
    net = build_network(layers.roads)
    return od_matrix(net, ids, ids)


def test_adding_roads_never_lengthens_a_trip(kz_layers, center_west):
    # Between the road network's named places (towns, centres, junctions), before places are
    # attached by access legs: a road added to a graph can only shorten shortest paths.
    nodes = sorted(set(kz_layers.roads["from_node"]) | set(kz_layers.roads["to_node"]))
    before = _road_od(kz_layers, nodes)
    after = _road_od(center_west, nodes)
    assert np.all(after.minutes <= before.minutes + 1e-9)
    assert (after.minutes < before.minutes - 1).sum() > 100  # and it does shorten many


def test_center_west_matches_the_published_figures(kz_layers, center_west):
    before = _road_od(kz_layers, ["astana", "irgiz"])
    after = _road_od(center_west, ["astana", "irgiz"])
    # Published: 1,438 km today (via Atbasar, Esil, Kostanay, Karabutak), 865 km on the new
    # corridor, 573 km shorter.
    assert before.km[0, 1] == pytest.approx(1438, rel=0.03)
    assert after.km[0, 1] == pytest.approx(865, rel=0.01)
    assert before.km[0, 1] - after.km[0, 1] == pytest.approx(573, rel=0.05)


def test_scenario_layers_apply_the_what_if(kz_layers):
    """The layers `geoplan run` and the analysis commands use: the scenario's set with its edits, validated."""
    planned = gpd.read_file(SCENARIOS / "center_west_roads.geojson")
    layers, warnings = scenario_layers(load_scenario(SCENARIOS / "center_west.yaml"))
    ids = set(layers.roads["id"].astype(str))
    assert set(planned["id"]) <= ids and len(layers.roads) == len(kz_layers.roads) + len(planned)
    assert layers.meta["edits"] == [f"edits[0]: added {len(planned)} road(s) from center_west_roads.geojson: "
                                    + ", ".join(planned["id"])]
    assert all(p.severity == "warning" for p in warnings)
    # A layer set passed in is edited on a copy; the baseline keeps its roads.
    again, _ = scenario_layers(load_scenario(SCENARIOS / "center_west.yaml"), layers=kz_layers)
    assert len(again.roads) == len(layers.roads) and not set(planned["id"]) & set(kz_layers.roads["id"])
    same, _ = scenario_layers(Scenario.baseline(), layers=kz_layers)
    assert same is kz_layers


def test_scenario_layers_replace_the_roads(kz_layers, tmp_path):
    roads = kz_layers.roads.copy()
    roads.loc[roads["id"] == "KZR164", "road_class"] = "primary"
    path = tmp_path / "roads.gpkg"
    roads.to_file(path, layer="roads", driver="GPKG")
    s = parse_scenario("edits:\n  - set_speed: {KZR164: 55}\n")
    layers, _ = scenario_layers(s, layers=kz_layers, roads=path)
    row = layers.roads.set_index("id").loc["KZR164"]
    assert row["road_class"] == "primary" and row["speed_kph"] == 55  # replaced, then edited
    assert layers.sources["roads"] == str(path)
    assert kz_layers.roads.set_index("id").loc["KZR164", "road_class"] == "secondary"


def test_scenario_layers_name_the_edit_that_breaks_them(kz_layers, tmp_path):
    ids = ", ".join(kz_layers.roads["id"])
    path = tmp_path / "storm.yaml"
    path.write_text(f"edits:\n  - name: resurface\n    set_speed: {{KZR001: 90}}\n"
                    f"  - name: flood\n    close: [{ids}]\n  - name: detour\n    set_speed: {{KZR002: 40}}\n",
                    encoding="utf-8")
    with pytest.raises(geoplan.ScenarioError) as info:
        scenario_layers(load_scenario(path), layers=kz_layers)
    msg = str(info.value)
    # Edit 2 fails first (KZR002 is gone); the message names the scenario and the edit.
    assert f"{path}: edits[2] (detour).set_speed: no road with id KZR002" in msg
    path.write_text(f"edits:\n  - name: resurface\n    set_speed: {{KZR001: 90}}\n"
                    f"  - name: flood\n    close: [{ids}]\n", encoding="utf-8")
    with pytest.raises(geoplan.ScenarioError) as info:
        scenario_layers(load_scenario(path), layers=kz_layers)
    msg = str(info.value)
    assert f"{path}: after the scenario's network edits (up to edits[1] (flood))" in msg
    assert "roads" in msg and "scenario check" in msg
    # Errors in the user's own layers are theirs, not the scenario's.
    broken = kz_layers.copy()
    broken.layers["roads"] = broken.roads.iloc[:0]
    with pytest.raises(geoplan.LayerValidationError):
        scenario_layers(Scenario.baseline(), layers=broken)


def test_closing_the_only_road_makes_a_town_unreachable(kz_layers):
    # Stepnogorsk hangs on one 16 km spur (KZR043): closing it cuts the town off.
    s = parse_scenario("edits:\n  - close: [KZR043]\n")
    net = build_network(apply_edits(kz_layers, s).roads)
    assert "stepnogorsk" not in set(net.node_id)
    full = build_network(kz_layers.roads)
    assert "stepnogorsk" in set(full.node_id)


def test_dumped_baseline_is_plain_yaml():
    text = dump_scenario(Scenario.baseline())
    assert "max_minutes: 90.0" in text and "beta" not in text
    json.dumps(parse_scenario(text).model_dump(mode="json"))


# --------------------------------------------------------------------------------------
# command line


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    from geoplan.cli import main

    with pytest.raises(SystemExit) as info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_cli_scenario_show_and_check(capsys, tmp_path):
    code, out, _ = _cli(capsys, "scenario", "show")
    assert code == 0 and parse_scenario(out).model_dump() == Scenario.baseline().model_dump()
    code, out, _ = _cli(capsys, "scenario", "check", SCENARIOS / "center_west.yaml")
    assert code == 0 and "added 5 road(s)" in out and "roads: 176 -> 181" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("relocation:\n  capacity_share: -0.1\n", encoding="utf-8")
    code, out, err = _cli(capsys, "scenario", "check", bad)
    assert code == 2 and out == ""
    assert "bad.yaml:2: relocation.capacity_share: must be greater than 0 (got -0.1)" in err
    assert "Traceback" not in err


def test_with_values_validates_dotted_keys() -> None:
    base = geoplan.Scenario.baseline()
    changed = base.with_values(values={"relocation.capacity_share": 0.02}, **{"agglomeration.max_minutes": 60})
    assert changed.relocation.capacity_share == 0.02
    assert changed.agglomeration.max_minutes == 60
    assert base.relocation.capacity_share == 0.05  # the original is untouched
    with pytest.raises(geoplan.ScenarioError, match=r"relocation\.capacity_share"):
        base.with_values(values={"relocation.capacity_share": -1})
    with pytest.raises(geoplan.ScenarioError, match=r"relocation\.capacity_shar\b.*unknown key"):
        base.with_values(values={"relocation.capacity_shar": 0.1})
    with pytest.raises(geoplan.ScenarioError, match="unknown key path"):
        base.with_values(values={"nosuchsection.x": 1})
