"""Destination ranking and the capacity-constrained allocation of relocated residents."""

from __future__ import annotations

import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import geoplan
from geoplan.classify import classify_towns, indicators
from geoplan.network import attach_places, build_network
from geoplan.relocation import allocate, capacities, people_to_move, rank_destinations, relocate
from geoplan.scenario import Scenario, parse_scenario
from geoplan.traveltime import od_matrix

# --------------------------------------------------------------------------------------
# allocate: exact totals, capacities, optimality


def _brute_force(people: list[int], caps: list[int], minutes: np.ndarray) -> float:
    """Smallest person-minutes over every whole-number allocation (tiny instances only)."""
    best = np.inf
    d = len(caps)
    splits = []
    for p in people:
        splits.append([c for c in itertools.product(range(p + 1), repeat=d) if sum(c) == p])
    for combo in itertools.product(*splits):
        load = np.sum(combo, axis=0)
        if np.all(load <= caps):
            cost = sum(np.nansum(np.array(row) * minutes[i]) if np.all(np.isfinite(minutes[i][np.array(row) > 0]))
                       else np.inf for i, row in enumerate(combo))
            best = min(best, cost)
    return best


def test_tiny_instance_is_optimal_by_brute_force():
    minutes = np.array([[10.0, 40.0, 25.0], [30.0, 5.0, 20.0]])
    people, caps = [6, 5], [4, 3, 9]
    flows = allocate(pd.Series(people, index=["a", "b"]), pd.Series(caps, index=["x", "y", "z"]),
                     pd.DataFrame(minutes, index=["a", "b"], columns=["x", "y", "z"]))
    cost = float((flows["people"] * flows["minutes"]).sum())
    assert cost == pytest.approx(_brute_force(people, caps, minutes))
    assert flows.groupby("origin")["people"].sum().to_dict() == {"a": 6, "b": 5}
    # a fills x (10 min) first; b fills y (5 min); the rest go to z.
    assert set(map(tuple, flows[["origin", "destination", "people"]].to_numpy())) == {
        ("a", "x", 4), ("a", "z", 2), ("b", "y", 3), ("b", "z", 2)}


def test_origin_is_never_its_own_destination():
    # Temirtau is a relocation origin in this instance and also a centre 0 minutes from itself.
    flows = allocate(pd.Series({"temirtau": 100}), pd.Series({"temirtau": 1000, "karaganda": 100}),
                     pd.DataFrame({"temirtau": [0.0], "karaganda": [23.0]}, index=["temirtau"]))
    assert flows["destination"].tolist() == ["karaganda"] and flows["people"].tolist() == [100]


def test_nan_marks_forbidden_pairs_and_km_is_copied():
    minutes = pd.DataFrame({"x": [1.0, np.nan], "y": [50.0, 60.0]}, index=["a", "b"])
    km = minutes * 1.5
    flows = allocate(pd.Series({"a": 3, "b": 4}), pd.Series({"x": 10, "y": 10}), minutes, km=km)
    assert flows[flows["origin"] == "b"]["destination"].tolist() == ["y"]
    assert np.allclose(flows["km"], flows["minutes"] * 1.5)


def test_infeasible_names_the_towns_and_the_shortfall():
    # a alone could fit, and so could b, but not both: 8 + 8 people, 10 places.
    with pytest.raises(geoplan.AnalysisError) as info:
        allocate(pd.Series({"a": 8, "b": 8}), pd.Series({"x": 10}), pd.DataFrame({"x": [1.0, 2.0]}, index=["a", "b"]))
    msg = str(info.value)
    assert "cannot place everyone: 6 of 16 people have no place" in msg and "x (10, full)" in msg
    assert int(info.value.unplaced.sum()) == 6


def test_infeasible_single_origin():
    with pytest.raises(geoplan.AnalysisError) as info:
        allocate(pd.Series({"a": 50}), pd.Series({"x": 10, "y": 20}), pd.DataFrame({"x": [1.0], "y": [np.inf]},
                                                                                   index=["a"]))
    msg = str(info.value)
    assert "a: 40 of 50 left over, more than all its destinations can take (10) [destinations: x (10, full)]" in msg


def test_bad_numbers():
    m = pd.DataFrame({"x": [1.0]}, index=["a"])
    with pytest.raises(geoplan.AnalysisError, match="whole numbers"):
        allocate(pd.Series({"a": 2.5}), pd.Series({"x": 10}), m)
    with pytest.raises(geoplan.AnalysisError, match="whole numbers"):
        allocate(pd.Series({"a": 2}), pd.Series({"x": -1}), m)


