"""Rebuild layers/kazakhstan/boundaries.geojson and settlements.geojson from third-party data.

Run from the repository root:  python scripts/build_admin_layers.py [REAL_DIR]

REAL_DIR (default ``../shared/data/real``) holds ``kz_admin_hdx.gpkg`` (OCHA/HDX COD-AB
boundaries as compiled by geokz) and ``kz_places_hotosm_osm.geojson`` (OpenStreetMap
``place=*`` nodes, HOT export). Neither file is copied: the layers written here are derived
from them (simplified, repaired, joined) and credited in layers/kazakhstan/SOURCES.md.

boundaries
    The 224 districts of 2024 are repaired (``make_valid``: Ulytau district is
    self-intersecting upstream), cleaned into an exact coverage (``coverage_clean``: the
    redrawn 2024 districts overlap and leave gaps of up to a few metres), and simplified as a
    coverage (``coverage_simplify``: every shared border is simplified once, so neighbours
    keep sharing it exactly). Regions and the country are the unions of their simplified
    districts, so every district lies exactly inside its region and the districts add up to
    the country.
settlements
    Every place with a ``population`` tag inside (or within ``NEAR_BORDER_M`` of) a district,
    joined to its district and region, and linked to the monotown or growth centre that is the
    same place (same name, within ``LINK_KM``).

The output is deterministic: the same inputs give byte-identical files.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan._io import write_geojson
from geoplan.geography import link_places, locate
from geoplan.maps.web import latin

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "layers" / "kazakhstan"

#: Gaps narrower than this (degrees, about 1 km) between districts are closed by
#: ``coverage_clean``; the widest gap in the 2024 districts is a few metres.
GAP_DEG = 0.01
#: Coverage simplification tolerance (degrees; Visvalingam-Whyatt, about the square root of the
#: area of the triangles removed). 0.003 keeps borders within about 1 km of the source and
#: the three levels near 1 MB.
SIMPLIFY_DEG = 0.003
#: Coordinates written with 6 decimals (about 10 cm), the project's GeoJSON precision.
DECIMALS = 6
#: A place outside every district (at full detail) but this close to one gets the nearest: villages
#: on a shore (Bautino 84 m off the Caspian coastline). Farther places are dropped as outside
#: Kazakhstan: the export holds Kyrgyz and Russian border villages (Tokmok 1.8 km out).
NEAR_BORDER_M = 150.0
#: Largest distance between a settlement and the town or centre it is the same place as.
LINK_KM = 10.0

#: Spellings of region names used by the project's fact tables (towns, centres) and common
#: transliterations, added to the HDX names so a town's ``region`` can be matched.
REGION_ALIASES: dict[str, str] = {
    "Abay": "Abai|Abai Region",
    "Akmola": "Aqmola",
    "Aktobe": "Aqtobe|Aktyubinsk",
    "Almaty": "Almaty Region",
    "Almaty (city)": "Almaty (city of republican significance)|Almaty city|Almaty",
    "Astana (city)": "Astana (city of republican significance)|Astana city|Astana",
    "Atyrau": "Atyrau Region",
    "East Kazakhstan": "Shygys Kazakhstan",
    "Karagandy": "Karaganda|Qaraghandy",
    "Kostanay": "Qostanay|Kostanai",
    "Kyzylorda": "Qyzylorda",
    "Mangystau": "Mangistau",
    "North Kazakhstan": "Soltustik Kazakhstan",
    "Pavlodar": "Pavlodar Region",
    "Shymkent (city)": "Shymkent (city of republican significance)|Shymkent city|Shymkent",
    "Turkestan": "Turkistan",
    "Ulytau": "Ulytau Region",
    "West Kazakhstan": "Batys Kazakhstan",
    "Zhambyl": "Jambyl",
    "Zhetysu": "Jetisu",
}

BOUNDARY_COLUMNS = ["id", "level", "kato", "name_en", "name_ru", "name_kk", "name_alt", "parent_id", "iso_3166_2"]
SETTLEMENT_COLUMNS = ["id", "name", "name_en", "name_ru", "name_kk", "place", "population", "district",
                      "district_kato", "region", "region_kato", "town_id", "centre_id"]


def _round(geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: np.round(xy, DECIMALS))


def build_boundaries(gpkg: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Country, regions and districts as one simplified coverage (``level`` 0, 1, 2).

    Also returns the same layer with the districts at full detail (repaired and cleaned, not
    simplified), used to place settlements near borders in the right district.
    """
    adm2 = gpd.read_file(gpkg, layer="adm2").sort_values("ADM2_PCODE", kind="stable").reset_index(drop=True)
    adm1 = gpd.read_file(gpkg, layer="adm1").sort_values("ADM1_PCODE", kind="stable").reset_index(drop=True)
    adm0 = gpd.read_file(gpkg, layer="adm0")
    if len(adm0) != 1 or len(adm1) != 20 or len(adm2) != 224:
        raise SystemExit(f"{gpkg}: expected 1/20/224 features in adm0/adm1/adm2, "
                         f"got {len(adm0)}/{len(adm1)}/{len(adm2)}")
    geoms = shapely.make_valid(adm2.geometry.to_numpy(), method="structure", keep_collapsed=False)
    geoms = shapely.coverage_clean(geoms, gap_width=GAP_DEG)
    if not shapely.coverage_is_valid(geoms):
        raise SystemExit(f"{gpkg}: the cleaned districts are still not a coverage")
    simple = _round(shapely.coverage_simplify(geoms, SIMPLIFY_DEG))
    bad = ~shapely.is_valid(simple)
    if bad.any() or not shapely.coverage_is_valid(simple):
        raise SystemExit(f"simplified districts invalid: {adm2['ADM2_PCODE'][bad].tolist()}; lower SIMPLIFY_DEG")

    districts = pd.DataFrame({
        "id": adm2["ADM2_PCODE"], "level": 2, "kato": adm2["KATO"],
        "name_en": adm2["ADM2_EN"], "name_ru": adm2["ADM2_RU"], "name_kk": adm2["ADM2_KK"], "name_alt": None,
        "parent_id": adm2["ADM1_PCODE"], "iso_3166_2": adm2["ISO_3166_2"],
    })
    dgdf = gpd.GeoDataFrame(districts, geometry=simple, crs=4326)
    # Regions and country: unions of the simplified districts (shared borders are identical,
    # so the coverage union is exact and leaves no slivers).
    rgeo = dgdf[["parent_id", "geometry"]].dissolve(by="parent_id", method="coverage").sort_index()
    regions = pd.DataFrame({
        "id": adm1["ADM1_PCODE"], "level": 1, "kato": adm1["KATO"],
        "name_en": adm1["ADM1_EN"], "name_ru": adm1["ADM1_RU"], "name_kk": adm1["ADM1_KK"],
        "name_alt": adm1["ADM1_EN"].map(REGION_ALIASES),
        "parent_id": adm1["ADM0_PCODE"], "iso_3166_2": adm1["ISO_3166_2"],
    })
    missing = sorted(set(regions["id"]) ^ set(rgeo.index))
    if missing:
        raise SystemExit(f"regions without districts (or districts without region): {missing}")
    country = pd.DataFrame({
        "id": adm0["ADM0_PCODE"], "level": 0, "kato": adm0["KATO"],
        "name_en": adm0["ADM0_EN"], "name_ru": adm0["ADM0_RU"], "name_kk": adm0["ADM0_KK"],
        "name_alt": "Kazakhstan|Казахстан|Қазақстан", "parent_id": None, "iso_3166_2": "KZ",
    })
    cgeo = shapely.coverage_union_all(simple)
    out = pd.concat([
        gpd.GeoDataFrame(country, geometry=[cgeo], crs=4326),
        gpd.GeoDataFrame(regions, geometry=rgeo.geometry.reindex(regions["id"]).to_numpy(), crs=4326),
        dgdf,
    ], ignore_index=True)
    out["level"] = out["level"].astype("int64")
    # One geometry type for the whole layer, as in the source: GeoPackage and FlatGeobuf keep it.
    polys = np.array(out.geometry.to_numpy(), dtype=object)
    single = shapely.get_type_id(polys) == 3
    polys[single] = shapely.multipolygons(polys[single], indices=np.arange(int(single.sum())))
    out = out.set_geometry(polys)
    out = gpd.GeoDataFrame(out[BOUNDARY_COLUMNS], geometry=out.geometry.to_numpy(), crs=4326)
    out = out.sort_values(["level", "id"], kind="stable").reset_index(drop=True)
    detailed = out.copy()
    is_district = (detailed["level"] == 2).to_numpy()
    detailed.loc[is_district, "geometry"] = (
        gpd.GeoSeries(geoms, index=adm2["ADM2_PCODE"], crs=4326).reindex(detailed.loc[is_district, "id"]).to_numpy())
    return out, detailed


