"""The composite index: normalisation, weights, aggregation, missing values, groups, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

import geoplan
from geoplan.composite import composite_index, groups_of, index_weights, jenks_classes, normalise
from geoplan.indicators import Catalogue, Indicator

CAT = Catalogue((
    Indicator("pop", "people", "demography", "higher_better"),
    Indicator("trend", "%/yr", "demography", "higher_better"),
    Indicator("minutes", "minutes", "access", "lower_better"),
), source="test catalogue")


def _table(**cols) -> pd.DataFrame:
    base = {"id": ["a", "b", "c", "d", "e", "f"], "pop": [10.0, 20, 30, 40, 50, 60],
            "trend": [-2.0, -1, 0, 1, 2, 3], "minutes": [300.0, 250, 200, 150, 100, 50]}
    base.update(cols)
    return pd.DataFrame(base)


def test_normalisations_by_hand():
    x = np.array([[[1.0, 10.0], [2.0, 20.0], [4.0, np.nan]]])
    sign = np.array([1.0, -1.0])
    mm = normalise(x, method="minmax", sign=sign)[0]
    assert mm[:, 0].tolist() == pytest.approx([0, 1 / 3, 1]) and mm[:2, 1].tolist() == [1.0, 0.0]
    assert np.isnan(mm[2, 1])
    z = normalise(x, method="zscore", sign=sign)[0]
    assert z[:, 0] == pytest.approx((x[0, :, 0] - x[0, :, 0].mean()) / x[0, :, 0].std())
    r = normalise(x, method="rank", sign=sign)[0]
    assert r[:, 0].tolist() == [0.0, 0.5, 1.0] and r[:2, 1].tolist() == [1.0, 0.0]


def test_equal_weights_per_group_then_per_indicator():
    w = index_weights(CAT)
    assert w.to_dict() == {"pop": 0.25, "trend": 0.25, "minutes": 0.5}
    w = index_weights(CAT, weights={"trend": 3}, group_weights={"access": 2})
    assert w.to_dict() == pytest.approx({"pop": 1 / 12, "trend": 3 / 12, "minutes": 8 / 12})


def test_arithmetic_score_is_the_weighted_mean_and_contributions_add_up():
    out = composite_index(_table(), catalogue=CAT, group_names=("high", "medium", "low"))
    # Every indicator rises from a to f: min-max gives 0, 0.2, ... 1 for each, so scores 0..100.
    assert out["score"].tolist() == pytest.approx([0, 20, 40, 60, 80, 100])
    assert out["rank"].tolist() == [6, 5, 4, 3, 2, 1]
    assert out["group"].tolist() == ["low", "low", "medium", "medium", "high", "high"]
    assert np.allclose(out["contribution_demography"] + out["contribution_access"], out["score"])


def test_geometric_aggregation_penalises_imbalance():
    t = _table(trend=[3.0, -1, 0, 1, 2, -2], minutes=[300.0, 250, 200, 150, 100, 50])
    ari = composite_index(t, catalogue=CAT, aggregation="arithmetic").set_index("id")["score"]
    geo = composite_index(t, catalogue=CAT, aggregation="geometric").set_index("id")["score"]
    assert ((geo >= 1) & (geo <= 100)).all()
    # Town a (best trend, worst everything else) loses more under geometric aggregation than f.
    assert geo.rank()["a"] <= ari.rank()["a"]


def test_missing_values_are_reported_and_reweighted_not_imputed():
    t = _table(trend=[np.nan, -1, 0, 1, 2, 3])
    out = composite_index(t, catalogue=CAT, min_coverage=0.7).set_index("id")
    assert out.loc["a", "missing_in_index"] == "trend" and out.loc["a", "coverage"] == pytest.approx(0.75)
    assert out.loc["a", "score"] == pytest.approx(0.0)  # pop 0 and minutes 0 with weights rescaled to 1
    out = composite_index(t, catalogue=CAT, min_coverage=0.8, group_names=("high", "low")).set_index("id")
    assert np.isnan(out.loc["a", "score"]) and pd.isna(out.loc["a", "rank"]) and out.loc["a", "group"] is None
    assert out["rank"].max() == 5


def test_towns_not_assessed_do_not_shape_the_index():
    t = _table(pop=[10.0, 20, 30, 40, 50, 10_000])
    out = composite_index(t, catalogue=CAT, assess=[True] * 5 + [False], group_names=("high", "low"))
    assert np.isnan(out["score"].iloc[5])
    assert out["score"].iloc[4] == pytest.approx(100)  # e is the best of the assessed towns


def test_group_methods():
    s = np.array([[90.0, 85, 80, 40, 35, 10, np.nan]])
    assert groups_of(s, method="quantiles", k=3)[0].tolist() == [0, 0, 1, 1, 2, 2, -1]
    assert groups_of(s, method="fixed", k=3, cutoffs=[60, 20])[0].tolist() == [0, 0, 0, 1, 1, 2, -1]
    assert groups_of(s, method="jenks", k=3)[0].tolist() == [0, 0, 0, 1, 1, 2, -1]


def test_jenks_is_the_exact_optimum():
    rng = np.random.default_rng(7)
    x = rng.gamma(2.0, size=(50, 9))
    got = jenks_classes(x, k=3)

    def ssd(v, g):
        return sum(((v[g == c] - v[g == c].mean()) ** 2).sum() for c in np.unique(g))

    for row, g in zip(x, got, strict=True):
        s = np.sort(row)[::-1]
        best = min(ssd(s, np.repeat([0, 1, 2], [a, b - a, 9 - b])) for a, b in itertools.combinations(range(1, 9), 2))
        assert ssd(row, g) == pytest.approx(best)
        assert row[g == 0].min() > row[g == 1].max() > 0 or row[g == 1].size


@pytest.mark.parametrize(("kwargs", "table", "needle"), [
    ({"weights": {"pop": -1}}, None, "composite.weights.pop: weight -1 is negative"),
    ({"weights": {"pop": 0, "trend": 0, "minutes": 0}}, None, "the index weights sum to zero"),
    ({"group_weights": {"demography": 0, "access": 0}}, None, "the index weights sum to zero"),
    ({"weights": {"jobs": 1}}, None, "composite.weights.jobs: no such indicator in test catalogue"),
    ({}, {"trend": [1.0] * 6}, "indicator trend (test catalogue) has the same value (1) for every assessed town"),
    ({}, {"trend": [1.0] + [np.nan] * 5}, "indicator trend (test catalogue) is known for 1 assessed town(s) only"),
    ({"grouping": "fixed", "cutoffs": [200, 150]}, None, "group(s) high, medium are empty with fixed cut-offs"),
    ({"grouping": "fixed", "cutoffs": [20, 60]}, None, "need 2 decreasing score limits"),
    ({"group_names": [f"g{i}" for i in range(7)]}, None, "6 town(s) have a score, fewer than the 7 groups"),
    ({"normalisation": "log"}, None, "composite.normalisation: 'log' is not allowed"),
])
def test_bad_input_names_the_key_and_the_fix(kwargs, table, needle):
    with pytest.raises(geoplan.AnalysisError) as info:
        composite_index(_table(**(table or {})), catalogue=CAT, **kwargs)
    assert needle in str(info.value)
    assert "fix:" in str(info.value)
