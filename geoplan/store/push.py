"""Pushing a layer set into PostGIS: :func:`push_layers` and its :class:`PushReport`.

A push replaces the whole set in one transaction, all layers or none; readers see the old set
or the new one. The set is validated first; tables, constraints and spatial indexes are
(re)created when the columns or the declared rules changed (see :mod:`geoplan.store.tables`),
otherwise emptied and refilled, and every push is recorded in ``layer_versions``.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import logging
import math
import os
import socket
import time
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan._errors import GeoplanError, StoreError
from geoplan.layers import SCHEMAS, LayerSet, Problem, read_layers, require_valid
from geoplan.store.connection import (
    PgLocation,
    connect,
    db_error,
    is_postgres_url,
    list_tables,
    need_postgis,
    parse_url,
    quote_ident,
    redact_url,
    schema_exists,
    table_columns,
    table_comment,
)
from geoplan.store.read import read_set
from geoplan.store.tables import (
    LAYERSET_TABLE,
    STORE_FORMAT,
    VERSIONS_TABLE,
    as_declared_type,
    ddl_tag,
    foreign_key_sql,
    layer_table_sql,
    pg_geometry,
    set_tables_sql,
    unmet_references,
)
from geoplan.store.versions import feature_records, records_hash

if TYPE_CHECKING:
    import psycopg

__all__ = ["push_layers", "PushReport"]

log = logging.getLogger("geoplan")


@dataclasses.dataclass
class PushReport:
    """What :func:`push_layers` wrote.

    Attributes
    ----------
    url
        Where to (password masked).
    push
        The push number in ``layer_versions``.
    layers
        One row per layer: ``layer``, ``features``, ``added``, ``removed``, ``changed``,
        ``content_hash``.
    seconds
        Wall-clock time of the push.
    bytes
        Size of the pushed features as sent (WKB geometry and attribute text).
    recreated
        Whether the tables were (re)created (first push, or a change of columns or rules)
        rather than refilled.
    warnings
        Validation warnings of the pushed set.
    """

    url: str
    push: int
    layers: pd.DataFrame
    seconds: float
    bytes: int
    recreated: bool
    warnings: list[Problem] = dataclasses.field(default_factory=list)


def _rows_for(gdf: gpd.GeoDataFrame, layer: str, columns: list[str]) -> list[tuple[Any, ...]]:
    spec = SCHEMAS[layer]
    geoms = as_declared_type(gdf.geometry.to_numpy(), pg_geometry(spec))
    wkb = shapely.to_wkb(shapely.set_srid(geoms, 4326), hex=True, include_srid=True, output_dimension=2)
    cols = []
    for c in columns:
        kind = spec.field(c).kind
        vals = gdf[c].to_numpy(dtype=object)
        out: list[Any] = []
        for v in vals:
            if v is None or v is pd.NA or (isinstance(v, (float, np.floating)) and math.isnan(float(v))):
                out.append(None)
            elif kind == "int":
                out.append(round(float(v)))
            elif kind == "float":
                out.append(float(v))
            else:
                out.append(str(v))
        cols.append(out)
    return [(*(col[i] for col in cols), wkb[i]) for i in range(len(gdf))]


def _check_pushable(layers: LayerSet, label: str) -> None:
    for name, gdf in layers.layers.items():
        declared = set(SCHEMAS[name].column_names)
        extra = [str(c) for c in gdf.columns if c not in declared and c != gdf.geometry.name]
        if extra:
            raise StoreError(
                f"{label}: layer '{name}' has column(s) {', '.join(extra)} that its schema does not declare; "
                "a PostGIS layer table holds the declared columns only, so they would be lost",
                fix="remove or rename them to declared columns (see geoplan.SCHEMAS), or keep this set in files")
        if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
            layers.layers[name] = gdf.to_crs(4326)


def push_layers(source: LayerSet | str | os.PathLike[str], url: str, *, message: str = "") -> PushReport:
    """Copy a layer set into a PostGIS schema, replacing the set there, in one transaction.

    The set is validated first (errors: nothing is written). Tables, constraints and spatial
    indexes are created on the first push and again when the columns or the declared rules
    changed; otherwise the tables are emptied and refilled, so QGIS projects, permissions and
    the tables' identities stay. Either every layer is replaced or, on any failure (including a
    killed process or a lost connection), none is. Every push adds one row per layer to
    ``layer_versions``.

    Parameters
    ----------
    source
        A layer set, or a folder/GeoPackage/URL to read one from.
    url
        ``postgresql://user@host:port/db?schema=kz``; the schema is created when missing.
    message
        A note stored with the push (what was edited and why).

    Returns
    -------
    PushReport

    Raises
    ------
    LayerValidationError
        When the set has errors.
    StoreError
        When the database cannot be reached, lacks PostGIS, the schema holds tables that are not
        a geoplan layer set, a layer has undeclared columns, or the database refuses the data;
        the database is left as it was.
    """
    t0 = time.perf_counter()
    layers = source if isinstance(source, LayerSet) else read_layers(source)
    label = str(source) if not isinstance(source, LayerSet) else "layer set"
    if is_postgres_url(label):
        label = redact_url(label)
    warnings = [p for p in require_valid(layers) if p.severity == "warning"]
    layers = layers.copy()
    _check_pushable(layers, label)
    loc = parse_url(url)
    schema = loc.schema or "public"
    present = set(layers.layers)
    plan = {name: [c for c in SCHEMAS[name].column_names if c in gdf.columns] for name, gdf in layers.layers.items()}
    unmet = unmet_references(layers)
    ddl = {name: layer_table_sql(schema, name, cols, present=present, skip=unmet[name]) for name, cols in plan.items()}
    payload = {name: _rows_for(layers.layers[name], name, cols) for name, cols in plan.items()}
    size = sum(len(str(v)) if v is not None else 0 for rows in payload.values() for r in rows for v in r)
    with connect(loc) as conn:
        try:
            with conn.transaction():
                report = _push(conn, loc, schema, layers, plan, ddl, payload, label, message, unmet)
        except (StoreError, GeoplanError):
            raise
        except Exception as exc:
            raise db_error(exc, loc, f"push the layer set to schema '{schema}'") from None
    report.seconds = time.perf_counter() - t0
    report.bytes = size
    report.warnings = warnings
    log.info("pushed %s to %s in %.2f s", ", ".join(f"{n} ({len(g)})" for n, g in layers.layers.items()),
             loc.display, report.seconds)
    return report


def _push(conn: psycopg.Connection[Any], loc: PgLocation, schema: str, layers: LayerSet, plan: dict[str, list[str]],
          ddl: dict[str, list[str]], payload: dict[str, list[tuple[Any, ...]]], label: str, message: str,
          unmet: dict[str, frozenset[str]]) -> PushReport:
    tables = _prepare_schema(conn, loc, schema)
    before: dict[str, gpd.GeoDataFrame] = {}
    if LAYERSET_TABLE in tables:
        try:
            before, _ = read_set(conn, loc, schema)
        except StoreError:
            before = {}  # a damaged table is replaced by the push
    old_layers = [t for t in SCHEMAS if t in tables]
    recreate = _replace_tables(conn, schema, old_layers, plan, ddl, payload, unmet)
    s = quote_ident(schema)
    conn.execute(f"INSERT INTO {s}.{LAYERSET_TABLE} (key, value) VALUES ('meta', %s::json), ('format', %s::json) "
                 "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                 (json.dumps(layers.meta, ensure_ascii=False), json.dumps(STORE_FORMAT)))
    nxt = conn.execute(f"SELECT coalesce(max(push), 0) + 1 FROM {s}.{VERSIONS_TABLE}").fetchone()
    push = int(nxt[0]) if nxt else 1
    client = f"{getpass.getuser()}@{socket.gethostname()}"
    records = []
    for name in [*plan, *(n for n in old_layers if n not in plan)]:
        new = feature_records(layers.layers[name], name) if name in plan else {}
        old = feature_records(before[name], name) if name in before else {}
        added = len(set(new) - set(old))
        removed = len(set(old) - set(new))
        changed = sum(1 for k in set(new) & set(old) if new[k] != old[k])
        digest = records_hash(new) if name in plan else "removed"
        records.append((push, name, client, label, message or None, len(new), added, removed, changed, digest))
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {s}.{VERSIONS_TABLE} (push, layer, client, source, message, features, added, removed, "
            "changed, content_hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", records)
    frame = pd.DataFrame([r[1:2] + r[5:] for r in records],
                         columns=["layer", "features", "added", "removed", "changed", "content_hash"])
    return PushReport(loc.display, push, frame, 0.0, 0, recreate)


def _prepare_schema(conn: psycopg.Connection[Any], loc: PgLocation, schema: str) -> list[str]:
    """Lock the schema for this push and create it and its set tables when missing; return its tables.

    Raises a :class:`StoreError` when the schema holds tables that are not a geoplan layer set.
    """
    need_postgis(conn, loc)
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"geoplan layers {schema}",))
    conn.execute("SET LOCAL geoplan.push = 'on'")  # the edit log skips the push's own rows
    tables = list_tables(conn, schema) if schema_exists(conn, schema) else []
    if LAYERSET_TABLE not in tables and tables:
        raise StoreError(
            f"{loc.display}: schema '{schema}' holds tables that are not a geoplan layer set "
            f"({', '.join(tables[:10])}); geoplan does not overwrite them",
            fix="push to another schema (?schema=NAME; it is created), or move those tables elsewhere")
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
    for stmt in set_tables_sql(schema):
        conn.execute(stmt)
    return tables


def _replace_tables(conn: psycopg.Connection[Any], schema: str, old_layers: list[str], plan: dict[str, list[str]],
                    ddl: dict[str, list[str]], payload: dict[str, list[tuple[Any, ...]]],
                    unmet: dict[str, frozenset[str]]) -> bool:
    """Refill the layer tables, or recreate them when the columns or rules changed; return whether recreated.

    Foreign keys are checked before returning, so a broken link fails here, named, not at commit.
    """
    s = quote_ident(schema)
    recreate = sorted(old_layers) != sorted(plan) or any(
        f"ddl {ddl_tag(ddl[n])}" not in table_comment(conn, schema, n)
        or list(table_columns(conn, schema, n)) != ["fid", *plan[n], "geom"] for n in plan)
    if recreate:
        # Readers lock the marker before anything else (see read_transaction): taking it first
        # makes them wait for the new tables instead of finding them half made.
        conn.execute(f"LOCK TABLE {s}.{LAYERSET_TABLE} IN ACCESS EXCLUSIVE MODE")
        for name in old_layers:
            conn.execute(f"DROP TABLE {s}.{quote_ident(name)} CASCADE")
        for name in plan:
            for stmt in ddl[name]:
                conn.execute(stmt)
    else:
        for name in plan:
            conn.execute(f"DELETE FROM {s}.{quote_ident(name)}")
    for name, cols in plan.items():
        collist = ", ".join([*(quote_ident(c) for c in cols), "geom"])
        with conn.cursor().copy(f"COPY {s}.{quote_ident(name)} ({collist}) FROM STDIN") as copy:
            for row in payload[name]:
                copy.write_row(row)
    if recreate:
        for name in plan:
            for stmt in foreign_key_sql(schema, name, set(plan), skip=unmet[name]):
                conn.execute(stmt)
    conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # deferred foreign keys: fail here, named, not at COMMIT
    return recreate
