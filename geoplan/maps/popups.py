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


def _town_popup(row: Mapping[str, Any], names: Mapping[str, str],
                flows_out: Mapping[str, list[tuple[str, int]]]) -> str:
    cat = str(row["category"])
    other_names = " · ".join(_esc(row.get(k)) for k in ("name_kk", "name_ru") if _row_get(row, k) is not None)
    centre = _row_get(row, "nearest_centre_name") or names.get(str(_row_get(row, "nearest_centre") or ""), "")
    growth = _row_get(row, "growth_pct_per_year")
    status = _esc(row.get("enterprise_status")).replace("_", " ")
    enterprise = _esc(row.get("enterprise")) + (f" ({status})" if status else "")
    dest = _row_get(row, "destination")
    moves = flows_out.get(str(row["id"]), [])
    rows = [
        ("Category", _swatch(CATEGORY_COLOURS[cat]) + html.escape(CATEGORY_LABELS[cat])),
        ("Nearest centre", _esc(centre)),
        ("Travel time", html.escape(_minutes(row.get("minutes"))) if "minutes" in row else ""),
        ("Road distance", f"{float(row['km']):.0f} km" if _row_get(row, "km") is not None else ""),
        ("Population", _pop_text(row)),
        ("Region", _esc(row.get("region"))),
        ("Industry", _esc(row.get("main_industry"))),
        ("Enterprise", enterprise),
        ("Resource base", _esc(row.get("resource_status")).replace("_", " ")),
        ("Growth", f"{float(growth):+.1f} % per year" if growth is not None else ""),
        ("Accessibility", f"{float(row['accessibility']):,.0f}" if _row_get(row, "accessibility") is not None else ""),
        ("Destination", _esc(names.get(str(dest), dest)) if dest is not None else ""),
        ("Relocating", "<br>".join(f"{_int(p)} people to {_esc(n)}" for n, p in moves)),
    ]
    reasons = _row_get(row, "reasons")
    return (
        f'<div class="gp-popup"><h4>{_esc(row["name_en"])}</h4>'
        + (f'<div class="gp-sub">{other_names}</div>' if other_names else "")
        + _table(rows)
        + (f"<p>{_esc(reasons)}</p>" if reasons is not None else "")
        + "</div>"
    )


def _town_tooltip(row: Mapping[str, Any]) -> str:
    cat = str(row["category"])
    extra = f" · {html.escape(_minutes(row.get('minutes')))}" if "minutes" in row else ""
    return f"<b>{_esc(row['name_en'])}</b><br>{html.escape(CATEGORY_LABELS[cat])}{extra}"


def _centre_popup(row: Mapping[str, Any], *, capacity: bool) -> str:
    other_names = " · ".join(_esc(row.get(k)) for k in ("name_kk", "name_ru") if _row_get(row, k) is not None)
    rows = [
        ("Role", _esc(row.get("role")).replace("_", " ")),
        ("Region", _esc(row.get("region"))),
        ("Population", _pop_text(row)),
    ]
    if capacity:
        used = _row_get(row, "capacity_used")
        rows += [
            ("Capacity", f"{_int(row.get('capacity'))} people" if _row_get(row, "capacity") is not None else ""),
            ("Allocated", f"{_int(row.get('allocated'))} people" if _row_get(row, "allocated") is not None else ""),
            ("Capacity used", f"{100 * float(used):.0f} %" if used is not None else ""),
        ]
    return (f'<div class="gp-popup"><h4>{_esc(row["name_en"])}</h4>'
            + (f'<div class="gp-sub">{other_names}</div>' if other_names else "")
            + "<div class=\"gp-sub\">growth centre</div>" + _table(rows) + "</div>")



