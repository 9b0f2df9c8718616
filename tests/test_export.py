"""Exports: RFC 7946 GeoJSON, the styled GeoPackage and the CSV, read back with GDAL."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from _kz_results import Results, build_results, with_hostile_text
from matplotlib.colors import to_rgba

import geoplan
from geoplan._style import CATEGORIES, CATEGORY_COLOURS, band_colours
from geoplan.export import FIXED_TIMESTAMP, export_results, qgis_style, towns_table, write_results_gpkg

FILES = ["catchments.geojson", "centres.geojson", "flows.geojson", "results.gpkg", "towns.csv", "towns.geojson"]


@pytest.fixture(scope="module")
def res(kz_layers: geoplan.LayerSet) -> Results:
    return build_results(kz_layers)


@pytest.fixture(scope="module")
def exported(res: Results, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("export")
    return export_results(out, towns=res.towns, centres=res.centres, catchments=res.catchments, flows=res.flows,
                          roads=res.roads)


def _coords(geometry: dict) -> list:
    """All positions of a GeoJSON geometry."""
    def walk(c):
        if isinstance(c[0], (int, float)):
            yield c
        else:
            for x in c:
                yield from walk(x)
    return list(walk(geometry["coordinates"]))


def _ring_area(ring: list) -> float:
    """Signed shoelace area: positive for counter-clockwise rings."""
    xy = np.asarray(ring)
    return 0.5 * float(np.sum(xy[:-1, 0] * xy[1:, 1] - xy[1:, 0] * xy[:-1, 1]))


def test_writes_every_file(exported: dict[str, Path]) -> None:
    assert sorted(exported) == FILES
    assert all(p.is_file() and p.stat().st_size > 0 for p in exported.values())
    # Atomic writes leave no temporary files behind.
    folder = exported["towns.geojson"].parent
    assert sorted(p.name for p in folder.iterdir()) == FILES


@pytest.mark.parametrize("name", ["towns", "centres", "catchments", "flows"])
def test_geojson_is_rfc7946(exported: dict[str, Path], res: Results, name: str) -> None:
    text = exported[f"{name}.geojson"].read_text(encoding="utf-8")
    doc = json.loads(text)
    assert doc["type"] == "FeatureCollection"
    assert "crs" not in doc  # RFC 7946 section 4: no crs member
    assert len(doc["features"]) == len(getattr(res, name))
    for f in doc["features"]:
        assert f["type"] == "Feature" and "crs" not in f
        for x, y in (p[:2] for p in _coords(f["geometry"])):
            # lon/lat order inside Kazakhstan's box, at most 6 decimals
            assert 46 < x < 88 and 40 < y < 56
            assert round(x, 6) == x and round(y, 6) == y
        if f["geometry"]["type"] in ("Polygon", "MultiPolygon"):
            coords = f["geometry"]["coordinates"]
            polys = [coords] if f["geometry"]["type"] == "Polygon" else coords
            for rings in polys:
                assert _ring_area(rings[0]) > 0  # exterior counter-clockwise (RFC 7946 3.1.6)
                assert all(_ring_area(hole) < 0 for hole in rings[1:])
    # As written (not only as parsed): no coordinate carries more than 6 decimals.
    geometry_text = "".join(line.split('"geometry":', 1)[1] for line in text.splitlines()[1:-1])
    assert not re.search(r"\d\.\d{7,}", geometry_text)


def test_geojson_reads_back_with_gdal(exported: dict[str, Path], res: Results) -> None:
    back = pyogrio.read_dataframe(exported["towns.geojson"])
    assert back.crs.equals("EPSG:4326")
    assert back["id"].tolist() == sorted(res.towns["id"])
    assert back["category"].tolist() == res.towns.sort_values("id")["category"].tolist()
    dist = shapely.distance(back.geometry.to_numpy(), res.towns.sort_values("id").geometry.to_numpy())
    assert float(dist.max()) < 1e-6
    # minutes are rounded to a tenth (a few seconds): sensible for a road travel time
    np.testing.assert_allclose(back["minutes"].to_numpy(dtype=float), res.towns["minutes"].to_numpy(dtype=float),
                               atol=0.05 + 1e-9)
    cat = pyogrio.read_dataframe(exported["catchments.geojson"])
    assert len(cat) == len(res.catchments)
    # Rounding to 1e-6 degrees moves areas by far less than a square kilometre.
    area = cat.to_crs(res.catchments.estimate_utm_crs()).area.to_numpy() / 1e6
    np.testing.assert_allclose(area, res.catchments.to_crs(res.catchments.estimate_utm_crs()).area / 1e6, rtol=1e-4)
    flows = pyogrio.read_dataframe(exported["flows.geojson"])
    assert flows["people"].sum() == res.flows["people"].sum()


def test_catchment_geojson_ids_are_sorted(exported: dict[str, Path]) -> None:
    doc = json.loads(exported["catchments.geojson"].read_text(encoding="utf-8"))
    keys = [(f["properties"]["centre"], f["properties"]["band"]) for f in doc["features"]]
    assert keys == sorted(keys)


def test_geopackage_has_every_layer_and_a_default_style(exported: dict[str, Path], res: Results) -> None:
    gpkg = exported["results.gpkg"]
    layers = dict(pyogrio.list_layers(gpkg).tolist())
    assert layers == {"towns": "Point", "centres": "Point", "catchments": "MultiPolygon", "flows": "LineString",
                      "roads": "LineString", "layer_styles": None}
    for name in ("towns", "centres", "catchments", "flows", "roads"):
        gdf = pyogrio.read_dataframe(gpkg, layer=name)
        assert len(gdf) == len(getattr(res, name)), name
        assert gdf.crs.equals("EPSG:4326")
    # GDAL reads the style table as an ordinary attribute table ...
    styles = pyogrio.read_dataframe(gpkg, layer="layer_styles", read_geometry=False)
    assert sorted(styles["f_table_name"]) == ["catchments", "centres", "flows", "roads", "towns"]
    assert styles["useAsDefault"].astype(bool).all()
    con = sqlite3.connect(gpkg)
    try:
        # ... with the columns and types QGIS creates (qgsogrproviderutils saveStyle: FID "id",
        # strings of width 256/30, boolean useAsDefault, datetime update_time).
        cols = [(r[1], r[2]) for r in con.execute("PRAGMA table_info(layer_styles)")]
        assert cols == [("id", "INTEGER"), ("f_table_catalog", "TEXT(256)"), ("f_table_schema", "TEXT(256)"),
                        ("f_table_name", "TEXT(256)"), ("f_geometry_column", "TEXT(256)"), ("styleName", "TEXT(30)"),
                        ("styleQML", "TEXT"), ("styleSLD", "TEXT"), ("useAsDefault", "BOOLEAN"),
                        ("description", "TEXT"), ("owner", "TEXT(30)"), ("ui", "TEXT(30)"), ("update_time", "DATETIME")]
        geom_cols = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"))
        rows = con.execute(
            "SELECT f_table_name, f_geometry_column, styleName, update_time FROM layer_styles").fetchall()
        for table, geom, style_name, stamp in rows:
            assert geom == geom_cols[table] and style_name == table and stamp == FIXED_TIMESTAMP
        assert con.execute("SELECT data_type FROM gpkg_contents WHERE table_name='layer_styles'").fetchone() == (
            "attributes",)
        assert con.execute("SELECT feature_count FROM gpkg_ogr_contents WHERE table_name='layer_styles'").fetchone() \
            == (5,)
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert {r[0] for r in con.execute("SELECT DISTINCT last_change FROM gpkg_contents")} == {FIXED_TIMESTAMP}
    finally:
        con.close()


def _qml_for(gpkg: Path, table: str) -> tuple[ET.Element, ET.Element]:
    con = sqlite3.connect(gpkg)
    try:
        qml, sld = con.execute("SELECT styleQML, styleSLD FROM layer_styles WHERE f_table_name=?", (table,)).fetchone()
    finally:
        con.close()
    assert qml.startswith("<!DOCTYPE qgis")
    return ET.fromstring(qml.split("\n", 1)[1]), ET.fromstring(sld.encode("utf-8"))


def _rgba255(colour: str) -> str:
    return ",".join(str(round(c * 255)) for c in to_rgba(colour))


def test_towns_style_is_categorized_by_category_in_the_map_colours(exported: dict[str, Path]) -> None:
    qml, sld = _qml_for(exported["results.gpkg"], "towns")
    renderer = qml.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "category"
    cats = renderer.findall("categories/category")
    assert [c.get("value") for c in cats] == list(CATEGORIES)
    symbols = {s.get("name"): s for s in renderer.findall("symbols/symbol")}
    for c in cats:
        layer = symbols[c.get("symbol")].find("layer")
        assert layer.get("class") == "SimpleMarker"
        color = layer.find("Option[@type='Map']/Option[@name='color']").get("value")
        assert color == _rgba255(CATEGORY_COLOURS[c.get("value")])
    assert qml.find("labeling/settings/text-style").get("fieldName") == "name_en"
    ns = {"se": "http://www.opengis.net/se", "ogc": "http://www.opengis.net/ogc"}
    literals = [e.text for e in sld.iterfind(".//ogc:PropertyIsEqualTo/ogc:Literal", ns)]
    assert literals == list(CATEGORIES)
    fills = [e.text for e in sld.iterfind(".//se:Fill/se:SvgParameter[@name='fill']", ns)]
    assert fills == [CATEGORY_COLOURS[c].lower() for c in CATEGORIES]


def test_catchment_style_is_graduated_by_band(exported: dict[str, Path], res: Results) -> None:
    qml, _ = _qml_for(exported["results.gpkg"], "catchments")
    renderer = qml.find("renderer-v2")
    assert renderer.get("type") == "graduatedSymbol" and renderer.get("attr") == "band"
    bands = sorted(res.catchments["band"].unique())
    uppers = [float(r.get("upper")) for r in renderer.findall("ranges/range")]
    assert uppers == [float(b) for b in bands]
    colours = band_colours(bands)
    got = [s.find("layer/Option[@type='Map']/Option[@name='color']").get("value")
           for s in renderer.findall("symbols/symbol")]
    assert [g.rsplit(",", 1)[0] for g in got] == [_rgba255(colours[b]).rsplit(",", 1)[0] for b in bands]
    # widest band drawn first so every shorter band stays visible
    assert renderer.get("enableorderby") == "1"
    clause = renderer.find("orderby/orderByClause")
    assert clause.text == '"band"' and clause.get("asc") == "0"


def test_flows_and_centres_styles_scale_with_data(exported: dict[str, Path]) -> None:
    qml, _ = _qml_for(exported["results.gpkg"], "flows")
    expr = qml.find(".//layer/data_defined_properties//Option[@name='outlineWidth']/Option[@name='expression']")
    assert '"people"' in expr.get("value")
    qml, _ = _qml_for(exported["results.gpkg"], "centres")
    expr = qml.find(".//layer/data_defined_properties//Option[@name='size']/Option[@name='expression']")
    assert '"population"' in expr.get("value")


def test_towns_csv(exported: dict[str, Path], res: Results) -> None:
    table = pd.read_csv(exported["towns.csv"], keep_default_na=False, na_values=[""])
    assert table["id"].tolist() == sorted(res.towns["id"])
    assert {"lon", "lat", "category", "minutes", "reasons"} <= set(table.columns)
    xy = shapely.get_coordinates(res.towns.sort_values("id").geometry.to_numpy())
    np.testing.assert_allclose(table[["lon", "lat"]].to_numpy(), xy, atol=1e-6)
    assert "geometry" not in table.columns


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_two_runs_give_identical_bytes(res: Results, exported: dict[str, Path], tmp_path: Path) -> None:
    again = export_results(tmp_path / "again", towns=res.towns, centres=res.centres, catchments=res.catchments,
                           flows=res.flows, roads=res.roads)
    assert _digests(tmp_path / "again") == _digests(exported["towns.geojson"].parent)
    # Input row order does not matter: outputs are sorted.
    shuffled = export_results(tmp_path / "shuffled", towns=res.towns.iloc[::-1], centres=res.centres.iloc[::-1],
                              catchments=res.catchments.sample(frac=1, random_state=1), flows=res.flows.iloc[::-1],
                              roads=res.roads)
    assert _digests(tmp_path / "shuffled") == _digests(tmp_path / "again")
    assert set(again) == set(shuffled)


def test_identical_bytes_in_a_fresh_process(res: Results, exported: dict[str, Path], tmp_path: Path) -> None:
    """Another interpreter (another hash seed, another GDAL session) writes the same bytes."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import geoplan
        from _kz_results import build_results
        from geoplan.export import export_results
        r = build_results(geoplan.read_layers(geoplan.embedded_layers_path()))
        export_results({str(tmp_path)!r}, towns=r.towns, centres=r.centres, catchments=r.catchments, flows=r.flows,
                       roads=r.roads)
    """)
    env = dict(os.environ, PYTHONHASHSEED="12345")
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=120)
    assert _digests(tmp_path) == _digests(exported["towns.geojson"].parent)


def test_empty_results_give_valid_empty_collections(res: Results, tmp_path: Path) -> None:
    towns = res.towns.assign(category=np.where(res.towns["category"] == "relocation", "monitor", res.towns["category"]))
    empty_catchments = res.catchments.iloc[0:0]
    out = export_results(tmp_path, towns=towns, centres=res.centres, catchments=empty_catchments, flows=None)
    for name in ("flows", "catchments"):
        doc = json.loads(out[f"{name}.geojson"].read_text(encoding="utf-8"))
        assert doc == {"type": "FeatureCollection", "name": name, "features": []}
        assert len(pyogrio.read_dataframe(out[f"{name}.geojson"])) == 0
        assert len(pyogrio.read_dataframe(out["results.gpkg"], layer=name)) == 0
    layers = dict(pyogrio.list_layers(out["results.gpkg"]).tolist())
    assert layers["flows"] == "LineString" and layers["catchments"] == "MultiPolygon"
    qml, _ = _qml_for(out["results.gpkg"], "catchments")
    assert qml.find("renderer-v2").get("type") == "singleSymbol"
    assert "relocation" not in set(pd.read_csv(out["towns.csv"])["category"])


def test_quotes_html_and_cyrillic_survive_the_round_trip(res: Results, tmp_path: Path) -> None:
    hostile = with_hostile_text(res)
    towns = hostile.towns.copy()
    towns.loc[1, "name_en"] = "O'Neil \"Town\", \\ back\\slash\ttab"
    towns.loc[1, "name_kk"] = "Өскемен — Қазақстан"
    towns.loc[1, "name_ru"] = "Усть-Каменогорск «Восток»"
    out = export_results(tmp_path, towns=towns, centres=res.centres, catchments=res.catchments, flows=res.flows)
    expected = towns.sort_values("id")[["id", "name_en", "name_kk", "name_ru", "reasons"]].reset_index(drop=True)
    readers = {
        "geojson": lambda: pyogrio.read_dataframe(out["towns.geojson"]),
        "gpkg": lambda: pyogrio.read_dataframe(out["results.gpkg"], layer="towns"),
        "csv": lambda: pd.read_csv(out["towns.csv"], dtype=str, keep_default_na=False),
    }
    for fmt, read in readers.items():
        back = read()[expected.columns].reset_index(drop=True)
        for col in expected.columns:
            assert back[col].astype(str).tolist() == expected[col].astype(str).tolist(), (fmt, col)


def test_failed_write_keeps_the_previous_geopackage(res: Results, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "results.gpkg"
    write_results_gpkg(target, {"towns": res.towns})
    before = target.read_bytes()
    calls = {"n": 0}
    real = pyogrio.write_dataframe

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(pyogrio, "write_dataframe", failing)
    with pytest.raises(geoplan.AnalysisError, match=r"cannot write layer 'centres'.*disk full"):
        write_results_gpkg(target, {"towns": res.towns, "centres": res.centres})
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["results.gpkg"]


def test_gdal_config_is_restored(res: Results, tmp_path: Path) -> None:
    assert pyogrio.get_gdal_config_option("OGR_CURRENT_DATE") is None
    write_results_gpkg(tmp_path / "x.gpkg", {"towns": res.towns})
    assert pyogrio.get_gdal_config_option("OGR_CURRENT_DATE") is None


def test_bad_results_raise_clear_errors(res: Results, tmp_path: Path) -> None:
    with pytest.raises(geoplan.AnalysisError, match=r"towns result has no column.*category") as info:
        export_results(tmp_path, towns=res.towns.drop(columns="category"), centres=res.centres,
                       catchments=res.catchments, flows=res.flows)
    assert "fix:" in str(info.value)
    bad = res.towns.copy()
    bad.loc[bad["id"] == "arkalyk", "category"] = "abandon"
    with pytest.raises(geoplan.AnalysisError, match=r"arkalyk.*abandon"):
        export_results(tmp_path, towns=bad, centres=res.centres, catchments=res.catchments, flows=res.flows)
    with pytest.raises(geoplan.AnalysisError, match="no CRS"):
        export_results(tmp_path, towns=res.towns.set_crs(None, allow_override=True), centres=res.centres,
                       catchments=res.catchments, flows=res.flows)
    flows = res.flows.copy()
    flows.loc[0, "people"] = -5
    with pytest.raises(geoplan.AnalysisError, match=f"{flows.loc[0, 'origin']}->"):
        export_results(tmp_path, towns=res.towns, centres=res.centres, catchments=res.catchments, flows=flows)
    dup = pd.concat([res.towns, res.towns.iloc[[0]]])
    with pytest.raises(geoplan.AnalysisError, match="more than once"):
        export_results(tmp_path, towns=gpd.GeoDataFrame(dup, crs=4326), centres=res.centres,
                       catchments=res.catchments, flows=res.flows)
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_projected_input_is_written_in_lon_lat(res: Results, tmp_path: Path) -> None:
    utm = res.towns.to_crs(32643)
    out = export_results(tmp_path, towns=utm, centres=res.centres, catchments=None, flows=None)
    back = pyogrio.read_dataframe(out["towns.geojson"])
    assert float(shapely.distance(back.geometry.to_numpy(), res.towns.geometry.to_numpy()).max()) < 2e-6


def test_qgis_style_rejects_unknown_layer() -> None:
    with pytest.raises(geoplan.AnalysisError, match="no QGIS style"):
        qgis_style("rivers")


def test_towns_table_has_coordinates(res: Results) -> None:
    table = towns_table(res.towns)
    assert len(table) == len(res.towns)
    # Every row: the town's own point, rounded to 6 decimals, in the same order as the towns.
    assert list(table["id"]) == list(res.towns["id"])
    xy = shapely.get_coordinates(res.towns.to_crs(4326).geometry.to_numpy())
    np.testing.assert_array_equal(table["lon"].to_numpy(), np.round(xy[:, 0], 6))
    np.testing.assert_array_equal(table["lat"].to_numpy(), np.round(xy[:, 1], 6))
    assert table[["lon", "lat"]].notna().all().all()
    assert table["lon"].between(46, 88).all() and table["lat"].between(40, 56).all()  # inside Kazakhstan


_QGIS_SCRIPT = """
import json, os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from qgis.core import QgsApplication, QgsSymbolLayer, QgsVectorLayer
QgsApplication.setPrefixPath("/usr", True)
app = QgsApplication([], False)
app.initQgis()
out = {}
for name in ("towns", "centres", "catchments", "flows", "roads"):
    lyr = QgsVectorLayer(sys.argv[1] + "|layername=" + name, name, "ogr")
    r = lyr.renderer()
    info = {"valid": lyr.isValid(), "count": lyr.featureCount(), "type": r.type(), "labels": lyr.labelsEnabled()}
    if r.type() == "categorizedSymbol":
        info["attr"] = r.classAttribute()
        info["classes"] = [[c.value(), c.symbol().color().name()] for c in r.categories()]
    elif r.type() == "graduatedSymbol":
        info["attr"] = r.classAttribute()
        info["classes"] = [[rg.upperValue(), rg.symbol().color().name()] for rg in r.ranges()]
    else:
        dd = r.symbol().symbolLayer(0).dataDefinedProperties()
        info["expressions"] = [dd.property(p).expressionString() for p in
                               (QgsSymbolLayer.PropertySize, QgsSymbolLayer.PropertyStrokeWidth)
                               if dd.property(p).isActive()]
    out[name] = info
