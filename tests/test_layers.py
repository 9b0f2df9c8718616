"""geoplan.layers: schemas, reading every supported format, validation, and the bad-input corpus.

Every broken layer set here is generated in ``tmp_path`` from the embedded Kazakhstan layers
with one known defect put in by hand, so each test knows which problem (check code), layer and
feature id must come out. Files are written with GDAL (pyogrio), not with geoplan's writers,
so the reader is tested against files geoplan did not make.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiPoint, Point, Polygon

import geoplan
from geoplan import GeoplanError, LayerReadError, LayerValidationError, Problem
from geoplan.layers import (
    ROAD_CLASSES,
    ROADS,
    SCHEMAS,
    LayerSet,
    ValidationConfig,
    normalise,
    problems_frame,
    read_layers,
    require_valid,
    validate,
    write_layers,
)

FORMATS = ("geojson", "gpkg", "shp", "fgb")
#: UTM 42N covers central Kazakhstan; used to place test features a known number of metres apart.
UTM = 32642


# --------------------------------------------------------------------------------------
# helpers


#: The administrative layers (boundaries, settlements) have their own tests in
#: tests/test_layers_admin.py; the corpus here works on the analysis layers.
ADMIN_LAYERS = ("boundaries", "settlements")


@pytest.fixture(scope="module")
def base() -> LayerSet:
    full = read_layers(geoplan.embedded_layers_path())
    return LayerSet({n: g for n, g in full.layers.items() if n not in ADMIN_LAYERS},
                    {n: s for n, s in full.sources.items() if n not in ADMIN_LAYERS}, full.meta,
                    {n: c for n, c in full.native_crs.items() if n not in ADMIN_LAYERS}, full.read_problems)


@pytest.fixture
def frames(base: LayerSet) -> dict[str, gpd.GeoDataFrame]:
    """Editable copies of the embedded layers."""
    return {name: gdf.copy() for name, gdf in base.layers.items()}


def _write(gdf: gpd.GeoDataFrame, path: Path, **kwargs) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # field-name laundering and 254-character notes (Shapefile)
        pyogrio.write_dataframe(gdf, path, **kwargs)


def materialise(frames: dict[str, gpd.GeoDataFrame], dest: Path, fmt: str, *, meta: bool = True) -> Path:
    """Write ``frames`` as a layer set in ``fmt``; return what to pass to :func:`read_layers`."""
    meta_text = (geoplan.embedded_layers_path() / "layerset.json").read_text(encoding="utf-8")
    dest.mkdir(parents=True, exist_ok=True)
    if fmt == "gpkg":
        path = dest / "layers.gpkg"
        for i, (name, gdf) in enumerate(frames.items()):
            _write(gdf, path, layer=name, driver="GPKG", append=i > 0)
        if meta:
            (dest / "layers.layerset.json").write_text(meta_text, encoding="utf-8")
        return path
    for name, gdf in frames.items():
        options = {"layer_options": {"SPATIAL_INDEX": "NO"}} if fmt == "fgb" else {}  # FGB's index refuses nulls
        _write(gdf, dest / f"{name}.{fmt}", **options)
    if meta:
        (dest / "layerset.json").write_text(meta_text, encoding="utf-8")
    return dest


def row(gdf: gpd.GeoDataFrame, fid: str) -> int:
    """Index label of feature ``fid``."""
    hits = gdf.index[gdf["id"] == fid]
    assert len(hits) == 1, fid
    return hits[0]


def find(problems: list[Problem], check: str, layer: str, fid: str | None, severity: str = "error") -> Problem:
    """The problem with this check code on this feature; fails with the full list otherwise."""
    hits = [p for p in problems if (p.check, p.layer, p.feature_id, p.severity) == (check, layer, fid, severity)]
    assert hits, f"no {severity} {check!r} on {layer}/{fid}; got:\n" + "\n".join(map(str, problems))
    return hits[0]


def errors(problems: list[Problem]) -> set[tuple[str, str | None, str]]:
    return {(p.layer, p.feature_id, p.check) for p in problems if p.severity == "error"}


def metres_from(line: LineString, offset_m: float, at: float = 0.5) -> Point:
    """A lon/lat point ``offset_m`` metres to the left of ``line`` at fraction ``at`` of its length."""
    # A straight segment in a lon/lat file is straight in lon/lat: follow it, not its UTM chord.
    g = gpd.GeoSeries([shapely.segmentize(line, 0.0005)], crs=4326).to_crs(UTM).iloc[0]
    p = g.interpolate(at, normalized=True)
    q = g.interpolate(min(at + 0.001, 1.0), normalized=True)
    dx, dy = q.x - p.x, q.y - p.y
    n = math.hypot(dx, dy)
    target = Point(p.x - dy / n * offset_m, p.y + dx / n * offset_m)
    return gpd.GeoSeries([target], crs=UTM).to_crs(4326).iloc[0]


def new_road(gdf: gpd.GeoDataFrame, fid: str, line: LineString, **props) -> gpd.GeoDataFrame:
    rec = {"id": fid, "road_class": "primary", "length_km": None, **props}
    add = gpd.GeoDataFrame([rec], geometry=[line], crs=gdf.crs)
    return pd.concat([gdf, add], ignore_index=True)


# --------------------------------------------------------------------------------------
# schemas


def test_one_schema_per_layer_kind() -> None:
    assert sorted(SCHEMAS) == ["boundaries", "centres", "rail", "rail_stations", "roads", "settlements", "towns"]
    kinds = {n: s.geometry_type for n, s in SCHEMAS.items()}
    assert kinds == {"towns": "Point", "centres": "Point", "roads": "LineString",
                     "rail_stations": "Point", "rail": "LineString", "boundaries": "Polygon",
                     "settlements": "Point"}
    for schema in SCHEMAS.values():
        assert len(set(schema.column_names)) == len(schema.column_names)
        idf = schema.field(schema.id_field)
        assert idf.required and not idf.nullable and idf.kind == "str"
        assert all(f.kind in ("str", "int", "float") for f in schema.fields)
        assert all(f.description for f in schema.fields)
    assert {f.name for f in SCHEMAS["towns"].fields if f.required} == {"id", "name_en", "population"}
    assert {f.name for f in SCHEMAS["centres"].fields if f.required} == {"id", "name_en", "role", "population"}
    assert SCHEMAS["roads"].field("road_class").allowed == ROAD_CLASSES
    assert "motorway" in ROAD_CLASSES and "highway" not in ROAD_CLASSES
    with pytest.raises(KeyError):
        SCHEMAS["towns"].field("no_such_column")


def test_embedded_layers_follow_their_schemas(base: LayerSet) -> None:
    for name, gdf in base.layers.items():
        declared = SCHEMAS[name].column_names
        present = [c for c in gdf.columns if c != gdf.geometry.name]
        assert present == [c for c in declared if c in present], name  # schema order
        assert {f.name for f in SCHEMAS[name].fields if f.required} <= set(present)
    assert validate(base) == []


# --------------------------------------------------------------------------------------
# reading: every format gives the same layer set


def assert_same_layers(a: LayerSet, b: LayerSet, *, text_limit: int | None = None) -> None:
    """Same layers, columns, values and geometries, feature order aside."""
    assert sorted(a.names) == sorted(b.names)
    for name in a.names:
        x = a[name].sort_values("id").reset_index(drop=True)
        y = b[name].sort_values("id").reset_index(drop=True)
        assert list(x.columns) == list(y.columns), name
        assert len(x) == len(y) > 0
        for col in x.columns:
            if col == x.geometry.name:
                assert x.geometry.geom_equals_exact(y.geometry, tolerance=1e-9).all(), name
                continue
            xv, yv = x[col].to_numpy(dtype=object), y[col].to_numpy(dtype=object)
            for u, v in zip(xv, yv, strict=True):
                if pd.isna(u) or pd.isna(v):
                    assert pd.isna(u) and pd.isna(v), (name, col, u, v)
                elif isinstance(u, str):
                    if text_limit is not None and len(u.encode()) > text_limit:
                        assert u.startswith(str(v)[:40]), (name, col)  # the format cuts long text
                    else:
                        assert u == v, (name, col, u, v)
                else:
                    assert float(u) == float(v), (name, col, u, v)
        assert x.crs.equals(y.crs)


@pytest.mark.parametrize("fmt", FORMATS)
def test_read_every_format(base: LayerSet, tmp_path: Path, fmt: str) -> None:
    src = materialise(base.layers, tmp_path, fmt)
    got = read_layers(src)
    # Shapefile .dbf text fields hold 254 bytes at most.
    assert_same_layers(base, got, text_limit=254 if fmt == "shp" else None)
    assert got.meta["extent"] == [46.0, 40.0, 88.0, 56.0]
    assert all(fmt in s for s in got.sources.values())
    assert errors(validate(got)) == set()


def test_shapefile_truncated_column_names_are_restored(base: LayerSet, tmp_path: Path) -> None:
    """dBase keeps 10 characters: GDAL writes population_year as populati_1, resource_status as resource_s."""
    src = materialise(base.layers, tmp_path, "shp")
    on_disk = pyogrio.read_info(src / "towns.shp")["fields"].tolist()
    assert "populati_1" in on_disk and "resource_s" in on_disk and "population_year" not in on_disk
    assert "length_sou" in pyogrio.read_info(src / "roads.shp")["fields"].tolist()
    got = read_layers(src)
    for name in ("towns", "centres", "roads"):
        assert [c for c in got[name].columns if c != "geometry"] == [
            c for c in base[name].columns if c != "geometry"
        ]
    merged = got.towns.merge(base.towns, on="id", suffixes=("_shp", ""))
    assert (merged["population_year_shp"] == merged["population_year"]).all()
    assert (merged["resource_status_shp"] == merged["resource_status"]).all()
    assert merged["population_basis_shp"].eq(merged["population_basis"]).all()


def test_shapefile_ambiguous_truncation_is_reported_not_guessed(base: LayerSet, tmp_path: Path) -> None:
    # population + population_2009: the file says 'population', 'populati_1' - which one is
    # 'populati_1'? year, 1999, 2009, 2021 or basis all truncate the same way.
    towns = base.towns[["id", "name_en", "population", "population_2009", "main_industry", "geometry"]]
    src = materialise({**base.layers, "towns": towns}, tmp_path, "shp")
    got = read_layers(src)
    assert "populati_1" in got.towns.columns
    assert "main_industry" in got.towns.columns  # unambiguous, restored
    assert (got.towns["population"].to_numpy() == towns["population"].to_numpy()).all()
    problems = validate(got)
    p = find(problems, "truncated_column", "towns", None, "warning")
    assert ("'populati_1' may be any of population_1999, population_2009, population_2021, population_basis, "
            "population_year") in p.message
    assert "it is ignored" in p.message
    assert "GeoPackage" in p.fix and p.source.endswith("towns.shp")
    # 'population' itself could be population_year written first: required, so an error.
    p = find(problems, "truncated_column", "towns", None, "error")
    assert ("'population' may be any of population, population_1999, population_2009, population_2021, "
            "population_year") in p.message
    assert "cannot be trusted" in p.message
    assert {e[2] for e in errors(problems)} == {"truncated_column"}


def test_mixed_folder_and_flatgeobuf_spatial_order(base: LayerSet, tmp_path: Path) -> None:
    """Layers in different formats in one folder; FlatGeobuf's spatial index reorders features."""
    _write(base.towns, tmp_path / "towns.gpkg", layer="towns")
    _write(base.centres, tmp_path / "centres.shp")
    _write(base.roads, tmp_path / "roads.fgb")  # default: with spatial index
    got = read_layers(tmp_path)
    assert got.roads["id"].tolist() != base.roads["id"].tolist()  # really reordered
    core = LayerSet({n: base[n] for n in ("towns", "centres", "roads")})  # the rail layers are optional
    assert_same_layers(core, got, text_limit=254)
    assert got.sources == {
        "towns": str(tmp_path / "towns.gpkg"),
        "centres": str(tmp_path / "centres.shp"),
        "roads": str(tmp_path / "roads.fgb"),
    }
    assert got.meta == {}  # no layerset.json here


