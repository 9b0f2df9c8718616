"""The ranking chart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

import geoplan
from geoplan.charts import ranking_png


def _towns() -> pd.DataFrame:
    return pd.DataFrame({"id": ["a", "b", "c", "d"], "name_en": ["Alpha (x)", "Beta", "Gamma", "Delta"],
                         "score": [70.0, 40.0, None, 55.0], "rank": [1, 3, None, 2],
                         "category": ["diversification", "relocation", "not_assessed", "agglomeration"],
                         "rank_p05": [1, 2, None, 1], "rank_p95": [2, 3, None, 3],
                         "fragile": [False, True, False, False]})


def test_ranking_png_is_reproducible_and_drawn(tmp_path):
    a = ranking_png(_towns(), tmp_path / "a.png")
    b = ranking_png(_towns(), tmp_path / "b.png")
    assert a.read_bytes() == b.read_bytes()
    img = imread(a)
    assert img.shape[0] > 200 and img.shape[1] > 800
    # The category colours are in the picture (diversification green, relocation vermillion).
    rgb = (img[::3, ::3, :3] * 255).round().astype(int).reshape(-1, 3)
    pixels = {tuple(int(v) for v in px) for px in np.unique(rgb, axis=0)}
    assert (0, 158, 115) in pixels and (213, 94, 0) in pixels


def test_ranking_png_refuses_unscored_input(tmp_path):
    with pytest.raises(geoplan.AnalysisError, match="no town has a score"):
        ranking_png(_towns().assign(score=None), tmp_path / "x.png")
    with pytest.raises(geoplan.AnalysisError, match="lack column"):
        ranking_png(_towns().drop(columns="rank"), tmp_path / "x.png")


def test_ranking_png_legend_follows_the_fragile_share(tmp_path):
    # The fragile marks come from the towns' column; only the legend's "< N %" depends on the share.
    a = ranking_png(_towns(), tmp_path / "a.png")
    b = ranking_png(_towns(), tmp_path / "b.png", fragile_share=0.6)
    assert a.read_bytes() != b.read_bytes()
    c = ranking_png(_towns().assign(fragile=False), tmp_path / "c.png", fragile_share=0.6)
    assert c.read_bytes() == ranking_png(_towns().assign(fragile=False), tmp_path / "d.png").read_bytes()


def test_ranking_png_leaves_the_matplotlib_backend_alone(tmp_path):
    import matplotlib

    before = matplotlib.get_backend()
    try:
        matplotlib.use("pdf")  # e.g. a notebook's backend: drawing a chart must not switch it
        ranking_png(_towns(), tmp_path / "a.png")
        assert matplotlib.get_backend() == "pdf"
    finally:
        matplotlib.use(before)
