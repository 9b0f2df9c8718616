"""The network builder on a real, independent road graph: Kazakhstan's highways from Travel Mapping.

The graph (``../shared/data/real/kz_highways_travelmapping.gpkg``, test data only, no licence
for redistribution) is a waypoint graph drawn from real road alignments. Its documentation
states 3,837 nodes, 3,901 edges and 8 connected components (largest 3,653 nodes); building our
network from its edges must reproduce that topology, and travel times on it must agree with
our schematic national network where both have the same roads.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geoplan.network import attach_places, build_network
from geoplan.traveltime import od_matrix

# Travel Mapping systems: national main roads, Asian Highways and E-roads are trunk; branches primary.
CLASS_OF_SYSTEM = {"kazkaz": "trunk", "asiah": "trunk", "eure": "trunk", "kazkz": "primary"}


@pytest.fixture(scope="module")
def tm_roads(real_data) -> gpd.GeoDataFrame:
    edges = gpd.read_file(real_data / "kz_highways_travelmapping.gpkg", layer="graph_edges")
    first_system = edges["systems"].astype(str).str.split(r"[;, ]").str[0]
    return gpd.GeoDataFrame(
        {
            "id": [f"tm{i}" for i in range(len(edges))],
            "road_class": first_system.map(CLASS_OF_SYSTEM).fillna("primary"),
            "length_km": edges["length_m"] / 1000.0,
        },
        geometry=edges.geometry.values,
        crs=edges.crs,
    )


def test_topology_matches_the_published_counts(tm_roads) -> None:
    net = build_network(tm_roads, snap_tolerance_m=0)
    assert net.n_nodes == 3837
    assert net.n_edges == 2 * 3901
    sizes = np.bincount(net.components())
    assert len(sizes) == 8
    assert sizes[0] == 3653


def test_travel_times_agree_with_the_schematic_network(tm_roads, kz_layers) -> None:
    """Road km of the fastest route agree where both graphs carry the same trunk roads.

    Both graphs run at one speed so that the fastest route is the shortest on each; access legs
    differ (town centres lie up to ~11 km from the waypoint graph), hence 8 % + 2 x 12 km.
    """
    # Not Astana: the waypoint graph routes Astana-Temirtau over 225 km, where the published
    # length of the toll motorway (our layer) is 171 km.
    pairs = [("karaganda", "temirtau"), ("karaganda", "balkhash"), ("pavlodar", "ekibastuz"), ("kostanay", "rudny")]
    places = gpd.GeoDataFrame(pd.concat([kz_layers.towns[["id", "geometry"]], kz_layers.centres[["id", "geometry"]]]),
                              crs=4326).drop_duplicates("id")
    ids = sorted({p for pair in pairs for p in pair})
    chosen = places[places["id"].isin(ids)]
    speeds = {"motorway": 80.0, "trunk": 80.0, "primary": 80.0, "secondary": 80.0}
    kz_roads = kz_layers.roads.drop(columns="lanes")  # no four-lane bonus: one speed everywhere
    tm, tm_snap = attach_places(build_network(tm_roads, snap_tolerance_m=0, speeds=speeds), chosen, max_snap_km=15)
    kz, _ = attach_places(build_network(kz_roads, speeds=speeds), chosen, max_snap_km=15)
    assert tm_snap["snapped"].all()
    for a, b in pairs:
        km_tm = od_matrix(tm, [a], [b]).km[0, 0]
        km_kz = od_matrix(kz, [a], [b]).km[0, 0]
        assert np.isfinite(km_tm) and np.isfinite(km_kz)
        assert abs(km_tm - km_kz) <= 0.08 * km_kz + 24, (a, b, km_tm, km_kz)
