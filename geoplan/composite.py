"""The composite index of the towns' potential, as the OECD/JRC Handbook (2008) describes it.

Steps (Handbook, steps 5-6), each a choice in the scenario's ``composite`` section:

1. **Normalisation** of every indicator over the assessed towns, turned so that higher always
   means more potential (``direction``):

   - ``minmax``: ``(x - min) / (max - min)``, 0..1 (``1 - that`` for lower-is-better);
   - ``zscore``: ``(x - mean) / sd`` (population sd), sign flipped for lower-is-better;
   - ``rank``: percentile rank, ``(rank - 1) / (n - 1)``, 0..1, ties averaged.

2. **Weights**: each group (theme) gets ``group_weights[g]`` (equal by default), shared among
   the group's indicators in proportion to ``weights[i]`` (equal by default); the weights are
   scaled to sum to 1. A weight of 0 leaves an indicator out.
3. **Aggregation**: ``arithmetic`` (weighted mean; compensatory) or ``geometric`` (weighted
   geometric mean; a weak indicator is compensated less). The geometric mean needs positive
   values, so each normalised indicator is first rescaled to 1..100 (so under geometric
   aggregation min-max and z-score give the same result; rank differs).
4. **Missing values** are never imputed: a town's score uses the indicators it has, with their
   weights scaled up to sum to 1; ``coverage`` is the share of the index weight it has values
   for and ``missing_in_index`` names the others. Below ``min_coverage`` the town gets no
   score, rank or group.
5. **Groups of potential**: ``k`` groups (``high``, ``medium``, ``low`` by default) by
   ``quantiles`` (equal counts by rank), ``fixed`` cut-offs on the score, or ``jenks`` natural
   breaks (Fisher's exact optimisation, implemented here over many runs at once).

Scores: arithmetic min-max and rank scores are on 0..100; z-score scores are mean z-values;
geometric scores are on 1..100. The contribution of each group (``contribution_<group>``)
sums to the score (arithmetic) or to the log of the score (geometric).

The array functions (:func:`normalise`, :func:`aggregate`, :func:`groups_of`) work on stacks
of runs, shape ``(runs, towns, indicators)``, and are shared with :mod:`geoplan.sensitivity`.

Examples
--------
>>> import numpy as np
>>> x = np.array([[[1.0], [2.0], [3.0]]])
>>> normalise(x, method="minmax", sign=np.array([1.0]))[0, :, 0].tolist()
[0.0, 0.5, 1.0]
>>> jenks_classes(np.array([[1.0, 1.1, 5.0, 5.2, 9.0, 9.1]]), k=3)[0].tolist()
[2, 2, 1, 1, 0, 0]
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from geoplan._errors import AnalysisError
from geoplan.indicators import Catalogue

__all__ = [
    "AGGREGATIONS",
    "GROUPINGS",
    "NORMALISATIONS",
    "aggregate",
    "composite_index",
    "groups_of",
    "index_weights",
    "jenks_classes",
    "normalise",
]

NORMALISATIONS: tuple[str, ...] = ("minmax", "zscore", "rank")
AGGREGATIONS: tuple[str, ...] = ("arithmetic", "geometric")
GROUPINGS: tuple[str, ...] = ("quantiles", "fixed", "jenks")

Normalisation = Literal["minmax", "zscore", "rank"]
Aggregation = Literal["arithmetic", "geometric"]
Grouping = Literal["quantiles", "fixed", "jenks"]


# --------------------------------------------------------------------------------------
# arrays: (runs, towns, indicators)


def normalise(x: np.ndarray, *, method: str, sign: np.ndarray) -> np.ndarray:
    """Normalise indicators over the towns axis, higher = more potential.

    Parameters
    ----------
    x
        Values, shape ``(runs, towns, indicators)``; NaN = missing (ignored, stays NaN).
    method
        One of :data:`NORMALISATIONS`.
    sign
        +1 (higher is better) or -1 per indicator, shape ``(indicators,)``.

    Returns
    -------
    numpy.ndarray
        Same shape; NaN where ``x`` is NaN or an indicator has no spread.
    """
    s = np.asarray(sign, dtype=float)[None, None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "minmax":
            lo = np.nanmin(x, axis=1, keepdims=True)
            hi = np.nanmax(x, axis=1, keepdims=True)
            v = (x - lo) / (hi - lo)
            return np.asarray(np.where(s > 0, v, 1.0 - v), dtype=float)
        if method == "zscore":
            mu = np.nanmean(x, axis=1, keepdims=True)
            sd = np.nanstd(x, axis=1, keepdims=True)
            return np.asarray(s * (x - mu) / sd, dtype=float)
        if method == "rank":
            from scipy.stats import rankdata

            r = rankdata(s * x, axis=1, nan_policy="omit")
            n = np.sum(np.isfinite(x), axis=1, keepdims=True)
            return np.asarray((r - 1.0) / (n - 1.0), dtype=float)
    raise AnalysisError(f"normalisation {method!r} is not known", fix=f"use one of {', '.join(NORMALISATIONS)}")


def _rescale_positive(v: np.ndarray) -> np.ndarray:
    """Rescale each indicator to 1..100 over the towns axis (for the geometric mean)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.nanmin(v, axis=1, keepdims=True)
        hi = np.nanmax(v, axis=1, keepdims=True)
        return np.asarray(1.0 + 99.0 * (v - lo) / (hi - lo), dtype=float)