def test_projected_geopackage_is_reprojected(base: LayerSet, tmp_path: Path) -> None:
    utm = {n: g.to_crs(UTM) for n, g in base.layers.items()}
    got = read_layers(materialise(utm, tmp_path, "gpkg"))
    assert all(c is not None and c.equals(UTM) for c in got.native_crs.values())
    for name in got.names:
        a = base[name].sort_values("id").geometry.reset_index(drop=True)
        b = got[name].sort_values("id").geometry.reset_index(drop=True)
        assert got[name].crs.equals(4326)
        assert np.abs(shapely.get_coordinates(a) - shapely.get_coordinates(b)).max() < 1e-7
    assert validate(got) == []  # a projected GeoPackage is fine: no CRS warning


def test_required_layers_and_getitem(base: LayerSet, tmp_path: Path) -> None:
    _write(base.towns, tmp_path / "towns.geojson", driver="GeoJSON")
    got = read_layers(tmp_path, required=("towns",))
    assert got.names == ["towns"]
    with pytest.raises(LayerReadError, match="no 'roads' layer") as info:
        got.roads  # noqa: B018
    assert "add a 'roads' layer" in info.value.fix
    problems = validate(got)
    assert errors(problems) == set()


def test_copy_is_independent(base: LayerSet) -> None:
    before = {name: gdf.copy() for name, gdf in base.layers.items()}
    extent = list(base.meta["extent"])
    c = base.copy()
    # Every container is new: the dict of layers, each frame, its geometry array, and the metadata.
    assert c.layers is not base.layers and c.meta is not base.meta and c.sources is not base.sources
    assert c.read_problems is not base.read_problems
    for name in base.layers:
        assert c.layers[name] is not base.layers[name]
        assert not np.shares_memory(c.layers[name]["id"].to_numpy(), base.layers[name]["id"].to_numpy())
    c.towns.loc[0, "population"] = -1
    c.towns.loc[0, "geometry"] = shapely.Point(0, 0)
    c.layers["roads"] = c.roads.iloc[:1]
    c.meta["extent"][0] = 0.0
    c.meta["name"] = "edited"
    c.sources["towns"] = "elsewhere"
    for name, gdf in before.items():
        assert base.layers[name].equals(gdf), name
    assert base.meta["extent"] == extent and base.meta.get("name") != "edited"
    assert base.sources["towns"] != "elsewhere"


