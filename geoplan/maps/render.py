"""Deterministic HTML: folium's random element ids replaced by sequential numbers."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
from branca.element import Element

from geoplan._io import write_text_atomic
from geoplan.maps.assets import _PathLike
from geoplan.maps.basemap import MapContext

_HEX_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")


def _element_ids(root: Element) -> set[str]:
    seen: set[int] = set()
    ids: set[str] = set()
    stack: list[Element] = [root]
    while stack:
        el = stack.pop()
        if id(el) in seen:
            continue
        seen.add(id(el))
        ids.add(el._id)
        stack.extend(el._children.values())
        stack.extend(v for k, v in vars(el).items() if k != "_parent" and isinstance(v, Element))
    return ids


def render_map(m: folium.Map) -> str:
    """Render the map as one HTML page, identical for identical inputs.

    folium names every element with a random 128-bit hex id; they are replaced, in order of
    first appearance, by sequential numbers so that two runs give the same bytes.

    Parameters
    ----------
    m
        A map from :func:`agglomeration_map` or :func:`relocation_map` (any folium map works).

    Returns
    -------
    str
        The HTML text.
    """
    # Render a copy: folium adds elements with fresh random ids on every render, so rendering
    # the same Map object twice would otherwise repeat them.
    root = copy.deepcopy(m.get_root())
    text = root.render()
    known = _element_ids(root)
    mapping: dict[str, str] = {}

    def _sub(match: re.Match[str]) -> str:
        token = match.group(0)
        if token not in known:
            return token
        return mapping.setdefault(token, f"{len(mapping) + 1:04d}")

    text = _HEX_ID.sub(_sub, text)
    # Trailing spaces from folium's templates only add bytes and diff noise.
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip()) + "\n"


def save_map(m: folium.Map, path: _PathLike) -> Path:
    """Write ``m`` as a standalone HTML file, atomically and deterministically (see :func:`render_map`).

    Parameters
    ----------
    m
        The map.
    path
        Output ``.html`` file.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    return write_text_atomic(path, render_map(m))





def write_maps(
    folder: _PathLike,
    *,
    towns: gpd.GeoDataFrame,
    centres: gpd.GeoDataFrame,
    catchments: gpd.GeoDataFrame | None,
    flows: gpd.GeoDataFrame | None,
    roads: gpd.GeoDataFrame | None = None,
    boundaries: gpd.GeoDataFrame | None = None,
    settlements: gpd.GeoDataFrame | None = None,
    surface: _PathLike | None = None,
    context: MapContext | None = None,
    tiles: bool = True,
) -> dict[str, Path]:
    """Write ``agglomeration.html``, ``relocation.html`` and ``categories.png`` into ``folder``.

    Parameters
    ----------
    folder
        Output folder (created if missing).
    towns, centres, catchments, flows, roads, boundaries, settlements, surface, context, tiles
        As in :func:`~geoplan.maps.agglomeration_map` and :func:`~geoplan.maps.relocation_map`.

    Returns
    -------
    dict of str to pathlib.Path
        ``agglomeration_map``, ``relocation_map`` and ``categories_png``.
    """
    from geoplan.maps.agglomeration import agglomeration_map
    from geoplan.maps.figures import category_png
    from geoplan.maps.relocation import relocation_map

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    common: dict[str, Any] = {"roads": roads, "boundaries": boundaries, "settlements": settlements,
                              "context": context, "tiles": tiles}
    agg = agglomeration_map(towns, centres, catchments, surface=surface, **common)
    rel = relocation_map(towns, centres, flows, **common)
    return {
        "agglomeration_map": save_map(agg, out / "agglomeration.html"),
        "relocation_map": save_map(rel, out / "relocation.html"),
        "categories_png": category_png(towns, centres, out / "categories.png", roads=roads, boundaries=boundaries,
                                       settlements=settlements),
    }
