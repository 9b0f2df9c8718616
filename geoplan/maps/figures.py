"""Static figures (matplotlib) for reports: the categories map with the country drawn.

Labels are placed greedily in priority order (growth centres by population, then monotowns by
rank or population, then the largest settlements), each at the first of eight positions around
its point, then farther out with a leader line, where it overlaps no label, no symbol, the
legend or the frame; a label that fits nowhere is left out. Text extents come from the
renderer's font metrics, overlaps from a grid, so any number of places draws in seconds.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan._io import write_bytes_atomic
from geoplan._results import check_result
from geoplan._style import (
    CATEGORIES,
    CATEGORY_COLOURS,
    CATEGORY_LABELS,
    CENTRE_COLOUR,
    OSM_ATTRIBUTION_TEXT,
    OUTLINE_COLOUR,
    ROAD_COLOUR,
)
from geoplan.layers import metric_crs
from geoplan.maps.assets import _PathLike
from geoplan.maps.web import _FALLBACK_BOUNDS, _bounds, latin
from geoplan.settings import FIGURE_DPI, FIGURE_WIDTH_IN

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.legend import Legend

__all__ = ["category_png", "place_labels"]

#: Marker area of a town, pt².
_TOWN_AREA = 46
#: Dash pattern of a fragile town's ring.
_FRAGILE_DASH = (0, (2.5, 1.5))


def _nice_length(span_m: float) -> float:
    """Return the longest round length (m) no longer than a fifth of ``span_m``."""
    target = span_m / 5
    steps = (1000, 2000, 5000, 10000, 20000, 25000, 50000, 100000, 200000, 250000, 500000, 1000000)
    return float(max((s for s in steps if s <= target), default=steps[0]))


class _Grid:
    """Axis-aligned boxes (display pixels) with a uniform grid for overlap queries."""

    def __init__(self, cell: float = 40.0) -> None:
        self.cell = cell
        self.cells: dict[tuple[int, int], list[tuple[float, float, float, float]]] = {}

    def _keys(self, b: tuple[float, float, float, float]) -> list[tuple[int, int]]:
        c = self.cell
        xs = range(int(b[0] // c), int(b[2] // c) + 1)
        return [(i, j) for i in xs for j in range(int(b[1] // c), int(b[3] // c) + 1)]

    def free(self, b: tuple[float, float, float, float]) -> bool:
        for k in self._keys(b):
            for o in self.cells.get(k, ()):
                if b[0] < o[2] and b[2] > o[0] and b[1] < o[3] and b[3] > o[1]:
                    return False
        return True

    def add(self, b: tuple[float, float, float, float]) -> None:
        for k in self._keys(b):
            self.cells.setdefault(k, []).append(b)


def place_labels(points: np.ndarray, sizes: np.ndarray, radii: np.ndarray,
                 frame: tuple[float, float, float, float], *,
                 obstacles: Sequence[tuple[float, float, float, float]] = (),
                 symbols: np.ndarray | None = None, symbol_radii: np.ndarray | None = None,
                 pad: float = 2.0) -> list[tuple[int, float, float, str, bool]]:
    """Place labels in priority order without overlaps (display pixel coordinates, y up).

    Parameters
    ----------
    points
        ``(n, 2)`` anchor points in priority order (the first is placed first).
    sizes
        ``(n, 2)`` label width and height.
    radii
        Radius of each anchor's symbol: labels start this far from the point.
    frame
        ``(x0, y0, x1, y1)``: labels stay inside.
    obstacles
        Boxes no label may overlap (legend, title).
    symbols, symbol_radii
        Other symbols (all drawn points) that labels must not cover.
    pad
        Gap between a label and its symbol, pixels.

    Returns
    -------
    list of (index, x, y, ha, leader)
        The placed labels: the anchor's index, the text position (left/right edge at mid
        height, as ``ha`` says), and whether it needs a leader line.

    Examples
    --------
    >>> pts = np.array([[100.0, 100.0], [104.0, 100.0]])
    >>> placed = place_labels(pts, np.array([[40.0, 10.0], [40.0, 10.0]]), np.array([3.0, 3.0]),
    ...                       (0.0, 0.0, 300.0, 300.0))
    >>> len(placed), placed[0][3]
    (2, 'left')
    """
    grid = _Grid()
    for b in obstacles:
        grid.add(b)
    if symbols is not None and symbol_radii is not None:
        for (x, y), r in zip(symbols, symbol_radii, strict=True):
            grid.add((x - r, y - r, x + r, y + r))
    x0, y0, x1, y1 = frame
    placed: list[tuple[int, float, float, str, bool]] = []
    for i, ((x, y), (w, h), r) in enumerate(zip(points, sizes, radii, strict=True)):
        done = False
        for dist, leader in ((r + pad, False), (r + pad + 12.0, True), (r + pad + 26.0, True)):
            d = dist * 0.7071
            options = (  # (left edge, bottom), ha, text anchor x
                (x + dist, y - h / 2, "left"), (x - dist - w, y - h / 2, "right"),
                (x + d, y + d - h / 4, "left"), (x - d - w, y + d - h / 4, "right"),
                (x + d, y - d - 3 * h / 4, "left"), (x - d - w, y - d - 3 * h / 4, "right"),
                (x - w / 2, y + dist, "center"), (x - w / 2, y - dist - h, "center"),
            )
            for left, bottom, ha in options:
                box = (left, bottom, left + w, bottom + h)
                if box[0] < x0 or box[1] < y0 or box[2] > x1 or box[3] > y1 or not grid.free(box):
                    continue
                grid.add(box)
                tx = left if ha == "left" else (left + w if ha == "right" else left + w / 2)
                placed.append((i, tx, bottom + h / 2, ha, leader))
                done = True
                break
            if done:
                break
    return placed


def category_png(
    towns: gpd.GeoDataFrame,
    centres: gpd.GeoDataFrame,
    path: _PathLike,
    *,
    roads: gpd.GeoDataFrame | None = None,
    boundaries: gpd.GeoDataFrame | None = None,
    settlements: gpd.GeoDataFrame | None = None,
    title: str | None = "Monotowns by category",
    dpi: int = FIGURE_DPI,
    width_in: float = FIGURE_WIDTH_IN,
    labels: bool = True,
    max_settlement_labels: int = 25,
) -> Path:
    """Draw the town categories as a PNG map (matplotlib), atomically and reproducibly.

    Parameters
    ----------
    towns
        Towns result; points coloured by ``category`` with the web maps' palette. Labelled by
        ``rank`` when the classification gives one (best first), else by population.
    centres
        Growth centres; open circles with area proportional to ``population``, labelled first.
    path
        Output ``.png`` file.
    roads
        Optional roads layer, drawn in light grey (credited to OpenStreetMap contributors).
    boundaries
        Optional boundaries layer (``level`` 0 country, 1 region): the country filled and
        outlined, regions as thin lines.
    settlements
        Optional settlements (``population``): small grey dots, the largest labelled.
    title
        Figure title, or ``None``.
    dpi, width_in
        Resolution and width of the image.
    labels
        Label places (without overlaps; a place with no room stays unlabelled).
    max_settlement_labels
        Most settlements to try to label (largest first).

    Returns
    -------
    pathlib.Path
        ``path``.

    """
    towns = check_result(towns, "towns")
    centres = check_result(centres, "centres")
    roads_r = check_result(roads, "roads") if roads is not None else None
    bnd = _boundaries_lonlat(boundaries)
    crs = metric_crs((_bounds(bnd) if bnd is not None else _bounds(towns, centres, roads_r)) or _FALLBACK_BOUNDS)
    t, c = towns.to_crs(crs), centres.to_crs(crs)
    frame = _frame(t, c, roads_r, bnd, crs)
    fig, ax = _figure(frame, title=title, dpi=dpi, width_in=width_in)
    if bnd is not None:
        _draw_boundaries(fig, ax, bnd, frame)
    if roads_r is not None and len(roads_r):
        _draw_roads(ax, roads_r, frame.crs)
    sett = _draw_settlements(ax, settlements, frame.crs)
    marks = _draw_places(ax, t, c)
    legend = _draw_legend(ax, t, marks.fragile, settlements_shown=bool(len(sett.x)))
    _draw_scale_and_credits(ax, frame, roads_shown=roads_r is not None, settlements_shown=bool(len(sett.x)),
                            boundaries_shown=bnd is not None)
    if labels:
        _draw_labels(fig, ax, t, c, marks, sett, legend, max_settlement_labels)

    buf = io.BytesIO()
    # No "Software" chunk: the bytes depend on the drawing, not on the matplotlib build.
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None}, facecolor="white", pad_inches=0.1)
    return write_bytes_atomic(path, buf.getvalue())


class _Frame(NamedTuple):
    """The metric CRS of a figure and the extent it shows (metres)."""

    crs: Any
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    span: float  # the longer side, at least 50 km
    pad: float  # margin around the extent


class _Settlements(NamedTuple):
    """The settlements drawn (not towns or centres themselves): coordinates, population, names."""

    x: np.ndarray
    y: np.ndarray
    population: np.ndarray
    names: list[str]


class _Marks(NamedTuple):
    """What the labels need to know about the drawn centres and towns."""

    centre_population: np.ndarray
    centre_area: np.ndarray  # marker area, pt²
    both: set[str]  # ids that are a town and a centre
    fragile: np.ndarray  # per town


def _boundaries_lonlat(boundaries: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """Return the boundaries in lon/lat when they can be drawn (they have a ``level``), else ``None``."""
    if boundaries is not None and len(boundaries) and "level" in boundaries:
        return boundaries.to_crs(4326) if boundaries.crs is not None else boundaries.set_crs(4326)
    return None


def _frame(t: gpd.GeoDataFrame, c: gpd.GeoDataFrame, roads: gpd.GeoDataFrame | None,
           bnd: gpd.GeoDataFrame | None, crs: Any) -> _Frame:
    """Return the extent in ``crs`` (of ``t`` and ``c``): the boundaries', else the places' and roads'."""
    if bnd is not None:
        xmin, ymin, xmax, ymax = bnd.to_crs(crs).total_bounds
    else:
        pts = np.concatenate([shapely.get_coordinates(t.geometry.to_numpy()),
                              shapely.get_coordinates(c.geometry.to_numpy())]) if len(t) + len(c) else np.zeros((1, 2))
        if roads is not None and len(roads):
            rb = roads.to_crs(crs).total_bounds
            pts = np.vstack([pts, rb[:2], rb[2:]])
        xmin, ymin = pts.min(axis=0)
        xmax, ymax = pts.max(axis=0)
    span = max(xmax - xmin, ymax - ymin, 50000.0)
    return _Frame(crs, xmin, ymin, xmax, ymax, span, 0.04 * span)