def aggregate(v: np.ndarray, w: np.ndarray, *, method: str, scale: float = 100.0) -> tuple[np.ndarray, np.ndarray]:
    """Aggregate normalised values into a score, leaving missing values out (weights rescaled).

    Parameters
    ----------
    v
        Normalised values, shape ``(runs, towns, indicators)``; NaN = missing.
    w
        Weights, shape ``(runs, indicators)`` or ``(indicators,)``; need not sum to 1.
    method
        ``arithmetic`` or ``geometric``.
    scale
        Multiplier of arithmetic scores (100 turns 0..1 values into 0..100); geometric scores
        are on 1..100 already.

    Returns
    -------
    score, terms
        ``score`` of shape ``(runs, towns)`` (NaN where no weighted value is known) and the
        per-indicator terms ``(runs, towns, indicators)`` that sum to the score (arithmetic) or
        its log (geometric).
    """
    w = np.asarray(w, dtype=float)
    if w.ndim == 1:
        w = w[None, :]
    known = np.isfinite(v)
    wk = np.where(known, w[:, None, :], 0.0)
    total = wk.sum(axis=2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        wn = wk / total
        if method == "arithmetic":
            terms = np.where(known, wn * v, 0.0) * scale
            score = terms.sum(axis=2)
        elif method == "geometric":
            pos = _rescale_positive(v)
            terms = np.where(known & (wn > 0), wn * np.log(pos), 0.0)
            score = np.exp(terms.sum(axis=2))
        else:
            raise AnalysisError(f"aggregation {method!r} is not known", fix=f"use one of {', '.join(AGGREGATIONS)}")
    empty = total[..., 0] <= 0
    score = np.where(empty, np.nan, score)
    return score, terms


def jenks_classes(values: np.ndarray, *, k: int) -> np.ndarray:
    """Fisher-Jenks natural breaks of each row, computed exactly for all rows at once.

    Parameters
    ----------
    values
        Shape ``(runs, n)``, no NaN.
    k
        Number of classes (``2 <= k <= n``).

    Returns
    -------
    numpy.ndarray
        Class of each value, shape ``(runs, n)``: 0 = the class of the highest values.

    Notes
    -----
    Dynamic programming over the sorted values: the smallest total within-class sum of squared
    deviations for the first ``j`` values in ``c`` classes (Fisher 1958, the optimisation Jenks
    popularised). ``O(k n^2)`` per row, vectorised over rows.
    """
    x = np.asarray(values, dtype=float)
    r, n = x.shape
    if not 1 <= k <= n:
        raise AnalysisError(f"cannot make {k} natural-break groups of {n} towns",
                            fix="use fewer groups (composite.groups.names)")
    order = np.argsort(-x, axis=1, kind="stable")  # descending: class 0 = highest values
    s = np.take_along_axis(x, order, axis=1)
    c1 = np.concatenate([np.zeros((r, 1)), np.cumsum(s, axis=1)], axis=1)
    c2 = np.concatenate([np.zeros((r, 1)), np.cumsum(s * s, axis=1)], axis=1)
    i = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    cnt = (j - i + 1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ssd = (c2[:, None, 1:] - c2[:, :-1, None]) - (c1[:, None, 1:] - c1[:, :-1, None]) ** 2 / cnt[None]
    ssd = np.where((j >= i)[None], np.maximum(ssd, 0.0), np.inf)  # ssd[:, i, j]: values i..j in one class
    best = ssd[:, 0, :].copy()  # best[:, j]: values 0..j in one class
    back = np.zeros((k, r, n), dtype=np.int64)
    for c in range(1, k):
        # values 0..j in c+1 classes: last class i..j, the rest 0..i-1 in c classes.
        prev = np.concatenate([np.full((r, 1), np.inf), best[:, :-1]], axis=1)  # prev[:, i] = best[:, i-1]
        cand = prev[:, :, None] + ssd  # (r, i, j)
        back[c] = np.argmin(cand, axis=1)
        best = np.min(cand, axis=1)
    cls_sorted = np.zeros((r, n), dtype=np.int64)
    end = np.full(r, n - 1)
    rows = np.arange(r)
    pos = np.arange(n)[None, :]
    for c in range(k - 1, 0, -1):
        start = back[c, rows, end]
        cls_sorted = np.where((pos >= start[:, None]) & (pos <= end[:, None]), c, cls_sorted)
        end = start - 1
    out = np.empty_like(cls_sorted)
    np.put_along_axis(out, order, cls_sorted, axis=1)
    return out


def groups_of(score: np.ndarray, *, method: str, k: int, cutoffs: Sequence[float] | None = None) -> np.ndarray:
    """Potential group of every scored town, 0 = highest potential, -1 = unscored.

    Parameters
    ----------
    score
        Shape ``(runs, towns)``; NaN = unscored. The unscored towns must be the same in every
        row (they are: coverage does not vary between runs).
    method
        ``quantiles`` (equal counts by rank; ties share the better group), ``fixed`` (``cutoffs``,
        highest first: a score at or above ``cutoffs[0]`` is group 0) or ``jenks``.
    k
        Number of groups.
    cutoffs
        ``k - 1`` decreasing score limits for ``fixed``.

    Returns
    -------
    numpy.ndarray
        int array shaped like ``score``.
    """
    score = np.asarray(score, dtype=float)
    out = np.full(score.shape, -1, dtype=np.int64)
    valid = np.isfinite(score[0]) if score.shape[0] else np.zeros(score.shape[1], bool)
    sv = score[:, valid]
    n = sv.shape[1]
    if n == 0:
        return out
    if method == "fixed":
        cuts = np.asarray(list(cutoffs or []), dtype=float)
        g = np.sum(sv[..., None] < cuts[None, None, :], axis=2)
    elif method == "quantiles":
        # rank 0 = best; ties get the best rank among them ("min" method).
        order = np.argsort(-sv, axis=1, kind="stable")
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.arange(n)[None, :].repeat(sv.shape[0], 0), axis=1)
        srt = np.take_along_axis(sv, order, axis=1)
        first = np.concatenate([np.ones((sv.shape[0], 1), bool), srt[:, 1:] != srt[:, :-1]], axis=1)
        idx = np.maximum.accumulate(np.where(first, np.arange(n)[None, :], 0), axis=1)
        tie_rank = np.empty_like(order)
        np.put_along_axis(tie_rank, order, idx, axis=1)
        g = np.minimum(k - 1, (tie_rank * k) // n)
        del ranks
    elif method == "jenks":
        g = jenks_classes(sv, k=min(k, n))
    else:
        raise AnalysisError(f"grouping {method!r} is not known", fix=f"use one of {', '.join(GROUPINGS)}")
    out[:, valid] = g
    return out


# --------------------------------------------------------------------------------------
# weights


def index_weights(
    catalogue: Catalogue,
    *,
    weights: Mapping[str, float] | None = None,
    group_weights: Mapping[str, float] | None = None,
    available: Sequence[str] | None = None,
    key: str = "composite",
) -> pd.Series:
    """Weights of the indicators in the index, summing to 1.

    Parameters
    ----------
    catalogue
        The declarations; indicators with ``in_index`` get weight 1 by default, others 0.
    weights
        Relative weight of an indicator within its group (overrides the default; 0 leaves it
        out, any positive number puts it in even if ``in_index`` is no).
    group_weights
        Relative weight of each group (default 1 each, for the groups that have indicators).
    available
        Columns of the indicator table (a weighted indicator must be one of them).
    key
        Scenario section named in messages.

    Returns
    -------
    pandas.Series
        Indexed by indicator name, in catalogue order, only indicators with weight > 0.

    Raises
    ------
    AnalysisError
        For a weight on an undeclared indicator or group, a negative weight, or weights that
        sum to zero.
    """
    weights = dict(weights or {})
    group_weights = dict(group_weights or {})
    for name, w in weights.items():
        if name not in catalogue:
            raise AnalysisError(f"{key}.weights.{name}: no such indicator in {catalogue.source}",
                                fix=f"use one of {', '.join(catalogue.names)}")
        if not np.isfinite(w) or w < 0:
            raise AnalysisError(f"{key}.weights.{name}: weight {w} is negative or not a number",
                                fix="use a weight >= 0 (0 leaves the indicator out)")
    groups = catalogue.groups
    for g, w in group_weights.items():
        if g not in groups:
            raise AnalysisError(f"{key}.group_weights.{g}: no indicator belongs to group {g!r}",
                                fix=f"use one of {', '.join(groups)}")
        if not np.isfinite(w) or w < 0:
            raise AnalysisError(f"{key}.group_weights.{g}: weight {w} is negative or not a number",
                                fix="use a weight >= 0 (0 leaves the group out)")
    rel = {i.name: float(weights.get(i.name, 1.0 if i.in_index else 0.0)) for i in catalogue}
    rel = {n: w for n, w in rel.items() if w > 0}
    if available is not None:
        lost = [n for n in rel if n not in set(available)]
        if lost:
            raise AnalysisError(f"indicator(s) {', '.join(lost)} are weighted in the index but not in the indicator "
                                "table", fix="add their values to the indicator table, or set their weight to 0")
    by_group: dict[str, float] = {}
    for n, w in rel.items():
        by_group[catalogue[n].group] = by_group.get(catalogue[n].group, 0.0) + w
    out = {}
    for n, w in rel.items():
        g = catalogue[n].group
        out[n] = float(group_weights.get(g, 1.0)) * w / by_group[g]
    total = sum(out.values())
    if total <= 0:
        raise AnalysisError(f"{key}: the index weights sum to zero, so no score can be computed",
                            fix=f"give at least one indicator and its group a positive weight ({key}.weights, "
                                f"{key}.group_weights)")
    series = pd.Series({n: w / total for n, w in out.items() if w > 0}, dtype=float)
    return series


# --------------------------------------------------------------------------------------
# the index of a table


def composite_index(
    table: pd.DataFrame,
    *,
    catalogue: Catalogue,
    normalisation: Normalisation = "minmax",
    aggregation: Aggregation = "arithmetic",
    weights: Mapping[str, float] | None = None,
    group_weights: Mapping[str, float] | None = None,
    min_coverage: float = 0.75,
    grouping: Grouping = "quantiles",
    group_names: Sequence[str] = ("high", "medium", "low"),
    cutoffs: Sequence[float] | None = None,
    assess: Sequence[bool] | np.ndarray | None = None,
    key: str = "composite",
) -> pd.DataFrame:
    """Score, rank and group the towns of an indicator table.

    Parameters
    ----------
    table
        Indicator values, one row per town with ``id`` (from :func:`geoplan.indicators.compute`).
    catalogue
        Declarations (direction, group) of the indicators.
    normalisation, aggregation, weights, group_weights, min_coverage, grouping, group_names, cutoffs
        See the module docstring; ``cutoffs`` holds ``len(group_names) - 1`` decreasing limits
        for ``grouping="fixed"``.
    assess
        Which rows take part (default all): towns left out (e.g. those that have left the
        monotown list) neither get a score nor influence the normalisation.
    key
        Scenario section named in messages.

    Returns
    -------
    pandas.DataFrame
        Per town (the table's order): ``id``, ``score``, ``rank`` (1 = highest, Int64),
        ``group`` (a name from ``group_names``; empty when unscored), ``group_number`` (1 =
        highest potential), ``coverage``, ``missing_in_index``, ``contribution_<group>`` for
        every group of the index. ``attrs["weights"]`` holds the weights used and
        ``attrs["cutoffs"]`` the score limits between the groups.

    Raises
    ------
    AnalysisError
        For bad weights, an indicator without spread or known for one town only, fewer towns
        than groups, or group limits that leave a group empty; each names the indicator or key
        and the fix.
    """
    names = _check_methods(normalisation, aggregation, group_names, key=key)
    w = index_weights(catalogue, weights=weights, group_weights=group_weights, available=list(table.columns),
                      key=key)
    cols = list(w.index)
    use = np.ones(len(table), bool) if assess is None else np.asarray(assess, dtype=bool)
    x = _index_values(table, cols, use, catalogue=catalogue, key=key)
    known = np.isfinite(x)
    coverage = np.where(use, (known * w.to_numpy()[None, :]).sum(axis=1), np.nan)
    scored = use & (coverage >= min_coverage - 1e-12)
    xs = np.where(scored[:, None], x, np.nan)
    sign = np.array([catalogue[c].sign for c in cols])
    v = normalise(xs[None], method=normalisation, sign=sign)
    scale = 1.0 if normalisation == "zscore" else 100.0
    score, terms = aggregate(v, w.to_numpy(), method=aggregation, scale=scale)
    score = score[0]
    terms = terms[0]
    g = _score_groups(score, names, grouping=grouping, cutoffs=cutoffs, min_coverage=min_coverage, key=key)
    finite = np.isfinite(score)
    rank = pd.Series(score).rank(ascending=False, method="min")
    out = pd.DataFrame({"id": table["id"].astype(str).to_numpy(), "score": score,
                        "rank": pd.array(np.where(finite, rank, np.nan), dtype="Int64")})
    out["group"] = pd.Series([names[i] if i >= 0 else None for i in g], dtype=object)
    out["group_number"] = pd.array([int(i) + 1 if i >= 0 else None for i in g], dtype="Int64")
    out["coverage"] = coverage
    out["missing_in_index"] = [", ".join(c for c, ok in zip(cols, known[r], strict=True) if not ok) if use[r] else ""
                               for r in range(len(table))]
    groups = list(dict.fromkeys(catalogue[c].group for c in cols))
    for grp in groups:
        mask = np.array([catalogue[c].group == grp for c in cols])
        out[f"contribution_{grp}"] = np.where(finite, terms[:, mask].sum(axis=1), np.nan)
    out.attrs["weights"] = w.to_dict()
    out.attrs["cutoffs"] = _group_limits(score, g, len(names), grouping=grouping, cutoffs=cutoffs)
    out.attrs["groups"] = groups
    return out


def _check_methods(normalisation: str, aggregation: str, group_names: Sequence[str], *, key: str) -> list[str]:
    """Check the normalisation and aggregation are known and there is a group; return the group names."""
    if normalisation not in NORMALISATIONS:
        raise AnalysisError(f"{key}.normalisation: {normalisation!r} is not allowed",
                            fix=f"use one of {', '.join(NORMALISATIONS)}")
    if aggregation not in AGGREGATIONS:
        raise AnalysisError(f"{key}.aggregation: {aggregation!r} is not allowed",
                            fix=f"use one of {', '.join(AGGREGATIONS)}")
    names = list(group_names)
    if len(names) < 1:
        raise AnalysisError(f"{key}.groups.names: give at least one group", fix="e.g. [high, medium, low]")
    return names


def _index_values(table: pd.DataFrame, cols: list[str], use: np.ndarray, *, catalogue: Catalogue,
                  key: str) -> np.ndarray:
    """Return the values of the index indicators (NaN for missing and for towns not assessed), checked.

    Every indicator must be known for two assessed towns at least and tell them apart.
    """
    x = table[cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    x = np.where(np.isfinite(x), x, np.nan)
    x[~use] = np.nan
    for c, name in enumerate(cols):
        col = x[use, c]
        known = col[np.isfinite(col)]
        where = f"indicator {name} ({catalogue.source})"
        if len(known) < 2:
            raise AnalysisError(f"{where} is known for {len(known)} assessed town(s) only; it cannot be compared",
                                fix=f"fill in its values, or leave it out of the index ({key}.weights.{name}: 0)")
        if np.nanmax(known) == np.nanmin(known):
            raise AnalysisError(f"{where} has the same value ({known[0]:g}) for every assessed town (zero variance),"
                                " so it cannot tell towns apart", fix=f"check its values, or leave it out of the index "
                                f"({key}.weights.{name}: 0)")
    return np.asarray(x)


def _score_groups(score: np.ndarray, names: list[str], *, grouping: str, cutoffs: Sequence[float] | None,
                  min_coverage: float, key: str) -> np.ndarray:
    """Return the potential group of each score (0 = highest, -1 = unscored); every group must have a town."""
    k = len(names)
    n_scored = int(np.isfinite(score).sum())
    if n_scored < k:
        raise AnalysisError(f"{n_scored} town(s) have a score, fewer than the {k} groups of {key}.groups.names",
                            fix=f"use fewer groups, or lower {key}.min_coverage (now {min_coverage:g}) so that "
                                "towns with missing values are scored")
    if grouping == "fixed":
        cuts = list(cutoffs or [])
        if len(cuts) != k - 1 or any(b >= a for a, b in itertools.pairwise(cuts)):
            raise AnalysisError(f"{key}.groups.cutoffs: need {k - 1} decreasing score limits for the groups "
                                f"{', '.join(names)} (got {cuts})", fix="e.g. cutoffs: [60, 40] for high/medium/low")
    g = groups_of(score[None], method=grouping, k=k, cutoffs=cutoffs)[0]
    counts = np.bincount(g[g >= 0], minlength=k)
    if (counts == 0).any():
        empty = [names[i] for i in np.flatnonzero(counts == 0)]
        raise AnalysisError(f"{key}.groups: group(s) {', '.join(empty)} are empty with {grouping} "
                            f"{'cut-offs ' + str(list(cutoffs or [])) if grouping == 'fixed' else 'grouping'} "
                            f"(scores {np.nanmin(score):.1f}..{np.nanmax(score):.1f})",
                            fix="move the cut-offs inside the range of the scores, use fewer groups, "
                                "or group by quantiles")
    return np.asarray(g)


def _group_limits(score: np.ndarray, g: np.ndarray, k: int, *, grouping: str,
                  cutoffs: Sequence[float] | None) -> list[float]:
    """Return the limits between groups, for the borderline test: the cut-offs, else midway between the groups."""
    limits = []
    for c in range(k - 1):
        lower_of_upper = np.nanmin(score[g == c])
        upper_of_lower = np.nanmax(score[g == c + 1])
        limits.append(float(cutoffs[c]) if grouping == "fixed" and cutoffs
                      else (lower_of_upper + upper_of_lower) / 2.0)
    return limits
