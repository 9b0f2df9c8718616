"""The ``policy`` mode of relocation: receiving regions within yearly quotas, phased over the plan's years.

The state programme moves people into the regions that publish a yearly resettlement quota
(``resettlement_quotas.csv``: ``year``, ``region``, ``quota_migrants``). :func:`read_quotas`
reads and checks that table against the layers' regions, :func:`yearly_quotas` spreads it over
the plan's years, and :func:`relocate_policy` places the people of the relocation towns as an
integer program (HiGHS): as many as the quotas and the destinations' capacity allow, earliest
years first, then shortest trips. :func:`compare_modes` puts this mode beside the ``cities``
mode (:mod:`geoplan.relocation.cities`), and :func:`policy_as_result` presents a plan like
the ``cities`` mode's result for the maps and exports.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_matrix

from geoplan._errors import AnalysisError
from geoplan._io import read_csv_table
from geoplan.indicators import od_arrays
from geoplan.relocation.cities import FLOW_COLUMNS, RelocationResult, people_to_move, straight_lines
from geoplan.scenario import Scenario

__all__ = [
    "QUOTA_COLUMNS",
    "PolicyResult",
    "compare_modes",
    "policy_as_result",
    "quota_table_path",
    "read_quotas",
    "region_key",
    "relocate_policy",
    "yearly_quotas",
]

#: Columns of a quota table.
QUOTA_COLUMNS: tuple[str, ...] = ("year", "region", "quota_migrants")

# Spellings of the same region in the layers (boundaries and settlements use the KATO-era names).
_REGION_ALIASES: dict[str, str] = {"abay": "abai", "karagandy": "karaganda", "qaraghandy": "karaganda",
                                   "turkestan": "turkistan", "jambyl": "zhambyl", "jetisu": "zhetysu",
                                   "mangistau": "mangystau", "aqmola": "akmola", "aqtobe": "aktobe",
                                   "qostanay": "kostanay", "kostanai": "kostanay"}


def region_key(name: Any) -> str:
    """Return a comparable key of a region name (case, spacing, brackets and known spellings ignored)."""
    import re

    text = "" if name is None or (isinstance(name, float) and np.isnan(name)) else str(name)
    text = re.sub(r"\(.*?\)", " ", text.casefold())
    text = re.sub(r"\b(region|oblast|obl)\b", " ", text)
    key = re.sub(r"[^0-9a-zа-я]+", "", text)
    return _REGION_ALIASES.get(key, key)


def read_quotas(path: str | os.PathLike[str], *, regions: Sequence[str]) -> pd.DataFrame:
    """Read a resettlement quota table (``year``, ``region``, ``quota_migrants``; more columns kept).

    Parameters
    ----------
    path
        The CSV file (``layers/kazakhstan/resettlement_quotas.csv`` for the embedded set).
    regions
        Region names known to the layers (towns, centres, settlements, boundaries); every quota
        region must be one of them.

    Returns
    -------
    pandas.DataFrame
        ``year`` (int), ``region``, ``region_key``, ``quota_migrants`` (int) and the file's other
        columns, sorted by year and region.

    Raises
    ------
    AnalysisError
        For a missing file or column, a non-numeric or negative quota, a region named twice in
        a year, or a region the layers do not know; each names the file, the row and the fix.
    """
    p = Path(path)
    raw = read_csv_table(p, columns=QUOTA_COLUMNS, what="quota table",
                         missing_fix="set relocation.policy.quota_table to a CSV with columns "
                                     + ", ".join(QUOTA_COLUMNS))
    out = raw.copy()
    for col in ("year", "quota_migrants"):
        num = pd.to_numeric(out[col].str.strip(), errors="coerce")
        bad = num.isna() | (num < 0) | (num != num.round())
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise AnalysisError(f"{p}:{i + 2}: {col} {out[col].iloc[i]!r} is not a whole number >= 0",
                                fix=f"write {col} as a whole number")
        out[col] = num.astype(np.int64)
    known = {region_key(r): str(r) for r in regions if str(r).strip()}
    out["region_key"] = out["region"].map(region_key)
    for i, (name, key) in enumerate(zip(out["region"], out["region_key"], strict=True)):
        if key not in known:
            close = difflib.get_close_matches(str(name), sorted(set(known.values())), n=1)
            raise AnalysisError(f"{p}:{i + 2}: region {name!r} is not a region of the layers"
                                + (f" (did you mean {close[0]}?)" if close else ""),
                                fix="use the region names of the towns/centres layers (boundaries in force since "
                                    "June 2022), e.g. " + ", ".join(sorted(set(known.values()))[:5]))
    dup = out[out.duplicated(["year", "region_key"])]
    if len(dup):
        r = dup.iloc[0]
        raise AnalysisError(f"{p}: region {r['region']} has two quotas for {r['year']}",
                            fix="keep one row per year and region")
    return out.sort_values(["year", "region"], kind="mergesort").reset_index(drop=True)


def yearly_quotas(quotas: pd.DataFrame, *, start_year: int, years: int, share: float = 1.0,
                  later_years: str = "repeat_last") -> pd.DataFrame:
    """Quota per plan year and receiving region (regions with a positive quota in some year).

    Years after the last published one repeat it (``later_years="repeat_last"``) or have none.

    Returns
    -------
    pandas.DataFrame
        Index ``region_key``, one column per plan year, whole people (``share`` applied, floored).
    """
    table = quotas.pivot_table(index="region_key", columns="year", values="quota_migrants", aggfunc="sum",
                               fill_value=0)
    table = table[table.sum(axis=1) > 0]
    out = pd.DataFrame(index=table.index)
    published = sorted(int(c) for c in table.columns)  # years
    for y in range(start_year, start_year + years):
        if y in table.columns:
            col = table[y]
        elif y > published[-1] and later_years == "repeat_last":
            col = table[published[-1]]
        else:
            col = pd.Series(0, index=table.index)
        out[y] = np.floor(col.to_numpy(dtype=float) * share + 1e-9).astype(np.int64)
    return out


@dataclass
class PolicyResult:
    """What :func:`relocate_policy` returns.

    Attributes
    ----------
    flows
        ``origin``, ``destination``, ``destination_name``, ``region``, ``people``, ``minutes``,
        ``km`` (whole plan), sorted by origin and destination.
    years
        ``year``, ``region``, ``quota``, ``placed``, ``used`` (share of the quota), one row per
        plan year and receiving region.
    by_origin
        ``origin``, ``people_to_move``, ``placed``, ``unplaced``, ``first_year``, ``last_year``.
    summary
        Totals: ``people_to_move``, ``placed``, ``unplaced``, ``person_minutes``,
        ``mean_minutes``, ``years_used``, ``years_needed``, ``quota_needed_per_year`` and
        ``feasible``.
    """

    flows: pd.DataFrame
    years: pd.DataFrame
    by_origin: pd.DataFrame
    summary: dict[str, Any]


def relocate_policy(
    origins: pd.DataFrame,
    destinations: pd.DataFrame,
    od: Any,
    quotas: pd.DataFrame,
    *,
    config: Scenario | None = None,
) -> PolicyResult:
    """Phase the relocation over the plan's years into the receiving regions, within each year's quota.

    Parameters
    ----------
    origins
        Relocation towns (``id``, ``population``).
    destinations
        Candidate receiving places (``id``, ``name_en``, ``region``, ``population``); only those in
        a region with a quota and with at least ``relocation.policy.min_destination_population``
        people are used.
    od
        Travel times from the origins to the destinations.
    quotas
        From :func:`read_quotas`.
    config
        Scenario (``relocation`` section).

    Returns
    -------
    PolicyResult
        Never raises for a plan that does not fit: it places as many people as the quotas and
        capacities allow (earliest years first, then shortest trips) and says how many years at
        the reachable yearly quota, or how much yearly quota over the plan's years, it would need.

    Notes
    -----
    An integer program (HiGHS via :func:`scipy.optimize.milp`): variables are people per
    (origin, destination, year); each origin sends at most its people, each region takes at
    most its quota per year, each destination at most ``relocation.capacity_share`` of its
    population over the plan. The objective first places as many people as possible, then
    prefers earlier years and shorter trips.
    """
    cfg = config or Scenario.baseline()
    rc, pc = cfg.relocation, cfg.relocation.policy
    people = people_to_move(origins, share=rc.share_to_move) if len(origins) else pd.Series(dtype=np.int64)
    q = yearly_quotas(quotas, start_year=pc.start_year, years=pc.years, share=pc.quota_share,
                      later_years=pc.later_years)
    pairs = _usable_pairs(people, destinations, od, q, config=cfg)
    xm = _phase(pairs, q, max_minutes=rc.max_minutes)
    flows = _policy_flows(pairs, xm)
    by_origin = _origin_table(pairs, xm, list(q.columns))
    return PolicyResult(flows=flows, years=_year_table(pairs, xm, q, quotas), by_origin=by_origin,
                        summary=_policy_summary(pairs, xm, q, flows, by_origin))


@dataclass
class _Pairs:
    """The (origin, destination) pairs a policy plan may use, with what the program needs of them."""

    people: np.ndarray  # people to move per origin
    o_id: list[str]
    d: pd.DataFrame  # the destinations kept: in a region with a quota and large enough
    d_id: list[str]
    minutes: np.ndarray  # origins x destinations
    km: np.ndarray
    cap: np.ndarray  # people each destination can take over the plan
    oi: np.ndarray  # origin index of each usable pair
    di: np.ndarray  # destination index of each usable pair
    region_of: np.ndarray  # region key of each destination


def _usable_pairs(people: pd.Series, destinations: pd.DataFrame, od: Any, q: pd.DataFrame, *,
                  config: Scenario) -> _Pairs:
    """Keep the destinations in a quota region and large enough; pair them with the origins within reach."""
    rc, pc = config.relocation, config.relocation.policy
    d = destinations.copy()
    d["region_key"] = d["region"].map(region_key)
    d_pop = pd.to_numeric(d["population"], errors="coerce").fillna(0).to_numpy(dtype=float)
    keep = d["region_key"].isin(q.index).to_numpy() & (d_pop >= pc.min_destination_population)
    d = d[keep].reset_index(drop=True)
    d_pop = d_pop[keep]
    o_id = [str(x) for x in people.index]
    d_id = d["id"].astype(str).tolist()
    minutes, km = od_arrays(od, o_id, d_id) if len(o_id) and len(d_id) else (np.zeros((len(o_id), len(d_id))),) * 2
    cap = np.floor(d_pop * rc.capacity_share + 1e-9).astype(np.int64)
    allowed = np.isfinite(minutes) & (minutes <= rc.max_minutes) & (cap[None, :] > 0)
    oi, di = np.nonzero(allowed)
    return _Pairs(people=people.to_numpy(dtype=np.int64), o_id=o_id, d=d, d_id=d_id, minutes=minutes, km=km,
                  cap=cap, oi=oi, di=di, region_of=d["region_key"].to_numpy(dtype=object))


def _phase(pairs: _Pairs, q: pd.DataFrame, *, max_minutes: float) -> np.ndarray:
    """Solve the integer program: people per usable pair (rows) and plan year (columns)."""
    ny = q.shape[1]
    n_pairs = len(pairs.oi)
    if not (n_pairs and int(pairs.people.sum())):
        return np.zeros((n_pairs, ny))
    oi, di = pairs.oi, pairs.di
    regions = list(q.index)
    var_pair = np.repeat(np.arange(n_pairs), ny)
    var_year = np.tile(np.arange(ny), n_pairs)
    cols = np.arange(n_pairs * ny)
    # Placing a person always pays (-big); among placements, earlier years and shorter trips cost less.
    big = float(max_minutes) + ny + 1.0
    cost = pairs.minutes[oi[var_pair], di[var_pair]] + var_year.astype(float) - big
    a_o = csr_matrix((np.ones(len(cols)), (oi[var_pair], cols)), shape=(len(pairs.o_id), len(cols)))
    reg_idx = np.array([regions.index(pairs.region_of[j]) for j in di[var_pair]])
    a_q = csr_matrix((np.ones(len(cols)), (reg_idx * ny + var_year, cols)), shape=(len(regions) * ny, len(cols)))
    a_d = csr_matrix((np.ones(len(cols)), (di[var_pair], cols)), shape=(len(pairs.d_id), len(cols)))
    quota_vec = q.to_numpy(dtype=float).reshape(-1)
    sol = milp(cost, constraints=[LinearConstraint(a_o, 0, pairs.people), LinearConstraint(a_q, 0, quota_vec),
                                  LinearConstraint(a_d, 0, pairs.cap)],
               integrality=np.ones(len(cols)), bounds=Bounds(0, np.inf))
    if sol.status != 0 or sol.x is None:
        raise AnalysisError(f"the phased relocation could not be solved: {sol.message}",
                            fix="report this with the scenario file")
    return np.asarray(np.round(sol.x).reshape(n_pairs, ny))


def _policy_flows(pairs: _Pairs, xm: np.ndarray) -> pd.DataFrame:
    """One row per pair with people over the whole plan, sorted by origin and destination."""
    n_pairs = len(pairs.oi)
    per_pair = xm.sum(axis=1)
    used = per_pair > 0
    oi, di, d = pairs.oi[used], pairs.di[used], pairs.d
    d_name = d.get("name_en", d["id"]).astype(str).to_numpy(dtype=object)
    return pd.DataFrame({
        "origin": np.asarray(pairs.o_id, dtype=object)[oi] if n_pairs else [],
        "destination": np.asarray(pairs.d_id, dtype=object)[di] if n_pairs else [],
        "destination_name": d_name[di] if n_pairs else [],
        "region": d["region"].to_numpy(dtype=object)[di] if n_pairs else [],
        "people": per_pair[used].astype(np.int64),
        "minutes": pairs.minutes[oi, di] if n_pairs else [],
        "km": pairs.km[oi, di] if n_pairs else [],
    }).sort_values(["origin", "destination"], kind="mergesort").reset_index(drop=True)


def _year_table(pairs: _Pairs, xm: np.ndarray, q: pd.DataFrame, quotas: pd.DataFrame) -> pd.DataFrame:
    """Quota, people placed and the share used, per plan year and receiving region."""
    n_pairs = len(pairs.oi)
    region_name = {region_key(r): str(r) for r in quotas["region"]}
    rows = []
    for g, key in enumerate(q.index):
        sel = np.array([pairs.region_of[j] == key for j in pairs.di], dtype=bool) if n_pairs else np.zeros(0, bool)
        for k, y in enumerate(q.columns):
            placed = int(xm[sel, k].sum()) if n_pairs else 0
            quota = int(q.to_numpy()[g, k])
            rows.append({"year": y, "region": region_name.get(key, key), "quota": quota, "placed": placed,
                         "used": round(placed / quota, 4) if quota else np.nan})
    return pd.DataFrame(rows, columns=["year", "region", "quota", "placed", "used"])


def _origin_table(pairs: _Pairs, xm: np.ndarray, plan_years: list[Any]) -> pd.DataFrame:
    """People to move, placed and left over, and the first and last year of placement, per origin."""
    n_pairs = len(pairs.oi)
    n = len(pairs.o_id)
    placed_o = np.zeros(n, dtype=np.int64)
    first = np.full(n, -1)
    last = np.full(n, -1)
    for r in range(n):
        sel = pairs.oi == r
        if n_pairs and sel.any():
            by_year = xm[sel].sum(axis=0)
            placed_o[r] = int(by_year.sum())
            nz = np.flatnonzero(by_year > 0)
            if len(nz):
                first[r], last[r] = plan_years[nz[0]], plan_years[nz[-1]]
    p = pairs.people
    return pd.DataFrame({"origin": pairs.o_id, "people_to_move": p, "placed": placed_o, "unplaced": p - placed_o,
                         "first_year": pd.array(np.where(first >= 0, first, np.nan), dtype="Int64"),
                         "last_year": pd.array(np.where(last >= 0, last, np.nan), dtype="Int64")})


def _policy_summary(pairs: _Pairs, xm: np.ndarray, q: pd.DataFrame, flows: pd.DataFrame,
                    by_origin: pd.DataFrame) -> dict[str, Any]:
    """Totals of a plan, and what a plan that does not fit would need."""
    n_pairs = len(pairs.oi)
    plan_years = list(q.columns)
    total = int(pairs.people.sum())
    placed = int(by_origin["placed"].sum())
    # What a plan that does not fit would need: the yearly quota of the regions it can reach.
    reach_regions = sorted({pairs.region_of[j] for j in set(pairs.di.tolist())}) if n_pairs else []
    annual = int(q.loc[reach_regions, plan_years[-1]].sum()) if reach_regions else 0
    dest_cap = int(pairs.cap[sorted(set(pairs.di.tolist()))].sum()) if n_pairs else 0
    pm = float((flows["people"] * flows["minutes"]).sum()) if len(flows) else 0.0
    return {
        "mode": "policy", "people_to_move": total, "placed": placed, "unplaced": total - placed,
        "feasible": placed == total, "person_minutes": pm, "mean_minutes": pm / placed if placed else float("nan"),
        "destinations": int(flows["destination"].nunique()), "regions": int(flows["region"].nunique()),
        "plan_years": f"{plan_years[0]}-{plan_years[-1]}",
        "years_used": int((xm.sum(axis=0) > 0).sum()) if n_pairs else 0,
        "years_needed": (math.ceil(total / annual) if annual and total <= dest_cap else None),
        "quota_needed_per_year": math.ceil(total / len(plan_years)) if plan_years else None,
        "reachable_quota_per_year": annual, "destination_capacity": dest_cap,
    }

def quota_table_path(folder: Path | None, *, config: Scenario) -> Path | None:
    """Return the scenario's quota table: ``relocation.policy.quota_table``, else the one beside the layers."""
    pc = config.relocation.policy
    if pc.quota_table:
        return config.resolve(pc.quota_table)
    if folder is not None and (folder / "resettlement_quotas.csv").is_file():
        return folder / "resettlement_quotas.csv"
    return None


