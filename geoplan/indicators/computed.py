"""The indicators geoplan computes from the layers and the road travel times.

:func:`compute` makes one row per town; :func:`od_arrays` aligns travel times to ids,
:func:`populations` checks population figures and :func:`population_trend` picks the best
pair of census/estimate figures.

Computed indicators
-------------------
``minutes``, ``km``
    Road travel time and distance to the nearest *qualifying* growth centre: at least
    ``agglomeration.min_centre_population`` people, larger than the town (when
    ``agglomeration.centre_larger_than_town``), never the town itself.
``minutes_regional_centre``, ``km_regional_centre``
    To the administrative centre of the town's own region (a centre with role
    ``regional_centre`` or ``republican`` and the same ``region``); 0 for a town that is that
    centre (Zhezkazgan, the Ulytau region's centre since 2022).
``minutes_city``, ``km_city``
    To the nearest city of ``indicators.city_population`` people or more (100,000 by default),
    other than the town itself.
``population_60``, ``population_90``
    People living in other places reachable within 60 and 90 minutes by road (the bands in
    ``indicators.reach_minutes``); the places are the settlements layer when one is given with
    its travel times, else the growth centres only (then a lower bound, said in the catalogue).
``accessibility``
    Hansen (1959) accessibility, the sum over all centres except the town itself of
    ``population * exp(-beta * minutes)``, ``beta = ln 2 / accessibility.half_life_minutes``.
``growth_pct_per_year``
    Annualised population change over the best available pair of figures among the 1999,
    2009 and 2021 censuses and the latest estimate: the most recent pair at least
    ``indicators.min_trend_years`` apart. ``trend_basis`` says which pair
    (``"2009 census to 2024 estimate"``) and ``trend_years`` the interval.
``population``
    Size: the latest population figure (people).
``resource_score``
    The resource base as an ordinal score: depleted 0, declining 1, stable 2, growing 3;
    ``not_resource`` (the town does not live from extraction) counts as stable, 2.
``enterprise_score``
    The town-forming enterprise: closed 0, partly operating 1, operating 2.

Missing values are never filled in: an indicator that cannot be computed (no census pair, no
reachable centre) is NaN and is named in the town's ``missing`` column.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from geoplan._errors import AnalysisError

__all__ = [
    "CENSUS_DATES",
    "ENTERPRISE_SCORES",
    "RESOURCE_SCORES",
    "compute",
    "descriptive_columns",
    "od_arrays",
    "population_trend",
    "populations",
]

#: Census reference dates as decimal years. 1999 and 2009 were counted on 25 February; the 2021
#: census ran through September and October 2021 and is dated 1 October (an approximation of
#: under a month).
CENSUS_DATES: dict[int, float] = {1999: 1999 + 55 / 365, 2009: 2009 + 55 / 365, 2021: 2021 + 273 / 365}

#: Ordinal scores of the resource outlook (``not_resource``: no depletion risk, scored as stable).
RESOURCE_SCORES: dict[str, float] = {"depleted": 0.0, "declining": 1.0, "stable": 2.0, "growing": 3.0,
                                     "not_resource": 2.0}
#: Ordinal scores of the town-forming enterprise's state.
ENTERPRISE_SCORES: dict[str, float] = {"closed": 0.0, "partly_operating": 1.0, "operating": 2.0}

# --------------------------------------------------------------------------------------
# travel-time arrays


def od_arrays(od: Any, origins: Sequence[str] | np.ndarray, destinations: Sequence[str] | np.ndarray,
              ) -> tuple[np.ndarray, np.ndarray]:
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
    minutes = np.full((len(o), len(d)), np.inf)
    km = np.full((len(o), len(d)), np.inf)
    if all(hasattr(od, a) for a in ("origins", "destinations", "minutes", "km")):
        oi = pd.Index([str(x) for x in od.origins]).get_indexer(o)
        di = pd.Index([str(x) for x in od.destinations]).get_indexer(d)
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
        oi = o.get_indexer(pd.Index(frame["origin"]))
        di = d.get_indexer(pd.Index(frame["destination"]))
        keep = (oi >= 0) & (di >= 0)
        minutes[oi[keep], di[keep]] = pd.to_numeric(frame["minutes"], errors="coerce").to_numpy(float)[keep]
        km[oi[keep], di[keep]] = pd.to_numeric(frame["km"], errors="coerce").to_numpy(float)[keep]
    else:
        raise AnalysisError(f"cannot read travel times from a {type(od).__name__}",
                            fix="pass an ODMatrix (geoplan.traveltime.od_matrix) or its .long() table")
    bad = ~np.isfinite(minutes)
    minutes[bad] = np.inf
    km[bad | ~np.isfinite(km)] = np.inf
    return minutes, km


def populations(frame: pd.DataFrame, layer: str) -> np.ndarray:
    """Return populations as floats; raise naming every feature without a usable figure.

    Parameters
    ----------
    frame
        A layer with ``id``, ``population`` (and ``name_en`` for the message).
    layer
        Layer name for the message.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    AnalysisError
        Naming every feature whose population is missing, not a number or not positive.
    """
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


# --------------------------------------------------------------------------------------
# population trend


def population_trend(frame: pd.DataFrame, *, min_years: float = 5.0) -> pd.DataFrame:
    """Annualised population change over the best available pair of figures.

    The figures are the 1999, 2009 and 2021 censuses (``population_1999`` ...) and the latest
    figure (``population`` on 1 January ``population_year``). The best pair is the most
    recent one at least ``min_years`` apart: the latest figure against the most recent census
    old enough, else an older pair.

    Parameters
    ----------
    frame
        The towns layer (or any table with those columns).
    min_years
        Shortest interval that counts as a trend.

    Returns
    -------
    pandas.DataFrame
        ``growth_pct_per_year`` (``100 * ((end / start) ** (1 / years) - 1)``), ``trend_years``,
        ``trend_basis`` (``"2009 census to 2024 estimate"``; why there is none otherwise),
        aligned to ``frame``'s rows.

    Examples
    --------
    >>> t = pd.DataFrame({"population": [46401], "population_year": [2012],
    ...                   "population_1999": [47372], "population_2009": [46712]})
    >>> population_trend(t)["trend_basis"].iloc[0]
    '1999 census to 2012 estimate'
    """
    n = len(frame)

    def col(name: str) -> np.ndarray:
        if name not in frame.columns:
            return np.full(n, np.nan)
        return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)

    figures: list[tuple[str, np.ndarray, np.ndarray]] = []
    for year, date in CENSUS_DATES.items():
        figures.append((f"{year} census", col(f"population_{year}"), np.full(n, date)))
    latest_year = col("population_year")
    figures.append(("estimate", col("population"), latest_year))
    rate = np.full(n, np.nan)
    span = np.full(n, np.nan)
    basis: list[str] = []
    for i in range(n):
        have = [(lbl, float(v[i]), float(d[i])) for lbl, v, d in figures
                if np.isfinite(v[i]) and v[i] > 0 and np.isfinite(d[i])]
        have.sort(key=lambda f: f[2], reverse=True)
        found = None
        for k, end in enumerate(have):
            for start in have[k + 1:]:
                if end[2] - start[2] >= min_years:
                    found = (start, end)
                    break
            if found:
                break
        if found is None:
            if len(have) < 2:
                basis.append("fewer than two population figures" if have else "no population figures")
            else:
                basis.append(f"figures span less than {min_years:g} years")
            continue
        (s_lbl, s_val, s_date), (e_lbl, e_val, e_date) = found
        years = e_date - s_date
        rate[i] = 100.0 * ((e_val / s_val) ** (1.0 / years) - 1.0)
        span[i] = years
        e_text = f"{int(e_date)} estimate" if e_lbl == "estimate" else e_lbl
        s_text = f"{int(s_date)} estimate" if s_lbl == "estimate" else s_lbl
        basis.append(f"{s_text} to {e_text}")
    return pd.DataFrame({"growth_pct_per_year": rate, "trend_years": span, "trend_basis": basis},
                        index=frame.index)


# --------------------------------------------------------------------------------------
# the computed indicators


def _nearest(minutes: np.ndarray, km: np.ndarray, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best allowed column per row: index (-1 when none), minutes and km (NaN when none)."""
    masked = np.where(allowed & np.isfinite(minutes), minutes, np.inf)
    if masked.shape[1] == 0:
        n = masked.shape[0]
        return np.full(n, -1), np.full(n, np.nan), np.full(n, np.nan)
    best = np.argmin(masked, axis=1)
    rows = np.arange(masked.shape[0])
    ok = np.isfinite(masked[rows, best])
    return (np.where(ok, best, -1), np.where(ok, masked[rows, best], np.nan),
            np.where(ok, km[rows, best], np.nan))


