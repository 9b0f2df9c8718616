"""Validation of the ``boundaries`` and ``settlements`` layers and of places against boundaries.

Each case edits the embedded layers in memory with one known defect and checks the problem
that comes out: its severity, layer, feature id, check code, and that message and fix say
what is wrong and what to do.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely import affinity
from shapely.geometry import Point

import geoplan
from geoplan.layers import BOUNDARIES, SETTLEMENTS, LayerSet, Problem, normalise, read_layers, validate, write_layers

NAMES = ("towns", "centres", "boundaries", "settlements")


@pytest.fixture(scope="module")
def kz() -> LayerSet:
    full = read_layers(geoplan.embedded_layers_path())
    return LayerSet({n: full.layers[n] for n in NAMES}, {n: full.sources[n] for n in NAMES}, full.meta)


def _edit(kz: LayerSet) -> LayerSet:
    return kz.copy()


def _at(gdf: gpd.GeoDataFrame, fid: str) -> int:
    hits = gdf.index[gdf["id"] == fid]
    assert len(hits) == 1, fid
    return int(hits[0])


def _found(problems: list[Problem], check: str, layer: str, fid: str | None, severity: str = "error") -> Problem:
    hits = [p for p in problems if (p.check, p.layer, p.feature_id, p.severity) == (check, layer, fid, severity)]
    assert hits, f"no {severity} {check} on {layer}/{fid}; got:\n" + "\n".join(map(str, problems))
    p = hits[0]
    assert p.message and p.fix and p.source.endswith(f"{layer}.geojson"), p
    return p


def _checks(problems: list[Problem]) -> set[tuple[str, str, str | None, str]]:
    return {(p.severity, p.layer, p.feature_id, p.check) for p in problems}


def test_embedded_admin_layers_are_clean(kz: LayerSet) -> None:
    assert validate(kz) == []
    assert BOUNDARIES.geometry_type == "Polygon" and SETTLEMENTS.field("population").minimum == 0


def test_negative_and_text_population(kz: LayerSet) -> None:
    layers = _edit(kz)
    s = layers.layers["settlements"]
    s["population"] = s["population"].astype(object)
    s.loc[_at(s, "osm-n27522202"), "population"] = -5          # Talgar
    s.loc[_at(s, "osm-n27524816"), "population"] = "310 456"   # Semey, with a thousands space
    problems = validate(layers)
    assert "-5" in _found(problems, "out_of_range", "settlements", "osm-n27522202").message
    assert "'310 456'" in _found(problems, "wrong_type", "settlements", "osm-n27524816").message
    assert {p.check for p in problems if p.severity == "error"} == {"out_of_range", "wrong_type"}


def test_settlement_outside_every_district_is_a_warning(kz: LayerSet) -> None:
    layers = _edit(kz)
    s = layers.layers["settlements"]
    s.loc[_at(s, "osm-n27522202"), "geometry"] = Point(61.40, 55.16)  # Chelyabinsk, Russia
    problems = validate(layers)
    p = _found(problems, "outside_boundaries", "settlements", "osm-n27522202", "warning")
    assert "outside every district" in p.message and "coordinates" in p.fix
    assert [x for x in problems if x.severity == "error"] == []


def test_town_in_another_region_is_an_error(kz: LayerSet) -> None:
    layers = _edit(kz)
    t = layers.layers["towns"]
    t.loc[_at(t, "saran"), "region"] = "Pavlodar"
    t.loc[_at(t, "rudny"), "region"] = "Atlantis"
    c = layers.layers["centres"]
    c.loc[_at(c, "taraz"), "geometry"] = Point(69.6, 42.3)  # moved into Shymkent
    problems = validate(layers)
    p = _found(problems, "region_mismatch", "towns", "saran")
    assert "'Pavlodar'" in p.message and "'Karagandy'" in p.message and "Saran" in p.message
    assert "correct 'region' to 'Karagandy'" in p.fix
    assert "'Shymkent (city)'" in _found(problems, "region_mismatch", "centres", "taraz").message
    assert "name_alt" in _found(problems, "unknown_region", "towns", "rudny", "warning").fix
    # The project's own spellings ("Karaganda", "Abai", "Turkistan", "... (city of republican
    # significance)") are known alternatives: the untouched places raise nothing.
    assert {(p.layer, p.feature_id) for p in problems} == {("towns", "saran"), ("towns", "rudny"),
                                                           ("centres", "taraz")}


def test_shifted_district_overlaps_and_leaves_a_gap(kz: LayerSet) -> None:
    layers = _edit(kz)
    b = layers.layers["boundaries"]
    i = _at(b, "KZ352200")  # Saran' (a city district inside Karagandy region)
    b.loc[i, "geometry"] = affinity.translate(b.geometry[i], xoff=0.05)
    problems = validate(layers)
    overlap = [p for p in problems if p.check == "boundary_overlap"]
    assert overlap and all(p.severity == "error" and p.layer == "boundaries" for p in overlap)
    assert any("KZ352200" in p.message and "km²" in p.message and "lon 7" in p.message for p in overlap)
    gap = [p for p in problems if p.check == "boundary_gap"]
    assert gap and "gap of" in gap[0].message and "coverage_clean" in gap[0].fix
    assert ("error", "boundaries", "KZ352200", "outside_parent") not in _checks(problems)  # still inside Karagandy


def test_district_beyond_its_region_and_unknown_parent(kz: LayerSet) -> None:
    layers = _edit(kz)
    b = layers.layers["boundaries"]
    b.loc[_at(b, "KZ352200"), "parent_id"] = "KZ55"  # Saran' said to be in Pavlodar region
    b.loc[_at(b, "KZ351600"), "parent_id"] = "KZ99"
    problems = validate(layers)
    assert "beyond its parent KZ55" in _found(problems, "outside_parent", "boundaries", "KZ352200").message
    assert "'KZ99'" in _found(problems, "unknown_parent", "boundaries", "KZ351600").message


def test_missing_district_is_a_gap(kz: LayerSet) -> None:
    layers = _edit(kz)
    b = layers.layers["boundaries"]
    layers.layers["boundaries"] = b[b["id"] != "KZ352200"].reset_index(drop=True)
    problems = validate(layers)
    gaps = [p for p in problems if p.check == "boundary_gap"]
    assert len(gaps) == 1 and gaps[0].severity == "error" and gaps[0].feature_id is not None
    area = float(gaps[0].message.split("gap of ")[1].split(" km²")[0])
    assert 100 < area < 1000  # Saran' city administration: a few hundred km²
    # Places there now lie outside every district: Saran (town) and its settlement.
    assert ("warning", "towns", "saran", "outside_boundaries") in _checks(problems)
    # Without the country (level 0) the hole in the districts' union is the gap.
    b = layers.layers["boundaries"]
    layers.layers["boundaries"] = b[b["level"] != 0].reset_index(drop=True)
    gaps = [p for p in validate(layers) if p.check == "boundary_gap"]
    assert len(gaps) == 1 and "in no district" in gaps[0].message and gaps[0].feature_id != "KZ"


def test_settlement_links(kz: LayerSet) -> None:
    layers = _edit(kz)
    s = layers.layers["settlements"]
    s.loc[_at(s, "osm-n27522202"), "town_id"] = "nowhere"
    s.loc[_at(s, "osm-n27524816"), "centre_id"] = "almaty"
    problems = validate(layers)
    p = _found(problems, "unknown_place", "settlements", "osm-n27522202", "warning")
    assert "'nowhere'" in p.message and "counted as a place of its own" in p.message
    dup = [p for p in problems if p.check == "duplicate_link"]
    assert len(dup) == 1 and dup[0].severity == "warning" and "'almaty'" in dup[0].message


def test_settlement_district_code_checked(kz: LayerSet) -> None:
    layers = _edit(kz)
    s = layers.layers["settlements"]
    s.loc[_at(s, "osm-n27522202"), "district_kato"] = "111111111"
    p = _found(validate(layers), "district_mismatch", "settlements", "osm-n27522202", "warning")
    assert "Talgar" in p.message and "196200000" in p.message


def test_polygon_layer_keeps_its_parts_and_round_trips(kz: LayerSet, tmp_path: Path) -> None:
    b = kz.layers["boundaries"]
    islands = b.geometry.to_numpy()[shapely.get_num_geometries(b.geometry.to_numpy()) > 1]
    assert len(islands) >= 1  # the country and coastal districts have several parts
    assert (shapely.get_num_geometries(normalise(b, BOUNDARIES).geometry.to_numpy())
            == shapely.get_num_geometries(b.geometry.to_numpy())).all()
    out = write_layers(LayerSet({n: kz.layers[n] for n in ("towns", "centres", "boundaries")}, meta=kz.meta),
                       tmp_path / "admin.gpkg")
    back = read_layers(out, required=("towns", "centres"))
    assert back["boundaries"].geom_type.unique().tolist() == ["MultiPolygon"]
    assert np.array_equal(np.sort(back["boundaries"]["id"]), np.sort(b["id"]))
    assert validate(back) == []


def test_duplicate_boundary_id_is_reported_not_a_crash(kz: LayerSet) -> None:
    layers = _edit(kz)
    b = layers.layers["boundaries"]
    b.loc[_at(b, "KZ352200"), "id"] = "KZ351600"  # two districts called KZ351600
    problems = validate(layers)
    assert "2 features" in _found(problems, "duplicate_id", "boundaries", "KZ351600").message
