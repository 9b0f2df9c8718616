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
from geoplan.classify import CATEGORIES, classify, compare_results, growth_rate, indicators, od_arrays
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
    ind = indicators(layers.towns, layers.centres, od, config=cfg, snaps=snaps)
    return net, od, ind, classify(layers.towns, ind, config=cfg)


@pytest.fixture(scope="module")
def base(kz_layers):
    return _run(kz_layers, Scenario.baseline())


@pytest.fixture(scope="module")
def towns(base):
    return base[3].set_index("id")


# --------------------------------------------------------------------------------------
# the embedded layers: expectations a planner can check on a map


@pytest.mark.parametrize(("town", "road_km"), [("saran", 22), ("abai", 29), ("temirtau", 34), ("shakhtinsk", 45)])
def test_karaganda_satellites_are_agglomeration_candidates(towns, town, road_km):
    # Each lies on a road of road_km from Karaganda (515,632 people), well inside 90 minutes
    # even at 60 km/h; the route may differ from the town centre by its short access leg.
    row = towns.loc[town]
    assert row["category"] == "agglomeration"
    assert row["nearest_centre"] == "karaganda"
    assert row["minutes"] < road_km / 60 * 60 + 10
    assert row["km"] == pytest.approx(road_km, abs=5)
    pattern = r"^\d+ min \(\d+ km\) by road from Karaganda \(515,632\): within agglomeration reach"
    assert re.search(pattern, row["reasons"])


def test_a_place_is_never_its_own_centre(towns, base, kz_layers):
    # Temirtau and Zhezkazgan are both monotowns and growth centres.
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
    # the nearest centre of 50,000+ is hours away.
    row = towns.loc["arkalyk"]
    expected = 100 * ((26365 / 28169) ** (1 / (2021 - (2009 + 55 / 365))) - 1)
    assert row["growth_pct_per_year"] == pytest.approx(expected)
    assert row["growth_pct_per_year"] == pytest.approx(-0.56, abs=0.01)
    assert row["minutes"] > 180
    assert row["category"] == "relocation"
    assert "resource outlook depleted" in row["reasons"] and "-0.6 %/yr 2009-2021" in row["reasons"]
    assert row["reasons"].endswith("relocation candidate.")


def test_remote_growing_towns_diversify(towns):
    # Balkhash (copper, growing; 68,833 in 2009, 73,450 in 2024), over 4 h from Karaganda.
    assert towns.loc["balkhash", "category"] == "diversification"
    assert towns.loc["balkhash", "growth_pct_per_year"] > 0


def test_missing_census_is_stated_not_imputed(towns):
    # Kurchatov has no 2009 census figure in the layer; it lies over 2 h from Semey.
    row = towns.loc["kurchatov"]
    assert np.isnan(row["growth_pct_per_year"])
    assert "growth_pct_per_year" in row["missing"]
    assert row["category"] == "monitor"
    assert "no 2009 census figure, so the population trend is unknown" in row["reasons"]
    # Shakhtinsk lacks it too, but that does not matter for an agglomeration candidate; still said.
    assert "no 2009 census figure" in towns.loc["shakhtinsk", "reasons"]


def test_short_trend_is_unknown(towns):
    # Stepnogorsk's latest figure is from 2012: under three years after the census.
    row = towns.loc["stepnogorsk"]
    assert row["trend_years"] < 3
    assert row["category"] == "monitor" and "too short to judge" in row["reasons"]


def test_mixed_signals_lead_to_monitor(towns):
    # Karazhal: the mine is expanding but the town lost 1.3 %/yr since 2009.
    row = towns.loc["karazhal"]
    assert row["growth_pct_per_year"] < -1
    assert row["category"] == "monitor" and "faster decline than -1 %/yr" in row["reasons"]
    # Zhanaozen: declining oil field but 75,604 people, above the 50,000 relocation limit.
    assert towns.loc["zhanaozen", "category"] == "monitor"
    assert "above the relocation limit of 50,000" in towns.loc["zhanaozen", "reasons"]


def test_result_schema(base, kz_layers):
    result = base[3]
    assert list(result["id"]) == sorted(kz_layers.towns["id"])
    assert set(result["category"]) <= set(CATEGORIES)
    for col in kz_layers.towns.columns:
        assert col in result.columns
    for col in ("nearest_centre", "nearest_centre_name", "minutes", "km", "snap_km", "accessibility",
                "growth_pct_per_year", "category", "reasons", "destination"):
        assert col in result.columns
    assert result.crs.equals("EPSG:4326") and result.geometry.name == result.columns[-1]
    # One plain sentence each: a single full stop, at the end (decimal points aside).
    for text in result["reasons"]:
        assert text.endswith(".") and re.sub(r"\d\.\d", "", text).count(".") == 1, text
    assert (result["snap_km"] < 5).all()


def test_baseline_categories(base):
    counts = base[3]["category"].value_counts().to_dict()
    assert sum(counts.values()) == 29
    assert all(counts.get(c, 0) > 0 for c in CATEGORIES)


def test_thresholds_are_configurable(kz_layers, base):
    tight = parse_scenario("agglomeration:\n  max_minutes: 30\n")
    res = classify(kz_layers.towns, indicators(kz_layers.towns, kz_layers.centres, base[1], config=tight),
                   config=tight).set_index("id")
    # Shakhtinsk is about 45 min from Karaganda: no longer within reach.
    assert res.loc["shakhtinsk", "category"] != "agglomeration"
    assert res.loc["saran", "category"] == "agglomeration"
    assert "within agglomeration reach (30 min)" in res.loc["saran", "reasons"]


