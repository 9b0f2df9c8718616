"""Charts of the assessment: the ranking of the towns with their rank intervals.

:func:`ranking_png` draws one row per assessed town, ordered by score (best at the top): a bar
of its score coloured by its category, and on the right its rank with the 5th-95th percentile
interval of the sensitivity runs (fragile towns marked). PNG bytes depend only on the data
(no software stamp), written atomically.

Examples
--------
>>> import pandas as pd, tempfile, pathlib
>>> t = pd.DataFrame({"id": ["a", "b"], "name_en": ["A", "B"], "score": [70.0, 40.0], "rank": [1, 2],
...                   "category": ["diversification", "relocation"], "rank_p05": [1, 1], "rank_p95": [1, 2],
...                   "fragile": [False, True]})
>>> p = ranking_png(t, pathlib.Path(tempfile.mkdtemp()) / "ranking.png")
>>> p.stat().st_size > 1000
True
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from geoplan._errors import AnalysisError
from geoplan._io import write_bytes_atomic
from geoplan._style import CATEGORY_COLOURS, CATEGORY_LABELS, OUTLINE_COLOUR
from geoplan.settings import FIGURE_DPI, FIGURE_WIDTH_IN, FRAGILE_SHARE

__all__ = ["ranking_png"]


def ranking_png(
    towns: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    title: str | None = "Monotowns by potential score, with rank intervals",
    dpi: int = FIGURE_DPI,
    fragile_share: float = FRAGILE_SHARE,
) -> Path:
    """Draw the towns ordered by score, coloured by category, with their rank intervals.

    Parameters
    ----------
    towns
        Towns result with ``id``, ``score``, ``rank``, ``category`` (and ``name_en``,
        ``rank_p05``, ``rank_p95``, ``fragile`` from the sensitivity when present). Towns
        without a score are left out.
    path
        Output ``.png`` file.
    title
        Figure title, or ``None``.
    dpi
        Resolution.
    fragile_share
        The run's ``sensitivity.fragile_share``, for the legend of the fragile marks.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    AnalysisError
        When no town has a score or a column is missing.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    need = {"id", "score", "rank", "category"}
    if not need <= set(towns.columns):
        raise AnalysisError(f"ranking chart: towns lack column(s) {', '.join(sorted(need - set(towns.columns)))}",
                            fix="pass the towns result of geoplan.classify.classify_towns or of geoplan run")
    t = towns[pd.to_numeric(towns["score"], errors="coerce").notna()].copy()
    if t.empty:
        raise AnalysisError("ranking chart: no town has a score", fix="check the composite index settings")
    t["score"] = pd.to_numeric(t["score"]).astype(float)
    t = t.sort_values(["score", "id"], ascending=[False, True], kind="mergesort").reset_index(drop=True)
    n = len(t)
    names = (t["name_en"] if "name_en" in t.columns else t["id"]).astype(str).str.replace(r"\s*\(.*\)", "", regex=True)
    colours = [CATEGORY_COLOURS.get(str(c), "#999999") for c in t["category"]]
    y = np.arange(n)[::-1]
    fig = Figure(figsize=(FIGURE_WIDTH_IN, 0.28 * n + 1.6), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [3, 2]})
    ax1.barh(y, t["score"], color=colours, edgecolor="#333333", linewidth=0.4)
    ax1.set_yticks(y, names, fontsize=8)
    ax1.set_xlabel("score (composite index of potential)")
    ax1.grid(axis="x", color="#DDDDDD", linewidth=0.6)
    ax1.set_axisbelow(True)
    rank = pd.to_numeric(t["rank"], errors="coerce").to_numpy(dtype=float)
    if {"rank_p05", "rank_p95"} <= set(t.columns):
        lo = pd.to_numeric(t["rank_p05"], errors="coerce").to_numpy(dtype=float)
        hi = pd.to_numeric(t["rank_p95"], errors="coerce").to_numpy(dtype=float)
        for yi, a, b, c in zip(y, lo, hi, colours, strict=True):
            if np.isfinite(a) and np.isfinite(b):
                ax2.plot([a, b], [yi, yi], color=c, linewidth=2.5, solid_capstyle="round", alpha=0.7)
    fragile = t["fragile"].fillna(False).astype(bool).to_numpy() if "fragile" in t.columns else np.zeros(n, bool)
    ax2.scatter(rank[~fragile], y[~fragile], s=22, c=np.array(colours, dtype=object)[~fragile].tolist(),
                edgecolors=OUTLINE_COLOUR, linewidths=0.6, zorder=3)
    if fragile.any():
        ax2.scatter(rank[fragile], y[fragile], s=30, facecolors="white",
                    edgecolors=np.array(colours, dtype=object)[fragile].tolist(), linewidths=1.5, zorder=3)
    ax2.set_xlim(n + 0.5, 0.5)
    ax2.set_xlabel("rank (1 = highest) with its 5-95 % interval over the sensitivity runs")
    ax2.grid(axis="x", color="#DDDDDD", linewidth=0.6)
    ax2.set_axisbelow(True)
    present = [c for c in CATEGORY_COLOURS if c in set(t["category"].astype(str))]
    handles: list[Patch | Line2D] = [Patch(facecolor=CATEGORY_COLOURS[c], edgecolor="#333333",
                                           label=CATEGORY_LABELS.get(c, c)) for c in present]
    if fragile.any():
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="white", markeredgecolor="#333333",
                              label=f"fragile: category holds in < {100 * fragile_share:.0f} % of runs"))
    ax1.legend(handles=handles, loc="lower right", fontsize=7, framealpha=0.9)
    if title:
        fig.suptitle(title, fontsize=12)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None}, facecolor="white", bbox_inches="tight",
                pad_inches=0.15)
    return write_bytes_atomic(path, buf.getvalue())
