"""The PostGIS layer store against a real PostgreSQL + PostGIS server started by the tests.

The ``pg`` fixture (tests/conftest.py, tests/_pg.py) runs Debian's server on a free port on
127.0.0.1 with its data folder under the test's temp dir; each test works in a schema of its
own. No mocks: the constraints, transactions and locks are PostgreSQL's.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely

import geoplan
from geoplan._errors import LayerValidationError, StoreError
from geoplan.store import (
    content_hash,
    diff_layers,
    layer_edits,
    layer_versions,
    parse_url,
    pull_layers,
    push_layers,
    read_postgis,
    read_results,
    redact_url,
    write_results,
)

ROOT = Path(__file__).resolve().parents[1]
_schemas = itertools.count(1)


@pytest.fixture
def url(pg: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh schema's URL; the password comes from PGPASSWORD, as a user would give it."""
    from _pg import PASSWORD

    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    monkeypatch.setenv("PGPASSFILE", os.devnull)
    return str(pg.url(schema=f"t{next(_schemas)}"))


@pytest.fixture
def sql(pg: Any) -> Iterator[psycopg.Connection[Any]]:
    """A separate connection, as QGIS (or a colleague's psql) would hold one; autocommit."""
    with psycopg.connect(pg.conninfo(), autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def kz_all() -> geoplan.LayerSet:
    """Every embedded layer (the round trip and the check run on all of them)."""
    return geoplan.read_layers(geoplan.embedded_layers_path())


#: The layers most tests push: quick to validate, and enough for every rule and transaction.
CORE = ("towns", "centres", "roads", "rail_stations", "rail")


@pytest.fixture(scope="module")
def kz(kz_all: geoplan.LayerSet) -> geoplan.LayerSet:
    core = kz_all.copy()
    for name in [n for n in core.names if n not in CORE]:
        del core.layers[name], core.sources[name]
    return core


def _schema(url: str) -> str:
    return str(parse_url(url).schema)


def _hashes(url: str) -> dict[str, str]:
    layers = read_postgis(url, required=())
    return {n: content_hash(g, n) for n, g in layers.layers.items()}


def _awkward(kz: geoplan.LayerSet) -> geoplan.LayerSet:
    """The embedded set with Kazakh and Russian text, NULLs, big integers and COPY-hostile text."""
    s = kz.copy()
    t = s.layers["towns"]
    t.loc[0, "name_kk"] = "Жезқазған — Әә Ғғ Ққ Ңң Өө Ұұ Үү Һһ Іі"
    t.loc[0, "name_ru"] = "Жезказга́н «ёлка» \\N tab\there\nnewline 'quote' \"dq\""
    t.loc[1, "population"] = 99_999_999  # the largest the schema allows
    t.loc[2, "population_2021"] = np.nan
    t.loc[3, "enterprise"] = None
    t.loc[4, "resource_note"] = ""  # empty text stays empty text, not NULL
    return s


# --------------------------------------------------------------------------------------
# round trip, check, diff, versions


def test_round_trip_is_lossless(kz_all: geoplan.LayerSet, url: str, tmp_path: Path) -> None:
    src = _awkward(kz_all)
    report = push_layers(src, url, message="first")
    assert report.recreated and report.push == 1
    back = read_postgis(url)
    assert back.names == src.names
    for name in src.names:
        a, b = src.layers[name], back.layers[name]
        assert list(b.columns) == list(a.columns), name
        for col in a.columns:
            if col == a.geometry.name:
                assert shapely.equals_exact(a.geometry.to_numpy(), b.geometry.to_numpy(), tolerance=0).all()
                continue
            va, vb = a[col].to_numpy(dtype=object), b[col].to_numpy(dtype=object)
            for x, y in zip(va, vb, strict=True):
                if pd.isna(x):
                    assert pd.isna(y), (name, col, x, y)
                else:
                    assert (x == y and type(x) is type(y)) or float(x) == float(y), (name, col, x, y)
    assert back.towns.loc[0, "name_kk"] == "Жезқазған — Әә Ғғ Ққ Ңң Өө Ұұ Үү Һһ Іі"
    assert back.towns.loc[4, "resource_note"] == ""
    assert pd.isna(back.towns.loc[3, "enterprise"])
    assert back.meta == src.meta
    assert diff_layers(src, back).empty
    # file -> PostGIS -> file gives the same bytes as writing the set directly
    for target in ("direct", "pulled"):
        (tmp_path / target).mkdir()
    geoplan.write_layers(src, tmp_path / "direct" / "set.gpkg")
    geoplan.write_layers(src, tmp_path / "direct" / "folder")
    pull_layers(url, tmp_path / "pulled" / "set.gpkg")
    pull_layers(url, tmp_path / "pulled" / "folder")
    for rel in ["set.gpkg", *(f"folder/{n}.geojson" for n in src.names), "folder/layerset.json"]:
        assert (tmp_path / "pulled" / rel).read_bytes() == (tmp_path / "direct" / rel).read_bytes(), rel


def test_tables_carry_keys_indexes_and_rules(kz: geoplan.LayerSet, url: str, sql: psycopg.Connection[Any]) -> None:
    push_layers(kz, url)
    schema = _schema(url)
    rows = sql.execute(
        "SELECT c.relname, con.conname, con.contype FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s", (schema,)).fetchall()
    cons = {(t, name): kind for t, name, kind in rows}
    assert cons[("towns", "towns_pkey")] == "p"
    assert cons[("towns", "towns: id must be unique")] == "u"
    assert cons[("towns", "population must be greater than 0")] == "c"
    assert cons[("roads", "lanes must be at most 12")] == "c"
    assert cons[("centres", "role must be one of: republican, regional_centre, other")] == "c"
    assert cons[("rail", "from_station must be a rail_stations id")] == "f"
    idx = {r[0] for r in sql.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s", (schema,))}
    assert {f"{n}_geom_idx" for n in kz.names} <= idx
    geo = dict(sql.execute("SELECT f_table_name, type || ' ' || srid FROM geometry_columns WHERE f_table_schema = %s",
                           (schema,)).fetchall())
    assert geo["towns"] == "POINT 4326" and geo["roads"] == "LINESTRING 4326"


def test_settlement_links_are_foreign_keys_when_the_data_meets_them(kz_all: geoplan.LayerSet, url: str,
                                                                    sql: psycopg.Connection[Any]) -> None:
    if "settlements" not in kz_all.layers:
        pytest.skip("no settlements layer in the embedded set")
    s = _schema(url)
    push_layers(kz_all, url)

    def links() -> dict[str, str]:
        rows = sql.execute("SELECT con.conname, con.confdeltype FROM pg_constraint con JOIN pg_class c ON "
                           "c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                           "WHERE n.nspname = %s AND c.relname = 'settlements' AND con.contype = 'f'", (s,))
        return {str(name): str(kind) for name, kind in rows}

    assert links() == {"town_id must be a towns id": "n", "centre_id must be a centres id": "n"}  # n: SET NULL
    linked = sql.execute(f"SELECT id, town_id FROM {s}.settlements WHERE town_id IS NOT NULL LIMIT 1").fetchone()
    # A town deleted in QGIS: its settlement counts as itself again (the link empties), as the validator has it.
    sql.execute(f"DELETE FROM {s}.towns WHERE id = %s", (linked[1],))
    assert sql.execute(f"SELECT town_id FROM {s}.settlements WHERE id = %s", (linked[0],)).fetchone() == (None,)
    # A set whose link names no town (a warning, not an error) is pushed without that foreign key.
    loose = kz_all.copy()
    st = loose.layers["settlements"]
    st.loc[st["id"] == linked[0], "town_id"] = "atlantis"
    assert any(p.layer == "settlements" for p in push_layers(loose, url).warnings)
    assert links() == {"centre_id must be a centres id": "n"}


def test_without_schema_the_set_goes_to_public(kz: geoplan.LayerSet, pg: Any, url: str) -> None:
    plain = pg.url()  # no ?schema=: public, where PostGIS keeps spatial_ref_sys and geometry_columns
    assert push_layers(kz, plain).push == 1
    assert diff_layers(kz, read_postgis(plain)).empty
    with psycopg.connect(pg.conninfo()) as conn:
        assert conn.execute("SELECT count(*) FROM public.spatial_ref_sys").fetchone()[0] > 1000
        conn.execute("DROP TABLE public.towns, public.centres, public.roads, public.rail_stations, public.rail, "
                     "public.geoplan_layerset, public.layer_versions CASCADE")
        conn.commit()


def test_check_reports_the_same_problems_as_for_files(kz_all: geoplan.LayerSet, url: str,
                                                      sql: psycopg.Connection[Any], tmp_path: Path) -> None:
    kz = kz_all
    push_layers(kz, url)
    schema = _schema(url)
    # Edits the constraints allow but the validator flags: a town moved outside the set's extent,
    # a station serving an unknown place, a road end moved off the network.
    sql.execute(f"UPDATE {schema}.towns SET geom = ST_SetSRID(ST_MakePoint(30.5, 50.4), 4326) WHERE id = 'temirtau'")
    sql.execute(f"UPDATE {schema}.rail_stations SET serves = 'atlantis' WHERE fid = 3")
    files = kz.copy()
    t = files.layers["towns"]
    t.loc[t["id"] == "temirtau", "geometry"] = shapely.Point(30.5, 50.4)
    files.layers["rail_stations"].loc[2, "serves"] = "atlantis"
    geoplan.write_layers(files, tmp_path / "edited")
    from_files = geoplan.validate(geoplan.read_layers(tmp_path / "edited"))
    from_db = geoplan.validate(read_postgis(url))

    def key(problems: list[geoplan.Problem]) -> list[tuple[str, ...]]:
        return [(p.severity, p.layer, str(p.feature_id), p.check, p.message, p.fix) for p in problems]

    assert key(from_db) == key(from_files)
    assert {p.check for p in from_db if p.severity == "error"} == {"outside_extent", "unknown_place"}
    assert all(p.source.endswith(f"table {schema}.{p.layer}") for p in from_db if p.layer != "layerset")


def test_versions_and_diff(kz: geoplan.LayerSet, url: str, tmp_path: Path) -> None:
    push_layers(kz, url, message="initial load")
    v2 = kz.copy()
    towns = v2.layers["towns"]
    towns.loc[towns["id"] == "zhezkazgan", "population"] = 80000
    roads = v2.layers["roads"]
    gone = str(roads["id"].iloc[-1])
    new = roads.iloc[[-1]].copy()
    new["id"] = "r_new"
    v2.layers["roads"] = pd.concat([roads.iloc[:-1], new], ignore_index=True)  # a segment renamed
    report = push_layers(v2, url, message="census update")
    assert not report.recreated and report.push == 2
    hist = layer_versions(url)
    last = hist[hist["push"] == 2].set_index("layer")
    assert last.loc["towns", ["added", "removed", "changed"]].tolist() == [0, 0, 1]
    assert last.loc["roads", ["added", "removed", "changed"]].tolist() == [1, 1, 0]
    assert last.loc["centres", ["added", "removed", "changed"]].tolist() == [0, 0, 0]
    assert last.loc["towns", "content_hash"] == content_hash(v2.towns, "towns") != content_hash(kz.towns, "towns")
    assert last.loc["centres", "content_hash"] == content_hash(kz.centres, "centres")
    assert last.loc["towns", "message"] == "census update" and last.loc["towns", "pushed_by"] == "geoplan"
    assert set(hist["push"]) == {1, 2}
    # diff: files against the database
    changes = diff_layers(kz, read_postgis(url))
    assert changes[["layer", "id", "change"]].to_numpy().tolist() == [
        *sorted([["roads", "r_new", "added"], ["roads", gone, "removed"]]), ["towns", "zhezkazgan", "changed"]]
    assert changes.iloc[2]["columns"] == "population"
    assert "-> 80000" in changes.iloc[2]["detail"]


# --------------------------------------------------------------------------------------
# the database refuses bad edits (as QGIS would save them)

BAD_EDITS = [
    ("UPDATE {s}.towns SET population = 0 WHERE id = 'temirtau'", "population must be greater than 0"),
    ("UPDATE {s}.towns SET population = NULL WHERE id = 'temirtau'", "null value in column \"population\""),
    ("UPDATE {s}.towns SET name_en = '  ' WHERE id = 'temirtau'", "name_en must not be blank"),
    ("UPDATE {s}.roads SET road_class = 'highway' WHERE fid = 1", "road_class must be one of the allowed values"),
    ("UPDATE {s}.towns SET id = 'satpayev' WHERE id = 'temirtau'", "towns: id must be unique"),
    ("UPDATE {s}.towns SET geom = ST_SetSRID(ST_MakePoint(7300000, 6600000), 4326) WHERE fid = 1",
     "coordinates must be lon/lat degrees"),
    ("UPDATE {s}.towns SET geom = ST_SetSRID(ST_MakePoint(73, 50), 3857) WHERE fid = 1",
     "does not match column SRID"),
    ("UPDATE {s}.towns SET geom = ST_Multi(geom) WHERE fid = 1", "does not match column type"),
    ("UPDATE {s}.rail SET from_station = 'nowhere' WHERE fid = 1", "from_station must be a rail_stations id"),
    ("DELETE FROM {s}.rail_stations WHERE id = (SELECT from_station FROM {s}.rail WHERE fid = 1)",
     "from_station must be a rail_stations id"),
    ("UPDATE {s}.rail SET km = 'NaN' WHERE fid = 1", "km must be a finite number"),
]


def test_constraints_refuse_bad_edits(kz: geoplan.LayerSet, url: str, pg: Any) -> None:
    push_layers(kz, url)
    before = _hashes(url)
    schema = _schema(url)
    for statement, expected in BAD_EDITS:
        with psycopg.connect(pg.conninfo()) as conn:  # a QGIS edit session: one transaction, then save
            with pytest.raises(psycopg.Error) as caught:
                conn.execute(statement.format(s=schema))
                conn.commit()  # deferred foreign keys are checked here
            assert expected in str(caught.value), (statement, str(caught.value))
    assert _hashes(url) == before


def test_two_connections_edit_at_once(kz: geoplan.LayerSet, url: str, pg: Any) -> None:
    push_layers(kz, url)
    s = _schema(url)
    with psycopg.connect(pg.conninfo()) as ana, psycopg.connect(pg.conninfo()) as ben:
        ana.execute(f"UPDATE {s}.towns SET population = 11111 WHERE id = 'temirtau'")
        # Ben edits another town meanwhile: not blocked by Ana's open edit.
        ben.execute("SET lock_timeout = '1s'")
        ben.execute(f"UPDATE {s}.towns SET population = 22222 WHERE id = 'satpayev'")
        ben.commit()
        # Ben's edit of Ana's feature waits for her; here it gives up after the lock timeout.
        with pytest.raises(psycopg.errors.LockNotAvailable):
            ben.execute(f"UPDATE {s}.towns SET population = 33333 WHERE id = 'temirtau'")
        ben.rollback()
        # Both add a feature with the same new id: the second one is refused once the first commits.
        ana.execute(f"INSERT INTO {s}.centres (id, name_en, role, population, geom) "
                    "VALUES ('new_centre', 'New', 'other', 1000, ST_SetSRID(ST_MakePoint(70, 50), 4326))")
        errors: list[BaseException] = []

        def ben_inserts() -> None:
            try:
                ben.execute("SET lock_timeout = '10s'")
                ben.execute(f"INSERT INTO {s}.centres (id, name_en, role, population, geom) "
                            "VALUES ('new_centre', 'Other', 'other', 2000, ST_SetSRID(ST_MakePoint(71, 51), 4326))")
                ben.commit()
            except psycopg.Error as exc:
                errors.append(exc)
                ben.rollback()

        worker = threading.Thread(target=ben_inserts)
        worker.start()
        time.sleep(0.3)
        ana.commit()
        worker.join(15)
        assert len(errors) == 1 and isinstance(errors[0], psycopg.errors.UniqueViolation)
    layers = read_postgis(url)
    pop = dict(zip(layers.towns["id"], layers.towns["population"], strict=True))
    assert pop["temirtau"] == 11111 and pop["satpayev"] == 22222
    assert layers.centres.loc[layers.centres["id"] == "new_centre", "name_en"].tolist() == ["New"]
    # The edit log holds who changed what (the refused and the abandoned edits are not in it).
    old = kz.towns.set_index("id")["population"]
    edits = layer_edits(url)
    assert edits[["layer", "feature_id", "operation"]].to_numpy().tolist() == [
        ["centres", "new_centre", "insert"], ["towns", "satpayev", "update"], ["towns", "temirtau", "update"]]
    assert edits.loc[1, "changes"] == {"population": [int(old["satpayev"]), 22222]}
    assert edits.loc[0, "changes"]["name_en"] == "New" and set(edits["edited_by"]) == {"geoplan"}
    # A push is not an edit: it is in layer_versions.
    push_layers(kz, url)
    assert len(layer_edits(url)) == 3
    with psycopg.connect(pg.conninfo()) as conn:
        conn.execute(f"UPDATE {s}.roads SET geom = ST_Reverse(geom) WHERE fid = (SELECT min(fid) FROM {s}.roads)")
        conn.execute(f"DELETE FROM {s}.centres WHERE id = 'aktau'")
    edits = layer_edits(url)
    assert edits.loc[0, ["layer", "feature_id", "operation"]].tolist() == ["centres", "aktau", "delete"]
    assert edits.loc[1, "changes"] == {"geom": "moved"}


# --------------------------------------------------------------------------------------
# transactions: a killed push, readers during pushes, results swapped atomically


_PUSH_SCRIPT = """
import sys
import geoplan
from geoplan.store import push_layers
layers = geoplan.read_layers(geoplan.embedded_layers_path())
for name in [n for n in layers.names if n not in sys.argv[2].split(",")]:
    del layers.layers[name]
towns = layers.layers["towns"]
towns["population"] = towns["population"] + 1
push_layers(layers, sys.argv[1], message="killed")
"""


def _backend(sql: psycopg.Connection[Any]) -> tuple[int, str] | None:
    row = sql.execute("SELECT pid, coalesce(wait_event_type, '') FROM pg_stat_activity "
                      "WHERE application_name = 'geoplan' AND state <> 'idle'").fetchone()
    return (int(row[0]), str(row[1])) if row else None


def test_killed_push_changes_nothing(kz: geoplan.LayerSet, url: str, sql: psycopg.Connection[Any]) -> None:
    push_layers(kz, url)
    before = _hashes(url)
    s = _schema(url)
    # Hold the history table: the push writes every layer, then waits here, mid-transaction.
    holder = psycopg.connect(sql.info.dsn + f" password={os.environ['PGPASSWORD']}")
    holder.execute(f"LOCK TABLE {s}.layer_versions IN ACCESS EXCLUSIVE MODE")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", _PUSH_SCRIPT, url, ",".join(kz.names)], env=env)
    try:
        deadline = time.monotonic() + 30
        while (b := _backend(sql)) is None or b[1] != "Lock":
            assert proc.poll() is None and time.monotonic() < deadline, "the push did not reach the history table"
            time.sleep(0.05)
        # The new towns are in the push's transaction (the table is locked for writing by it).
        locks = sql.execute("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                            "WHERE l.pid = %s AND c.relname = 'towns' AND l.mode = 'RowExclusiveLock'",
                            (b[0],)).fetchone()
        assert locks and locks[0] == 1
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        holder.rollback()
        holder.close()
    deadline = time.monotonic() + 20
    while _backend(sql) is not None:  # the server notices the lost client and rolls back
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert _hashes(url) == before
    assert set(layer_versions(url)["push"]) == {1}


def _version(kz: geoplan.LayerSet, k: int) -> geoplan.LayerSet:
    """Three versions, each with its own towns and roads: 1 and 2 share columns, 3 has fewer."""
    v = kz.copy()
    # Unchanged layers only slow the pushes down.
    for name in ("rail_stations", "rail", "boundaries", "settlements"):
        v.layers.pop(name, None)
        v.sources.pop(name, None)
    v.layers["towns"]["population"] = v.layers["towns"]["population"] + k
    v.layers["roads"]["note"] = f"version {k}"
    if k == 3:
        v.layers["towns"] = v.layers["towns"].drop(columns=["resource_outlook"])
    return v


def test_readers_see_one_push_or_the_next(kz: geoplan.LayerSet, url: str) -> None:
    versions = {k: _version(kz, k) for k in (1, 2, 3)}
    expected = {k: (content_hash(v.towns, "towns"), content_hash(v.roads, "roads")) for k, v in versions.items()}
    push_layers(versions[1], url)
    stop = threading.Event()
    pushed: list[bool] = []
    failures: list[BaseException] = []

    def pusher() -> None:
        try:
            for k in itertools.islice(itertools.cycle((2, 3, 1)), 9):  # enough to overlap the run's reading
                if stop.is_set():
                    return
                pushed.append(push_layers(versions[k], url).recreated)
        except BaseException as exc:
            failures.append(exc)

    worker = threading.Thread(target=pusher)
    worker.start()
    seen = set()
    try:
        deadline = time.monotonic() + 30  # a safety net: it takes a few pushes (about a second) normally
        while time.monotonic() < deadline and (len(seen) < 3 or len(pushed) < 3):
            layers = read_postgis(url)
            got = (content_hash(layers.towns, "towns"), content_hash(layers.roads, "roads"))
            match = [k for k, h in expected.items() if h == got]
            assert match, "a reader saw a mix of two pushes"
            seen.add(match[0])
        # A whole run reading while pushes go on: its towns come from one version.
        result = geoplan.run(layers=url, with_surface=False, with_maps=False, progress=False)
        base = kz.towns.set_index("id").loc[result.towns["id"], "population"].to_numpy()
        pops = set(result.towns["population"] - base)
        assert len(pops) == 1 and pops <= {1, 2, 3}
    finally:
        stop.set()
        worker.join(30)
    assert not failures, failures
    assert seen == {1, 2, 3}
    assert True in pushed and False in pushed  # both ways of replacing: refill and recreate


def _result_tables(gen: int, n: int = 50) -> dict[str, gpd.GeoDataFrame]:
    pts = gpd.GeoDataFrame({"id": [f"p{i}" for i in range(n)], "gen": gen, "value": np.arange(n) * 1.5},
                           geometry=gpd.points_from_xy(np.linspace(50, 80, n), np.linspace(42, 54, n)), crs=4326)
    lines = gpd.GeoDataFrame({"gen": [gen] * 3, "ok": [True, False, None]},
                             geometry=[shapely.LineString([(60, 45), (61 + i, 46)]) for i in range(3)], crs=4326)
    sq = shapely.box(60, 45, 61, 46)
    two = shapely.MultiPolygon([sq, shapely.box(62, 45, 63, 46)])
    areas = gpd.GeoDataFrame({"gen": [gen, gen]}, geometry=[sq, two], crs=4326)
    return {"towns": pts, "flows": lines, "catchments": areas}


def test_results_replaced_atomically(url: str, pg: Any) -> None:
    base = pg.url()
    target = write_results(base, _result_tables(0), scenario="Swap Test")
    assert target == "swap_test_results"
    stop = threading.Event()
    failures: list[BaseException] = []
    writes = [0]

    def writer() -> None:
        try:
            for gen in itertools.count(1):
                if stop.is_set():
                    return
                write_results(base, _result_tables(gen), scenario="Swap Test")
                writes[0] = gen
        except BaseException as exc:
            failures.append(exc)

    worker = threading.Thread(target=writer)
    worker.start()
    gens = set()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and writes[0] < 8:
            res = read_results(base, scenario="Swap Test")
            g = set(res["towns"]["gen"]) | set(res["flows"]["gen"]) | set(res["catchments"]["gen"])
            assert len(g) == 1, f"a reader saw results of two runs: {g}"
            assert len(res["towns"]) == 50 and len(res["flows"]) == 3
            gens |= g
    finally:
        stop.set()
        worker.join(30)
    assert not failures, failures
    assert len(gens) >= 2
    res = read_results(base + "?schema=swap_test_results")
    assert res["run_info"].loc[0, "scenario"] == "Swap Test"
    assert res["flows"]["ok"].tolist() == [True, False, None]
    assert res["catchments"].geom_type.tolist() == ["MultiPolygon", "MultiPolygon"]  # one type for QGIS
    assert res["catchments"].geometry.iloc[0].equals(shapely.box(60, 45, 61, 46))
    with psycopg.connect(pg.conninfo()) as conn:  # no scratch schema left behind
        left = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE '%%__building'").fetchall()
    assert left == []


# --------------------------------------------------------------------------------------
# bad input: clear errors, database unchanged


def test_url_handling_masks_the_password() -> None:
    u = "postgresql://ana:s3cret@db.example:6543/gis?schema=kz&sslmode=require"
    loc = parse_url(u)
    assert (loc.host, loc.port, loc.user, loc.dbname, loc.schema) == ("db.example", 6543, "ana", "gis", "kz")
    assert loc.params == (("sslmode", "require"),)
    assert "s3cret" not in loc.display and redact_url(u) == loc.display
    with pytest.raises(StoreError, match="not a plain identifier"):
        parse_url("postgresql://ana@db/gis?schema=kz;drop")
    with pytest.raises(StoreError, match="would be printed"):
        parse_url("postgresql://ana@db/gis?password=x")


def test_unreachable_server_fails_fast_naming_host_and_port() -> None:
    # Nothing listens: refused at once.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StoreError, match=f"127.0.0.1:{port}: connection refused"):
        read_postgis(f"postgresql://ana:pw@127.0.0.1:{port}/gis?schema=kz")
    # Something accepts the connection but never answers: the timeout, not a hang.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        t0 = time.monotonic()
        with pytest.raises(StoreError) as caught:
            read_postgis(f"postgresql://ana:pw@127.0.0.1:{port}/gis?schema=kz&connect_timeout=2")
        elapsed = time.monotonic() - t0
    msg = str(caught.value)
    assert f"127.0.0.1:{port}: no answer from a database server within 2 s" in msg
    assert "pw@" not in msg and "ana:***@" in msg
    assert elapsed < 6


def test_wrong_password(kz: geoplan.LayerSet, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "not-the-password")
    with pytest.raises(StoreError) as caught:
        push_layers(kz, url)
    msg = str(caught.value)
    assert "password authentication failed for user 'geoplan'" in msg
    assert "PGPASSWORD" in msg and "~/.pgpass" in msg
    assert "not-the-password" not in msg
    # the password written into the URL is masked too
    with pytest.raises(StoreError) as caught:
        read_postgis(url.replace("geoplan@", "geoplan:hunter2@"))
    assert "hunter2" not in str(caught.value) and "geoplan:***@" in str(caught.value)


def test_database_without_postgis(kz: geoplan.LayerSet, pg: Any, url: str) -> None:
    plain = pg.create_database("no_postgis", postgis=False) + "?schema=kz"
    with pytest.raises(StoreError, match="has no PostGIS extension") as caught:
        push_layers(kz, plain)
    assert "CREATE EXTENSION postgis" in str(caught.value)
    with psycopg.connect(pg.conninfo("no_postgis")) as conn:
        assert conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'kz'").fetchone() is None


def test_schema_that_is_not_a_layer_set(kz: geoplan.LayerSet, url: str, sql: psycopg.Connection[Any]) -> None:
    s = _schema(url)
    sql.execute(f"CREATE SCHEMA {s}")
    sql.execute(f"CREATE TABLE {s}.towns (name text)")
    sql.execute(f"INSERT INTO {s}.towns VALUES ('mine')")
    with pytest.raises(StoreError, match=f"schema '{s}' is not a geoplan layer set"):
        read_postgis(url)
    with pytest.raises(StoreError, match="holds tables that are not a geoplan layer set") as caught:
        push_layers(kz, url)
    assert "?schema=" in str(caught.value)
    assert sql.execute(f"SELECT name FROM {s}.towns").fetchall() == [("mine",)]
    with pytest.raises(StoreError, match="does not exist"):
        read_postgis(url.replace(f"schema={s}", "schema=nosuchschema"))


def test_tables_with_extra_or_missing_columns(kz: geoplan.LayerSet, url: str, sql: psycopg.Connection[Any]) -> None:
    push_layers(kz, url)
    s = _schema(url)
    before = _hashes(url)
    sql.execute(f"ALTER TABLE {s}.towns ADD COLUMN mayor text")
    with pytest.raises(StoreError, match=r"towns has column\(s\) mayor that the towns schema does not declare") as c:
        read_postgis(url)
    assert 'DROP COLUMN "mayor"' in str(c.value)
    sql.execute(f"ALTER TABLE {s}.towns DROP COLUMN mayor")
    sql.execute(f"ALTER TABLE {s}.roads DROP COLUMN road_class")
    with pytest.raises(StoreError, match=r"roads lacks the required column\(s\) road_class") as c:
        read_postgis(url)
    assert 'ADD COLUMN "road_class" text' in str(c.value)
    assert sql.execute(f"SELECT count(*) FROM {s}.roads").fetchone() == (len(kz.roads),)  # reading changed nothing
    # a push repairs the set (the tables are re-created from the declared schemas)
    assert push_layers(kz, url).recreated
    assert _hashes(url) == before


def test_push_refuses_invalid_or_undeclared_columns(kz: geoplan.LayerSet, url: str) -> None:
    push_layers(kz, url)
    before = _hashes(url)
    bad = kz.copy()
    bad.layers["towns"].loc[0, "population"] = -5
    with pytest.raises(LayerValidationError, match="population"):
        push_layers(bad, url)
    extra = kz.copy()
    extra.layers["towns"]["mayor"] = "x"
    with pytest.raises(StoreError, match=r"layer 'towns' has column\(s\) mayor"):
        push_layers(extra, url)
    assert _hashes(url) == before
    assert set(layer_versions(url)["push"]) == {1}


def test_results_never_overwrite_a_layer_set(kz: geoplan.LayerSet, url: str) -> None:
    push_layers(kz, url)
    with pytest.raises(StoreError, match="holds a geoplan layer set"):
        write_results(url, _result_tables(1), scenario="x")
    assert diff_layers(kz, read_postgis(url)).empty


# --------------------------------------------------------------------------------------
# the command line: push, check, diff, pull, log, run --layers URL --out URL


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    """Run ``geoplan ARGS`` in this process (as the console script does); returns exit code, stdout, stderr."""
    from geoplan.cli import main

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out.out, out.err)

    return call


def test_cli_team_workflow(url: str, pg: Any, sql: psycopg.Connection[Any], tmp_path: Path, cli: Any) -> None:
    _geoplan = cli
    kz_dir = str(geoplan.embedded_layers_path())
    s = _schema(url)
    done = _geoplan("layers", "push", kz_dir, url, "-m", "initial load")
    assert done.returncode == 0, done.stderr
    assert f"pushed to {url} as push 1 (tables created" in done.stdout
    done = _geoplan("layers", "check", url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"layer set: {url} (towns 29, centres 21, roads 176")
    # a colleague edits in QGIS (here: the same UPDATE QGIS sends)
    sql.execute(f"UPDATE {s}.towns SET population = 1500 WHERE id = 'karazhal'")
    done = _geoplan("layers", "diff", kz_dir, url)
    assert done.returncode == 1, done.stderr
    assert "changed       towns          karazhal             population" in done.stdout
    assert "1 changed" in done.stdout
    done = _geoplan("layers", "pull", url, str(tmp_path / "pulled.gpkg"))
    assert done.returncode == 0, done.stderr
    pulled = geoplan.read_layers(tmp_path / "pulled.gpkg")
    assert pulled.towns.set_index("id").loc["karazhal", "population"] == 1500
    done = _geoplan("layers", "push", str(tmp_path / "pulled.gpkg"), url, "-m", "after QGIS edit")
    assert done.returncode == 0 and "tables refilled" in done.stdout, done.stderr
    done = _geoplan("layers", "log", url)
    assert done.returncode == 0, done.stderr
    assert "push 2" in done.stdout and "after QGIS edit" in done.stdout and "push 1" in done.stdout
    assert "update towns karazhal: population 8123 -> 1500" in done.stdout
    # a scenario may name the database as its layers
    (tmp_path / "team.yaml").write_text(f"name: team\nlayers: {url}\n", encoding="utf-8")
    done = _geoplan("scenario", "check", str(tmp_path / "team.yaml"))
    assert done.returncode == 0, done.stderr
    assert f"valid; layers {url}" in done.stdout
    # geoplan run reads the edited set and writes its results to <scenario>_results
    done = _geoplan("run", "--layers", url, "--out", pg.url(), "--no-surface", "-q")
    assert done.returncode == 0, done.stderr
    assert "wrote towns, centres, catchments, flows, agglomerations to" in done.stdout or done.stdout == ""
    res = read_results(pg.url(), scenario="baseline")
    assert res["towns"].set_index("id").loc["karazhal", "population"] == 1500
    assert res["run_info"].loc[0, "layers"] == url
    assert set(res) == {"run_info", "towns", "centres", "catchments", "flows", "agglomerations"}
    assert "karaganda" in set(res["agglomerations"]["centre"])
    # a bad URL: exit 2, message naming host and port, no traceback
    done = _geoplan("layers", "check", url.replace(f":{pg.port}/", ":1/"))
    assert done.returncode == 2 and "127.0.0.1:1: connection refused" in done.stderr
    assert "Traceback" not in done.stderr
