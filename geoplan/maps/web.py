"""Geometry for the web: simplified in metres, rounded, as GeoJSON feature dicts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan.maps.assets import _MAP_PRECISION


def _simplified(geoms: np.ndarray, tolerance_m: float, crs: Any) -> np.ndarray:
    """Simplify lon/lat geometries with a tolerance in metres (in a metric CRS), then round."""
    out = geoms
    if tolerance_m > 0 and len(geoms):
        metric = gpd.GeoSeries(geoms, crs=4326).to_crs(crs)
        simple = shapely.simplify(metric.to_numpy(), tolerance_m, preserve_topology=True)
        out = gpd.GeoSeries(simple, crs=crs).to_crs(4326).to_numpy()
    return shapely.transform(np.asarray(out, dtype=object), lambda xy: np.round(xy, _MAP_PRECISION))


def _coord(value: float) -> float:
    """Round a longitude or latitude to the maps' precision."""
    return round(value, _MAP_PRECISION)


def _mapping(geom: shapely.Geometry) -> dict[str, Any]:
    return dict(shapely.geometry.mapping(cast(Any, geom)))


def _features(geoms: np.ndarray, props: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "Feature", "geometry": _mapping(g), "properties": p} for g, p in zip(geoms, props, strict=True)]


def _records(gdf: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    cols = [str(c) for c in frame.columns]
    return [dict(zip(cols, row, strict=True)) for row in frame.to_numpy(dtype=object)]


#: Extent (lon/lat) of a map or figure with nothing in it: Kazakhstan.
_FALLBACK_BOUNDS = (46.0, 40.0, 88.0, 56.0)


def _bounds(*frames: gpd.GeoDataFrame | None) -> tuple[float, float, float, float] | None:
    boxes = [f.total_bounds for f in frames if f is not None and len(f)]
    if not boxes:
        return None
    b = np.vstack(boxes)
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


# Russian and Kazakh Cyrillic to Latin, as Kazakhstan's place names are usually written in English
# (Zhitikara, Kandyagash, Khromtau): for labels of places that have no English name.
_LATIN = dict(zip(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяәғқңөұүһі",
    ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s", "t", "u",
     "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya", "a", "g", "k", "n", "o", "u", "u", "h",
     "i"], strict=True))


def latin(text: str) -> str:
    """Return ``text`` with its Cyrillic letters written in Latin ones (other characters unchanged).

    Parameters
    ----------
    text : str
        A place name, e.g. in Russian or Kazakh.

    Returns
    -------
    str
        The name in Latin letters.

    Examples
    --------
    >>> latin("Житикара"), latin("Қосшы"), latin("Бейнеу")
    ('Zhitikara', 'Kosshy', 'Beyneu')
    """
    out = []
    for ch in text:
        low = ch.lower()
        if low not in _LATIN:
            out.append(ch)
            continue
        rep = _LATIN[low]
        out.append(rep.capitalize() if ch != low else rep)
    return "".join(out)
