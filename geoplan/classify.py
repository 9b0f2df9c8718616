"""Indicators and categories of single-industry towns, each with a plain reason.

:func:`indicators` measures every town against the growth centres using an origin-destination
table of road travel times (an :class:`~geoplan.traveltime.ODMatrix` or its ``long()`` frame),
and :func:`classify` turns the indicators into a category and one sentence saying why.

Indicators
----------
``nearest_centre``, ``minutes``, ``km``
    The fastest-reached *qualifying* centre: at least ``agglomeration.min_centre_population``
    people, more people than the town (``agglomeration.centre_larger_than_town``) and never
    the town itself (Temirtau and Zhezkazgan are both towns and centres; they are matched by
    id). ``km`` is the road length of that fastest route.
``accessibility``
    Hansen index, the sum over all centres except the town itself of
    ``population * exp(-beta * minutes)`` with ``beta = accessibility.beta_per_minute``;
    unreachable centres add nothing. In people; for ranking towns, not as a threshold
    by default. NaN when no centre can be reached at all.
``growth_pct_per_year``
    Annualised change from the ``categories.trend_census`` census (taken on 25 February 1999
    or 2009) to the latest figure (``population`` on 1 January ``population_year``):
    ``100 * ((population / census) ** (1 / years) - 1)``. ``trend_years`` is the interval.
    NaN where the census figure or the year is missing.

Rules (first match wins)
------------------------
1. **agglomeration** when ``minutes <= agglomeration.max_minutes``.
2. **diversification** when the resource outlook is in ``categories.diversification_resources``
   (growing, stable, not resource-based), the town-forming enterprise is not closed and the
   population trend is at least ``categories.fast_decline_pct_per_year`` (-1 %/yr).
3. **relocation** when the economic base is going (resource outlook in
   ``categories.relocation_resources``: depleted, declining; or the enterprise closed, if
   ``categories.relocation_if_enterprise_closed``), the population is shrinking (trend below
   ``categories.shrinking_pct_per_year``, 0 %/yr), the town has at most
   ``categories.relocation_max_population`` people (50,000) and, when
   ``categories.relocation_max_accessibility`` is set, its accessibility is below it.
4. **monitor** otherwise: the indicators point different ways (a growing mine in a town losing
   people fast), or an indicator that would decide rule 2 or 3 is missing. Missing values are
   never filled in: a trend over fewer than ``categories.min_trend_years`` years, a missing
   census figure, resource outlook or enterprise status is *unknown*, and a rule that depends
   on an unknown value is undecided, which leads to monitor with the missing value named.

Examples
--------
>>> import geoplan, pandas as pd
>>> from geoplan.network import build_network, attach_places
>>> from geoplan.traveltime import od_matrix
>>> from geoplan.classify import indicators, classify
>>> layers = geoplan.read_layers(geoplan.embedded_layers_path())
>>> places = pd.concat([layers.towns[["id", "geometry"]], layers.centres[["id", "geometry"]]])
>>> net, _ = attach_places(build_network(layers.roads), places)
>>> od = od_matrix(net, list(layers.towns["id"]), list(layers.centres["id"]))
>>> result = classify(layers.towns, indicators(layers.towns, layers.centres, od))
>>> result.set_index("id").loc["saran", "category"]
'agglomeration'

"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geoplan._errors import AnalysisError
from geoplan.scenario import Scenario

__all__ = [
    "CATEGORIES",
    "CENSUS_DATES",
    "classify",
    "compare_results",
    "growth_rate",
    "indicators",
    "od_arrays",
]

#: Town categories, in the order of the rules.
CATEGORIES: tuple[str, ...] = ("agglomeration", "diversification", "relocation", "monitor")

#: Census reference dates as decimal years (both censuses counted from 25 February).
CENSUS_DATES: dict[int, float] = {1999: 1999 + 55 / 365, 2009: 2009 + 55 / 365}

INDICATOR_COLUMNS: tuple[str, ...] = (
    "nearest_centre", "nearest_centre_name", "nearest_centre_population", "minutes", "km", "snap_km",
    "accessibility", "growth_pct_per_year", "trend_years", "missing",
)


# --------------------------------------------------------------------------------------
# inputs


def od_arrays(od: Any, origins: Sequence[str], destinations: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Minutes and km of ``od`` as arrays aligned to ``origins`` x ``destinations``.

    Parameters
    ----------
    od
        An :class:`~geoplan.traveltime.ODMatrix` (anything with ``origins``, ``destinations``,
        ``minutes`` and ``km`` arrays) or a long table with columns ``origin``,
        ``destination``, ``minutes`` and ``km``.
    origins, destinations
        Ids in the order wanted.

    Returns
    -------
    minutes, km
        Arrays of shape ``(len(origins), len(destinations))``; ``inf`` where a pair is
        unreachable, NaN or absent from ``od``.

    """
    o = pd.Index([str(x) for x in origins])
    d = pd.Index([str(x) for x in destinations])
    if all(hasattr(od, a) for a in ("origins", "destinations", "minutes", "km")):
        oi = pd.Index([str(x) for x in od.origins]).get_indexer(o)
        di = pd.Index([str(x) for x in od.destinations]).get_indexer(d)
        minutes = np.full((len(o), len(d)), np.inf)
        km = np.full((len(o), len(d)), np.inf)
        ro, rd = oi >= 0, di >= 0
        src_m = np.asarray(od.minutes, dtype=float)
        src_k = np.asarray(od.km, dtype=float)
        minutes[np.ix_(ro, rd)] = src_m[np.ix_(oi[ro], di[rd])]
        km[np.ix_(ro, rd)] = src_k[np.ix_(oi[ro], di[rd])]
    elif isinstance(od, pd.DataFrame):
        need = {"origin", "destination", "minutes", "km"}
        if not need <= set(od.columns):
            raise AnalysisError(f"OD table lacks column(s) {', '.join(sorted(need - set(od.columns)))}",
                                fix="pass an ODMatrix or its .long() table (origin, destination, minutes, km)")
        frame = od.assign(origin=od["origin"].astype(str), destination=od["destination"].astype(str))
        if frame.duplicated(["origin", "destination"]).any():
            dup = frame[frame.duplicated(["origin", "destination"])].iloc[0]
            raise AnalysisError(f"OD table lists {dup['origin']} -> {dup['destination']} more than once",
                                fix="keep one row per origin-destination pair")
        oi = o.get_indexer(frame["origin"])
        di = d.get_indexer(frame["destination"])
        keep = (oi >= 0) & (di >= 0)
        minutes = np.full((len(o), len(d)), np.inf)
        km = np.full((len(o), len(d)), np.inf)
        minutes[oi[keep], di[keep]] = pd.to_numeric(frame["minutes"], errors="coerce").to_numpy(float)[keep]
        km[oi[keep], di[keep]] = pd.to_numeric(frame["km"], errors="coerce").to_numpy(float)[keep]
    else:
        raise AnalysisError(f"cannot read travel times from a {type(od).__name__}",
                            fix="pass an ODMatrix (geoplan.traveltime.od_matrix) or its .long() table")
    bad = ~np.isfinite(minutes)
    minutes[bad] = np.inf
    km[bad | ~np.isfinite(km)] = np.inf
    return minutes, km