def compare_modes(cities: RelocationResult | AnalysisError | None, policy: PolicyResult | None) -> pd.DataFrame:
    """One row per relocation mode with the same figures, for ``relocation_comparison.csv``.

    Parameters
    ----------
    cities
        The ``cities`` mode's result, or the error that made it impossible.
    policy
        The ``policy`` mode's result (``None`` without a quota table).

    Returns
    -------
    pandas.DataFrame
        ``mode``, ``people_to_move``, ``placed``, ``unplaced``, ``feasible``, ``person_minutes``,
        ``mean_minutes``, ``destinations``, ``years``, ``years_needed``, ``quota_needed_per_year``,
        ``note``.
    """
    rows = []
    if isinstance(cities, RelocationResult):
        moved = int(cities.flows["people"].sum()) if len(cities.flows) else 0
        pm = cities.person_minutes
        rows.append({"mode": "cities", "people_to_move": moved, "placed": moved, "unplaced": 0, "feasible": True,
                     "person_minutes": round(pm), "mean_minutes": round(pm / moved, 1) if moved else None,
                     "destinations": int(cities.flows["destination"].nunique()) if len(cities.flows) else 0,
                     "years": "", "years_needed": None, "quota_needed_per_year": None,
                     "note": "large cities, capacity a share of their population, no phasing"})
    elif isinstance(cities, AnalysisError):
        unplaced = getattr(getattr(cities.__cause__, "unplaced", None), "sum", lambda: None)()
        rows.append({"mode": "cities", "people_to_move": None, "placed": None,
                     "unplaced": int(unplaced) if unplaced is not None else None, "feasible": False,
                     "person_minutes": None, "mean_minutes": None, "destinations": None, "years": "",
                     "years_needed": None, "quota_needed_per_year": None, "note": cities.message})
    if policy is not None:
        s = policy.summary
        rows.append({"mode": "policy", "people_to_move": s["people_to_move"], "placed": s["placed"],
                     "unplaced": s["unplaced"], "feasible": s["feasible"], "person_minutes": round(s["person_minutes"]),
                     "mean_minutes": round(s["mean_minutes"], 1) if s["placed"] else None,
                     "destinations": s["destinations"], "years": s["plan_years"], "years_needed": s["years_needed"],
                     "quota_needed_per_year": s["quota_needed_per_year"],
                     "note": (f"receiving regions within yearly quotas ({s['reachable_quota_per_year']:,}/yr "
                              f"reachable, destination capacity {s['destination_capacity']:,})")})
    return pd.DataFrame(rows, columns=["mode", "people_to_move", "placed", "unplaced", "feasible", "person_minutes",
                                       "mean_minutes", "destinations", "years", "years_needed",
                                       "quota_needed_per_year", "note"])


