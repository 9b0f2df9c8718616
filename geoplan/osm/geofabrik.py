"""Download a regional OpenStreetMap extract (Geofabrik, or any ``.osm.pbf`` URL), checked and cached.

:func:`download_extract` resolves a region through the Geofabrik index (``index-v1-nogeom.json``:
every region it lists, by id such as ``kazakhstan`` or ``asia``, by name, or by ISO 3166-1
code), then downloads the ``.osm.pbf``:

- **resumable**: bytes go to ``<file>.part`` in the cache; an interrupted transfer is resumed
  with an HTTP ``Range`` request (automatically ``retries`` times, and by running the same call
  again after that);
- **checked**: the size against the server's ``Content-Length``/``Content-Range``, and the MD5
  against the ``.md5`` file the server publishes next to the extract (Geofabrik does for every
  extract). A mismatch deletes the download and raises :class:`~geoplan.LayerReadError`: no
  file is left behind;
- **cached**: the finished file stays in the cache folder and is reused while its MD5 still
  matches the server's.

:func:`download_roads` streams the downloaded file through the PBF reader
(:func:`geoplan.osm.read_osm`, two passes, memory proportional to the roads kept), keeping
:data:`~geoplan.osm.roads.DOWNLOAD_ROAD_CLASSES` by default and merging degree-2 chains.

Nothing here is used by the default analysis or by the tests unless asked: downloading needs a
network connection (the tests serve real extracts from a local server on 127.0.0.1).

Examples
--------
>>> from geoplan.osm.geofabrik import download_roads
>>> roads = download_roads(region="kazakhstan", progress=True)  # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import hashlib
import http.client
import json
import logging
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import geopandas as gpd

from geoplan._errors import LayerError, LayerReadError
from geoplan._progress import Progress, progress_bar
from geoplan.osm.read import read_osm
from geoplan.osm.roads import DOWNLOAD_ROAD_CLASSES

__all__ = [
    "GEOFABRIK_INDEX_URL",
    "default_cache_dir",
    "download_extract",
    "download_roads",
    "geofabrik_regions",
    "region_url",
]

log = logging.getLogger("geoplan")

#: The Geofabrik index of every extract it offers (without region outlines).
GEOFABRIK_INDEX_URL = "https://download.geofabrik.de/index-v1-nogeom.json"
#: A cached index is reused for this many seconds.
INDEX_MAX_AGE_S = 24 * 3600
_CHUNK = 1 << 20
_MD5_RE = re.compile(r"^\s*([0-9a-fA-F]{32})\b")


def _user_agent() -> str:
    from geoplan import __version__

    return f"geoplan/{__version__} (+https://github.com/geoplan)"


def default_cache_dir() -> Path:
    """Return the folder downloads are cached in: ``$GEOPLAN_CACHE`` or ``$XDG_CACHE_HOME/geoplan/osm``.

    Returns
    -------
    pathlib.Path
        ``$GEOPLAN_CACHE/osm`` when set, else ``~/.cache/geoplan/osm`` (or under
        ``$XDG_CACHE_HOME``).
    """
    if os.environ.get("GEOPLAN_CACHE"):
        return Path(os.environ["GEOPLAN_CACHE"]) / "osm"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "geoplan" / "osm"


# --------------------------------------------------------------------------------------
# HTTP


def _open(url: str, timeout: float, headers: dict[str, str] | None = None) -> Any:
    req = urllib.request.Request(url, headers={"User-Agent": _user_agent(), **(headers or {})})
    return urllib.request.urlopen(req, timeout=timeout)


def _check_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise LayerError(f"{url!r} is not an http(s) URL", fix="pass a URL such as "
                         "https://download.geofabrik.de/asia/kazakhstan-latest.osm.pbf")
    return url


def _http_reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


def _fetch_text(url: str, timeout: float, what: str) -> str:
    try:
        with _open(url, timeout) as resp:
            return str(resp.read().decode("utf-8", errors="replace"))
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise LayerReadError(f"cannot download {what} from {url}: {_http_reason(exc)}",
                             fix="check the network connection and the URL") from exc


# --------------------------------------------------------------------------------------
# the index


def geofabrik_regions(
    *,
    index_url: str = GEOFABRIK_INDEX_URL,
    cache_dir: str | os.PathLike[str] | None = None,
    timeout: float = 60.0,
) -> list[dict[str, Any]]:
    """List the regions of the Geofabrik index (cached for a day).

    Parameters
    ----------
    index_url
        URL of ``index-v1-nogeom.json`` (or a mirror of it).
    cache_dir
        Cache folder (default :func:`default_cache_dir`).
    timeout
        Seconds to wait for the server.

    Returns
    -------
    list of dict
        One dict per region: ``id``, ``name``, ``parent`` (``None`` at the top), ``pbf``
        (download URL) and ``iso`` (ISO 3166-1 alpha-2 codes), sorted by id.

    Raises
    ------
    LayerReadError
        The index cannot be downloaded or is not the Geofabrik index format.
    """
    _check_url(index_url)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cached = cache / "index" / _safe_name(index_url)
    text = None
    if cached.is_file() and time.time() - cached.stat().st_mtime < INDEX_MAX_AGE_S:
        text = cached.read_text(encoding="utf-8")
    if text is None:
        text = _fetch_text(index_url, timeout, "the Geofabrik index")
    try:
        feats = json.loads(text)["features"]
        regions = [{
            "id": str(f["properties"]["id"]),
            "name": str(f["properties"].get("name") or f["properties"]["id"]),
            "parent": f["properties"].get("parent"),
            "pbf": str(f["properties"]["urls"]["pbf"]),
            "iso": [str(c) for c in f["properties"].get("iso3166-1:alpha2", [])],
        } for f in feats]
    except (ValueError, KeyError, TypeError) as exc:
        raise LayerReadError(f"{index_url}: not a Geofabrik index (index-v1 format): {type(exc).__name__}: {exc}",
                             fix=f"pass the index URL, e.g. {GEOFABRIK_INDEX_URL}, or download with --url") from exc
    if not (cached.is_file() and cached.read_text(encoding="utf-8") == text):
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(cached.name + f".{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, cached)
    return sorted(regions, key=lambda r: r["id"])


def region_url(
    region: str,
    *,
    index_url: str = GEOFABRIK_INDEX_URL,
    cache_dir: str | os.PathLike[str] | None = None,
    timeout: float = 60.0,
) -> str:
    """Return the ``.osm.pbf`` URL of a Geofabrik region.

    Parameters
    ----------
    region
        Region id (``kazakhstan``, ``asia``, ``us/california``), name (``Kazakhstan``) or
        ISO 3166-1 alpha-2 code (``KZ``); case does not matter.
    index_url, cache_dir, timeout
        See :func:`geofabrik_regions`.

    Raises
    ------
    LayerError
        The index lists no such region (the message suggests close ones).
    """
    regions = geofabrik_regions(index_url=index_url, cache_dir=cache_dir, timeout=timeout)
    key = region.strip().lower()
    for field in ("id", "name"):
        hits = [r for r in regions if r[field].lower() == key]
        if hits:
            return str(hits[0]["pbf"])
    hits = [r for r in regions if key.upper() in r["iso"]]
    if len(hits) == 1:
        return str(hits[0]["pbf"])
    names = [r["id"] for r in regions]
    close = difflib.get_close_matches(key, names, n=5, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else f"the index lists {len(names)} regions"
    raise LayerError(f"{index_url}: no region {region!r} ({hint})",
                     fix="pass a region id from the Geofabrik index (e.g. kazakhstan, central-asia, asia), "
                         "or the extract's URL with --url")


# --------------------------------------------------------------------------------------
# the download


def _safe_name(url: str) -> str:
    parsed = urlparse(url)
    path = re.sub(r"[^A-Za-z0-9._-]+", "_", (parsed.netloc + parsed.path).strip("/"))
    return path or "download"


def _md5_of(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _published_md5(url: str, timeout: float) -> str | None:
    """Return the MD5 the server publishes in ``<url>.md5``, or ``None`` when it publishes none (404)."""
    try:
        with _open(url + ".md5", timeout) as resp:
            text = resp.read(4096).decode("ascii", errors="replace")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise LayerReadError(f"cannot download the checksum {url}.md5: {_http_reason(exc)}",
                             fix="check the network connection and run the same command again") from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise LayerReadError(f"cannot download the checksum {url}.md5: {_http_reason(exc)}",
                             fix="check the network connection and run the same command again") from exc
    match = _MD5_RE.match(text)
    if match is None:
        raise LayerReadError(f"{url}.md5 holds no MD5 checksum (starts {text[:40]!r})",
                             fix="check the URL: the server should publish '<md5>  <file name>' next to the extract")
    return match.group(1).lower()


def _total_size(resp: Any, offset: int) -> int | None:
    """Full size of the file from a 200 (Content-Length) or 206 (Content-Range) answer."""
    if resp.status == 206:
        m = re.match(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", resp.headers.get("Content-Range", ""))
        if m is None or int(m.group(1)) != offset:
            return -1  # not the range asked for
        return int(m.group(3)) if m.group(3) != "*" else None
    length = resp.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def _transfer(url: str, part: Path, timeout: float, bar: Progress[None]) -> int | None:
    """Append the rest of ``url`` to ``part`` (resuming at its size); return the full size if known."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        resp = _open(url, timeout, headers)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the part is already whole, or longer than the file
            part.unlink()
            return _transfer(url, part, timeout, bar)
        raise
    with resp:
        total = _total_size(resp, offset)
        if resp.status == 206 and total == -1:
            resp.close()  # not the range asked for: start again from nothing
            part.unlink()
            return _transfer(url, part, timeout, bar)
        if resp.status != 206:
            offset = 0  # the server sends the whole file: start again
        bar.reset(total=total)
        bar.update(offset)
        with part.open("r+b" if offset else "wb") as f:
            f.seek(offset)
            f.truncate()
            while chunk := resp.read(_CHUNK):
                f.write(chunk)
                bar.update(len(chunk))
    size = part.stat().st_size
    if total is not None and size != total:
        raise http.client.IncompleteRead(b"", total - size)
    return total


