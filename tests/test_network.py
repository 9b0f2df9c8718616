"""Tests of geoplan.network: building the graph, speeds, topology, CRS handling, attaching places."""

from __future__ import annotations

import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import connected_components

from geoplan import NetworkError
from geoplan.network import (
    DEFAULT_SPEEDS_KPH,
    FOUR_LANE_BONUS_KPH,
    UNPAVED_CAP_KPH,
    RoadNetwork,
    attach_places,
    build_network,
    network_from_arrays,
)
from geoplan.traveltime import od_matrix, travel_times_from

#: UTM zone 42N: a generated layer around 69 E, 50 N is drawn directly in metres, so expected
#: distances can be worked out by hand (build_network picks the same zone as its metric CRS).
UTM = "EPSG:32642"
X0, Y0 = 500_000.0, 5_540_000.0


def roads_layer(lines: list, crs: str = UTM, **columns: list) -> gpd.GeoDataFrame:
    """A roads layer ``r0, r1, ...`` of class primary unless ``road_class`` is given."""
    data = {"id": [f"r{i}" for i in range(len(lines))], "road_class": ["primary"] * len(lines)}
    data.update(columns)
    return gpd.GeoDataFrame(data, geometry=[shapely.LineString(c) if c is not None else None for c in lines], crs=crs)


def points(ids: list[str], xy: list, crs: str = UTM) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": ids}, geometry=[shapely.Point(p) if p is not None else None for p in xy], crs=crs)


def edge_of(net: RoadNetwork, u: str, v: str) -> int:
    iu, iv = net.index_of([u, v])
    hits = np.flatnonzero((net.edge_u == iu) & (net.edge_v == iv))
    assert len(hits) == 1, f"expected one edge {u}->{v}, found {len(hits)}"
    return int(hits[0])


# --------------------------------------------------------------------------------------
# the embedded national network


@pytest.fixture(scope="module")
def kz_net(kz_layers):
    return build_network(kz_layers.roads)


def test_embedded_nodes_are_the_road_node_ids(kz_layers, kz_net):
    roads = kz_layers.roads
    ids = set(roads["from_node"]) | set(roads["to_node"])
    assert len(ids) == 161
    assert kz_net.n_nodes == 161
    assert set(kz_net.node_id) == ids
    # Every road keeps its own end nodes.
    fwd = ~pd.Series(kz_net.edge_road).duplicated().to_numpy()  # first edge of each road is the drawn direction
    got = dict(zip(kz_net.edge_road[fwd], zip(kz_net.node_id[kz_net.edge_u[fwd]], kz_net.node_id[kz_net.edge_v[fwd]],
                                               strict=True), strict=True))
    for r in roads.itertuples():
        assert got[r.id] == (r.from_node, r.to_node)


def test_embedded_network_is_one_component(kz_net):
    n_weak, _ = connected_components(kz_net.csr(weight="km"), directed=True, connection="weak")
    n_strong, _ = connected_components(kz_net.csr(weight="km"), directed=True, connection="strong")
    assert n_weak == 1
    assert n_strong == 1  # every road is two-way
    assert (kz_net.components() == 0).all()


def test_embedded_edges_are_positive_and_consistent(kz_net):
    assert kz_net.n_edges == 2 * 176
    assert (kz_net.edge_km > 0).all()
    assert (kz_net.edge_kph > 0).all()
    assert (kz_net.edge_minutes > 0).all()
    np.testing.assert_allclose(kz_net.edge_minutes, kz_net.edge_km / kz_net.edge_kph * 60.0, rtol=1e-12)
    # Geometries run from u to v.
    start = shapely.get_coordinates(shapely.get_point(kz_net.edge_geometry, 0))
    end = shapely.get_coordinates(shapely.get_point(kz_net.edge_geometry, -1))
    np.testing.assert_allclose(start, np.c_[kz_net.node_x[kz_net.edge_u], kz_net.node_y[kz_net.edge_u]], atol=1e-6)
    np.testing.assert_allclose(end, np.c_[kz_net.node_x[kz_net.edge_v], kz_net.node_y[kz_net.edge_v]], atol=1e-6)


def test_embedded_lengths_come_from_length_km(kz_layers, kz_net):
    roads = kz_layers.roads
    assert kz_net.edge_km.sum() == pytest.approx(2 * roads["length_km"].sum(), rel=1e-12)
    per_road = pd.Series(kz_net.edge_km).groupby(kz_net.edge_road).sum()
    declared = roads.set_index("id")["length_km"]
    np.testing.assert_allclose(per_road.loc[declared.index].to_numpy(), 2 * declared.to_numpy(), rtol=1e-12)


