"""The difference map of two runs: what a scenario changes, before → after.

Towns whose category, rank, nearest centre, travel time or relocation destination changed are
drawn large with a ring and list every change in their popup; roads added, closed or changed
(class, speed, lanes, length or geometry) are drawn in their own styles; catchment bands of the
chosen band are drawn before (dashed) and after (solid). Everything else stays in the
background. The page is as self-contained as the other maps.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan._html import escape_value, format_int, format_minutes, row_value
from geoplan._results import check_result
from geoplan._style import CATEGORY_COLOURS, CATEGORY_LABELS, CENTRE_COLOUR, OUTLINE_COLOUR
from geoplan.maps.basemap import (
    PLANNED_COLOUR,
    MapContext,
    _centre_radius,
    _finish,
    _max_population,
    _Page,
    _prepare,
)
from geoplan.maps.elements import _Call, _DataLayer
from geoplan.maps.popups import _table
from geoplan.maps.web import _coord, _features, _records, _simplified
from geoplan.settings import MAP_SIMPLIFY_M, MIN_MINUTES_CHANGE

__all__ = ["CHANGE_COLOUR", "difference_map", "road_changes", "town_changes"]

#: Ring of a town that changed (Okabe–Ito reddish purple: not a category colour).
CHANGE_COLOUR = "#CC79A7"
_ROAD_FIELDS = ("road_class", "lanes", "length_km", "speed_kph", "surface")


def town_changes(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """List what changed for each town between two towns results.

    Parameters
    ----------
    before, after
        Towns results of the two runs.

    Returns
    -------
    pandas.DataFrame
        One row per town present in either run: ``id``, ``changes`` (list of
        ``(label, before, after)`` text triples, empty when nothing changed).

    Examples
    --------
    >>> a = pd.DataFrame({"id": ["x"], "category": ["monitor"], "minutes": [100.0]})
    >>> b = pd.DataFrame({"id": ["x"], "category": ["agglomeration"], "minutes": [80.0]})
    >>> town_changes(a, b)["changes"].iloc[0][0]
    ('Category', 'Monitor', 'Agglomeration candidate')
    """
    left = before.set_index(before["id"].astype(str))
    right = after.set_index(after["id"].astype(str))
    out = []
    for tid in sorted(set(left.index) | set(right.index)):
        a = left.loc[tid].to_dict() if tid in left.index else None
        b = right.loc[tid].to_dict() if tid in right.index else None
        changes: list[tuple[str, str, str]] = []
        if a is None or b is None:
            changes.append(("Town", "—" if a is None else "present", "—" if b is None else "present"))
        else:
            for col, label in (("category", "Category"), ("rank", "Rank"), ("nearest_centre", "Nearest centre"),
                               ("destination", "Destination")):
                va, vb = row_value(a, col), row_value(b, col)
                if va != vb and not (va is None and vb is None):
                    changes.append((label, _show(col, va, a), _show(col, vb, b)))
            ma, mb = row_value(a, "minutes"), row_value(b, "minutes")
            moved = ma is not None and mb is not None and abs(float(ma) - float(mb)) >= MIN_MINUTES_CHANGE
            if (ma is None) != (mb is None) or moved:
                changes.append(("Travel time", format_minutes(ma), format_minutes(mb)))
        out.append({"id": tid, "changes": changes})
    return pd.DataFrame(out, columns=["id", "changes"])


def _show(col: str, value: Any, row: Mapping[str, Any]) -> str:
    """Text of one value of a town's row (names for ids, labels for categories)."""
    if value is None:
        return "—"
    if col == "category":
        return CATEGORY_LABELS.get(str(value), str(value))
    if col in ("nearest_centre", "destination"):
        name = row.get(f"{col}_name")
        return name if isinstance(name, str) else str(value)
    return format_int(value)


