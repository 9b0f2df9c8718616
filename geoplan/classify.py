"""The policy track of every town, decided by an explicit decision table, each with its reason.

Steps:

1. **List status**: a town whose ``on_list`` carries an ``exited_*`` tag has left the monotown
   list (Saran and Tekeli, 2024); its ``status`` is ``exited`` and, unless
   ``categories.analyse_exited`` is set, it is not assessed (category ``not_assessed``) and
   does not take part in the index. Every other town is ``listed``.
2. **Indicators** (:mod:`geoplan.indicators`) and the **composite index** of potential
   (:mod:`geoplan.composite`): ``score``, ``rank``, potential ``group``.
3. **Decision table** (``categories.rules``, first matching rule wins) on five facts per town:
   ``growth_point`` (the town is itself a centre whose role is in
   ``categories.growth_point_roles``: Zhezkazgan, the Ulytau region's centre since 2022, is a
   growth point, not a candidate for another city's agglomeration), ``within_reach`` (a
   qualifying centre within ``agglomeration.max_minutes``), ``group``, ``declining``
   (population trend below ``categories.decline_pct_per_year``) and ``small`` (at most
   ``categories.relocation_max_population`` people). Unknown facts are never guessed: a rule
   that depends on an unknown fact stops the table and the town is ``monitor``, its reason
   naming the missing fact.
4. **Reason**: one sentence naming the deciding facts (the conditions of the rule that matched
   and those that made an earlier rule fail), and the rule's number.
5. **Borderline**: a deciding fact within ``sensitivity.borderline_share`` (10 %) of its
   threshold (``minutes`` of ``max_minutes``; ``population`` of the size limit; the score of
   the range of scores from a group limit; the trend of 1 %/yr from its cut-off), named in
   ``borderline_on``.

Examples
--------
>>> import geoplan, pandas as pd
>>> from geoplan.network import build_network, attach_places
>>> from geoplan.traveltime import od_matrix
>>> from geoplan.classify import indicators, classify_towns
>>> layers = geoplan.read_layers(geoplan.embedded_layers_path())
>>> places = pd.concat([layers.towns[["id", "geometry"]], layers.centres[["id", "geometry"]]])
>>> net, _ = attach_places(build_network(layers.roads), places)
>>> od = od_matrix(net, list(layers.towns["id"]), list(layers.centres["id"]))
>>> result = classify_towns(layers.towns, indicators(layers.towns, layers.centres, od)).set_index("id")
>>> result.loc["zhezkazgan", "category"], result.loc["saran", "status"], result.loc["saran", "category"]
('diversification', 'exited', 'not_assessed')

"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geoplan._errors import AnalysisError
from geoplan.composite import composite_index
from geoplan.indicators import Catalogue, compute, od_arrays, population_trend, populations
from geoplan.scenario import Scenario
from geoplan.scenario.assessment import Rule
from geoplan.settings import CATEGORIES, MIN_MINUTES_CHANGE

__all__ = [
    "CATEGORIES",
    "CONDITIONS",
    "STATUSES",
    "classify_towns",
    "compare_results",
    "decide",
    "indicators",
    "list_status",
    "od_arrays",
]

#: List status of a town.
STATUSES: tuple[str, ...] = ("listed", "exited")
#: Facts a decision rule may test, in the order they are checked and named.
CONDITIONS: tuple[str, ...] = ("growth_point", "within_reach", "group", "declining", "small")


def growth_rate(frame: pd.DataFrame, *, min_years: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """Annualised population change (%/yr) and its interval in years, over the best pair of figures.

    See :func:`geoplan.indicators.population_trend`; NaN where no pair is available.
    """
    t = population_trend(frame, min_years=min_years)
    return t["growth_pct_per_year"].to_numpy(dtype=float), t["trend_years"].to_numpy(dtype=float)


def list_status(towns: pd.DataFrame) -> np.ndarray:
    """Return ``exited`` for towns whose ``on_list`` has an ``exited_*`` tag, else ``listed``."""
    tags = towns["on_list"] if "on_list" in towns.columns else pd.Series([""] * len(towns), index=towns.index)
    return np.array(["exited" if any(t.strip().startswith("exited") for t in str(v or "").split("|")) else "listed"
                     for v in tags.fillna("")], dtype=object)


def indicators(
    towns: pd.DataFrame,
    centres: pd.DataFrame,
    od: Any,
    *,
    config: Scenario | None = None,
    snaps: pd.DataFrame | None = None,
    table: pd.DataFrame | None = None,
    settlements: pd.DataFrame | None = None,
    settlements_od: Any = None,
) -> pd.DataFrame:
    """Compute every town's indicators with the scenario's parameters.

    A thin wrapper of :func:`geoplan.indicators.compute` taking its parameters from ``config``
    (``agglomeration``, ``accessibility`` and ``indicators`` sections). See there for the
    parameters and the result.
    """
    cfg = config or Scenario.baseline()
    return compute(towns, centres, od,
                   min_centre_population=cfg.agglomeration.min_centre_population,
                   centre_larger_than_town=cfg.agglomeration.centre_larger_than_town,
                   beta_per_minute=cfg.accessibility.beta_per_minute,
                   city_population=cfg.indicators.city_population,
                   reach_minutes=cfg.indicators.reach_minutes,
                   min_trend_years=cfg.indicators.min_trend_years,
                   settlements=settlements, settlements_od=settlements_od, snaps=snaps, table=table)


# --------------------------------------------------------------------------------------
# the decision table


@dataclass
class Decision:
    """What :func:`decide` returns, arrays shaped like the facts.

    Attributes
    ----------
    rule
        Index of the rule that matched; -1 where the table stopped at an unknown fact.
    stopped
        Index of the rule whose fact was unknown; -1 where a rule matched.
    """

    rule: np.ndarray
    stopped: np.ndarray


def decide(facts: Mapping[str, tuple[np.ndarray, np.ndarray]], *, rules: Sequence[Rule],
           group_names: Sequence[str]) -> Decision:
    """Apply the decision table to arrays of facts (any shape; vectorised for the sensitivity runs).

    Parameters
    ----------
    facts
        For each of :data:`CONDITIONS`: ``(values, known)``. ``group`` values are group indices
        into ``group_names`` (-1 unknown); the others are booleans.
    rules
        The decision table; the last rule has no conditions.
    group_names
        Names of the potential groups, best first.

    Returns
    -------
    Decision
    """
    shape = np.shape(next(iter(facts.values()))[0])
    rule = np.full(shape, -1, dtype=np.int64)
    stopped = np.full(shape, -1, dtype=np.int64)
    open_ = np.ones(shape, dtype=bool)
    for r, row in enumerate(rules):
        holds = np.ones(shape, dtype=bool)
        unknown = np.zeros(shape, dtype=bool)
        for name, want in row.conditions().items():
            values, known = facts[name]
            if name == "group":
                idx = [group_names.index(g) for g in want if g in group_names]
                ok = np.isin(values, idx)
            else:
                ok = np.asarray(values, dtype=bool) == bool(want)
            falsified = known & ~ok
            holds &= ~falsified
            unknown |= ~known & ~falsified
        unknown &= holds  # a rule already false elsewhere does not need the unknown fact
        match = open_ & holds & ~unknown
        stop = open_ & unknown
        rule[match] = r
        stopped[stop] = r
        open_ &= ~(match | stop)
    return Decision(rule=rule, stopped=stopped)


def _pct(g: float) -> str:
    if round(float(g), 1) == 0:
        return "0.0 %/yr" if round(float(g), 2) == 0 else f"{float(g):+.2f} %/yr"
    return f"{float(g):+.1f} %/yr"


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or (isinstance(v, str) and not v.strip())


def classify_towns(
    towns: gpd.GeoDataFrame,
    indicators: pd.DataFrame,
    *,
    config: Scenario | None = None,
    catalogue: Catalogue | None = None,
) -> gpd.GeoDataFrame:
    """Score, group and categorise every town, each with one sentence of reasons.

    Parameters
    ----------
    towns
        The towns layer.
    indicators
        The result of :func:`indicators` (or :func:`geoplan.indicators.compute`) for the same
        towns.
    config
        Scenario (``composite``, ``categories``, ``agglomeration``, ``sensitivity`` sections);
        the baseline when omitted.
    catalogue
        Declarations of the indicators (default: the built-in catalogue).

    Returns
    -------
    geopandas.GeoDataFrame
        The towns layer's columns, the indicators, the index (``score``, ``rank``, ``group``,
        ``group_number``, ``coverage``, ``missing_in_index``, ``contribution_<group>``),
        ``status``, ``growth_point``, ``category`` (one of :data:`CATEGORIES`), ``rule`` (the
        decision-table row, 1-based; 0 when the table stopped at an unknown fact), ``reasons``,
        ``borderline``, ``borderline_on`` and ``destination`` (``None``; filled by
        :func:`geoplan.relocation.relocate`), sorted by ``id``.

    Raises
    ------
    AnalysisError
        When a town has no indicators, or the index cannot be computed (see
        :func:`geoplan.composite.composite_index`).
    """
    cfg = config or Scenario.baseline()
    cc = cfg.categories
    comp = cfg.composite
    towns = towns.sort_values("id", kind="mergesort", key=lambda s: s.astype(str)).reset_index(drop=True)
    ind = _aligned(indicators, towns["id"].astype(str))
    pop = populations(towns, "towns")
    status = list_status(towns)
    assess = (status == "listed") | cc.analyse_exited
    names = list(comp.groups.names)
    index = composite_index(ind, catalogue=catalogue or Catalogue.builtin(), normalisation=comp.normalisation,
                            aggregation=comp.aggregation, weights=comp.weights, group_weights=comp.group_weights,
                            min_coverage=comp.min_coverage, grouping=comp.groups.method, group_names=names,
                            cutoffs=comp.groups.cutoffs, assess=assess)
    facts = _facts(ind, index, pop, cfg)
    dec = decide(facts, rules=cc.rules, group_names=names)
    category = np.array([cc.rules[r].category if r >= 0 else "monitor" for r in dec.rule], dtype=object)
    category[~assess] = "not_assessed"
    reasons, border_on = _explain(towns, ind, index, pop, assess, facts, dec, category, cfg)

    keep = [c for c in towns.columns if c not in ind.columns or c in ("id", "population")]
    keep = [c for c in keep if c not in ("category", "reasons", "destination", "status")]
    out = towns[keep].copy()
    for col in ind.columns:
        if col not in ("id", "population"):
            out[col] = ind[col].set_axis(out.index)
    for col in index.columns:
        if col != "id":
            out[col] = index[col].set_axis(out.index)
    out["status"] = status
    out["growth_point"] = facts["growth_point"][0]
    out["category"] = category
    out["rule"] = pd.array(np.where(assess, dec.rule + 1, 0), dtype="Int64")
    out["reasons"] = reasons
    out["borderline"] = np.array([bool(b) for b in border_on])
    out["borderline_on"] = border_on
    out["destination"] = None
    out.attrs["index"] = dict(index.attrs)
    geom = towns.geometry.name if isinstance(towns, gpd.GeoDataFrame) else None
    if geom is None:
        return out
    cols = [c for c in out.columns if c != geom] + [geom]
    return gpd.GeoDataFrame(out[cols], geometry=geom, crs=towns.crs)


def _aligned(indicators: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    """Return the indicator rows of the towns ``ids``, in that order; raise naming towns without any."""
    ind = indicators.assign(id=indicators["id"].astype(str)).set_index("id")
    lost = sorted(set(ids) - set(ind.index))
    if lost:
        raise AnalysisError(f"no indicators for town(s) {', '.join(lost[:10])}",
                            fix="compute indicators() for the same towns layer you classify")
    return ind.reindex(ids).reset_index()


def _facts(ind: pd.DataFrame, index: pd.DataFrame, pop: np.ndarray,
           cfg: Scenario) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Return the facts of the decision table, ``(values, known)`` for each of :data:`CONDITIONS`."""
    cc = cfg.categories
    roles = set(cc.growth_point_roles)
    growth_point = np.array([r in roles for r in ind["centre_role"].to_numpy(dtype=object)], dtype=bool)
    minutes = ind["minutes"].to_numpy(dtype=float)
    g = ind["growth_pct_per_year"].to_numpy(dtype=float)
    group_idx = np.where(index["group_number"].isna(), -1, index["group_number"].fillna(0).astype(int) - 1)
    always = np.ones(len(ind), dtype=bool)
    return {
        "growth_point": (growth_point, always),
        "within_reach": (np.isfinite(minutes) & (minutes <= cfg.agglomeration.max_minutes), always),
        "group": (group_idx, group_idx >= 0),
        "declining": (np.nan_to_num(g, nan=0.0) < cc.decline_pct_per_year, np.isfinite(g)),
        "small": (pop <= cc.relocation_max_population, always),
    }


