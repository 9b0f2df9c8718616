"""The travel-time surface as an image overlay: reprojected, coloured, with its values for the cursor."""

from __future__ import annotations

import base64
import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image
from pyproj import Transformer
from rasterio.transform import Affine
from rasterio.warp import Resampling, calculate_default_transform, reproject

from geoplan._errors import AnalysisError, LayerReadError
from geoplan._style import surface_breaks, surface_colours
from geoplan.maps.assets import _PathLike
from geoplan.settings import CATCHMENT_BANDS


def _png_url(rgba: np.ndarray) -> str:
    """Encode an RGBA array as a PNG data URL with no metadata chunk (same bytes for the same pixels)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba, dtype=np.uint8)).save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@dataclass(frozen=True)
class _Surface:
    url: str
    bounds: list[list[float]]
    vmax: float
    clipped: bool
    breaks: list[float]
    colours: list[str]
    values_url: str
    step: float


def _surface_overlay(path: _PathLike, *, max_px: int, vmax: float | None, cmap: str,
                     bands: list[int] | tuple[int, ...] = CATCHMENT_BANDS) -> _Surface:
    """Reproject a single-band travel-time GeoTIFF to Web Mercator and colour it as a PNG data URL."""
    src_path = Path(path)
    try:
        with rasterio.open(src_path) as src:
            if src.count != 1:
                raise LayerReadError(f"{src_path}: travel-time raster has {src.count} bands, expected 1",
                                     fix="pass the single-band minutes GeoTIFF written by geoplan.surface")
            if src.crs is None:
                raise LayerReadError(f"{src_path}: travel-time raster has no CRS",
                                     fix="write the raster with its CRS (e.g. gdal_edit.py -a_srs EPSG:4326)")
            data = src.read(1, masked=True).astype("float64").filled(np.nan)
            src_crs, src_transform, (w, h), bounds = src.crs, src.transform, (src.width, src.height), src.bounds
    except rasterio.errors.RasterioIOError as exc:
        raise LayerReadError(f"{src_path}: cannot read travel-time raster: {str(exc).splitlines()[0]}",
                             fix="pass a GeoTIFF of travel minutes (geoplan.surface writes one)") from exc
    data[~np.isfinite(data)] = np.nan  # unreachable cells (inf) are left transparent
    if not np.isfinite(data).any():
        raise AnalysisError(f"{src_path}: travel-time raster has no finite value",
                            fix="check that the surface was computed from at least one reachable centre")
    with warnings.catch_warnings():  # rasterio's own use of affine's deprecated '*'
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        dst_transform, dw, dh = calculate_default_transform(src_crs, "EPSG:3857", w, h, *bounds)
    scale = max(dw, dh) / max_px
    if scale > 1:  # coarser cells, same footprint: keeps the embedded PNG small
        left, top = dst_transform.c, dst_transform.f
        right, bottom = left + dst_transform.a * dw, top + dst_transform.e * dh
        dw, dh = max(1, math.ceil(dw / scale)), max(1, math.ceil(dh / scale))
        dst_transform = Affine((right - left) / dw, 0.0, left, 0.0, (bottom - top) / dh, top)
    out = np.full((dh, dw), np.nan, dtype="float64")
    reproject(data, out, src_transform=src_transform, src_crs=src_crs, src_nodata=np.nan,
              dst_transform=dst_transform, dst_crs="EPSG:3857", dst_nodata=np.nan, resampling=Resampling.bilinear)
    if vmax is not None:
        top_minutes = float(vmax)
    else:
        # A few remote cells (hours off-road) would wash out the ramp where people live.
        top_minutes = math.ceil(float(np.nanpercentile(data, 95)) / 30) * 30.0
    top_minutes = top_minutes if top_minutes > 0 else 1.0
    breaks = surface_breaks(bands, top_minutes)
    top_minutes = breaks[-1]
    clipped = bool(np.nanmax(data) > top_minutes)
    palette = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in surface_colours(len(breaks) + 1, cmap)],
                       dtype=np.uint8)
    cls = np.digitize(np.nan_to_num(out, nan=0.0), breaks)  # minutes < breaks[0] -> 0, ...
    rgba = np.zeros((*out.shape, 4), dtype=np.uint8)
    rgba[..., :3] = palette[cls]
    rgba[..., 3] = np.where(np.isfinite(out), 255, 0)
    url = _png_url(rgba)
    # The minutes themselves for the value under the cursor: 16 bits in red and green, alpha
    # for no data, at half the image's resolution (one value per two display cells is plenty).
    vals = out[::2, ::2]
    step = 1.0
    coded = np.clip(np.round(np.nan_to_num(vals, nan=0.0) / step), 0, 65535).astype(np.uint32)
    packed = np.zeros((*vals.shape, 4), dtype=np.uint8)
    packed[..., 0] = coded >> 8
    packed[..., 1] = coded & 255
    packed[..., 3] = np.where(np.isfinite(vals), 255, 0)
    values_url = _png_url(packed)
    to_ll = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    west, north = to_ll.transform(dst_transform.c, dst_transform.f)
    east, south = to_ll.transform(dst_transform.c + dst_transform.a * dw, dst_transform.f + dst_transform.e * dh)
    return _Surface(url, [[round(south, 6), round(west, 6)], [round(north, 6), round(east, 6)]], top_minutes, clipped,
                    breaks, surface_colours(len(breaks) + 1, cmap), values_url, step)
