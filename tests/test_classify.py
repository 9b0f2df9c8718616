"""Indicators and categories on the embedded layers, and the rules on small hand-made tables."""

from __future__ import annotations

import math
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import geoplan
from geoplan.classify import CATEGORIES, classify_towns, compare_results, growth_rate, indicators, od_arrays
from geoplan.indicators import layer_folder, load_inputs
from geoplan.network import attach_places, build_network
from geoplan.relocation import relocate
from geoplan.scenario import Scenario, apply_edits, load_scenario, parse_scenario
from geoplan.traveltime import od_matrix

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def _run(layers: geoplan.LayerSet, cfg: Scenario):
    net = build_network(layers.roads, speeds=cfg.speeds, snap_tolerance_m=cfg.network.snap_tolerance_m)
    places = gpd.GeoDataFrame(pd.concat([layers.towns[["id", "geometry"]], layers.centres[["id", "geometry"]]]),
                              crs=4326)
    net, snaps = attach_places(net, places, access_kph=cfg.network.access_kph, max_snap_km=cfg.network.max_snap_km)
    od = od_matrix(net, list(layers.towns["id"]), list(layers.centres["id"]))
    catalogue, table = load_inputs(list(layers.towns["id"]), config=cfg, folder=layer_folder(layers.sources))
    ind = indicators(layers.towns, layers.centres, od, config=cfg, snaps=snaps, table=table)
    return net, od, ind, classify_towns(layers.towns, ind, config=cfg, catalogue=catalogue)


@pytest.fixture(scope="module")
def base(kz_layers):
    return _run(kz_layers, Scenario.baseline())


@pytest.fixture(scope="module")
def towns(base):
    return base[3].set_index("id")


# --------------------------------------------------------------------------------------
# the embedded layers: expectations a planner can check on a map


@pytest.mark.parametrize(("town", "road_km"), [("abai", 29), ("temirtau", 34), ("shakhtinsk", 45)])
def test_karaganda_satellites_are_agglomeration_candidates(towns, town, road_km):
    # Each lies on a road of road_km from Karaganda (515,632 people), well inside 90 minutes
    # even at 60 km/h; the route may differ from the town centre by its short access leg.
    row = towns.loc[town]
    assert row["category"] == "agglomeration" and row["rule"] == 2
    assert row["nearest_centre"] == "karaganda"
    assert row["minutes"] < road_km / 60 * 60 + 10
    assert row["km"] == pytest.approx(road_km, abs=5)
    pattern = r"^\d+ min \(\d+ km\) by road from Karaganda \(515,632\), within agglomeration reach \(90 min\)"
    assert re.search(pattern, row["reasons"])
    assert row["reasons"].endswith(": agglomeration (rule 2).")


def test_towns_that_left_the_list_are_not_assessed(towns, base, kz_layers):
    # Saran and Tekeli left the monotown list in 2024 (exited_2024).
    for town in ("saran", "tekeli"):
        row = towns.loc[town]
        assert row["status"] == "exited" and row["category"] == "not_assessed"
        assert pd.isna(row["score"]) and pd.isna(row["rank"])
        assert "Left the monotown list (exited_2024)" in row["reasons"]
    assert (towns.drop(index=["saran", "tekeli"])["status"] == "listed").all()
    # On request they are assessed, keep their status, and take part in the ranking.
    cfg = parse_scenario("categories:\n  analyse_exited: true\n")
    catalogue, _ = load_inputs(list(kz_layers.towns["id"]), config=cfg, folder=layer_folder(kz_layers.sources))
    res = classify_towns(kz_layers.towns, base[2], config=cfg, catalogue=catalogue).set_index("id")
    assert res.loc["saran", "status"] == "exited" and res.loc["saran", "category"] == "agglomeration"
    assert res["rank"].max() == 29


def test_a_regional_centre_is_a_growth_point(towns):
    # Zhezkazgan has been the Ulytau region's centre since 2022: a growth point, not
    # "monitor, nearest centre Kyzylorda 325 min".
    row = towns.loc["zhezkazgan"]
    assert row["growth_point"] and row["minutes_regional_centre"] == 0
    assert row["category"] == "diversification" and row["rule"] == 1
    assert row["reasons"].startswith("itself a growth centre (regional centre of Ulytau)")
    assert "Kyzylorda" not in row["reasons"]
    # Temirtau is a centre too but not an administrative one: it is Karaganda's satellite.
    assert not towns.loc["temirtau", "growth_point"]
    assert towns.loc["temirtau", "category"] == "agglomeration"


