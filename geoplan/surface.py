"""A raster travel-time surface: minutes to the nearest growth centre from every cell.

The method is the friction-surface approach of Weiss et al. (2018, "A global map of travel
time to cities to assess inequalities in accessibility in 2015", *Nature* 553:333-336):

1. :func:`friction_raster` — every cell gets the time needed to cross one metre of it. Roads
   are burned in with their speed (the same speed model as the network,
   :func:`geoplan.network.road_speeds`); where roads of different speed share a cell, the
   fastest wins. Every other cell inside the study area gets the off-road speed; cells outside
   it are nodata (impassable).
2. :func:`travel_time_surface` — the cumulative cost from the nearest source (growth centre)
   with :class:`skimage.graph.MCP_Geometric` on an 8-connected grid: a move between
   neighbouring cells costs half of each cell's crossing time, times sqrt(2) on diagonals.
3. :func:`write_surface` — a tiled, compressed GeoTIFF with CRS, nodata, band description and
   unit, written atomically; the same inputs give the same bytes.

Off-road speed. Weiss et al. used walking speeds by land cover (about 5 km/h at best) because
they mapped travel on foot or by any means where roads are missing. geoplan plans for people
who drive: away from the national roads in the layer, a car uses district roads and steppe
tracks that the schematic network does not draw. :data:`DEFAULT_OFFROAD_KPH` is therefore the
``track`` speed of the network (20 km/h) — slower than the 30 km/h access legs of
:func:`~geoplan.network.attach_places`, which model the short, known approach from a town to
its road, and fast enough that a town 20 km from the network is 1 hour away, not 4.

The surface is as schematic as the roads layer: the embedded Kazakhstan roads are straight
lines between towns, so the surface follows those lines, not the real road alignments, and the
time along a road is its drawn length over its speed (the network uses the published
``length_km``, which is longer). Raster time is also 8-connected: along a line at an angle
between the grid axes and the diagonals it can be up to about 8 % longer than the straight-line
time; this, plus up to about a cell at each end, is the discretisation error.

Examples
--------
>>> import geoplan
>>> from geoplan.surface import nearest_centre_surface, sample_surface
>>> layers = geoplan.read_layers(geoplan.embedded_layers_path())
>>> result = nearest_centre_surface(layers, resolution_m=10_000)
>>> kar = layers.centres[layers.centres["id"] == "karaganda"]
>>> float(sample_surface(result, kar)[0])
0.0
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.errors
import rasterio.features
import rasterio.transform
import shapely
from affine import Affine
from pyproj import CRS
from rasterio.enums import MergeAlg
from skimage.graph import MCP_Geometric

from geoplan._errors import AnalysisError
from geoplan._io import atomic_path
from geoplan._progress import progress_bar
from geoplan.layers import LayerSet, metric_crs
from geoplan.network import road_speeds
from geoplan.settings import OFFROAD_KPH, STUDY_AREA_MARGIN_M, SURFACE_RESOLUTION_M

__all__ = [
    "BYTES_PER_CELL",
    "DEFAULT_OFFROAD_KPH",
    "DEFAULT_RESOLUTION_M",
    "MAX_CELLS",
    "NODATA",
    "STUDY_AREA_MARGIN_M",
    "available_memory",
    "SURFACE_DESCRIPTION",
    "FrictionRaster",
    "SurfaceResult",
    "country_area",
    "friction_raster",
    "nearest_centre_surface",
    "sample_surface",
    "travel_time_surface",
    "write_surface",
]

#: Speed off the roads layer, km/h: the network's ``track`` speed (see the module docstring).
DEFAULT_OFFROAD_KPH: float = OFFROAD_KPH
#: Default cell size, metres.
DEFAULT_RESOLUTION_M: float = SURFACE_RESOLUTION_M
#: Value of cells outside the study area (and of cells no source can reach).
NODATA: float = -9999.0
#: Band description written into the GeoTIFF.
SURFACE_DESCRIPTION = "travel time to nearest growth centre"
#: Grids larger than this are refused (memory: about 40 bytes per cell while searching).
MAX_CELLS = 400_000_000
_TILE = 256


class FrictionRaster(NamedTuple):
    """Minutes needed to cross one metre of each cell (NaN outside the study area)."""

    array: np.ndarray
    transform: Affine
    crs: CRS


@dataclass(frozen=True)
class SurfaceResult:
    """A travel-time surface.

    Attributes
    ----------
    array
        ``float32`` minutes to the nearest source; ``nodata`` outside the study area and where
        no source can be reached.
    transform
        Affine transform of the grid (north up, square cells).
    crs
        The grid's CRS (metric).
    nodata
        The nodata value.
    tags
        Metadata written into the GeoTIFF (method, speeds, resolution, sources); no timestamps.
    """

    array: np.ndarray
    transform: Affine
    crs: CRS
    nodata: float = NODATA
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def resolution_m(self) -> float:
        """Cell size in metres."""
        return float(abs(self.transform.a))


# --------------------------------------------------------------------------------------
# inputs


def _as_geoseries(obj: Any, what: str) -> gpd.GeoSeries:
    if isinstance(obj, gpd.GeoDataFrame):
        obj = obj.geometry
    if isinstance(obj, gpd.GeoSeries):
        if obj.crs is None:
            raise AnalysisError(f"the {what} has no CRS", fix="assign the CRS of its coordinates (e.g. EPSG:4326)")
        _check_degrees(obj, what)
        return obj
    if isinstance(obj, shapely.Geometry):
        series = gpd.GeoSeries([obj], crs=4326)
        _check_degrees(series, what)
        return series
    raise AnalysisError(f"the {what} must be a shapely geometry (EPSG:4326), GeoSeries or GeoDataFrame, "
                        f"got {type(obj).__name__}", fix=f"pass the {what} as a GeoDataFrame with a CRS")


def _check_degrees(geoms: gpd.GeoSeries, what: str) -> None:
    """Refuse a geographic CRS on coordinates that are not degrees (metres labelled EPSG:4326)."""
    if geoms.crs is None or not geoms.crs.is_geographic:
        return
    xy = shapely.get_coordinates(geoms.to_numpy())
    wild = ~np.isfinite(xy).all(axis=1) | (np.abs(xy[:, 0]) > 180) | (np.abs(xy[:, 1]) > 90)
    if wild.any():
        i = int(np.flatnonzero(wild)[0])
        raise AnalysisError(
            f"the {what} is labelled {geoms.crs.name} (degrees) but vertex {i + 1} is at ({xy[i, 0]:.6g}, "
            f"{xy[i, 1]:.6g}): not longitude/latitude; its coordinates look like metres",
            fix="assign the file its real projected CRS (QGIS: Layer ▸ Set CRS of Layer), or reproject it to EPSG:4326")


def _check_positive(value: float, name: str, fix: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if not (np.isfinite(v) and v > 0):
        raise AnalysisError(f"{name} must be a positive number, got {value!r}", fix=fix)
    return v


def _default_crs(roads: gpd.GeoDataFrame) -> CRS:
    """Pick the metric CRS the network uses for the same roads (from their lon/lat bounds)."""
    return metric_crs(shapely.total_bounds(roads.to_crs(4326).geometry.to_numpy()))


def country_area(layers: LayerSet) -> gpd.GeoSeries | None:
    """Return the country outline of a layer set: its ``boundaries`` features at ``level`` 0.

    Parameters
    ----------
    layers
        A layer set, with or without a ``boundaries`` layer.

    Returns
    -------
    geopandas.GeoSeries or None
        The level-0 polygons (all boundaries when the layer has no ``level`` column), or
        ``None`` when the set has no boundaries.
    """
    bounds = layers.layers.get("boundaries")
    if bounds is None or len(bounds) == 0:
        return None
    if "level" in bounds.columns:
        top = bounds[pd.to_numeric(bounds["level"], errors="coerce").to_numpy() == 0]
        bounds = top if len(top) else bounds
    return bounds.geometry


def _default_study_area(frames: list[gpd.GeoDataFrame], crs: CRS) -> shapely.Geometry:
    geoms = np.concatenate([f.to_crs(crs).geometry.to_numpy() for f in frames if len(f)])
    return shapely.buffer(shapely.convex_hull(shapely.union_all(geoms)), STUDY_AREA_MARGIN_M)


def _drawn_share(roads: gpd.GeoDataFrame, lines: np.ndarray) -> np.ndarray:
    """Drawn length over road length (``length_km``) of each road; 1 where none is given.

    A road's time is its ``length_km`` over its speed in the network; burning ``speed x drawn /
    length_km`` gives a cell crossing of the drawn line the same time per metre.
    """
    if "length_km" not in roads.columns:
        return np.ones(len(roads))
    declared = pd.to_numeric(roads["length_km"], errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        drawn = np.asarray(shapely.length(lines), dtype=float) / 1000.0
    ok = np.isfinite(declared) & (declared > 0) & np.isfinite(drawn) & (drawn > 0)
    return np.where(ok, drawn / np.where(ok, declared, 1.0), 1.0)


# --------------------------------------------------------------------------------------
# memory: estimated before anything is allocated

#: Peak memory per grid cell while a surface is computed, bytes. Measured (peak RSS over a
#: 8.1 M-cell Kazakhstan grid and tracemalloc peaks at 0.16-0.64 M cells): 85-88 bytes, from
#: the float64 friction, road-speed and cost grids, MCP_Geometric's cumulative costs and
#: traceback, and the float32 result; rounded up.
BYTES_PER_CELL = 96
#: Share of the available memory a surface may take.
MEMORY_SHARE = 0.8


def available_memory() -> int | None:
    """Bytes this process can still allocate: the least of free RAM, a cgroup limit and RLIMIT_AS.

    ``None`` when none of them can be read (the memory check is then skipped).
    """
    found: list[int] = []
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text(encoding="ascii").strip()
        if limit.isdigit():
            used = int(Path("/sys/fs/cgroup/memory.current").read_text(encoding="ascii").strip())
            found.append(max(0, int(limit) - used))
    except (OSError, ValueError):
        pass
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            with open("/proc/self/statm", encoding="ascii") as fh:
                size = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            found.append(max(0, soft - size))
    except (ImportError, OSError, ValueError):
        pass
    return min(found) if found else None


def _grid_shape(bounds: tuple[float, float, float, float], res: float) -> tuple[int, int]:
    minx, miny, maxx, maxy = bounds
    width = round(np.ceil(maxx / res) - np.floor(minx / res))
    height = round(np.ceil(maxy / res) - np.floor(miny / res))
    return int(width), int(height)


def _nice_up(value: float) -> float:
    """``value`` rounded up to two significant digits (1234 -> 1300)."""
    step = 10 ** max(0, int(np.floor(np.log10(value))) - 1)
    return float(np.ceil(value / step) * step)


def _size(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def _check_grid_fits(bounds: tuple[float, float, float, float], res: float, max_memory_bytes: int | None) -> None:
    """Refuse a grid over :data:`MAX_CELLS` or the memory budget, naming the finest resolution that fits."""
    width, height = _grid_shape(bounds, res)
    cells = width * height
    budget = max_memory_bytes if max_memory_bytes is not None else available_memory()
    if budget is not None:
        budget = int(budget * MEMORY_SHARE) if max_memory_bytes is None else int(budget)
    limit = min(MAX_CELLS, budget // BYTES_PER_CELL) if budget is not None else MAX_CELLS
    if cells <= limit:
        return
    if limit < 1:
        raise AnalysisError(f"no memory left for a surface (about {budget:,} bytes available)",
                            fix="close other programs or run on a machine with more memory")
    fit = _nice_up(res * float(np.sqrt(cells / limit)))
    while True:
        w, h = _grid_shape(bounds, fit)
        if w * h <= limit:
            break
        fit = _nice_up(fit * 1.01 + 1e-9)
    need = cells * BYTES_PER_CELL
    if budget is None or (cells > MAX_CELLS and MAX_CELLS * BYTES_PER_CELL <= budget):  # (no budget: over MAX_CELLS)
        why = f"over the {MAX_CELLS:,}-cell limit"
    else:
        why = f"it needs about {_size(need)} of memory while {_size(budget or 0)} is available"
    raise AnalysisError(
        f"a {width} x {height} grid at {res:g} m ({cells:,} cells) is too large: {why}; refused before allocating it",
        fix=f"use a resolution of {fit:g} m or coarser (the finest that fits), or a smaller study area")


# --------------------------------------------------------------------------------------
# the three steps


def friction_raster(
    roads: gpd.GeoDataFrame,
    *,
    resolution_m: float = DEFAULT_RESOLUTION_M,
    offroad_kph: float = DEFAULT_OFFROAD_KPH,
    speeds: Mapping[str, float] | None = None,
    study_area: shapely.Geometry | gpd.GeoSeries | gpd.GeoDataFrame | None = None,
    crs: CRS | str | int | None = None,
    max_memory_bytes: int | None = None,
) -> FrictionRaster:
    """Burn a roads layer into a friction raster (minutes per metre).

    Parameters
    ----------
    roads
        The roads layer (``road_class`` and optionally ``speed_kph``, ``lanes``, ``surface``);
        speeds follow :func:`geoplan.network.road_speeds`.
    resolution_m
        Cell size in metres.
    offroad_kph
        Speed in cells without a road.
    speeds
        Speed per road class in km/h, overriding the network defaults.
    study_area
        Cells outside it are nodata. A shapely geometry (EPSG:4326) or a GeoSeries/GeoDataFrame
        with a CRS (dissolved). Default: the convex hull of the roads, widened by
        :data:`STUDY_AREA_MARGIN_M`.
    crs
        CRS of the grid (must be metric). Default: the metric CRS the network uses for these
        roads (:func:`geoplan.layers.metric_crs` of their bounds).
    max_memory_bytes
        Memory the whole surface computation may use; default: what the machine has free
        (:func:`available_memory`). Checked before anything is allocated
        (:data:`BYTES_PER_CELL` per cell).

    Returns
    -------
    FrictionRaster
        ``(array, transform, crs)``; ``array`` is float64 minutes per metre, NaN outside the
        study area. The grid is aligned to multiples of ``resolution_m``.

    Raises
    ------
    AnalysisError
        For a non-positive resolution or speed, a geographic CRS, or a grid too large for
        :data:`MAX_CELLS` or for the memory (naming the finest resolution that fits).
    """
    res = _check_positive(resolution_m, "resolution_m", "give the cell size in metres, e.g. 1000")
    off = _check_positive(offroad_kph, "offroad_kph", "give the off-road speed in km/h, e.g. 20")
    if roads is None or len(roads) == 0:
        raise AnalysisError("the roads layer has no features", fix="add road segments")
    if roads.crs is None:
        raise AnalysisError("the roads layer has no CRS", fix="assign the CRS of its coordinates (e.g. EPSG:4326)")
    grid_crs = CRS.from_user_input(crs) if crs is not None else _default_crs(roads)
    if not grid_crs.is_projected:
        raise AnalysisError(f"the surface CRS {grid_crs.to_string()} is not projected",
                            fix="use a metric CRS (e.g. a UTM zone or an equal-area projection), or leave crs unset")
    kph = road_speeds(roads, speeds=speeds)
    lines = roads.to_crs(grid_crs).geometry.to_numpy()
    kph = kph * _drawn_share(roads, lines)
    area = (_default_study_area([roads], grid_crs) if study_area is None
            else shapely.union_all(_as_geoseries(study_area, "study area").to_crs(grid_crs).to_numpy()))
    if shapely.is_empty(area) or shapely.area(area) <= 0:
        raise AnalysisError("the study area is empty", fix="pass a polygon covering the roads and places")

    minx, miny, maxx, maxy = shapely.bounds(area)
    x0, y0 = np.floor(minx / res) * res, np.floor(miny / res) * res
    x1, y1 = np.ceil(maxx / res) * res, np.ceil(maxy / res) * res
    width, height = round((x1 - x0) / res), round((y1 - y0) / res)
    _check_grid_fits((minx, miny, maxx, maxy), res, max_memory_bytes)
    transform = Affine(res, 0.0, x0, 0.0, -res, y1)
    shape = (height, width)

    # Fastest last: with merge_alg=replace the last road burned into a cell wins.
    order = np.argsort(kph, kind="stable")
    ok = ~(shapely.is_missing(lines) | shapely.is_empty(lines))
    order = order[ok[order]]
    road_kph = rasterio.features.rasterize(
        zip(lines[order], kph[order], strict=True), out_shape=shape, transform=transform, fill=0.0,
        all_touched=True, merge_alg=MergeAlg.replace, dtype="float64",
    ) if len(order) else np.zeros(shape)
    inside = rasterio.features.rasterize([(area, 1)], out_shape=shape, transform=transform, fill=0,
                                         all_touched=True, dtype="uint8").astype(bool)
    # A road slower than off-road travel (a living street at 10 km/h) never slows its cell down.
    speed = np.where(road_kph > 0, np.maximum(road_kph, off), off)
    friction = np.where(inside, 60.0 / (speed * 1000.0), np.nan)
    return FrictionRaster(friction, transform, grid_crs)


def travel_time_surface(
    friction: FrictionRaster,
    sources_xy: np.ndarray,
    *,
    source_ids: list[str] | None = None,
    nodata: float = NODATA,
) -> SurfaceResult:
    """Minutes from the nearest source to every cell (cost-distance with MCP_Geometric).

    Parameters
    ----------
    friction
        From :func:`friction_raster`.
    sources_xy
        ``(n, 2)`` coordinates of the sources in the friction raster's CRS.
    source_ids
        Names of the sources, for error messages and the metadata.
    nodata
        Value written outside the study area and where no source is reachable.

    Returns
    -------
    SurfaceResult

    Raises
    ------
    AnalysisError
        When there is no source, or a source lies outside the grid or the study area.
    """
    arr, transform, crs = friction
    if not np.isclose(abs(transform.a), abs(transform.e)) or transform.b or transform.d:
        raise AnalysisError("the friction raster must have square, north-up cells", fix="build it with friction_raster")
    res = abs(transform.a)
    xy = np.asarray(sources_xy, dtype=float).reshape(-1, 2)
    if len(xy) == 0:
        raise AnalysisError("no sources (growth centres) given", fix="pass at least one centre")
    ids = [str(s) for s in source_ids] if source_ids is not None else [f"#{i + 1}" for i in range(len(xy))]
    rows, cols = rasterio.transform.rowcol(transform, xy[:, 0], xy[:, 1], op=np.floor)
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    h, w = arr.shape
    in_grid = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w) & np.isfinite(xy).all(axis=1)
    ok = in_grid.copy()
    ok[in_grid] = np.isfinite(arr[rows[in_grid], cols[in_grid]])
    if not ok.all():
        bad = ", ".join(ids[i] for i in np.flatnonzero(~ok)[:10])
        raise AnalysisError(f"sources outside the study area of the surface: {bad}",
                            fix="widen the study area so it covers every growth centre, or check their coordinates")
    # Minutes to cross one cell; NaN (outside the study area) becomes impassable.
    costs = arr * res
    np.nan_to_num(costs, copy=False, nan=np.inf)
    cum, _ = MCP_Geometric(costs, fully_connected=True).find_costs(np.column_stack([rows, cols]))
    del costs
    out = cum.astype(np.float32)
    out[~np.isfinite(cum)] = nodata
    return SurfaceResult(out, transform, crs, float(nodata), {"sources": ", ".join(ids)})


def write_surface(
    path: str | os.PathLike[str],
    result: SurfaceResult,
    *,
    description: str = SURFACE_DESCRIPTION,
) -> Path:
    """Write a surface as a tiled, DEFLATE-compressed float32 GeoTIFF, atomically.

    The band carries ``description`` and the unit ``minutes`` (GDAL unit type and a ``units``
    tag); the dataset carries ``result.tags``. Nothing time-dependent is written, so the same
    surface always gives the same bytes.

    Parameters
    ----------
    path
        Output ``.tif`` file; replaced only once the new file is complete.
    result
        The surface, from :func:`nearest_centre_surface` or :func:`travel_time_surface`.
    description
        Band description.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    AnalysisError
        When the file cannot be written.
    """
    target = Path(path)
    h, w = result.array.shape
    profile = {
        "driver": "GTiff", "width": w, "height": h, "count": 1, "dtype": "float32",
        "crs": result.crs, "transform": result.transform, "nodata": result.nodata,
        "tiled": True, "blockxsize": _TILE, "blockysize": _TILE,
        "compress": "deflate", "predictor": 3, "zlevel": 6, "interleave": "band",
    }
    try:
        with atomic_path(target) as tmp, rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(tmp, "w", **profile) as dst:
            dst.write(result.array.astype(np.float32, copy=False), 1)
            dst.set_band_description(1, description)
            dst.set_band_unit(1, "minutes")
            dst.update_tags(1, units="minutes")
            dst.update_tags(**{k: str(v) for k, v in sorted(result.tags.items())})
    except rasterio.errors.RasterioIOError as exc:
        raise AnalysisError(f"{target}: cannot write the GeoTIFF: {exc}",
                            fix="check that the folder is writable and the disk is not full") from exc
    return target


# --------------------------------------------------------------------------------------
# the one-call version and sampling


def nearest_centre_surface(
    layers_or_roads: LayerSet | gpd.GeoDataFrame,
    *,
    centres: gpd.GeoDataFrame | None = None,
    resolution_m: float = DEFAULT_RESOLUTION_M,
    offroad_kph: float = DEFAULT_OFFROAD_KPH,
    speeds: Mapping[str, float] | None = None,
    study_area: shapely.Geometry | gpd.GeoSeries | gpd.GeoDataFrame | None = None,
    crs: CRS | str | int | None = None,
    out: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    max_memory_bytes: int | None = None,
) -> SurfaceResult:
    """Travel-time surface to the nearest growth centre, optionally written as GeoTIFF.

    Parameters
    ----------
    layers_or_roads
        A layer set (its roads, centres and towns are used) or a roads layer.
    centres
        Growth centres (points with ``id``); default: the layer set's centres.
    resolution_m, offroad_kph, speeds, crs, max_memory_bytes
        See :func:`friction_raster`.
    study_area
        Default: the country (the layer set's ``boundaries`` at level 0, see
        :func:`country_area`), so every place in it gets a value and cells abroad are nodata;
        without boundaries, the convex hull of the roads, centres and towns, widened by
        :data:`STUDY_AREA_MARGIN_M`.
    out
        Write the surface to this ``.tif`` (see :func:`write_surface`).
    progress
        Show the stages on a progress bar (stderr); ``None`` follows
        :func:`geoplan._progress.set_progress` (off in a library call, on in the ``geoplan`` command).

    Returns
    -------
    SurfaceResult
    """
    if isinstance(layers_or_roads, LayerSet):
        roads = layers_or_roads.roads
        centres = layers_or_roads.centres if centres is None else centres
        places = [centres] + ([layers_or_roads.layers["towns"]] if "towns" in layers_or_roads.layers else [])
        if study_area is None:
            study_area = country_area(layers_or_roads)
    elif isinstance(layers_or_roads, gpd.GeoDataFrame):
        roads = layers_or_roads
        if centres is None:
            raise AnalysisError("no growth centres given", fix="pass the centres layer, or a whole layer set")
        places = [centres]
    else:
        raise AnalysisError(f"expected a layer set or a roads GeoDataFrame, got {type(layers_or_roads).__name__}",
                            fix="pass geoplan.read_layers(...) or its roads layer")
    if not isinstance(centres, gpd.GeoDataFrame) or centres.crs is None or len(centres) == 0:
        raise AnalysisError("the centres must be a non-empty GeoDataFrame of points with a CRS",
                            fix="pass the centres layer (e.g. layers.centres)")
    if roads.crs is None:
        raise AnalysisError("the roads layer has no CRS", fix="assign the CRS of its coordinates (e.g. EPSG:4326)")
    grid_crs = CRS.from_user_input(crs) if crs is not None else _default_crs(roads)
    area = study_area if study_area is not None else gpd.GeoSeries(
        [_default_study_area([roads, *places], grid_crs)], crs=grid_crs)

    bar = progress_bar(total=3 if out is not None else 2, desc="surface", unit="step", enabled=progress)
    with bar:
        bar.describe("surface: friction")
        fr = friction_raster(roads, resolution_m=resolution_m, offroad_kph=offroad_kph, speeds=speeds,
                             study_area=area, crs=grid_crs, max_memory_bytes=max_memory_bytes)
        bar.update()
        bar.describe(f"surface: cost distance, {fr.array.shape[1]} x {fr.array.shape[0]} cells")
        pts = centres.to_crs(grid_crs).geometry
        ids = centres["id"].astype(str).tolist() if "id" in centres.columns else None
        result = travel_time_surface(fr, np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()]), source_ids=ids)
        bar.update()
        tags = {
            "method": "cost distance (skimage.graph.MCP_Geometric, 8-connected) over a road friction surface "
                      "(Weiss et al. 2018)",
            "offroad_kph": f"{float(offroad_kph):g}",
            "resolution_m": f"{float(resolution_m):g}",
            "speeds": ", ".join(f"{k}={float(v):g}" for k, v in sorted((speeds or {}).items())) or "network defaults",
            **result.tags,
        }
        result = SurfaceResult(result.array, result.transform, result.crs, result.nodata, tags)
        if out is not None:
            bar.describe("surface: write")
            write_surface(out, result)
            bar.update()
    return result


def sample_surface(result: SurfaceResult, points: gpd.GeoSeries | gpd.GeoDataFrame | np.ndarray) -> np.ndarray:
    """Minutes at each point (NaN outside the grid, the study area, or the reachable area).

    Parameters
    ----------
    result
        A surface.
    points
        A GeoSeries/GeoDataFrame of points (any CRS), or ``(n, 2)`` coordinates in the
        surface's CRS.
    """
    if isinstance(points, (gpd.GeoSeries, gpd.GeoDataFrame)):
        geo = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
        if geo.crs is None:
            raise AnalysisError("the points have no CRS", fix="assign the CRS of their coordinates (e.g. EPSG:4326)")
        geo = geo.to_crs(result.crs)
        xy = np.column_stack([geo.x.to_numpy(), geo.y.to_numpy()])
    else:
        xy = np.asarray(points, dtype=float).reshape(-1, 2)
    rows, cols = rasterio.transform.rowcol(result.transform, xy[:, 0], xy[:, 1], op=np.floor)
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    h, w = result.array.shape
    ok = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    out = np.full(len(xy), np.nan)
    vals = result.array[rows[ok], cols[ok]].astype(float)
    out[ok] = np.where(vals == result.nodata, np.nan, vals)
    return out
