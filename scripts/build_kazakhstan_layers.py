"""Rebuild layers/kazakhstan/*.geojson from the fact tables in ../shared/data/facts.

Run from the repository root:  python scripts/build_kazakhstan_layers.py [FACTS_DIR]

The fact tables are the project's compiled sources; the GeoJSON layers are what geoplan and
GIS users read and edit. Corrections to the facts are applied here (see CORRECTIONS) and
documented in layers/kazakhstan/SOURCES.md, so the layers can always be regenerated.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geoplan._io import write_geojson
from geoplan.layers import CENTRES, RAIL, RAIL_STATIONS, ROADS, TOWNS, LayerSet, normalise, require_valid

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "layers" / "kazakhstan"
#: Kazakhstan's bounding box (HDX COD-AB adm0: 46.49, 40.59, 87.31, 55.43), rounded outwards.
EXTENT = [46.0, 40.0, 88.0, 56.0]

#: Credits the layer set's data require wherever it is shown (maps, exports), one string per
#: source: written to layerset.json ("attribution"), which maps and exports read, so the
#: wording lives in one place. Boundaries and settlements come from scripts/build_admin_layers.py.
ATTRIBUTION: list[str] = [
    "© OpenStreetMap contributors (ODbL): settlements, parts of the roads, rail and places",
    "Boundaries: OCHA / HDX COD-AB Kazakhstan (CC BY-IGO), via geokz by A. Rodionov (CC BY 4.0)",
    "GeoNames (CC BY 4.0): place coordinates",
]

#: (table, id, column, new value, reason) - errors found in the fact tables.
CORRECTIONS: list[tuple[str, str, str, object, str]] = []

#: Road links missing from kz_road_links.csv, found by comparing routes with an independent graph.
ADDED_LINKS = [
    {
        "link_id": "KZR176",
        "from_node": "karazhal",
        "to_node": "toguskyen",
        "road_ref": "rep: Atasu-Karazhal-Toguskyen (KZ20-01)",
        "road_class": "secondary",
        "lanes": None,
        "length_km": "80",
        "length_source": "estimated",
        "surface": None,
        "note": "added by geoplan: the western half of regional road KZ20-01, which leaves A-17 near Toguskyen; "
        "without it Karazhal reached Zhezkazgan only via Atasu (429 km instead of about 265 km); "
        "length = great-circle 69.8 km x 1.15",
    }
]


def _points(df: pd.DataFrame) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=4326)


def _apply(df: pd.DataFrame, table: str, key: str) -> pd.DataFrame:
    df = df.copy()
    for tab, fid, col, value, _ in CORRECTIONS:
        if tab == table:
            df.loc[df[key] == fid, col] = value
    return df


def _split_source(values: pd.Series, notes: pd.Series, label: str) -> tuple[pd.Series, list[str]]:
    """``published <URL>`` / ``estimated`` -> the bare word, with the URL appended to the note."""
    src = values.fillna("estimated").str.split(" ", n=1)
    merged = [
        "; ".join(p for p in (n if isinstance(n, str) else "", f"{label}: {s[1]}" if len(s) > 1 else "") if p)
        for n, s in zip(notes, src, strict=True)
    ]
    return src.str[0], merged


def _straight_lines(nodes: pd.DataFrame, a_ids: pd.Series, b_ids: pd.Series) -> gpd.GeoSeries:
    a = nodes.loc[a_ids, ["lon", "lat"]].to_numpy()
    b = nodes.loc[b_ids, ["lon", "lat"]].to_numpy()
    return gpd.GeoSeries.from_wkt(
        [f"LINESTRING ({x0} {y0}, {x1} {y1})" for (x0, y0), (x1, y1) in zip(a, b, strict=True)], crs=4326
    )


def build_rail(facts: Path, place_ids: set[str]) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The ``rail_stations`` and ``rail`` layers from ``kz_rail_stations.csv`` and ``kz_rail_links.csv``.

    ``serves`` keeps only ids of towns and centres (the places geoplan analyses); a station
    serving another road node (a district town such as Shu or Esil) carries that node's id as
    its own station id already. Each link is a straight line between its stations; ``km`` is
    the track length from the facts.
    """
    st = pd.read_csv(facts / "kz_rail_stations.csv", dtype=str, keep_default_na=False)
    st = st.rename(columns={"station_id": "id"})
    st["serves"] = st["serves"].where(st["serves"].isin(place_ids), None)
    st = _points(st.assign(lat=st.lat.astype(float), lon=st.lon.astype(float)))
    stations = normalise(st, RAIL_STATIONS)[[*RAIL_STATIONS.column_names, "geometry"]]

    links = pd.read_csv(facts / "kz_rail_links.csv", dtype=str)
    km_source, note = _split_source(links["km_source"], links["note"], "km")
    links = links.assign(id=links["link_id"], km_source=km_source, note=note)
    xy = st.set_index("id")[["lon", "lat"]]
    rail = gpd.GeoDataFrame(links, geometry=_straight_lines(xy, links["from_station"], links["to_station"]), crs=4326)
    rail = normalise(rail, RAIL)[[*RAIL.column_names, "geometry"]]
    return stations, rail


