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
from scipy.sparse.csgraph import dijkstra

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
def random_graphs(draw, *, continuous: bool = False, dyadic: bool = False):
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
    elif dyadic:
        # Sums of these are exact, so equally good routes tie to the last bit.
        values = st.sampled_from([0.0, 0.5, 1.0, 2.5, 7.0])
        w = np.array(draw(st.lists(values, min_size=m, max_size=m)))
        km = np.array(draw(st.lists(values, min_size=m, max_size=m)))
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
    monkeypatch.setattr(tt, "_CHUNK", 4)  # 4 origins per call of the compiled search
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
    for bad in (0, -5.0, float("nan"), "soon", True):
        with pytest.raises(NetworkError, match="cutoff must be a positive number"):
            od_matrix(net, towns, towns, cutoff=bad)
        with pytest.raises(NetworkError, match="cutoff must be a positive number"):
            travel_times_from(net, towns[:1], cutoff=bad)
    with pytest.raises(NetworkError, match=r"origins list the same place more than once: saran") as err:
        od_matrix(net, ["saran", "abai", "saran"], ["karaganda"])
    assert "drop the duplicates" in str(err.value)
    with pytest.raises(NetworkError, match=r"destinations list the same place more than once: karaganda"):
        od_matrix(net, ["saran"], ["karaganda", "karaganda"])
    with pytest.raises(NetworkError, match="atlantis, mu"):
        od_matrix(net, ["atlantis", "saran", "mu"], ["karaganda"])
    with pytest.raises(NetworkError, match="weight must be 'minutes' or 'km'"):
        od_matrix(net, towns, towns, weight="hours")
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
    assert od.frame(value="km").loc["saran", "astana"] == od.km[0, 1]


# --------------------------------------------------------------------------------------
# the compiled search: against scipy, both directions, weight="km", ties, early stop


def _scipy(net: RoadNetwork, weight: str = "minutes") -> np.ndarray:
    return dijkstra(net.csr(weight=weight), directed=True, indices=np.arange(net.n_nodes))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=random_graphs(), data=st.data())
def test_od_matrix_equals_scipy_from_either_side(net, data):
    n = net.n_nodes
    ids = np.asarray(net.node_id)
    ref = {w: _scipy(net, w) for w in ("minutes", "km")}
    o = data.draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n), label="origins")
    d = data.draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n), label="destinations")
    for weight in ("minutes", "km"):
        od = od_matrix(net, list(ids[o]), list(ids[d]), weight=weight)
        got = od.km if weight == "km" else od.minutes
        want = ref[weight][np.ix_(o, d)]
        assert od.weight == weight and got.shape == (len(o), len(d))
        if len(d) >= len(o):  # searched from the origins: scipy's sums, bit for bit
            np.testing.assert_array_equal(got, want)
        else:  # searched from the destinations on the reversed graph: the same up to rounding
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
            assert (np.isinf(got) == np.isinf(want)).all()
        other = od.minutes if weight == "km" else od.km
        assert (np.isinf(other) == np.isinf(got)).all()


def _lexicographic_reference(net: RoadNetwork, weight: str) -> np.ndarray:
    """Second quantity of the best route, ties broken by the fewest of it: networkx on the tight edges."""
    w1, w2 = (net.edge_km, net.edge_minutes) if weight == "km" else (net.edge_minutes, net.edge_km)
    first = _scipy(net, weight)
    out = np.full((net.n_nodes, net.n_nodes), np.inf)
    for s in range(net.n_nodes):
        g = nx.DiGraph()
        g.add_nodes_from(range(net.n_nodes))
        for a, b, x, y in zip(net.edge_u, net.edge_v, w1, w2, strict=True):
            # Edges on some best route from s (sums of dyadic values are exact here).
            if np.isfinite(first[s, a]) and first[s, a] + x == first[s, b]:
                if not g.has_edge(a, b) or g[a][b]["w"] > y:
                    g.add_edge(int(a), int(b), w=float(y))
        for k, val in nx.single_source_dijkstra_path_length(g, s, weight="w").items():
            out[s, k] = val
    return out


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=random_graphs(dyadic=True), data=st.data())
def test_ties_take_the_route_with_the_least_of_the_other_quantity(net, data):
    ids = list(net.node_id)
    for weight in ("minutes", "km"):
        ref = _lexicographic_reference(net, weight)
        for o, d in ((ids, ids), (ids, ids[: data.draw(st.integers(1, len(ids)))])):
            od = od_matrix(net, o, d, weight=weight)
            other = od.minutes if weight == "km" else od.km
            np.testing.assert_array_equal(other, ref[:, : len(d)])