def test_a_place_is_never_its_own_centre(towns, base, kz_layers):
    assert towns.loc["temirtau", "nearest_centre"] == "karaganda"
    assert towns.loc["zhezkazgan", "nearest_centre"] != "zhezkazgan"
    assert towns.loc["zhezkazgan", "minutes"] > 60  # its own 0-minute entry was not used
    # Hansen accessibility by hand, leaving Temirtau itself out.
    od = base[1]
    pop = kz_layers.centres.set_index("id")["population"]
    beta = math.log(2) / 60
    i = list(od.origins).index("temirtau")
    by_hand = sum(pop[c] * math.exp(-beta * m) for c, m in zip(od.destinations, od.minutes[i], strict=True)
                  if c != "temirtau" and np.isfinite(m))
    assert towns.loc["temirtau", "accessibility"] == pytest.approx(by_hand)
    assert towns.loc["temirtau", "accessibility"] < by_hand + pop["temirtau"] - 1


def test_satpayev_belongs_to_zhezkazgan(towns):
    # 24 km of the A-16 from Zhezkazgan (89,092 people, above 50,000 and above Satpayev's 68,640).
    assert towns.loc["satpayev", "category"] == "agglomeration"
    assert towns.loc["satpayev", "nearest_centre"] == "zhezkazgan"


def test_arkalyk_is_a_relocation_candidate(towns):
    # Bauxite exhausted and the combine closed; 28,169 people in the 2009 census, 26,365 in 2021;
    # the nearest centre of 50,000+ is hours away; low potential.
    row = towns.loc["arkalyk"]
    expected = 100 * ((26365 / 28169) ** (1 / (2021 - (2009 + 55 / 365))) - 1)
    assert row["growth_pct_per_year"] == pytest.approx(expected)
    assert row["trend_basis"] == "2009 census to 2021 estimate"
    assert row["minutes"] > 180 and row["group"] == "low"
    assert row["category"] == "relocation" and row["rule"] == 5
    for fact in ("low potential (score", "population -0.6 %/yr (2009 census to 2021 estimate), below the 0 %/yr",
                 "26,365 people (at most 50,000)"):
        assert fact in row["reasons"]
    assert row["reasons"].endswith(": relocation (rule 5).")


def test_ridder_is_borderline_on_reach(towns):
    # 94 min from Oskemen, 4 over the 90-minute reach: within 10 % of the threshold, and one
    # step over it would make it an agglomeration candidate, so it is marked borderline.
    row = towns.loc["ridder"]
    assert row["minutes"] == pytest.approx(94, abs=2) and row["nearest_centre"] == "oskemen"
    assert row["category"] != "agglomeration"
    assert row["borderline"] and "reach 94 min vs 90 (else agglomeration)" in row["borderline_on"]
    # Far from every threshold: Temirtau (23 min, rank 1).
    assert not towns.loc["temirtau", "borderline"]


def test_score_rank_and_groups(towns):
    scored = towns[towns["status"] == "listed"]
    assert scored["score"].notna().all() and sorted(scored["rank"]) == list(range(1, 28))
    # Rank follows score; quantile groups of 9.
    by_score = scored.sort_values("score", ascending=False)
    assert list(by_score["rank"]) == list(range(1, 28))
    assert list(by_score["group"]) == ["high"] * 9 + ["medium"] * 9 + ["low"] * 9
    contributions = scored[[c for c in scored.columns if c.startswith("contribution_")]].sum(axis=1)
    assert np.allclose(contributions, scored["score"])
    # Temirtau (171,609 people, 23 min from Karaganda, operating steel works) leads.
    assert by_score.index[0] == "temirtau"


def test_missing_values_are_named_not_imputed(towns):
    # Kurchatov has no census figure: no trend; scored on the rest, said in the reason.
    row = towns.loc["kurchatov"]
    assert np.isnan(row["growth_pct_per_year"]) and row["trend_basis"] == "fewer than two population figures"
    assert "growth_pct_per_year" in row["missing"] and row["missing_in_index"] == "growth_pct_per_year"
    assert row["coverage"] == pytest.approx(1 - 0.125)
    assert "without growth_pct_per_year" in row["reasons"]
    # Medium potential: rule 4 needs the trend, which is unknown, so the town is monitored.
    assert row["group"] == "medium" and row["category"] == "monitor" and row["rule"] == 0
    assert "population trend unknown" in row["reasons"] and "rule 4 cannot be decided" in row["reasons"]


def test_best_census_pair_is_used(towns):
    # Stepnogorsk's latest figure (2012) is three years after the 2009 census: 1999 is used.
    row = towns.loc["stepnogorsk"]
    assert row["trend_basis"] == "1999 census to 2012 estimate"
    assert row["growth_pct_per_year"] == pytest.approx(100 * ((46401 / 47372) ** (1 / (2012 - 1999 - 55 / 365)) - 1))


