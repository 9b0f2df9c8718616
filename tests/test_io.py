"""geoplan._io: atomic writes and the RFC 7946 GeoJSON writer."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon

from geoplan._io import (
    GEOJSON_PRECISION,
    atomic_path,
    geojson_text,
    json_value,
    write_bytes_atomic,
    write_csv,
    write_geojson,
    write_text_atomic,
)

#: A clockwise square (RFC 7946 wants exterior rings counter-clockwise) with a clockwise hole.
CW_SQUARE = Polygon(
    [(70.0, 50.0), (70.0, 51.0), (71.0, 51.0), (71.0, 50.0), (70.0, 50.0)],
    holes=[[(70.2, 50.2), (70.8, 50.2), (70.8, 50.8), (70.2, 50.8), (70.2, 50.2)]],
)


def _ring_area_signed(coords: list[list[float]]) -> float:
    """Shoelace sum: positive for a counter-clockwise ring (x east, y north)."""
    xy = np.asarray(coords, dtype=float)
    return 0.5 * float(np.sum(xy[:-1, 0] * xy[1:, 1] - xy[1:, 0] * xy[:-1, 1]))


@pytest.fixture
def sample() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "name_ru": ["Жезказган", 'Say "hi" <b>&amp;</b>', "Қарағанды — 'ok'", None],
            "value": [1.5, np.nan, 3.0, np.inf],
            "count": pd.array([1, None, 3, 4], dtype="Int64"),
        },
        geometry=[
            CW_SQUARE,
            Point(67.712345678901, 47.787654321098),
            LineString([(70.1234567891, 50.0), (71.0, 50.9876543219)]),
            None,
        ],
        crs=4326,
    )


def test_no_crs_member_and_feature_ids(sample: gpd.GeoDataFrame) -> None:
    doc = json.loads(geojson_text(sample, name="sample"))
    assert "crs" not in doc
    assert doc["type"] == "FeatureCollection"
    assert doc["name"] == "sample"
    assert [f["id"] for f in doc["features"]] == ["a", "b", "c", "d"]
    assert all(set(f) == {"type", "id", "properties", "geometry"} for f in doc["features"])


def test_exterior_rings_counter_clockwise_holes_clockwise(sample: gpd.GeoDataFrame) -> None:
    assert not CW_SQUARE.exterior.is_ccw  # the input really is clockwise
    poly = json.loads(geojson_text(sample))["features"][0]["geometry"]
    assert poly["type"] == "Polygon"
    exterior, hole = poly["coordinates"]
    assert _ring_area_signed(exterior) > 0
    assert _ring_area_signed(hole) < 0
    # Same shape, only re-oriented.
    assert shapely.geometry.shape(poly).equals(CW_SQUARE)


def test_coordinates_rounded_to_six_decimals(sample: gpd.GeoDataFrame) -> None:
    text = geojson_text(sample)
    doc = json.loads(text)
    coords = shapely.get_coordinates(
        [shapely.geometry.shape(f["geometry"]) for f in doc["features"] if f["geometry"] is not None]
    )
    assert np.allclose(coords, np.round(coords, GEOJSON_PRECISION), rtol=0, atol=1e-12)
    assert doc["features"][1]["geometry"]["coordinates"] == [67.712346, 47.787654]
    # No number in the geometry text has more than 6 decimals.
    geometry_text = "".join(json.dumps(f["geometry"]) for f in doc["features"])
    assert not re.search(r"\d\.\d{7,}", geometry_text)


def test_reprojects_to_wgs84() -> None:
    utm = gpd.GeoDataFrame({"id": ["p"]}, geometry=[Point(500000.0, 5500000.0)], crs=32642)
    lonlat = gpd.GeoSeries([Point(500000.0, 5500000.0)], crs=32642).to_crs(4326).iloc[0]
    x, y = json.loads(geojson_text(utm))["features"][0]["geometry"]["coordinates"]
    assert (x, y) == (round(lonlat.x, 6), round(lonlat.y, 6))
    assert 68.9 < x < 69.1  # UTM 42N central meridian is 69 E


def test_naive_geometries_refused() -> None:
    with pytest.raises(ValueError, match="no CRS"):
        geojson_text(gpd.GeoDataFrame({"id": ["p"]}, geometry=[Point(1, 2)]))


def test_nan_inf_and_missing_become_null(sample: gpd.GeoDataFrame) -> None:
    props = [f["properties"] for f in json.loads(geojson_text(sample))["features"]]
    assert [p["value"] for p in props] == [1.5, None, 3.0, None]
    assert [p["count"] for p in props] == [1, None, 3, 4]
    assert props[3]["name_ru"] is None
    assert json.loads(geojson_text(sample))["features"][3]["geometry"] is None
    assert "NaN" not in geojson_text(sample) and "Infinity" not in geojson_text(sample)


def test_json_value_scalars() -> None:
    assert json_value(np.int64(5)) == 5 and type(json_value(np.int64(5))) is int
    assert json_value(np.float32(0.5)) == 0.5
    assert json_value(np.bool_(True)) is True
    assert json_value(pd.NA) is None and json_value(pd.NaT) is None and json_value(float("nan")) is None
    assert json_value(pd.Timestamp("2024-01-01")) == "2024-01-01T00:00:00"
    assert json_value(np.array([1, np.nan])) == [1.0, None]
    assert json_value({"a": np.int32(1)}) == {"a": 1}


def test_text_round_trips_through_pyogrio(sample: gpd.GeoDataFrame, tmp_path) -> None:
    path = write_geojson(sample, tmp_path / "sample.geojson", name="sample")
    raw = path.read_bytes()
    assert "Жезказган".encode() in raw  # written as UTF-8 text, not \\u escapes
    back = pyogrio.read_dataframe(path)
    assert back["id"].tolist() == ["a", "b", "c", "d"]
    assert back["name_ru"].tolist()[:3] == sample["name_ru"].tolist()[:3]
    assert pd.isna(back["name_ru"].iloc[3])
    assert back.crs.equals("EPSG:4326")
    assert back.geometry.iloc[0].equals(CW_SQUARE)
    assert back.geometry.iloc[3] is None


def test_identical_input_gives_identical_bytes(sample: gpd.GeoDataFrame, tmp_path) -> None:
    a = write_geojson(sample, tmp_path / "a.geojson").read_bytes()
    b = write_geojson(sample.copy(), tmp_path / "b.geojson").read_bytes()
    assert a == b
    assert a.endswith(b"\n") and b"\r\n" not in a
    # One feature per line, so diffs of edited layers stay readable.
    assert len(a.splitlines()) == 2 + len(sample)


def test_empty_frame_is_a_valid_collection(tmp_path) -> None:
    empty = gpd.GeoDataFrame({"id": []}, geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    doc = json.loads(write_geojson(empty, tmp_path / "e.geojson").read_text(encoding="utf-8"))
    assert doc == {"type": "FeatureCollection", "features": []}


def test_atomic_path_keeps_old_file_when_block_raises(tmp_path) -> None:
    target = tmp_path / "out.txt"
    target.write_bytes(b"old contents\n")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target) as tmp:
        tmp.write_bytes(b"half-written")
        raise RuntimeError("boom")
    assert target.read_bytes() == b"old contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]  # no temporary left behind


def test_atomic_path_creates_no_file_when_block_raises(tmp_path) -> None:
    target = tmp_path / "sub" / "new.gpkg"
    with pytest.raises(KeyError), atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".gpkg"  # GDAL picks drivers by suffix
        tmp.write_bytes(b"x")
        raise KeyError("x")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_atomic_writers_replace(tmp_path) -> None:
    target = tmp_path / "f.txt"
    write_text_atomic(target, "één\r\nline\n")
    assert target.read_bytes() == "één\r\nline\n".encode()
    write_bytes_atomic(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_write_csv_utf8_lf(tmp_path) -> None:
    df = pd.DataFrame({"town": ["Жезказган", "Aksu"], "km": [1.5, np.nan]})
    path = write_csv(df, tmp_path / "t.csv")
    assert path.read_bytes() == "town,km\nЖезказган,1.5\nAksu,\n".encode()
