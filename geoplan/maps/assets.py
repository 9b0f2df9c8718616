"""Web assets of the HTML maps: Leaflet (vendored from npm) and geoplan's own script and style.

Every map is one self-contained HTML file: Leaflet's ``leaflet.js`` and ``leaflet.css`` (with
its two control images as data URLs) and geoplan's map script and stylesheet are inlined, so a
map opened from a file with no network at all works. The Leaflet files are vendored into
``geoplan/_assets/leaflet`` from the npm registry by ``scripts/vendor_assets.sh``, which records
the version, licence (BSD-2-Clause) and checksums in ``geoplan/_assets/ASSETS.json``; they ship
inside the wheel, so nothing is ever fetched at run time.

Web tiles (OpenStreetMap) are an optional layer, off by default and switched off by the page
when a tile cannot be loaded.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from geoplan._errors import GeoplanError

__all__ = [
    "ASSETS_DIR",
    "LEAFLET_CDN",
    "LEAFLET_VERSION",
    "OSM_TILES",
    "asset_record",
    "geoplan_css",
    "geoplan_js",
    "leaflet_css",
    "leaflet_js",
]

LEAFLET_VERSION = "1.9.4"
#: A public copy of Leaflet, used only when a map is made with ``assets_url=LEAFLET_CDN``.
LEAFLET_CDN = f"https://cdn.jsdelivr.net/npm/leaflet@{LEAFLET_VERSION}/dist"
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"

#: Vendored third-party assets (see ``ASSETS.json`` there).
ASSETS_DIR = Path(__file__).resolve().parents[1] / "_assets"
_STATIC = Path(__file__).resolve().parent / "static"

#: Decimals of coordinates in the HTML: 5 is about 1 m, far below what a web map can show.
_MAP_PRECISION = 5
_PathLike = str | os.PathLike[str]


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise GeoplanError(f"{path}: map asset missing ({exc.strerror or exc})",
                           fix="reinstall geoplan, or run scripts/vendor_assets.sh in a source checkout") from None


@functools.cache
def asset_record() -> dict[str, Any]:
    """Version, licence, source and SHA-256 of each vendored asset (``_assets/ASSETS.json``).

    Returns
    -------
    dict
        ``{"leaflet": {"version", "licence", "source", "npm_integrity", "files"}}``.
    """
    record: dict[str, Any] = json.loads(_read(ASSETS_DIR / "ASSETS.json"))
    return record


@functools.cache
def leaflet_js() -> str:
    """Leaflet's ``leaflet.js``, checked against its recorded SHA-256.

    Returns
    -------
    str
        The script text.

    Raises
    ------
    GeoplanError
        If the vendored file is missing or differs from ``ASSETS.json``.
    """
    # The source map is not shipped: drop the comment that points at it.
    return re.sub(r"\n//# sourceMappingURL=\S+\s*$", "\n", _checked("leaflet/leaflet.js"))


@functools.cache
def leaflet_css() -> str:
    """Leaflet's stylesheet with its control images inlined as data URLs.

    Returns
    -------
    str
        The CSS text; it refers to no other file.
    """
    css = _checked("leaflet/leaflet.css")

    def _inline(match: re.Match[str]) -> str:
        name = match.group(1)
        rel = f"leaflet/images/{name}"
        if rel not in asset_record()["leaflet"]["files"]:
            return "url()"  # marker images: geoplan draws no image markers
        data = _checked_bytes(rel)
        return "url(data:image/png;base64," + base64.b64encode(data).decode("ascii") + ")"

    return re.sub(r"url\(images/([\w.-]+)\)", _inline, css)


@functools.cache
def geoplan_js() -> str:
    """Geoplan's map script (labels, pickers, search, panels), from ``maps/static``.

    Returns
    -------
    str
        The script text.
    """
    return _read(_STATIC / "geoplan.js")


@functools.cache
def geoplan_css() -> str:
    """Geoplan's map stylesheet, including the print stylesheet.

    Returns
    -------
    str
        The CSS text.
    """
    return _read(_STATIC / "geoplan.css")


def _checked_bytes(rel: str) -> bytes:
    path = ASSETS_DIR / rel
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GeoplanError(f"{path}: map asset missing ({exc.strerror or exc})",
                           fix="reinstall geoplan, or run scripts/vendor_assets.sh in a source checkout") from None
    want = asset_record()["leaflet"]["files"].get(rel)
    if want != hashlib.sha256(data).hexdigest():
        raise GeoplanError(f"{path}: map asset differs from the checksum in {ASSETS_DIR / 'ASSETS.json'}",
                           fix="run scripts/vendor_assets.sh to vendor it again from the npm registry")
    return data


def _checked(rel: str) -> str:
    return _checked_bytes(rel).decode("utf-8")
