"""geoplan.osm.geofabrik: download, resume, checksum and cache, against a local HTTP server.

The server (a threaded :mod:`http.server` on 127.0.0.1, started here) serves the real OSM
extracts of ``../shared/data/real/osm/`` with HTTP ``Range`` support, their ``.md5`` files and a
generated Geofabrik index (``index-v1-nogeom.json`` format). It can cut a transfer after a
number of bytes, to test resuming, and publish a wrong MD5.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from geoplan import LayerError, LayerReadError
from geoplan.cli import main as cli_main
from geoplan.osm import read_osm
from geoplan.osm.geofabrik import download_extract, download_roads, geofabrik_regions, region_url
from geoplan.osm.roads import DOWNLOAD_ROAD_CLASSES

EXTRACTS = {"europe/andorra-latest.osm.pbf": "andorra.osm.pbf", "europe/monaco-latest.osm.pbf": "monaco.osm.pbf"}


class _Handler(BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}
    cut_after: ClassVar[dict[str, list[int]]] = {}  # path -> byte counts at which the next GETs stop
    requests: ClassVar[list[tuple[str, str | None]]] = []  # (path, Range header)
    ignore_range: ClassVar[bool] = False

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        path = self.path.lstrip("/")
        rng = self.headers.get("Range")
        type(self).requests.append((path, rng))
        body = self.files.get(path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        m = re.match(r"bytes=(\d+)-$", rng or "")
        if m and not self.ignore_range:
            start = int(m.group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        cuts = self.cut_after.get(path)
        if cuts:
            stop = cuts.pop(0)
            self.wfile.write(body[start:stop])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body[start:])


@pytest.fixture()
def server(real_data: Path) -> Iterator[str]:
    osm = real_data / "osm"
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    files: dict[str, bytes] = {}
    features = []
    for path, name in EXTRACTS.items():
        body = (osm / name).read_bytes()
        files[path] = body
        files[path + ".md5"] = f"{hashlib.md5(body).hexdigest()}  {Path(path).name}\n".encode()
        rid = Path(path).name.removesuffix("-latest.osm.pbf")
        features.append({"type": "Feature", "geometry": None, "properties": {
            "id": rid, "parent": "europe", "name": rid.title(), "iso3166-1:alpha2": [rid[:2].upper()],
            "urls": {"pbf": f"{base}/{path}", "bz2": f"{base}/{path}.bz2"}}})
    files["index-v1-nogeom.json"] = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    _Handler.files = files
    _Handler.cut_after = {}
    _Handler.requests = []
    _Handler.ignore_range = False
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        cli_main(args)
    return int(exc.value.code or 0)


def _pbf_gets() -> list[str | None]:
    return [rng for path, rng in _Handler.requests if path.endswith(".osm.pbf")]


def test_index_and_regions(server: str, tmp_path: Path) -> None:
    regions = geofabrik_regions(index_url=f"{server}/index-v1-nogeom.json", cache_dir=tmp_path)
    assert [r["id"] for r in regions] == ["andorra", "monaco"]
    index = f"{server}/index-v1-nogeom.json"
    for key in ("andorra", "Andorra", "AN"):
        assert region_url(key, index_url=index, cache_dir=tmp_path).endswith("/europe/andorra-latest.osm.pbf")
    with pytest.raises(LayerError, match=r"no region 'andora'.*did you mean andorra"):
        region_url("andora", index_url=index, cache_dir=tmp_path)
    # The index is cached: a second lookup does not ask the server.
    n = len(_Handler.requests)
    region_url("monaco", index_url=index, cache_dir=tmp_path)
    assert len(_Handler.requests) == n


def test_download_region_to_roads_layer(server: str, tmp_path: Path, real_data: Path) -> None:
    out = tmp_path / "roads.gpkg"
    assert _cli(["osm", "download", "--region", "andorra", "--to", str(out), "--cache", str(tmp_path / "cache"),
                 "--index-url", f"{server}/index-v1-nogeom.json"]) == 0
    import geopandas as gpd

    got = gpd.read_file(out, layer="roads")
    want = read_osm(real_data / "osm" / "andorra.osm.pbf", road_classes=DOWNLOAD_ROAD_CLASSES, merge=True)
    assert sorted(got["id"]) == sorted(want["id"])
    assert set(got["road_class"]) <= set(DOWNLOAD_ROAD_CLASSES)
    cached = tmp_path / "cache" / "127.0.0.1_{}_europe_andorra-latest.osm.pbf".format(server.rsplit(":", 1)[1])
    assert cached.read_bytes() == (real_data / "osm" / "andorra.osm.pbf").read_bytes()
    assert not list((tmp_path / "cache").glob("*.part"))
    # Cached: the next call checks the MD5 only and does not download the extract again.
    gets = len(_pbf_gets())
    again = download_roads(region="andorra", cache_dir=tmp_path / "cache", index_url=f"{server}/index-v1-nogeom.json")
    assert len(_pbf_gets()) == gets
    assert sorted(again["id"]) == sorted(want["id"])


def test_resume_after_a_cut_connection(server: str, tmp_path: Path, real_data: Path) -> None:
    url = f"{server}/europe/monaco-latest.osm.pbf"
    body = (real_data / "osm" / "monaco.osm.pbf").read_bytes()
    # The first transfer stops after 60 kB, the second after 120 kB: resumed twice with Range.
    _Handler.cut_after = {"europe/monaco-latest.osm.pbf": [60_000, 120_000]}
    path = download_extract(url=url, cache_dir=tmp_path)
    assert path.read_bytes() == body
    assert _pbf_gets() == [None, "bytes=60000-", "bytes=120000-"]


def test_resume_in_a_later_call(server: str, tmp_path: Path, real_data: Path) -> None:
    url = f"{server}/europe/monaco-latest.osm.pbf"
    _Handler.cut_after = {"europe/monaco-latest.osm.pbf": [50_000]}
    with pytest.raises(LayerReadError) as info:
        download_extract(url=url, cache_dir=tmp_path, retries=0)
    msg = str(info.value)
    assert url in msg and "50,000 bytes received" in msg and "run the same command again" in msg
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".osm.pbf")]  # no finished file yet
    path = download_extract(url=url, cache_dir=tmp_path)
    assert path.read_bytes() == (real_data / "osm" / "monaco.osm.pbf").read_bytes()
    assert _pbf_gets()[-1] == "bytes=50000-"


def test_server_without_range_support(server: str, tmp_path: Path, real_data: Path) -> None:
    _Handler.ignore_range = True
    _Handler.cut_after = {"europe/monaco-latest.osm.pbf": [70_000]}
    path = download_extract(url=f"{server}/europe/monaco-latest.osm.pbf", cache_dir=tmp_path)
    assert path.read_bytes() == (real_data / "osm" / "monaco.osm.pbf").read_bytes()


def test_checksum_mismatch_leaves_nothing(server: str, tmp_path: Path) -> None:
    _Handler.files["europe/monaco-latest.osm.pbf.md5"] = b"0123456789abcdef0123456789abcdef  monaco-latest.osm.pbf\n"
    out = tmp_path / "roads.gpkg"
    cache = tmp_path / "cache"
    with pytest.raises(LayerReadError) as info:
        download_roads(url=f"{server}/europe/monaco-latest.osm.pbf", cache_dir=cache)
    msg = str(info.value)
    assert "monaco-latest.osm.pbf" in msg and "0123456789abcdef0123456789abcdef" in msg and "deleted" in msg
    assert "run the same command again" in msg
    assert list(cache.iterdir()) == []
    # Through the CLI: exit 2 with the message, and no output file.
    assert _cli(["osm", "download", "--url", f"{server}/europe/monaco-latest.osm.pbf", "--to", str(out),
                 "--cache", str(cache)]) == 2
    assert not out.exists() and list(cache.iterdir()) == []


def test_http_errors_and_bad_arguments(server: str, tmp_path: Path) -> None:
    with pytest.raises(LayerReadError, match="HTTP 404"):
        download_extract(url=f"{server}/europe/nowhere-latest.osm.pbf", cache_dir=tmp_path)
    with pytest.raises(LayerError, match="either a Geofabrik region or the URL"):
        download_extract(cache_dir=tmp_path)
    with pytest.raises(LayerError, match="not an http"):
        download_extract(url="ftp://example.org/x.osm.pbf", cache_dir=tmp_path)
    with pytest.raises(LayerReadError, match="not a Geofabrik index"):
        geofabrik_regions(index_url=f"{server}/europe/monaco-latest.osm.pbf.md5", cache_dir=tmp_path)
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".pbf", ".part")]