def _min_cost_flow(people: np.ndarray, caps: np.ndarray, minutes: np.ndarray) -> tuple[int, float]:
    """Independent reference: networkx max-flow min-cost on the same problem (integer costs)."""
    g = nx.DiGraph()
    for i, p in enumerate(people):
        g.add_edge("s", ("o", i), capacity=int(p), weight=0)
        for j in range(len(caps)):
            if np.isfinite(minutes[i, j]):
                g.add_edge(("o", i), ("d", j), capacity=int(p), weight=int(minutes[i, j]))
    for j, c in enumerate(caps):
        g.add_edge(("d", j), "t", capacity=int(c), weight=0)
    if "s" not in g or "t" not in g:
        return 0, 0.0
    flow = nx.max_flow_min_cost(g, "s", "t")
    return sum(flow["s"].values()), float(nx.cost_of_flow(g, flow))


@st.composite
def _instances(draw):
    n_o = draw(st.integers(1, 4))
    n_d = draw(st.integers(1, 5))
    people = np.array(draw(st.lists(st.integers(0, 40), min_size=n_o, max_size=n_o)))
    caps = np.array(draw(st.lists(st.integers(0, 50), min_size=n_d, max_size=n_d)))
    cells = draw(st.lists(st.one_of(st.integers(1, 600), st.none()), min_size=n_o * n_d, max_size=n_o * n_d))
    minutes = np.array([np.nan if c is None else float(c) for c in cells]).reshape(n_o, n_d)
    return people, caps, minutes


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_instances())
def test_allocate_invariants(inst):
    people, caps, minutes = inst
    o = [f"o{i}" for i in range(len(people))]
    d = [f"d{j}" for j in range(len(caps))]
    placed, best = _min_cost_flow(people, caps, minutes)
    feasible = placed == people.sum()
    try:
        flows = allocate(pd.Series(people, index=o), pd.Series(caps, index=d),
                         pd.DataFrame(minutes, index=o, columns=d))
    except geoplan.AnalysisError as exc:
        assert not feasible
        assert int(exc.unplaced.sum()) == people.sum() - placed  # the report is the true shortfall
        return
    assert feasible
    assert flows["people"].dtype.kind == "i" and (flows["people"] > 0).all()
    # Exactly the requested people leave every origin ...
    sent = flows.groupby("origin")["people"].sum().reindex(o, fill_value=0).to_numpy()
    assert np.array_equal(sent, people)
    # ... no destination takes more than its capacity ...
    got = flows.groupby("destination")["people"].sum().reindex(d, fill_value=0).to_numpy()
    assert np.all(got <= caps)
    # ... only allowed pairs are used, and the total is the minimum.
    assert np.isfinite(flows["minutes"]).all()
    assert float((flows["people"] * flows["minutes"]).sum()) == pytest.approx(best)
    assert list(flows["origin"] + "/" + flows["destination"]) == sorted(flows["origin"] + "/" + flows["destination"])


# --------------------------------------------------------------------------------------
# ranking and the full relocation on the embedded layers


@pytest.fixture(scope="module")
def kz(kz_layers):
    net = build_network(kz_layers.roads)
    places = gpd.GeoDataFrame(pd.concat([kz_layers.towns[["id", "geometry"]], kz_layers.centres[["id", "geometry"]]]),
                              crs=4326)
    net, snaps = attach_places(net, places)
    od = od_matrix(net, list(kz_layers.towns["id"]), list(kz_layers.centres["id"]))
    towns = classify_towns(kz_layers.towns, indicators(kz_layers.towns, kz_layers.centres, od, snaps=snaps))
    return net, od, towns


def test_people_and_capacity_rounding(kz_layers):
    towns = kz_layers.towns.set_index("id", drop=False)
    p = people_to_move(towns.loc[["arkalyk"]], share=0.2)
    assert p["arkalyk"] == 5273  # 0.2 x 26,365 = 5,273
    c = capacities(kz_layers.centres, share=0.05).to_dict()
    assert c["kostanay"] == 13_223  # floor(0.05 x 264,466)
    assert c["astana"] == 67_725


def test_rank_destinations_respects_the_limits(kz, kz_layers):
    _, od, towns = kz
    cfg = parse_scenario("relocation:\n  max_minutes: 480\n  n_candidates: 2\n")
    origins = towns[towns["id"].isin(["arkalyk", "temirtau", "zhezkazgan"])]
    table = rank_destinations(origins, kz_layers.centres, od, config=cfg)
    pop = kz_layers.centres.set_index("id")["population"]
    assert (table["origin"] != table["destination"]).all()
    assert (table["minutes"] <= 480).all()
    assert (table["destination"].map(pop) >= 100_000).all()
    assert table.groupby("origin").size().max() <= 2
    assert (table.groupby("origin")["score"].apply(lambda s: s.is_monotonic_decreasing)).all()
    # Zhezkazgan (89,092) is below the destination minimum, so Arkalyk's nearest centre is not offered.
    assert "zhezkazgan" not in set(table.loc[table["origin"] == "arkalyk", "destination"])
    # Temirtau's candidates start with Karaganda, 23 minutes away, and never Temirtau itself.
    assert table.loc[table["origin"] == "temirtau", "destination"].iloc[0] == "karaganda"