def _explain(towns: pd.DataFrame, ind: pd.DataFrame, index: pd.DataFrame, pop: np.ndarray, assess: np.ndarray,
             facts: Mapping[str, tuple[np.ndarray, np.ndarray]], dec: Decision, category: np.ndarray,
             cfg: Scenario) -> tuple[list[str], list[str]]:
    """Return each town's reasons (one sentence) and the deciding facts near their threshold (``borderline_on``)."""
    cc = cfg.categories
    names = list(cfg.composite.groups.names)
    growth_point = facts["growth_point"][0]
    score = index["score"].to_numpy(dtype=float)
    limits = list(index.attrs.get("cutoffs", []))
    spread = float(np.nanmax(score) - np.nanmin(score)) if np.isfinite(score).any() else 0.0
    n_scored = int(np.isfinite(score).sum())
    reasons: list[str] = []
    border_on: list[str] = []
    for i in range(len(towns)):
        if not assess[i]:
            tag = next((t for t in str(towns["on_list"].iloc[i] or "").split("|") if t.startswith("exited")), "exited")
            reasons.append(f"Left the monotown list ({tag}): not assessed (analyse_exited: true in the "
                           "scenario's categories section assesses it).")
            border_on.append("")
            continue
        deciding = _deciding(i, dec, cc.rules, facts, names)
        shown = set(deciding) | {"group"} if facts["group"][1][i] else set(deciding)
        if not (growth_point[i] and "growth_point" in deciding):
            shown.add("within_reach")
        else:
            shown.discard("within_reach")  # a growth point's distance to another centre decides nothing
        ctx = _Ctx(row=ind.iloc[i], town=towns.iloc[i], cfg=cfg, index=index.iloc[i], n_scored=n_scored,
                   limits=limits, spread=spread, share=cfg.sensitivity.borderline_share, population=float(pop[i]))
        phrases = [_phrase(name, ctx) for name in CONDITIONS if name in shown]
        r = int(dec.rule[i])
        if r >= 0:
            tail = f"{category[i]} (rule {r + 1})"
        else:
            tail = f"monitor, as rule {int(dec.stopped[i]) + 1} cannot be decided"
        reasons.append("; ".join(p for p in phrases if p) + f": {tail}.")
        border_on.append("; ".join(_flips(i, deciding, ctx, facts, str(category[i]), rules=cc.rules, names=names)))
    return reasons, border_on