def test_embedded_speeds_follow_class_lanes_and_surface(kz_layers, kz_net):
    roads = kz_layers.roads.set_index("id")
    kph = pd.Series(kz_net.edge_kph, index=kz_net.edge_road).groupby(level=0).first()
    for rid, r in roads.iterrows():
        want = DEFAULT_SPEEDS_KPH[r.road_class]
        if r.road_class in ("trunk", "primary") and pd.notna(r.lanes) and r.lanes >= 4:
            want += FOUR_LANE_BONUS_KPH
        assert kph[rid] == want, rid
    # The documented calibration: the Astana-Temirtau toll motorway runs at 100 km/h.
    assert kph["KZR001"] == 100.0
    # The surface rule: the embedded roads are all paved (asphalt, concrete, or blank), so set
    # some unpaved and check the cap (layer and OSM vocabularies), lanes bonus included.
    assert set(roads["surface"].dropna()) <= {"asphalt", "concrete"}
    edited = kz_layers.roads.copy()
    four_lane_trunk = edited.index[(edited["road_class"] == "trunk") & (edited["lanes"] >= 4)][0]
    primary = edited.index[(edited["road_class"] == "primary") & ~(edited["lanes"] >= 4)][0]
    edited.loc[four_lane_trunk, "surface"] = "gravel"
    edited.loc[primary, "surface"] = "compacted"  # OSM surface=compacted
    net2 = build_network(edited)
    kph2 = pd.Series(net2.edge_kph, index=net2.edge_road).groupby(level=0).first()
    assert kph2[edited.loc[four_lane_trunk, "id"]] == UNPAVED_CAP_KPH  # 80 + 10 capped at 40
    assert kph2[edited.loc[primary, "id"]] == UNPAVED_CAP_KPH
    untouched = edited["surface"].isin(["asphalt", "concrete"]) | edited["surface"].isna()
    same = edited.loc[untouched, "id"]
    assert (kph2[same] == kph[same]).all()


def test_embedded_network_in_another_crs_gives_the_same_times(kz_layers, kz_net):
    net_m = build_network(kz_layers.roads.to_crs(3857))
    assert net_m.n_nodes == kz_net.n_nodes and net_m.n_edges == kz_net.n_edges
    src = ["balkhash", "astana", "aktau"]
    a = travel_times_from(kz_net, src)[:, kz_net.index_of(list(kz_net.node_id))]
    b = travel_times_from(net_m, src)[:, net_m.index_of(list(kz_net.node_id))]
    np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_allclose(net_m.node_x[net_m.index_of(list(kz_net.node_id))], kz_net.node_x, atol=1e-7)
    # With the towns attached the times agree too (access legs measured in metres agree to a mm).
    towns = kz_layers.towns
    na, _ = attach_places(kz_net, towns)
    nb, _ = attach_places(net_m, towns.to_crs(3857))
    ids = list(towns["id"])
    np.testing.assert_allclose(od_matrix(na, ids, ids).minutes, od_matrix(nb, ids, ids).minutes, rtol=1e-7)


# --------------------------------------------------------------------------------------
# speeds


def test_speed_rules_on_a_generated_layer():
    lines = [[(X0 + 1000 * i, Y0), (X0 + 1000 * i, Y0 + 900)] for i in range(8)]
    roads = roads_layer(
        lines,
        road_class=["trunk", "trunk", "primary", "motorway", "secondary", "track", "trunk", "primary"],
        lanes=[2, 4, 4, 4, None, None, 6, 4],
        surface=["asphalt", None, "gravel", None, None, "dirt", "asphalt", "Compacted"],
        speed_kph=[None, None, None, None, 55.0, None, None, None],
    )
    net = build_network(roads)
    kph = pd.Series(net.edge_kph, index=net.edge_road).groupby(level=0).first()
    assert kph["r0"] == DEFAULT_SPEEDS_KPH["trunk"] == 80.0
    assert kph["r1"] == 80.0 + FOUR_LANE_BONUS_KPH  # four-lane trunk
    assert kph["r2"] == UNPAVED_CAP_KPH  # four-lane primary, but gravel
    assert kph["r3"] == DEFAULT_SPEEDS_KPH["motorway"]  # motorways get no four-lane bonus
    assert kph["r4"] == 55.0  # per-segment override
    assert kph["r5"] == min(DEFAULT_SPEEDS_KPH["track"], UNPAVED_CAP_KPH)
    assert kph["r6"] == 90.0  # six lanes count as four or more
    assert kph["r7"] == UNPAVED_CAP_KPH  # OSM surface vocabulary, any case
    # Per-run table: replaces the class default, bonuses and caps still apply, overrides still win.
    net2 = build_network(roads, speeds={"trunk": 60, "secondary": 30})
    kph2 = pd.Series(net2.edge_kph, index=net2.edge_road).groupby(level=0).first()
    assert (kph2["r0"], kph2["r1"], kph2["r4"]) == (60.0, 70.0, 55.0)
    # Travel time is length / speed: a 900 m road at 60 km/h takes 0.9 minutes.
    assert net2.edge_minutes[net2.edge_road == "r0"] == pytest.approx([0.9, 0.9], rel=1e-9)


def test_unknown_class_is_an_error_naming_the_road():
    roads = roads_layer([[(X0, Y0), (X0, Y0 + 1000)], [(X0, Y0 + 1000), (X0, Y0 + 2000)]],
                        road_class=["primary", "ferry_route"])
    with pytest.raises(NetworkError, match=r"r1 \('ferry_route'\)") as err:
        build_network(roads)
    assert err.value.fix and "speed_kph" in err.value.fix
    # A speed of its own, or one for the class in this run, makes it usable.
    assert build_network(roads, speeds={"ferry_route": 15}).n_edges == 4
    roads["speed_kph"] = [None, 15.0]
    assert build_network(roads).edge_kph.tolist().count(15.0) == 2


