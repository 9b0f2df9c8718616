"""HTML text of result values, shared by the map popups and the town profiles.

Every value that came from data goes through :func:`escape_value` before it reaches a page;
missing values (``None``, ``pd.NA``, ``NaT``, NaN, infinity) become empty text, so a page never
shows ``nan``. The row helpers read one town's row of the towns result (a mapping of column to
value) and return text or ``(label, html)`` rows that a caller lays out as it likes.

Examples
--------
>>> escape_value("<b>Abai</b>"), escape_value(float("nan")), format_minutes(95.0)
('&lt;b&gt;Abai&lt;/b&gt;', '', '95 min (1 h 35)')
>>> population_series({"population_2009": 1000, "population": 1200, "population_year": 2024})
[(2009, 1000.0), (2024, 1200.0)]
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from geoplan.settings import CENSUS_YEARS

__all__ = [
    "decree_text",
    "escape_value",
    "format_int",
    "format_minutes",
    "is_missing",
    "population_series",
    "ranking_rows",
    "row_value",
]

def is_missing(value: Any) -> bool:
    """Tell whether a value is missing: ``None``, ``pd.NA``, ``NaT`` or a non-finite float.

    Parameters
    ----------
    value
        Any cell of a result table.

    Returns
    -------
    bool
        ``True`` for a missing value.

    Examples
    --------
    >>> is_missing(None), is_missing(float("inf")), is_missing(0)
    (True, True, False)
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and not math.isfinite(value)


def escape_value(value: Any) -> str:
    """Return a value as HTML-escaped text (quotes too), ``''`` when it is missing.

    Parameters
    ----------
    value
        Any cell of a result table; text from data included.

    Returns
    -------
    str
        Text safe inside an element or a quoted attribute.
    """
    return "" if is_missing(value) else html.escape(str(value), quote=True)


def format_int(value: Any) -> str:
    """Return a number rounded to an integer with thousands separators, ``''`` when missing.

    Parameters
    ----------
    value
        A number (or numeric text).

    Returns
    -------
    str
        E.g. ``'12,345'``.

    Examples
    --------
    >>> format_int(12345.4), format_int(None)
    ('12,345', '')
    """
    return "" if is_missing(value) else f"{round(float(value)):,}"


def format_minutes(value: Any) -> str:
    """Return a travel time as text: minutes, with hours and minutes from one hour on.

    Parameters
    ----------
    value
        Minutes; missing (no road connection) reads ``'unreachable by road'``.

    Returns
    -------
    str
        Plain text (escape it before it goes into HTML with other text).

    Examples
    --------
    >>> format_minutes(42), format_minutes(150), format_minutes(None)
    ('42 min', '150 min (2 h 30)', 'unreachable by road')
    """
    if is_missing(value):
        return "unreachable by road"
    m = float(value)
    return f"{m:.0f} min" if m < 60 else f"{m:.0f} min ({int(m // 60)} h {round(m % 60):02d})"


def row_value(row: Mapping[str, Any], key: str) -> Any:
    """Return ``row[key]``, or ``None`` when the key is absent or its value is missing.

    Parameters
    ----------
    row
        One row of a result table.
    key
        Column name.

    Returns
    -------
    Any
        The value, or ``None``.
    """
    value = row.get(key)
    return None if is_missing(value) else value


def population_series(row: Mapping[str, Any]) -> list[tuple[int, float]]:
    """Return a town's ``(year, population)`` pairs: the censuses and the latest figure, in year order.

    Parameters
    ----------
    row
        A towns row with any of ``population_1999``, ``population_2009``, ``population_2021``
        (:data:`geoplan.settings.CENSUS_YEARS`) and ``population`` with its ``population_year``.

    Returns
    -------
    list of (int, float)
        One pair per year with a figure; the latest figure wins over a census of the same year.
    """
    pts: dict[int, float] = {}
    for year in CENSUS_YEARS:
        v = row_value(row, f"population_{year}")
        if v is not None:
            pts[year] = float(v)
    year, pop = row_value(row, "population_year"), row_value(row, "population")
    if year is not None and pop is not None:
        try:
            pts[int(float(year))] = float(pop)
        except ValueError:
            pass
    return sorted(pts.items())


def ranking_rows(row: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return the score, rank, group and stability rows of a town, when the classification gives them.

    Parameters
    ----------
    row
        A towns row; uses ``score``, ``rank`` (with ``rank_low``/``rank_high``), ``group``,
        ``fragile``, ``borderline`` (with ``borderline_on``) and ``stability`` where present.

    Returns
    -------
    list of (str, str)
        ``(label, html)`` pairs; the HTML has data text escaped.

    Examples
    --------
    >>> ranking_rows({"score": 0.5, "rank": 3, "rank_low": 2, "rank_high": 5})
    [('Score', '0.50'), ('Rank', '3 (range 2–5)')]
    """
    rows: list[tuple[str, str]] = []
    score = row_value(row, "score")
    if score is not None:
        rows.append(("Score", f"{float(score):.2f}"))
    rank = row_value(row, "rank")
    if rank is not None:
        lo, hi = row_value(row, "rank_low"), row_value(row, "rank_high")
        interval = f" (range {format_int(lo)}–{format_int(hi)})" if lo is not None and hi is not None else ""
        rows.append(("Rank", format_int(rank) + interval))
    group = row_value(row, "group")
    if group is not None:
        rows.append(("Group", escape_value(group).replace("_", " ")))
    flags = [name for name in ("fragile", "borderline") if row_value(row, name) is not None and bool(row.get(name))]
    stability = row_value(row, "stability")
    held = f"category holds in {100 * float(stability):.0f} % of runs" if stability is not None else ""
    if flags or held:
        rows.append(("Stability", " · ".join([*flags, held] if held else flags)))
    on = row_value(row, "borderline_on")
    if on is not None and "borderline" in flags:
        rows.append(("Borderline on", escape_value(on)))
    return rows


def decree_text(row: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """Return the decree agglomeration a town lies in as escaped text, ``''`` outside every one.

    Parameters
    ----------
    row
        A towns row with ``decree_agglomeration`` (a centre id) and ``decree_level``.
    names
        Centre id -> English name.

    Returns
    -------
    str
        E.g. ``"Karaganda agglomeration (level 2)"``.

    Examples
    --------
    >>> decree_text({"decree_agglomeration": "karaganda", "decree_level": 2}, {"karaganda": "Karaganda"})
    'Karaganda agglomeration (level 2)'
    >>> decree_text({"decree_agglomeration": ""}, {})
    ''
    """
    centre = row_value(row, "decree_agglomeration")
    if not centre:
        return ""
    level = row_value(row, "decree_level")
    return escape_value(names.get(str(centre), centre)) + " agglomeration" + (
        f" (level {format_int(level)})" if level is not None else "")