def _flips(i: int, deciding: set[str], ctx: _Ctx, facts: Mapping[str, tuple[np.ndarray, np.ndarray]],
           category: str, *, rules: Sequence[Rule], names: Sequence[str]) -> list[str]:
    """Return the deciding facts of town ``i`` near their threshold whose other side changes its category."""
    flips = []
    for name in CONDITIONS:
        if name not in deciding:
            continue
        near = _border(name, ctx)
        if not near:
            continue
        one = {k: (np.array(v[0][i:i + 1]), np.array(v[1][i:i + 1])) for k, v in facts.items()}
        vals, known = one[name]
        if not known[0]:
            continue
        if name == "group":
            s_i = float(ctx.index["score"])
            lim = min(ctx.limits, key=lambda x: abs(x - s_i))
            k = ctx.limits.index(lim)
            vals = np.array([k + 1 if vals[0] == k else k])
        else:
            vals = ~vals.astype(bool)
        one[name] = (vals, known)
        alt = decide(one, rules=rules, group_names=names)
        alt_cat = rules[int(alt.rule[0])].category if alt.rule[0] >= 0 else "monitor"
        if alt_cat != category:
            flips.append(f"{near} (else {alt_cat})")
    return flips

def _deciding(i: int, dec: Decision, rules: Sequence[Rule], facts: Mapping[str, tuple[np.ndarray, np.ndarray]],
              names: Sequence[str]) -> set[str]:
    """Facts that decided town ``i``: the matched rule's, the unknown ones, and single misses before it."""
    last = int(dec.rule[i]) if dec.rule[i] >= 0 else int(dec.stopped[i])
    out: set[str] = set()
    for r in range(last + 1):
        conds = rules[r].conditions()
        failed = []
        for name, want in conds.items():
            values, known = facts[name]
            if not known[i]:
                if r == last:
                    out.add(name)
                continue
            ok = (values[i] in [names.index(g) for g in want if g in names]) if name == "group" \
                else bool(values[i]) == bool(want)
            if not ok:
                failed.append(name)
        if r == last:
            out.update(conds)
        elif len(failed) == 1:
            out.add(failed[0])
    return out


