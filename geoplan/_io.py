"""Low-level writers shared by every stage: atomic files and RFC 7946 GeoJSON.

Outputs are written to a temporary file in the target folder and renamed into place, so a
crash or a kill never leaves a half-written file behind, and the same input always gives the
same bytes (stable key order, rounded coordinates, no timestamps).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

#: RFC 7946 section 11.2 recommends 6 decimals (about 10 cm); more is noise.
GEOJSON_PRECISION = 6


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary file is removed if the block raises, so the previous version of ``path``
    (if any) is left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Keep the real suffix last: GDAL picks drivers and checks conformance by extension.
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.unlink()  # writers such as GDAL want to create the file themselves
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (LF line endings)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")
    return Path(path)


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def json_value(value: Any) -> Any:
    """Turn a pandas/numpy scalar into a JSON-safe Python value (NaN and NaT become null)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [json_value(v) for v in value.tolist()]
    return value


def rfc7946_geometries(geoms: gpd.GeoSeries, precision: int = GEOJSON_PRECISION) -> np.ndarray:
    """Geometries in EPSG:4326, rounded, with counter-clockwise exterior rings (RFC 7946 3.1.6)."""
    if geoms.crs is None:
        raise ValueError("geometries have no CRS; cannot write RFC 7946 GeoJSON")
    data = (geoms.to_crs(4326) if not geoms.crs.equals("EPSG:4326") else geoms).to_numpy()
    rounded = shapely.transform(data, lambda xy: np.round(xy, precision))
    # Rounding can flip a degenerate ring; orient after rounding so the output is right.
    return shapely.orient_polygons(rounded, exterior_cw=False)


def geojson_text(
    gdf: gpd.GeoDataFrame,
    *,
    id_column: str | None = "id",
    precision: int = GEOJSON_PRECISION,
    name: str | None = None,
) -> str:
    """Serialise ``gdf`` as an RFC 7946 FeatureCollection, one feature per line.

    No ``crs`` member is written (RFC 7946 requires WGS 84 lon/lat), coordinates are rounded
    to ``precision`` decimals and exterior rings are counter-clockwise. The feature ``id``
    member carries ``id_column`` when present. Key order is stable, so the same data always
    gives the same text.
    """
    geoms = rfc7946_geometries(gdf.geometry, precision)
    props = gdf.drop(columns=gdf.geometry.name)
    columns = [str(c) for c in props.columns]
    records = props.to_numpy(dtype=object)
    lines = []
    for geom, row in zip(geoms, records, strict=True):
        properties = {c: json_value(v) for c, v in zip(columns, row, strict=True)}
        feature: dict[str, Any] = {"type": "Feature"}
        if id_column is not None and id_column in properties and properties[id_column] is not None:
            feature["id"] = properties[id_column]
        feature["properties"] = properties
        feature["geometry"] = None if geom is None or shapely.is_empty(geom) else shapely.geometry.mapping(geom)
        lines.append(json.dumps(feature, ensure_ascii=False, separators=(",", ":"), allow_nan=False))
    head = {"type": "FeatureCollection"}
    if name:
        head["name"] = name
    opening = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    if not lines:
        return opening + ',"features":[]}\n'
    return opening + ',"features":[\n' + ",\n".join(lines) + "\n]}\n"


def write_geojson(
    gdf: gpd.GeoDataFrame,
    path: str | os.PathLike[str],
    *,
    id_column: str | None = "id",
    precision: int = GEOJSON_PRECISION,
    name: str | None = None,
) -> Path:
    """Write ``gdf`` to ``path`` as RFC 7946 GeoJSON, atomically. See :func:`geojson_text`."""
    return write_text_atomic(path, geojson_text(gdf, id_column=id_column, precision=precision, name=name))


def write_csv(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a plain table as UTF-8 CSV with LF line endings, atomically."""
    return write_text_atomic(path, df.to_csv(index=False, lineterminator="\n"))
