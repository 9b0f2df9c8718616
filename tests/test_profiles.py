"""Town profiles: one printable page per town and the sortable index (HTML, escaping, Chromium)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from _kz_results import Results, build_results, with_hostile_text, xss_name

import geoplan
from geoplan._style import CATEGORY_LABELS
from geoplan.profiles import profile_filename, profile_html, profiles_index_html, write_profiles


@pytest.fixture(scope="module")
def res(kz_layers: geoplan.LayerSet) -> Results:
    return build_results(kz_layers)


@pytest.fixture(scope="module")
def boundaries(kz_path: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(kz_path / "boundaries.geojson")


def _od(res: Results) -> pd.DataFrame:
    rows = []
    for t in res.towns.itertuples():
        for k, c in enumerate(res.centres.itertuples()):
            rows.append({"origin": t.id, "destination": c.id, "minutes": 30.0 + 17 * k, "km": 20.0 + 11 * k})
    return pd.DataFrame(rows)


def test_profile_has_every_section(res: Results, boundaries: gpd.GeoDataFrame) -> None:
    towns = res.towns.assign(rank=np.arange(1, len(res.towns) + 1), score=np.linspace(1, 0, len(res.towns)),
                             rank_low=1, rank_high=4, fragile=False, borderline=True)
    town = towns.iloc[3]
    country = boundaries[boundaries["level"] == 0].geometry.iloc[0]
    page = profile_html(town, towns, od=_od(res), centres=res.centres, country=country, scenario="baseline")
    assert f"<h1>{town['name_en']}</h1>" in page
    assert CATEGORY_LABELS[town["category"]] in page and town["reasons"] in page
    assert "Rank" in page and "range 1–4" in page and "borderline" in page
    # indicators against the national median of all towns
    median = float(np.median(res.towns["population"]))
    assert "Median of all towns" in page and f"{median:,.0f}" in page
    # the three nearest centres with minutes and km, nearest first
    names = res.centres["name_en"].tolist()
    rows = re.findall(r"<tr><td>([^<]+)</td><td class=\"n\">([^<]+)</td><td class=\"n\">([^<]+) km</td></tr>", page)
    assert [r[0] for r in rows] == names[:3] and rows[0][1] == "30 min" and rows[2][2] == "42"
    # the population series and the locator map are inline SVG: nothing to fetch
    assert page.count("<svg") == 2 and "src=" not in page and "http" not in page.split("</style>")[1]
    assert "@media print" in page and "size:A4 portrait" in page


def test_profile_names_the_decree_agglomeration(res: Results, kz_layers: geoplan.LayerSet) -> None:
    from geoplan.agglomeration import DECREE_FILE, decree_membership, read_decree

    bounds = kz_layers.layers["boundaries"]
    decree = read_decree(geoplan.embedded_layers_path() / DECREE_FILE, boundaries=bounds, centres=res.centres)
    towns = res.towns.join(decree_membership(res.towns, decree, boundaries=bounds))
    by_id = towns.set_index("id", drop=False)
    page = profile_html(by_id.loc["khromtau"], towns, centres=res.centres)
    assert "In the 2023 agglomeration decree: Aktobe agglomeration (level 2)" in page
    assert "2023 agglomeration decree" not in profile_html(by_id.loc["ridder"], towns, centres=res.centres)


def test_profile_escapes_text(res: Results) -> None:
    hostile = with_hostile_text(res)
    page = profile_html(hostile.towns.iloc[0], hostile.towns)
    assert "<img" not in page and "&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;" in page
    assert "&lt;b&gt;left&lt;/b&gt;" in page


def test_write_profiles_and_index(res: Results, boundaries: gpd.GeoDataFrame, tmp_path: Path) -> None:
    towns = res.towns.copy()
    towns.loc[0, "id"] = "../evil id"
    written = write_profiles(tmp_path / "profiles", towns, centres=res.centres, boundaries=boundaries,
                             scenario="center_west")
    files = sorted(p.name for p in (tmp_path / "profiles").iterdir())
    assert len(files) == len(towns) + 1 and "index.html" in files
    assert "evil_id.html" in files and not (tmp_path / "evil id.html").exists()
    index = written["index"].read_text(encoding="utf-8")
    for t in towns.itertuples():
        assert f'href="{profile_filename(t.id)}"' in index
    assert "center_west" in index and 'data-sort="num"' in index
    again = write_profiles(tmp_path / "again", towns, centres=res.centres, boundaries=boundaries,
                           scenario="center_west")
    assert all(again[k].read_bytes() == written[k].read_bytes() for k in written)


def test_index_without_optional_columns(res: Results) -> None:
    page = profiles_index_html(res.towns[["id", "name_en", "category", "geometry"]])
    assert "Rank" not in page and "Town" in page


# --------------------------------------------------------------------------------------
# browser: the index sorts, the profile prints on one page


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path("/usr/bin/chromium").exists():
        if os.environ.get("CI") == "true":
            pytest.fail("/usr/bin/chromium is missing")
        pytest.skip("/usr/bin/chromium is missing")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium",
                               args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.mark.browser
def test_index_sorts_and_profile_prints_on_one_page(browser, res: Results, boundaries: gpd.GeoDataFrame,
                                                    tmp_path: Path) -> None:
    hostile = with_hostile_text(res)
    write_profiles(tmp_path, hostile.towns, centres=res.centres, boundaries=boundaries)
    page = browser.new_page()
    errors: list[str] = []
    blocked: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file://")
               else (blocked.append(r.request.url), r.abort()))
    try:
        page.goto((tmp_path / "index.html").as_uri())
        header = page.locator("th", has_text="Population")
        n = page.locator("thead th").all_inner_texts().index("Population") + 1
        header.click()
        pops = [int(x.replace(",", "")) for x in page.locator(f"tbody tr td:nth-child({n})").all_inner_texts()]
        assert pops == sorted(pops)
        header.press("Enter")  # keyboard: sorts the other way
        pops = [int(x.replace(",", "")) for x in page.locator(f"tbody tr td:nth-child({n})").all_inner_texts()]
        assert pops == sorted(pops, reverse=True)
        assert xss_name() in page.locator("tbody").inner_text()
        page.goto((tmp_path / profile_filename(hostile.towns.loc[0, "id"])).as_uri())
        assert xss_name() in page.locator("h1").inner_text()
        pdf = page.pdf(format="A4")
        assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1  # one A4 page
        assert page.evaluate("() => window.__xss") is None
        assert errors == [] and blocked == []
    finally:
        page.close()