print(json.dumps(out), flush=True)
os._exit(0)  # PyQGIS can crash while tearing down; the answer is out
"""


def _has_qgis() -> bool:
    try:
        return subprocess.run(["/usr/bin/python3", "-c", "import qgis.core"], capture_output=True,
                              timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def test_qgis_opens_the_geopackage_with_its_styles(exported: dict[str, Path], res: Results) -> None:
    """QGIS itself (Debian's python3-qgis, when installed) loads every layer with its default style."""
    if not _has_qgis():
        pytest.skip("QGIS Python bindings not installed (apt-get install python3-qgis)")
    run = subprocess.run(["/usr/bin/python3", "-c", _QGIS_SCRIPT, str(exported["results.gpkg"])],
                         capture_output=True, text=True, timeout=120, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert run.returncode == 0, run.stderr[-2000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    for name in ("towns", "centres", "catchments", "flows", "roads"):
        assert got[name]["valid"] and got[name]["count"] == len(getattr(res, name)), name
    assert got["towns"]["type"] == "categorizedSymbol" and got["towns"]["attr"] == "category"
    assert got["towns"]["classes"] == [[c, CATEGORY_COLOURS[c].lower()] for c in CATEGORIES]
    assert got["towns"]["labels"]
    bands = sorted(res.catchments["band"].unique())
    assert got["catchments"]["type"] == "graduatedSymbol" and got["catchments"]["attr"] == "band"
    assert got["catchments"]["classes"] == [[float(b), band_colours(bands)[b].lower()] for b in bands]
    assert any('"people"' in e for e in got["flows"]["expressions"])
    assert any('"population"' in e for e in got["centres"]["expressions"])


# --------------------------------------------------------------------------------------
# GIS-friendly values, formats, Excel CSV, metadata, the surface style


def test_integers_stay_integers_ids_everywhere_and_rounding(exported: dict[str, Path], res: Results) -> None:


    towns = json.loads(exported["towns.geojson"].read_text(encoding="utf-8"))
    for f in towns["features"]:
        p = f["properties"]
        for col in ("population", "population_1999", "population_2009", "population_year"):
            assert p[col] is None or isinstance(p[col], int), (col, p[col])
        assert p["minutes"] is None or round(p["minutes"], 1) == p["minutes"]
    for kind in ("catchments", "flows"):
        feats = json.loads(exported[f"{kind}.geojson"].read_text(encoding="utf-8"))["features"]
        ids = [f["id"] for f in feats]
        assert len(ids) == len(set(ids)) and all(isinstance(i, str) and i for i in ids), kind
        assert all(f["properties"]["id"] == f["id"] for f in feats)
    flows = json.loads(exported["flows.geojson"].read_text(encoding="utf-8"))["features"]
    assert {f["id"] for f in flows} == {f"{o}-{d}" for o, d in zip(res.flows["origin"], res.flows["destination"],
                                                                      strict=True)}
    text = exported["towns.csv"].read_text(encoding="utf-8")
    assert ",33066," in text or "33066.0" not in text  # no float-formatted census counts
    assert not re.search(r",\d+\.\d{7,},", text.split("\n", 1)[1].replace('"', ""))


def test_flatgeobuf_parquet_excel_and_metadata(res: Results, tmp_path: Path) -> None:


    out = export_results(tmp_path, towns=res.towns, centres=res.centres, catchments=res.catchments, flows=res.flows,
                         formats=("fgb", "parquet"), excel=True,
                         metadata={"scenario": "center_west", "geoplan_version": geoplan.__version__})
    assert "towns.geojson" not in out and {"towns.fgb", "flows.parquet", "catchments.fgb"} <= set(out)
    fgb = pyogrio.read_dataframe(out["towns.fgb"])
    assert sorted(fgb["id"]) == sorted(res.towns["id"]) and fgb.crs.equals("EPSG:4326")  # spatial index order
    assert str(fgb["population"].dtype).startswith("int")
    pq = gpd.read_parquet(out["flows.parquet"])
    assert pq["people"].sum() == res.flows["people"].sum() and pq.crs.equals("EPSG:4326")
    assert list(pq["id"]) == [f"{o}-{d}" for o, d in zip(pq["origin"], pq["destination"], strict=True)]
    raw = out["towns.csv"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    assert "Темиртау" in raw.decode("utf-8-sig")
    meta = pyogrio.read_info(out["results.gpkg"], layer="towns")["dataset_metadata"]
    assert meta["scenario"] == "center_west" and meta["geoplan_version"] == geoplan.__version__
    again = export_results(tmp_path / "again", towns=res.towns, centres=res.centres, catchments=res.catchments,
                           flows=res.flows, formats=("fgb", "parquet"), excel=True,
                           metadata={"scenario": "center_west", "geoplan_version": geoplan.__version__})
    for name in out:
        assert again[name].read_bytes() == out[name].read_bytes(), name
    with pytest.raises(ValueError, match="unknown export format"):
        export_results(tmp_path, towns=res.towns, centres=res.centres, catchments=None, flows=None, formats=("shp",))


def test_surface_qml_matches_the_map_classes() -> None:


    from geoplan._style import SURFACE_CMAP, surface_breaks, surface_colours
    from geoplan.export import surface_qml

    root = ET.fromstring(surface_qml(bands=[30, 60, 90, 120]).split("\n", 1)[1])
    items = root.findall(".//colorrampshader/item")
    breaks = surface_breaks([30, 60, 90, 120], 480)
    assert [i.get("value") for i in items] == [f"{b:g}" for b in breaks] + ["inf"]
    assert [i.get("color").upper() for i in items] == surface_colours(len(breaks) + 1, SURFACE_CMAP)
    assert root.find(".//colorrampshader").get("colorRampType") == "DISCRETE"
