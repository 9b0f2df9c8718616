"""geoplan.agglomeration: places and districts inside each centre's agglomeration band."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

import geoplan
from geoplan import AnalysisError
from geoplan.agglomeration import DISTRICT_COLUMNS, MEMBER_COLUMNS, agglomerations, composition
from geoplan.layers import LayerSet


def _boundaries() -> gpd.GeoDataFrame:
    """Region R with districts A (west half) and B (east half) of a 2 x 1 degree box."""
    rows = [("C", 0, "000000000", "Country", None, box(0, 0, 2, 1)),
            ("R", 1, "100000000", "Region", "C", box(0, 0, 2, 1)),
            ("A", 2, "101000000", "Alpha", "R", box(0, 0, 1, 1)),
            ("B", 2, "102000000", "Beta", "R", box(1, 0, 2, 1))]
    df = pd.DataFrame(rows, columns=["id", "level", "kato", "name_en", "parent_id", "geometry"])
    return gpd.GeoDataFrame(df, geometry="geometry", crs=4326)


def _points(rows: list[tuple[str, float, float, int]], **extra: list[object]) -> gpd.GeoDataFrame:
    df = pd.DataFrame(rows, columns=["id", "x", "y", "population"]).assign(name_en=lambda d: d["id"], **extra)
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["x"], df["y"]), crs=4326)


@pytest.fixture
def case() -> dict[str, gpd.GeoDataFrame]:
    centres = _points([("city", 0.5, 0.5, 100_000), ("far", 1.9, 0.9, 60_000)])
    towns = _points([("mono", 0.8, 0.5, 20_000)])
    settlements = _points(
        [("s-city", 0.51, 0.5, 99_000), ("s1", 0.2, 0.2, 5_000), ("s2", 1.2, 0.5, 3_000), ("s3", 1.8, 0.2, 9_000),
         ("s4", 0.9, 0.9, 1_000)],
        centre_id=["city", None, None, None, None], town_id=[None, None, None, None, None])
    # The band of "city": the west district and a strip of the east one; "far" gets a small box.
    bands = gpd.GeoDataFrame({"centre": ["city", "far"], "centre_name": ["City", "Far"], "band": [90, 90]},
                             geometry=[box(0, 0, 1.3, 1), box(1.85, 0.85, 1.95, 0.95)], crs=4326)
    return {"centres": centres, "towns": towns, "settlements": settlements, "bands": bands,
            "boundaries": _boundaries()}


def test_composition_counts_places_once_and_shares_districts(case: dict[str, gpd.GeoDataFrame]) -> None:
    agg = composition(case["bands"], towns=case["towns"], centres=case["centres"], settlements=case["settlements"],
                      boundaries=case["boundaries"])
    city = agg.centres.set_index("centre").loc["city"]
    # city (100k, its OSM twin s-city not counted again) + mono 20k + s1 5k + s4 1k + s2 3k.
    assert city["population"] == 129_000 and city["places"] == 5 and city["settlements"] == 3
    assert city["towns"] == "mono" and city["max_minutes"] == 90
    assert city["districts"] == "Alpha" and city["district_katos"] == "101000000"
    d = agg.districts[agg.districts["centre"] == "city"].set_index("district_id")
    assert d.loc["A", "population_inside"] == 126_000 and d.loc["A", "share"] == 1.0 and d.loc["A", "member"]
    # Beta: 3,000 of 3,000 + 9,000 + 60,000 (the far centre) inside; area share 30 %.
    assert d.loc["B", "district_population"] == 72_000 and d.loc["B", "share"] == pytest.approx(3 / 72, abs=1e-4)
    assert not d.loc["B", "member"] and d.loc["B", "area_share"] == pytest.approx(0.3, abs=0.01)
    assert list(agg.districts.columns) == list(DISTRICT_COLUMNS)
    assert list(agg.members.columns) == list(MEMBER_COLUMNS)
    m = agg.members
    assert m.groupby("centre")["population"].sum().to_dict() == {"city": 129_000, "far": 60_000}
    assert not m.duplicated(["centre", "place"]).any() and "s-city" not in set(m["place"])
    assert agg.centres.crs.to_epsg() == 4326 and list(agg.centres["centre"]) == ["city", "far"]


def test_district_without_counted_people_goes_by_area(case: dict[str, gpd.GeoDataFrame]) -> None:
    s = case["settlements"]
    case["settlements"] = s[~s["id"].isin(["s2", "s3"])]
    case["centres"] = case["centres"][case["centres"]["id"] == "city"]
    bands = case["bands"].iloc[:1].copy()
    bands.loc[0, "geometry"] = box(0, 0, 1.7, 1)  # 70 % of Beta's area, none of its (zero) people
    agg = composition(bands, towns=case["towns"], centres=case["centres"], settlements=case["settlements"],
                      boundaries=case["boundaries"], min_share=0.6)
    d = agg.districts.set_index("district_id")
    assert np.isnan(d.loc["B", "share"]) and d.loc["B", "member"]
    assert agg.centres.iloc[0]["districts"] == "Alpha, Beta"


def test_centre_outside_its_clipped_band_still_counts(case: dict[str, gpd.GeoDataFrame]) -> None:
    bands = case["bands"].iloc[1:].copy()
    bands.loc[1, "geometry"] = box(1.0, 0.0, 1.5, 0.5)  # "far" (1.9, 0.9) lies outside
    agg = composition(bands, towns=case["towns"], centres=case["centres"], settlements=case["settlements"],
                      boundaries=case["boundaries"])
    assert agg.centres.iloc[0]["population"] == 60_000 + 3_000  # itself and s2 (on the band's edge)


def test_without_boundaries_or_settlements(case: dict[str, gpd.GeoDataFrame]) -> None:
    agg = composition(case["bands"], towns=case["towns"], centres=case["centres"])
    assert agg.centres.set_index("centre").loc["city", "population"] == 120_000
    assert agg.districts.empty and (agg.centres["districts"] == "").all()


def test_bad_input(case: dict[str, gpd.GeoDataFrame]) -> None:
    with pytest.raises(AnalysisError, match="'centre' column"):
        composition(case["bands"].drop(columns="centre"), towns=case["towns"], centres=case["centres"])
    with pytest.raises(AnalysisError, match="min_share"):
        composition(case["bands"], towns=case["towns"], centres=case["centres"], min_share=0)
    layers = geoplan.read_layers(geoplan.embedded_layers_path())
    with pytest.raises(AnalysisError, match="no growth centre with id atlantis"):
        agglomerations(layers, centre_ids=["atlantis"])


@pytest.fixture(scope="module")
def kz() -> LayerSet:
    return geoplan.read_layers(geoplan.embedded_layers_path())


def test_karaganda_and_almaty_against_known_figures(kz: LayerSet) -> None:
    """Within 90 minutes: the Karaganda-Temirtau agglomeration (about 1 M people with its
    satellite towns) and the Almaty agglomeration (the city's 2.2 M plus Karasay, Talgar, Ile,
    Enbekshikazakh and Zhambyl districts and Konaev: about 3 M)."""
    agg = agglomerations(kz, centre_ids=["karaganda", "almaty"])
    c = agg.centres.set_index("centre")
    assert 800_000 < c.loc["karaganda", "population"] < 1_200_000
    assert set(c.loc["karaganda", "towns"].split(", ")) >= {"temirtau", "saran", "shakhtinsk", "abai"}
    assert 2_600_000 < c.loc["almaty", "population"] < 3_600_000
    almaty = agg.districts[(agg.districts["centre"] == "almaty") & agg.districts["member"]]
    assert set(almaty["district"]) >= {"Karasay", "Talgar", "Ile", "Enbekshikazakh", "Konaiev"}
    assert (almaty["region"].isin(["Almaty", "Almaty (city)"])).all()
    # Consistent tables: the centre's population is the sum over its member places.
    assert agg.members.groupby("centre")["population"].sum().round().astype(int).to_dict() == \
        c["population"].to_dict()
    inside = agg.districts.groupby("centre")["population_inside"].sum()
    assert (inside <= c["population"].reindex(inside.index)).all()


def test_cli_agglomerations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from geoplan.cli import main

    out = tmp_path / "agg.geojson"
    with pytest.raises(SystemExit) as exc:
        main(["agglomerations", "--out", str(out), "--minutes", "60"])
    assert exc.value.code == 0
    assert "wrote 21 agglomerations" in capsys.readouterr().out
    back = gpd.read_file(out).set_index("centre")
    assert back.crs.to_epsg() == 4326 and (back["max_minutes"] == 60).all()
    assert "temirtau" in back.loc["karaganda", "towns"].split(", ")
    table = pd.read_csv(tmp_path / "agg.csv", dtype={"district_kato": str})
    assert list(table.columns) == list(DISTRICT_COLUMNS) and table["district_kato"].str.fullmatch(r"\d{9}").all()
    before = out.read_bytes()
    with pytest.raises(SystemExit) as exc:
        main(["agglomerations", "--out", str(out), "--min-share", "2"])
    assert exc.value.code == 2 and out.read_bytes() == before  # refused before any work