@dataclass
class _Ctx:
    row: pd.Series
    town: pd.Series
    cfg: Scenario
    index: pd.Series
    n_scored: int
    limits: list[float]
    spread: float
    share: float
    population: float


def _phrase(name: str, c: _Ctx) -> str:
    row, cfg = c.row, c.cfg
    limit = f"{cfg.agglomeration.max_minutes:g} min"
    if name == "growth_point":
        if row["centre_role"] is None or pd.isna(row["centre_role"]) or row["centre_role"] not in \
                cfg.categories.growth_point_roles:
            return ""
        region = c.town.get("region")
        what = "republican city" if row["centre_role"] == "republican" else f"regional centre of {region}"
        return f"itself a growth centre ({what})"
    if name == "within_reach":
        m = row["minutes"]
        if pd.notna(m) and np.isfinite(m):
            where = "within" if m <= cfg.agglomeration.max_minutes else "beyond"
            return (f"{m:.0f} min ({row['km']:,.0f} km) by road from {row['nearest_centre_name']} "
                    f"({int(row['nearest_centre_population']):,}), {where} agglomeration reach ({limit})")
        snap = row.get("snap_km")
        if pd.notna(snap) and snap > cfg.network.max_snap_km:
            return f"not connected to the road network (nearest road {snap:,.0f} km away)"
        larger = " larger than the town" if cfg.agglomeration.centre_larger_than_town else ""
        return (f"no growth centre of {cfg.agglomeration.min_centre_population:,}+ people{larger} can be reached "
                "by road")
    if name == "group":
        ix = c.index
        if pd.isna(ix["score"]):
            return (f"no potential score (values for {ix['coverage']:.0%} of the index weight, below the "
                    f"{cfg.composite.min_coverage:.0%} needed; missing {ix['missing_in_index']})")
        miss = f"; without {ix['missing_in_index']}" if ix["missing_in_index"] else ""
        return f"{ix['group']} potential (score {ix['score']:.1f}, rank {int(ix['rank'])} of {c.n_scored}{miss})"
    if name == "declining":
        gr = row["growth_pct_per_year"]
        cut = cfg.categories.decline_pct_per_year
        if pd.isna(gr):
            return f"population trend unknown ({row['trend_basis']})"
        state = f"below the {cut:g} %/yr cut-off" if gr < cut else f"not below the {cut:g} %/yr cut-off"
        return f"population {_pct(gr)} ({row['trend_basis']}), {state}"
    if name == "small":
        lim = cfg.categories.relocation_max_population
        if c.population <= lim:
            return f"{c.population:,.0f} people (at most {lim:,})"
        return f"{c.population:,.0f} people, above the relocation limit of {lim:,}"
    return ""