# --------------------------------------------------------------------------------------
# the bad-input corpus, layer-set level: one defect, one problem, in every format it can exist in


def _dup_id(f):
    f["towns"].loc[row(f["towns"], "aksu"), "id"] = "abai"
    # Knock-on: the station of Aksu now serves an id no town or centre has.
    return [("error", "towns", "abai", "duplicate_id"), ("error", "rail_stations", "aksu", "unknown_place")]


def _negative_population(f):
    f["towns"].loc[row(f["towns"], "balkhash"), "population"] = -5
    return [("error", "towns", "balkhash", "out_of_range")]


def _zero_population(f):
    f["centres"].loc[row(f["centres"], "taraz"), "population"] = 0
    return [("error", "centres", "taraz", "out_of_range")]


def _nan_population(f):
    t = f["towns"]
    t["population"] = t["population"].astype(float)
    t.loc[row(t, "ridder"), "population"] = np.nan
    return [("error", "towns", "ridder", "null_value")]


def _text_population(f):
    t = f["towns"]
    t["population"] = t["population"].astype(object)
    t.loc[row(t, "kentau"), "population"] = "12 000"
    return [("error", "towns", "kentau", "wrong_type")]


def _fractional_population(f):
    t = f["towns"]
    t["population"] = t["population"].astype(float)
    t.loc[row(t, "rudny"), "population"] = 111908.5
    return [("error", "towns", "rudny", "wrong_type")]


def _missing_column(f):
    f["towns"] = f["towns"].drop(columns=["population"])
    return [("error", "towns", None, "missing_column")]


def _null_name(f):
    f["centres"].loc[row(f["centres"], "semey"), "name_en"] = None
    return [("error", "centres", "semey", "null_value")]


def _unknown_road_class(f):
    f["roads"].loc[row(f["roads"], "KZR010"), "road_class"] = "highway"
    f["centres"].loc[row(f["centres"], "astana"), "role"] = "capital"
    return [("error", "roads", "KZR010", "not_allowed"), ("error", "centres", "astana", "not_allowed")]


def _zero_length_km(f):
    f["roads"].loc[row(f["roads"], "KZR007"), "length_km"] = 0.0
    return [("error", "roads", "KZR007", "out_of_range")]


def _bad_road_numbers(f):
    r = f["roads"]
    r["speed_kph"] = np.nan
    r["oneway"] = pd.array([pd.NA] * len(r), dtype="Int64")
    r.loc[row(r, "KZR011"), "lanes"] = 0
    r.loc[row(r, "KZR012"), "speed_kph"] = 500.0
    r.loc[row(r, "KZR013"), "oneway"] = 2
    return [("error", "roads", "KZR011", "out_of_range"), ("error", "roads", "KZR012", "out_of_range"),
            ("error", "roads", "KZR013", "out_of_range")]


def _empty_geometry(f):
    f["towns"].loc[row(f["towns"], "arkalyk"), "geometry"] = None
    return [("error", "towns", "arkalyk", "empty_geometry")]


def _self_intersecting_polygon(f):
    bowtie = Polygon([(69.0, 49.0), (70.0, 50.0), (70.0, 49.0), (69.0, 50.0), (69.0, 49.0)])
    assert not bowtie.is_valid
    f["towns"].loc[row(f["towns"], "altai"), "geometry"] = bowtie
    return [("error", "towns", "altai", "wrong_geometry_type")]


def _multipart_point(f):
    t = f["towns"]
    p = t.geometry[row(t, "satpayev")]
    t.loc[row(t, "satpayev"), "geometry"] = MultiPoint([p, Point(p.x + 0.1, p.y)])
    t.loc[row(t, "saran"), "geometry"] = MultiPoint([t.geometry[row(t, "saran")]])  # one part: accepted
    return [("error", "towns", "satpayev", "wrong_geometry_type")]


def _collapsed_line(f):
    r = f["roads"]
    x, y = r.geometry[row(r, "KZR005")].coords[0]
    r.loc[row(r, "KZR005"), "geometry"] = LineString([(x, y), (x, y)])
    return [("error", "roads", "KZR005", "invalid_geometry")]


def _missing_crs(f):
    f["towns"] = f["towns"].set_crs(None, allow_override=True)
    return [("error", "towns", None, "missing_crs")]


def _projected_labelled_wgs84(f):
    f["towns"] = f["towns"].to_crs(UTM).set_crs(4326, allow_override=True)
    return [("error", "towns", fid, "coordinates_out_of_range") for fid in ("zhezkazgan", "aksai", "tekeli")]


def _swapped(f):
    t = f["towns"]
    p = t.geometry[row(t, "ekibastuz")]
    t.loc[row(t, "ekibastuz"), "geometry"] = Point(p.y, p.x)
    return [("error", "towns", "ekibastuz", "swapped_coordinates")]


def _outside_extent(f):
    f["towns"].loc[row(f["towns"], "kulsary"), "geometry"] = Point(30.52, 50.45)  # Kyiv
    return [("error", "towns", "kulsary", "outside_extent")]


