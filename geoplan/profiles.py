"""A printable one-page profile per town, and a sortable index of all towns.

Each ``<id>.html`` is a self-contained page (no script, no network): the town's names, category
and reasons, score and rank with its interval and stability when the classification gives them,
its indicators against the national median of all towns, the nearest growth centres with
minutes and km, the population series as a small chart and a locator map of the country. The
print stylesheet fits it on one A4 page. ``index.html`` lists every town in a table that sorts
by any column (a few lines of inline script; without script it is a plain table).

Examples
--------
>>> import geopandas as gpd, shapely
>>> towns = gpd.GeoDataFrame({"id": ["a"], "name_en": ["Abai"], "category": ["monitor"],
...                           "population": [25000]}, geometry=[shapely.Point(72.85, 49.63)], crs=4326)
>>> "Abai" in profile_html(towns.iloc[0], towns)
True
"""

from __future__ import annotations

import html
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan._html import decree_text, escape_value, format_minutes, population_series, ranking_rows, row_value
from geoplan._io import write_text_atomic
from geoplan._results import check_result
from geoplan._style import CATEGORY_COLOURS, CATEGORY_LABELS
from geoplan.layers import metric_crs

__all__ = ["INDICATORS", "profile_filename", "profile_html", "profiles_index_html", "write_profiles"]

#: Indicators shown against the national median: column, label, unit, decimals.
INDICATORS: tuple[tuple[str, str, str, int], ...] = (
    ("population", "Population", "people", 0),
    ("growth_pct_per_year", "Population growth", "% per year", 1),
    ("minutes", "Travel time to nearest centre", "min", 0),
    ("km", "Road distance to nearest centre", "km", 0),
    ("accessibility", "Accessibility (Hansen)", "", 0),
    ("score", "Composite score", "", 2),
)

_CSS = """
body{font:13px/1.45 "DejaVu Sans","Segoe UI",Arial,sans-serif;color:#1a1a1a;margin:0;background:#f4f4f4}
main{max-width:190mm;margin:12px auto;background:#fff;padding:10mm 12mm;box-shadow:0 1px 4px rgba(0,0,0,.2)}
h1{font-size:22px;margin:0}h2{font-size:14px;margin:14px 0 4px;border-bottom:1px solid #ccc;padding-bottom:2px}
.sub{color:#555}.cat{display:inline-block;padding:2px 8px;border-radius:3px;color:#fff;font-weight:700}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:0 16px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:2px 6px 2px 0;vertical-align:top}
td.n,th.n{text-align:right}.bar{height:8px;background:#ddd;position:relative;min-width:80px}
.bar span{position:absolute;top:-2px;width:2px;height:12px;background:#1a1a1a}
.bar i{position:absolute;top:0;height:8px;background:#0072B2;opacity:.55}
.note{color:#555;font-size:11px}.reasons{background:#f6f6f2;padding:6px 8px;border-left:3px solid #999}
nav a{margin-right:12px}
@media print{@page{size:A4 portrait;margin:10mm}body{background:#fff}main{box-shadow:none;margin:0;padding:0;
max-width:none}nav{display:none}}
"""

_SORT_JS = """
document.querySelectorAll('th[data-sort]').forEach(function (th, col) {
  th.tabIndex = 0; th.setAttribute('role', 'button');
  function sort() {
    var table = th.closest('table'), body = table.tBodies[0], dir = th.dataset.dir === 'asc' ? -1 : 1;
    table.querySelectorAll('th').forEach(function (h) { delete h.dataset.dir; h.removeAttribute('aria-sort'); });
    th.dataset.dir = dir === 1 ? 'asc' : 'desc';
    th.setAttribute('aria-sort', dir === 1 ? 'ascending' : 'descending');
    var rows = Array.prototype.slice.call(body.rows), i = th.cellIndex, num = th.dataset.sort === 'num';
    rows.sort(function (a, b) {
      var x = a.cells[i].dataset.v !== undefined ? a.cells[i].dataset.v : a.cells[i].textContent;
      var y = b.cells[i].dataset.v !== undefined ? b.cells[i].dataset.v : b.cells[i].textContent;
      if (num) { x = x === '' ? Infinity : +x; y = y === '' ? Infinity : +y; return dir * (x - y); }
      return dir * x.localeCompare(y);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  th.addEventListener('click', sort);
  th.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sort(); }
  });
});
"""