def download_extract(
    *,
    region: str | None = None,
    url: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    index_url: str = GEOFABRIK_INDEX_URL,
    timeout: float = 60.0,
    retries: int = 3,
    progress: bool | None = None,
) -> Path:
    """Download an ``.osm.pbf`` extract into the cache (resumable, checked) and return its path.

    Parameters
    ----------
    region
        A Geofabrik region (see :func:`region_url`). Give ``region`` or ``url``, not both.
    url
        Any ``.osm.pbf`` URL; its MD5 is checked when the server publishes ``<url>.md5``.
    cache_dir
        Cache folder (default :func:`default_cache_dir`). The extract is kept there, as
        ``<host>_<path>``, and reused while its MD5 matches the server's.
    index_url
        The Geofabrik index (for ``region``).
    timeout
        Seconds to wait for the server on each request.
    retries
        Resume an interrupted transfer this many times before giving up. The bytes already
        received stay in ``<file>.part``: running the same call again resumes from there.
    progress
        Show a progress bar (bytes) on stderr; ``None`` follows
        :func:`geoplan._progress.set_progress` (off in a library call, on in the ``geoplan`` command).

    Returns
    -------
    pathlib.Path
        The complete, checked extract in the cache.

    Raises
    ------
    LayerReadError
        The server cannot be reached or answers with an error, the transfer keeps failing
        (the message says how much was received and that the same call resumes), or the file
        differs from the published size or MD5 (the download is deleted).
    LayerError
        Neither or both of ``region`` and ``url``, an unknown region, or a URL that is not
        http(s).
    """
    if (region is None) == (url is None):
        raise LayerError("give either a Geofabrik region or the URL of an .osm.pbf extract",
                         fix="pass --region NAME (e.g. kazakhstan) or --url URL")
    if url is None:
        url = region_url(str(region), index_url=_check_url(index_url), cache_dir=cache_dir, timeout=timeout)
    _check_url(url)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cache / _safe_name(url)
    part = target.with_name(target.name + ".part")
    md5 = _published_md5(url, timeout)
    if target.is_file():
        if md5 is None or _md5_of(target) == md5:
            log.info("osm: using the cached %s", target)
            return target
        log.info("osm: %s changed on the server, downloading it again", url)
    cache.mkdir(parents=True, exist_ok=True)
    bar: Progress[None] = progress_bar(desc=f"downloading {target.name.rsplit('_', 1)[-1]}", unit="B",
                                      unit_scale=True, enabled=progress)
    total: int | None = None
    with bar:
        for attempt in range(retries + 1):
            try:
                total = _transfer(url, part, timeout, bar)
                break
            except urllib.error.HTTPError as exc:
                raise LayerReadError(f"cannot download {url}: {_http_reason(exc)}",
                                     fix="check the URL (or the region) and that the server is up") from exc
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                got = part.stat().st_size if part.exists() else 0
                if attempt == retries:
                    raise LayerReadError(
                        f"{url}: the download failed after {retries + 1} attempt(s), {got:,} bytes received "
                        f"({_http_reason(exc)})",
                        fix=f"check the network connection and run the same command again: it resumes from the "
                            f"bytes kept in {part}") from exc
                log.info("osm: %s interrupted at %s bytes (%s), resuming", url, got, _http_reason(exc))
                time.sleep(min(2.0 ** attempt, 10.0) * 0.1)
    size = part.stat().st_size
    if total is not None and size != total:  # pragma: no cover - _transfer raises first
        part.unlink()
        raise LayerReadError(f"{url}: received {size:,} bytes of {total:,}", fix="run the same command again")
    if md5 is not None:
        got_md5 = _md5_of(part)
        if got_md5 != md5:
            part.unlink()
            raise LayerReadError(f"{target.name}: the downloaded file's MD5 {got_md5} differs from the published "
                                 f"{md5} ({url}.md5); the download was deleted",
                                 fix="run the same command again (the server may have replaced the extract during "
                                     "the download); if it fails again, the mirror is damaged: try later or another "
                                     "--url")
    else:
        log.info("osm: %s publishes no .md5; only the size was checked", url)
    os.replace(part, target)
    return target