def test_segment_without_class_or_speed_is_an_error():
    roads = roads_layer([[(X0, Y0), (X0, Y0 + 1000)], [(X0, Y0 + 1000), (X0, Y0 + 2000)]], road_class=["primary", None])
    with pytest.raises(NetworkError, match="neither road_class nor speed_kph: r1"):
        build_network(roads)
    roads["speed_kph"] = [None, 20.0]
    net = build_network(roads)
    assert net.edge_kph[net.edge_road == "r1"].tolist() == [20.0, 20.0]


@pytest.mark.parametrize("bad", [0.0, -5.0, "90 km/h"])
def test_speed_override_must_be_a_positive_number(bad):
    roads = roads_layer([[(X0, Y0), (X0, Y0 + 1000)]], speed_kph=[bad])
    with pytest.raises(NetworkError, match="r0"):
        build_network(roads)


@pytest.mark.parametrize("bad", [0, -10, float("nan"), "fast", True])
def test_run_speed_table_is_validated(bad):
    roads = roads_layer([[(X0, Y0), (X0, Y0 + 1000)]])
    with pytest.raises(NetworkError, match="primary"):
        build_network(roads, speeds={"primary": bad})


# --------------------------------------------------------------------------------------
# topology


def test_lines_crossing_at_a_shared_vertex_are_split():
    a = [(X0, Y0), (X0 + 1000, Y0), (X0 + 2000, Y0)]
    b = [(X0 + 1000, Y0 - 1000), (X0 + 1000, Y0), (X0 + 1000, Y0 + 1000)]
    net = build_network(roads_layer([a, b], length_km=[20.0, 4.0]))
    assert net.n_nodes == 5
    assert net.n_edges == 8  # 4 pieces, both ways
    deg = np.bincount(net.edge_u, minlength=net.n_nodes)
    assert sorted(deg.tolist()) == [1, 1, 1, 1, 4]  # the shared vertex became a junction
    # The declared length is shared in proportion to the drawn length of each piece.
    km = pd.Series(net.edge_km).groupby(net.edge_road).apply(sorted)
    assert km["r0"] == pytest.approx([10.0] * 4)
    assert km["r1"] == pytest.approx([2.0] * 4)
    # From the junction: 2 km to either end of r1, 10 km to either end of r0.
    j = int(np.argmax(deg))
    t = travel_times_from(net, np.array([j]), weight="km")[0]
    assert sorted(t.tolist()) == pytest.approx([0.0, 2.0, 2.0, 10.0, 10.0])


def test_lines_crossing_without_a_shared_vertex_are_not_joined():
    # An overpass: the lines cross in the drawing but share no vertex.
    a = [(X0, Y0), (X0 + 2000, Y0)]
    b = [(X0 + 1000, Y0 - 1000), (X0 + 1000, Y0 + 1000)]
    net = build_network(roads_layer([a, b]))
    assert net.n_nodes == 4 and net.n_edges == 4
    assert set(net.components()) == {0, 1}


def test_an_end_on_another_lines_vertex_splits_it():
    # A T-junction: b ends on an interior vertex of a.
    a = [(X0, Y0), (X0 + 1000, Y0), (X0 + 2000, Y0)]
    b = [(X0 + 1000, Y0), (X0 + 1000, Y0 + 1000)]
    net = build_network(roads_layer([a, b]))
    assert net.n_nodes == 4 and net.n_edges == 6


@pytest.mark.parametrize(("gap_m", "tolerance_m", "nodes"), [(50.0, 100.0, 3), (150.0, 100.0, 4), (50.0, 0.0, 4)])
def test_ends_are_snapped_within_the_tolerance(gap_m, tolerance_m, nodes):
    a = [(X0, Y0), (X0 + 1000, Y0)]
    b = [(X0 + 1000 + gap_m, Y0), (X0 + 2000, Y0)]
    net = build_network(roads_layer([a, b]), snap_tolerance_m=tolerance_m)
    assert net.n_nodes == nodes
    n_comp = len(set(net.components()))
    assert n_comp == (1 if nodes == 3 else 2)


@pytest.mark.parametrize(("tolerance_m", "nodes", "parts"), [(100.0, 4, 1), (50.0, 5, 2)])
def test_dangling_end_snaps_onto_a_junction(tolerance_m, nodes, parts):
    # c stops 60 m short of the junction of a and b (a digitising gap).
    a = [(X0, Y0), (X0 + 1000, Y0)]
    b = [(X0 + 1000, Y0), (X0 + 2000, Y0)]
    c = [(X0 + 1000, Y0 + 60), (X0 + 1000, Y0 + 1000)]
    net = build_network(roads_layer([a, b, c]), snap_tolerance_m=tolerance_m)
    assert net.n_nodes == nodes
    assert len(set(net.components())) == parts