def profile_filename(town_id: Any) -> str:
    """File name of a town's profile: its id when that is a safe file name, else a cleaned form.

    Parameters
    ----------
    town_id
        The town's id.

    Returns
    -------
    str
        ``<id>.html``.

    Examples
    --------
    >>> profile_filename("abai"), profile_filename("../x y")
    ('abai.html', 'x_y.html')
    """
    text = str(town_id)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "town"
    return f"{safe}.html"


def _fmt(value: Any, decimals: int) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{float(value):,.{decimals}f}"


def _page(title: str, body: str, *, script: str = "") -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n"
            + (f"<script>{script}</script>\n" if script else "") + "</body>\n</html>\n")


def _chart(series: list[tuple[int, float]]) -> str:
    """Draw the population series as an SVG line chart with labelled points (numbers only)."""
    if len(series) < 2:
        return '<p class="note">Fewer than two population figures.</p>'
    w, h, pad = 300, 110, 28
    years = [y for y, _ in series]
    vals = [v for _, v in series]
    span = max(vals) - min(vals)
    lo, hi = min(vals) - 0.15 * span - 1.0, max(vals) + 0.25 * span + 1.0
    y0, y1 = min(years), max(years)

    def xy(y: int, v: float) -> tuple[float, float]:
        return (pad + (y - y0) / max(y1 - y0, 1) * (w - 2 * pad), h - 18 - (v - lo) / (hi - lo) * (h - 30))

    pts = [xy(y, v) for y, v in series]
    line = " ".join(f"{x:.1f},{yy:.1f}" for x, yy in pts)
    marks = []
    last_x = -1e9
    for i, ((x, yy), (yr, v)) in enumerate(zip(pts, series, strict=True)):
        marks.append(f'<circle cx="{x:.1f}" cy="{yy:.1f}" r="3"><title>{yr}: {round(v):,}</title></circle>')
        # label a point unless it crowds the previous label (the latest figure always)
        if x - last_x >= 44 or i == len(pts) - 1:
            if i == len(pts) - 1 and x - last_x < 44 and marks:
                marks = [m for m in marks if not m.startswith(f'<text x="{last_x:.1f}"')]
            marks.append(f'<text x="{x:.1f}" y="{yy - 6:.1f}" text-anchor="middle" font-size="10">{round(v):,}</text>'
                         f'<text x="{x:.1f}" y="{h - 4}" text-anchor="middle" font-size="10">{yr}</text>')
            last_x = x
    marks_html = "".join(marks)
    return (f'<svg width="{w}" height="{h}" role="img" aria-label="population {years[0]} to {years[-1]}">'
            f'<line x1="{pad}" y1="{h - 18}" x2="{w - pad}" y2="{h - 18}" stroke="#999"/>'
            f'<polyline points="{line}" fill="none" stroke="#333" stroke-width="2"/>'
            f'<g fill="#333">{marks_html}</g></svg>')