def policy_as_result(policy: PolicyResult, towns: gpd.GeoDataFrame, centres: gpd.GeoDataFrame,
                     destinations: gpd.GeoDataFrame) -> RelocationResult:
    """Present a policy plan like the ``cities`` mode's result (flows as straight lines to the receiving places)."""
    towns = towns.sort_values("id", kind="mergesort", key=lambda s: s.astype(str)).reset_index(drop=True)
    f = policy.flows.copy()
    names = towns.set_index(towns["id"].astype(str)).get("name_en", pd.Series(dtype=object))
    f.insert(1, "origin_name", f["origin"].map(names))
    geoms = straight_lines(f, towns, destinations) if len(f) else np.empty(0, dtype=object)
    flows = gpd.GeoDataFrame(f[[*FLOW_COLUMNS[:5], "minutes", "km"]].assign(region=f["region"]),
                             geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)
    main = (f.sort_values(["origin", "people", "minutes", "destination"], ascending=[True, False, True, True],
                          kind="mergesort").drop_duplicates("origin").set_index("origin")["destination"])
    out = towns.copy()
    tid = out["id"].astype(str)
    moving = policy.by_origin.set_index("origin")["people_to_move"]
    out["people_to_move"] = pd.array(moving.reindex(tid).to_numpy(), dtype="Int64")
    out["destination"] = pd.Series([main.get(t) for t in tid], dtype=object).to_numpy()
    geom = out.geometry.name
    out = out[[c for c in out.columns if c != geom] + [geom]]
    c = centres.copy()
    allocated = f.groupby("destination")["people"].sum() if len(f) else pd.Series(dtype=np.int64)
    c["capacity"] = np.nan
    c["allocated"] = allocated.reindex(c["id"].astype(str)).fillna(0).astype(np.int64).to_numpy()
    c["capacity_used"] = np.nan
    geom = c.geometry.name
    c = c[[x for x in c.columns if x != geom] + [geom]]
    return RelocationResult(towns=out, centres=c, flows=flows, candidates=pd.DataFrame())