def _figure(frame: _Frame, *, title: str | None, dpi: int, width_in: float) -> tuple[Figure, Axes]:
    """Make the figure (with a renderer for text extents, without pyplot) and its map axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    xmin, ymin, xmax, ymax, pad = frame.xmin, frame.ymin, frame.xmax, frame.ymax, frame.pad
    aspect = (ymax - ymin + 2 * pad) / max(xmax - xmin + 2 * pad, 1.0)
    fig = Figure(figsize=(width_in, max(3.0, width_in * aspect + 0.6)), dpi=dpi)
    FigureCanvasAgg(fig)  # a renderer for text extents, without pyplot
    ax = fig.add_axes((0.0, 0.0, 1.0, 0.94 if title else 1.0))
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_xlim(xmin - pad, xmax + pad)
    ax.set_ylim(ymin - pad, ymax + pad)
    if title:
        fig.text(0.01, 0.985, title, fontsize=13, ha="left", va="top", fontweight="bold", parse_math=False)
    return fig, ax


def _draw_boundaries(fig: Figure, ax: Axes, bnd: gpd.GeoDataFrame, frame: _Frame) -> None:
    """Draw the country filled and outlined, the regions as thin lines, the sea around."""
    from matplotlib.collections import LineCollection

    level = pd.to_numeric(bnd["level"], errors="coerce").to_numpy()
    metric = bnd.to_crs(frame.crs)
    tol = frame.span / 2000
    country = metric[level == 0] if (level == 0).any() else metric
    shape = gpd.GeoSeries([shapely.union_all(shapely.make_valid(country.geometry.to_numpy()))], crs=frame.crs)
    shape.simplify(tol).plot(ax=ax, facecolor="#FBFAF5", edgecolor="#4D4D4D", linewidth=0.9, zorder=0.5)
    if (level == 1).any():
        lines = shapely.union_all(shapely.boundary(shapely.make_valid(metric[level == 1].geometry.to_numpy())))
        coords, index = shapely.get_coordinates(shapely.get_parts(shapely.simplify(lines, tol)), return_index=True)
        parts = np.split(coords, np.flatnonzero(np.diff(index)) + 1)
        ax.add_collection(LineCollection(parts, colors="#9A9A9A", linewidths=0.45, zorder=0.6))
    ax.set_facecolor("#DFE5EA")
    fig.set_facecolor("white")


def _draw_roads(ax: Axes, roads: gpd.GeoDataFrame, crs: Any) -> None:
    """Draw the roads as light grey lines."""
    from matplotlib.collections import LineCollection

    coords, index = shapely.get_coordinates(roads.to_crs(crs).geometry.to_numpy(), return_index=True)
    parts = np.split(coords, np.flatnonzero(np.diff(index)) + 1)
    ax.add_collection(LineCollection(parts, colors=ROAD_COLOUR, linewidths=0.5, alpha=0.7, zorder=1))


def _draw_settlements(ax: Axes, settlements: gpd.GeoDataFrame | None, crs: Any) -> _Settlements:
    """Draw the settlements that are not a town or centre themselves as grey dots sized by population."""
    if settlements is None or not len(settlements):
        return _Settlements(np.zeros(0), np.zeros(0), np.zeros(0), [])
    s = settlements.to_crs(crs) if settlements.crs is not None else settlements.set_crs(4326).to_crs(crs)
    s = s[s.geometry.geom_type == "Point"]
    linked = np.zeros(len(s), dtype=bool)
    for col in ("town_id", "centre_id"):
        if col in s:
            linked |= s[col].notna().to_numpy()
    s = s[~linked]
    spop = (pd.to_numeric(s["population"], errors="coerce").fillna(0).to_numpy(dtype=float)
            if "population" in s else np.zeros(len(s)))
    sx, sy = s.geometry.x.to_numpy(), s.geometry.y.to_numpy()
    ax.scatter(sx, sy, s=np.clip(spop / 20000, 0.3, 6), c="#8A8A8A", linewidths=0, zorder=1.5)
    return _Settlements(sx, sy, spop, [_text(r) for r in s.drop(columns=s.geometry.name).to_dict("records")])


def _draw_places(ax: Axes, t: gpd.GeoDataFrame, c: gpd.GeoDataFrame) -> _Marks:
    """Draw the centres (open circles, area = population), the towns by category and the fragile rings."""
    pop_c = (pd.to_numeric(c["population"], errors="coerce").fillna(0).to_numpy(dtype=float)
             if "population" in c and len(c) else np.zeros(len(c)))
    c_area = 20 + 480 * pop_c / max(pop_c.max() if len(pop_c) else 0.0, 1.0)  # marker area (pt²)
    both = set(t["id"].astype(str)) & set(c["id"].astype(str))
    if len(c):
        ax.scatter(c.geometry.x, c.geometry.y, s=c_area, facecolors="white", edgecolors=CENTRE_COLOUR,
                   linewidths=1.2, alpha=0.9, zorder=2)
    if len(t):
        colours = [CATEGORY_COLOURS[str(k)] for k in t["category"]]
        ax.scatter(t.geometry.x, t.geometry.y, s=_TOWN_AREA, c=colours, edgecolors=OUTLINE_COLOUR, linewidths=0.7,
                   zorder=3)
    fragile = (t["fragile"].fillna(False).astype(bool).to_numpy() if "fragile" in t and len(t)
               else np.zeros(len(t), dtype=bool))
    if fragile.any():  # a dashed ring: the category changes in many sensitivity runs
        ax.scatter(t.geometry.x[fragile], t.geometry.y[fragile], s=150, facecolors="none", edgecolors=OUTLINE_COLOUR,
                   linewidths=0.9, linestyles=_FRAGILE_DASH, zorder=2.9)
    return _Marks(pop_c, c_area, both, fragile)


def _draw_legend(ax: Axes, t: gpd.GeoDataFrame, fragile: np.ndarray, *, settlements_shown: bool) -> Legend:
    """Draw the legend: categories with their counts, growth centres, fragile towns, settlements."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    counts = t["category"].astype(object).value_counts() if len(t) else pd.Series(dtype=int)
    handles: list[Any] = [Line2D([], [], marker="o", linestyle="", markersize=7, markerfacecolor=CATEGORY_COLOURS[k],
                      markeredgecolor=OUTLINE_COLOUR, label=f"{CATEGORY_LABELS[k]} ({int(counts.get(k, 0))})")
               for k in CATEGORIES]
    handles.append(Line2D([], [], marker="o", linestyle="", markersize=10, markerfacecolor="white",
                          markeredgecolor=CENTRE_COLOUR, label="Growth centre (area = population)"))
    if fragile.any():
        handles.append(Patch(facecolor="none", edgecolor=OUTLINE_COLOUR, linestyle=_FRAGILE_DASH,
                             label=f"Fragile: category changes in many sensitivity runs ({int(fragile.sum())})"))
    if settlements_shown:
        handles.append(Line2D([], [], marker="o", linestyle="", markersize=3, markerfacecolor="#8A8A8A",
                              markeredgecolor="none", label="Settlement"))
    return ax.legend(handles=handles, loc="lower left", fontsize=8, frameon=True, framealpha=0.92, labelspacing=0.3,
                     title="Monotowns", title_fontsize=9)