def test_a_chain_of_dangling_ends_becomes_one_node():
    # Four roads leave in different directions from ends 0, 3, 7 and 12 m apart: with a 10 m
    # tolerance each end snaps onto its nearest neighbour (12 -> 7 -> 3 -> 0), and the chain
    # is followed to its end, so the four roads meet in one node (issue 10: one step only left
    # two pieces).
    far = [(X0, Y0 + 1000), (X0 + 3, Y0 - 1000), (X0 + 1007, Y0 + 500), (X0 + 1012, Y0 - 500)]
    lines = [[(X0 + dx, Y0), end] for dx, end in zip([0, 3, 7, 12], far, strict=True)]
    net = build_network(roads_layer(lines), snap_tolerance_m=10.0)
    assert net.n_nodes == 5  # one junction and the four far ends
    assert set(net.components()) == {0}
    junction = np.bincount(np.r_[net.edge_u, net.edge_v]).argmax()
    assert (np.bincount(np.r_[net.edge_u, net.edge_v]) == 8).sum() == 1  # 4 roads x 2 directions
    to_m = pyproj.Transformer.from_crs(4326, UTM, always_xy=True)
    jx, jy = to_m.transform(net.node_x[junction], net.node_y[junction])
    assert (jx - X0, jy - Y0) == pytest.approx((0.0, 0.0), abs=0.01)  # the first end of the chain
    # 4 m tolerance: 0-3 and 3-7 still chain (3 m, 4 m), 12 stays apart (5 m from 7).
    net = build_network(roads_layer(lines), snap_tolerance_m=4.0)
    assert net.n_nodes == 6 and len(set(net.components())) == 2


def _road_ends_at(net: RoadNetwork) -> np.ndarray:
    """Road ends at each node (every road is two-way: one directed edge leaves per end)."""
    return np.bincount(net.edge_u, minlength=net.n_nodes)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ends=st.lists(st.tuples(st.floats(0, 60), st.floats(0, 60), st.floats(0, 2 * np.pi)), min_size=2, max_size=12),
    tolerance=st.floats(0.5, 25.0),
)
def test_no_dangling_end_is_left_within_the_tolerance(ends, tolerance):
    # Roads of 500 m radiating from points scattered over a 60 m square: after snapping, a
    # node where one road ends (a dangling end) is farther than the tolerance from every other node.
    lines = [[(X0 + x, Y0 + y), (X0 + x + 500 * np.cos(a), Y0 + y + 500 * np.sin(a))] for x, y, a in ends]
    net = build_network(roads_layer(lines), snap_tolerance_m=tolerance)
    to_m = pyproj.Transformer.from_crs(4326, UTM, always_xy=True)
    x, y = to_m.transform(net.node_x, net.node_y)
    dangling = np.flatnonzero(_road_ends_at(net) == 1)
    for i in dangling:
        d = np.hypot(x - x[i], y - y[i])
        d[i] = np.inf
        assert d.min() > tolerance - 0.02, (i, d.min(), tolerance)  # keys are rounded to 1 cm


def test_oneway_roads():
    a = [(X0, Y0), (X0 + 1000, Y0)]
    b = [(X0 + 1000, Y0), (X0 + 2000, Y0)]
    c = [(X0 + 2000, Y0), (X0 + 3000, Y0)]
    roads = roads_layer([a, b, c], from_node=["A", "B", "C"], to_node=["B", "C", "D"], oneway=[1, "-1", "no"])
    net = build_network(roads)
    assert net.n_edges == 4
    t = travel_times_from(net, ["A", "B", "C", "D"], weight="km")
    i = dict(zip(["A", "B", "C", "D"], net.index_of(["A", "B", "C", "D"]), strict=True))
    assert t[0, i["B"]] == pytest.approx(1.0)  # with the drawing
    assert np.isinf(t[1, i["A"]])  # against a one-way road
    assert np.isinf(t[1, i["C"]])  # r1 is one-way against its drawing (OSM oneway=-1)
    assert t[2, i["B"]] == pytest.approx(1.0)
    assert t[2, i["D"]] == pytest.approx(1.0) and t[3, i["C"]] == pytest.approx(1.0)
    # The geometry of the reversed edge runs from its u to its v.
    e = edge_of(net, "C", "B")
    assert shapely.get_coordinates(net.edge_geometry[e])[0] == pytest.approx([net.node_x[i["C"]], net.node_y[i["C"]]])
    roads["oneway"] = ["yes", "true", "maybe"]
    with pytest.raises(NetworkError, match=r"r2 \('maybe'\)"):
        build_network(roads)


def test_zero_length_segment_is_an_error_naming_it():
    roads = roads_layer([[(X0, Y0), (X0 + 1000, Y0)], [(X0 + 1000, Y0), (X0 + 1000, Y0)]], length_km=[1.0, 2.5])
    with pytest.raises(NetworkError, match=r"zero length.*r1"):
        build_network(roads)


def test_short_segment_collapsed_by_snapping_is_dropped():
    # A 30 m stub: its dangling end snaps (100 m tolerance) onto the node it starts from; the
    # self-loop that leaves leads nowhere and is dropped.
    roads = roads_layer([[(X0, Y0), (X0 + 1000, Y0)], [(X0 + 1000, Y0), (X0 + 1030, Y0)]])
    assert build_network(roads).n_nodes == 3  # the default only mends rounding
    net = build_network(roads, snap_tolerance_m=100.0)
    assert net.n_nodes == 2 and net.n_edges == 2
    assert not (net.edge_u == net.edge_v).any()


