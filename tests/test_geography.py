"""geoplan.geography: points in districts, declared regions, one identity per place."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from geoplan.geography import link_places, locate, normalise_names, population_points, region_matches


def _boundaries() -> gpd.GeoDataFrame:
    """Two regions of two districts each on a 2 x 2 degree square."""
    rows = [
        ("C", 0, "000000000", "Country", None, box(0, 0, 2, 2)),
        ("RA", 1, "100000000", "Alpha", "C", box(0, 0, 1, 2)),
        ("RB", 1, "200000000", "Beta", "C", box(1, 0, 2, 2)),
        ("A1", 2, "101000000", "A-one", "RA", box(0, 0, 1, 1)),
        ("A2", 2, "102000000", "A-two", "RA", box(0, 1, 1, 2)),
        ("B1", 2, "201000000", "B-one", "RB", box(1, 0, 2, 1)),
        ("B2", 2, "202000000", "B-two", "RB", box(1, 1, 2, 2)),
    ]
    df = pd.DataFrame(rows, columns=["id", "level", "kato", "name_en", "parent_id", "geometry"])
    df["name_ru"] = df["name_en"].str.upper()
    df["name_kk"] = None
    df["name_alt"] = np.where(df["id"] == "RB", "Bet|Betta region", None)
    return gpd.GeoDataFrame(df, geometry="geometry", crs=4326)


def test_locate_inside_border_outside_and_nearest() -> None:
    pts = gpd.GeoSeries([Point(0.5, 0.5), Point(1.5, 1.5), Point(1.0, 0.5), Point(2.001, 0.5), Point(5, 5)],
                        index=[10, 11, 12, 13, 14], crs=4326)
    got = locate(pts, _boundaries())
    assert list(got.index) == [10, 11, 12, 13, 14]
    assert got["district_id"].tolist()[:3] == ["A1", "B2", "A1"]  # border point: smaller id
    assert got["district_id"].isna().tolist() == [False, False, False, True, True]
    assert got["region"].tolist()[:3] == ["Alpha", "Beta", "Alpha"]
    assert got["district_kato"].tolist()[:2] == ["101000000", "202000000"]
    assert got["outside_m"].tolist()[:3] == [0, 0, 0] and np.isnan(got["outside_m"].iloc[3])
    near = locate(pts, _boundaries(), max_distance_m=500)
    assert near["district_id"].tolist()[3] == "B1" and 50 < near["outside_m"].iloc[3] < 150
    assert pd.isna(near["district_id"].iloc[4])
    # Row order does not change the answer.
    rev = locate(pts.iloc[::-1], _boundaries(), max_distance_m=500)
    pd.testing.assert_frame_equal(rev.loc[near.index], near)


def test_locate_empty_and_projected_points() -> None:
    assert len(locate(gpd.GeoSeries([], crs=4326), _boundaries())) == 0
    metric = gpd.GeoSeries([Point(1.5, 0.5)], crs=4326).to_crs(3857)
    assert locate(metric, _boundaries())["district_id"].tolist() == ["B1"]


def test_normalise_names() -> None:
    got = normalise_names(pd.Series(["Altai (Zyryanovsk until 2019)", "Приозёрск", " Усть-Каменогорск ", None]))
    assert got.tolist() == ["altai", "приозерск", "устькаменогорск", ""]


def test_region_matches_names_alternatives_and_codes() -> None:
    declared = pd.Series(["Alpha", "betta region", "200000000", "Alpha", "", "Beta"])
    located = pd.Series(["RA", "RB", "RB", "RB", "RA", None])
    assert region_matches(declared, located, _boundaries()).tolist() == [True, True, True, False, True, True]


def _places(rows: list[tuple[str, str, str, float, float]]) -> gpd.GeoDataFrame:
    df = pd.DataFrame(rows, columns=["id", "name_en", "name_ru", "x", "y"])
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["x"], df["y"]), crs=4326)


def test_link_places_needs_name_and_distance() -> None:
    settlements = _places([
        ("s1", "Saran", "Сарань", 72.85, 49.80),       # Saran, 2 km away: linked
        ("s2", "Saran", "Сарань", 73.50, 49.80),       # same name, 47 km away: not linked
        ("s3", "Other", "Другой", 72.951, 50.051),     # 100 m from Temirtau, other name: not linked
        ("s4", "Temirtau", "Темиртау", 72.96, 50.06),  # Temirtau: linked
        ("s5", None, "ТЕМИРТАУ", 72.97, 50.07),        # also Temirtau but farther: not linked twice
    ])
    towns = _places([("saran", "Saran", "Сарань", 72.85, 49.7833), ("temirtau", "Temirtau", "Темиртау", 72.95, 50.05),
                     ("ghost", "Ghost", "Призрак", 60.0, 45.0)])
    got = link_places(settlements.set_index(pd.Index([5, 6, 7, 8, 9])), towns, max_km=10)
    assert got.where(got.notna(), None).to_dict() == {5: "saran", 6: None, 7: None, 8: "temirtau", 9: None}


def test_population_points_counts_everyone_once() -> None:
    towns = _places([("temirtau", "Temirtau", "", 72.95, 50.05), ("saran", "Saran", "", 72.85, 49.78)])
    towns["population"] = [170_000, 40_000]
    centres = _places([("temirtau", "Temirtau", "", 72.95, 50.05), ("karaganda", "Karaganda", "", 73.1, 49.8)])
    centres["population"] = [171_000, 500_000]
    settlements = _places([("s1", "Temirtau", "", 72.96, 50.06), ("s2", "Karaganda", "", 73.1, 49.8),
                           ("s3", "Village", "", 73.0, 49.9)])
    settlements["population"] = [171_609, 520_000, 1_000]
    settlements["town_id"] = ["temirtau", None, None]
    settlements["centre_id"] = ["temirtau", "karaganda", ""]
    pts = population_points(settlements, towns, centres)
    assert sorted(pts["id"]) == ["karaganda", "s3", "saran", "temirtau"]
    assert pts["population"].sum() == 170_000 + 40_000 + 500_000 + 1_000
    assert dict(zip(pts["id"], pts["kind"], strict=True))["s3"] == "settlement"
    assert len(population_points(None, towns, centres)) == 3
    # Saran removed from the towns: a settlement linked to it counts as itself.
    settlements["town_id"] = ["saran", None, None]
    settlements["centre_id"] = [None, "karaganda", None]
    pts = population_points(settlements, towns[towns["id"] != "saran"], centres)
    assert "s1" in set(pts["id"]) and pts["population"].sum() == 170_000 + 500_000 + 1_000 + 171_609


def test_embedded_towns_and_centres_get_districts(kz_path: Path) -> None:
    boundaries = gpd.read_file(kz_path / "boundaries.geojson")
    for layer in ("towns", "centres"):
        places = gpd.read_file(kz_path / f"{layer}.geojson")
        where = locate(places, boundaries)
        assert where["district_kato"].notna().all(), places["id"][where["district_kato"].isna()].tolist()
        assert region_matches(places["region"], where["region_id"], boundaries).all()
    towns = gpd.read_file(kz_path / "towns.geojson")
    where = locate(towns, boundaries).set_index(towns["id"])
    # Town-level KATO codes of cities of regional significance (Bureau of National Statistics).
    assert where.loc["temirtau", "district_kato"] == "352400000"
    assert where.loc["ekibastuz", "district"] == "Ekibastuz"


@pytest.mark.parametrize("declared", ["Karaganda", "Karagandy", "Карагандинская", "350000000", "KZ35"])
def test_embedded_region_spellings(kz_path: Path, declared: str) -> None:
    boundaries = gpd.read_file(kz_path / "boundaries.geojson")
    assert region_matches(pd.Series([declared]), pd.Series(["KZ35"]), boundaries).all()
    assert not region_matches(pd.Series([declared]), pd.Series(["KZ55"]), boundaries).any()