def road_changes(before: gpd.GeoDataFrame | None, after: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """Roads added, closed or changed between two roads layers (matched by ``id``).

    Parameters
    ----------
    before, after
        Roads layers of the two runs (after the scenarios' edits).

    Returns
    -------
    geopandas.GeoDataFrame
        ``id``, ``change`` (``added``, ``closed``, ``changed``), ``detail`` and the road's
        geometry (the after geometry, the before one for closed roads), EPSG:4326.
    """
    empty = gpd.GeoDataFrame({"id": [], "change": [], "detail": []}, geometry=[], crs=4326)
    if before is None or after is None:
        return empty
    a = before.to_crs(4326).set_index(before["id"].astype(str).to_numpy())
    b = after.to_crs(4326).set_index(after["id"].astype(str).to_numpy())
    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    for rid in sorted(set(a.index) | set(b.index)):
        if rid not in a.index:
            rows.append({"id": rid, "change": "added", "detail": _road_text(b.loc[rid])})
            geoms.append(b.loc[rid].geometry)
        elif rid not in b.index:
            rows.append({"id": rid, "change": "closed", "detail": _road_text(a.loc[rid])})
            geoms.append(a.loc[rid].geometry)
        else:
            ra, rb = a.loc[rid], b.loc[rid]
            diffs = []
            for col in _ROAD_FIELDS:
                va = ra.get(col) if col in a.columns else None
                vb = rb.get(col) if col in b.columns else None
                if not (pd.isna(va) and pd.isna(vb)) and va != vb:
                    was, now = ("—" if pd.isna(v) else v for v in (va, vb))
                    diffs.append(f"{col.replace('_', ' ')}: {was} → {now}")
            if not shapely.equals_exact(ra.geometry, rb.geometry, 1e-6):
                diffs.append("geometry")
            if diffs:
                rows.append({"id": rid, "change": "changed", "detail": "; ".join(diffs)})
                geoms.append(rb.geometry)
    if not rows:
        return empty
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=4326)


def _road_text(row: pd.Series) -> str:
    parts = [str(row[c]) for c in ("road_ref", "name", "road_class") if c in row and isinstance(row[c], str)]
    if "length_km" in row and pd.notna(row["length_km"]):
        parts.append(f"{float(row['length_km']):.0f} km")
    return ", ".join(parts)


_ROAD_STYLE: dict[str, dict[str, Any]] = {
    "added": {"color": PLANNED_COLOUR, "weight": 4, "opacity": 0.95, "dashArray": "8 6"},
    "closed": {"color": "#1A1A1A", "weight": 3.5, "opacity": 0.9, "dashArray": "2 6"},
    "changed": {"color": "#E69F00", "weight": 4, "opacity": 0.95},
}


def difference_map(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    names: tuple[str, str] = ("before", "after"),
    boundaries: gpd.GeoDataFrame | None = None,
    settlements: gpd.GeoDataFrame | None = None,
    context: MapContext | None = None,
    tiles: bool = True,
    title: str | None = None,
    simplify_m: float = MAP_SIMPLIFY_M,
) -> folium.Map:
    """Interactive map of what changes between two runs of the same towns.

    Parameters
    ----------
    before, after
        The two runs' results: mappings with ``towns``, ``centres`` and optionally
        ``catchments`` and ``roads`` (e.g. ``vars(run_result)`` plus ``roads``).
    names
        The two scenarios' names, shown in the title bar and the popups.
    boundaries, settlements, context, tiles
        As in :func:`geoplan.maps.agglomeration_map`.
    title
        Page title (default: "What changes: A → B").
    simplify_m
        Tolerance in metres for simplifying catchments and roads.

    Returns
    -------
    folium.Map
        Write it with :func:`save_map`.
    """
    a_name, b_name = names
    title = title or f"What changes: {a_name} → {b_name}"
    towns_a = check_result(before["towns"], "towns")
    towns_b = check_result(after["towns"], "towns")
    ctx = context or MapContext(scenario=f"{a_name} → {b_name}")
    page = _prepare(towns_b, after["centres"], None, tiles=tiles, assets_url=None, title=title,
                    boundaries=boundaries, settlements=settlements, context=ctx)
    changes_r = _add_roads(page, before.get("roads"), after.get("roads"), after_name=b_name, simplify_m=simplify_m)
    bands = _add_catchments(page, before, after, names=names, simplify_m=simplify_m)
    _add_centres(page)
    n_changed = _add_towns(page, towns_a, names=names)
    counts = pd.Series([r["change"] for r in _records(changes_r)] if len(changes_r) else [], dtype=object)
    road_rows = "".join(
        f'<div class="gp-row"><span class="gp-line" style="height:0;border-top:3px '
        f'{"dashed" if "dashArray" in s else "solid"} {s["color"]}"></span>{k} ({int((counts == k).sum())})</div>'
        for k, s in _ROAD_STYLE.items())
    page.legend += [
        f"<h4>{html.escape(title)}</h4>",
        f'<h5>Monotowns</h5><div class="gp-row"><span class="gp-dot" style="border:3px solid {CHANGE_COLOUR};'
        f'width:12px;height:12px"></span>changed ({n_changed} of {len(page.towns)}): click for before → after</div>'
        '<div class="gp-row"><span class="gp-dot" style="opacity:.6;width:8px;height:8px"></span>unchanged</div>'
        '<div class="gp-note">Fill = category after.</div>',
        f"<h5>Roads</h5>{road_rows}",
        (f'<h5>Catchments</h5><div class="gp-row"><span class="gp-line" style="height:0;border-top:2px dashed '
         f'#6A6A6A"></span>{html.escape(a_name)}</div><div class="gp-row"><span class="gp-line" style="height:0;'
         f'border-top:2px solid #54278F"></span>{html.escape(b_name)}</div>') if bands else "",
    ]
    return _finish(page)