def test_relocate_on_the_embedded_layers(kz, kz_layers):
    net, od, towns = kz
    cfg = Scenario.baseline()
    result = relocate(towns, kz_layers.centres, od, config=cfg, route=net)
    origins = towns[towns["category"] == "relocation"]
    assert len(origins) > 0
    flows = result.flows
    expected = np.floor(origins.set_index("id")["population"].astype(float) * 0.2 + 0.5).astype(int)
    assert flows.groupby("origin")["people"].sum().to_dict() == expected.to_dict()
    centres = result.centres.set_index("id")
    assert (centres["allocated"] <= centres["capacity"]).all()
    assert centres["allocated"].sum() == expected.sum()
    assert ((centres["capacity_used"] >= 0) & (centres["capacity_used"] <= 1)).all()
    assert (flows["origin"] != flows["destination"]).all()
    # Flows follow the roads: each line starts at its town and ends at its centre, and is
    # at least as long as the straight line between them.
    tpos = kz_layers.towns.set_index("id").geometry
    cpos = kz_layers.centres.set_index("id").geometry
    for row in flows.itertuples():
        coords = shapely.get_coordinates(row.geometry)
        assert shapely.Point(coords[0]).distance(tpos[row.origin]) < 1e-6
        assert shapely.Point(coords[-1]).distance(cpos[row.destination]) < 1e-6
        assert len(coords) > 2
    assert list(flows.columns[:7]) == ["origin", "origin_name", "destination", "destination_name", "people",
                                       "minutes", "km"]
    t = result.towns.set_index("id")
    assert t.loc[origins["id"], "destination"].notna().all()
    assert t.loc[~t.index.isin(origins["id"]), "destination"].isna().all()
    assert result.person_minutes == pytest.approx((flows["people"] * flows["minutes"]).sum())
    # Straight lines without a network.
    plain = relocate(towns, kz_layers.centres, od, config=cfg)
    assert (shapely.get_num_coordinates(plain.flows.geometry.to_numpy()) == 2).all()
    assert plain.flows.drop(columns="geometry").equals(flows.drop(columns="geometry"))


def test_capacity_too_small_is_a_clear_error(kz, kz_layers):
    _, od, towns = kz
    cfg = parse_scenario("relocation:\n  capacity_share: 0.001\n  n_candidates: 1\n")
    with pytest.raises(geoplan.AnalysisError) as info:
        relocate(towns, kz_layers.centres, od, config=cfg)
    msg = str(info.value)
    assert msg.startswith("relocation: cannot place everyone")
    assert "relocation.capacity_share (now 0.001)" in msg and "relocation.share_to_move" in msg


def test_no_destination_in_reach_names_the_town(kz, kz_layers):
    _, od, towns = kz
    cfg = parse_scenario("relocation:\n  max_minutes: 60\n")
    with pytest.raises(geoplan.AnalysisError) as info:
        relocate(towns, kz_layers.centres, od, config=cfg)
    assert "Arkalyk (arkalyk)" in str(info.value) and "relocation.max_minutes" in str(info.value)


def test_no_relocation_towns_gives_empty_flows(kz, kz_layers):
    _, od, towns = kz
    none = towns.assign(category="monitor")
    result = relocate(none, kz_layers.centres, od)
    assert result.flows.empty and list(result.flows.columns[:7]) == ["origin", "origin_name", "destination",
                                                                       "destination_name", "people", "minutes", "km"]
    assert (result.centres["allocated"] == 0).all()


# --------------------------------------------------------------------------------------
# the policy mode: receiving regions within yearly quotas


def _quota_file(tmp_path, text: str):
    p = tmp_path / "q.csv"
    p.write_text("year,region,quota_migrants,quota_kandas,source_urls\n" + text, encoding="utf-8")
    return p


def test_embedded_quota_table_matches_the_facts(kz_layers, facts_dir):
    from geoplan.relocation import read_quotas

    regions = sorted(set(kz_layers.towns["region"]) | set(kz_layers.centres["region"]))
    q = read_quotas(geoplan.embedded_layers_path() / "resettlement_quotas.csv", regions=regions)
    facts = read_quotas(facts_dir / "kz_resettlement_quotas.csv", regions=regions)
    assert q["quota_migrants"].sum() == facts["quota_migrants"].sum() == 5997
    assert (q["quota_migrants"] > 0).sum() == 7  # seven receiving regions in 2026