def _population(values: pd.Series) -> pd.Series:
    """OSM ``population`` tags as numbers: ``"12 000"``/``"12,000"`` read as 12000, other text as NaN."""
    text = values.astype(str).str.replace(r"[\s,\u00a0]", "", regex=True)
    return pd.to_numeric(text.where(text.str.fullmatch(r"\d+")), errors="coerce")


def build_settlements(places_file: Path, detailed: gpd.GeoDataFrame, towns: gpd.GeoDataFrame,
                      centres: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """Places with a population, located in districts and linked to towns and centres."""
    raw = gpd.read_file(places_file)
    tagged = raw[raw["population"].notna()].copy()
    pop = _population(tagged["population"])
    stats = {"osm_places": len(raw), "with_population": len(tagged), "unparsable": int(pop.isna().sum())}
    places = tagged[pop.notna()].assign(population=pop[pop.notna()].astype("int64"))
    places = places.rename(columns={"name:en": "name_en", "name:ru": "name_ru", "name:kk": "name_kk"})
    # OSM slips: a `name:en` written (partly) in Cyrillic is replaced by the Russian name in Latin.
    slip = places["name_en"].fillna("").str.contains(r"[\u0400-\u04ff]", regex=True)
    stats["name_en_cyrillic"] = int(slip.sum())
    russian = places["name_ru"].fillna(places["name"]).astype(str)
    places.loc[slip, "name_en"] = russian[slip].map(latin)
    places["osm_id"] = pd.to_numeric(places["osm_id"]).astype("int64")
    places = places.sort_values("osm_id", kind="stable").reset_index(drop=True)
    where = locate(places, detailed, max_distance_m=NEAR_BORDER_M)
    inside = where["district_id"].notna().to_numpy()
    stats["outside_country"] = int((~inside).sum())
    stats["outside_population"] = int(places.loc[~inside, "population"].sum())
    stats["snapped_near_border"] = int((where["outside_m"] > 0).sum())
    places, where = places[inside].reset_index(drop=True), where[inside].reset_index(drop=True)
    out = gpd.GeoDataFrame({
        "id": "osm-n" + places["osm_id"].astype(str),
        "name": places["name"], "name_en": places["name_en"], "name_ru": places["name_ru"],
        "name_kk": places["name_kk"], "place": places["place"], "population": places["population"],
        "district": where["district"], "district_kato": where["district_kato"],
        "region": where["region"], "region_kato": where["region_kato"],
        "town_id": None, "centre_id": None,
    }, geometry=places.geometry.to_numpy(), crs=4326)
    out["town_id"] = link_places(out, towns, max_km=LINK_KM).to_numpy()
    out["centre_id"] = link_places(out, centres, max_km=LINK_KM).to_numpy()
    stats["settlements"] = len(out)
    stats["population"] = int(out["population"].sum())
    stats["linked_towns"] = int(out["town_id"].notna().sum())
    stats["linked_centres"] = int(out["centre_id"].notna().sum())
    return out[[*SETTLEMENT_COLUMNS, "geometry"]], stats


def main() -> None:
    real = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data" / "real"
    if not hasattr(shapely, "coverage_clean"):
        raise SystemExit(f"shapely {shapely.__version__} has no coverage_clean: this script needs shapely >= 2.2 "
                         "(GEOS >= 3.14); pip install -U shapely")
    for name in ("kz_admin_hdx.gpkg", "kz_places_hotosm_osm.geojson"):
        if not (real / name).is_file():
            raise SystemExit(f"{real / name} not found: pass the folder holding it (../shared/data/real)")
    t0 = time.perf_counter()
    boundaries, detailed = build_boundaries(real / "kz_admin_hdx.gpkg")
    t1 = time.perf_counter()
    towns = gpd.read_file(OUT / "towns.geojson")
    centres = gpd.read_file(OUT / "centres.geojson")
    settlements, stats = build_settlements(real / "kz_places_hotosm_osm.geojson", detailed, towns, centres)
    t2 = time.perf_counter()
    write_geojson(boundaries, OUT / "boundaries.geojson", name="boundaries")
    write_geojson(settlements, OUT / "settlements.geojson", name="settlements")
    counts = boundaries["level"].value_counts().sort_index().to_dict()
    size = (OUT / "boundaries.geojson").stat().st_size
    print(f"boundaries: levels {counts}, {shapely.get_num_coordinates(boundaries.geometry.to_numpy()).sum()} "
          f"vertices, {size / 1e6:.2f} MB, {t1 - t0:.1f} s")
    print(f"settlements: {stats}, {(OUT / 'settlements.geojson').stat().st_size / 1e6:.2f} MB, {t2 - t1:.1f} s")
    unlinked = sorted(set(towns["id"]) - set(settlements["town_id"].dropna()))
    print(f"towns without a settlement: {unlinked}")
    print(f"centres without a settlement: {sorted(set(centres['id']) - set(settlements['centre_id'].dropna()))}")


if __name__ == "__main__":
    main()