def test_multilinestring_roads_keep_every_part():
    geom = shapely.MultiLineString([[(X0, Y0), (X0 + 1000, Y0)], [(X0 + 1000, Y0), (X0 + 3000, Y0)]])
    roads = gpd.GeoDataFrame({"id": ["m"], "road_class": ["primary"], "length_km": [6.0]}, geometry=[geom], crs=UTM)
    net = build_network(roads)
    assert net.n_nodes == 3
    assert sorted(net.edge_km.tolist()) == pytest.approx([2.0, 2.0, 4.0, 4.0])


@pytest.mark.parametrize("case", ["empty", "no_crs", "no_geometry", "point", "no_class_column"])
def test_unusable_layers_give_clear_errors(case):
    roads = roads_layer([[(X0, Y0), (X0 + 1000, Y0)], [(X0 + 1000, Y0), (X0 + 2000, Y0)]])
    if case == "empty":
        roads, match = roads.iloc[:0], "no features"
    elif case == "no_crs":
        roads, match = roads.set_crs(None, allow_override=True), "no CRS"
    elif case == "no_geometry":
        roads.loc[1, "geometry"] = None
        match = "geometry: r1"
    elif case == "point":
        roads.loc[1, "geometry"] = shapely.Point(X0, Y0)
        match = "geometry: r1"
    else:
        roads, match = roads.drop(columns="road_class"), "road_class"
    with pytest.raises(NetworkError, match=match):
        build_network(roads)


def test_network_from_arrays_validates_its_input():
    base = dict(node_id=["a", "b"], node_x=[69.0, 69.1], node_y=[50.0, 50.0], edge_u=[0], edge_v=[1], edge_km=[7.0])
    net = network_from_arrays(**base, edge_kph=[70.0], twoway=True)
    assert net.n_edges == 2 and net.edge_minutes.tolist() == [6.0, 6.0]
    with pytest.raises(NetworkError, match="outside"):
        network_from_arrays(**{**base, "edge_v": [2]}, edge_kph=[70.0])
    with pytest.raises(NetworkError, match="edge_minutes"):
        network_from_arrays(**base, edge_minutes=[np.nan])
    with pytest.raises(NetworkError, match="edge_minutes"):
        network_from_arrays(**base, edge_kph=[0.0])  # infinite time
    with pytest.raises(NetworkError, match="repeat"):
        network_from_arrays(**{**base, "node_id": ["a", "a"]}, edge_kph=[70.0])
    with pytest.raises(NetworkError, match="edge_minutes or edge_kph"):
        network_from_arrays(**base)


# --------------------------------------------------------------------------------------
# osmnx / networkx interoperability


def test_to_networkx_works_with_osmnx(kz_net):
    ox = pytest.importorskip("osmnx")
    g = kz_net.to_networkx()
    assert g.number_of_nodes() == kz_net.n_nodes and g.number_of_edges() == kz_net.n_edges
    u, v = (int(i) for i in kz_net.index_of(["balkhash", "astana"]))
    route = ox.routing.shortest_path(g, u, v, weight="travel_time")
    assert route[0] == u and route[-1] == v
    seconds = sum(min(d["travel_time"] for d in g[a][b].values()) for a, b in itertools.pairwise(route))
    assert seconds / 60.0 == pytest.approx(travel_times_from(kz_net, ["balkhash"])[0, v], rel=1e-12)
    nodes, edges = ox.convert.graph_to_gdfs(g)
    assert len(nodes) == kz_net.n_nodes and len(edges) == kz_net.n_edges
    assert nodes.crs.equals(kz_net.crs) and edges.crs.equals(kz_net.crs)
    assert (nodes["street_count"] >= 1).all()
    # graph_to_gdfs and back (osmnx's own round trip) keeps the graph.
    g2 = ox.convert.graph_from_gdfs(nodes, edges)
    assert g2.number_of_edges() == g.number_of_edges()
    # A projected graph (osmnx project_graph, metres) comes back to lon/lat.
    gp = ox.projection.project_graph(g)
    back = RoadNetwork.from_networkx(gp)
    order = back.index_of(list(kz_net.node_id))  # osmnx may reorder the nodes
    assert back.node_x[order] == pytest.approx(kz_net.node_x, abs=1e-7)
    assert back.node_y[order] == pytest.approx(kz_net.node_y, abs=1e-7)
    t0 = travel_times_from(kz_net, ["aktau"])
    np.testing.assert_allclose(travel_times_from(back, ["aktau"])[:, order], t0, rtol=1e-12)


