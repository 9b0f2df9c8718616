"""Tests of geoplan.catchments: nested isochrone polygons built from the reached roads."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from geoplan import AnalysisError
from geoplan.catchments import catchment_bands, reached_edges
from geoplan.network import attach_places, build_network, network_from_arrays
from geoplan.surface import nearest_centre_surface, sample_surface

COLUMNS = ["centre", "centre_name", "band", "area_km2", "towns", "population", "settlements", "geometry"]
# A few centimetres in degrees: tolerance for containment after reprojection.
TOL_DEG = 1e-7


@pytest.fixture(scope="module")
def kz_net(kz_layers):
    return build_network(kz_layers.roads)


@pytest.fixture(scope="module")
def kz_catchments(kz_layers, kz_net):
    return catchment_bands(kz_net, kz_layers.centres, towns=kz_layers.towns)


def _row(c: gpd.GeoDataFrame, centre: str, band: int) -> pd.Series:
    sel = c[(c["centre"] == centre) & (c["band"] == band)]
    assert len(sel) == 1
    return sel.iloc[0]


def _town_point(layers, town_id: str) -> shapely.Point:
    return layers.towns.loc[layers.towns["id"] == town_id].geometry.iloc[0]


def test_schema_and_order(kz_catchments, kz_layers):
    c = kz_catchments
    assert list(c.columns) == COLUMNS
    assert c.crs.to_epsg() == 4326
    assert len(c) == 4 * len(kz_layers.centres)
    assert c[["centre", "band"]].equals(c[["centre", "band"]].sort_values(["centre", "band"]).reset_index(drop=True))
    assert set(c["band"]) == {30, 60, 90, 120}
    assert c["band"].dtype.kind == "i" and c["population"].dtype.kind == "i" and c["settlements"].dtype.kind == "i"
    assert c.geometry.is_valid.all()
    assert set(c.geometry.geom_type) <= {"Polygon", "MultiPolygon"}
    names = dict(zip(kz_layers.centres["id"], kz_layers.centres["name_en"], strict=True))
    assert (c["centre_name"] == c["centre"].map(names)).all()


def test_bands_nested_and_area_grows(kz_catchments):
    for centre, grp in kz_catchments.groupby("centre"):
        geoms = grp.sort_values("band").geometry.to_numpy()
        areas = grp.sort_values("band")["area_km2"].to_numpy()
        for small, big in itertools.pairwise(geoms):
            assert shapely.contains(big.buffer(TOL_DEG), small), centre
        assert np.all(np.diff(areas) >= -1e-9), centre
    kar = kz_catchments[kz_catchments["centre"] == "karaganda"].sort_values("band")
    assert np.all(np.diff(kar["area_km2"].to_numpy()) > 0)


def test_karaganda_towns(kz_catchments, kz_layers):
    # Saran, Abai, Temirtau and Shakhtinsk are Karaganda's satellite towns, 20-55 km by road
    # (motorway / trunk): within an hour. Balkhash is 370 km away by road: beyond two hours.
    b60 = _row(kz_catchments, "karaganda", 60)
    listed = b60["towns"].split(", ")
    for town in ("saran", "abai", "shakhtinsk", "temirtau"):
        assert town in listed
        assert shapely.contains(b60.geometry, _town_point(kz_layers, town)), town
    b120 = _row(kz_catchments, "karaganda", 120)
    assert "balkhash" not in b120["towns"].split(", ")
    assert not shapely.intersects(b120.geometry, _town_point(kz_layers, "balkhash"))
    pop = dict(zip(kz_layers.towns["id"], kz_layers.towns["population"], strict=True))
    # The centre's own people and each town once (Temirtau is a town and a centre).
    centre_pop = int(kz_layers.centres.set_index("id").loc["karaganda", "population"])
    assert b60["population"] == centre_pop + sum(pop[t] for t in listed)
    assert b60["settlements"] == 1 + len(listed)


def test_every_band_counts_its_centre(kz_catchments, kz_layers):
    # Aktau's 30-minute band holds Aktau itself (the "0 people").
    pop = kz_layers.centres.set_index("id")["population"]
    first = kz_catchments.sort_values("band").drop_duplicates("centre")
    assert (first["population"].to_numpy() >= pop.loc[first["centre"]].to_numpy()).all()
    assert _row(kz_catchments, "aktau", 30)["population"] >= pop.loc["aktau"] > 0


def _settlements(kz_layers) -> gpd.GeoDataFrame:
    """A small settlements layer: Saran as an OSM place linked to the town, two villages."""
    saran = _town_point(kz_layers, "saran")
    kar = kz_layers.centres.loc[kz_layers.centres["id"] == "karaganda"].geometry.iloc[0]
    return gpd.GeoDataFrame({
        "id": ["n1", "n2", "n3", "n4"],
        "population": [97_000, 1_200, 800, 5_000],
        "town_id": ["saran", None, None, None],
        "centre_id": [None, None, None, "karaganda"],
    }, geometry=[shapely.Point(saran.x + 0.001, saran.y), shapely.Point(kar.x + 0.05, kar.y + 0.05),
                 shapely.Point(50.0, 47.0), shapely.Point(kar.x, kar.y + 0.001)], crs=4326)


def test_settlements_counted_once(kz_layers, kz_net, kz_catchments):
    kar = kz_layers.centres[kz_layers.centres["id"] == "karaganda"]
    with_people = catchment_bands(kz_net, kar, towns=kz_layers.towns, settlements=_settlements(kz_layers))
    base = kz_catchments[kz_catchments["centre"] == "karaganda"].reset_index(drop=True)
    # Saran's OSM point is the town Saran, n4 is Karaganda itself: only the village n2 adds
    # people; n3 (in the far west) is in no band.
    assert (with_people["population"] - base["population"]).tolist() == [1_200] * 4
    assert (with_people["settlements"] - base["settlements"]).tolist() == [1] * 4
    assert with_people["towns"].equals(base["towns"])


def test_clipped_to_area(kz_layers, kz_net, kz_catchments):
    kar = kz_layers.centres[kz_layers.centres["id"] == "karaganda"]
    pt = kar.geometry.iloc[0]
    half = shapely.box(pt.x - 5, pt.y - 5, pt.x + 5, pt.y)  # everything south of Karaganda
    clipped = catchment_bands(kz_net, kar, towns=kz_layers.towns, area=half)
    base = kz_catchments[kz_catchments["centre"] == "karaganda"].reset_index(drop=True)
    assert (clipped.geometry.bounds["maxy"] <= pt.y + 1e-6).all()
    assert (clipped["area_km2"] < base["area_km2"]).all()
    with pytest.raises(AnalysisError, match="area"):
        catchment_bands(kz_net, kar, area=shapely.Polygon())


@pytest.mark.parametrize("centre", ["karaganda", "aktau", "almaty"])
def test_agrees_with_the_surface(kz_layers, kz_net, centre):
    """Bands and the travel-time surface (of this centre alone) model the same travel.

    The raster's own error bounds the agreement: its 8-connected moves are up to 8 % longer
    than a straight line, and a point sits anywhere in its cell (one cell at off-road speed).
    """
    res_m, off = 2000.0, 20.0
    cell_min = res_m / 1000.0 / off * 60.0
    cen = kz_layers.centres[kz_layers.centres["id"] == centre]
    area = shapely.box(45.0, 39.0, 89.0, 57.0)  # the same area for both
    surf = nearest_centre_surface(kz_layers.roads, centres=cen, resolution_m=res_m, offroad_kph=off, study_area=area)
    bands = catchment_bands(kz_net, cen, offroad_kph=off, area=area)
    rng = np.random.default_rng(7)
    for row in bands.itertuples():
        poly = gpd.GeoSeries([row.geometry], crs=4326).to_crs(surf.crs).iloc[0]
        lo, hi = np.reshape(shapely.bounds(poly.buffer(40_000)), (2, 2))
        xy = rng.uniform(lo, hi, size=(20_000, 2))
        minutes = sample_surface(surf, xy)
        inside = shapely.contains_xy(poly, xy[:, 0], xy[:, 1])
        assert inside.sum() > 300
        # Inside the band, the surface says the centre is within the band.
        assert np.all(minutes[inside] <= row.band * 1.08 + cell_min), (centre, row.band)
        assert np.mean(minutes[inside] <= row.band + cell_min) > 0.98, (centre, row.band)
        # Where the surface says so (by a cell's margin), the point is in the band or within a cell of it.
        near = minutes <= row.band - cell_min
        gap = shapely.distance(poly, shapely.points(xy[near & ~inside]))
        assert np.all(gap <= res_m * np.sqrt(2)), (centre, row.band, gap.max())


def test_centre_not_listed_as_own_town(kz_catchments):
    # Temirtau and Zhezkazgan are both growth centres and monotowns.
    for centre in ("temirtau", "zhezkazgan"):
        for towns in kz_catchments.loc[kz_catchments["centre"] == centre, "towns"]:
            assert centre not in towns.split(", ")


def test_every_listed_town_inside_its_polygon(kz_catchments, kz_layers):
    pts = dict(zip(kz_layers.towns["id"], kz_layers.towns.geometry, strict=True))
    for row in kz_catchments.itertuples():
        for town in filter(None, row.towns.split(", ")):
            assert shapely.contains(row.geometry.buffer(TOL_DEG), pts[town]), (row.centre, row.band, town)


def test_follows_roads_not_a_convex_hull(kz_catchments):
    # The 2-hour catchment of Karaganda is a star of road corridors widening towards the
    # centre (off-road access), far less than its hull.
    kar = _row(kz_catchments, "karaganda", 120)
    hull = gpd.GeoSeries([kar.geometry.convex_hull], crs=4326).to_crs("+proj=laea +lat_0=49.8 +lon_0=73.1")
    assert kar["area_km2"] < 0.65 * hull.area.iloc[0] / 1e6


def test_same_towns_on_attached_network(kz_layers, kz_net, kz_catchments):
    places = pd.concat([kz_layers.centres[["id", "geometry"]], kz_layers.towns[["id", "geometry"]]])
    attached, _ = attach_places(kz_net, gpd.GeoDataFrame(places, crs=4326))
    again = catchment_bands(attached, kz_layers.centres, towns=kz_layers.towns)
    pd.testing.assert_series_equal(again["towns"], kz_catchments["towns"])


def test_deterministic(kz_layers, kz_net, kz_catchments):
    again = catchment_bands(kz_net, kz_layers.centres, towns=kz_layers.towns)
    assert again.drop(columns="geometry").equals(kz_catchments.drop(columns="geometry"))
    assert all(a.equals_exact(b, 0) for a, b in zip(again.geometry, kz_catchments.geometry, strict=True))


# --------------------------------------------------------------------------------------
# generated networks: the exact geometry of partial edges


def _line_net(coords_lonlat, *, kph=60.0, oneway=False, km=None):
    """One road from node 'c' to node 'x' along ``coords_lonlat`` (and back unless one-way)."""
    line = shapely.LineString(coords_lonlat)
    probe = network_from_arrays(node_id=np.array(["c", "x"], dtype=object),
                                node_x=[coords_lonlat[0][0], coords_lonlat[-1][0]],
                                node_y=[coords_lonlat[0][1], coords_lonlat[-1][1]],
                                edge_u=[0], edge_v=[1], edge_km=[1.0], edge_kph=[kph])
    to_m = Transformer.from_crs(4326, probe.metric_crs, always_xy=True)
    length_km = shapely.transform(line, lambda xy: np.column_stack(to_m.transform(*xy.T))).length / 1000
    km = length_km if km is None else km
    u, v = ([0], [1]) if oneway else ([0, 1], [1, 0])
    geoms = [line] if oneway else [line, line.reverse()]
    net = network_from_arrays(node_id=np.array(["c", "x"], dtype=object),
                              node_x=[coords_lonlat[0][0], coords_lonlat[-1][0]],
                              node_y=[coords_lonlat[0][1], coords_lonlat[-1][1]],
                              edge_u=u, edge_v=v, edge_km=[km] * len(u), edge_kph=[kph] * len(u),
                              edge_road=np.array(["r1"] * len(u), dtype=object),
                              edge_class=np.array(["trunk"] * len(u), dtype=object),
                              edge_geometry=np.array(geoms, dtype=object))
    return net, length_km, to_m


def _centre(net, node_id):
    i = int(net.index_of(node_id)[0])
    return gpd.GeoDataFrame({"id": [node_id]}, geometry=gpd.points_from_xy([net.node_x[i]], [net.node_y[i]]), crs=4326)


def test_partial_edge_cut_at_exact_fraction():
    # A bent road of about 130 km at 60 km/h: in 30 minutes a car covers exactly 30 km of it.
    net, length_km, to_m = _line_net([(70.0, 50.0), (70.8, 50.4), (71.2, 50.9)])
    assert length_km > 100
    r = reached_edges(net, _centre(net, "c"), bands=(30, 45))
    for band in (30, 45):
        sel = r[r["band"] == band]
        assert len(sel) == 1
        expected_km = 60.0 * band / 60.0
        assert sel["km"].iloc[0] == pytest.approx(expected_km, rel=1e-9)
        assert sel["start"].iloc[0] == 0.0
        assert sel["end"].iloc[0] == pytest.approx(expected_km / length_km, rel=1e-9)
        metric = shapely.transform(sel.geometry.iloc[0], lambda xy: np.column_stack(to_m.transform(*xy.T)))
        assert metric.length / 1000 == pytest.approx(expected_km, rel=1e-6)
    # The 45-minute piece passes the bend (the first leg is about 72 km): it keeps that vertex.
    assert shapely.get_num_points(r[r["band"] == 45].geometry.iloc[0]) == 2
    assert shapely.get_num_points(r.geometry.iloc[0]) == 2


def test_cut_keeps_interior_vertices():
    net, _, _ = _line_net([(70.0, 50.0), (70.1, 50.05), (70.2, 50.0), (72.0, 50.2)])
    r = reached_edges(net, _centre(net, "c"), bands=(60,))
    # The first two legs are about 17 km; 60 km at 60 km/h passes both interior vertices.
    coords = shapely.get_coordinates(r.geometry.iloc[0])
    assert len(coords) == 4
    assert np.allclose(coords[:3], [(70.0, 50.0), (70.1, 50.05), (70.2, 50.0)])


def _hull_area_km2(r: float, d: float) -> float:
    """Area of the convex hull of a disc of radius ``r`` and a point at distance ``d > r``."""
    return r * np.sqrt(d * d - r * r) + r * r * (np.pi - np.arccos(r / d))


def test_band_is_the_road_plus_offroad_cone():
    # Straight road at 60 km/h, off-road at 20 km/h, 30 minutes: 30 km along the road, and
    # from a point s km out the budget left is (30 - s) / 3 km off-road. The band is the convex
    # hull of the centre's 10 km disc and the point 30 km out.
    net, _, _ = _line_net([(70.0, 50.0), (71.5, 50.0)])
    c = catchment_bands(net, _centre(net, "c"), bands=(30,), offroad_kph=20.0)
    assert c["area_km2"].iloc[0] == pytest.approx(_hull_area_km2(10.0, 30.0), rel=0.01)
    # Twice as fast off-road: a 20 km disc and the same 30 km reach along the road.
    c = catchment_bands(net, _centre(net, "c"), bands=(30,), offroad_kph=40.0)
    assert c["area_km2"].iloc[0] == pytest.approx(_hull_area_km2(20.0, 30.0), rel=0.01)


def test_points_inside_are_within_the_band():
    net, _, to_m = _line_net([(70.0, 50.0), (70.8, 50.4), (71.2, 50.9)])
    c = catchment_bands(net, _centre(net, "c"), bands=(30, 60), offroad_kph=20.0)
    line_m = shapely.transform(net.edge_geometry[0], lambda xy: np.column_stack(to_m.transform(*xy.T)))
    rng = np.random.default_rng(1)
    for row in c.itertuples():
        poly = shapely.transform(row.geometry, lambda xy: np.column_stack(to_m.transform(*xy.T)))
        lo, hi = np.reshape(shapely.bounds(poly), (2, 2))
        pts = shapely.points(rng.uniform(lo, hi, size=(4000, 2)))
        pts = pts[shapely.contains(poly, pts)]
        assert len(pts) > 500
        # Best time over every road point: off-road (20 km/h) to it, then the road (60 km/h).
        s = np.linspace(0, line_m.length, 2001)
        road = shapely.line_interpolate_point(line_m, s)
        d = shapely.distance(pts[:, None], road[None, :])
        best = np.min(d / 1000 / 20 * 60 + s / 1000, axis=1)
        assert best.max() <= row.band * 1.001 + 0.1


def test_one_way_road_counts_towards_the_centre():
    # A one-way road from the centre outwards cannot bring anyone in: only the centre's disc.
    net, _, _ = _line_net([(70.0, 50.0), (71.5, 50.0)], oneway=True)
    out = catchment_bands(net, _centre(net, "c"), bands=(30,), offroad_kph=20.0)
    assert out["area_km2"].iloc[0] == pytest.approx(np.pi * 10.0**2, rel=0.01)
    # The same road seen from its far end leads in: the full cone.
    into = catchment_bands(net, _centre(net, "x"), bands=(30,), offroad_kph=20.0)
    assert into["area_km2"].iloc[0] == pytest.approx(_hull_area_km2(10.0, 30.0), rel=0.01)
    assert len(reached_edges(net, _centre(net, "c"), bands=(30,))) == 1
    assert len(reached_edges(net, _centre(net, "x"), bands=(30,))) == 0


def test_edge_reached_from_both_ends():
    # Centre 'm' is 10 minutes from both ends of a 100-minute road a-b.
    lon = {"m": 70.5, "a": 70.0, "b": 71.0}
    lat = {"m": 50.2, "a": 50.0, "b": 50.0}
    ids = np.array(["m", "a", "b"], dtype=object)
    pairs = [(0, 1, 10.0), (1, 0, 10.0), (0, 2, 10.0), (2, 0, 10.0), (1, 2, 100.0), (2, 1, 100.0)]
    road = np.array(["ma", "ma", "mb", "mb", "ab", "ab"], dtype=object)
    net = network_from_arrays(node_id=ids, node_x=[lon[i] for i in ids], node_y=[lat[i] for i in ids],
                              edge_u=[p[0] for p in pairs], edge_v=[p[1] for p in pairs],
                              edge_km=[p[2] for p in pairs], edge_kph=[60.0] * 6, edge_road=road,
                              edge_class=np.array(["trunk"] * 6, dtype=object))
    r = reached_edges(net, _centre(net, "m"), bands=(40, 60))
    ab40 = r[(r["band"] == 40) & (r["road"] == "ab")].sort_values("start")
    # 30 km from each end: two pieces, [0, 0.3] and [0.7, 1].
    assert len(ab40) == 2
    assert ab40["km"].sum() == pytest.approx(60.0)
    assert ab40["start"].tolist() == pytest.approx([0.0, 0.7])
    assert ab40["end"].tolist() == pytest.approx([0.3, 1.0])
    ab60 = r[(r["band"] == 60) & (r["road"] == "ab")]
    # 50 km from each end meet in the middle: the whole road, once.
    assert len(ab60) == 1
    assert (ab60["start"].iloc[0], ab60["end"].iloc[0], ab60["km"].iloc[0]) == (0.0, 1.0, 100.0)


def test_access_legs_not_drawn(kz_layers, kz_net):
    kar = kz_layers.centres[kz_layers.centres["id"] == "karaganda"]
    places = gpd.GeoDataFrame(pd.concat([kar[["id", "geometry"]], kz_layers.towns[["id", "geometry"]]]), crs=4326)
    attached, _ = attach_places(kz_net, places)
    r = reached_edges(attached, kar, bands=(30, 60))
    assert len(r) > 0
    assert not r["road"].str.startswith("access:").any()
    assert set(r["road"]) <= set(kz_layers.roads["id"])
    # Cumulative bands: each band reaches at least the road km of the previous one.
    km = r.groupby("band")["km"].sum()
    assert km[60] > km[30] > 0


@pytest.mark.parametrize("bands", [(0, 30), (30.5,), (), ("x",), (-10,)])
def test_bad_bands(kz_layers, kz_net, bands):
    with pytest.raises(AnalysisError, match="band"):
        catchment_bands(kz_net, kz_layers.centres, bands=bands)


def test_bad_inputs(kz_layers, kz_net):
    with pytest.raises(AnalysisError, match="'id'"):
        catchment_bands(kz_net, kz_layers.centres.drop(columns="id"))
    with pytest.raises(AnalysisError, match="offroad_kph"):
        catchment_bands(kz_net, kz_layers.centres, offroad_kph=0)
    bad = kz_layers.towns.assign(population=kz_layers.towns["population"].astype(object))
    bad.loc[3, "population"] = -5
    with pytest.raises(AnalysisError, match=f"towns: population .* {bad.loc[3, 'id']}"):
        catchment_bands(kz_net, kz_layers.centres, towns=bad)
    bad.loc[3, "population"] = "many"
    with pytest.raises(AnalysisError, match="population is not a number"):
        catchment_bands(kz_net, kz_layers.centres, towns=bad)
    twice = pd.concat([kz_layers.centres.iloc[:2], kz_layers.centres.iloc[:1]])
    with pytest.raises(AnalysisError, match="duplicate"):
        catchment_bands(kz_net, twice)


def test_cli_catchments(tmp_path, capsys):
    from geoplan.cli import main

    out = tmp_path / "catchments.geojson"
    with pytest.raises(SystemExit) as exc:
        main(["catchments", "--out", str(out), "--bands", "60,30"])
    assert exc.value.code == 0
    assert "42 catchments (21 centres x 2 bands)" in capsys.readouterr().out
    back = gpd.read_file(out)
    assert back.crs.to_epsg() == 4326
    assert list(back.columns) == COLUMNS
    kar = back[(back["centre"] == "karaganda") & (back["band"] == 60)].iloc[0]
    assert "shakhtinsk" in kar["towns"].split(", ")
    # RFC 7946: exterior rings counter-clockwise.
    assert all(shapely.is_ccw(g.exterior) for g in shapely.get_parts(back.geometry.to_numpy()))
    with pytest.raises(SystemExit) as exc:
        main(["catchments", "--out", str(out), "--bands", "30,abc"])
    assert exc.value.code == 2