def _locator(point: shapely.Point, country: shapely.Geometry | None, others: np.ndarray) -> str:
    """Draw a small SVG map: the country (or the towns' extent), all towns grey, this town red."""
    pts = np.vstack([shapely.get_coordinates(others), [[point.x, point.y]]])
    has_country = country is not None and not bool(shapely.is_empty(country))
    if has_country:
        minx, miny, maxx, maxy = (float(v) for v in shapely.bounds(country))
    else:
        minx, miny = pts.min(axis=0) - 1
        maxx, maxy = pts.max(axis=0) + 1
    crs = metric_crs((minx, miny, maxx, maxy))
    geoms = [country] if has_country else []
    proj = gpd.GeoSeries([*geoms, *np.asarray(shapely.points(pts), dtype=object)], crs=4326).to_crs(crs)
    bx0, by0, bx1, by1 = proj.total_bounds
    w = 300
    scale = (w - 10) / max(bx1 - bx0, 1.0)
    h = int((by1 - by0) * scale + 10)

    def tx(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return 5 + (x - bx0) * scale, h - 5 - (y - by0) * scale

    out = []
    if geoms:
        shape = shapely.simplify(proj.iloc[0], (bx1 - bx0) / 300)
        for poly in getattr(shape, "geoms", [shape]):
            ring = np.asarray(poly.exterior.coords)
            xs, ys = tx(ring[:, 0], ring[:, 1])
            out.append('<polygon points="' + " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, ys, strict=True))
                       + '" fill="#f4f3ee" stroke="#666" stroke-width="1"/>')
    xy = shapely.get_coordinates(np.asarray(proj.array, dtype=object)[len(geoms):])
    xs, ys = tx(xy[:, 0], xy[:, 1])
    out += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2.5" fill="#999"/>' for a, b in zip(xs[:-1], ys[:-1], strict=True)]
    out.append(f'<circle cx="{xs[-1]:.1f}" cy="{ys[-1]:.1f}" r="6" fill="#D55E00" stroke="#fff" stroke-width="2"/>')
    return f'<svg width="{w}" height="{h}" role="img" aria-label="location in the country">{"".join(out)}</svg>'


def profile_html(town: Mapping[str, Any] | pd.Series, towns: gpd.GeoDataFrame, *,
                 od: pd.DataFrame | None = None, centres: gpd.GeoDataFrame | None = None,
                 country: shapely.Geometry | None = None, scenario: str | None = None,
                 index_href: str | None = "index.html", n_centres: int = 3) -> str:
    """One town's printable profile page.

    Parameters
    ----------
    town
        The town's row of the towns result.
    towns
        All towns (for the national medians and the locator map).
    od
        Travel times ``origin, destination, minutes, km`` (e.g. ``ODMatrix.long()``) for the
        nearest centres; ``None``: only the nearest centre of the towns result.
    centres
        Centres (names of the nearest centres).
    country
        Country outline (lon/lat) for the locator map.
    scenario
        Scenario name shown on the page.
    index_href
        Link back to the index (``None``: no link).
    n_centres
        How many nearest centres to list.

    Returns
    -------
    str
        The HTML page.
    """
    row = dict(town)
    cat = str(row["category"])
    names = " · ".join(escape_value(row.get(k)) for k in ("name_kk", "name_ru") if row_value(row, k) is not None)
    where = ", ".join(escape_value(row.get(k)) for k in ("district", "region") if row_value(row, k) is not None)
    cnames = (dict(zip(centres["id"].astype(str), centres["name_en"].astype(str), strict=True))
              if centres is not None else {})
    decree = decree_text(row, cnames)
    head = (f"<h1>{escape_value(row['name_en'])}</h1>" + (f'<div class="sub">{names}</div>' if names else "")
            + (f'<div class="sub">{where}</div>' if where else "")
            + (f'<div class="sub">In the 2023 agglomeration decree: {decree}</div>' if decree else "")
            + (f'<div class="sub">Scenario: {escape_value(scenario)}</div>' if scenario else ""))
    category = (f'<h2>Category</h2><p><span class="cat" style="background:{CATEGORY_COLOURS[cat]}">'
                f"{html.escape(CATEGORY_LABELS[cat])}</span></p>")
    rank_rows = ranking_rows(row)
    if rank_rows:
        category += ("<table>" + "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in rank_rows)
                     + "</table>")
    reasons = row_value(row, "reasons")
    if reasons is not None:
        category += f'<p class="reasons">{escape_value(reasons)}</p>'

    rows = []
    for col, label, unit, dec in INDICATORS:
        if col not in towns.columns:
            continue
        values = pd.to_numeric(towns[col], errors="coerce").to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        value = row_value(row, col)
        median = float(np.median(finite)) if len(finite) else None
        bar = ""
        if value is not None and len(finite) and finite.max() > finite.min():
            lo, hi = float(finite.min()), float(finite.max())
            pos = (float(value) - lo) / (hi - lo) * 100
            med = ((median or 0.0) - lo) / (hi - lo) * 100
            bar = (f'<div class="bar" title="range {lo:,.{dec}f} to {hi:,.{dec}f}"><i style="left:0;width:{pos:.1f}%">'
                   f'</i><span style="left:{med:.1f}%" title="national median"></span></div>')
        rows.append(f"<tr><td>{html.escape(label)}</td><td class=\"n\">{_fmt(value, dec)}</td>"
                    f"<td class=\"n\">{_fmt(median, dec)}</td><td>{html.escape(unit)}</td><td>{bar}</td></tr>")
    indicators = ("<h2>Indicators against the national median</h2><table><tr><th>Indicator</th>"
                  "<th class=\"n\">Town</th><th class=\"n\">Median of all towns</th><th></th><th>Range "
                  "(bar: town, tick: median)</th></tr>" + "".join(rows) + "</table>")

    near: list[tuple[str, Any, Any]] = []
    if od is not None and len(od):
        mine = od[(od["origin"].astype(str) == str(row["id"])) & (od["destination"].astype(str) != str(row["id"]))]
        mine = mine.sort_values("minutes", kind="stable", na_position="last").head(n_centres)
        near = [(cnames.get(str(d), str(d)), m, k)
                for d, m, k in zip(mine["destination"], mine["minutes"], mine["km"], strict=True)]
    elif row_value(row, "nearest_centre") is not None:
        near = [(str(row_value(row, "nearest_centre_name") or cnames.get(str(row["nearest_centre"]), "")),
                 row.get("minutes"), row.get("km"))]
    centre_rows = "".join(f"<tr><td>{html.escape(n)}</td><td class=\"n\">{html.escape(format_minutes(m))}</td>"
                          f"<td class=\"n\">{_fmt(k, 0)} km</td></tr>" for n, m, k in near)
    nearest = ("<h2>Nearest growth centres by road</h2>"
               + (f"<table><tr><th>Centre</th><th class=\"n\">Time</th><th class=\"n\">Distance</th></tr>{centre_rows}"
                  "</table>" if near else '<p class="note">No growth centre is reachable by road.</p>'))
    facts = [(k, v) for k, v in (
        ("Industry", escape_value(row.get("main_industry"))),
        ("Enterprise", escape_value(row.get("enterprise")) if isinstance(row.get("enterprise"), str) else ""),
        ("Enterprise status", escape_value(row.get("enterprise_status")).replace("_", " ")),
        ("Resource base", escape_value(row.get("resource_status")).replace("_", " ")),
        ("Relocation destination", escape_value(row.get("destination_name") or row.get("destination"))),
    ) if v]
    facts_html = ("<h2>Economy</h2><table>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
                  + "</table>") if facts else ""
    point = town["geometry"] if "geometry" in town else None
    locator = (_locator(point, country, np.asarray(towns.geometry.array, dtype=object))
               if isinstance(point, shapely.Point)
               and not point.is_empty else "")
    body = (("<nav>" + (f'<a href="{html.escape(index_href, quote=True)}">&larr; All towns</a>' if index_href else "")
             + '<a href="javascript:print()">Print</a></nav>' if index_href else "")
            + head + '<div class="grid"><div>' + category + facts_html + "</div><div>"
            + "<h2>Population</h2>" + _chart(population_series(row)) + "<h2>Location</h2>" + locator
            + "</div></div>" + indicators + nearest
            + '<p class="note">Generated by geoplan. Travel times by road on the network of the run; see the '
              "maps' Methods &amp; sources panel for the cost model and data licences.</p>")
    return _page(f"{row['name_en']} — town profile", body)


def profiles_index_html(towns: gpd.GeoDataFrame, *, scenario: str | None = None) -> str:
    """Build the index page: every town with its category, rank, score, population and nearest centre, sortable.

    Parameters
    ----------
    towns
        Towns result.
    scenario
        Scenario name shown on the page.

    Returns
    -------
    str
        The HTML page.
    """
    cols = [("name_en", "Town", "text"), ("region", "Region", "text"), ("category", "Category", "text"),
            ("rank", "Rank", "num"), ("score", "Score", "num"), ("population", "Population", "num"),
            ("minutes", "Minutes to centre", "num"), ("nearest_centre_name", "Nearest centre", "text")]
    cols = [c for c in cols if c[0] in towns.columns]
    head = "".join(f'<th data-sort="{kind}"{" class=n" if kind == "num" else ""}>{html.escape(label)}</th>'
                   for _, label, kind in cols)
    body = []
    order = towns.sort_values("name_en", kind="stable")
    for raw in order.drop(columns=order.geometry.name).to_dict("records"):
        rec = {str(k): v for k, v in raw.items()}
        cells = []
        for col, _, kind in cols:
            v = rec.get(col)
            if col == "name_en":
                cells.append(f'<td><a href="{profile_filename(rec["id"])}">{escape_value(v)}</a></td>')
            elif col == "category":
                c = str(v)
                cells.append(f'<td data-v="{html.escape(CATEGORY_LABELS.get(c, c))}"><span class="cat" '
                             f'style="background:{CATEGORY_COLOURS.get(c, "#999")}">'
                             f"{html.escape(CATEGORY_LABELS.get(c, c))}</span></td>")
            elif kind == "num":
                value = row_value(rec, col)
                dec = 2 if col == "score" else 0
                cells.append(f'<td class="n" data-v="{"" if value is None else float(value)}">'
                             f'{"—" if value is None else _fmt(value, dec)}</td>')
            else:
                cells.append(f"<td>{escape_value(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    title = "Monotown profiles" + (f" — scenario {scenario}" if scenario else "")
    page = (f"<h1>{html.escape(title)}</h1><p class=\"sub\">{len(towns)} towns. Click a column to sort; click a "
            f"name for the printable profile.</p><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}"
            "</tbody></table>")
    return _page(title, page, script=_SORT_JS)


def write_profiles(
    folder: str | os.PathLike[str],
    towns: gpd.GeoDataFrame,
    *,
    centres: gpd.GeoDataFrame | None = None,
    od: pd.DataFrame | None = None,
    boundaries: gpd.GeoDataFrame | None = None,
    scenario: str | None = None,
) -> dict[str, Path]:
    """Write ``<id>.html`` for every town and ``index.html`` into ``folder``, each atomically.

    Parameters
    ----------
    folder
        Output folder (created if missing).
    towns
        Towns result.
    centres, od, scenario
        As in :func:`profile_html`.
    boundaries
        Boundaries layer (``level`` 0 = the country) for the locator maps.

    Returns
    -------
    dict of str to pathlib.Path
        ``index`` and one entry per town id.
    """
    towns = check_result(towns, "towns")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    country = None
    if boundaries is not None and len(boundaries) and "level" in boundaries:
        b = boundaries.to_crs(4326) if boundaries.crs is not None else boundaries
        level = pd.to_numeric(b["level"], errors="coerce").to_numpy()
        geoms = b.geometry.to_numpy()[level == 0] if (level == 0).any() else b.geometry.to_numpy()
        country = shapely.union_all(shapely.make_valid(geoms))
    written: dict[str, Path] = {}
    for _, town in towns.iterrows():
        written[str(town["id"])] = write_text_atomic(
            out / profile_filename(town["id"]),
            profile_html(town, towns, od=od, centres=centres, country=country, scenario=scenario))
    written["index"] = write_text_atomic(out / "index.html", profiles_index_html(towns, scenario=scenario))
    return written
