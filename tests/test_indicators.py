"""The indicator catalogue, the user's indicator table and the computed indicators."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import geoplan
from geoplan.indicators import (
    BUILTIN,
    Catalogue,
    compute,
    layer_folder,
    load_inputs,
    population_trend,
    read_catalogue,
    read_table,
)
from geoplan.network import attach_places, build_network
from geoplan.scenario import Scenario, parse_scenario
from geoplan.traveltime import od_matrix

KZ = Path(__file__).resolve().parents[1] / "layers" / "kazakhstan"


@pytest.fixture(scope="module")
def od(kz_layers):
    places = pd.concat([kz_layers.towns[["id", "geometry"]], kz_layers.centres[["id", "geometry"]]])
    net, _ = attach_places(build_network(kz_layers.roads), places)
    return od_matrix(net, list(kz_layers.towns["id"]), list(kz_layers.centres["id"]))


@pytest.fixture(scope="module")
def table(kz_layers, od):
    cat, user = load_inputs(list(kz_layers.towns["id"]), config=Scenario.baseline(),
                            folder=layer_folder(kz_layers.sources))
    return compute(kz_layers.towns, kz_layers.centres, od, table=user).set_index("id"), cat


def test_embedded_catalogue_declares_everything_it_uses(table):
    frame, cat = table
    assert cat.source.endswith("indicator_catalogue.csv")
    assert set(cat.names) == {i.name for i in BUILTIN} | {"rail_passenger"}
    for ind in cat:
        assert ind.unit and ind.group and ind.source, ind.name
        assert ind.name in frame.columns
    # The user's column comes from indicators.csv: a fact table of passenger trains.
    assert frame.loc["ridder", "rail_passenger"] == 1 and frame.loc["saran", "rail_passenger"] == 0


def test_spatial_indicators_on_the_embedded_layers(table):
    frame, _ = table
    ridder = frame.loc["ridder"]
    # Ridder: 94 minutes from Oskemen (the figure), its regional centre too.
    assert ridder["minutes"] == pytest.approx(94, abs=2) and ridder["regional_centre"] == "oskemen"
    assert ridder["minutes_regional_centre"] == ridder["minutes"] and ridder["city"] == "oskemen"
    # Zhezkazgan is the Ulytau region's centre: 0 minutes to it, role known.
    assert frame.loc["zhezkazgan", "minutes_regional_centre"] == 0
    assert frame.loc["zhezkazgan", "centre_role"] == "regional_centre"
    # Satpayev: Zhezkazgan (89,092) is its nearest centre but not a 100,000+ city.
    sat = frame.loc["satpayev"]
    assert sat["nearest_centre"] == "zhezkazgan" and sat["city"] != "zhezkazgan" and sat["minutes_city"] > 200
    # People within 90 min of Abai: Karaganda and Temirtau.
    assert frame.loc["abai", "population_90"] == 515_632 + 171_893
    assert frame.loc["arkalyk", "population_90"] == 0
    # Ordinal scores from the layer's statuses.
    assert frame.loc["arkalyk", "resource_score"] == 0 and frame.loc["arkalyk", "enterprise_score"] == 0
    assert frame.loc["balkhash", "resource_score"] == 3 and frame.loc["aksu", "resource_score"] == 2


def test_population_trend_picks_the_best_pair():
    t = pd.DataFrame({
        "population": [110.0, 100.0, 46401.0, 100.0, 90.0],
        "population_year": [2024, 2024, 2012, np.nan, 2024],
        "population_1999": [np.nan, 80.0, 47372.0, 90.0, np.nan],
        "population_2009": [100.0, np.nan, 46712.0, 95.0, np.nan],
        "population_2021": [105.0, np.nan, np.nan, np.nan, np.nan],
    })
    out = population_trend(t)
    # 2021 is only 2.3 years before 2024: the 2009 census is the start.
    assert out["trend_basis"].tolist()[:4] == ["2009 census to 2024 estimate", "1999 census to 2024 estimate",
                                               "1999 census to 2012 estimate", "1999 census to 2009 census"]
    expected = 100 * ((110 / 100) ** (1 / (2024 - 2009 - 55 / 365)) - 1)
    assert out["growth_pct_per_year"].iloc[0] == pytest.approx(expected)
    assert out["trend_basis"].iloc[4] == "fewer than two population figures"
    assert math.isnan(out["growth_pct_per_year"].iloc[4])


def _catalogue(tmp_path: Path, extra: str = "") -> Path:
    p = tmp_path / "cat.csv"
    p.write_text("name,unit,group,direction,year,source,description,in_index\n"
                 "jobs_per_100,jobs,economy,higher_better,2024,akimat,registered jobs per 100 people,yes\n"
                 "minutes,minutes,access,lower_better,,,,no\n" + extra, encoding="utf-8")
    return p


def test_user_catalogue_and_table(tmp_path, kz_layers):
    cat = read_catalogue(_catalogue(tmp_path))
    assert cat["jobs_per_100"].group == "economy" and not cat["jobs_per_100"].computed
    assert cat["minutes"].group == "access" and not cat["minutes"].in_index  # re-declared built-in
    ids = list(kz_layers.towns["id"])
    wide = tmp_path / "wide.csv"
    wide.write_text("id,jobs_per_100,unused\nabai,31.5,x\nridder,,y\n", encoding="utf-8")
    got = read_table(wide, ids, catalogue=cat).set_index("id")
    assert got.loc["abai", "jobs_per_100"] == 31.5
    assert np.isnan(got.loc["ridder", "jobs_per_100"]) and np.isnan(got.loc["arkalyk", "jobs_per_100"])
    assert "unused" not in got.columns  # undeclared columns are not used
    long = tmp_path / "long.csv"
    long.write_text("id,indicator,value\nabai,jobs_per_100,31.5\nabai,other,1\n", encoding="utf-8")
    assert read_table(long, ids, catalogue=cat).set_index("id").loc["abai", "jobs_per_100"] == 31.5


def test_table_errors_name_file_column_and_fix(tmp_path, kz_layers):
    cat = read_catalogue(_catalogue(tmp_path))
    ids = list(kz_layers.towns["id"])
    bad = tmp_path / "t.csv"
    bad.write_text("id,jobs\nabai,1\n", encoding="utf-8")
    with pytest.raises(geoplan.AnalysisError, match=r"t\.csv has no column\(s\) jobs_per_100, declared in .*cat\.csv"):
        read_table(bad, ids, catalogue=cat)
    bad.write_text("id,jobs_per_100\nabai,1 200\nridder,n/a\n", encoding="utf-8")
    with pytest.raises(geoplan.AnalysisError) as info:
        read_table(bad, ids, catalogue=cat)
    assert "column jobs_per_100 holds non-numeric values (abai: '1 200', ridder: 'n/a')" in str(info.value)
    assert "leave a cell empty" in str(info.value)
    bad.write_text("id,jobs_per_100\nnowhere,1\n", encoding="utf-8")
    with pytest.raises(geoplan.AnalysisError, match="nowhere are not in the towns layer"):
        read_table(bad, ids, catalogue=cat)
    bad.write_text("id,jobs_per_100\nabai,1\nabai,2\n", encoding="utf-8")
    with pytest.raises(geoplan.AnalysisError, match="abai listed more than once"):
        read_table(bad, ids, catalogue=cat)
    bad.write_text("town,jobs_per_100\nabai,1\n", encoding="utf-8")
    with pytest.raises(geoplan.AnalysisError, match="no 'id' column"):
        read_table(bad, ids, catalogue=cat)


def test_catalogue_errors(tmp_path):
    with pytest.raises(geoplan.AnalysisError, match=r"cat\.csv:4: bad: direction 'up' is not allowed"):
        read_catalogue(_catalogue(tmp_path, "bad,x,economy,up,,,,yes\n"))
    with pytest.raises(geoplan.AnalysisError, match="is declared twice"):
        read_catalogue(_catalogue(tmp_path, "jobs_per_100,x,economy,higher_better,,,,yes\n"))
    with pytest.raises(geoplan.AnalysisError, match="minutes is computed by geoplan and is lower_better"):
        read_catalogue(_write(tmp_path, "minutes,minutes,access,higher_better,,,,no\n"))
    with pytest.raises(geoplan.AnalysisError, match="not usable as a column name"):
        read_catalogue(_write(tmp_path, "Jobs per 100,x,economy,higher_better,,,,yes\n"))


def _write(tmp_path: Path, row: str) -> Path:
    p = tmp_path / "c2.csv"
    p.write_text("name,unit,group,direction,year,source,description,in_index\n" + row, encoding="utf-8")
    return p


def test_declared_indicator_without_table_is_an_error(tmp_path, kz_layers):
    cfg = parse_scenario(f"indicators:\n  catalogue: {_catalogue(tmp_path)}\n")
    with pytest.raises(geoplan.AnalysisError, match=r"declares indicator\(s\) jobs_per_100 but there is no"):
        load_inputs(list(kz_layers.towns["id"]), config=cfg, folder=tmp_path)


def test_builtin_catalogue_when_the_folder_has_none(tmp_path, kz_layers):
    cat, table = load_inputs(list(kz_layers.towns["id"]), config=Scenario.baseline(), folder=tmp_path)
    assert cat == Catalogue.builtin() and table is None
