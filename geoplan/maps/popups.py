"""Popup and tooltip HTML: every value that came from data goes through html.escape."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from geoplan._style import (
    CATEGORY_COLOURS,
    CATEGORY_LABELS,
)


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and not math.isfinite(value)


def _esc(value: Any) -> str:
    return "" if _missing(value) else html.escape(str(value), quote=True)


def _int(value: Any) -> str:
    return "" if _missing(value) else f"{round(float(value)):,}"


def _minutes(value: Any) -> str:
    if _missing(value):
        return "unreachable by road"
    m = float(value)
    return f"{m:.0f} min" if m < 60 else f"{m:.0f} min ({int(m // 60)} h {round(m % 60):02d})"


def _row_get(row: Mapping[str, Any], key: str) -> Any:
    value = row.get(key)
    return None if _missing(value) else value


def _table(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rows if v)
    return f"<table>{body}</table>" if body else ""


def _swatch(colour: str) -> str:
    return f'<span class="gp-dot" style="background:{colour};display:inline-block;vertical-align:-1px"></span> '


def _pop_text(row: Mapping[str, Any]) -> str:
    year = f" ({_esc(row.get('population_year'))})" if _row_get(row, "population_year") else ""
    return _int(row.get("population")) + year if _row_get(row, "population") is not None else ""


def _population_series(row: Mapping[str, Any]) -> list[tuple[int, float]]:
    """(year, population) pairs of the censuses and the latest figure, in year order."""
    pts: dict[int, float] = {}
    for year in (1999, 2009, 2021):
        v = _row_get(row, f"population_{year}")
        if v is not None:
            pts[year] = float(v)
    year, pop = _row_get(row, "population_year"), _row_get(row, "population")
    if year is not None and pop is not None:
        try:
            pts[int(float(year))] = float(pop)
        except ValueError:
            pass
    return sorted(pts.items())


def _sparkline(series: Sequence[tuple[int, float]], *, width: int = 150, height: int = 36) -> str:
    """Draw a small SVG line of a population series (numbers only, nothing from text data)."""
    if len(series) < 2:
        return ""
    years = [y for y, _ in series]
    vals = [v for _, v in series]
    y0, y1, lo, hi = min(years), max(years), min(vals), max(vals)
    span_y, span_v = max(y1 - y0, 1), max(hi - lo, 1.0)
    pad = 4
    pts = [(pad + (y - y0) / span_y * (width - 2 * pad), height - pad - (v - lo) / span_v * (height - 2 * pad))
           for y, v in series]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2"><title>{yr}: {round(v):,}</title></circle>'
                   for (x, y), (yr, v) in zip(pts, series, strict=True))
    return (f'<svg class="gp-spark" width="{width}" height="{height}" role="img" '
            f'aria-label="population {years[0]}-{years[-1]}: {round(vals[0]):,} to {round(vals[-1]):,}">'
            f'<polyline points="{line}" fill="none" stroke="#444" stroke-width="1.5"/>'
            f'<g fill="#444">{dots}</g></svg>')


def _ranking_rows(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Score, rank, group and stability rows, when the classification provides them."""
    rows: list[tuple[str, str]] = []
    score = _row_get(row, "score")
    if score is not None:
        rows.append(("Score", f"{float(score):.2f}"))
    rank = _row_get(row, "rank")
    if rank is not None:
        lo, hi = _row_get(row, "rank_low"), _row_get(row, "rank_high")
        interval = f" (range {_int(lo)}–{_int(hi)})" if lo is not None and hi is not None else ""
        rows.append(("Rank", _int(rank) + interval))
    group = _row_get(row, "group")
    if group is not None:
        rows.append(("Group", _esc(group).replace("_", " ")))
    flags = [name for name in ("fragile", "borderline") if _row_get(row, name) is not None and bool(row.get(name))]
    stability = _row_get(row, "stability")
    held = f"category holds in {100 * float(stability):.0f} % of runs" if stability is not None else ""
    if flags or held:
        rows.append(("Stability", " · ".join([*flags, held] if held else flags)))
    on = _row_get(row, "borderline_on")
    if on is not None and "borderline" in flags:
        rows.append(("Borderline on", _esc(on)))
    return rows


def _stability_note(row: Mapping[str, Any]) -> str:
    """Return the tooltip line of a fragile or borderline town ('' for a stable one or without the columns)."""
    parts = []
    if _row_get(row, "fragile") is not None and bool(row.get("fragile")):
        stability = _row_get(row, "stability")
        parts.append("fragile" + (f" (holds in {100 * float(stability):.0f} % of runs)"
                                  if stability is not None else ""))
    if _row_get(row, "borderline") is not None and bool(row.get("borderline")):
        on = _row_get(row, "borderline_on")
        parts.append("borderline" + (f": {_esc(on)}" if on is not None else ""))
    return "<br>" + "<br>".join(parts) if parts else ""


