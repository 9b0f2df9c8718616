"""How robust each town's category is: Monte Carlo over every assumption of the assessment.

The design follows the OECD/JRC Handbook (2008, step 7, uncertainty and sensitivity analysis):
every assumption the result depends on is drawn from a documented range
(``sensitivity`` section of the scenario), the model is re-run for each draw, and per town
the distribution of outcomes is summarised.

Assumptions varied (one column of the parameter matrix each):

- ``reach_minutes``: the agglomeration reach (default 60-120 min);
- ``min_centre_population``: the smallest qualifying centre (50,000-150,000);
- ``decline_pct_per_year``: the cut-off of a declining population (-1.0 to +0.5 %/yr);
- ``half_life_minutes``: the Hansen accessibility decay (30-120 min);
- ``normalisation`` and ``aggregation``: drawn from the listed methods with equal chance;
- ``weight_<group>``: each group's weight times a factor drawn log-uniformly from
  ``weight_factor`` (0.5-2: halving and doubling equally likely).

The draws are a Latin hypercube (:class:`scipy.stats.qmc.LatinHypercube`, seeded: same seed,
same results). The travel times are computed once (the network is solved once); each run only
re-evaluates the model, vectorised over a chunk of runs: :func:`evaluate` is pure and takes a
:class:`Model` (numpy arrays only, picklable) and a block of parameter rows, so the chunks can be
spread over processes or a Dask cluster (``geoplan.distributed``) unchanged.

Per town (:func:`summarise`): the share of runs giving each category, ``stability`` (share
giving the scenario's own category), the 5th-95th percentile of its rank, and the assumption
that most often flips it: the largest **first-order sensitivity index** of the indicator
"category differs from the scenario's", estimated from the same runs by binning each
assumption into ten equal-count bins (correlation ratio, the given-data estimator of
Var(E[Y|X_i]) / Var(Y); Plischke 2010).

Examples
--------
>>> from geoplan.sensitivity import design
>>> from geoplan.scenario import Scenario
>>> d = design(config=Scenario.baseline(), groups=["demography", "economy"], runs=4)
>>> list(d.columns)[:3]
['reach_minutes', 'min_centre_population', 'decline_pct_per_year']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import qmc

from geoplan._errors import AnalysisError
from geoplan._progress import progress_bar, progress_enabled
from geoplan.classify import CONDITIONS, decide, list_status
from geoplan.composite import aggregate, groups_of, index_weights, normalise
from geoplan.indicators import Catalogue, od_arrays, populations
from geoplan.scenario import Scenario
from geoplan.scenario.assessment import CATEGORY_VALUES
from geoplan.settings import FRAGILE_SHARE

__all__ = [
    "Model",
    "SensitivityResult",
    "design",
    "evaluate",
    "prepare",
    "run_sensitivity",
    "summarise",
]

CONTINUOUS: tuple[str, ...] = ("reach_minutes", "min_centre_population", "decline_pct_per_year", "half_life_minutes")


@dataclass(frozen=True)
class Model:
    """Everything one run of the assessment needs, as arrays (picklable, no pandas, no network).

    Attributes hold the assessed towns only (``ids``), in that order. ``fixed`` holds the index
    indicators that no varied assumption changes; ``minutes``/``accessibility`` columns are
    recomputed per run from ``od_minutes`` and the centres' populations.
    """

    ids: np.ndarray
    town_pop: np.ndarray
    centre_pop: np.ndarray
    od_minutes: np.ndarray
    larger_than_town: bool
    growth_point: np.ndarray
    growth: np.ndarray
    fixed: np.ndarray
    columns: tuple[str, ...]
    sign: np.ndarray
    group_of: np.ndarray
    within_group: np.ndarray
    base_group_weight: np.ndarray
    group_labels: tuple[str, ...]
    scored: np.ndarray
    group_names: tuple[str, ...]
    grouping: str
    cutoffs: tuple[float, ...] | None
    rules: tuple[Any, ...]
    max_population: float
    normalisations: tuple[str, ...]
    aggregations: tuple[str, ...]


def _base_params(cfg: Scenario) -> dict[str, float]:
    return {"reach_minutes": cfg.agglomeration.max_minutes,
            "min_centre_population": float(cfg.agglomeration.min_centre_population),
            "decline_pct_per_year": cfg.categories.decline_pct_per_year,
            "half_life_minutes": (math.log(2) / cfg.accessibility.beta_per_minute)}


def prepare(
    towns: pd.DataFrame,
    centres: pd.DataFrame,
    od: Any,
    indicators: pd.DataFrame,
    *,
    config: Scenario | None = None,
    catalogue: Catalogue | None = None,
) -> Model:
    """Gather the arrays of the model from the layers, the travel times and the indicator table.

    Parameters
    ----------
    towns, centres
        The layers.
    od
        Travel times towns x centres (ODMatrix or long table), computed once.
    indicators
        The indicator table (:func:`geoplan.classify.indicators`).
    config
        The scenario; its own values are the centre of the design.
    catalogue
        Declarations of the indicators (default built-in).

    Returns
    -------
    Model
    """
    cfg = config or Scenario.baseline()
    cat = catalogue or Catalogue.builtin()
    towns = towns.sort_values("id", kind="mergesort", key=lambda s: s.astype(str)).reset_index(drop=True)
    centres = centres.sort_values("id", kind="mergesort", key=lambda s: s.astype(str)).reset_index(drop=True)
    assess = (list_status(towns) == "listed") | cfg.categories.analyse_exited
    towns = towns[assess].reset_index(drop=True)
    ids = towns["id"].astype(str).to_numpy(dtype=object)
    ind = indicators.assign(id=indicators["id"].astype(str)).set_index("id").reindex(ids)
    comp = cfg.composite
    w = index_weights(cat, weights=comp.weights, group_weights=comp.group_weights, available=list(ind.columns))
    cols = tuple(w.index)
    groups = list(dict.fromkeys(cat[c].group for c in cols))
    group_of = np.array([groups.index(cat[c].group) for c in cols])
    gw = np.array([w[group_of == g].sum() for g in range(len(groups))])
    within = w.to_numpy() / gw[group_of]
    fixed = ind[list(cols)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    fixed = np.where(np.isfinite(fixed), fixed, np.nan)
    coverage = (np.isfinite(fixed) * w.to_numpy()[None, :]).sum(axis=1)
    c_id = centres["id"].astype(str).to_numpy(dtype=object)
    minutes, _ = od_arrays(od, ids, c_id)
    minutes = np.where(ids[:, None] == c_id[None, :], np.inf, minutes)
    roles = set(cfg.categories.growth_point_roles)
    role = ind["centre_role"].to_numpy(dtype=object)
    return Model(
        ids=ids, town_pop=populations(towns, "towns"), centre_pop=populations(centres, "centres"),
        od_minutes=minutes, larger_than_town=cfg.agglomeration.centre_larger_than_town,
        growth_point=np.array([r in roles for r in role], dtype=bool),
        growth=ind["growth_pct_per_year"].to_numpy(dtype=float), fixed=fixed, columns=cols,
        sign=np.array([cat[c].sign for c in cols]), group_of=group_of, within_group=within,
        base_group_weight=gw / gw.sum(), group_labels=tuple(groups), scored=coverage >= comp.min_coverage - 1e-12,
        group_names=tuple(comp.groups.names), grouping=comp.groups.method,
        cutoffs=tuple(comp.groups.cutoffs) if comp.groups.cutoffs else None, rules=tuple(cfg.categories.rules),
        max_population=float(cfg.categories.relocation_max_population),
        normalisations=tuple(cfg.sensitivity.normalisations), aggregations=tuple(cfg.sensitivity.aggregations))


def design(*, config: Scenario, groups: Sequence[str], runs: int | None = None,
           seed: int | None = None) -> pd.DataFrame:
    """Draw the parameter matrix: one row per run, one column per assumption.

    Parameters
    ----------
    config
        The scenario (``sensitivity`` section: ranges, runs, seed).
    groups
        The index's groups (one weight factor column each, ``weight_<group>``).
    runs, seed
        Override the scenario's.

    Returns
    -------
    pandas.DataFrame
        Continuous columns in their units; ``normalisation`` and ``aggregation`` as codes into
        the scenario's lists; ``weight_<group>`` as factors.
    """
    s = config.sensitivity
    n = runs if runs is not None else s.runs
    names = [*CONTINUOUS, "normalisation", "aggregation", *[f"weight_{g}" for g in groups]]
    u = qmc.LatinHypercube(d=len(names), seed=np.random.default_rng(seed if seed is not None else s.seed)).random(n)
    out = {}
    for j, name in enumerate(names):
        if name in CONTINUOUS:
            lo, hi = getattr(s, name)
            out[name] = lo + u[:, j] * (hi - lo)
        elif name == "normalisation":
            out[name] = np.floor(u[:, j] * len(s.normalisations)).astype(float)
        elif name == "aggregation":
            out[name] = np.floor(u[:, j] * len(s.aggregations)).astype(float)
        else:
            lo, hi = s.weight_factor
            out[name] = np.exp(np.log(lo) + u[:, j] * (np.log(hi) - np.log(lo)))
    return pd.DataFrame(out, columns=names)


def base_row(*, config: Scenario, groups: Sequence[str]) -> pd.DataFrame:
    """Return the scenario's own assumptions as one parameter row.

    The row reproduces :func:`geoplan.classify.classify_towns` (tested).
    """
    s = config.sensitivity
    row: dict[str, float] = dict(_base_params(config))
    norms, aggs = list(s.normalisations), list(s.aggregations)
    if config.composite.normalisation not in norms or config.composite.aggregation not in aggs:
        raise AnalysisError("the scenario's own normalisation/aggregation is not among sensitivity.normalisations/"
                            "aggregations", fix="list it there")
    row["normalisation"] = float(norms.index(config.composite.normalisation))
    row["aggregation"] = float(aggs.index(config.composite.aggregation))
    for g in groups:
        row[f"weight_{g}"] = 1.0
    return pd.DataFrame([row])


def evaluate(model: Model, params: np.ndarray) -> dict[str, np.ndarray]:
    """Run the model for a block of parameter rows (pure; safe to run in another process).

    Parameters
    ----------
    model
        From :func:`prepare`.
    params
        Shape ``(runs, 6 + groups)`` in the column order of :func:`design`.

    Returns
    -------
    dict
        ``category`` (runs x towns, int8 index into the decision categories, 3 = monitor),
        ``rank`` (int16, 0 = unscored), ``score`` (float32), ``group`` (int8, -1 unscored).
    """
    p = np.atleast_2d(np.asarray(params, dtype=float))
    r = p.shape[0]
    reach, min_pop, decline, half = p[:, 0], p[:, 1], p[:, 2], p[:, 3]
    norm_code, agg_code = p[:, 4].astype(int), p[:, 5].astype(int)
    factors = p[:, 6:]
    m = model.od_minutes[None, :, :]
    qual = (model.centre_pop[None, None, :] >= min_pop[:, None, None]) & np.isfinite(m)
    if model.larger_than_town:
        qual &= model.centre_pop[None, None, :] > model.town_pop[None, :, None]
    nearest = np.min(np.where(qual, m, np.inf), axis=2)  # (r, n)
    reach_ok = np.isfinite(model.od_minutes)
    beta = np.log(2) / half
    with np.errstate(over="ignore", invalid="ignore"):
        decay = np.where(reach_ok[None], np.exp(-beta[:, None, None] * np.where(reach_ok, model.od_minutes, 0)[None]),
                         0.0)
    access = decay @ model.centre_pop  # (r, n)
    access = np.where(reach_ok.any(axis=1)[None, :], access, np.nan)
    x = np.broadcast_to(model.fixed, (r, *model.fixed.shape)).copy()
    cols = list(model.columns)
    if "minutes" in cols:
        x[:, :, cols.index("minutes")] = np.where(np.isfinite(nearest), nearest, np.nan)
    if "accessibility" in cols:
        x[:, :, cols.index("accessibility")] = access
    x[:, ~model.scored, :] = np.nan
    gw = model.base_group_weight[None, :] * factors
    w = model.within_group[None, :] * gw[:, model.group_of]
    score = np.full((r, len(model.ids)), np.nan)
    for ni, norm in enumerate(model.normalisations):
        for ai, agg in enumerate(model.aggregations):
            sel = (norm_code == ni) & (agg_code == ai)
            if not sel.any():
                continue
            v = normalise(x[sel], method=norm, sign=model.sign)
            s, _ = aggregate(v, w[sel], method=agg, scale=1.0 if norm == "zscore" else 100.0)
            score[sel] = s
    score[:, ~model.scored] = np.nan
    group = groups_of(score, method=model.grouping, k=len(model.group_names), cutoffs=model.cutoffs)
    always = np.ones((r, len(model.ids)), dtype=bool)
    facts = {
        "growth_point": (np.broadcast_to(model.growth_point, always.shape), always),
        "within_reach": (np.isfinite(nearest) & (nearest <= reach[:, None]), always),
        "group": (group, group >= 0),
        "declining": (np.nan_to_num(model.growth, nan=0.0)[None, :] < decline[:, None],
                      np.broadcast_to(np.isfinite(model.growth), always.shape)),
        "small": (np.broadcast_to(model.town_pop <= model.max_population, always.shape), always),
    }
    assert set(facts) == set(CONDITIONS)
    dec = decide(facts, rules=list(model.rules), group_names=list(model.group_names))
    codes = np.array([CATEGORY_VALUES.index(rule.category) for rule in model.rules] + [3], dtype=np.int8)
    category = codes[np.where(dec.rule >= 0, dec.rule, -1)]
    # rank 1 = best; ties share the best rank; unscored 0.
    filled = np.where(np.isfinite(score), score, -np.inf)
    order = np.argsort(-filled, axis=1, kind="stable")
    srt = np.take_along_axis(filled, order, axis=1)
    n = filled.shape[1]
    first = np.concatenate([np.ones((r, 1), bool), srt[:, 1:] != srt[:, :-1]], axis=1)
    pos = np.maximum.accumulate(np.where(first, np.arange(n)[None, :], 0), axis=1)
    rank = np.empty_like(pos)
    np.put_along_axis(rank, order, pos + 1, axis=1)
    rank = np.where(np.isfinite(score), rank, 0)
    return {"category": category.astype(np.int8), "rank": rank.astype(np.int16),
            "score": score.astype(np.float32), "group": group.astype(np.int8)}


@dataclass
class SensitivityResult:
    """What :func:`run_sensitivity` returns.

    Attributes
    ----------
    towns
        One row per assessed town (see :func:`summarise`).
    params
        The parameter matrix (one row per run).
    outcomes
        The arrays of :func:`evaluate` over all runs.
    base
        The outcomes of the scenario's own assumptions (one run).
    seconds
        Wall time of the model runs.
    """

    towns: pd.DataFrame
    params: pd.DataFrame
    outcomes: dict[str, np.ndarray]
    base: dict[str, np.ndarray]
    seconds: float

    @property
    def runs_per_second(self) -> float:
        """Model runs per second of wall time."""
        return len(self.params) / self.seconds if self.seconds > 0 else float("inf")


def first_order(y: np.ndarray, x: np.ndarray, *, bins: int = 10) -> float:
    """First-order sensitivity index of ``y`` on ``x`` from given data (binned correlation ratio).

    Parameters
    ----------
    y
        Outputs of the runs (here 0/1).
    x
        One assumption's values in the same runs; a discrete one (few levels) is grouped by level.
    bins
        Equal-count bins of a continuous assumption.

    Returns
    -------
    float
        ``Var(E[y | x]) / Var(y)`` in 0..1; 0 when ``y`` does not vary.
    """
    var = float(np.var(y))
    if var == 0:
        return 0.0
    levels = np.unique(x)
    if len(levels) <= bins:
        key = np.searchsorted(levels, x)
    else:
        edges = np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1])
        key = np.searchsorted(edges, x, side="right")
    counts = np.bincount(key)
    sums = np.bincount(key, weights=y)
    ok = counts > 0
    means = sums[ok] / counts[ok]
    return float(np.sum(counts[ok] * (means - y.mean()) ** 2) / len(y) / var)


def summarise(model: Model, params: pd.DataFrame, outcomes: dict[str, np.ndarray], base: dict[str, np.ndarray],
              *, fragile_share: float = FRAGILE_SHARE) -> pd.DataFrame:
    """Per town: shares of each category, stability, rank interval, the assumption that flips it most.

    Returns
    -------
    pandas.DataFrame
        ``id``, ``category`` (the scenario's own), ``share_<category>`` for the four categories,
        ``stability``, ``fragile``, ``rank`` (own), ``rank_p05``, ``rank_median``, ``rank_p95``,
        ``flipped_by`` (assumption with the largest first-order index, empty when the category
        never changes), ``flip_index`` (that index), ``runs``.
    """
    cat = outcomes["category"]
    own = base["category"][0]
    rows: dict[str, Any] = {"id": model.ids, "category": [CATEGORY_VALUES[c] for c in own]}
    for k, name in enumerate(CATEGORY_VALUES):
        rows[f"share_{name}"] = (cat == k).mean(axis=0)
    same = cat == own[None, :]
    stability = same.mean(axis=0)
    rows["stability"] = stability
    rows["fragile"] = stability < fragile_share
    ranks = outcomes["rank"].astype(float)
    ranks[ranks == 0] = np.nan
    rows["rank"] = pd.array(np.where(base["rank"][0] > 0, base["rank"][0], np.nan), dtype="Int64")
    with np.errstate(all="ignore"):
        for q, label in ((5, "rank_p05"), (50, "rank_median"), (95, "rank_p95")):
            v = np.nanpercentile(ranks, q, axis=0) if np.isfinite(ranks).any() else np.full(len(model.ids), np.nan)
            rows[label] = v
    names = list(params.columns)
    x = params.to_numpy(dtype=float)
    flipped, index = [], []
    for t in range(len(model.ids)):
        y = (~same[:, t]).astype(float)
        if y.sum() == 0:
            flipped.append("")
            index.append(0.0)
            continue
        s = [first_order(y, x[:, j]) for j in range(len(names))]
        j = int(np.argmax(s))
        flipped.append(names[j])
        index.append(s[j])
    rows["flipped_by"] = flipped
    rows["flip_index"] = index
    rows["runs"] = len(params)
    return pd.DataFrame(rows)


def run_sensitivity(
    model: Model,
    *,
    config: Scenario,
    runs: int | None = None,
    seed: int | None = None,
    chunk: int = 500,
    progress: bool | None = None,
    mapper: Callable[[Callable[[Model, np.ndarray], dict[str, np.ndarray]], Model, list[np.ndarray]],
                     list[dict[str, np.ndarray]]] | None = None,
) -> SensitivityResult:
    """Draw the design, evaluate every run (in chunks) and summarise per town.

    Parameters
    ----------
    model
        From :func:`prepare`.
    config
        The scenario (ranges, runs, seed, fragile share).
    runs, seed
        Override the scenario's.
    chunk
        Runs evaluated together (memory: about ``chunk x towns x centres`` floats).
    progress
        Show a progress bar on stderr; ``None`` follows
        :func:`geoplan._progress.set_progress` (off in a library call, on in the ``geoplan`` command).
    mapper
        Runs the chunks: ``mapper(evaluate, model, chunks) -> results`` in order (e.g. on a Dask
        cluster); default: one after the other in this process.

    Returns
    -------
    SensitivityResult
    """
    import time

    groups = list(model.group_labels)
    params = design(config=config, groups=groups, runs=runs, seed=seed)
    base = evaluate(model, base_row(config=config, groups=groups).to_numpy())
    blocks = [params.to_numpy()[i:i + chunk] for i in range(0, len(params), chunk)]
    t0 = time.perf_counter()
    if mapper is not None:
        results = mapper(evaluate, model, blocks)
    else:
        show = progress_enabled(progress) and len(blocks) > 1
        results = [evaluate(model, b) for b in progress_bar(blocks, desc="sensitivity", unit="chunk", enabled=show)]
    seconds = time.perf_counter() - t0
    outcomes = {k: np.concatenate([res[k] for res in results], axis=0) for k in results[0]}
    towns = summarise(model, params, outcomes, base, fragile_share=config.sensitivity.fragile_share)
    return SensitivityResult(towns=towns, params=params, outcomes=outcomes, base=base, seconds=seconds)


#: Columns :func:`mark_robustness` adds to the towns result.
ROBUSTNESS_COLUMNS: tuple[str, ...] = ("stability", "fragile", "rank_p05", "rank_p95", "flipped_by",
                                       *(f"share_{c}" for c in CATEGORY_VALUES))


def mark_robustness(towns: pd.DataFrame, result: SensitivityResult) -> pd.DataFrame:
    """Add the sensitivity marks to a towns result (towns not assessed get NaN and ``fragile`` False).

    Parameters
    ----------
    towns
        The result of :func:`geoplan.classify.classify_towns`.
    result
        From :func:`run_sensitivity` on the same towns.

    Returns
    -------
    pandas.DataFrame
        A copy with :data:`ROBUSTNESS_COLUMNS` (before the geometry column, if any).
    """
    s = result.towns.set_index("id")
    ids = towns["id"].astype(str)
    out = towns.copy()
    for col in ROBUSTNESS_COLUMNS:
        values = s[col].reindex(ids)
        if col == "fragile":
            values = values.astype("boolean").fillna(False).astype(bool)
        elif col == "flipped_by":
            values = values.astype(object).where(values.notna(), "")
        out[col] = values.to_numpy()
    geom = getattr(out, "geometry", None)
    if geom is not None and hasattr(out, "geometry"):
        name = out.geometry.name
        out = out[[c for c in out.columns if c != name] + [name]]
    return out


def sensitivity_table(result: SensitivityResult, *, towns: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return the per-town summary as written to ``sensitivity.csv`` (rounded for stable text).

    Parameters
    ----------
    result
        From :func:`run_sensitivity`.
    towns
        Optional towns result, for the ``name_en`` column.

    Returns
    -------
    pandas.DataFrame
        ``id``, ``name_en``, the columns of :func:`summarise` rounded to 4 decimals, and
        ``method`` (how ``flipped_by`` was found).
    """
    t = result.towns.copy()
    if towns is not None and "name_en" in towns.columns:
        names = towns.set_index(towns["id"].astype(str))["name_en"]
        t.insert(1, "name_en", t["id"].map(names))
    for col in t.columns:
        if t[col].dtype.kind == "f":
            t[col] = t[col].round(4)
    t["method"] = "first-order index (binned correlation ratio) over a seeded Latin hypercube"
    return t
