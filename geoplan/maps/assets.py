"""Leaflet: version, where the HTML loads it from, and the tile URL."""

from __future__ import annotations

import os

LEAFLET_VERSION = "1.9.4"
#: Where the HTML loads Leaflet from unless ``assets_url`` says otherwise.
LEAFLET_CDN = f"https://cdn.jsdelivr.net/npm/leaflet@{LEAFLET_VERSION}/dist"
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"

#: Decimals of coordinates in the HTML: 5 is about 1 m, far below what a web map can show.
_MAP_PRECISION = 5
_PathLike = str | os.PathLike[str]


