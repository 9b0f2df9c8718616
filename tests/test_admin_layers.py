"""The embedded ``boundaries`` and ``settlements`` layers (built by scripts/build_admin_layers.py).

Checked for what a planner relies on: one clean polygon coverage (no gaps, no overlaps, every
district inside its region, the districts adding up to the country), the size budget, the
population and place links of the settlements, and that the committed files are exactly what
the script makes from the real sources (``../shared/data/real``).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import geoplan
from geoplan.geography import level, locate, normalise_names

ROOT = Path(__file__).resolve().parents[1]
KZ = ROOT / "layers" / "kazakhstan"
#: Kazakhstan's area (km²) as published by the Bureau of National Statistics: 2,724,902.
KZ_AREA_KM2 = 2_724_902
EQUAL_AREA = "+proj=aea +lat_1=42 +lat_2=54 +lat_0=48 +lon_0=67 +datum=WGS84 +units=m +no_defs"


@pytest.fixture(scope="module")
def boundaries() -> gpd.GeoDataFrame:
    return gpd.read_file(KZ / "boundaries.geojson")


@pytest.fixture(scope="module")
def settlements() -> gpd.GeoDataFrame:
    return gpd.read_file(KZ / "settlements.geojson")


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("build_admin_layers", ROOT / "scripts" / "build_admin_layers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- boundaries ------------------------------------------------------------------------------

def test_counts_ids_and_codes(boundaries: gpd.GeoDataFrame) -> None:
    assert boundaries["level"].value_counts().sort_index().to_dict() == {0: 1, 1: 20, 2: 224}
    assert boundaries["id"].is_unique and boundaries["kato"].is_unique
    assert boundaries["kato"].str.fullmatch(r"\d{9}").all()
    for col in ("name_en", "name_ru", "name_kk"):
        assert boundaries[col].notna().all() and (boundaries[col].str.strip() != "").all()
    # KATO nests: a district's code starts with its region's two digits.
    d, r = level(boundaries, 2), level(boundaries, 1).set_index("id")
    assert (d["kato"].str[:2] == r.loc[d["parent_id"], "kato"].str[:2].to_numpy()).all()
    assert set(r["parent_id"]) == {"KZ"}


def test_valid_and_small(boundaries: gpd.GeoDataFrame) -> None:
    assert shapely.is_valid(boundaries.geometry.to_numpy()).all()
    assert set(boundaries.geom_type) <= {"Polygon", "MultiPolygon"}
    assert (KZ / "boundaries.geojson").stat().st_size < 1_500_000


def test_districts_form_a_coverage_without_gaps(boundaries: gpd.GeoDataFrame) -> None:
    districts = level(boundaries, 2).geometry.to_numpy()
    # No overlaps and shared borders identical vertex for vertex ...
    assert shapely.coverage_is_valid(districts)
    tree = shapely.STRtree(districts)
    a, b = tree.query(districts, predicate="intersects")
    pairs = a < b
    overlap = shapely.area(shapely.intersection(districts[a[pairs]], districts[b[pairs]]))
    assert overlap.max() < 1e-12
    # ... and no gap: the union of the districts has no hole.
    union = shapely.union_all(districts)
    holes = sum(len(p.interiors) for p in getattr(union, "geoms", [union]))
    assert holes == 0


def test_levels_nest_exactly(boundaries: gpd.GeoDataFrame) -> None:
    country = level(boundaries, 0).geometry.iloc[0]
    regions = level(boundaries, 1).set_index("id")
    districts = level(boundaries, 2)
    assert shapely.symmetric_difference(shapely.union_all(districts.geometry.to_numpy()), country).area < 1e-9
    assert shapely.symmetric_difference(shapely.union_all(regions.geometry.to_numpy()), country).area < 1e-9
    parent = regions.geometry.reindex(districts["parent_id"]).to_numpy()
    assert shapely.covers(parent, districts.geometry.to_numpy()).all()
    # Each region is exactly the union of its districts.
    dissolved = districts.dissolve(by="parent_id").geometry.reindex(regions.index).to_numpy()
    assert (shapely.area(shapely.symmetric_difference(dissolved, regions.geometry.to_numpy())) < 1e-9).all()
    assert districts["parent_id"].value_counts()["KZ35"] == 13  # Karagandy region's districts in 2024


def test_area_matches_the_published_figure(boundaries: gpd.GeoDataFrame) -> None:
    area = level(boundaries, 0).to_crs(EQUAL_AREA).area.iloc[0] / 1e6
    assert abs(area / KZ_AREA_KM2 - 1) < 0.01, area


def test_close_to_the_source(boundaries: gpd.GeoDataFrame, real_data: Path) -> None:
    src = gpd.read_file(real_data / "kz_admin_hdx.gpkg", layer="adm2").set_index("ADM2_PCODE")
    ours = level(boundaries, 2).set_index("id")
    src = src.reindex(ours.index)
    assert (src["KATO"] == ours["kato"]).all() and (src["ADM2_RU"] == ours["name_ru"]).all()
    a_src = src.make_valid().to_crs(EQUAL_AREA).area.to_numpy()
    a_ours = ours.to_crs(EQUAL_AREA).area.to_numpy()
    rel = np.abs(a_ours / a_src - 1)
    assert rel.max() < 0.03, ours.index[np.argmax(rel)]  # small city districts move most
    assert np.median(rel) < 0.002
    shift = shapely.hausdorff_distance(ours.to_crs(EQUAL_AREA).geometry.to_numpy(),
                                       src.make_valid().to_crs(EQUAL_AREA).geometry.to_numpy())
    assert shift.max() < 2500  # metres


# -- settlements -------------------------------------------------------------------------------

def test_settlements_population_and_places(settlements: gpd.GeoDataFrame) -> None:
    assert 3300 < len(settlements) < 3547 and settlements["id"].is_unique
    assert settlements["id"].str.fullmatch(r"osm-n\d+").all()
    pop = settlements["population"]
    assert pd.api.types.is_integer_dtype(pop) and (pop >= 0).all()
    assert 16_000_000 < pop.sum() < 17_000_000
    assert set(settlements["place"]) <= {"city", "town", "village", "hamlet", "isolated_dwelling"}
    almaty = settlements[settlements["centre_id"] == "almaty"]
    assert len(almaty) == 1 and almaty["district"].iloc[0] == "Bostandyk"


def test_english_names_are_latin(settlements: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame) -> None:
    """OSM slips (a Cyrillic ``name:en``) are written in Latin by the build script."""
    for layer in (settlements, boundaries):
        cyrillic = layer.loc[layer["name_en"].fillna("").str.contains(r"[\u0400-\u04ff]"), ["id", "name_en"]]
        assert cyrillic.empty, cyrillic.to_string()
    assert settlements.set_index("id").loc["osm-n3258826805", "name_en"] == "Targap"


def test_settlements_lie_in_their_district(settlements: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame) -> None:
    where = locate(settlements, boundaries, max_distance_m=200)
    assert where["district_id"].notna().all()  # shore villages within 150 m are allowed
    assert (where["district_kato"] == settlements["district_kato"]).all()
    assert (where["region_kato"] == settlements["region_kato"]).all()
    assert (where["region"] == settlements["region"]).all()


def test_links_are_right(settlements: gpd.GeoDataFrame, kz_path: Path) -> None:
    towns = gpd.read_file(kz_path / "towns.geojson").set_index("id")
    centres = gpd.read_file(kz_path / "centres.geojson").set_index("id")
    for col, places in (("town_id", towns), ("centre_id", centres)):
        linked = settlements[settlements[col].notna()]
        assert linked[col].is_unique  # one settlement per place: nobody counted twice
        p = places.loc[linked[col]]
        metres = linked.to_crs(EQUAL_AREA).distance(p.to_crs(EQUAL_AREA).set_index(linked.index).geometry)
        assert metres.max() < 10_000
        same_name = (normalise_names(linked["name_ru"]).to_numpy() == normalise_names(p["name_ru"]).to_numpy()) | (
            normalise_names(linked["name_kk"]).to_numpy() == normalise_names(p["name_kk"]).to_numpy())
        assert same_name.all(), linked[~same_name][["name", col]]
        # Populations agree (independent sources, different dates): within 25 %.
        ratio = linked["population"].to_numpy() / p["population"].to_numpy()
        assert ((ratio > 0.75) & (ratio < 1.25)).all()
    # Temirtau and Zhezkazgan are towns and centres: one settlement carries both links.
    both = settlements[settlements["town_id"].notna() & settlements["centre_id"].notna()]
    assert sorted(both["town_id"]) == ["temirtau", "zhezkazgan"] and (both["town_id"] == both["centre_id"]).all()


def test_every_place_in_the_osm_export_is_linked(settlements: gpd.GeoDataFrame, kz_path: Path,
                                                  real_data: Path) -> None:
    """Independent check on the raw export: a town or centre whose Russian name is a populated
    OSM place within 10 km must be linked to it (Kyzylorda has no populated node: unlinked)."""
    raw = gpd.read_file(real_data / "kz_places_hotosm_osm.geojson")
    raw = raw[raw["population"].notna() & raw["name:ru"].notna()].to_crs(EQUAL_AREA)
    key = raw["name:ru"].str.lower().str.replace("ё", "е")
    for layer, col in (("towns", "town_id"), ("centres", "centre_id")):
        places = gpd.read_file(kz_path / f"{layer}.geojson").to_crs(EQUAL_AREA)
        pkey = places["name_ru"].str.split(" (", regex=False).str[0].str.lower().str.replace("ё", "е")
        pairs = places[["id", "geometry"]].assign(key=pkey).merge(
            raw[["osm_id", "geometry"]].assign(key=key), on="key", suffixes=("", "_osm"))
        near = pairs[gpd.GeoSeries(pairs["geometry"]).distance(gpd.GeoSeries(pairs["geometry_osm"])) < 10_000]
        expected = set(near["id"])
        got = set(settlements[col].dropna())
        assert expected <= got, expected - got
        assert len(expected) >= (29 if layer == "towns" else 19)
        want = near.drop_duplicates("id").set_index("id")["osm_id"].astype(str)
        linked = settlements[settlements[col].isin(want.index)].set_index(col)["id"].str[5:]
        assert (linked.reindex(want.index) == want).all()
    assert "kyzylorda" not in set(settlements["centre_id"].dropna())


# -- the build script --------------------------------------------------------------------------

def test_script_rebuilds_the_committed_files(real_data: Path, tmp_path: Path) -> None:
    """The committed layers are exactly what the script makes (deterministic, up to date)."""
    script = _script()
    out = tmp_path / "kazakhstan"
    shutil.copytree(KZ, out)
    for name in ("boundaries.geojson", "settlements.geojson"):
        (out / name).unlink()
    script.OUT = out
    sys_argv = sys.argv
    sys.argv = ["build_admin_layers.py", str(real_data)]
    try:
        script.main()
    finally:
        sys.argv = sys_argv
    for name in ("boundaries.geojson", "settlements.geojson"):
        assert (out / name).read_bytes() == (KZ / name).read_bytes(), f"{name}: rerun scripts/build_admin_layers.py"


def test_script_runs_from_the_command_line(real_data: Path, tmp_path: Path) -> None:
    script = ROOT / "scripts" / "build_admin_layers.py"
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "nowhere")], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    assert proc.returncode != 0 and "kz_admin_hdx.gpkg" in proc.stderr


def test_embedded_credits(kz_path: Path) -> None:
    meta = geoplan.read_layers(kz_path).meta
    text = " ".join(meta["attribution"])
    assert "OpenStreetMap contributors" in text and "CC BY-IGO" in text and "geokz" in text
    sources = (kz_path / "SOURCES.md").read_text(encoding="utf-8")
    assert "boundaries.geojson" in sources and "settlements.geojson" in sources and "ODbL" in sources