def _populations(frame: pd.DataFrame, layer: str) -> np.ndarray:
    """Return populations as floats; raise naming every feature without a usable figure."""
    if "population" not in frame.columns:
        raise AnalysisError(f"the {layer} layer has no 'population' column",
                            fix=f"add the latest population of each feature to the {layer} layer")
    pop = pd.to_numeric(frame["population"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(pop) | (pop <= 0)
    if bad.any():
        names = frame.get("name_en", frame["id"]).astype(str).to_numpy()
        ids = frame["id"].astype(str).to_numpy()
        shown = ", ".join(f"{n} ({i})" for n, i in zip(names[bad][:10], ids[bad][:10], strict=True))
        raise AnalysisError(f"{layer} without a population figure: {shown}",
                            fix=f"fill 'population' (latest official estimate, with 'population_year') for these "
                                f"features in the {layer} layer; a category cannot be given without it")
    return pop


def growth_rate(frame: pd.DataFrame, *, census: int = 2009) -> tuple[np.ndarray, np.ndarray]:
    """Annualised population change since a census, in % per year, and the interval in years.

    Uses ``population_<census>`` and ``population`` on 1 January ``population_year``. Both
    results are NaN where a figure or the year is missing or the latest figure is not later
    than the census.
    """
    n = len(frame)
    col = f"population_{census}"
    if col not in frame.columns or "population_year" not in frame.columns:
        return np.full(n, np.nan), np.full(n, np.nan)
    base = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
    now = pd.to_numeric(frame["population"], errors="coerce").to_numpy(dtype=float)
    year = pd.to_numeric(frame["population_year"], errors="coerce").to_numpy(dtype=float)
    years = year - CENSUS_DATES[census]
    ok = np.isfinite(base) & np.isfinite(now) & (base > 0) & (now > 0) & np.isfinite(years) & (years > 0)
    rate = np.full(n, np.nan)
    rate[ok] = 100.0 * (np.power(now[ok] / base[ok], 1.0 / years[ok]) - 1.0)
    return rate, np.where(ok, years, np.nan)


# --------------------------------------------------------------------------------------
# indicators


def indicators(
    towns: pd.DataFrame,
    centres: pd.DataFrame,
    od: Any,
    *,
    config: Scenario | None = None,
    snaps: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Measure each town (see the module docstring for the indicators' definitions).

    Parameters
    ----------
    towns, centres
        The towns and centres layers (``id``, ``population``; towns also ``population_year``
        and the census columns).
    od
        Travel times from every town to every centre: an ODMatrix or its long table.
    config
        Scenario with the thresholds; the baseline when omitted.
    snaps
        The report of :func:`~geoplan.network.attach_places` (``id``, ``snap_km``), to carry the
        distance from each town to its road into the result.

    Returns
    -------
    pandas.DataFrame
        One row per town, sorted by ``id``: ``id`` and :data:`INDICATOR_COLUMNS`.

    Raises
    ------
    AnalysisError
        Naming every town or centre without a population figure.

    """
    cfg = config or Scenario.baseline()
    towns = towns.sort_values("id", kind="mergesort", key=lambda s: s.astype(str)).reset_index(drop=True)
    centres = centres.sort_values("id", kind="mergesort", key=lambda s: s.astype(str)).reset_index(drop=True)
    t_id = towns["id"].astype(str).to_numpy(dtype=object)
    c_id = centres["id"].astype(str).to_numpy(dtype=object)
    t_pop = _populations(towns, "towns")
    c_pop = _populations(centres, "centres")
    c_name = centres.get("name_en", centres["id"]).astype(str).to_numpy(dtype=object)
    minutes, km = od_arrays(od, t_id, c_id)

    not_self = t_id[:, None] != c_id[None, :]
    agg = cfg.agglomeration
    qualifies = not_self & (c_pop[None, :] >= agg.min_centre_population) & np.isfinite(minutes)
    if agg.centre_larger_than_town:
        qualifies &= c_pop[None, :] > t_pop[:, None]
    masked = np.where(qualifies, minutes, np.inf)
    has = qualifies.any(axis=1)
    best = np.argmin(masked, axis=1) if len(c_id) else np.zeros(len(t_id), dtype=np.int64)
    rows = np.arange(len(t_id))

    beta = cfg.accessibility.beta_per_minute
    reach = not_self & np.isfinite(minutes)
    with np.errstate(over="ignore", invalid="ignore"):
        weights = np.where(reach, np.exp(-beta * np.where(reach, minutes, 0.0)), 0.0)
    access = np.where(reach.any(axis=1), weights @ c_pop if len(c_id) else 0.0, np.nan)

    rate, years = growth_rate(towns, census=cfg.categories.trend_census)
    snap_km = np.full(len(t_id), np.nan)
    if snaps is not None and {"id", "snap_km"} <= set(snaps.columns):
        s = snaps.drop_duplicates("id").set_index(snaps.drop_duplicates("id")["id"].astype(str))["snap_km"]
        snap_km = pd.to_numeric(s.reindex(t_id), errors="coerce").to_numpy(dtype=float)

    out = pd.DataFrame({
        "id": t_id,
        "nearest_centre": np.where(has, c_id[best] if len(c_id) else None, None),
        "nearest_centre_name": np.where(has, c_name[best] if len(c_id) else None, None),
        "nearest_centre_population": pd.array(np.where(has, c_pop[best] if len(c_id) else 0, np.nan), dtype="Int64"),
        "minutes": np.where(has, masked[rows, best] if len(c_id) else np.nan, np.nan),
        "km": np.where(has, km[rows, best] if len(c_id) else np.nan, np.nan),
        "snap_km": snap_km,
        "accessibility": access,
        "growth_pct_per_year": rate,
        "trend_years": years,
    })
    missing = []
    res = towns["resource_status"] if "resource_status" in towns.columns else pd.Series([None] * len(towns))
    ent = towns["enterprise_status"] if "enterprise_status" in towns.columns else pd.Series([None] * len(towns))
    for i in range(len(out)):
        m = []
        if not has[i]:
            m.append("minutes")
        if not np.isfinite(access[i]):
            m.append("accessibility")
        if not np.isfinite(rate[i]) or years[i] < cfg.categories.min_trend_years:
            m.append("growth_pct_per_year")
        if _blank(res.iloc[i]):
            m.append("resource_status")
        if _blank(ent.iloc[i]):
            m.append("enterprise_status")
        missing.append(", ".join(m))
    out["missing"] = missing
    return out


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or (isinstance(v, str) and not v.strip())


# --------------------------------------------------------------------------------------
# categories


def _tri(values: np.ndarray, known: np.ndarray) -> pd.arrays.BooleanArray:
    """Make a three-valued (Kleene) boolean array: NA where not known."""
    known = np.asarray(known, bool)
    return pd.arrays.BooleanArray(np.asarray(values, bool) & known, ~known)


def _py(v: Any) -> bool | None:
    """Return an element of a BooleanArray as True, False or None (unknown)."""
    return None if v is pd.NA else bool(v)


def _pct(g: float) -> str:
    r = round(float(g), 1)
    return "0.0 %/yr" if r == 0 else f"{r:+.1f} %/yr"


def classify(towns: gpd.GeoDataFrame, indicators: pd.DataFrame, *, config: Scenario | None = None) -> gpd.GeoDataFrame:
    """Give every town a category and one sentence of reasons.

    Parameters
    ----------
    towns
        The towns layer.
    indicators
        The result of :func:`indicators` for the same towns and config.
    config
        Scenario with the thresholds; the baseline when omitted.

    Returns
    -------
    geopandas.GeoDataFrame
        The towns layer's columns, the indicators, ``category`` (one of :data:`CATEGORIES`),
        ``reasons`` and ``destination`` (``None``; filled by :func:`geoplan.relocation.relocate`),
        sorted by ``id``.

    """
    cfg = config or Scenario.baseline()
    cat_cfg = cfg.categories
    towns = towns.sort_values("id", kind="mergesort", key=lambda s: s.astype(str)).reset_index(drop=True)
    ind = indicators.assign(id=indicators["id"].astype(str)).set_index("id")
    ids = towns["id"].astype(str)
    lost = sorted(set(ids) - set(ind.index))
    if lost:
        raise AnalysisError(f"no indicators for town(s) {', '.join(lost[:10])}",
                            fix="compute indicators() for the same towns layer you classify")
    ind = ind.reindex(ids)
    pop = _populations(towns, "towns")
    n = len(towns)

    minutes = ind["minutes"].to_numpy(dtype=float)
    agg = np.isfinite(minutes) & (minutes <= cfg.agglomeration.max_minutes)

    blank = pd.Series([None] * n)
    res = (towns["resource_status"] if "resource_status" in towns.columns else blank).to_numpy(object)
    ent = (towns["enterprise_status"] if "enterprise_status" in towns.columns else blank).to_numpy(object)
    res_known = np.array([not _blank(v) for v in res])
    ent_known = np.array([not _blank(v) for v in ent])
    g = ind["growth_pct_per_year"].to_numpy(dtype=float)
    years = ind["trend_years"].to_numpy(dtype=float)
    g_known = np.isfinite(g) & np.isfinite(years) & (years >= cat_cfg.min_trend_years)
    acc = ind["accessibility"].to_numpy(dtype=float)

    div_res = _tri(np.isin(res, cat_cfg.diversification_resources), res_known)
    rel_res = _tri(np.isin(res, cat_cfg.relocation_resources), res_known)
    closed = _tri(ent == "closed", ent_known)
    not_fast = _tri(g >= cat_cfg.fast_decline_pct_per_year, g_known)
    shrinking = _tri(g < cat_cfg.shrinking_pct_per_year, g_known)
    small = _tri(pop <= cat_cfg.relocation_max_population, np.ones(n, bool))
    if cat_cfg.relocation_max_accessibility is not None:
        remote = _tri(acc < cat_cfg.relocation_max_accessibility, np.isfinite(acc))
    else:
        remote = _tri(np.ones(n, bool), np.ones(n, bool))

    div = div_res & ~closed & not_fast
    base_lost = rel_res | (closed & cat_cfg.relocation_if_enterprise_closed)
    rel = base_lost & shrinking & small & remote

    category = np.full(n, "monitor", dtype=object)
    div_true = div.fillna(False).to_numpy(bool)
    div_na = np.asarray(div.isna(), bool)
    rel_true = rel.fillna(False).to_numpy(bool)
    category[~agg & div_true] = "diversification"
    category[~agg & ~div_true & ~div_na & rel_true] = "relocation"
    category[agg] = "agglomeration"

    census = cat_cfg.trend_census
    pop_year = pd.to_numeric(towns.get("population_year", pd.Series([np.nan] * n)), errors="coerce").to_numpy(float)
    base_col = f"population_{census}"
    has_census = (pd.to_numeric(towns[base_col], errors="coerce").notna().to_numpy()
                  if base_col in towns.columns else np.zeros(n, bool))
    reasons = []
    for i in range(n):
        facts = _Facts(
            res=res[i] if res_known[i] else None,
            ent=ent[i] if ent_known[i] else None,
            growth=g[i] if np.isfinite(g[i]) else None,
            years=years[i] if np.isfinite(years[i]) else None,
            g_known=bool(g_known[i]),
            has_census=bool(has_census[i]),
            pop_year=int(pop_year[i]) if np.isfinite(pop_year[i]) else None,
            census=census,
            population=int(pop[i]),
            accessibility=acc[i] if np.isfinite(acc[i]) else None,
        )
        states = {k: _py(v[i]) for k, v in (("div_res", div_res), ("closed", closed), ("not_fast", not_fast),
                                             ("rel_res", rel_res), ("shrinking", shrinking), ("small", small),
                                             ("remote", remote), ("base_lost", base_lost), ("rel", rel))}
        reasons.append(_reason(category[i], _reach_phrase(ind.iloc[i], cfg), facts, cfg, bool(div_na[i]), states))

    keep = [c for c in towns.columns if c not in INDICATOR_COLUMNS and c not in ("category", "reasons", "destination")]
    out = towns[keep].copy()
    for col in INDICATOR_COLUMNS:
        out[col] = ind[col].to_numpy()
    out["category"] = category
    out["reasons"] = reasons
    out["destination"] = None
    geom = towns.geometry.name if isinstance(towns, gpd.GeoDataFrame) else None
    if geom is None:
        return out
    cols = [c for c in out.columns if c != geom] + [geom]
    return gpd.GeoDataFrame(out[cols], geometry=geom, crs=towns.crs)


class _Facts:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)

    @property
    def res_text(self) -> str:
        if self.res is None:
            return "resource outlook unknown"
        return "not resource-based" if self.res == "not_resource" else f"resource outlook {self.res}"

    @property
    def ent_text(self) -> str:
        return "enterprise status unknown" if self.ent is None else f"enterprise {str(self.ent).replace('_', ' ')}"

    @property
    def trend_text(self) -> str:
        if self.g_known:
            return f"population {_pct(self.growth)} {self.census}-{self.pop_year}"
        if not self.has_census:
            return f"no {self.census} census figure, so the population trend is unknown"
        if self.pop_year is None:
            return "no year for the latest population figure, so the trend is unknown"
        if self.growth is None:
            return f"the latest population figure ({self.pop_year}) is not later than the {self.census} census"
        return (f"the trend ({_pct(self.growth)}) spans only {self.years:.1f} years ({self.census}-{self.pop_year}), "
                "too short to judge")


def _reach_phrase(row: pd.Series, cfg: Scenario) -> str:
    """Return the travel-time part of a reason."""
    m = row["minutes"]
    if pd.notna(m) and np.isfinite(m):
        return (f"{m:.0f} min ({row['km']:,.0f} km) by road from {row['nearest_centre_name']} "
                f"({int(row['nearest_centre_population']):,})")
    snap = row.get("snap_km")
    if pd.notna(snap) and snap > cfg.network.max_snap_km:
        return f"not connected to the road network (nearest road {snap:,.0f} km away)"
    larger = " larger than the town" if cfg.agglomeration.centre_larger_than_town else ""
    return f"no growth centre of {cfg.agglomeration.min_centre_population:,}+ people{larger} can be reached by road"


def _reason(category: str, reach: str, f: _Facts, cfg: Scenario, undecided: bool, c: dict[str, bool | None]) -> str:
    """One sentence: the travel time, the indicators that decided, the category."""
    cat = cfg.categories
    limit = f"{cfg.agglomeration.max_minutes:g} min"
    if category == "agglomeration":
        extra = "" if f.g_known else f"; {f.trend_text}"
        return f"{reach}: within agglomeration reach ({limit}){extra}."
    lead = f"{reach}, beyond agglomeration reach ({limit})" if "by road from" in reach else reach
    if category == "diversification":
        return f"{lead}; {f.res_text}, {f.ent_text}, {f.trend_text}: diversification."
    if category == "relocation":
        base = f.res_text if c["rel_res"] else f"{f.ent_text} ({f.res_text})"
        return f"{lead}; {base}, {f.trend_text}, {f.population:,} people: relocation candidate."
    # monitor: name what is missing, or which indicators disagree.
    if undecided or c["rel"] is None:
        known, unknown = [], []
        (known if f.res is not None else unknown).append(f.res_text)
        (known if f.ent is not None else unknown).append(f.ent_text)
        if not f.g_known:
            unknown.append(f.trend_text)
        if c["remote"] is None:
            unknown.append("accessibility unknown")
        head = f"{', '.join(known)}, but " if known else ""
        return f"{lead}; {head}{' and '.join(unknown)}: monitor."
    trend = f"population {_pct(f.growth)} {f.census}-{f.pop_year}" if f.g_known else f.trend_text
    if c["div_res"] and c["closed"] is False and c["not_fast"] is False:
        why = f"{f.res_text} but {trend}, a faster decline than {cat.fast_decline_pct_per_year:g} %/yr"
    elif c["base_lost"] and c["shrinking"] is False:
        base = f.res_text if c["rel_res"] else f.ent_text
        why = f"{base} but {trend}, not shrinking"
    elif c["base_lost"] and c["small"] is False:
        why = (f"{f.res_text}, {trend}, but {f.population:,} people is above the relocation limit of "
               f"{cat.relocation_max_population:,}")
    elif c["base_lost"] and c["remote"] is False:
        why = (f"{f.res_text}, {trend}, but accessibility {f.accessibility:,.0f} is above the relocation limit "
               f"of {cat.relocation_max_accessibility:,.0f}")
    elif c["base_lost"] is False and c["div_res"] is False:
        why = f"{f.res_text} is in neither categories.diversification_resources nor categories.relocation_resources"
    else:
        why = f"{f.res_text}, {f.ent_text}, {trend}; no rule applies"
    return f"{lead}; {why}: monitor."


# --------------------------------------------------------------------------------------
# comparing two runs


def compare_results(
    a: pd.DataFrame,
    b: pd.DataFrame,
    *,
    min_minutes_change: float = 0.5,
    names: tuple[str, str] = ("a", "b"),
) -> pd.DataFrame:
    """Towns whose category, nearest centre, travel time or relocation destination differ.

    Parameters
    ----------
    a, b
        Towns results of two runs (from :func:`classify`, or the pipeline).
    min_minutes_change
        Smaller changes of ``minutes`` are rounding noise and not reported.
    names
        Suffixes of the two runs' columns (``_a``/``_b`` are appended when they are equal).

    Returns
    -------
    pandas.DataFrame
        One row per changed town, sorted by ``id``: ``id``, ``name_en``, ``changes`` (what
        changed, comma-separated), then ``category``, ``nearest_centre``, ``minutes``, ``km``,
        ``accessibility`` and ``destination`` of each run, and ``minutes_change`` (minutes and
        km rounded to 0.1, accessibility to whole people).

    """
    sa, sb = names if names[0] != names[1] else (f"{names[0]}_a", f"{names[1]}_b")
    cols = ["category", "nearest_centre", "minutes", "km", "accessibility", "destination"]
    left = a.set_index(a["id"].astype(str))
    right = b.set_index(b["id"].astype(str))
    ids = sorted(set(left.index) | set(right.index))
    rows = []
    for tid in ids:
        ra = left.loc[tid] if tid in left.index else None
        rb = right.loc[tid] if tid in right.index else None
        changes = []
        if ra is None or rb is None:
            changes.append(f"only in {sa if rb is None else sb}")
        else:
            for col, label in (("category", "category"), ("nearest_centre", "nearest centre"),
                               ("destination", "destination")):
                va, vb = ra.get(col), rb.get(col)
                if (None if _blank(va) else va) != (None if _blank(vb) else vb):
                    changes.append(label)
            ma, mb = float(ra.get("minutes", np.nan)), float(rb.get("minutes", np.nan))
            if np.isfinite(ma) != np.isfinite(mb) or (np.isfinite(ma) and abs(mb - ma) >= min_minutes_change):
                changes.append("minutes")
        if not changes:
            continue
        src = ra if ra is not None else rb
        row: dict[str, Any] = {"id": tid, "name_en": src.get("name_en", tid), "changes": ", ".join(changes)}
        for col in cols:
            row[f"{col}_{sa}"] = None if ra is None else ra.get(col)
            row[f"{col}_{sb}"] = None if rb is None else rb.get(col)
        ma = np.nan if ra is None else float(ra.get("minutes", np.nan))
        mb = np.nan if rb is None else float(rb.get("minutes", np.nan))
        row["minutes_change"] = mb - ma
        rows.append(row)
    order = ["id", "name_en", "changes"] + [f"{c}_{s}" for c in cols for s in (sa, sb)] + ["minutes_change"]
    out = pd.DataFrame(rows, columns=order)
    # Rounded for reading and for stable CSV text: 0.1 min, 0.1 km, whole people.
    for col in [f"{c}_{s}" for c in ("minutes", "km") for s in (sa, sb)] + ["minutes_change"]:
        out[col] = pd.to_numeric(out[col], errors="coerce").round(1)
    for col in (f"accessibility_{sa}", f"accessibility_{sb}"):
        out[col] = pd.to_numeric(out[col], errors="coerce").round(0)
    return out