def test_result_schema(base, kz_layers):
    result = base[3]
    assert list(result["id"]) == sorted(kz_layers.towns["id"])
    assert set(result["category"]) <= set(CATEGORIES)
    for col in kz_layers.towns.columns:
        assert col in result.columns
    for col in ("nearest_centre", "nearest_centre_name", "minutes", "km", "snap_km", "accessibility",
                "growth_pct_per_year", "score", "rank", "group", "status", "category", "reasons", "borderline",
                "destination"):
        assert col in result.columns
    assert result.crs.equals("EPSG:4326") and result.geometry.name == result.columns[-1]
    # One plain sentence each: a single full stop, at the end (decimal points aside).
    for text in result["reasons"]:
        assert text.endswith(".") and re.sub(r"\d\.\d", "", text).count(".") == 1, text
    assert (result["snap_km"] < 5).all()


def test_baseline_categories(base):
    res = base[3].set_index("id")
    counts = res["category"].value_counts().to_dict()
    assert sum(counts.values()) == 29
    assert all(counts.get(c, 0) > 0 for c in CATEGORIES)
    # Saran and Tekeli have left the monotown list: not assessed, and nothing else is.
    assert sorted(res.index[res["category"] == "not_assessed"]) == ["saran", "tekeli"]
    assert (res.loc[["saran", "tekeli"], "status"] == "exited").all()
    # Zhezkazgan is itself the regional centre of Ulytau: a growth point, rule 1.
    zh = res.loc["zhezkazgan"]
    assert zh["growth_point"] and zh["category"] == "diversification" and zh["rule"] == 1
    assert "itself a growth centre" in zh["reasons"]
    # Rule 2 (agglomeration) is exactly: not a growth point and within 90 min of a centre.
    assessed = res[res["status"] == "listed"]
    within = (assessed["minutes"] <= 90) & ~assessed["growth_point"].astype(bool)
    assert set(assessed.index[within]) == set(res.index[res["category"] == "agglomeration"])
    for town in ("temirtau", "abai", "shakhtinsk"):  # the Karaganda ring
        assert res.loc[town, "category"] == "agglomeration", town
        assert "from Karaganda" in res.loc[town, "reasons"] and "within agglomeration reach (90 min)" in res.loc[
            town, "reasons"]
    # Relocation (rule 5) only for low-potential, shrinking towns of at most 50,000 people.
    reloc = res[res["category"] == "relocation"]
    assert {"karazhal", "arkalyk"} <= set(reloc.index)
    assert (reloc["group"] == "low").all() and (reloc["growth_pct_per_year"] < 0).all()
    assert (reloc["population"] <= 50_000).all() and (reloc["rule"] == 5).all()
    for town in reloc.index:
        assert "below the 0 %/yr cut-off" in reloc.loc[town, "reasons"] and "(at most 50,000)" in reloc.loc[
            town, "reasons"], town
    # Kurchatov has no population trend: rule 4 cannot be decided, so it is monitored.
    assert res.loc["kurchatov", "category"] == "monitor"
    assert "rule 4 cannot be decided" in res.loc["kurchatov", "reasons"]


def test_thresholds_are_configurable(kz_layers, base):
    tight = parse_scenario("agglomeration:\n  max_minutes: 30\n")
    res = classify_towns(kz_layers.towns, base[2], config=tight).set_index("id")
    # Shakhtinsk is about 45 min from Karaganda: no longer within reach.
    assert res.loc["shakhtinsk", "category"] != "agglomeration"
    assert res.loc["abai", "category"] == "agglomeration"
    assert "within agglomeration reach (30 min)" in res.loc["abai", "reasons"]


# --------------------------------------------------------------------------------------
# the rules on hand-made tables (no network)


def _towns(n: int = 6, **over) -> gpd.GeoDataFrame:
    rows = []
    for i in range(n):
        rows.append({"id": f"t{i}", "name_en": f"T{i}", "population": 10_000 * (i + 1), "population_year": 2024,
                     "population_2009": 10_000 * (i + 1) * (1.2 if i % 2 else 0.8),
                     "resource_status": ["depleted", "declining", "stable", "growing", "stable", "growing"][i % 6],
                     "enterprise_status": ["closed", "partly_operating", "operating"][i % 3], "region": "R",
                     "on_list": "list27_unverified"})
    frame = gpd.GeoDataFrame(rows, geometry=[shapely.Point(70 + i, 50) for i in range(n)], crs=4326)
    for k, v in over.items():
        tid, col = k.split("__")
        frame.loc[frame["id"] == tid, col] = v
    return frame