def _border(name: str, c: _Ctx) -> str:
    row, cfg, share = c.row, c.cfg, c.share
    if name == "within_reach":
        m, lim = row["minutes"], cfg.agglomeration.max_minutes
        if pd.notna(m) and abs(m - lim) <= share * lim:
            return f"reach {m:.0f} min vs {lim:g}"
    elif name == "group":
        s = c.index["score"]
        if pd.notna(s) and c.spread > 0:
            near = [lim for lim in c.limits if abs(s - lim) <= share * c.spread]
            if near:
                return f"score {s:.1f} vs group limit {near[0]:.1f}"
    elif name == "declining":
        gr, cut = row["growth_pct_per_year"], cfg.categories.decline_pct_per_year
        if pd.notna(gr) and abs(gr - cut) <= share * max(abs(cut), 1.0):
            return f"trend {gr:+.2f} %/yr vs {cut:g}"
    elif name == "small":
        lim = cfg.categories.relocation_max_population
        if abs(c.population - lim) <= share * lim:
            return f"population {c.population:,.0f} vs {lim:,}"
    return ""


# --------------------------------------------------------------------------------------
# comparing two runs


def compare_results(
    a: pd.DataFrame,
    b: pd.DataFrame,
    *,
    min_minutes_change: float = MIN_MINUTES_CHANGE,
    names: tuple[str, str] = ("a", "b"),
) -> pd.DataFrame:
    """Towns whose category, potential group, rank, nearest centre, travel time or destination differ.

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
        changed, comma-separated), then ``category``, ``group``, ``rank``, ``nearest_centre``,
        ``minutes``, ``km``, ``accessibility`` and ``destination`` of each run, and
        ``minutes_change`` and ``rank_change`` (minutes and km rounded to 0.1, accessibility
        to whole people).

    """
    sa, sb = names if names[0] != names[1] else (f"{names[0]}_a", f"{names[1]}_b")
    cols = ["category", "group", "rank", "nearest_centre", "minutes", "km", "accessibility", "destination"]
    left = a.set_index(a["id"].astype(str))
    right = b.set_index(b["id"].astype(str))
    ids = sorted(set(left.index) | set(right.index))
    rows = []

    def val(r: pd.Series | None, col: str) -> Any:
        if r is None:
            return None
        v = r.get(col)
        return None if _blank(v) else v

    for tid in ids:
        ra = left.loc[tid] if tid in left.index else None
        rb = right.loc[tid] if tid in right.index else None
        changes = []
        if ra is None or rb is None:
            changes.append(f"only in {sa if rb is None else sb}")
        else:
            for col, label in (("category", "category"), ("group", "group"), ("rank", "rank"),
                               ("nearest_centre", "nearest centre"), ("destination", "destination")):
                if val(ra, col) != val(rb, col):
                    changes.append(label)
            ma, mb = float(ra.get("minutes", np.nan)), float(rb.get("minutes", np.nan))
            if np.isfinite(ma) != np.isfinite(mb) or (np.isfinite(ma) and abs(mb - ma) >= min_minutes_change):
                changes.append("minutes")
        if not changes:
            continue
        src = ra if ra is not None else rb
        row: dict[str, Any] = {"id": tid, "name_en": src.get("name_en", tid) if src is not None else tid,
                               "changes": ", ".join(changes)}
        for col in cols:
            row[f"{col}_{sa}"] = val(ra, col)
            row[f"{col}_{sb}"] = val(rb, col)
        ma = np.nan if ra is None else float(ra.get("minutes", np.nan))
        mb = np.nan if rb is None else float(rb.get("minutes", np.nan))
        row["minutes_change"] = mb - ma
        ka, kb = val(ra, "rank"), val(rb, "rank")
        row["rank_change"] = (int(kb) - int(ka)) if ka is not None and kb is not None else None
        rows.append(row)
    order = (["id", "name_en", "changes"] + [f"{c}_{s}" for c in cols for s in (sa, sb)]
             + ["minutes_change", "rank_change"])
    out = pd.DataFrame(rows, columns=order)
    # Rounded for reading and for stable CSV text: 0.1 min, 0.1 km, whole people.
    for col in [f"{c}_{s}" for c in ("minutes", "km") for s in (sa, sb)] + ["minutes_change"]:
        out[col] = pd.to_numeric(out[col], errors="coerce").round(1)
    for col in (f"accessibility_{sa}", f"accessibility_{sb}"):
        out[col] = pd.to_numeric(out[col], errors="coerce").round(0)
    for col in (f"rank_{sa}", f"rank_{sb}", "rank_change"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("Float64").astype("Int64")
    return out
