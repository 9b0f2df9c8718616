"""Static figures (matplotlib) for reports."""

from __future__ import annotations

import io
from pathlib import Path

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
    ROAD_COLOUR,
)
from geoplan.layers import metric_crs
from geoplan.maps.assets import _PathLike
from geoplan.maps.basemap import _bounds


def _nice_length(span_m: float) -> float:
    """Return the longest round length (m) no longer than a fifth of ``span_m``."""
    target = span_m / 5
    steps = (1000, 2000, 5000, 10000, 20000, 25000, 50000, 100000, 200000, 250000, 500000, 1000000)
    return float(max((s for s in steps if s <= target), default=steps[0]))


def category_png(
    towns: gpd.GeoDataFrame,
    centres: gpd.GeoDataFrame,
    path: _PathLike,
    *,
    roads: gpd.GeoDataFrame | None = None,
    title: str | None = "Monotowns by category",
    dpi: int = 150,
    width_in: float = 10.0,
    labels: bool = True,
) -> Path:
    """Draw the town categories as a PNG map (matplotlib), atomically and reproducibly.

    Parameters
    ----------
    towns
        Towns result; points coloured by ``category`` with the web maps' palette.
    centres
        Growth centres; open circles with area proportional to ``population``.
    path
        Output ``.png`` file.
    roads
        Optional roads layer, drawn in light grey (credited to OpenStreetMap contributors).
    title
        Figure title, or ``None``.
    dpi, width_in
        Resolution and width of the image.
    labels
        Label towns with ``name_en``.

    Returns
    -------
    pathlib.Path
        ``path``.

    """
    from matplotlib import patheffects
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    towns = check_result(towns, "towns")
    centres = check_result(centres, "centres")
    roads_r = check_result(roads, "roads") if roads is not None else None
    bounds = _bounds(towns, centres, roads_r) or (46.0, 40.0, 88.0, 56.0)
    crs = metric_crs(bounds)
    t = towns.to_crs(crs)
    c = centres.to_crs(crs)
    xs = np.concatenate([t.geometry.x.to_numpy(), c.geometry.x.to_numpy()]) if len(t) + len(c) else np.array([0.0])
    ys = np.concatenate([t.geometry.y.to_numpy(), c.geometry.y.to_numpy()]) if len(t) + len(c) else np.array([0.0])
    if roads_r is not None and len(roads_r):
        rb = roads_r.to_crs(crs).total_bounds
        xs, ys = np.append(xs, rb[[0, 2]]), np.append(ys, rb[[1, 3]])
    xmin, xmax, ymin, ymax = xs.min(), xs.max(), ys.min(), ys.max()
    span = max(xmax - xmin, ymax - ymin, 50000.0)
    pad = 0.05 * span
    aspect = (ymax - ymin + 2 * pad) / max(xmax - xmin + 2 * pad, 1.0)
    fig = Figure(figsize=(width_in, max(3.0, width_in * aspect + 0.9)), dpi=dpi, layout="constrained")
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_xlim(xmin - pad, xmax + pad)
    ax.set_ylim(ymin - pad, ymax + pad)
    if title:
        ax.set_title(title, fontsize=13, loc="left")

    if roads_r is not None and len(roads_r):
        coords, index = shapely.get_coordinates(roads_r.to_crs(crs).geometry.to_numpy(), return_index=True)
        parts = np.split(coords, np.flatnonzero(np.diff(index)) + 1)
        ax.add_collection(LineCollection(parts, colors=ROAD_COLOUR, linewidths=0.6, alpha=0.8, zorder=1))

    if len(c):
        pop = (pd.to_numeric(c["population"], errors="coerce").fillna(0).to_numpy(dtype=float)
               if "population" in c else np.zeros(len(c)))
        sizes = 20 + 480 * pop / max(pop.max(), 1.0)  # marker area (pt²): 20 plus a share proportional to population
        ax.scatter(c.geometry.x, c.geometry.y, s=sizes, facecolors="white", edgecolors=CENTRE_COLOUR,
                   linewidths=1.2, alpha=0.9, zorder=2)
    halo = [patheffects.withStroke(linewidth=2.5, foreground="white")]
    if len(t):
        colours = [CATEGORY_COLOURS[str(k)] for k in t["category"]]
        ax.scatter(t.geometry.x, t.geometry.y, s=46, c=colours, edgecolors="#1A1A1A", linewidths=0.7, zorder=3)
        if labels:
            for x, y, name in zip(t.geometry.x, t.geometry.y, t["name_en"].astype(str), strict=True):
                ax.annotate(name, (x, y), xytext=(4, 3), textcoords="offset points", fontsize=6.5, zorder=4,
                            path_effects=halo)

    counts = t["category"].astype(object).value_counts() if len(t) else pd.Series(dtype=int)
    handles = [Line2D([], [], marker="o", linestyle="", markersize=7, markerfacecolor=CATEGORY_COLOURS[k],
                      markeredgecolor="#1A1A1A", label=f"{CATEGORY_LABELS[k]} ({int(counts.get(k, 0))})")
               for k in CATEGORIES]
    handles.append(Line2D([], [], marker="o", linestyle="", markersize=10, markerfacecolor="white",
                          markeredgecolor=CENTRE_COLOUR, label="Growth centre (area = population)"))
    ax.legend(handles=handles, loc="lower left", fontsize=8, frameon=True, framealpha=0.9, title="Monotowns",
              title_fontsize=9)

    bar = _nice_length(xmax - xmin)
    x0, y0 = xmax + pad - bar - 0.02 * span, ymin - pad + 0.04 * span
    ax.plot([x0, x0 + bar], [y0, y0], color="#222222", linewidth=3, solid_capstyle="butt", zorder=5)
    ax.text(x0 + bar / 2, y0 + 0.012 * span, f"{bar / 1000:g} km", ha="center", va="bottom", fontsize=8, zorder=5)
    credit = "Roads and places partly " + OSM_ATTRIBUTION_TEXT if roads_r is not None else ""
    if credit:
        ax.text(0.995, 0.005, credit, transform=ax.transAxes, ha="right", va="bottom", fontsize=6, color="#555555")

    buf = io.BytesIO()
    # No "Software" chunk: the bytes depend on the drawing, not on the matplotlib build.
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None}, facecolor="white", bbox_inches="tight",
                pad_inches=0.15)
    return write_bytes_atomic(path, buf.getvalue())