_CENTRES = gpd.GeoDataFrame(
    {"id": ["big", "small"], "name_en": ["Big", "Small"], "population": [500_000, 30_000], "region": ["R", "R"],
     "role": ["regional_centre", "other"]},
    geometry=[shapely.Point(71, 50), shapely.Point(70.2, 50)], crs=4326)


def _od(minutes: dict[str, float]) -> pd.DataFrame:
    rows = []
    for k, (t, m) in enumerate(minutes.items()):
        rows += [{"origin": t, "destination": "big", "minutes": m, "km": m},
                 {"origin": t, "destination": "small", "minutes": 10.0 + 40 * k, "km": 10.0 + 40 * k}]
    return pd.DataFrame(rows)


def _classified(towns, od, cfg=None) -> pd.DataFrame:
    return classify_towns(towns, indicators(towns, _CENTRES, od, config=cfg), config=cfg).set_index("id")


_FAR = {f"t{i}": 200.0 + 20 * i for i in range(6)}


def test_rule_agglomeration_needs_a_large_enough_centre():
    # 30 min from a city of half a million: candidate. 10 min from 30,000 people does not count.
    res = _classified(_towns(), _od({**_FAR, "t0": 30.0}))
    assert res.loc["t0", "category"] == "agglomeration" and res.loc["t0", "nearest_centre"] == "big"
    assert res.loc["t1", "category"] != "agglomeration" and res.loc["t1", "nearest_centre"] == "big"


def test_rule_centre_must_be_larger_than_the_town():
    towns = _towns(t0__population=600_000)
    res = _classified(towns, _od({**_FAR, "t0": 30.0}))
    assert res.loc["t0", "nearest_centre"] is None and np.isnan(res.loc["t0", "minutes"])
    assert "no growth centre of 50,000+ people larger than the town" in res.loc["t0", "reasons"]
    cfg = parse_scenario("agglomeration:\n  centre_larger_than_town: false\n")
    assert _classified(towns, _od({**_FAR, "t0": 30.0}), cfg).loc["t0", "category"] == "agglomeration"


def test_rules_follow_the_decision_table():
    res = _classified(_towns(), _od(_FAR))
    for tid, row in res.iterrows():
        g, declining, small = row["group"], row["growth_pct_per_year"] < 0, row["population"] <= 50_000
        expected = ("diversification" if g == "high" or (g == "medium" and not declining)
                    else "relocation" if g == "low" and declining and small else "monitor")
        assert row["category"] == expected, (tid, row["reasons"])
    # A table of the scenario's own: everything low goes to monitor, medium to relocation.
    cfg = parse_scenario("categories:\n  rules:\n    - {category: relocation, group: medium}\n"
                         "    - {category: monitor}\n")
    res2 = _classified(_towns(), _od(_FAR), cfg)
    assert set(res2.loc[res2["group"] == "medium", "category"]) == {"relocation"}
    assert set(res2.loc[res2["group"] != "medium", "category"]) == {"monitor"}
    assert all(r.endswith("(rule 1).") for r in res2.loc[res2["group"] == "medium", "reasons"])


def test_growth_point_is_configurable():
    towns = _towns()
    towns.loc[towns["id"] == "t5", "id"] = "big"  # the town is itself the regional centre "big"
    od = _od({**{k: v for k, v in _FAR.items() if k != "t5"}, "big": 0.0})
    res = _classified(towns, od)
    assert res.loc["big", "growth_point"] and res.loc["big", "category"] == "diversification"
    cfg = parse_scenario("categories:\n  growth_point_roles: [republican]\n")
    assert not _classified(towns, od, cfg).loc["big", "growth_point"]


def test_missing_trend_makes_a_deciding_rule_undecided():
    towns = _towns()
    towns["population_2009"] = towns["population_2009"].astype(float)
    towns.loc[:, "population_2009"] = np.nan
    # An indicator known for no town cannot be in the index: a clear error, then leave it out.
    with pytest.raises(geoplan.AnalysisError, match=r"growth_pct_per_year .* is known for 0 assessed town"):
        _classified(towns, _od(_FAR))
    cfg = parse_scenario("composite:\n  weights: {growth_pct_per_year: 0}\n")
    res = _classified(towns, _od(_FAR), cfg)
    assert (res["trend_basis"] == "fewer than two population figures").all()
    undecided = res[res["group"].isin(["medium", "low"])]
    assert (undecided["category"] == "monitor").all() and (undecided["rule"] == 0).all()
    assert all("population trend unknown" in r for r in undecided["reasons"])
    # The high group does not need the trend.
    assert set(res.loc[res["group"] == "high", "category"]) == {"diversification"}