def compute(
    towns: pd.DataFrame,
    centres: pd.DataFrame,
    od: Any,
    *,
    min_centre_population: int = 50_000,
    centre_larger_than_town: bool = True,
    beta_per_minute: float = math.log(2) / 60,
    city_population: int = 100_000,
    reach_minutes: Sequence[float] = (60, 90),
    min_trend_years: float = 5.0,
    regional_roles: Iterable[str] = ("regional_centre", "republican"),
    settlements: pd.DataFrame | None = None,
    settlements_od: Any = None,
    snaps: pd.DataFrame | None = None,
    table: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Compute the spatial and demographic indicators of every town.

    Parameters
    ----------
    towns, centres
        The towns and centres layers (``id``, ``name_en``, ``population``, ``region``;
        centres also ``role``; towns the census columns, ``resource_status``,
        ``enterprise_status``).
    od
        Travel times from every town to every centre (ODMatrix or its long table).
    min_centre_population, centre_larger_than_town
        What makes a centre qualify for ``minutes``/``km``.
    beta_per_minute
        Decay of the Hansen accessibility.
    city_population
        Smallest city for ``minutes_city``/``km_city``.
    reach_minutes
        Bands of the ``population_<m>`` indicators.
    min_trend_years
        Shortest interval of the population trend.
    regional_roles
        Centre roles that make a centre the administrative centre of its region.
    settlements, settlements_od
        Optional settlements layer (``id``, ``population``) and the travel times from the towns
        to them, for ``population_<m>``; without them the growth centres are counted.
    snaps
        The report of :func:`~geoplan.network.attach_places` (``id``, ``snap_km``).
    table
        The user's indicators (from :func:`read_table`), merged by ``id``.

    Returns
    -------
    pandas.DataFrame
        One row per town sorted by ``id``: ``id``; the computed indicators (see the module
        docstring); descriptive columns ``nearest_centre``, ``nearest_centre_name``,
        ``nearest_centre_population``, ``regional_centre``, ``regional_centre_name``,
        ``city``, ``city_name``, ``centre_role`` (the role of the centre the town itself is,
        if any), ``trend_years``, ``trend_basis``, ``snap_km``; the user's columns; and
        ``missing`` (the indicators that could not be computed, comma-separated).

    Raises
    ------
    AnalysisError
        Naming every town or centre without a population figure.
    """
    towns = towns.sort_values("id", kind="mergesort", key=lambda s: s.astype(str)).reset_index(drop=True)
    centres = centres.sort_values("id", kind="mergesort", key=lambda s: s.astype(str)).reset_index(drop=True)
    t_id = towns["id"].astype(str).to_numpy(dtype=object)
    c_id = centres["id"].astype(str).to_numpy(dtype=object)
    t_pop = populations(towns, "towns")
    c_pop = populations(centres, "centres")
    c_name = centres.get("name_en", centres["id"]).astype(str).to_numpy(dtype=object)
    minutes, km = od_arrays(od, t_id, c_id)
    not_self = t_id[:, None] != c_id[None, :]

    qualifies = not_self & (c_pop[None, :] >= min_centre_population)
    if centre_larger_than_town:
        qualifies &= c_pop[None, :] > t_pop[:, None]
    best, m_best, k_best = _nearest(minutes, km, qualifies)
    c_role = _text_column(centres, "role")
    reg, m_reg, k_reg = _regional_centre(minutes, km, not_self, _text_column(towns, "region"),
                                         _text_column(centres, "region"), c_role, regional_roles)
    city, m_city, k_city = _nearest(minutes, km, not_self & (c_pop[None, :] >= city_population))
    trend = population_trend(towns, min_years=min_trend_years)

    out = pd.DataFrame({
        "id": t_id,
        "population": t_pop,
        "growth_pct_per_year": trend["growth_pct_per_year"].to_numpy(),
        "resource_score": _scores(towns, "resource_status", RESOURCE_SCORES),
        "enterprise_score": _scores(towns, "enterprise_status", ENTERPRISE_SCORES),
        "minutes": m_best,
        "km": k_best,
        "minutes_regional_centre": m_reg,
        "km_regional_centre": k_reg,
        "minutes_city": m_city,
        "km_city": k_city,
    })
    s_pop, s_min = _other_places(t_id, c_pop, np.where(not_self, minutes, np.inf), settlements, settlements_od)
    for band in reach_minutes:
        within = s_min <= float(band)
        out[f"population_{float(band):g}"] = np.where(within, s_pop[None, :], 0.0).sum(axis=1)
    out["accessibility"] = _hansen(minutes, not_self, c_pop, beta_per_minute)
    out["nearest_centre"] = _pick(c_id, best)
    out["nearest_centre_name"] = _pick(c_name, best)
    out["nearest_centre_population"] = pd.array([int(c_pop[j]) if j >= 0 else None for j in best], dtype="Int64")
    out["regional_centre"] = _pick(c_id, reg)
    out["regional_centre_name"] = _pick(c_name, reg)
    out["city"] = _pick(c_id, city)
    out["city_name"] = _pick(c_name, city)
    role_of = dict(zip(c_id, c_role, strict=True))
    out["centre_role"] = pd.Series(np.array([role_of.get(t) for t in t_id], dtype=object), dtype=object)
    out["trend_years"] = trend["trend_years"].to_numpy()
    out["trend_basis"] = trend["trend_basis"].to_numpy()
    out["snap_km"] = _snap_km(snaps, t_id)
    if table is not None:
        _add_user_table(out, table, t_id)
    value_cols = [c for c in out.columns if c not in _DESCRIPTIVE]
    out["missing"] = [", ".join(c for c in value_cols if not np.isfinite(out[c].iloc[i])) for i in range(len(t_id))]
    return out


def _pick(arr: np.ndarray, idx: np.ndarray) -> pd.Series:
    """``arr[j]`` for every ``j`` of ``idx`` (``None`` where ``j`` is -1), as an object Series."""
    return pd.Series([arr[j] if j >= 0 else None for j in idx], dtype=object)


def _text_column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """Column ``name`` as an object array of strings; empty strings when the layer lacks it."""
    if name in frame.columns:
        return frame[name].astype(str).to_numpy(dtype=object)
    return np.full(len(frame), "", dtype=object)


def _scores(towns: pd.DataFrame, column: str, scores: dict[str, float]) -> np.ndarray:
    """Ordinal scores of a status column (NaN for an unknown or absent status)."""
    status = towns[column] if column in towns.columns else pd.Series([None] * len(towns))
    return status.map(scores).astype(float).to_numpy()


def _regional_centre(minutes: np.ndarray, km: np.ndarray, not_self: np.ndarray, t_region: np.ndarray,
                     c_region: np.ndarray, c_role: np.ndarray,
                     regional_roles: Iterable[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Find the administrative centre of each town's region (0 min and km for a town that is that centre)."""
    roles = set(regional_roles)
    is_regional = np.array([r in roles for r in c_role], dtype=bool)
    same_region = (t_region[:, None] == c_region[None, :]) & is_regional[None, :]
    return _nearest(np.where(~not_self, 0.0, minutes), np.where(~not_self, 0.0, km), same_region)


def _hansen(minutes: np.ndarray, not_self: np.ndarray, c_pop: np.ndarray, beta_per_minute: float) -> np.ndarray:
    """Hansen accessibility of each town to the other centres (NaN when none is reachable)."""
    reach = not_self & np.isfinite(minutes)
    with np.errstate(over="ignore", invalid="ignore"):
        weights = np.where(reach, np.exp(-beta_per_minute * np.where(reach, minutes, 0.0)), 0.0)
    return np.asarray(np.where(reach.any(axis=1), weights @ c_pop if len(c_pop) else 0.0, np.nan))


def _other_places(t_id: np.ndarray, c_pop: np.ndarray, c_min: np.ndarray, settlements: pd.DataFrame | None,
                  settlements_od: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return the places counted by ``population_<m>``: their populations and the minutes from each town.

    The settlements layer when it is given with its travel times (never the town itself, by id
    or by ``town_id``), else the centres (``c_min`` already has ``inf`` for the town itself).
    """
    if settlements is None or settlements_od is None or not len(settlements):
        return c_pop, c_min
    s_id = settlements["id"].astype(str).to_numpy(dtype=object)
    s_pop = pd.to_numeric(settlements["population"], errors="coerce").fillna(0).to_numpy(dtype=float)
    s_min, _ = od_arrays(settlements_od, t_id, s_id)
    s_min = np.where(t_id[:, None] == s_id[None, :], np.inf, s_min)
    if "town_id" in settlements.columns:
        # A settlement that is the town itself (linked by town_id) is not another place.
        linked = settlements["town_id"].astype(object).where(settlements["town_id"].notna(), "").astype(str)
        s_min = np.where(t_id[:, None] == linked.to_numpy(dtype=object)[None, :], np.inf, s_min)
    return s_pop, s_min


def _snap_km(snaps: pd.DataFrame | None, t_id: np.ndarray) -> np.ndarray:
    """Distance of each town to the road it was attached to (NaN without a snap report)."""
    if snaps is None or not {"id", "snap_km"} <= set(snaps.columns):
        return np.full(len(t_id), np.nan)
    s = snaps.drop_duplicates("id")
    return pd.to_numeric(s.set_index(s["id"].astype(str))["snap_km"].reindex(t_id),
                         errors="coerce").to_numpy(dtype=float)


def _add_user_table(out: pd.DataFrame, table: pd.DataFrame, t_id: np.ndarray) -> None:
    """Add the user's indicator columns to ``out`` (in place), aligned on the town ids."""
    user = table.assign(id=table["id"].astype(str)).set_index("id")
    for c in user.columns:
        if c in out.columns:
            raise AnalysisError(f"indicator table column {c!r} clashes with an indicator geoplan computes",
                                fix=f"rename the column (and its catalogue row), e.g. {c}_local")
        out[c] = user[c].reindex(t_id).to_numpy(dtype=float)

_DESCRIPTIVE = frozenset({"id", "nearest_centre", "nearest_centre_name", "nearest_centre_population",
                          "regional_centre", "regional_centre_name", "city", "city_name", "centre_role",
                          "trend_years", "trend_basis", "snap_km", "missing"})


def descriptive_columns() -> frozenset[str]:
    """Columns of :func:`compute`'s result that are not indicator values."""
    return _DESCRIPTIVE