def _draw_scale_and_credits(ax: Axes, frame: _Frame, *, roads_shown: bool, settlements_shown: bool,
                            boundaries_shown: bool) -> None:
    """Draw the scale bar (bottom right) and the data credits under it."""
    xmin, ymin, xmax, span, pad = frame.xmin, frame.ymin, frame.xmax, frame.span, frame.pad
    bar = _nice_length(xmax - xmin)
    x0, y0 = xmax + pad - bar - 0.02 * span, ymin - pad + 0.03 * span
    ax.plot([x0, x0 + bar], [y0, y0], color="#222222", linewidth=3, solid_capstyle="butt", zorder=5)
    ax.text(x0 + bar / 2, y0 + 0.012 * span, f"{bar / 1000:g} km", ha="center", va="bottom", fontsize=8, zorder=5)
    credits = []
    if roads_shown or settlements_shown:
        credits.append("Roads and places partly " + OSM_ATTRIBUTION_TEXT)
    if boundaries_shown:
        credits.append("Boundaries: OCHA/HDX COD-AB (CC BY-IGO), geokz (CC BY 4.0)")
    if credits:
        ax.text(0.995, 0.005, "; ".join(credits), transform=ax.transAxes, ha="right", va="bottom", fontsize=6,
                color="#555555")


