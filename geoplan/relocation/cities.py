"""The ``cities`` mode of relocation: where the residents of relocation towns could move, and how many to each place.

Three steps, each usable on its own:

1. :func:`rank_destinations` lists, for every relocation town, the growth centres it could move
   to (at least ``relocation.min_destination_population`` people, at most
   ``relocation.max_minutes`` by road, never the town itself) ranked by a gravity score,
   ``population * exp(-beta * minutes) * (1 + growth/100) ** 10``: the centre's weight in the
   town's Hansen accessibility, scaled by a decade of its own population trend when the
   centres layer carries a census column (the embedded one does not; the factor is then 1 and
   ``growth_pct_per_year`` is NaN). The best ``relocation.n_candidates`` are kept.
2. :func:`allocate` splits the people to move (``relocation.share_to_move`` of each town's
   population) among those candidates so that the total person-minutes travelled is smallest,
   while no destination takes more than its capacity (``relocation.capacity_share`` of its own
   population, shared by all towns sending people there). It is a transportation problem,
   solved as a linear program with HiGHS (:func:`scipy.optimize.linprog`). Its constraint
   matrix is totally unimodular, so with whole numbers of people and capacities the simplex
   vertex is already in whole people; the solution is checked and, should rounding ever break a
   constraint, re-solved as an integer program (:func:`scipy.optimize.milp`).
3. :func:`relocate` runs both for a classified towns layer and returns flows with their road
   geometry, each centre's capacity and allocation, and each town's main destination.

An allocation that cannot place everyone raises :class:`~geoplan.AnalysisError` naming the
towns and how many people are left over, and which scenario key to change.

Examples
--------
>>> import pandas as pd
>>> from geoplan.relocation import allocate
>>> minutes = pd.DataFrame({"a": [60.0, 100.0], "b": [90.0, 30.0]}, index=["x", "y"])
>>> allocate(pd.Series({"x": 10, "y": 5}), pd.Series({"a": 8, "b": 20}), minutes)[["origin", "destination", "people"]]
  origin destination  people
0      x           a       8
1      x           b       2
2      y           b       5

"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import csr_matrix, vstack

from geoplan._errors import AnalysisError
from geoplan.classify import growth_rate
from geoplan.indicators import od_arrays, populations
from geoplan.scenario import Scenario

__all__ = [
    "FLOW_COLUMNS",
    "GROWTH_HORIZON_YEARS",
    "RelocationResult",
    "allocate",
    "capacities",
    "people_to_move",
    "rank_destinations",
    "relocate",
    "straight_lines",
]

#: Years of a destination's own trend that its ranking score anticipates.
GROWTH_HORIZON_YEARS = 10

FLOW_COLUMNS = ("origin", "origin_name", "destination", "destination_name", "people", "minutes", "km")


@dataclass
class RelocationResult:
    """What :func:`relocate` returns.

    Attributes
    ----------
    towns
        The classified towns with ``people_to_move`` and ``destination`` (the centre receiving
        most of a relocation town's people; ``None`` elsewhere).
    centres
        The centres layer with ``capacity`` (people it can absorb), ``allocated`` (people sent
        there) and ``capacity_used`` (0..1).
    flows
        One line per origin-destination pair with people: ``origin``, ``origin_name``,
        ``destination``, ``destination_name``, ``people``, ``minutes``, ``km``; geometry
        along the road route, EPSG:4326; sorted by origin, destination.
    candidates
        The ranked destinations of every relocation town (see :func:`rank_destinations`).

    """

    towns: gpd.GeoDataFrame
    centres: gpd.GeoDataFrame
    flows: gpd.GeoDataFrame
    candidates: pd.DataFrame

    @property
    def person_minutes(self) -> float:
        """Total person-minutes of the allocation (the quantity it minimises)."""
        return float((self.flows["people"] * self.flows["minutes"]).sum()) if len(self.flows) else 0.0


def _round_half_up(x: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(x, dtype=float) + 0.5).astype(np.int64)


def people_to_move(towns: pd.DataFrame, *, share: float) -> pd.Series:
    """People to move from each town: ``share`` of its population, rounded to whole people."""
    if not 0 < share <= 1:
        raise AnalysisError(f"share of people to move is {share}; it must be in (0, 1]",
                            fix="set relocation.share_to_move to a fraction such as 0.2")
    pop = populations(towns, "towns")
    return pd.Series(_round_half_up(pop * share), index=towns["id"].astype(str).to_numpy(), name="people")


def capacities(centres: pd.DataFrame, *, share: float) -> pd.Series:
    """People each centre can absorb: ``share`` of its population, rounded down."""
    pop = populations(centres, "centres")
    return pd.Series(np.floor(pop * share + 1e-9).astype(np.int64), index=centres["id"].astype(str).to_numpy(),
                     name="capacity")


def rank_destinations(
    origins: pd.DataFrame,
    centres: pd.DataFrame,
    od: Any,
    *,
    config: Scenario | None = None,
) -> pd.DataFrame:
    """Candidate destinations of each origin town, best first.

    Parameters
    ----------
    origins
        Towns to move people from (``id``, ``name_en``).
    centres
        The centres layer (``id``, ``name_en``, ``population``).
    od
        Travel times from the origins to the centres (ODMatrix or its long table).
    config
        Scenario (``relocation`` and ``accessibility`` sections); the baseline when omitted.

    Returns
    -------
    pandas.DataFrame
        ``origin``, ``origin_name``, ``rank`` (1 = best), ``destination``,
        ``destination_name``, ``minutes``, ``km``, ``population``, ``growth_pct_per_year``,
        ``score`` and ``capacity``; at most ``relocation.n_candidates`` rows per origin,
        sorted by origin and rank. An origin without any candidate has no rows.

    """
    cfg = config or Scenario.baseline()
    rc = cfg.relocation
    o_id = origins["id"].astype(str).to_numpy(dtype=object)
    o_name = origins.get("name_en", origins["id"]).astype(str).to_numpy(dtype=object)
    c_id = centres["id"].astype(str).to_numpy(dtype=object)
    c_name = centres.get("name_en", centres["id"]).astype(str).to_numpy(dtype=object)
    c_pop = populations(centres, "centres")
    cap = capacities(centres, share=rc.capacity_share).to_numpy()
    growth, _ = growth_rate(centres, min_years=cfg.indicators.min_trend_years)
    minutes, km = od_arrays(od, o_id, c_id)
    allowed = ((o_id[:, None] != c_id[None, :]) & np.isfinite(minutes) & (minutes <= rc.max_minutes)
               & (c_pop[None, :] >= rc.min_destination_population))
    i, j = np.nonzero(allowed)
    factor = np.where(np.isfinite(growth), (1 + growth / 100.0) ** GROWTH_HORIZON_YEARS, 1.0)
    score = c_pop[j] * np.exp(-cfg.accessibility.beta_per_minute * minutes[i, j]) * factor[j]
    table = pd.DataFrame({
        "origin": o_id[i], "origin_name": o_name[i], "destination": c_id[j], "destination_name": c_name[j],
        "minutes": minutes[i, j], "km": km[i, j], "population": c_pop[j].astype(np.int64),
        "growth_pct_per_year": growth[j], "score": score, "capacity": cap[j],
    })
    table = table.sort_values(["origin", "score", "minutes", "destination"], ascending=[True, False, True, True],
                              kind="mergesort")
    table["rank"] = table.groupby("origin", sort=False).cumcount() + 1
    table = table[table["rank"] <= rc.n_candidates]
    cols = ["origin", "origin_name", "rank", "destination", "destination_name", "minutes", "km", "population",
            "growth_pct_per_year", "score", "capacity"]
    return table[cols].reset_index(drop=True)


def _whole(values: pd.Series, what: str) -> np.ndarray:
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(v) | (v < 0) | (np.abs(v - np.round(v)) > 1e-9)
    if bad.any():
        shown = ", ".join(f"{k}: {x}" for k, x in zip(values.index[bad][:5], values.to_numpy()[bad][:5], strict=True))
        raise AnalysisError(f"{what} must be whole numbers >= 0; got {shown}", fix=f"round {what} to whole people")
    return np.round(v).astype(np.int64)


def allocate(
    people: pd.Series,
    capacity: pd.Series,
    minutes: pd.DataFrame,
    *,
    km: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Allocate people from origins to destinations, minimising total person-minutes.

    Parameters
    ----------
    people
        Whole number of people to move, indexed by origin id.
    capacity
        Whole number of people each destination can absorb, indexed by destination id.
    minutes
        Travel time from each origin (rows) to each destination (columns). Missing, NaN or
        infinite entries mark pairs that may not be used; a destination with the origin's own
        id is never used.
    km
        Road distance of the same pairs, copied into the result.

    Returns
    -------
    pandas.DataFrame
        ``origin``, ``destination``, ``people`` (int), ``minutes``, ``km``: the pairs with
        people, sorted by origin and destination. Every origin's people sum to its ``people``
        and no destination exceeds its ``capacity``.

    Raises
    ------
    AnalysisError
        When the people cannot all be placed; the message names each origin with people left
        over and the destinations that are full.

    """
    o = pd.Index(people.index.astype(str))
    d = pd.Index(capacity.index.astype(str))
    if o.has_duplicates or d.has_duplicates:
        raise AnalysisError("origins and destinations must each be listed once", fix="aggregate duplicate ids first")
    p = _whole(people, "people to move")
    cap = _whole(capacity, "capacities")
    mins = minutes.copy()
    mins.index = mins.index.astype(str)
    mins.columns = mins.columns.astype(str)
    m = mins.reindex(index=o, columns=d).to_numpy(dtype=float)
    if km is not None:
        kk = km.copy()
        kk.index = kk.index.astype(str)
        kk.columns = kk.columns.astype(str)
        k = kk.reindex(index=o, columns=d).to_numpy(dtype=float)
    else:
        k = np.full(m.shape, np.nan)
    allowed = np.isfinite(m) & (o.to_numpy()[:, None] != d.to_numpy()[None, :]) & (p[:, None] > 0) & (cap[None, :] > 0)
    if np.any(m[allowed] < 0):
        raise AnalysisError("travel times must not be negative", fix="check the OD table")

    if np.any(p > (allowed * cap[None, :]).sum(axis=1)):
        # Some origin cannot be served even with every destination it may use to itself.
        raise _shortfall(p, cap, allowed, o, d)
    empty = pd.DataFrame({"origin": pd.Series([], dtype=object), "destination": pd.Series([], dtype=object),
                          "people": pd.Series([], dtype=np.int64), "minutes": pd.Series([], dtype=float),
                          "km": pd.Series([], dtype=float)})
    if p.sum() == 0:
        return empty
    i, j = np.nonzero(allowed)
    n = len(i)
    cost = m[i, j]
    a_eq = csr_matrix((np.ones(n), (i, np.arange(n))), shape=(len(o), n))
    a_ub = csr_matrix((np.ones(n), (j, np.arange(n))), shape=(len(d), n))
    res = linprog(cost, A_ub=a_ub, b_ub=cap, A_eq=a_eq, b_eq=p, bounds=(0, None), method="highs-ds")
    if res.status == 2:
        raise _shortfall(p, cap, allowed, o, d)
    if res.status != 0:
        raise AnalysisError(f"the allocation could not be solved: {res.message}",
                            fix="report this with the scenario file; it should not happen for valid inputs")
    x = np.round(res.x).astype(np.int64)
    exact = (np.abs(res.x - x).max(initial=0) < 1e-6 and np.array_equal(a_eq @ x, p)
             and np.all(a_ub @ x <= cap) and np.all(x >= 0))
    if not exact:
        sol = milp(cost, constraints=[LinearConstraint(a_eq, p, p), LinearConstraint(a_ub, 0, cap)],
                   integrality=np.ones(n), bounds=Bounds(0, np.inf))
        if sol.status != 0:
            raise AnalysisError(f"the integer allocation could not be solved: {sol.message}",
                                fix="report this with the scenario file")
        x = np.round(sol.x).astype(np.int64)
    used = x > 0
    out = pd.DataFrame({
        "origin": o.to_numpy()[i[used]],
        "destination": d.to_numpy()[j[used]],
        "people": x[used],
        "minutes": m[i[used], j[used]],
        "km": k[i[used], j[used]],
    })
    return out.sort_values(["origin", "destination"], kind="mergesort").reset_index(drop=True)


def _shortfall(p: np.ndarray, cap: np.ndarray, allowed: np.ndarray, o: pd.Index, d: pd.Index) -> AnalysisError:
    """Explain an infeasible allocation: place as many people as possible and report the rest.

    The error carries ``unplaced`` (people left over by origin in one maximal placement); its
    sum is the true shortfall, whichever origins it is attributed to.
    """
    i, j = np.nonzero(allowed)
    n = len(i)
    a_eq = csr_matrix((np.ones(n), (i, np.arange(n))), shape=(len(o), n))
    a_ub = csr_matrix((np.ones(n), (j, np.arange(n))), shape=(len(d), n))
    if n:
        best = linprog(-np.ones(n), A_ub=vstack([a_eq, a_ub]).tocsr(), b_ub=np.r_[p, cap], bounds=(0, None),
                       method="highs-ds")
        x = np.round(best.x) if best.status == 0 else np.zeros(n)
    else:
        x = np.zeros(0)
    left = p - (a_eq @ x).astype(np.int64) if n else p.copy()
    load = (a_ub @ x).astype(np.int64) if n else np.zeros(len(d), np.int64)
    reach_cap = (allowed * cap[None, :]).sum(axis=1)
    lines = []
    for r in np.flatnonzero(left > 0):
        dest = d[allowed[r]]
        where = ", ".join(f"{x_} ({cap[k]:,}{', full' if load[k] >= cap[k] else ''})"
                          for x_ in dest for k in [d.get_loc(x_)]) or "none it may use"
        alone = f", more than all its destinations can take ({reach_cap[r]:,})" if p[r] > reach_cap[r] else ""
        lines.append(f"{o[int(r)]}: {left[r]:,} of {p[r]:,} left over{alone} [destinations: {where}]")
    err = AnalysisError(f"cannot place everyone: {left.sum():,} of {p.sum():,} people have no place; "
                        + "; ".join(lines),
                        fix="raise the destinations' capacity, allow more or farther destinations, "
                            "or move fewer people")
    err.unplaced = pd.Series(left[left > 0], index=o[left > 0])  # type: ignore[attr-defined]
    return err


def straight_lines(flows: pd.DataFrame, towns: gpd.GeoDataFrame, centres: gpd.GeoDataFrame) -> np.ndarray:
    """Return a straight line (EPSG:4326) from each flow's origin town to its destination.

    Parameters
    ----------
    flows
        ``origin`` and ``destination`` ids.
    towns, centres
        Layers holding the origins and the destinations (``id``, point geometry).

    Returns
    -------
    numpy.ndarray
        Shapely LineStrings, one per flow.
    """
    tp = towns.to_crs(4326).set_index(towns["id"].astype(str).to_numpy()).geometry
    cp = centres.to_crs(4326).set_index(centres["id"].astype(str).to_numpy()).geometry
    a = np.asarray(tp.reindex(flows["origin"]).array, dtype=object)
    b = np.asarray(cp.reindex(flows["destination"]).array, dtype=object)
    coords = np.stack([shapely.get_coordinates(a), shapely.get_coordinates(b)], axis=1)
    return np.asarray(shapely.linestrings(coords))


def _route_lines(flows: pd.DataFrame, towns: gpd.GeoDataFrame, centres: gpd.GeoDataFrame, route: Any) -> np.ndarray:
    if len(flows) == 0:
        return np.empty(0, dtype=object)
    pairs = list(zip(flows["origin"], flows["destination"], strict=True))
    if route is None:
        return straight_lines(flows, towns, centres)
    if hasattr(route, "edge_u"):
        from geoplan.traveltime import routes

        lines = routes(route, pairs)
    elif callable(route):
        fn: Callable[[str, str], Any] = route
        lines = [fn(a, b) for a, b in pairs]
    else:
        raise AnalysisError(f"route must be a RoadNetwork, a function (origin, destination) -> LineString or None, "
                            f"not {type(route).__name__}", fix="pass the network the travel times came from")
    missing = [f"{a}->{b}" for (a, b), g in zip(pairs, lines, strict=True) if g is None]
    if missing:
        raise AnalysisError(f"no road route for flow(s) {', '.join(missing[:5])}",
                            fix="pass the same network the travel times were computed on")
    return np.asarray(lines, dtype=object)


def relocate(
    towns: gpd.GeoDataFrame,
    centres: gpd.GeoDataFrame,
    od: Any,
    *,
    config: Scenario | None = None,
    route: Any = None,
) -> RelocationResult:
    """Rank destinations and allocate the people of every relocation town.

    Parameters
    ----------
    towns
        Classified towns (:func:`geoplan.classify.classify_towns`); rows with category
        ``relocation`` are the origins.
    centres
        The centres layer.
    od
        Travel times from the towns to the centres (ODMatrix or its long table).
    config
        Scenario; the baseline when omitted.
    route
        Geometry of the flows: the :class:`~geoplan.network.RoadNetwork` the travel times came
        from (routes along roads), a function ``(origin, destination) -> LineString``, or
        ``None`` for straight lines.

    Returns
    -------
    RelocationResult

    Raises
    ------
    AnalysisError
        When a relocation town has no destination within reach, or the destinations cannot
        absorb everyone; the message names the towns and the scenario keys to change.

    """
    cfg = config or Scenario.baseline()
    rc = cfg.relocation
    if "category" not in towns.columns:
        raise AnalysisError("towns have no 'category' column",
                            fix="classify the towns first (geoplan.classify.classify_towns)")
    towns = towns.sort_values("id", kind="mergesort", key=lambda s: s.astype(str)).reset_index(drop=True)
    centres = centres.sort_values("id", kind="mergesort", key=lambda s: s.astype(str)).reset_index(drop=True)
    origins = towns[towns["category"] == "relocation"]
    people = people_to_move(origins, share=rc.share_to_move)
    cands = rank_destinations(origins, centres, od, config=cfg)
    cap = capacities(centres, share=rc.capacity_share)
    keys = (f"relocation.capacity_share (now {rc.capacity_share:g}), relocation.n_candidates (now {rc.n_candidates}) "
            f"or relocation.max_minutes (now {rc.max_minutes:g}), or lower relocation.share_to_move "
            f"(now {rc.share_to_move:g})")

    lonely = sorted(set(origins["id"].astype(str)) - set(cands["origin"]))
    if lonely:
        names = origins.set_index(origins["id"].astype(str)).get("name_en", pd.Series(dtype=object))
        shown = ", ".join(f"{names.get(t, t)} ({t})" for t in lonely)
        raise AnalysisError(
            f"no destination for relocation town(s) {shown}: no growth centre of "
            f"{rc.min_destination_population:,}+ people within {rc.max_minutes:g} min by road",
            fix="raise relocation.max_minutes or lower relocation.min_destination_population in the scenario")

    # One row per (origin, destination) in cands, so a pivot table aggregates nothing.
    minutes = cands.pivot_table(index="origin", columns="destination", values="minutes", aggfunc="first")
    km = cands.pivot_table(index="origin", columns="destination", values="km", aggfunc="first")
    dests = sorted(cands["destination"].unique())
    try:
        flows = allocate(people, cap.reindex(dests), minutes, km=km)
    except AnalysisError as exc:
        raise AnalysisError(f"relocation: {exc.message}", fix=f"raise {keys} in the scenario") from exc

    t_name = towns.set_index(towns["id"].astype(str))["name_en"] if "name_en" in towns else None
    c_name = centres.set_index(centres["id"].astype(str))["name_en"] if "name_en" in centres else None
    flows.insert(1, "origin_name", flows["origin"].map(t_name) if t_name is not None else flows["origin"])
    flows.insert(3, "destination_name",
                 flows["destination"].map(c_name) if c_name is not None else flows["destination"])
    geoms = _route_lines(flows, towns, centres, route)
    flows_gdf = gpd.GeoDataFrame(flows[list(FLOW_COLUMNS)], geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)

    # The main destination of each town: most people, then the shorter trip.
    main = (flows.sort_values(["origin", "people", "minutes", "destination"], ascending=[True, False, True, True],
                              kind="mergesort").drop_duplicates("origin").set_index("origin")["destination"])
    towns_out = towns.copy()
    tid = towns_out["id"].astype(str)
    towns_out["people_to_move"] = pd.array(people.reindex(tid).to_numpy(), dtype="Int64")
    towns_out["destination"] = [main.get(t) for t in tid]
    geom = towns_out.geometry.name
    towns_out = towns_out[[c for c in towns_out.columns if c != geom] + [geom]]

    centres_out = centres.copy()
    cid = centres_out["id"].astype(str)
    allocated = flows.groupby("destination")["people"].sum() if len(flows) else pd.Series(dtype=np.int64)
    centres_out["capacity"] = cap.reindex(cid).to_numpy()
    centres_out["allocated"] = allocated.reindex(cid).fillna(0).astype(np.int64).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        used = np.where(centres_out["capacity"] > 0, centres_out["allocated"] / centres_out["capacity"], np.nan)
    centres_out["capacity_used"] = used
    geom = centres_out.geometry.name
    centres_out = centres_out[[c for c in centres_out.columns if c != geom] + [geom]]
    return RelocationResult(towns=towns_out, centres=centres_out, flows=flows_gdf, candidates=cands)