def _latitude_out_of_range(f):
    f["centres"].loc[row(f["centres"], "aktau"), "geometry"] = Point(51.16, 95.0)
    return [("error", "centres", "aktau", "coordinates_out_of_range")]


def _empty_layer(f):
    f["centres"] = f["centres"].iloc[:0]
    return [("error", "centres", None, "empty_layer")]


# Format-sensitive defects (types, nulls, geometry, CRS) run in every format; plain value
# checks in two, so that each check meets every reader somewhere without repeating itself.
CORPUS: dict[str, tuple[Callable, tuple[str, ...]]] = {
    "duplicate id": (_dup_id, FORMATS),
    "negative population": (_negative_population, ("geojson", "shp")),
    "zero population": (_zero_population, ("gpkg", "fgb")),
    "NaN population": (_nan_population, FORMATS),
    "text in numeric column": (_text_population, FORMATS),
    "fractional integer": (_fractional_population, ("geojson", "gpkg")),
    "missing required column": (_missing_column, FORMATS),
    "null required text": (_null_name, ("geojson", "shp")),
    "unknown road class and role": (_unknown_road_class, ("gpkg", "fgb")),
    "zero road length_km": (_zero_length_km, ("geojson", "shp")),
    "lanes/speed/oneway out of range": (_bad_road_numbers, ("gpkg", "fgb")),
    "empty geometry": (_empty_geometry, FORMATS),
    "self-intersecting polygon town": (_self_intersecting_polygon, ("geojson", "gpkg", "fgb")),
    "multi-part point": (_multipart_point, ("geojson", "gpkg")),
    "collapsed road line": (_collapsed_line, FORMATS),
    "no CRS": (_missing_crs, ("gpkg", "shp", "fgb")),
    "projected CRS labelled EPSG:4326": (_projected_labelled_wgs84, FORMATS),
    "swapped lat/lon": (_swapped, FORMATS),
    "town outside the study area": (_outside_extent, ("geojson", "fgb")),
    "latitude beyond 90": (_latitude_out_of_range, ("geojson", "shp")),
    "empty layer": (_empty_layer, ("gpkg", "fgb")),
}
CORPUS_CASES = [pytest.param(name, fmt, id=f"{name}-{fmt}") for name, (_, fmts) in CORPUS.items() for fmt in fmts]


@pytest.mark.parametrize(("case", "fmt"), CORPUS_CASES)
def test_corpus(frames: dict[str, gpd.GeoDataFrame], tmp_path: Path, case: str, fmt: str) -> None:
    mutate, _ = CORPUS[case]
    expected = mutate(frames)
    layers = read_layers(materialise(frames, tmp_path, fmt))
    problems = validate(layers)
    if (case, fmt) == ("missing required column", "shp"):
        expected = []
    for severity, layer, fid, check in expected:
        p = find(problems, check, layer, fid, severity)
        assert p.message and p.fix
        assert layer in p.source and (fmt in p.source), p.source  # names the file (and GeoPackage layer)
        assert str(p).startswith(severity.upper()) and "fix:" in str(p)
        if fid is not None:
            assert fid in str(p)
    # Nothing else is an error, except the knock-on effects named in the case.
    expected_errors = {(layer, fid, check) for sev, layer, fid, check in expected if sev == "error"}
    if (case, fmt) == ("missing required column", "shp"):
        # GDAL wrote population_year as 'population' (the name was free): the Shapefile's
        # 'population' column may be either, and geoplan says so instead of trusting it.
        p = find(problems, "truncated_column", "towns", None)
        assert "'population' may be any of population, population_year" in p.message
        assert {e[2] for e in errors(problems)} == {"truncated_column"}
    elif case == "projected CRS labelled EPSG:4326":  # every town is out of range
        assert {e[2] for e in errors(problems)} == {"coordinates_out_of_range"}
        assert len(errors(problems)) == len(frames["towns"])
    else:
        assert errors(problems) == expected_errors


def test_require_valid(frames: dict[str, gpd.GeoDataFrame], tmp_path: Path) -> None:
    _negative_population(frames)
    layers = read_layers(materialise(frames, tmp_path, "geojson"))
    with pytest.raises(LayerValidationError) as info:
        require_valid(layers)
    assert info.value.problems == validate(layers)
    assert "1 error(s)" in info.value.message and "balkhash" in info.value.message
    assert "geoplan layers check" in info.value.fix
    assert require_valid(read_layers(geoplan.embedded_layers_path())) == []


def test_corpus_messages_are_specific(frames: dict[str, gpd.GeoDataFrame], tmp_path: Path) -> None:
    _text_population(frames)
    _collapsed_line(frames)
    _swapped(frames)
    _dup_id(frames)
    problems = validate(read_layers(materialise(frames, tmp_path, "geojson")))
    assert "'12 000'" in find(problems, "wrong_type", "towns", "kentau").message
    assert "thousands separators" in find(problems, "wrong_type", "towns", "kentau").fix
    assert "Too few points" in find(problems, "invalid_geometry", "roads", "KZR005").message  # shapely's reason
    assert "swap longitude and latitude" in find(problems, "swapped_coordinates", "towns", "ekibastuz").fix
    assert "2 features" in find(problems, "duplicate_id", "towns", "abai").message


def test_problems_sorted_and_deterministic(frames: dict[str, gpd.GeoDataFrame], tmp_path: Path) -> None:
    for mutate in (_dup_id, _negative_population, _swapped, _null_name, _unknown_road_class):
        mutate(frames)
    layers = read_layers(materialise(frames, tmp_path, "gpkg"))
    a, b = validate(layers), validate(layers)
    assert a == b
    order = {"error": 0, "warning": 1}
    keys = [(p.layer, order[p.severity], p.feature_id or "", p.check) for p in a]
    assert keys == sorted(keys)
    table = problems_frame(a)
    assert list(table.columns) == ["severity", "layer", "feature_id", "check", "message", "fix", "source"]
    assert len(table) == len(a) and set(table["check"]) >= {"duplicate_id", "out_of_range", "not_allowed"}


# --------------------------------------------------------------------------------------
# road network checks (topology and access), with configurable thresholds


def test_zero_length_road_and_shorter_than_line(frames: dict[str, gpd.GeoDataFrame], tmp_path: Path) -> None:
    r = frames["roads"]
    x, y = r.geometry[row(r, "KZR003")].coords[0]
    # 7 cm long: valid for GEOS, useless as a road.
    frames["roads"] = new_road(r, "KZR900", LineString([(x, y), (x + 1e-6, y)]))
    frames["roads"].loc[row(frames["roads"], "KZR020"), "length_km"] = 1.0
    problems = validate(read_layers(materialise(frames, tmp_path, "gpkg")))
    assert "zero length" in find(problems, "zero_length", "roads", "KZR900").message
    p = find(problems, "length_shorter_than_line", "roads", "KZR020", "warning")
    assert "length_km is 1" in p.message