def test_unreachable_town():
    res = _classified(_towns(), _od({**_FAR, "t0": np.inf}))
    row = res.loc["t0"]
    assert row["nearest_centre"] is None and row["category"] != "agglomeration"
    assert "can be reached by road" in row["reasons"]


def test_missing_population_is_an_error():
    towns = _towns()
    towns["population"] = towns["population"].astype(float)
    towns.loc[towns["id"] == "t0", "population"] = np.nan
    with pytest.raises(geoplan.AnalysisError) as info:
        indicators(towns, _CENTRES, _od(_FAR))
    assert "towns without a population figure: T0 (t0)" in str(info.value)
    assert "fill 'population'" in str(info.value)


def test_od_long_table_and_matrix_agree(base, kz_layers):
    od = base[1]
    towns = list(kz_layers.towns["id"])
    centres = list(kz_layers.centres["id"])
    m1, k1 = od_arrays(od, towns, centres)
    m2, k2 = od_arrays(od.long(), towns, centres)
    assert np.array_equal(m1, m2) and np.array_equal(k1, k2)
    with pytest.raises(geoplan.AnalysisError, match="lacks column"):
        od_arrays(od.long().drop(columns="km"), towns, centres)


def test_growth_rate_by_hand():
    frame = pd.DataFrame({"population": [110, 100, 90, 90], "population_year": [2019, 2019, None, 2024],
                          "population_2009": [100, None, 100, None], "population_2021": [None, None, None, 95]})
    rate, years = growth_rate(frame)
    assert rate[0] == pytest.approx(100 * (1.1 ** (1 / (2019 - 2009 - 55 / 365)) - 1))
    assert np.isnan(rate[1]) and np.isnan(rate[2]) and np.isnan(years[2])
    # 2021 census to a 2024 estimate is under 5 years: no trend.
    assert np.isnan(rate[3])
    rate, _ = growth_rate(frame, min_years=2)
    assert rate[3] == pytest.approx(100 * ((90 / 95) ** (1 / (2024 - 2021 - 273 / 365)) - 1))


# --------------------------------------------------------------------------------------
# comparing scenarios


def test_center_west_changes_only_arkalyk(kz_layers, base):
    cfg = load_scenario(SCENARIOS / "center_west.yaml")
    _, od_b, _, towns_b = _run(apply_edits(kz_layers, cfg), cfg)
    base_rel = relocate(base[3], kz_layers.centres, base[1])
    what_if = relocate(towns_b, kz_layers.centres, od_b, config=cfg)
    changes = compare_results(base_rel.towns, what_if.towns, names=("baseline", "center_west"))
    # The new road runs from Astana to Arkalyk (383 km); no other town is closer to its centre.
    # Arkalyk's better accessibility lifts its score three ranks; towns it overtakes drop one rank,
    # and no town changes category or group.
    travel = changes[changes["changes"] != "rank"]
    assert list(travel["id"]) == ["arkalyk"]
    assert (changes["category_baseline"] == changes["category_center_west"]).all()
    assert (changes["group_baseline"] == changes["group_center_west"]).all()
    others = changes[changes["id"] != "arkalyk"]
    assert len(others) and (others["rank_change"].abs() == 1).all()
    row = travel.iloc[0]
    assert row["rank_change"] < 0
    assert row["destination_baseline"] == "kostanay" and row["destination_center_west"] == "astana"
    assert row["category_baseline"] == row["category_center_west"] == "relocation"
    assert row["accessibility_center_west"] > 4 * row["accessibility_baseline"]
    assert "destination" in row["changes"]


def test_compare_reports_every_kind_of_change():
    a = pd.DataFrame({"id": ["x", "y", "z"], "name_en": ["X", "Y", "Z"], "category": ["monitor"] * 3,
                      "nearest_centre": ["c1"] * 3, "minutes": [100.0, 50.0, 10.0], "km": [1.0] * 3,
                      "accessibility": [1.0] * 3, "destination": [None] * 3})
    b = a.copy()
    b.loc[0, "minutes"] = 100.2  # below the 0.5 min noise level
    b.loc[1, "category"] = "agglomeration"
    b.loc[2, "minutes"] = np.nan
    out = compare_results(a, b)
    assert list(out["id"]) == ["y", "z"]
    assert out.set_index("id").loc["z", "changes"] == "minutes"
    assert compare_results(a, a).empty