def download_roads(
    *,
    region: str | None = None,
    url: str | None = None,
    road_classes: Iterable[str] | None = DOWNLOAD_ROAD_CLASSES,
    merge: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    index_url: str = GEOFABRIK_INDEX_URL,
    timeout: float = 60.0,
    retries: int = 3,
    progress: bool | None = None,
) -> gpd.GeoDataFrame:
    """Download a regional extract and read its main roads as a geoplan roads layer.

    Parameters
    ----------
    region, url, cache_dir, index_url, timeout, retries
        See :func:`download_extract`.
    road_classes
        ``highway=*`` classes to keep (default: motorway to tertiary, with their links).
    merge
        Join degree-2 chains into single features (see :func:`geoplan.osm.read_osm`).
    progress
        Progress bars for the download and the two reading passes; ``None`` follows
        :func:`geoplan._progress.set_progress` (off in a library call, on in the ``geoplan`` command).

    Returns
    -------
    geopandas.GeoDataFrame
        The roads layer, as from :func:`geoplan.osm.read_osm`.
    """
    path = download_extract(region=region, url=url, cache_dir=cache_dir, index_url=index_url, timeout=timeout,
                            retries=retries, progress=progress)
    return read_osm(path, road_classes=road_classes, merge=merge, progress=progress)