def _add_roads(page: _Page, roads_a: gpd.GeoDataFrame | None, roads_b: gpd.GeoDataFrame | None, *,
               after_name: str, simplify_m: float) -> gpd.GeoDataFrame:
    """Add the after network in the background and the road changes on top; return the changes."""
    if roads_b is not None and len(roads_b):
        geoms = _simplified(np.array([shapely.union_all(roads_b.to_crs(4326).geometry.to_numpy())], dtype=object),
                            simplify_m / 2, page.crs)
        page.m.add_child(_DataLayer("roads", "Roads (after)", _features(geoms, iter([{"style": {
            "color": "#8C8C8C", "weight": 1.2, "opacity": 0.8}}])), interactive=False))
    changes = road_changes(roads_a, roads_b)
    if len(changes):
        geoms = _simplified(changes.geometry.to_numpy(), 0, None)
        props: list[dict[str, Any]] = []
        for row in _records(changes):
            label = {"added": f"added in {after_name}", "closed": f"closed in {after_name}",
                     "changed": "changed"}[row["change"]]
            props.append({"id": f"road-{row['id']}", "style": dict(_ROAD_STYLE[row["change"]]),
                          "popup": (f'<div class="gp-popup"><h4>Road {escape_value(row["id"])}: '
                                    f"{html.escape(label)}</h4><p>{escape_value(row['detail'])}</p></div>"),
                          "tooltip": f"Road {escape_value(row['id'])}: {html.escape(label)}"})
        page.m.add_child(_DataLayer("roadChanges", "Road changes", _features(geoms, iter(props))))
    return changes