def test_from_networkx_round_trip(kz_layers, kz_net):
    net, _ = attach_places(kz_net, kz_layers.towns)
    back = RoadNetwork.from_networkx(net.to_networkx())
    assert list(back.node_id) == list(net.node_id)
    np.testing.assert_allclose(back.node_x, net.node_x, rtol=0, atol=0)

    def table(n: RoadNetwork) -> pd.DataFrame:
        df = n.edges_frame().drop(columns="geometry")
        df["wkb"] = shapely.to_wkb(n.edge_geometry)
        return df.sort_values(["u", "v", "road"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(table(back), table(net))
    ids = list(kz_layers.towns["id"])
    np.testing.assert_allclose(od_matrix(back, ids, ids).minutes, od_matrix(net, ids, ids).minutes, rtol=1e-12)


def test_from_networkx_needs_travel_times():
    g = nx.MultiDiGraph(crs="EPSG:4326")
    g.add_node(1, x=69.0, y=50.0)
    g.add_node(2, x=69.1, y=50.0)
    g.add_edge(1, 2, length=7000.0)
    with pytest.raises(NetworkError, match="travel_time"):
        RoadNetwork.from_networkx(g)
    g[1][2][0]["speed_kph"] = 70.0
    net = RoadNetwork.from_networkx(g)
    assert net.edge_minutes.tolist() == pytest.approx([6.0])
    # Undirected graphs give both directions.
    net_u = RoadNetwork.from_networkx(nx.MultiGraph(g))
    assert net_u.n_edges == 2


# --------------------------------------------------------------------------------------
# attaching places


@pytest.fixture
def one_edge():
    """A single 40 km road drawn west-east, declared 50 km long, primary (70 km/h)."""
    roads = roads_layer([[(X0, Y0), (X0 + 40_000, Y0)]], length_km=[50.0], from_node=["W"], to_node=["E"])
    return build_network(roads)


def test_place_is_projected_onto_the_middle_of_an_edge(one_edge):
    net, rep = attach_places(one_edge, points(["p"], [(X0 + 10_000, Y0 + 3_000)]), access_kph=30.0)
    assert one_edge.metric_crs.to_epsg() == 32642
    row = rep.set_index("id").loc["p"]
    assert bool(row.snapped) and row.road == "r0"
    assert row.snap_km == pytest.approx(3.0, abs=1e-6)  # perpendicular distance
    assert row.access_minutes == pytest.approx(6.0, abs=1e-5)  # 3 km at 30 km/h
    edge_minutes = 50.0 / 70.0 * 60.0
    od = od_matrix(net, ["p"], ["W", "E"])
    # A quarter of the way along the drawn line: a quarter of the declared length and time.
    np.testing.assert_allclose(od.minutes[0], [6.0 + 0.25 * edge_minutes, 6.0 + 0.75 * edge_minutes], rtol=1e-6)
    np.testing.assert_allclose(od.km[0], [3.0 + 12.5, 3.0 + 37.5], rtol=1e-6)
    back = od_matrix(net, ["W", "E"], ["p"])
    np.testing.assert_allclose(back.minutes[:, 0], od.minutes[0], rtol=1e-12)
    # The road was split, not duplicated: W -> E still takes the whole edge time.
    assert od_matrix(net, ["W"], ["E"]).minutes[0, 0] == pytest.approx(edge_minutes, rel=1e-12)
    assert net.n_edges == 2 * 2 + 2  # two pieces both ways, plus the access leg both ways
    assert pd.Series(net.edge_km[net.edge_road == "r0"]).sum() == pytest.approx(100.0)
    # The split point is the foot of the perpendicular, and the pieces join exactly there.
    s = net.index_of("snap:p")[0]
    foot = gpd.GeoSeries([shapely.Point(net.node_x[s], net.node_y[s])], crs=4326).to_crs(UTM)[0]
    assert (foot.x, foot.y) == pytest.approx((X0 + 10_000, Y0), abs=1e-3)
    into = net.edge_geometry[(net.edge_v == s) & (net.edge_road == "r0")]
    assert len(into) == 2
    for g in into:
        assert tuple(shapely.get_coordinates(g)[-1]) == (net.node_x[s], net.node_y[s])


def test_several_places_on_one_edge_are_chained_in_order(one_edge):
    pts = points(["c", "a", "b"], [(X0 + 28_000, Y0 - 1_000), (X0 + 8_000, Y0 + 2_000), (X0 + 20_000, Y0 + 500)])
    net, rep = attach_places(one_edge, pts)
    assert rep["snapped"].all()
    assert net.n_edges == 4 * 2 + 3 * 2
    edge_minutes = 50.0 / 70.0 * 60.0
    access = {"a": 4.0, "b": 1.0, "c": 2.0}  # 2 km, 0.5 km, 1 km at 30 km/h
    frac = {"a": 0.2, "b": 0.5, "c": 0.7}
    od = od_matrix(net, ["a", "b", "c"], ["a", "b", "c", "W", "E"])
    for i, o in enumerate("abc"):
        for j, d in enumerate("abc"):
            want = 0.0 if o == d else access[o] + access[d] + abs(frac[o] - frac[d]) * edge_minutes
            assert od.minutes[i, j] == pytest.approx(want, rel=1e-6), (o, d)
        assert od.minutes[i, 3] == pytest.approx(access[o] + frac[o] * edge_minutes, rel=1e-6)
    # The chain is W - a - b - c - E along the road.
    for u, v in (("W", "snap:a"), ("snap:a", "snap:b"), ("snap:b", "snap:c"), ("snap:c", "E")):
        assert net.edge_road[edge_of(net, u, v)] == "r0"


def test_two_places_projecting_to_one_point_share_the_split(one_edge):
    pts = points(["n", "s"], [(X0 + 10_000, Y0 + 2_000), (X0 + 10_000, Y0 - 1_000)])
    net, rep = attach_places(one_edge, pts)
    assert rep["snapped"].all()
    assert sum(str(i).startswith("snap:") for i in net.node_id) == 1
    assert net.n_edges == 2 * 2 + 2 * 2
    assert od_matrix(net, ["n"], ["s"]).minutes[0, 0] == pytest.approx(6.0, rel=1e-6)  # 3 km at 30 km/h
    assert all(isinstance(g, shapely.LineString) for g in net.edge_geometry)


def test_place_at_an_end_uses_the_end_node(one_edge):
    net, rep = attach_places(one_edge, points(["w"], [(X0 - 2_000, Y0)]))
    assert bool(rep["snapped"][0]) and rep["snap_km"][0] == pytest.approx(2.0, abs=1e-6)
    assert net.n_edges == 2 + 2  # the road is not split
    assert od_matrix(net, ["w"], ["W"]).minutes[0, 0] == pytest.approx(4.0, rel=1e-6)


def test_place_beyond_reach_is_reported_and_unreachable(one_edge):
    pts = points(["near", "far", "nowhere"], [(X0 + 1_000, Y0 + 1_000), (X0 + 20_000, Y0 + 30_000), None])
    net, rep = attach_places(one_edge, pts, max_snap_km=25.0)
    rep = rep.set_index("id")
    assert rep.loc["near", "snapped"] and not rep.loc["far", "snapped"] and not rep.loc["nowhere", "snapped"]
    assert rep.loc["far", "road"] is None and np.isnan(rep.loc["far", "access_minutes"])
    od = od_matrix(net, ["near", "far", "nowhere"], ["W", "far"])
    assert np.isfinite(od.minutes[0, 0])
    assert np.isinf(od.minutes[0, 1]) and np.isinf(od.minutes[1, 0]) and np.isinf(od.minutes[2, 0])
    assert od.minutes[1, 1] == 0.0  # a place is reachable from itself, trivially
    long = od.long().set_index(["origin", "destination"])
    assert not long.loc[("far", "W"), "reachable"] and np.isnan(long.loc[("far", "W"), "minutes"])
    assert long.loc[("near", "W"), "reachable"]


def test_place_on_a_one_way_road(one_edge):
    roads = roads_layer([[(X0, Y0), (X0 + 40_000, Y0)]], length_km=[40.0], from_node=["W"], to_node=["E"], oneway=[1])
    net, _ = attach_places(build_network(roads), points(["p"], [(X0 + 10_000, Y0)]))
    t = od_matrix(net, ["p", "W"], ["W", "E", "p"]).minutes
    assert np.isinf(t[0, 0])  # p -> W runs against the one-way road
    assert t[0, 1] == pytest.approx(30.0 / 70.0 * 60.0, rel=1e-6)
    assert t[1, 2] == pytest.approx(10.0 / 70.0 * 60.0, rel=1e-6)


def test_place_ids_that_label_road_nodes(kz_layers, kz_net):
    towns = kz_layers.towns
    clashing = sorted(set(towns["id"]) & set(kz_net.node_id))
    assert "balkhash" in clashing
    net, rep = attach_places(kz_net, towns)
    assert rep["snapped"].all()
    for t in clashing:
        assert f"node:{t}" in set(net.node_id)
    # The town node is the attached place; the junction it was named after is a road node.
    b, jb = net.index_of(["balkhash", "node:balkhash"])
    assert (net.edge_road[(net.edge_u == b)] == "access:balkhash").all()
    assert np.isfinite(travel_times_from(net, ["balkhash"])[0, jb])


def test_attach_twice_keeps_earlier_places(kz_layers, kz_net):
    towns, centres = kz_layers.towns, kz_layers.centres
    both = pd.concat([towns[["id", "geometry"]], centres[["id", "geometry"]]], ignore_index=True)
    once, rep_once = attach_places(kz_net, gpd.GeoDataFrame(both, crs=towns.crs))
    step, _ = attach_places(kz_net, towns)
    twice, rep = attach_places(step, centres)
    assert twice.n_nodes == once.n_nodes and twice.n_edges == once.n_edges
    # Temirtau and Zhezkazgan are towns and centres: attached once, reported from the first attachment.
    r = rep.set_index("id")
    r1 = rep_once.set_index("id")
    for pid in ("temirtau", "zhezkazgan"):
        assert r.loc[pid, "snapped"]
        assert r.loc[pid, "snap_km"] == pytest.approx(r1.loc[pid, "snap_km"], rel=1e-9)
    ids = list(both["id"].unique())
    np.testing.assert_allclose(od_matrix(twice, ids, ids).minutes, od_matrix(once, ids, ids).minutes, rtol=1e-9)


def test_attach_rejects_bad_places(one_edge):
    with pytest.raises(NetworkError, match="not points: poly"):
        poly = gpd.GeoDataFrame({"id": ["poly"]}, geometry=[shapely.box(X0, Y0, X0 + 1, Y0 + 1)], crs=UTM)
        attach_places(one_edge, poly)
    with pytest.raises(NetworkError, match="no CRS"):
        attach_places(one_edge, gpd.GeoDataFrame({"id": ["p"]}, geometry=[shapely.Point(69, 50)]))
    with pytest.raises(NetworkError, match="without an id"):
        attach_places(one_edge, points([None], [(X0, Y0)]))
    with pytest.raises(NetworkError, match="access_kph"):
        attach_places(one_edge, points(["p"], [(X0, Y0)]), access_kph=0)


def test_disconnected_parts_give_unreachable_pairs():
    a = [(X0, Y0), (X0 + 10_000, Y0)]
    b = [(X0, Y0 + 50_000), (X0 + 10_000, Y0 + 50_000)]
    net = build_network(roads_layer([a, b]))
    assert set(net.components()) == {0, 1}
    net, rep = attach_places(net, points(["south", "north"], [(X0 + 5_000, Y0 + 100), (X0 + 5_000, Y0 + 50_100)]))
    assert rep["snapped"].all()
    od = od_matrix(net, ["south", "north"], ["south", "north"])
    assert np.isinf(od.minutes[0, 1]) and np.isinf(od.km[1, 0])
    near = od.nearest()
    assert near["destination"].isna().all() and near["minutes"].isna().all()


def test_frames(kz_layers, kz_net):
    edges = kz_net.edges_frame()
    assert list(edges.columns) == ["u", "v", "road", "class", "km", "kph", "minutes", "geometry"]
    assert len(edges) == kz_net.n_edges and edges.crs.equals(kz_net.crs)
    nodes = kz_net.nodes_frame()
    assert len(nodes) == 161 and (nodes["component"] == 0).all()


@pytest.mark.parametrize("max_snap_km", [0.3, 25.0])
def test_nearest_edge_search_equals_brute_force(max_snap_km):
    # A jittered 30 x 30 grid of streets over about 100 km, with random places in and around it.
    rng = np.random.default_rng(5)
    side = 30
    xy = np.stack(np.meshgrid(np.arange(side), np.arange(side)), -1).reshape(-1, 2).astype(float)
    lon = 68.0 + xy[:, 0] * 0.05 + rng.uniform(-0.01, 0.01, len(xy))
    lat = 49.0 + xy[:, 1] * 0.03 + rng.uniform(-0.01, 0.01, len(xy))
    idx = np.arange(side * side).reshape(side, side)
    u = np.r_[idx[:, :-1].ravel(), idx[:-1, :].ravel()]
    v = np.r_[idx[:, 1:].ravel(), idx[1:, :].ravel()]
    keep = rng.random(len(u)) > 0.2
    net = network_from_arrays(node_id=[f"g{i}" for i in range(side * side)], node_x=lon, node_y=lat,
                              edge_u=u[keep], edge_v=v[keep], edge_km=np.ones(keep.sum()),
                              edge_kph=np.full(keep.sum(), 50.0), twoway=True)
    px = rng.uniform(67.5, 70.0, 60)
    py = rng.uniform(48.7, 50.2, 60)
    places = gpd.GeoDataFrame({"id": [f"p{i}" for i in range(60)]}, geometry=gpd.points_from_xy(px, py), crs=4326)
    _, rep = attach_places(net, places, max_snap_km=max_snap_km)
    # Brute force: the distance to every edge, in the network's metric CRS.
    lines = gpd.GeoSeries(net.edge_geometry, crs=4326).to_crs(net.metric_crs).to_numpy()
    pts = places.to_crs(net.metric_crs).geometry.to_numpy()
    d = shapely.distance(pts[:, None], lines[None, :]).min(axis=1) / 1000.0
    snapped = rep["snapped"].to_numpy()
    np.testing.assert_array_equal(snapped, d <= max_snap_km)
    np.testing.assert_allclose(rep["snap_km"].to_numpy(), d, rtol=1e-9)  # out of reach: still the nearest
    assert 0 < snapped.sum() < 60


def test_attaching_twice_keeps_a_too_far_place_once(kz_layers) -> None:
    from geoplan.traveltime import od_matrix

    far = gpd.GeoDataFrame({"id": ["nowhere"]}, geometry=gpd.points_from_xy([60.0], [44.0]), crs=4326)
    places = pd.concat([kz_layers.towns[["id", "geometry"]], far], ignore_index=True)
    net, first = attach_places(build_network(kz_layers.roads), gpd.GeoDataFrame(places, crs=4326))
    again, second = attach_places(net, gpd.GeoDataFrame(places, crs=4326))
    assert not first.set_index("id").loc["nowhere", "snapped"]
    assert not second.set_index("id").loc["nowhere", "snapped"]
    assert again.n_nodes == net.n_nodes and again.n_edges == net.n_edges
    assert len(set(again.node_id)) == again.n_nodes
    assert np.isinf(od_matrix(again, ["nowhere"], ["saran"]).minutes[0, 0])