def build(facts: Path) -> LayerSet:
    towns = _apply(pd.read_csv(facts / "kz_monotowns.csv", dtype=str), "kz_monotowns", "id")
    towns = towns.rename(columns={"town_forming_enterprise": "enterprise", "source_urls": "sources"})
    towns = _points(towns.assign(lat=towns.lat.astype(float), lon=towns.lon.astype(float)))

    centres = _apply(pd.read_csv(facts / "kz_growth_centres.csv", dtype=str), "kz_growth_centres", "id")
    centres = centres.rename(columns={"source_urls": "sources"})
    centres = _points(centres.assign(lat=centres.lat.astype(float), lon=centres.lon.astype(float)))

    nodes = pd.read_csv(facts / "kz_road_nodes.csv", dtype={"node_id": str}).set_index("node_id")
    links = pd.read_csv(facts / "kz_road_links.csv", dtype=str)
    links = pd.concat([links, pd.DataFrame(ADDED_LINKS, dtype=object)], ignore_index=True)
    links = _apply(links, "kz_road_links", "link_id")
    src = links["length_source"].fillna("estimated").str.split(" ", n=1)
    links = links.assign(
        id=links["link_id"],
        length_source=src.str[0],
        note=[
            "; ".join(p for p in (n if isinstance(n, str) else "", f"length: {s[1]}" if len(s) > 1 else "") if p)
            for n, s in zip(links["note"], src, strict=True)
        ],
    )
    a = nodes.loc[links["from_node"], ["lon", "lat"]].to_numpy()
    b = nodes.loc[links["to_node"], ["lon", "lat"]].to_numpy()
    lines = gpd.GeoSeries.from_wkt(
        [f"LINESTRING ({x0} {y0}, {x1} {y1})" for (x0, y0), (x1, y1) in zip(a, b, strict=True)], crs=4326
    )
    roads = gpd.GeoDataFrame(links, geometry=lines, crs=4326)

    stations, rail = build_rail(facts, set(towns["id"]) | set(centres["id"]))
    layers = LayerSet(
        {
            "towns": normalise(towns, TOWNS)[[*[f.name for f in TOWNS.fields], "geometry"]],
            "centres": normalise(centres, CENTRES)[[*[f.name for f in CENTRES.fields], "geometry"]],
            "roads": normalise(roads, ROADS)[[c for c in ROADS.column_names if c in roads.columns] + ["geometry"]],
            "rail_stations": stations,
            "rail": rail,
        },
        meta={"name": "Kazakhstan", "extent": EXTENT,
              "description": "Kazakhstan monotowns, growth centres, settlements, administrative boundaries "
                             "and schematic national road and passenger rail networks",
              "attribution": ATTRIBUTION},
    )
    return layers


def main() -> None:
    facts = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data" / "facts"
    layers = build(facts)
    warnings = require_valid(layers)
    for w in warnings:
        print(w)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, gdf in layers.layers.items():
        gdf = gdf.sort_values("id", kind="stable").reset_index(drop=True)
        write_geojson(gdf, OUT / f"{name}.geojson", name=name)
        print(f"{name}: {len(gdf)} features")
    (OUT / "layerset.json").write_text(json.dumps(layers.meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
