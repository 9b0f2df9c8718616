"""Popup and tooltip HTML: every value that came from data goes through html.escape."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from geoplan._html import (
    decree_text,
    escape_value,
    format_int,
    format_minutes,
    population_series,
    ranking_rows,
    row_value,
)
from geoplan._style import (
    CATEGORY_COLOURS,
    CATEGORY_LABELS,
)


def _table(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rows if v)
    return f"<table>{body}</table>" if body else ""


def _swatch(colour: str) -> str:
    return f'<span class="gp-dot" style="background:{colour};display:inline-block;vertical-align:-1px"></span> '


def _pop_text(row: Mapping[str, Any]) -> str:
    year = f" ({escape_value(row.get('population_year'))})" if row_value(row, "population_year") else ""
    return format_int(row.get("population")) + year if row_value(row, "population") is not None else ""


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


def _stability_note(row: Mapping[str, Any]) -> str:
    """Return the tooltip line of a fragile or borderline town ('' for a stable one or without the columns)."""
    parts = []
    if row_value(row, "fragile") is not None and bool(row.get("fragile")):
        stability = row_value(row, "stability")
        parts.append("fragile" + (f" (holds in {100 * float(stability):.0f} % of runs)"
                                  if stability is not None else ""))
    if row_value(row, "borderline") is not None and bool(row.get("borderline")):
        on = row_value(row, "borderline_on")
        parts.append("borderline" + (f": {escape_value(on)}" if on is not None else ""))
    return "<br>" + "<br>".join(parts) if parts else ""


def _town_popup(row: Mapping[str, Any], names: Mapping[str, str],
                flows_out: Mapping[str, list[tuple[str, int]]], *, centre: Mapping[str, Any] | None = None,
                profile_url: str | None = None, capacity: bool = False) -> str:
    cat = str(row["category"])
    other_names = " · ".join(escape_value(row.get(k)) for k in ("name_kk", "name_ru") if row_value(row, k) is not None)
    nearest = row_value(row, "nearest_centre_name") or names.get(str(row_value(row, "nearest_centre") or ""), "")
    growth = row_value(row, "growth_pct_per_year")
    status = escape_value(row.get("enterprise_status")).replace("_", " ")
    name = row.get("enterprise")  # the layer's text (a user's layer may hold a number there)
    enterprise = (escape_value(name) if isinstance(name, str) else "") + (f" ({status})" if status else "")
    dest = row_value(row, "destination")
    moves = flows_out.get(str(row["id"]), [])
    rows = [
        ("Category", _swatch(CATEGORY_COLOURS[cat]) + html.escape(CATEGORY_LABELS[cat])),
        *ranking_rows(row),
        ("Nearest centre", escape_value(nearest)),
        ("Travel time", html.escape(format_minutes(row.get("minutes"))) if "minutes" in row else ""),
        ("Road distance", f"{float(row['km']):.0f} km" if row_value(row, "km") is not None else ""),
        ("Population", _pop_text(row)),
        ("Region", escape_value(row.get("region"))),
        ("District", escape_value(row.get("district"))),
        ("2023 decree", decree_text(row, names)),
        ("Industry", escape_value(row.get("main_industry"))),
        ("Enterprise", enterprise),
        ("Resource base", escape_value(row.get("resource_status")).replace("_", " ")),
        ("Growth", f"{float(growth):+.1f} % per year" if growth is not None else ""),
        ("Accessibility", f"{float(row['accessibility']):,.0f}" if row_value(row, "accessibility") is not None else ""),
        ("Destination", escape_value(names.get(str(dest), dest)) if dest is not None else ""),
        ("Relocating", "<br>".join(f"{format_int(p)} people to {escape_value(n)}" for n, p in moves)),
    ]
    reasons = row_value(row, "reasons")
    sub = '<div class="gp-sub">monotown and growth centre</div>' if centre is not None else ""
    link = (f'<a class="gp-profile" href="{html.escape(profile_url, quote=True)}" target="_blank" '
            f'rel="noopener">Town profile (printable) &rarr;</a>') if profile_url else ""
    return (
        f'<div class="gp-popup"><h4>{escape_value(row["name_en"])}</h4>'
        + (f'<div class="gp-sub">{other_names}</div>' if other_names else "")
        + sub
        + _table(rows)
        + _sparkline(population_series(row))
        + (f"<p>{escape_value(reasons)}</p>" if reasons is not None else "")
        + (f"<p><b>As a growth centre</b></p>{_table(_centre_rows(centre, capacity=capacity))}"
           if centre is not None else "")
        + link
        + "</div>"
    )


def _town_tooltip(row: Mapping[str, Any]) -> str:
    cat = str(row["category"])
    extra = f" · {html.escape(format_minutes(row.get('minutes')))}" if "minutes" in row else ""
    return f"<b>{escape_value(row['name_en'])}</b><br>{html.escape(CATEGORY_LABELS[cat])}{extra}{_stability_note(row)}"


def _centre_rows(row: Mapping[str, Any], *, capacity: bool) -> list[tuple[str, str]]:
    rows = [
        ("Role", escape_value(row.get("role")).replace("_", " ")),
        ("Region", escape_value(row.get("region"))),
        ("Population", _pop_text(row) or "unknown"),
    ]
    if capacity:
        used = row_value(row, "capacity_used")
        rows += [
            ("Capacity", f"{format_int(row.get('capacity'))} people" if row_value(row, "capacity") is not None else ""),
            ("Allocated",
             f"{format_int(row.get('allocated'))} people" if row_value(row, "allocated") is not None else ""),
            ("Capacity used", f"{100 * float(used):.0f} %" if used is not None else ""),
        ]
    return rows


def _centre_popup(row: Mapping[str, Any], *, capacity: bool) -> str:
    other_names = " · ".join(escape_value(row.get(k)) for k in ("name_kk", "name_ru") if row_value(row, k) is not None)
    return (f'<div class="gp-popup"><h4>{escape_value(row["name_en"])}</h4>'
            + (f'<div class="gp-sub">{other_names}</div>' if other_names else "")
            + "<div class=\"gp-sub\">growth centre</div>" + _table(_centre_rows(row, capacity=capacity)) + "</div>")
