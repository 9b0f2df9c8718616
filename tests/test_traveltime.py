"""Tests of geoplan.traveltime: OD matrices against networkx, cutoffs, unreachable pairs, routes."""

from __future__ import annotations

import itertools

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import geoplan.traveltime as tt
from geoplan import NetworkError
from geoplan.network import RoadNetwork, attach_places, build_network, network_from_arrays
from geoplan.traveltime import ODMatrix, od_matrix, path_sums, route_geometry, routes, travel_times_from


@pytest.fixture(scope="module")
def kz(kz_layers):
    """The embedded network with every town and growth centre attached."""
    towns, centres = kz_layers.towns, kz_layers.centres
    places = gpd.GeoDataFrame(pd.concat([towns[["id", "geometry"]], centres[["id", "geometry"]]], ignore_index=True),
                              crs=towns.crs)
    net, report = attach_places(build_network(kz_layers.roads), places)
    assert report["snapped"].all()
    return net, list(towns["id"]), list(centres["id"])


def nx_minutes(g: nx.MultiDiGraph, src: int) -> dict[int, float]:
    def minutes(u: int, v: int, d: dict) -> float:
        return min(e["travel_time"] for e in d.values()) / 60.0

    return nx.single_source_dijkstra_path_length(g, src, weight=minutes)


# --------------------------------------------------------------------------------------
# against networkx


def test_od_matrix_equals_networkx_on_the_embedded_network(kz):
    net, towns, centres = kz
    od = od_matrix(net, towns, centres)
    assert od.minutes.shape == (29, 21)
    assert np.isfinite(od.minutes).all()
    g = net.to_networkx()
    d_idx = net.index_of(centres)
    for i, t in enumerate(towns):
        ref = nx_minutes(g, int(net.index_of(t)[0]))
        np.testing.assert_allclose(od.minutes[i], [ref[int(j)] for j in d_idx], rtol=1e-9)
        # km of the fastest route: sum the km of the edges on networkx's path.
        paths = nx.single_source_dijkstra_path(g, int(net.index_of(t)[0]), weight="travel_time")
        for j, c in enumerate(centres):
            path = paths[int(d_idx[j])]
            km = sum(min(g[a][b].values(), key=lambda e: e["travel_time"])["length"] / 1000.0
                     for a, b in itertools.pairwise(path))
            assert od.km[i, j] == pytest.approx(km, rel=1e-9, abs=1e-12), (t, c)


@st.composite
def random_graphs(draw, *, continuous: bool = False):
    """Random weighted graphs: directed or two-way, parallel edges, zero weights, several parts."""
    n = draw(st.integers(1, 25))
    m = draw(st.integers(0, 60))
    u = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    v = draw(st.lists(st.integers(0, n - 1), min_size=m, max_size=m))
    if continuous:
        # Random reals: the fastest path is unique (almost surely), so its km is well defined.
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        w = rng.uniform(0.1, 100.0, m)
        km = rng.uniform(0.1, 50.0, m)
    else:
        values = st.sampled_from([0.0, 0.5, 1.0, 2.5, 7.0]) | st.floats(0, 1e3)
        w = np.array(draw(st.lists(values, min_size=m, max_size=m)))
        km = np.array(draw(st.lists(st.floats(0, 1e3), min_size=m, max_size=m)))
    twoway = draw(st.booleans())
    net = network_from_arrays(
        node_id=np.array([f"v{i}" for i in range(n)], dtype=object),
        node_x=np.linspace(69.0, 70.0, n), node_y=np.full(n, 50.0),
        edge_u=np.array(u, dtype=np.int64), edge_v=np.array(v, dtype=np.int64),
        edge_km=np.asarray(km, dtype=float), edge_minutes=np.asarray(w, dtype=float), twoway=twoway,
    )
    return net


def _nx_graph(net: RoadNetwork) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    g.add_nodes_from(range(net.n_nodes))
    for a, b, w, km in zip(net.edge_u, net.edge_v, net.edge_minutes, net.edge_km, strict=True):
        g.add_edge(int(a), int(b), minutes=float(w), km=float(km))
    return g


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=random_graphs())
def test_travel_times_equal_networkx_on_random_graphs(net):
    g = _nx_graph(net)
    got = travel_times_from(net, np.arange(net.n_nodes))
    for s in range(net.n_nodes):
        ref = nx.single_source_dijkstra_path_length(g, s, weight="minutes")
        want = np.full(net.n_nodes, np.inf)
        for k, d in ref.items():
            want[k] = d
        np.testing.assert_allclose(got[s], want, rtol=1e-9, atol=0)
    # The network built by to_networkx gives the same answer as the hand-built graph.
    g2 = net.to_networkx()
    for s in range(min(net.n_nodes, 3)):
        ref = nx.single_source_dijkstra_path_length(g2, s, weight="travel_time")
        for k, d in ref.items():
            assert got[s, k] == pytest.approx(d / 60.0, rel=1e-9, abs=1e-12)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=random_graphs(continuous=True))