def test_equally_fast_routes_report_the_shorter_in_both_directions():
    # a -> b -> d and a -> c -> d take 2 minutes each; via b is 10 km, via c 2 km.
    net = network_from_arrays(node_id=["a", "b", "c", "d"], node_x=[69.0, 69.1, 69.1, 69.2],
                              node_y=[50.0, 50.1, 49.9, 50.0], edge_u=[0, 1, 0, 2], edge_v=[1, 3, 2, 3],
                              edge_km=[5.0, 5.0, 1.0, 1.0], edge_minutes=[1.0, 1.0, 1.0, 1.0])
    forward = od_matrix(net, ["a"], ["d", "b"])  # one origin: searched from it
    backward = od_matrix(net, ["a", "b"], ["d"])  # one destination: searched back from it
    assert forward.km[0, 0] == backward.km[0, 0] == 2.0
    assert forward.minutes[0, 0] == backward.minutes[0, 0] == 2.0
    shortest = od_matrix(net, ["a"], ["d"], weight="km")
    assert shortest.km[0, 0] == 2.0 and shortest.minutes[0, 0] == 2.0


def test_shortest_route_can_be_slower_than_the_fastest():
    # a -> d direct: 10 km of track at 20 km/h (30 min); a -> b -> d: 20 km of motorway at 120 (10 min).
    net = network_from_arrays(node_id=["a", "b", "d"], node_x=[69.0, 69.1, 69.2], node_y=[50.0, 50.1, 50.0],
                              edge_u=[0, 0, 1], edge_v=[2, 1, 2], edge_km=[10.0, 10.0, 10.0],
                              edge_kph=[20.0, 120.0, 120.0])
    fast = od_matrix(net, ["a"], ["d"])
    short = od_matrix(net, ["a"], ["d"], weight="km")
    assert (fast.minutes[0, 0], fast.km[0, 0]) == pytest.approx((10.0, 20.0))
    assert (short.minutes[0, 0], short.km[0, 0]) == pytest.approx((30.0, 10.0))
    assert short.nearest()["km"].iloc[0] == pytest.approx(10.0)
    with pytest.raises(NetworkError, match="km"):
        od_matrix(net, ["a"], ["d"], weight="km", cutoff=float("nan"))
    assert np.isinf(od_matrix(net, ["a"], ["d"], weight="km", cutoff=9.0).km[0, 0])


@settings(max_examples=60, deadline=None)
@given(net=random_graphs(continuous=True), data=st.data())
def test_a_search_that_stops_at_its_targets_gives_the_full_search_values(net, data):
    n = net.n_nodes
    graph = tt.search_graph(net)
    sources = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n)))
    targets = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n)))  # repeats allowed
    full1, full2 = tt.od_block(graph, sources, np.arange(n))
    part1, part2 = tt.od_block(graph, sources, targets)
    np.testing.assert_array_equal(part1, full1[:, targets])
    np.testing.assert_array_equal(part2, full2[:, targets])


def test_places_times_centres_on_the_embedded_network_match_the_origin_side_search(kz):
    net, towns, centres = kz
    od = od_matrix(net, towns, centres)  # 29 x 21: searched back from the 21 centres
    assert tt.plan_od(net, towns, centres).reverse
    fwd = [od_matrix(net, [t], centres) for t in towns]  # one origin each: searched from it
    np.testing.assert_allclose(od.minutes, np.vstack([f.minutes for f in fwd]), rtol=1e-13)
    np.testing.assert_allclose(od.km, np.vstack([f.km for f in fwd]), rtol=1e-13)