def _town_popup(row: Mapping[str, Any], names: Mapping[str, str],
                flows_out: Mapping[str, list[tuple[str, int]]], *, centre: Mapping[str, Any] | None = None,
                profile_url: str | None = None, capacity: bool = False) -> str:
    cat = str(row["category"])
    other_names = " · ".join(_esc(row.get(k)) for k in ("name_kk", "name_ru") if _row_get(row, k) is not None)
    nearest = _row_get(row, "nearest_centre_name") or names.get(str(_row_get(row, "nearest_centre") or ""), "")
    growth = _row_get(row, "growth_pct_per_year")
    status = _esc(row.get("enterprise_status")).replace("_", " ")
    name = row.get("enterprise")  # text; a numeric indicator of the same name is not a name
    enterprise = (_esc(name) if isinstance(name, str) else "") + (f" ({status})" if status else "")
    dest = _row_get(row, "destination")
    moves = flows_out.get(str(row["id"]), [])
    rows = [
        ("Category", _swatch(CATEGORY_COLOURS[cat]) + html.escape(CATEGORY_LABELS[cat])),
        *_ranking_rows(row),
        ("Nearest centre", _esc(nearest)),
        ("Travel time", html.escape(_minutes(row.get("minutes"))) if "minutes" in row else ""),
        ("Road distance", f"{float(row['km']):.0f} km" if _row_get(row, "km") is not None else ""),
        ("Population", _pop_text(row)),
        ("Region", _esc(row.get("region"))),
        ("District", _esc(row.get("district"))),
        ("Industry", _esc(row.get("main_industry"))),
        ("Enterprise", enterprise),
        ("Resource base", _esc(row.get("resource_status")).replace("_", " ")),
        ("Growth", f"{float(growth):+.1f} % per year" if growth is not None else ""),
        ("Accessibility", f"{float(row['accessibility']):,.0f}" if _row_get(row, "accessibility") is not None else ""),
        ("Destination", _esc(names.get(str(dest), dest)) if dest is not None else ""),
        ("Relocating", "<br>".join(f"{_int(p)} people to {_esc(n)}" for n, p in moves)),
    ]
    reasons = _row_get(row, "reasons")
    sub = '<div class="gp-sub">monotown and growth centre</div>' if centre is not None else ""
    link = (f'<a class="gp-profile" href="{html.escape(profile_url, quote=True)}" target="_blank" '
            f'rel="noopener">Town profile (printable) &rarr;</a>') if profile_url else ""
    return (
        f'<div class="gp-popup"><h4>{_esc(row["name_en"])}</h4>'
        + (f'<div class="gp-sub">{other_names}</div>' if other_names else "")
        + sub
        + _table(rows)
        + _sparkline(_population_series(row))
        + (f"<p>{_esc(reasons)}</p>" if reasons is not None else "")
        + (f"<p><b>As a growth centre</b></p>{_table(_centre_rows(centre, capacity=capacity))}"
           if centre is not None else "")
        + link
        + "</div>"
    )


def _town_tooltip(row: Mapping[str, Any]) -> str:
    cat = str(row["category"])
    extra = f" · {html.escape(_minutes(row.get('minutes')))}" if "minutes" in row else ""
    return f"<b>{_esc(row['name_en'])}</b><br>{html.escape(CATEGORY_LABELS[cat])}{extra}{_stability_note(row)}"


def _centre_rows(row: Mapping[str, Any], *, capacity: bool) -> list[tuple[str, str]]:
    rows = [
        ("Role", _esc(row.get("role")).replace("_", " ")),
        ("Region", _esc(row.get("region"))),
        ("Population", _pop_text(row) or "unknown"),
    ]
    if capacity:
        used = _row_get(row, "capacity_used")
        rows += [
            ("Capacity", f"{_int(row.get('capacity'))} people" if _row_get(row, "capacity") is not None else ""),
            ("Allocated", f"{_int(row.get('allocated'))} people" if _row_get(row, "allocated") is not None else ""),
            ("Capacity used", f"{100 * float(used):.0f} %" if used is not None else ""),
        ]
    return rows


def _centre_popup(row: Mapping[str, Any], *, capacity: bool) -> str:
    other_names = " · ".join(_esc(row.get(k)) for k in ("name_kk", "name_ru") if _row_get(row, k) is not None)
    return (f'<div class="gp-popup"><h4>{_esc(row["name_en"])}</h4>'
            + (f'<div class="gp-sub">{other_names}</div>' if other_names else "")
            + "<div class=\"gp-sub\">growth centre</div>" + _table(_centre_rows(row, capacity=capacity)) + "</div>")