def _box(extents: Iterable[float]) -> tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)`` of a matplotlib bounding box's ``extents`` (display pixels)."""
    x0, y0, x1, y1 = (float(v) for v in extents)
    return x0, y0, x1, y1


def _text(row: Any) -> str:
    """Return the English name of a place, else its Russian or local name in Latin letters ("" if none)."""
    for key in ("name_en", "name_ru", "name"):
        v = row.get(key)
        if isinstance(v, str) and v.strip():
            return latin(v.strip())  # a name_en in Cyrillic (a data slip) is written in Latin too
    return ""


def _draw_labels(fig: Figure, ax: Axes, t: gpd.GeoDataFrame, c: gpd.GeoDataFrame, marks: _Marks,
                 sett: _Settlements, legend: Legend, max_settlements: int) -> None:
    """Place and draw the labels of centres, towns and the largest settlements."""
    from matplotlib import patheffects
    from matplotlib.font_manager import FontProperties

    both, pop_c, c_area = marks.both, marks.centre_population, marks.centre_area
    sx, sy, spop, snames = sett
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]  # the Agg canvas of _figure
    scale = fig.dpi / 72.0
    # candidates in priority order: (x, y, text, fontsize, weight, symbol radius px)
    cands: list[tuple[float, float, str, float, str, float]] = []
    cr = np.sqrt(c_area / np.pi) * scale  # radius in pixels of a marker of area s pt²
    for i in np.argsort(-pop_c, kind="stable"):
        cid = str(c["id"].iloc[i])
        g = c.geometry.iloc[i]
        name = _text(c.iloc[i]) or cid
        cands.append((g.x, g.y, name, 8.0, "bold", float(cr[i]) + (2 if cid in both else 0)))
    if "rank" in t and pd.to_numeric(t["rank"], errors="coerce").notna().any():
        key = pd.to_numeric(t["rank"], errors="coerce").astype(float).fillna(np.inf).to_numpy()
    else:
        key = -(pd.to_numeric(t["population"], errors="coerce").fillna(0).to_numpy() if "population" in t
                else np.zeros(len(t)))
    town_r = np.sqrt(_TOWN_AREA / np.pi) * scale
    for i in np.argsort(key, kind="stable"):
        if str(t["id"].iloc[i]) in both:
            continue  # labelled as a centre
        g = t.geometry.iloc[i]
        cands.append((g.x, g.y, _text(t.iloc[i]) or str(t["id"].iloc[i]), 7.0, "normal", float(town_r)))
    for i in np.argsort(-spop, kind="stable")[:max_settlements]:
        if spop[i] <= 0 or not snames[i]:
            continue
        cands.append((float(sx[i]), float(sy[i]), snames[i], 6.0, "normal", 2.0))
    if not cands:
        return
    to_px = ax.transData.transform
    pts = to_px(np.array([(x, y) for x, y, *_ in cands]))
    sizes = []
    for _, _, text, fs, weight, _ in cands:
        w, h, _ = renderer.get_text_width_height_descent(text, FontProperties(size=fs, weight=weight), ismath=False)
        sizes.append((w + 3, h + 2))
    frame = _box(ax.get_window_extent(renderer).extents)
    obstacles = [_box(legend.get_window_extent(renderer).extents)]
    all_syms = np.vstack([to_px(np.column_stack([c.geometry.x, c.geometry.y])) if len(c) else np.zeros((0, 2)),
                          to_px(np.column_stack([t.geometry.x, t.geometry.y])) if len(t) else np.zeros((0, 2))])
    all_r = np.concatenate([cr, np.full(len(t), town_r)])
    placed = place_labels(pts, np.array(sizes), np.array([r for *_, r in cands]), frame,
                          obstacles=obstacles, symbols=all_syms, symbol_radii=all_r)
    halo = [patheffects.withStroke(linewidth=2.2, foreground="white")]
    inv = ax.transData.inverted().transform
    for i, tx, ty, ha, leader in placed:
        x, y, text, fs, weight, _ = cands[i]
        dx, dy = inv((tx, ty))
        # parse_math=False: a '$' in a place name is text, not matplotlib mathtext (issue 14)
        ax.text(dx, dy, text, fontsize=fs, fontweight=weight, ha=ha, va="center", zorder=6, path_effects=halo,
                parse_math=False)
        if leader:
            ax.plot([x, dx], [y, dy], color="#555555", linewidth=0.5, zorder=5.5)
