"""Reading a layer set from PostGIS, into memory or files, and its push and edit histories.

:func:`read_postgis` is what :func:`geoplan.read_layers` does for a ``postgresql://`` URL;
:func:`pull_layers` copies the set into files; :func:`layer_versions` and :func:`layer_edits`
list the pushes and the edits made in the database between them.

Every read runs in one read-only snapshot taken after a lock on the set's marker table, so a
reader sees the set before or after a push, never a mix (see
:func:`geoplan.store.connection.read_transaction`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan._errors import LayerReadError, StoreError
from geoplan.layers import SCHEMAS, LayerSet, write_layers
from geoplan.store.connection import (
    PgLocation,
    db_error,
    list_tables,
    need_postgis,
    parse_url,
    quote_ident,
    read_transaction,
    schema_exists,
    session,
    table_columns,
)
from geoplan.store.tables import EDITS_TABLE, LAYERSET_TABLE, PG_TYPES, VERSIONS_TABLE, pg_geometry

if TYPE_CHECKING:
    import psycopg

__all__ = ["read_postgis", "read_url", "pull_layers", "layer_versions", "layer_edits"]


def _frame_from_rows(rows: list[tuple[Any, ...]], columns: list[tuple[str, str]]) -> gpd.GeoDataFrame:
    """Build a GeoDataFrame as a GeoJSON reader would give it: whole numbers with gaps as float."""
    data: dict[str, Any] = {}
    for j, (name, kind) in enumerate(columns):
        vals = [r[j] for r in rows]
        if kind == "int":
            if any(v is None for v in vals):
                data[name] = np.array([np.nan if v is None else float(v) for v in vals], dtype=float)
            else:  # GDAL's Integer (32-bit) where the values fit, else Integer64, as from a file
                arr = np.array(vals, dtype=np.int64)
                fits = arr.size == 0 or (arr.min() >= -(2**31) and arr.max() < 2**31)
                data[name] = arr.astype(np.int32) if fits else arr
        elif kind == "float":
            data[name] = np.array([np.nan if v is None else float(v) for v in vals], dtype=float)
        else:
            data[name] = pd.Series(vals, dtype=object).infer_objects() if vals else pd.Series([], dtype=object)
    geoms = shapely.from_wkb(np.array([r[-1] for r in rows], dtype=object)) if rows else np.array([], dtype=object)
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(rows)))
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326", index=frame.index), crs="EPSG:4326")


def _not_layerset(loc: PgLocation, schema: str, tables: list[str]) -> StoreError:
    shown = ", ".join(tables[:10]) + (f" and {len(tables) - 10} more" if len(tables) > 10 else "")
    return StoreError(
        f"{loc.display}: schema '{schema}' is not a geoplan layer set "
        f"({'tables: ' + shown if tables else 'it is empty'}; no {LAYERSET_TABLE} table)",
        fix="point ?schema= at the schema a layer set was pushed to, or push one there: "
            "geoplan layers push LAYERS postgresql://...?schema=NAME")


def _check_table(conn: psycopg.Connection[Any], loc: PgLocation, schema: str, layer: str) -> list[str]:
    """Return the declared columns of an existing layer table; fail clearly on extra or missing ones."""
    spec = SCHEMAS[layer]
    have = table_columns(conn, schema, layer)
    table = f"{schema}.{layer}"
    declared = {f.name: f for f in spec.fields}
    extra = [c for c in have if c not in declared and c not in ("fid", "geom")]
    if extra:
        drops = "; ".join(f"ALTER TABLE {table} DROP COLUMN {quote_ident(c)}" for c in extra)
        raise StoreError(
            f"{loc.display}: table {table} has column(s) {', '.join(extra)} that the {layer} schema does not "
            f"declare ({', '.join(declared)})",
            fix=f"rename the column to a declared one, or remove it ({drops}); geoplan layer tables hold the "
                "declared columns only")
    missing = [f for f in spec.fields if f.required and f.name not in have]
    if "geom" not in have:
        raise StoreError(f"{loc.display}: table {table} has no 'geom' column",
                         fix=f"re-push the layer set (geoplan layers push), or add the column: ALTER TABLE {table} "
                             f"ADD COLUMN geom geometry({pg_geometry(spec)}, 4326)")
    if missing:
        adds = "; ".join(f"ALTER TABLE {table} ADD COLUMN {quote_ident(f.name)} {PG_TYPES[f.kind]}" for f in missing)
        raise StoreError(
            f"{loc.display}: table {table} lacks the required column(s) {', '.join(f.name for f in missing)} "
            f"({'; '.join(f.description for f in missing)})",
            fix=f"add them and fill them in ({adds}), or re-push the layer set with geoplan layers push")
    wrong = []
    for name, pgtype in have.items():
        if name in declared:
            want = PG_TYPES[declared[name].kind]
            ok = {"bigint": ("bigint", "integer", "smallint"), "double precision": ("double precision", "real",
                  "numeric", "bigint", "integer"), "text": ("text", "character varying")}[want]
            if not pgtype.startswith(ok):
                wrong.append((name, pgtype, want))
    if wrong:
        raise StoreError(
            f"{loc.display}: table {table}: column(s) of the wrong type: "
            + ", ".join(f"{n} is {t}, should be {w}" for n, t, w in wrong),
            fix="; ".join(f"ALTER TABLE {table} ALTER COLUMN {quote_ident(n)} TYPE {w} USING {quote_ident(n)}::{w}"
                          for n, _, w in wrong))
    return [f.name for f in spec.fields if f.name in have]


def _read_layer(conn: psycopg.Connection[Any], schema: str, layer: str, columns: list[str]) -> gpd.GeoDataFrame:
    spec = SCHEMAS[layer]
    select = ", ".join([*(quote_ident(c) for c in columns), "ST_AsBinary(geom)"])
    rows = conn.execute(f"SELECT {select} FROM {quote_ident(schema)}.{quote_ident(layer)} ORDER BY fid").fetchall()
    return _frame_from_rows(rows, [(c, spec.field(c).kind) for c in columns])


def read_set(conn: psycopg.Connection[Any], loc: PgLocation, schema: str) -> tuple[dict[str, gpd.GeoDataFrame],
                                                                                   dict[str, Any]]:
    """Read every layer table of ``schema`` and the set's metadata (inside the caller's transaction)."""
    tables = list_tables(conn, schema)
    layers = {}
    for layer in SCHEMAS:
        if layer in tables:
            layers[layer] = _read_layer(conn, schema, layer, _check_table(conn, loc, schema, layer))
    meta: dict[str, Any] = {}
    row = conn.execute(f"SELECT value FROM {quote_ident(schema)}.{LAYERSET_TABLE} WHERE key = 'meta'").fetchone()
    if row is not None and isinstance(row[0], dict):
        meta = dict(row[0])
    return layers, meta


def read_postgis(url: str, *, required: tuple[str, ...] = ("towns", "centres", "roads")) -> LayerSet:
    """Read a layer set from a PostGIS schema (what :func:`geoplan.read_layers` does for a URL).

    Parameters
    ----------
    url
        ``postgresql://user@host:port/db?schema=kz``.
    required
        Layers that must be present.

    Returns
    -------
    LayerSet
        Layers in EPSG:4326, in the order QGIS shows them (by ``fid``), with the columns of the
        table; ``sources`` name the table, e.g. ``postgresql://ana@db:5432/gis?schema=kz table
        kz.towns``. Unvalidated: call :func:`geoplan.validate` next.

    Raises
    ------
    StoreError
        When the server cannot be reached, the database lacks PostGIS, the schema is not a
        geoplan layer set, or a table has extra, missing or mistyped columns.
    LayerReadError
        When a required layer is missing.
    """
    loc = parse_url(url)
    schema = loc.schema or "public"
    with session(loc, "read the layer set") as conn:
        need_postgis(conn, loc)
        if not schema_exists(conn, schema):
            raise StoreError(f"{loc.display}: schema '{schema}' does not exist in database '{loc.dbname}'",
                             fix="correct ?schema= in the URL, or push a layer set there first: "
                                 "geoplan layers push LAYERS URL")
        tables = list_tables(conn, schema)
        if LAYERSET_TABLE not in tables:
            raise _not_layerset(loc, schema, tables)
        try:
            with read_transaction(conn, f"{quote_ident(schema)}.{LAYERSET_TABLE}"):
                layers, meta = read_set(conn, loc, schema)
        except StoreError:
            raise
        except Exception as exc:
            raise db_error(exc, loc, "read the layer set") from None
    missing = [n for n in required if n not in layers]
    if missing:
        raise LayerReadError(
            f"{loc.display}: missing layer table(s) {', '.join(f'{schema}.{m}' for m in missing)}",
            fix="push a complete layer set (geoplan layers push) or provide "
                + ", ".join(f"'{m}' ({SCHEMAS[m].description})" for m in missing))
    sources = {n: f"{loc.display} table {schema}.{n}" for n in layers}
    from pyproj import CRS

    native: dict[str, CRS | None] = {n: CRS.from_epsg(4326) for n in layers}
    return LayerSet(layers, sources, meta, native, [])


#: What :func:`geoplan.read_layers` calls for a ``postgresql://`` URL.
read_url = read_postgis


def pull_layers(url: str, dest: str | os.PathLike[str]) -> Path:
    """Copy a layer set from PostGIS into a GeoPackage or a folder of GeoJSON files.

    Parameters
    ----------
    url
        ``postgresql://user@host:port/db?schema=kz``.
    dest
        A ``.gpkg`` file or a folder (see :func:`geoplan.write_layers`); each file is
        written completely before it replaces an existing one.

    Returns
    -------
    pathlib.Path
        ``dest``.
    """
    layers = read_postgis(url, required=())
    if not layers.layers:
        loc = parse_url(url)
        raise StoreError(f"{loc.display}: the layer set is empty (no layer tables)",
                         fix="push a layer set first: geoplan layers push LAYERS URL")
    return write_layers(layers, dest)


def layer_versions(url: str) -> pd.DataFrame:
    """Return the push history of a PostGIS layer set, newest first.

    Returns
    -------
    pandas.DataFrame
        ``push``, ``layer``, ``pushed_at``, ``pushed_by`` (database user), ``client``
        (operating-system user and host), ``source``, ``message``, ``features``, ``added``,
        ``removed``, ``changed``, ``content_hash``.
    """
    loc = parse_url(url)
    schema = loc.schema or "public"
    with session(loc, "read the push history") as conn:
        tables = list_tables(conn, schema)
        if VERSIONS_TABLE not in tables:
            raise _not_layerset(loc, schema, tables)
        rows = conn.execute(
            f"SELECT push, layer, pushed_at, pushed_by, client, source, message, features, added, removed, changed, "
            f"content_hash FROM {quote_ident(schema)}.{VERSIONS_TABLE} ORDER BY push DESC, version").fetchall()
    cols = ["push", "layer", "pushed_at", "pushed_by", "client", "source", "message", "features", "added",
            "removed", "changed", "content_hash"]
    return pd.DataFrame(rows, columns=cols)


def layer_edits(url: str) -> pd.DataFrame:
    """Return the edits made in the database (QGIS, SQL) to a PostGIS layer set, newest first.

    Every layer table has a trigger that logs each feature inserted, updated or deleted outside a
    push (pushes are in :func:`layer_versions`).

    Returns
    -------
    pandas.DataFrame
        ``edit``, ``layer``, ``feature_id``, ``operation`` (``insert``, ``update``,
        ``delete``), ``edited_at``, ``edited_by`` (database user), ``client`` (the application
        name the editor's connection gave, e.g. QGIS's) and ``changes``: for an update the
        changed columns as ``{column: [old, new]}`` (``"moved"`` for the geometry), else the
        feature's values.
    """
    loc = parse_url(url)
    schema = loc.schema or "public"
    with session(loc, "read the edit log") as conn:
        tables = list_tables(conn, schema)
        if EDITS_TABLE not in tables:
            raise _not_layerset(loc, schema, tables)
        rows = conn.execute(
            f"SELECT edit, layer, feature_id, operation, edited_at, edited_by, client, changes "
            f"FROM {quote_ident(schema)}.{EDITS_TABLE} ORDER BY edit DESC").fetchall()
    return pd.DataFrame(rows, columns=["edit", "layer", "feature_id", "operation", "edited_at", "edited_by",
                                       "client", "changes"])