def _add_catchments(page: _Page, before: Mapping[str, Any], after: Mapping[str, Any], *,
                    names: tuple[str, str], simplify_m: float) -> set[int]:
    """Add the catchments before (dashed) and after (solid), one band at a time; return the bands."""
    bands: set[int] = set()
    for key, run, dash, colour, run_label in (("catchmentsBefore", before, "5 5", "#6A6A6A", names[0]),
                                              ("catchmentsAfter", after, None, "#54278F", names[1])):
        cfr = check_result(run.get("catchments"), "catchments")
        if not len(cfr):
            continue
        bands |= {int(b) for b in cfr["band"]}
        geoms = _simplified(cfr.geometry.to_numpy(), simplify_m, page.crs)
        props: list[dict[str, Any]] = []
        for row in _records(cfr):
            cname = page.names.get(str(row["centre"]), str(row["centre"]))
            style: dict[str, Any] = {"color": colour, "weight": 2, "opacity": 0.9, "fillOpacity": 0.0}
            if dash:
                style["dashArray"] = dash
            props.append({"centre": str(row["centre"]), "band": int(row["band"]), "style": style,
                          "tooltip": f"{escape_value(cname)} · ≤ {int(row['band'])} min ({escape_value(run_label)})",
                          "popup": (f'<div class="gp-popup"><h4>{escape_value(cname)}</h4><div class="gp-sub">'
                                    f"catchment, {escape_value(run_label)}</div>"
                                    + _table([("Travel time", f"≤ {int(row['band'])} min"),
                                              ("Population", format_int(row.get("population")))]) + "</div>")})
        page.m.add_child(_DataLayer(key, f"Catchments {run_label}", _features(geoms, iter(props))))
    if bands:
        blist = sorted(bands)
        ctx = page.context
        default = int(ctx.agglomeration_minutes) if ctx.agglomeration_minutes in bands else blist[len(blist) // 2]
        pick = sorted(([c, page.names.get(c, c)] for c in page.names), key=lambda p: p[1])
        page.m.add_child(_Call("catchmentPicker", ["catchmentsBefore", "catchmentsAfter"], blist, pick, default))
    return bands


def _add_centres(page: _Page) -> None:
    """Add the growth centres that are not towns, in the background."""
    max_pop = _max_population(page.centres)
    only = page.centres[~page.centres["id"].astype(str).isin(page.both)]
    geoms = _simplified(only.geometry.to_numpy(), 0, None)
    page.m.add_child(_DataLayer("centres", "Growth centres", _features(geoms, iter([{
        "id": str(r["id"]), "style": {"radius": _centre_radius(r.get("population"), max_pop), "color": CENTRE_COLOUR,
                                      "weight": 1.5, "fillColor": "#FFFFFF", "fillOpacity": 0.5},
        "tooltip": f"<b>{escape_value(r['name_en'])}</b><br>growth centre"} for r in _records(only)])), front=True))


def _add_towns(page: _Page, towns_a: gpd.GeoDataFrame, *, names: tuple[str, str]) -> int:
    """Add the towns, the changed ones large with a ring and their changes; return how many changed.

    The labels of changed towns start beyond their ring; changed towns come first in the search.
    """
    a_name, b_name = names
    table = town_changes(towns_a, page.towns)
    changes: dict[str, list[tuple[str, str, str]]] = dict(zip(table["id"].astype(str), table["changes"], strict=True))
    geoms = _simplified(page.towns.geometry.to_numpy(), 0, None)
    props: list[dict[str, Any]] = []
    n_changed = 0
    for row in _records(page.towns):
        cat = str(row["category"])
        ch = changes.get(str(row["id"]), [])
        n_changed += bool(ch)
        rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(x)} → <b>{html.escape(y)}</b></td></tr>"
                       for k, x, y in ch)
        style: dict[str, Any] = ({"radius": 9.0, "color": CHANGE_COLOUR, "weight": 4,
                                  "fillColor": CATEGORY_COLOURS[cat], "fillOpacity": 1.0} if ch else
                                 {"radius": 5.0, "color": OUTLINE_COLOUR, "weight": 1,
                                  "fillColor": CATEGORY_COLOURS[cat], "fillOpacity": 0.55, "opacity": 0.6})
        props.append({
            "id": str(row["id"]),
            "style": style,
            "popup": (f'<div class="gp-popup"><h4>{escape_value(row["name_en"])}</h4>'
                      + (f'<div class="gp-sub">changes {html.escape(a_name)} → {html.escape(b_name)}</div>'
                         f"<table>{rows}</table>" if ch else '<div class="gp-sub">no change</div>')
                      + _table([("Category", html.escape(CATEGORY_LABELS[cat])),
                                ("Travel time", html.escape(format_minutes(row.get("minutes"))))]) + "</div>"),
            "tooltip": f"<b>{escape_value(row['name_en'])}</b>" + (f"<br>{len(ch)} change(s)" if ch else ""),
        })
    page.m.add_child(_DataLayer("towns", "Monotowns", _features(geoms, iter(props)), front=True))
    changed_xy = {(_coord(f["geometry"]["coordinates"][0]), _coord(f["geometry"]["coordinates"][1]))
                  for f in _features(geoms, iter(props)) if f["properties"]["style"]["color"] == CHANGE_COLOUR}
    for cand in page.labels:  # labels of changed towns start beyond their larger ring
        if cand[4] in ("town", "centre") and (cand[1], cand[2]) in changed_xy:
            cand[5] = 12.0
    for entry in page.places:
        ch = changes.get(entry["id"], []) if entry.get("layer") == "towns" else []
        if ch:
            entry["sub"] = "; ".join(f"{k}: {x} → {y}" for k, x, y in ch)[:80]
            entry["rank"] = float(entry["rank"]) + 1e12  # changed towns first in the search
    return n_changed
