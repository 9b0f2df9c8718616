"""Tests of geoplan.surface: friction raster, cost-distance surface, GeoTIFF output."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from pyproj import CRS

from geoplan import AnalysisError
from geoplan.network import attach_places, build_network, road_speeds
from geoplan.settings import OFFROAD_KPH
from geoplan.surface import (
    NODATA,
    SURFACE_DESCRIPTION,
    friction_raster,
    nearest_centre_surface,
    sample_surface,
    travel_time_surface,
    write_surface,
)
from geoplan.traveltime import od_matrix

UTM = 32642  # UTM zone 42N, central Kazakhstan
X0, Y0 = 500_000.0, 5_500_000.0


def _roads(lines, kph, crs=UTM):
    return gpd.GeoDataFrame(
        {"id": [f"r{i}" for i in range(len(lines))], "road_class": ["trunk"] * len(lines), "speed_kph": kph},
        geometry=gpd.GeoSeries(lines, crs=crs),
        crs=crs,
    )


def _points(xy, crs=UTM):
    return gpd.GeoDataFrame({"id": [f"p{i}" for i in range(len(xy))]},
                            geometry=gpd.points_from_xy(*np.asarray(xy, dtype=float).T), crs=crs)


def _box(pad=30_000.0, x1=X0 + 100_000, y1=Y0 + 50_000):
    return gpd.GeoSeries([shapely.box(X0 - pad, Y0 - pad, x1 + pad, y1 + pad)], crs=UTM)


# --------------------------------------------------------------------------------------
# synthetic: known speeds and distances


def test_straight_road_time_is_length_over_speed():
    # 100 km east-west at 60 km/h: one minute per km. Cells of 1 km cost 1 minute each on
    # the road, so the raster time is exact up to where a point falls in its cell.
    line = shapely.LineString([(X0, Y0 + 500), (X0 + 100_000, Y0 + 500)])
    res = nearest_centre_surface(_roads([line], [60.0]),
                                 centres=_points([(X0 + 100, Y0 + 500)]), resolution_m=1000, study_area=_box(),
                                 crs=UTM)
    km = np.array([10, 25, 50, 75, 99.5])
    got = sample_surface(res, np.column_stack([X0 + 100 + km * 1000, np.full(len(km), Y0 + 500)]))
    assert np.all(np.abs(got - km) <= 1.0), got
    assert np.all(np.diff(got) > 0)


def test_road_time_follows_length_km():
    # The same 100 km line, but the road is 150 km long: 150 minutes at 60 km/h, as in the network.
    line = shapely.LineString([(X0, Y0 + 500), (X0 + 100_000, Y0 + 500)])
    roads = _roads([line], [60.0]).assign(length_km=[150.0])
    res = nearest_centre_surface(roads,
                                 centres=_points([(X0 + 100, Y0 + 500)]), resolution_m=1000, study_area=_box(),
                                 crs=UTM)
    got = sample_surface(res, np.array([[X0 + 50_100, Y0 + 500], [X0 + 99_600, Y0 + 500]]))
    assert got == pytest.approx([75.0, 149.25], abs=1.5)


def test_offroad_speed_applies_away_from_roads():
    # Source 30 km from a point in open country, no road between: 30 km at 20 km/h = 90 min.
    far_road = shapely.LineString([(X0, Y0 + 40_000), (X0 + 100_000, Y0 + 40_000)])
    res = nearest_centre_surface(_roads([far_road], [80.0]),
                                 centres=_points([(X0 + 500, Y0 + 500)]), resolution_m=1000, offroad_kph=20,
                                 study_area=_box(), crs=UTM)
    got = sample_surface(res, np.array([[X0 + 30_500, Y0 + 500]]))[0]
    assert got == pytest.approx(90.0, abs=3.0)  # one off-road cell is 3 minutes


def test_diagonal_road_within_8_connected_bound():
    # A road at atan(1/2) to the grid axes: the worst case of 8-connected moves, whose path
    # is (1 + (sqrt(2) - 1) / 2) / sqrt(1.25) = 1.0798 times the straight line.
    line = shapely.LineString([(X0, Y0), (X0 + 100_000, Y0 + 50_000)])
    res = nearest_centre_surface(_roads([line], [60.0]),
                                 centres=_points([(X0 + 500, Y0 + 500)]), resolution_m=1000, study_area=_box(),
                                 crs=UTM)
    true_min = line.length / 1000.0  # 60 km/h: minutes = km
    got = sample_surface(res, np.array([[X0 + 99_500, Y0 + 49_500]]))[0]
    ratio = got / true_min
    assert 0.98 <= ratio <= 1.0798 + 2.0 / true_min, ratio


def test_fastest_road_wins_in_shared_cells():
    line = shapely.LineString([(X0, Y0 + 500), (X0 + 100_000, Y0 + 500)])
    roads = _roads([line, line, line], [120.0, 60.0, 30.0])  # fastest first: order must not matter
    res = nearest_centre_surface(roads,
                                 centres=_points([(X0 + 100, Y0 + 500)]), resolution_m=1000, study_area=_box(),
                                 crs=UTM)
    got = sample_surface(res, np.array([[X0 + 80_100, Y0 + 500]]))[0]
    assert got == pytest.approx(40.0, abs=0.5)  # 80 km at 120 km/h


def test_friction_values_and_nodata():
    line = shapely.LineString([(X0, Y0 + 500), (X0 + 100_000, Y0 + 500)])
    fr = friction_raster(_roads([line], [50.0]), resolution_m=2000, offroad_kph=25,
                         study_area=_box(), crs=UTM)
    arr = fr.array
    vals = np.unique(arr[np.isfinite(arr)])
    assert vals.tolist() == pytest.approx(sorted([60.0 / 50_000.0, 60.0 / 25_000.0]))
    # Grid aligned to multiples of the cell size, north up.
    assert fr.transform.a == 2000 and fr.transform.e == -2000
    assert fr.transform.c % 2000 == 0 and fr.transform.f % 2000 == 0
    assert CRS.from_user_input(fr.crs).to_epsg() == UTM


def test_nodata_outside_study_area_and_zero_at_sources():
    line = shapely.LineString([(X0, Y0 + 500), (X0 + 100_000, Y0 + 500)])
    # An L-shaped study area inside the grid's bounding box: the notch must be nodata.
    area = shapely.Polygon([(X0 - 20_000, Y0 - 20_000), (X0 + 120_000, Y0 - 20_000), (X0 + 120_000, Y0 + 20_000),
                            (X0 + 40_000, Y0 + 20_000), (X0 + 40_000, Y0 + 80_000), (X0 - 20_000, Y0 + 80_000)])
    src = [(X0 + 100, Y0 + 500), (X0 + 90_300, Y0 + 500)]
    res = nearest_centre_surface(_roads([line], [60.0]),
                                 centres=_points(src), resolution_m=2000, study_area=gpd.GeoSeries([area], crs=UTM),
                                 crs=UTM)
    assert res.nodata == NODATA
    notch = sample_surface(res, np.array([[X0 + 80_000, Y0 + 60_000], [X0 + 110_000, Y0 + 70_000]]))
    assert np.isnan(notch).all()
    rows, cols = rasterio.transform.rowcol(res.transform, X0 + 80_000, Y0 + 60_000)
    assert res.array[rows, cols] == NODATA
    inside = sample_surface(res, np.array([[X0, Y0 + 60_000], [X0 + 110_000, Y0 - 10_000]]))
    assert np.isfinite(inside).all() and (inside > 0).all()
    assert sample_surface(res, np.array(src)).tolist() == [0.0, 0.0]
    # The whole grid: finite minutes inside the area, nodata exactly outside.
    assert res.array.dtype == np.float32
    assert (res.array[res.array != NODATA] >= 0).all()


def test_bad_inputs():
    line = shapely.LineString([(X0, Y0 + 500), (X0 + 100_000, Y0 + 500)])
    roads = _roads([line], [60.0])
    with pytest.raises(AnalysisError, match="resolution_m"):
        friction_raster(roads, resolution_m=0, crs=UTM)
    with pytest.raises(AnalysisError, match="offroad_kph"):
        friction_raster(roads, offroad_kph=-5, crs=UTM)
    with pytest.raises(AnalysisError, match="not projected"):
        friction_raster(roads, crs=4326)
    with pytest.raises(AnalysisError, match="too large"):
        friction_raster(roads, resolution_m=0.01, crs=UTM)
    fr = friction_raster(roads, resolution_m=1000, study_area=_box(), crs=UTM)
    with pytest.raises(AnalysisError, match="far_away"):
        travel_time_surface(fr, np.array([[X0, Y0], [X0 + 10_000_000, Y0]]), source_ids=["ok", "far_away"])
    with pytest.raises(AnalysisError, match="centres"):
        nearest_centre_surface(roads, centres=None)


# --------------------------------------------------------------------------------------
# the embedded Kazakhstan layers


@pytest.fixture(scope="module")
def kz_surface(kz_layers):
    return nearest_centre_surface(kz_layers, resolution_m=5000)


def test_sources_have_zero_and_towns_are_reached(kz_surface, kz_layers):
    assert np.all(sample_surface(kz_surface, kz_layers.centres) == 0.0)
    towns = sample_surface(kz_surface, kz_layers.towns)
    assert np.isfinite(towns).all() and (towns >= 0).all()
    # The grid is in the network's metric CRS for the same roads.
    net = build_network(kz_layers.roads)
    assert kz_surface.crs == net.metric_crs
    # Each town is reached in about the time the network takes to its nearest centre, with access
    # legs at the surface's off-road speed: within 10 % plus two 5 km cells crossed off-road.
    off = OFFROAD_KPH
    places = gpd.GeoDataFrame(pd.concat([kz_layers.centres[["id", "geometry"]], kz_layers.towns[["id", "geometry"]]]),
                              crs=4326)
    net, _ = attach_places(net, places, access_kph=off)
    network_min = od_matrix(net, list(kz_layers.towns["id"]), list(kz_layers.centres["id"])).nearest(
        exclude_self=False)["minutes"].to_numpy()
    cell_min = 5.0 / off * 60.0
    assert np.all(np.abs(towns - network_min) <= 0.10 * network_min + 2 * cell_min), pd.DataFrame(
        {"town": kz_layers.towns["id"], "network": network_min, "surface": towns})
    # And in the same order: the nearer a town by road, the nearer on the surface.
    assert pd.Series(towns).corr(pd.Series(network_min), method="spearman") > 0.95


def test_agrees_with_network_travel_times(kz_layers):
    """Surface minutes at each monotown vs network minutes to its nearest centre.

    The surface burns each road at ``speed x drawn length / length_km``, so a road takes as long
    in the raster as in the network (which uses the published ``length_km``); the network's
    access legs use the same off-road speed; both then model the same roads at the same speeds.
    What remains is the 8-connected grid
    (up to 8 % longer than a straight line) and where points fall in their cells (up to about a
    cell at each end, at off-road speed in the worst case), so the tolerance is
    10 % + 2 off-road cells. Off-road shortcuts make the raster a little faster in places.
    """
    res_m, off = 2000, 30.0
    result = nearest_centre_surface(kz_layers, resolution_m=res_m, offroad_kph=off)
    net = build_network(kz_layers.roads)
    assert net.metric_crs == result.crs
    places = gpd.GeoDataFrame(pd.concat([kz_layers.centres[["id", "geometry"]], kz_layers.towns[["id", "geometry"]]]),
                              crs=4326)
    net, _ = attach_places(net, places, access_kph=off)
    od = od_matrix(net, list(kz_layers.towns["id"]), list(kz_layers.centres["id"]), progress=False)
    network_min = od.nearest(exclude_self=False)["minutes"].to_numpy()
    raster_min = sample_surface(result, kz_layers.towns)
    cell_min = res_m / 1000.0 / off * 60.0
    err = np.abs(raster_min - network_min)
    assert np.all(err <= 0.10 * network_min + 2 * cell_min), pd.DataFrame(
        {"town": kz_layers.towns["id"], "network": network_min, "raster": raster_min})
    far = network_min > 60
    assert np.median(err[far] / network_min[far]) < 0.06


def test_study_area_from_real_boundary(real_data, kz_layers):
    adm0 = gpd.read_file(real_data / "kz_admin_hdx.gpkg", layer="adm0")
    result = nearest_centre_surface(kz_layers, resolution_m=5000, study_area=adm0)
    assert np.isfinite(sample_surface(result, kz_layers.towns)).all()
    # Bishkek (Kyrgyzstan) and Novosibirsk (Russia) lie in the grid's box, outside the border.
    outside = gpd.GeoSeries(shapely.points([(74.59, 42.87), (82.92, 55.03)]), crs=4326)
    assert np.isnan(sample_surface(result, outside)).all()
    share_nodata = float((result.array == NODATA).mean())
    assert 0.1 < share_nodata < 0.6


# --------------------------------------------------------------------------------------
# GeoTIFF


def test_geotiff_metadata(kz_surface, tmp_path):
    path = write_surface(tmp_path / "surface.tif", kz_surface)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["surface.tif"]  # no temp or .aux.xml left
    with rasterio.open(path) as ds:
        assert ds.driver == "GTiff"
        assert CRS.from_wkt(ds.crs.to_wkt()) == kz_surface.crs
        assert ds.transform == kz_surface.transform
        assert ds.nodata == NODATA
        assert ds.dtypes == ("float32",)
        assert ds.descriptions == (SURFACE_DESCRIPTION,)
        assert ds.units == ("minutes",)
        assert ds.tags(1)["units"] == "minutes"
        assert ds.profile["tiled"] and ds.block_shapes == [(256, 256)]
        assert ds.compression.name == "deflate"
        assert "Weiss" in ds.tags()["method"] and ds.tags()["resolution_m"] == "5000"
        np.testing.assert_array_equal(ds.read(1), kz_surface.array)


def test_geotiff_deterministic(kz_layers, tmp_path):
    a = nearest_centre_surface(kz_layers, resolution_m=10_000, out=tmp_path / "a.tif")
    nearest_centre_surface(kz_layers, resolution_m=10_000, out=tmp_path / "b.tif")
    write_surface(tmp_path / "c.tif", a)
    data = [(tmp_path / n).read_bytes() for n in ("a.tif", "b.tif", "c.tif")]
    assert data[0] == data[1] == data[2]


def test_road_speeds_match_network(kz_layers):
    roads = kz_layers.roads
    kph = road_speeds(roads)
    net = build_network(roads)
    by_road = dict(zip(roads["id"], kph, strict=True))
    assert np.allclose(net.edge_kph, [by_road[r] for r in net.edge_road])
    # A class override applies to two-lane trunk roads as given; four-lane ones get the bonus.
    slow = road_speeds(roads, speeds={"trunk": 50.0})
    trunk = roads["road_class"].eq("trunk").to_numpy()
    four = roads["lanes"].ge(4).fillna(False).to_numpy(dtype=bool)
    assert np.allclose(slow[trunk & ~four], 50.0)
    assert np.allclose(slow[trunk & four], 60.0)
    assert np.allclose(slow[~trunk], kph[~trunk])


def test_cli_surface(tmp_path, capsys):
    from geoplan.cli import main

    out = tmp_path / "surface.tif"
    with pytest.raises(SystemExit) as exc:
        main(["surface", "--out", str(out), "--resolution", "20000", "--offroad-kph", "15"])
    assert exc.value.code == 0
    assert "at 20000 m" in capsys.readouterr().out
    with rasterio.open(out) as ds:
        assert ds.res == (20000.0, 20000.0)
        assert ds.tags()["offroad_kph"] == "15"
    with pytest.raises(SystemExit) as exc:
        main(["surface", "--out", str(out), "--resolution", "-1"])
    assert exc.value.code == 2
    assert "--resolution" in capsys.readouterr().err  # refused by the option itself, before any work


def test_clipped_to_the_country_of_the_boundaries_layer(kz_layers):
    """With a boundaries layer the surface covers the whole country and nothing abroad."""
    import geoplan

    boundaries = gpd.read_file(geoplan.embedded_layers_path() / "boundaries.geojson")
    layers = kz_layers.copy()
    layers.layers["boundaries"] = boundaries
    result = nearest_centre_surface(layers, resolution_m=5000)
    # Fort-Shevchenko (Caspian coast) and Zaysan (far east) lie beyond the schematic roads' hull.
    places = gpd.GeoSeries(shapely.points([(50.25, 44.50), (84.87, 47.47)]), crs=4326)
    assert np.isfinite(sample_surface(result, places)).all()
    assert np.isfinite(sample_surface(result, kz_layers.towns)).all()
    # Bishkek and Novosibirsk lie in the grid's box but abroad: nodata.
    abroad = gpd.GeoSeries(shapely.points([(74.59, 42.87), (82.92, 55.03)]), crs=4326)
    assert np.isnan(sample_surface(result, abroad)).all()
    # Every cell inside the country has a time: the grid's valid cells are the country's cells.
    country = boundaries[boundaries["level"] == 0].to_crs(result.crs).geometry.iloc[0]
    h, w = result.array.shape
    rows, cols = np.mgrid[0:h:7, 0:w:7]
    xs, ys = result.transform @ (cols.ravel() + 0.5, rows.ravel() + 0.5)
    inside = shapely.contains_xy(country, xs, ys)
    valid = result.array[rows.ravel(), cols.ravel()] != NODATA
    assert valid[inside].all() and inside.sum() > 1000
    assert valid.mean() < 0.8  # the box around Kazakhstan holds much that is abroad