def test_network_split_into_components(frames: dict[str, gpd.GeoDataFrame], tmp_path: Path) -> None:
    # Two roads joined to each other in the empty west, touching nothing else.
    r = new_road(frames["roads"], "KZR902", LineString([(50.5, 45.0), (51.0, 45.2)]))
    frames["roads"] = new_road(r, "KZR901", LineString([(50.0, 45.0), (50.5, 45.0)]))
    problems = validate(read_layers(materialise(frames, tmp_path, "geojson")))
    p = find(problems, "disconnected_component", "roads", "KZR901", "warning")
    assert "2 road(s)" in p.message and "KZR901, KZR902" in p.message and "176 roads" in p.message
    assert [q for q in problems if q.check == "disconnected_component"] == [p]
    assert errors(problems) == set()


@pytest.mark.parametrize("fmt", ["geojson", "gpkg"])
def test_dangling_end_near_another_road(frames: dict[str, gpd.GeoDataFrame], tmp_path: Path, fmt: str) -> None:
    r = frames["roads"]
    target = r.geometry[row(r, "KZR001")]
    near = metres_from(target, 50.0)
    start = metres_from(target, 30_000.0)
    frames["roads"] = new_road(r, "KZR903", LineString([start, near]))
    layers = read_layers(materialise(frames, tmp_path, fmt))
    problems = validate(layers)
    p = find(problems, "dangling_end", "roads", "KZR903", "warning")
    assert p.message == "end is 50 m from road KZR001 but not connected to it"
    assert "snap the end onto road KZR001" in p.fix
    # 50 m is beyond a 40 m tolerance.
    tight = validate(layers, config=ValidationConfig(snap_tolerance_m=40))
    assert not [q for q in tight if q.check == "dangling_end"]


def test_dangling_end_on_a_road_without_vertex(frames: dict[str, gpd.GeoDataFrame], tmp_path: Path) -> None:
    r = frames["roads"]
    target = r.geometry[row(r, "KZR001")]
    on = target.interpolate(0.5, normalized=True)  # on the line, not at a vertex
    frames["roads"] = new_road(r, "KZR904", LineString([metres_from(target, 20_000.0), on]))
    problems = validate(read_layers(materialise(frames, tmp_path, "gpkg")))
    p = find(problems, "dangling_end", "roads", "KZR904", "warning")
    assert "lies on road KZR001" in p.message and "split road KZR001" in p.fix


def test_dangling_end_beyond_tolerance_needs_wider_config(frames: dict[str, gpd.GeoDataFrame], tmp_path: Path) -> None:
    r = frames["roads"]
    target = r.geometry[row(r, "KZR001")]
    frames["roads"] = new_road(r, "KZR905", LineString([metres_from(target, 30_000.0), metres_from(target, 500.0)]))
    layers = read_layers(materialise(frames, tmp_path, "geojson"))
    assert not [p for p in validate(layers) if p.check == "dangling_end"]
    wide = validate(layers, config=ValidationConfig(snap_tolerance_m=1000))
    assert "end is 500 m from road KZR001" in find(wide, "dangling_end", "roads", "KZR905", "warning").message


def test_town_far_from_any_road(frames: dict[str, gpd.GeoDataFrame], tmp_path: Path) -> None:
    spot = Point(69.0, 45.8)  # Betpak-Dala desert
    roads = frames["roads"].to_crs(UTM)
    gap_km = roads.distance(gpd.GeoSeries([spot], crs=4326).to_crs(UTM).iloc[0]).min() / 1000
    assert 40 < gap_km < 300  # precondition, measured independently of geoplan
    frames["towns"].loc[row(frames["towns"], "karazhal"), "geometry"] = spot
    layers = read_layers(materialise(frames, tmp_path, "fgb"))
    p = find(validate(layers), "far_from_road", "towns", "karazhal", "warning")
    reported = float(p.message.split("nearest road is ")[1].split(" km")[0])
    assert reported == pytest.approx(gap_km, rel=0.02)  # the check's metric CRS vs UTM 42N
    assert not [q for q in validate(layers, config=ValidationConfig(max_access_km=200)) if q.check == "far_from_road"]
    assert not [q for q in validate(read_layers(geoplan.embedded_layers_path())) if q.check == "far_from_road"]


def test_identity_across_towns_and_centres(frames: dict[str, gpd.GeoDataFrame], tmp_path: Path) -> None:
    t, c = frames["towns"], frames["centres"]
    t.loc[row(t, "temirtau"), "id"] = "temirtau_town"  # same place, two ids
    p = c.geometry[row(c, "zhezkazgan")]
    c.loc[row(c, "zhezkazgan"), "geometry"] = Point(p.x + 0.3, p.y)  # same id, about 22 km apart
    problems = validate(read_layers(materialise(frames, tmp_path, "geojson")))
    assert "'temirtau'" in find(problems, "identity", "towns", "temirtau_town", "warning").fix
    # One id at two places is no declaration of one place: an error, not a warning (issue 14).
    assert "km apart" in find(problems, "id_conflict", "towns", "zhezkazgan", "error").message


# --------------------------------------------------------------------------------------
# the bad-input corpus, file level: what GDAL sees


@pytest.fixture
def kz_copy(tmp_path: Path) -> Path:
    dest = tmp_path / "kz"
    shutil.copytree(geoplan.embedded_layers_path(), dest)
    return dest


def edit_geojson(path: Path, edit: Callable[[dict], None]) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    edit(doc)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def feature(doc: dict, fid: str) -> dict:
    return next(f for f in doc["features"] if f["properties"]["id"] == fid)