# --------------------------------------------------------------------------------------
# the rules on hand-made tables (no network)


def _towns(**over) -> gpd.GeoDataFrame:
    row = {"id": "t", "name_en": "T", "population": 20_000, "population_year": 2024, "population_2009": 25_000,
           "resource_status": "depleted", "enterprise_status": "closed"}
    row.update(over)
    return gpd.GeoDataFrame([row], geometry=[shapely.Point(70, 50)], crs=4326)


_CENTRES = gpd.GeoDataFrame(
    {"id": ["big", "small"], "name_en": ["Big", "Small"], "population": [500_000, 30_000]},
    geometry=[shapely.Point(71, 50), shapely.Point(70.2, 50)], crs=4326)


def _od(big: float, small: float, town: str = "t") -> pd.DataFrame:
    return pd.DataFrame({"origin": [town, town], "destination": ["big", "small"], "minutes": [big, small],
                         "km": [big, small]})


def _category(towns, od, cfg=None) -> pd.Series:
    return classify(towns, indicators(towns, _CENTRES, od, config=cfg), config=cfg).iloc[0]


def test_rule_agglomeration_needs_a_large_enough_centre():
    # 30 km from a city of half a million: candidate. 10 min from 30,000 people does not count.
    row = _category(_towns(), _od(30, 10))
    assert row["category"] == "agglomeration" and row["nearest_centre"] == "big"
    row = _category(_towns(), _od(120, 10))
    assert row["category"] != "agglomeration" and row["nearest_centre"] == "big"


def test_rule_centre_must_be_larger_than_the_town():
    row = _category(_towns(population=600_000), _od(30, 10))
    assert row["nearest_centre"] is None and np.isnan(row["minutes"])
    assert "no growth centre of 50,000+ people larger than the town" in row["reasons"]
    cfg = parse_scenario("agglomeration:\n  centre_larger_than_town: false\n")
    assert _category(_towns(population=600_000), _od(30, 10), cfg)["category"] == "agglomeration"


def test_rule_relocation_and_its_conditions():
    remote = _od(300, 200)
    assert _category(_towns(), remote)["category"] == "relocation"
    # Growing population: not relocation (and not diversification: the base is gone).
    assert _category(_towns(population=30_000), remote)["category"] == "monitor"
    # Too large a town.
    big = _category(_towns(population=60_000, population_2009=70_000), remote)
    assert big["category"] == "monitor" and "above the relocation limit" in big["reasons"]
    # A closed enterprise counts only if configured.
    cfg = parse_scenario("categories:\n  relocation_if_enterprise_closed: false\n")
    assert _category(_towns(resource_status="not_resource"), remote)["category"] == "relocation"
    assert _category(_towns(resource_status="not_resource"), remote, cfg)["category"] == "monitor"


def test_rule_diversification():
    remote = _od(300, 200)
    row = _category(_towns(resource_status="stable", enterprise_status="operating", population=24_000), remote)
    assert row["category"] == "diversification"  # -0.3 %/yr is above -1 %/yr
    fast = _category(_towns(resource_status="stable", enterprise_status="operating", population=18_000), remote)
    assert fast["category"] == "monitor"  # -2.2 %/yr


def test_missing_indicators_make_decisive_rules_undecided():
    remote = _od(300, 200)
    row = _category(_towns(population_2009=None), remote)
    assert row["category"] == "monitor"
    assert "no 2009 census figure" in row["reasons"]
    row = _category(_towns(resource_status=None, enterprise_status="operating"), remote)
    assert row["category"] == "monitor" and "resource outlook unknown" in row["reasons"]
    assert "resource_status" in row["missing"]
    # A missing trend does not matter once the resource rules out both rules' other conditions.
    row = _category(_towns(population_2009=None, population=80_000), remote)
    assert row["category"] == "monitor" and "above the relocation limit" in row["reasons"]


def test_unreachable_town():
    row = _category(_towns(), _od(np.inf, np.inf))
    assert row["nearest_centre"] is None and np.isnan(row["accessibility"]) and row["category"] == "relocation"
    assert "can be reached by road" in row["reasons"]


def test_missing_population_is_an_error():
    with pytest.raises(geoplan.AnalysisError) as info:
        indicators(_towns(population=None), _CENTRES, _od(30, 10))
    assert "towns without a population figure: T (t)" in str(info.value)
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
    frame = pd.DataFrame({"population": [110, 100, 90], "population_year": [2019, 2019, None],
                          "population_2009": [100, None, 100]})
    rate, years = growth_rate(frame)
    assert rate[0] == pytest.approx(100 * (1.1 ** (1 / (2019 - 2009 - 55 / 365)) - 1))
    assert np.isnan(rate[1]) and np.isnan(rate[2]) and np.isnan(years[2])


# --------------------------------------------------------------------------------------
# comparing scenarios


def test_center_west_changes_only_arkalyk(kz_layers, base):
    cfg = load_scenario(SCENARIOS / "center_west.yaml")
    _, od_b, _, towns_b = _run(apply_edits(kz_layers, cfg), cfg)
    base_rel = relocate(base[3], kz_layers.centres, base[1])
    what_if = relocate(towns_b, kz_layers.centres, od_b, config=cfg)
    changes = compare_results(base_rel.towns, what_if.towns, names=("baseline", "center_west"))
    # The new road runs from Astana to Arkalyk (383 km); no other town is closer to its centre.
    assert list(changes["id"]) == ["arkalyk"]
    row = changes.iloc[0]
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
