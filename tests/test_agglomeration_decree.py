"""The 2023 agglomeration decree beside the layers, and geoplan's compositions checked against it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import geoplan
from geoplan import AnalysisError
from geoplan.agglomeration import (
    DECREE_COLUMNS,
    DECREE_FILE,
    agglomerations,
    decree_comparison,
    decree_membership,
    read_decree,
)
from geoplan.layers import LayerSet

KZ = geoplan.embedded_layers_path()


@pytest.fixture(scope="module")
def kz() -> LayerSet:
    return geoplan.read_layers(KZ)


@pytest.fixture(scope="module")
def decree(kz: LayerSet) -> pd.DataFrame:
    return read_decree(KZ / DECREE_FILE, boundaries=kz.layers["boundaries"], centres=kz.centres)


def test_embedded_decree_table(decree: pd.DataFrame) -> None:
    # Five agglomerations: three of the first level, two of the second, 26 member units.
    levels = decree.groupby("agglomeration")["level"].first().to_dict()
    assert levels == {"almaty": 1, "astana": 1, "shymkent": 1, "aktobe": 2, "karaganda": 2}
    assert len(decree) == 26 and decree["member_id"].is_unique
    karaganda = set(decree.loc[decree["agglomeration"] == "karaganda", "member"])
    assert karaganda == {"Saran'", "Temirtau", "Shakhtinsk", "Abay", "Bukhar-Zhyrau", "Osakarov"}


def test_towns_in_a_decree_agglomeration(kz: LayerSet, decree: pd.DataFrame) -> None:
    m = decree_membership(kz.towns, decree, boundaries=kz.layers["boundaries"])
    inside = dict(zip(kz.towns.loc[m.index, "id"], m["decree_agglomeration"], strict=True))
    # Abai lies in Abay district of Karaganda region (not the Abai region's Abay district).
    assert {t: a for t, a in inside.items() if a} == {
        "abai": "karaganda", "khromtau": "aktobe", "saran": "karaganda", "shakhtinsk": "karaganda",
        "temirtau": "karaganda"}
    assert m.loc[kz.towns["id"] == "kandyagash", "decree_level"].isna().all()


def test_travel_time_compositions_agree_with_the_decree(kz: LayerSet, decree: pd.DataFrame) -> None:
    """The 90-minute bands propose nearly the decree's members: the check behind the default reach."""
    agg = agglomerations(kz, centre_ids=sorted(set(decree["agglomeration"])))
    cmp = decree_comparison(agg.districts, decree, centres=kz.centres, boundaries=kz.layers["boundaries"])
    counts = cmp["agreement"].value_counts()
    both = int(counts.get("both", 0))
    recall, precision = both / len(decree), both / int(cmp["proposed"].sum())
    assert recall >= 0.9 and precision >= 0.85, cmp.to_string()
    # The city districts of Almaty, Astana and Shymkent are the core, not members.
    assert not cmp["district_id"].str.startswith(("KZ71", "KZ75", "KZ79")).any()
    assert cmp.loc[cmp["centre"] == "karaganda", "agreement"].eq("both").all()
    # Every decree member appears, agreed or not, with its own wording.
    assert set(cmp.loc[cmp["in_decree"], "district_id"]) == set(decree["member_id"])
    assert (cmp.loc[cmp["in_decree"], "named_as"] != "").all()
    missed = cmp[cmp["agreement"] == "decree only"]
    assert (missed["share"] < 0.5).all()  # missed because the band holds few of their people


@pytest.mark.parametrize(("line", "text", "expected"), [
    ("almaty,3,KZ194000,X,,", "level '3' is not 1 or 2", ":2:"),
    ("nowhere,1,KZ194000,X,,", "agglomeration 'nowhere' is not a growth centre id", ":2:"),
    ("almaty,1,KZ19,X,,", "member 'KZ19' is not a district (level 2)", ":2:"),
])
def test_bad_rows_name_the_line_and_the_fix(kz: LayerSet, tmp_path: Path, line: str, text: str,
                                            expected: str) -> None:
    p = tmp_path / "decree.csv"
    p.write_text(",".join(DECREE_COLUMNS) + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(AnalysisError) as err:
        read_decree(p, boundaries=kz.layers["boundaries"], centres=kz.centres)
    assert text in str(err.value) and f"{p}{expected}" in str(err.value) and err.value.fix


def test_duplicate_and_missing_columns(kz: LayerSet, tmp_path: Path) -> None:
    p = tmp_path / "decree.csv"
    p.write_text(",".join(DECREE_COLUMNS) + "\nalmaty,1,KZ194000,A,,\nastana,1,KZ194000,A,,\n", encoding="utf-8")
    with pytest.raises(AnalysisError, match=r"decree.csv:3: member 'KZ194000' is named twice"):
        read_decree(p, boundaries=kz.layers["boundaries"], centres=kz.centres)
    p.write_text("agglomeration,level\nalmaty,1\n", encoding="utf-8")
    with pytest.raises(AnalysisError, match=r"missing column.*member_id"):
        read_decree(p, boundaries=kz.layers["boundaries"], centres=kz.centres)
    with pytest.raises(AnalysisError, match="decree table not found"):
        read_decree(tmp_path / "none.csv", boundaries=kz.layers["boundaries"], centres=kz.centres)