def test_km_of_the_fastest_path_equals_networkx_on_random_graphs(net):
    g = _nx_graph(net)
    ids = list(net.node_id)
    od = od_matrix(net, ids, ids)
    for s in range(net.n_nodes):
        dist, paths = nx.single_source_dijkstra(g, s, weight="minutes")
        for t in range(net.n_nodes):
            if t not in dist:
                assert np.isinf(od.minutes[s, t]) and np.isinf(od.km[s, t])
                continue
            path = paths[t]
            km = sum(min(g[a][b].values(), key=lambda e: e["minutes"])["km"] for a, b in itertools.pairwise(path))
            assert od.minutes[s, t] == pytest.approx(dist[t], rel=1e-9)
            assert od.km[s, t] == pytest.approx(km, rel=1e-9, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(net=random_graphs(continuous=True), cutoff=st.floats(0.5, 300.0))
def test_cutoff_keeps_exactly_the_pairs_within_it(net, cutoff):
    full = travel_times_from(net, np.arange(net.n_nodes))
    cut = travel_times_from(net, np.arange(net.n_nodes), cutoff=cutoff)
    np.testing.assert_array_equal(cut, np.where(full <= cutoff, full, np.inf))
    ids = list(net.node_id)
    od = od_matrix(net, ids, ids, cutoff=cutoff)
    np.testing.assert_array_equal(od.minutes, np.where(full <= cutoff, full, np.inf))
    assert (np.isinf(od.km) == np.isinf(od.minutes)).all()


def test_batched_od_matrix_equals_one_batch(kz, monkeypatch):
    net, towns, centres = kz
    whole = od_matrix(net, towns, centres)
    monkeypatch.setattr(tt, "_BATCH_CELLS", net.n_nodes * 4)  # 4 origins per Dijkstra call
    parts = od_matrix(net, towns, centres, progress=False)
    np.testing.assert_array_equal(parts.minutes, whole.minutes)
    np.testing.assert_allclose(parts.km, whole.km, rtol=1e-12)


# --------------------------------------------------------------------------------------
# results


def test_hand_checkable_travel_times(kz):
    net, _, _ = kz
    od = od_matrix(net, ["saran", "shakhtinsk", "abai", "temirtau", "astana", "balkhash"], ["karaganda"])
    minutes = dict(zip(od.origins, od.minutes[:, 0], strict=True))
    km = dict(zip(od.origins, od.km[:, 0], strict=True))
    for town in ("saran", "shakhtinsk", "abai", "temirtau"):
        assert minutes[town] < 60.0, town  # the Karaganda agglomeration
    assert 120.0 <= minutes["astana"] <= 150.0  # 2 to 2.5 hours on the toll motorway
    assert 372.0 <= km["balkhash"] <= 375.0
    # Symmetric network: the way back is as long.
    back = od_matrix(net, ["karaganda"], ["astana", "balkhash"])
    assert back.minutes[0, 0] == pytest.approx(minutes["astana"], rel=1e-12)
    assert back.km[0, 1] == pytest.approx(km["balkhash"], rel=1e-12)


def test_long_form(kz):
    net, towns, centres = kz
    od = od_matrix(net, towns[:5], centres[:4])
    long = od.long()
    assert list(long.columns) == ["origin", "destination", "minutes", "km", "reachable"]
    assert len(long) == 20
    assert long.equals(long.sort_values(["origin", "destination"]).reset_index(drop=True))
    row = long[(long.origin == towns[2]) & (long.destination == centres[3])].iloc[0]
    assert row.minutes == od.minutes[2, 3] and row.km == od.km[2, 3] and row.reachable


def test_nearest_excludes_the_origin_itself(kz):
    net, towns, centres = kz
    both = sorted(set(towns) & set(centres))
    assert both == ["temirtau", "zhezkazgan"]
    od = od_matrix(net, towns, centres)
    near = od.nearest().set_index("origin")
    for t in both:
        assert near.loc[t, "destination"] != t
        assert near.loc[t, "minutes"] > 0
    # Karaganda is Temirtau's nearest other centre; the choice is the row minimum.
    assert near.loc["temirtau", "destination"] == "karaganda"
    for i, t in enumerate(od.origins):
        row = np.where(od.destinations == t, np.inf, od.minutes[i])
        assert near.loc[t, "minutes"] == row.min()
    self_ok = od.nearest(exclude_self=False).set_index("origin")
    assert self_ok.loc["temirtau", "destination"] == "temirtau" and self_ok.loc["temirtau", "minutes"] == 0.0


def test_unreachable_pairs_are_reported():
    od = ODMatrix(np.array(["a", "b"], dtype=object), np.array(["x", "y"], dtype=object),
                  np.array([[1.0, np.inf], [np.inf, np.inf]]), np.array([[2.0, np.inf], [np.inf, np.inf]]))
    long = od.long()
    assert long["reachable"].tolist() == [True, False, False, False]
    assert long["minutes"].isna().tolist() == [False, True, True, True]
    near = od.nearest()
    assert near["destination"].iloc[0] == "x" and pd.isna(near["destination"].iloc[1])
    assert near["minutes"].iloc[0] == 1.0 and np.isnan(near["minutes"].iloc[1]) and np.isnan(near["km"].iloc[1])


def test_bad_requests_give_clear_errors(kz):
    net, towns, _ = kz
    with pytest.raises(NetworkError, match="atlantis"):
        od_matrix(net, towns, ["atlantis"])
    with pytest.raises(NetworkError, match="cutoff"):
        od_matrix(net, towns, towns, cutoff=0)
    with pytest.raises(NetworkError, match="out of range"):
        travel_times_from(net, np.array([net.n_nodes]))


def test_route_follows_the_fastest_path(kz):
    net, _, _ = kz
    g = net.to_networkx()
    o, d = net.index_of(["balkhash", "astana"])
    path = nx.dijkstra_path(g, int(o), int(d), weight="travel_time")
    line = route_geometry(net, "balkhash", "astana")
    coords = shapely.get_coordinates(line)
    assert tuple(coords[0]) == (net.node_x[o], net.node_y[o])
    assert tuple(coords[-1]) == (net.node_x[d], net.node_y[d])
    # The drawn lines are schematic (straight), so check that the route passes through the
    # path's nodes in order instead of comparing its drawn length with the road km.
    xy = [tuple(c) for c in np.round(coords, 9)]
    pos = [xy.index(tuple(np.round((net.node_x[k], net.node_y[k]), 9))) for k in path]
    assert pos == sorted(pos)
    assert "karaganda" in {str(net.node_id[k]).removeprefix("node:") for k in path}
    lines = routes(net, [("balkhash", "astana"), ("astana", "astana"), ("saran", "abai")])
    assert lines[0].equals(line) and lines[1] is None and lines[2] is not None


def test_route_to_an_unreachable_place_is_none():
    net = network_from_arrays(node_id=["a", "b", "c"], node_x=[69.0, 69.1, 69.2], node_y=[50.0, 50.0, 50.0],
                              edge_u=[0], edge_v=[1], edge_km=[7.0], edge_kph=[70.0])
    assert routes(net, [("a", "c"), ("b", "a"), ("a", "b")])[:2] == [None, None]
    assert route_geometry(net, "a", "b").length > 0


def test_path_sums_on_a_hand_made_tree():
    # Tree rooted at 0:  0 -> 1 -> 2,  1 -> 3 -> 4,  0 -> 5;  node 6 unreached.
    pred = np.array([-9999, 0, 1, 1, 3, 0, -9999])
    into = np.array([0.0, 1.0, 10.0, 100.0, 1000.0, 0.5, 7.0])  # value of the edge into each node
    np.testing.assert_allclose(path_sums(pred, into), [0.0, 1.0, 11.0, 101.0, 1101.0, 0.5, 0.0])
    # A long chain (depth 1000) exercises the pointer jumping.
    chain = np.r_[-9999, np.arange(999)]
    np.testing.assert_allclose(path_sums(chain, np.ones(1000)), np.r_[0.0, np.ones(999)].cumsum())


def test_frame_is_the_matrix_with_ids(kz_layers) -> None:
    from geoplan.network import attach_places, build_network
    from geoplan.traveltime import od_matrix

    net, _ = attach_places(build_network(kz_layers.roads), kz_layers.towns)
    net, _ = attach_places(net, kz_layers.centres)
    od = od_matrix(net, ["saran", "balkhash"], ["karaganda", "astana"])
    wide = od.frame()
    assert list(wide.index) == ["saran", "balkhash"] and list(wide.columns) == ["karaganda", "astana"]
    assert wide.loc["balkhash", "karaganda"] == od.minutes[1, 0]
    assert od.frame("km").loc["saran", "astana"] == od.km[0, 1]