def test_quota_errors_name_file_row_and_fix(tmp_path, kz_layers):
    from geoplan.relocation import read_quotas

    regions = sorted(set(kz_layers.towns["region"]) | set(kz_layers.centres["region"]))
    with pytest.raises(geoplan.AnalysisError) as info:
        read_quotas(_quota_file(tmp_path, "2026,Pavlodarr,100,0,x\n"), regions=regions)
    assert "q.csv:2: region 'Pavlodarr' is not a region of the layers (did you mean Pavlodar?)" in str(info.value)
    with pytest.raises(geoplan.AnalysisError, match=r"q\.csv:2: quota_migrants '-5' is not a whole number"):
        read_quotas(_quota_file(tmp_path, "2026,Pavlodar,-5,0,x\n"), regions=regions)
    with pytest.raises(geoplan.AnalysisError, match="has two quotas for 2026"):
        read_quotas(_quota_file(tmp_path, "2026,Pavlodar,5,0,x\n2026,pavlodar region,5,0,x\n"), regions=regions)
    # Spellings of the boundaries layer are the same region.
    assert read_quotas(_quota_file(tmp_path, "2026,Karagandy,5,0,x\n"), regions=regions)["region_key"][0] == "karaganda"


def _policy_inputs(kz_layers):
    from geoplan.classify import classify_towns, indicators
    from geoplan.indicators import layer_folder, load_inputs

    places = gpd.GeoDataFrame(pd.concat([kz_layers.towns[["id", "geometry"]], kz_layers.centres[["id", "geometry"]]]),
                              crs=4326)
    net, _ = attach_places(build_network(kz_layers.roads), places)
    od = od_matrix(net, list(kz_layers.towns["id"]), list(kz_layers.centres["id"]))
    ids = list(kz_layers.towns["id"])
    cat, table = load_inputs(ids, config=Scenario.baseline(), folder=layer_folder(kz_layers.sources))
    towns = classify_towns(kz_layers.towns, indicators(kz_layers.towns, kz_layers.centres, od, table=table),
                           catalogue=cat)
    dest = kz_layers.centres[~kz_layers.centres["id"].isin(kz_layers.towns["id"])]
    return towns, dest, od


def test_policy_phases_within_each_years_quota(kz_layers, tmp_path):
    from geoplan.relocation import compare_modes, read_quotas, relocate_policy

    towns, dest, od = _policy_inputs(kz_layers)
    regions = sorted(set(kz_layers.towns["region"]) | set(kz_layers.centres["region"]))
    q = read_quotas(geoplan.embedded_layers_path() / "resettlement_quotas.csv", regions=regions)
    origins = towns[towns["category"] == "relocation"]
    res = relocate_policy(origins, dest, od, q)
    s = res.summary
    assert s["people_to_move"] == int(np.floor(origins["population"] * 0.2 + 0.5).sum())
    assert s["feasible"] and s["placed"] == s["people_to_move"]
    # Never more than a region's quota in a year, only receiving regions, whole people.
    assert (res.years["placed"] <= res.years["quota"]).all()
    assert set(res.flows["region"]) <= {"North Kazakhstan", "Pavlodar", "East Kazakhstan", "Kostanay", "Abai",
                                         "Ulytau", "Karaganda"}
    assert res.years["placed"].sum() == s["placed"] == res.flows["people"].sum()
    # Zhezkazgan (Ulytau's centre) and Temirtau are monotowns themselves: never destinations.
    assert not {"zhezkazgan", "temirtau"} & set(res.flows["destination"])
    # The 2026 quota reachable from these towns (all but Ulytau's, whose centre is a monotown).
    assert s["reachable_quota_per_year"] == 5997 - 125
    modes = compare_modes(None, res)
    assert modes.loc[0, "mode"] == "policy" and modes.loc[0, "years"] == "2026-2035"


def test_infeasible_policy_says_what_it_would_need(kz_layers, tmp_path):
    from geoplan.relocation import read_quotas, relocate_policy

    towns, dest, od = _policy_inputs(kz_layers)
    regions = sorted(set(kz_layers.towns["region"]) | set(kz_layers.centres["region"]))
    q = read_quotas(_quota_file(tmp_path, "2026,Pavlodar,500,0,x\n"), regions=regions)
    cfg = parse_scenario("relocation:\n  capacity_share: 0.2\n  policy: {years: 3, later_years: repeat_last}\n")
    origins = towns[towns["category"] == "relocation"]
    res = relocate_policy(origins, dest, od, q, config=cfg)
    s = res.summary
    assert not s["feasible"] and s["placed"] == 1500 and s["unplaced"] == s["people_to_move"] - 1500
    assert s["years_needed"] == int(np.ceil(s["people_to_move"] / 500))
    assert s["quota_needed_per_year"] == int(np.ceil(s["people_to_move"] / 3))
    assert res.years["placed"].tolist() == [500, 500, 500]