def test_truncated_geojson(kz_copy: Path) -> None:
    path = kz_copy / "towns.geojson"
    text = path.read_bytes()
    path.write_bytes(text[: len(text) // 2])
    with pytest.raises(LayerReadError) as info:
        read_layers(kz_copy)
    msg = str(info.value)
    assert str(path) in msg and "cannot read layer" in msg and "QGIS" in info.value.fix


def test_empty_file(kz_copy: Path) -> None:
    (kz_copy / "roads.geojson").write_bytes(b"")
    with pytest.raises(LayerReadError, match=r"roads\.geojson"):
        read_layers(kz_copy)


def test_cp1251_geojson_is_a_clear_error(kz_copy: Path) -> None:
    """RFC 7946 GeoJSON is UTF-8; a CP1251 file is refused with the fix, not read as mojibake."""
    path = kz_copy / "towns.geojson"
    path.write_bytes(path.read_text(encoding="utf-8").encode("cp1251", errors="replace"))
    with pytest.raises(LayerReadError) as info:
        read_layers(kz_copy)
    assert str(path) in info.value.message and "UTF-8" in info.value.message and "RFC 7946" in info.value.message
    assert "UTF-8" in info.value.fix and "iconv" in info.value.fix


def test_latin1_geojson_is_a_clear_error(kz_copy: Path) -> None:
    path = kz_copy / "centres.geojson"
    edit_geojson(path, lambda d: feature(d, "oskemen")["properties"].update(name_en="Öskemen"))
    path.write_bytes(path.read_text(encoding="utf-8").replace("Ақ", "A").replace("Қ", "K").encode("latin-1", "replace"))
    with pytest.raises(LayerReadError, match="not in the file's declared encoding UTF-8"):
        read_layers(kz_copy)


def test_utf8_bom_is_read(kz_copy: Path) -> None:
    path = kz_copy / "towns.geojson"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    layers = read_layers(kz_copy)
    assert "Жезказган" in layers.towns["name_ru"].tolist()
    assert validate(layers) == []


@pytest.mark.parametrize("cpg", [True, False])
def test_cp1251_shapefile(base: LayerSet, tmp_path: Path, cpg: bool) -> None:
    """With a .cpg the Cyrillic names read correctly; without one they are flagged, not passed on silently."""
    _write(base.towns, tmp_path / "towns.shp", encoding="cp1251")
    assert (tmp_path / "towns.cpg").read_text().strip().upper() in ("CP1251", "1251")
    _write(base.centres, tmp_path / "centres.geojson", driver="GeoJSON")
    _write(base.roads, tmp_path / "roads.gpkg", layer="roads")
    if not cpg:
        (tmp_path / "towns.cpg").unlink()
    layers = read_layers(tmp_path)
    problems = validate(layers)
    if cpg:
        assert layers.towns["name_ru"].tolist() == base.towns["name_ru"].tolist()
        assert problems == []
    else:
        assert layers.towns["name_ru"].tolist() != base.towns["name_ru"].tolist()
        p = find(problems, "suspect_encoding", "towns", "abai", "warning")  # first town: Абай read as 'Àáàé'
        assert "'name_ru', 'name_kk'" in p.message and "29 feature(s)" in p.message and "'Àáàé'" in p.message
        assert ".cpg" in p.fix and [q.check for q in problems] == ["suspect_encoding"]
        assert p.source.endswith("towns.shp")


def test_unreadable_geopackage(tmp_path: Path) -> None:
    path = tmp_path / "layers.gpkg"
    path.write_bytes(np.random.default_rng(7).bytes(8192))
    with pytest.raises(LayerReadError) as info:
        read_layers(path)
    assert str(path) in info.value.message and "not a readable vector dataset" in info.value.message
    assert "DRIVER" not in info.value.message  # GDAL's advice for its own tools is dropped
    assert info.value.fix


def test_unreadable_layer_file_in_folder(kz_copy: Path) -> None:
    (kz_copy / "roads.geojson").unlink()
    (kz_copy / "roads.gpkg").write_bytes(b"SQLite format 3\x00" + bytes(4000))
    with pytest.raises(LayerReadError, match=r"roads\.gpkg \(layer roads\): cannot read layer"):
        read_layers(kz_copy)


def test_missing_layer_in_folder(kz_copy: Path) -> None:
    (kz_copy / "roads.geojson").unlink()
    with pytest.raises(LayerReadError) as info:
        read_layers(kz_copy)
    assert str(kz_copy) in info.value.message and "missing layer(s) roads" in info.value.message
    assert "'roads'" in info.value.fix and ".geojson" in info.value.fix


def test_missing_layer_in_geopackage(base: LayerSet, tmp_path: Path) -> None:
    path = materialise({"towns": base.towns, "centres": base.centres, "rail": base.roads}, tmp_path, "gpkg")
    with pytest.raises(LayerReadError) as info:
        read_layers(path)
    assert "missing layer(s) roads" in info.value.message
    assert "layers: towns, centres, rail" in info.value.message


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(LayerReadError, match="no such file or folder") as info:
        read_layers(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in info.value.message


@pytest.mark.parametrize("text", ["{not json", '{"extent": [1, 2, 3]}'])
def test_bad_layerset_json(kz_copy: Path, text: str) -> None:
    (kz_copy / "layerset.json").write_text(text, encoding="utf-8")
    with pytest.raises(LayerReadError, match=r"layerset\.json"):
        read_layers(kz_copy)


def test_geojson_with_projected_crs_member(base: LayerSet, kz_copy: Path) -> None:
    """GDAL honours a legacy 'crs' member: the layer reads correctly, with a warning for other readers."""
    path = kz_copy / "towns.geojson"
    path.unlink()
    _write(base.towns.to_crs(UTM), path, driver="GeoJSON")
    assert "EPSG::32642" in path.read_text(encoding="utf-8")[:400]
    layers = read_layers(kz_copy)
    assert layers.native_crs["towns"].equals(UTM)
    diff = shapely.get_coordinates(layers.towns.geometry) - shapely.get_coordinates(base.towns.geometry)
    assert np.abs(diff).max() < 1e-6
    problems = validate(layers)
    p = find(problems, "unexpected_crs", "towns", None, "warning")
    assert "RFC 7946" in p.message and "EPSG:4326" in p.fix
    assert errors(problems) == set()


def test_geojson_lonlat_labelled_projected(kz_copy: Path) -> None:
    path = kz_copy / "centres.geojson"
    edit_geojson(path, lambda d: d.update(crs={"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32642"}}))
    problems = validate(read_layers(kz_copy))
    p = find(problems, "crs_mismatch", "centres", None)
    assert "look like longitude/latitude" in p.message and "EPSG:4326" in p.fix


def test_crs84_member_is_not_a_problem(base: LayerSet, kz_copy: Path) -> None:
    path = kz_copy / "towns.geojson"
    path.unlink()
    _write(base.towns, path, driver="GeoJSON")  # GDAL writes an OGC:CRS84 member
    assert "CRS84" in path.read_text(encoding="utf-8")[:400]
    assert validate(read_layers(kz_copy)) == []


def test_one_point_line_does_not_hide_the_layer(kz_copy: Path) -> None:
    """GEOS refuses to build a one-point LineString; only that feature is lost, and it is named."""
    one_point = {"type": "LineString", "coordinates": [[70.0, 50.0]]}
    edit_geojson(kz_copy / "roads.geojson", lambda d: feature(d, "KZR009").update(geometry=one_point))
    layers = read_layers(kz_copy)
    assert len(layers.roads) == 176
    problems = validate(layers)
    p = find(problems, "invalid_geometry", "roads", "KZR009")
    assert "cannot be read" in p.message and "two different points" in p.fix
    assert [q.check for q in problems if q.feature_id == "KZR009"] == ["invalid_geometry"]  # not also "empty"
    assert errors(problems) == {("roads", "KZR009", "invalid_geometry")}


def test_mixed_geometry_types_in_one_geojson(kz_copy: Path) -> None:
    def edit(d: dict) -> None:
        feature(d, "aksai")["geometry"] = {"type": "LineString", "coordinates": [[52.9, 51.1], [53.0, 51.2]]}
        feature(d, "kentau")["geometry"] = {"type": "GeometryCollection", "geometries": []}

    edit_geojson(kz_copy / "towns.geojson", edit)
    problems = validate(read_layers(kz_copy))
    assert "LineString" in find(problems, "wrong_geometry_type", "towns", "aksai").message
    find(problems, "empty_geometry", "towns", "kentau")


def test_json_oddities_in_properties(kz_copy: Path) -> None:
    """NaN tokens, arrays and objects where numbers belong: reported, never a crash."""
    text = (kz_copy / "towns.geojson").read_text(encoding="utf-8")
    text = text.replace('"population":28560,', '"population":NaN,', 1)  # abai
    (kz_copy / "towns.geojson").write_text(text, encoding="utf-8")
    edit_geojson(kz_copy / "roads.geojson", lambda d: feature(d, "KZR002")["properties"].update(length_km=[105, 1]))
    edit_geojson(kz_copy / "centres.geojson", lambda d: feature(d, "taraz")["properties"].update(population="∞"))
    problems = validate(read_layers(kz_copy))
    find(problems, "null_value", "towns", "abai")
    find(problems, "wrong_type", "roads", "KZR002")
    find(problems, "wrong_type", "centres", "taraz")


def test_empty_geojson_collection(kz_copy: Path) -> None:
    (kz_copy / "centres.geojson").write_text('{"type":"FeatureCollection","features":[]}', encoding="utf-8")
    problems = validate(read_layers(kz_copy))
    find(problems, "empty_layer", "centres", None)
    assert "'role'" in find(problems, "missing_column", "centres", None).message or any(
        "'role'" in p.message for p in problems if p.check == "missing_column"
    )


def test_infinite_number_in_geopackage(frames: dict[str, gpd.GeoDataFrame], tmp_path: Path) -> None:
    frames["roads"].loc[row(frames["roads"], "KZR030"), "length_km"] = np.inf
    problems = validate(read_layers(materialise(frames, tmp_path, "gpkg")))
    assert "'inf'" in find(problems, "wrong_type", "roads", "KZR030").message


# --------------------------------------------------------------------------------------
# export: one GeoPackage for QGIS, read back equal


def test_export_geopackage_round_trip(base: LayerSet, tmp_path: Path) -> None:
    out = write_layers(base, tmp_path / "kz.gpkg")
    assert out == tmp_path / "kz.gpkg"
    listed = [tuple(x) for x in pyogrio.list_layers(out)]
    assert listed == [("towns", "Point"), ("centres", "Point"), ("roads", "LineString"),
                      ("rail_stations", "Point"), ("rail", "LineString")]
    back = read_layers(out)
    assert_same_layers(base, back)
    assert back.meta == base.meta  # from kz.layerset.json
    assert validate(back) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kz.gpkg", "kz.layerset.json"]
    # Schema integer columns stay integer fields for QGIS, even with empty cells.
    info = pyogrio.read_info(out, layer="towns")
    dtypes = dict(zip(info["fields"], info["dtypes"], strict=True))
    assert dtypes["population_2021"].startswith("int") and dtypes["population"].startswith("int")
    assert back.towns["population_2021"].isna().sum() == base.towns["population_2021"].isna().sum() > 0


def test_export_geopackage_is_reproducible(base: LayerSet, tmp_path: Path) -> None:
    a = write_layers(base, tmp_path / "a.gpkg").read_bytes()
    os.utime(tmp_path / "a.gpkg", (0, 0))
    b = write_layers(base.copy(), tmp_path / "b.gpkg").read_bytes()
    assert a == b
    assert pyogrio.get_gdal_config_option("OGR_CURRENT_DATE") is None  # global GDAL state restored


def test_export_geojson_folder_round_trip(base: LayerSet, tmp_path: Path) -> None:
    out = write_layers(base, tmp_path / "export")
    files = ["centres.geojson", "layerset.json", "rail.geojson", "rail_stations.geojson", "roads.geojson",
             "towns.geojson"]
    assert sorted(p.name for p in out.iterdir()) == files
    assert_same_layers(base, read_layers(out))
    # The embedded files are themselves geoplan output: exporting them changes no byte.
    for name in ("towns", "centres", "roads", "rail_stations", "rail"):
        embedded = geoplan.embedded_layers_path() / f"{name}.geojson"
        assert (out / f"{name}.geojson").read_bytes() == embedded.read_bytes()


def test_export_replaces_stale_metadata(base: LayerSet, tmp_path: Path) -> None:
    write_layers(base, tmp_path / "x.gpkg")
    bare = base.copy()
    bare.meta = {}
    write_layers(bare, tmp_path / "x.gpkg")
    assert not (tmp_path / "x.gpkg.layerset.json").exists() and not (tmp_path / "x.layerset.json").exists()
    assert read_layers(tmp_path / "x.gpkg").meta == {}


def test_export_to_unwritable_target(base: LayerSet, tmp_path: Path) -> None:
    (tmp_path / "dir.gpkg").mkdir()
    with pytest.raises(GeoplanError, match="cannot write the layer set"):
        write_layers(base, tmp_path / "dir.gpkg")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(GeoplanError, match="cannot write"):
        write_layers(base, blocker / "out.gpkg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.gpkg", "file"]
    naive = base.copy()
    naive.layers["towns"] = naive.towns.set_crs(None, allow_override=True)
    with pytest.raises(GeoplanError, match="no CRS"):
        write_layers(naive, tmp_path / "folder")


# --------------------------------------------------------------------------------------
# fuzzing: nothing but GeoplanError escapes read_layers, and validate never raises

_SMALL: dict[str, str] = {}


def _small_texts() -> dict[str, str]:
    """A small real layer set (5 towns, 4 centres, 12 roads) as GDAL-written GeoJSON text."""
    if not _SMALL:
        kz = read_layers(geoplan.embedded_layers_path())
        with tempfile.TemporaryDirectory() as tmp:
            parts = {"towns": kz.towns.iloc[:5], "centres": kz.centres.iloc[:4], "roads": kz.roads.iloc[:12]}
            for name, gdf in parts.items():
                path = Path(tmp) / f"{name}.geojson"
                geoplan.write_layers(LayerSet({name: gdf}), Path(tmp))
                _SMALL[name] = path.read_text(encoding="utf-8")
    return _SMALL


def _read_and_validate(texts: dict[str, str | bytes]) -> list[Problem] | None:
    """Problems of the layer set, or ``None`` when it cannot be read (the error names the file)."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in texts.items():
            data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
            (Path(tmp) / f"{name}.geojson").write_bytes(data)
        try:
            layers = read_layers(tmp)
        except GeoplanError as exc:
            assert exc.message and exc.fix
            assert any(f"{name}.geojson" in exc.message for name in texts), exc.message
            return None
        problems = validate(layers)
        assert all(isinstance(p, Problem) for p in problems)
        return problems


def _not_a_number(value: object) -> bool:
    if isinstance(value, (bool, list, dict)):
        return True
    if isinstance(value, str) and value.strip():
        try:
            float(value.strip())
        except ValueError:
            return True
    return False


_edit = st.tuples(
    st.sampled_from(["delete", "insert", "replace"]),
    st.floats(0, 1),
    st.integers(1, 12),
    st.text(alphabet=st.sampled_from(list('{}[]",:0123456789.-eE nulltrueNaN\\Ж\u00e9\x00')), max_size=12),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer=st.sampled_from(["towns", "centres", "roads"]), edits=st.lists(_edit, min_size=1, max_size=4))
def test_fuzz_mutated_geojson_text(layer: str, edits: list) -> None:
    texts: dict[str, str | bytes] = dict(_small_texts())
    text = texts[layer]
    assert isinstance(text, str)
    for op, where, n, insert in edits:
        i = int(where * len(text))
        if op == "delete":
            text = text[:i] + text[i + n :]
        elif op == "insert":
            text = text[:i] + insert + text[i:]
        else:
            text = text[:i] + insert + text[i + len(insert) :]
    texts[layer] = text
    _read_and_validate(texts)


_json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["12 000", "1e3", "", " ", "NaN", "inf", "primary", "motorway", "regional_centre", "-0"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=4,
)
_FIELDS = {name: [*SCHEMAS[name].column_names, "extra"] for name in SCHEMAS}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_random_attribute_values(data: st.DataObject) -> None:
    texts: dict[str, str | bytes] = {}
    expected: list[tuple[str, int, str | None]] = []  # (layer, feature index, field or None for geometry)
    docs = {}
    for name, text in _small_texts().items():
        doc = docs[name] = json.loads(text)
        for _ in range(data.draw(st.integers(0, 4), label=f"{name} edits")):
            i = data.draw(st.integers(0, len(doc["features"]) - 1))
            col = data.draw(st.sampled_from(_FIELDS[name]))
            doc["features"][i]["properties"][col] = data.draw(_json_value)
            expected.append((name, i, col))
        if data.draw(st.booleans(), label=f"{name} geometry edit"):
            i = data.draw(st.integers(0, len(doc["features"]) - 1))
            expected.append((name, i, None))
            feat = doc["features"][i]
            feat["geometry"] = data.draw(
                st.sampled_from([
                    None,
                    {"type": "Point", "coordinates": []},
                    {"type": "Point", "coordinates": [1e308, -1e308]},
                    {"type": "LineString", "coordinates": [[70, 50], [70, 50]]},
                    {"type": "MultiLineString", "coordinates": [[[70, 50], [71, 51]], [[72, 50], [73, 51]]]},
                    {"type": "Polygon", "coordinates": [[[70, 50], [71, 51], [71, 50], [70, 51], [70, 50]]]},
                    {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [70, 50]}]},
                ])
            )
        texts[name] = json.dumps(doc, ensure_ascii=False, allow_nan=True)
    problems = _read_and_validate(texts)
    if problems is None:
        return
    # Every defect put in is reported on the feature it was put in: a geometry that is not a
    # usable point/line of its layer, and a number field holding text, a list or a boolean.
    for name, i, col in expected:
        feats = docs[name]["features"]
        fid = feats[i]["properties"].get("id")
        ids = [f["properties"].get("id") for f in feats]
        if not isinstance(fid, str) or not fid.strip() or fid != fid.strip() or ids.count(fid) > 1:
            continue  # the id itself was fuzzed: the problem cannot be matched by it
        mine = [p for p in problems if p.layer == name and p.feature_id == fid]
        if col is None:
            assert any(p.severity == "error" for p in mine), (name, fid, feats[i]["geometry"], problems)
        elif col in SCHEMAS[name].column_names and SCHEMAS[name].field(col).kind in ("int", "float"):
            value = feats[i]["properties"].get(col)
            if _not_a_number(value):
                assert any(f"'{col}'" in p.message for p in mine), (name, fid, col, value, problems)


# --------------------------------------------------------------------------------------
# normalise


@settings(max_examples=40, deadline=None)
@given(parts=st.lists(st.integers(1, 4), min_size=1, max_size=6))
def test_normalise_keeps_every_part_of_multi_geometries(parts: list[int]) -> None:
    # Issue 10: normalise kept only the first part of every multi-part geometry.
    geoms = [shapely.MultiLineString([[(69.0 + i, 50.0 + k), (69.5 + i, 50.0 + k)] for k in range(n)])
             for i, n in enumerate(parts)]
    roads = gpd.GeoDataFrame({"id": [f"r{i}" for i in range(len(parts))], "road_class": "trunk"},
                             geometry=geoms, crs=4326)
    out = normalise(roads, ROADS)
    for n, before, after in zip(parts, geoms, out.geometry, strict=True):
        if n == 1:  # a single-part multi is unwrapped to its one line
            assert after.geom_type == "LineString" and after.equals(before.geoms[0])
        else:
            assert after.geom_type == "MultiLineString" and after.equals(before)
    assert shapely.length(out.geometry.to_numpy()).sum() == pytest.approx(shapely.length(np.array(geoms)).sum())
