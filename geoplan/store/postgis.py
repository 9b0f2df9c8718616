"""PostGIS layer store: layer sets and run results in a PostgreSQL database.

A team keeps its layer set in one schema of a PostgreSQL database with PostGIS, edits it from
QGIS, and geoplan reads, validates and analyses it in place. A location is a URL::

    postgresql://user@host:5432/database?schema=kz

The password never appears in the URL geoplan prints: give it in ``PGPASSWORD`` or in
``~/.pgpass`` (libpq reads both); one written into the URL is used but masked as ``***`` in
every message. Other libpq parameters can be added as query parameters (``sslmode=require``,
``connect_timeout=10``); ``schema`` defaults to ``public``.

What a pushed layer set looks like in the database
--------------------------------------------------
One table per layer (``towns``, ``centres``, ``roads``, ...), whose columns are the layer's
declared columns present in the pushed set, in schema order, plus ``fid`` (an integer primary
key, which QGIS uses to identify features; it also keeps the features' order) and ``geom``
(``geometry(Point, 4326)``, ``geometry(LineString, 4326)``, or ``geometry(MultiPolygon, 4326)`` for a
polygon layer, whose features may have several parts; with a GiST spatial index). The
declared schemas become constraints, named so that the message QGIS shows on saving a bad edit
says what is wrong (``violates check constraint "population must be greater than 0"``):
NOT NULL for required values, ``id`` unique and not blank, number ranges, allowed values,
coordinates within lon/lat degrees, non-empty valid geometries, and foreign keys for columns that
name features of another layer of the set (``rail.from_station`` -> ``rail_stations.id``),
checked at commit so that a QGIS edit session may change both layers. ``geoplan_layerset``
holds the set's metadata (``layerset.json``) and marks the schema as a geoplan layer set;
``layer_versions`` records every push: who, when, from where, and per layer the features
added, removed and changed and a content hash; ``layer_edits``, filled by a trigger on every
layer table, records each feature inserted, updated or deleted in the database between pushes
(QGIS, SQL): who, when, and the changed columns from what to what.

A push replaces the whole set in one transaction, all layers or none; readers see the old set
or the new one. ``geoplan run --out postgresql://...`` writes the results to their own schema
(``<scenario>_results``), built aside and swapped in by one transaction.
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import hashlib
import json
import logging
import math
import os
import re
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan._errors import GeoplanError, LayerReadError, StoreError
from geoplan.layers import SCHEMAS, LayerSchema, LayerSet, Problem, read_layers, require_valid, write_layers
from geoplan.store.versions import feature_records, records_hash

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "CONNECT_TIMEOUT_S",
    "PgLocation",
    "is_postgres_url",
    "redact_url",
    "parse_url",
    "connect",
    "layer_table_sql",
    "read_postgis",
    "read_url",
    "push_layers",
    "PushReport",
    "pull_layers",
    "layer_versions",
    "layer_edits",
    "results_schema_name",
    "check_results_target",
    "write_results",
    "read_results",
]

log = logging.getLogger("geoplan")

#: Seconds to wait for a database server to answer before giving up (libpq ``connect_timeout``).
CONNECT_TIMEOUT_S = 5
#: Table marking a schema as a geoplan layer set; holds the set's metadata.
LAYERSET_TABLE = "geoplan_layerset"
#: Push history: one row per layer and push.
VERSIONS_TABLE = "layer_versions"
#: Edits made in the database (QGIS, SQL) between pushes: one row per feature inserted, updated or deleted.
EDITS_TABLE = "layer_edits"
#: Table marking a schema as geoplan run results; holds the run's metadata.
RUN_TABLE = "run_info"
#: Version of the table layout written into ``geoplan_layerset``.
STORE_FORMAT = 1
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
_SCHEMES = ("postgresql://", "postgres://")
_PG_TYPES = {"str": "text", "int": "bigint", "float": "double precision"}
#: Geometry column type per declared geometry type: a point or line layer holds single parts (a
#: one-part multi is unwrapped), a polygon layer holds polygons with any number of parts.
_PG_GEOMETRY = {"Point": "Point", "LineString": "LineString", "Polygon": "MultiPolygon"}


def _pg_geometry(schema: LayerSchema) -> str:
    return _PG_GEOMETRY.get(schema.geometry_type, schema.geometry_type)


# --------------------------------------------------------------------------------------
# URLs and connections


def is_postgres_url(value: object) -> bool:
    """Whether ``value`` is a ``postgresql://`` (or ``postgres://``) URL string."""
    return isinstance(value, str) and value.strip().lower().startswith(_SCHEMES)


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``.

    Examples
    --------
    >>> redact_url("postgresql://ana:secret@db.example:5432/gis?schema=kz")
    'postgresql://ana:***@db.example:5432/gis?schema=kz'
    """
    return re.sub(r"(?i)^(postgres(?:ql)?://[^:@/?#]*):[^@/?#]*@", r"\1:***@", url.strip())


@dataclasses.dataclass(frozen=True)
class PgLocation:
    """A parsed ``postgresql://`` URL.

    Attributes
    ----------
    host, port, user, dbname
        Where to connect (``None``: libpq's default, e.g. from ``PGHOST``).
    schema
        The schema named by ``?schema=``, or ``None``.
    params
        Further libpq parameters from the query string.
    password
        A password written into the URL (discouraged), else ``None``.
    display
        The URL with the password masked, for messages.
    """

    host: str | None
    port: int | None
    user: str | None
    dbname: str | None
    schema: str | None
    params: tuple[tuple[str, str], ...]
    password: str | None
    display: str

    @property
    def where(self) -> str:
        """``host:port`` as libpq will use it."""
        host = self.host or os.environ.get("PGHOST", "localhost")
        port = self.port or int(os.environ.get("PGPORT", "5432") or 5432)
        return f"{host}:{port}"

    def with_schema(self, schema: str) -> PgLocation:
        """Return the same location with another schema."""
        base = self.display.split("?", 1)[0]
        query = [(k, v) for k, v in self.params] + [("schema", schema)]
        display = base + "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query)
        return dataclasses.replace(self, schema=schema, display=display)


def parse_url(url: str) -> PgLocation:
    """Parse a ``postgresql://user@host:port/db?schema=name`` URL.

    Raises
    ------
    StoreError
        For a malformed URL or schema name (the message shows the URL without password).
    """
    shown = redact_url(url)
    if not is_postgres_url(url):
        raise StoreError(f"{shown}: not a postgresql:// URL", fix="write it as postgresql://user@host:port/db?schema=kz")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise StoreError(f"{shown}: malformed URL ({exc})",
                         fix="write it as postgresql://user@host:port/db?schema=kz") from None
    dbname = unquote(parts.path.lstrip("/")) or None
    params: list[tuple[str, str]] = []
    schema = None
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "schema":
            schema = value
        elif key == "password":
            raise StoreError(f"{shown}: a password in the URL's query would be printed",
                             fix="set PGPASSWORD or use ~/.pgpass instead")
        else:
            params.append((key, value))
    if schema is not None and not _IDENT.fullmatch(schema):
        raise StoreError(f"{shown}: schema name {schema!r} is not a plain identifier",
                         fix="use letters, digits and _ only, starting with a letter (e.g. ?schema=kz)")
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None:
        shown = redact_url(url)
    return PgLocation(unquote(parts.hostname) if parts.hostname else None, port,
                      unquote(parts.username) if parts.username else None, dbname, schema, tuple(params),
                      password, shown)


def _mask(text: str, loc: PgLocation) -> str:
    return text.replace(loc.password, "***") if loc.password else text


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def connect(url: str | PgLocation, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    """Open a connection, failing within :data:`CONNECT_TIMEOUT_S` seconds with a clear message.

    Parameters
    ----------
    url
        A ``postgresql://`` URL or a parsed :class:`PgLocation`.
    autocommit
        Open the connection in autocommit mode.

    Raises
    ------
    StoreError
        When the server does not answer, refuses the connection or the password, or the
        database does not exist. The message names host and port, never the password.
    """
    import psycopg

    loc = url if isinstance(url, PgLocation) else parse_url(url)
    kwargs: dict[str, Any] = {"application_name": "geoplan", "connect_timeout": str(CONNECT_TIMEOUT_S)}
    kwargs.update(dict(loc.params))
    for key, value in (("host", loc.host), ("port", loc.port), ("user", loc.user), ("dbname", loc.dbname),
                       ("password", loc.password)):
        if value is not None:
            kwargs[key] = str(value)
    try:
        conn = psycopg.connect(autocommit=autocommit, **kwargs)
    except psycopg.OperationalError as exc:
        raise _connect_error(exc, loc, kwargs["connect_timeout"]) from None
    except psycopg.ProgrammingError as exc:  # a libpq parameter it does not know
        raise StoreError(f"{loc.display}: {_mask(_first_line(exc), loc)}",
                         fix="remove or correct the URL's query parameters (only schema= and libpq's are known)"
                         ) from None
    return conn


def _connect_error(exc: Exception, loc: PgLocation, timeout: str) -> StoreError:
    text = _mask(str(exc), loc)
    low = text.lower()
    where = loc.where
    check = (f"check host and port in {loc.display} and that the server runs there "
             f"(pg_isready -h {where.rsplit(':', 1)[0]} -p {where.rsplit(':', 1)[1]})")
    if "timeout expired" in low:
        return StoreError(f"{where}: no answer from a database server within {timeout} s ({loc.display})",
                          fix=check + "; a firewall may be dropping the connection")
    if "connection refused" in low:
        return StoreError(f"{where}: connection refused: no PostgreSQL server listens there ({loc.display})",
                          fix=check)
    if "could not translate host name" in low or "name or service not known" in low:
        return StoreError(f"{where}: unknown host ({loc.display})", fix="correct the host name in the URL")
    if "password authentication failed" in low or "no password supplied" in low or "password is required" in low:
        user = loc.user or getpass.getuser()
        return StoreError(
            f"{where}: password authentication failed for user '{user}' ({loc.display})",
            fix=f"set the password of '{user}' in the environment variable PGPASSWORD, or add the line "
                f"'{where.replace(':', ':', 1)}:{loc.dbname or '*'}:{user}:PASSWORD' to ~/.pgpass (chmod 600)")
    if "does not exist" in low and "database" in low:
        return StoreError(f"{where}: database '{loc.dbname}' does not exist ({loc.display})",
                          fix=f"correct the database name in the URL, or create it (createdb -h ... {loc.dbname})")
    return StoreError(f"{where}: cannot connect ({_first_line(Exception(text))}) ({loc.display})", fix=check)


@contextmanager
def _session(loc: PgLocation, what: str, *, autocommit: bool = False) -> Iterator[psycopg.Connection[Any]]:
    """Connect; a database error inside the block becomes a :class:`StoreError` about ``what``."""
    import psycopg

    with connect(loc, autocommit=autocommit) as conn:
        try:
            yield conn
        except psycopg.Error as exc:
            raise _db_error(exc, loc, what) from None


def _ident(name: str) -> str:
    """``name`` quoted as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _need_postgis(conn: psycopg.Connection[Any], loc: PgLocation) -> None:
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'").fetchone()
    if row is None:
        raise StoreError(
            f"{loc.display}: database '{loc.dbname}' has no PostGIS extension",
            fix=f"ask its administrator to run CREATE EXTENSION postgis; in database '{loc.dbname}' (on Debian the "
                "package postgresql-NN-postgis-3 provides it); geoplan does not create extensions itself")


def _tables(conn: psycopg.Connection[Any], schema: str) -> list[str]:
    # Relations an extension owns (PostGIS's spatial_ref_sys and geometry_columns in public) are not the user's.
    rows = conn.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT EXISTS ("
                        "SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid "
                        "AND d.deptype = 'e') ORDER BY 1", (schema,)).fetchall()
    return [str(r[0]) for r in rows]


def _schema_exists(conn: psycopg.Connection[Any], schema: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is not None


# --------------------------------------------------------------------------------------
# layer tables


def _fk_targets(schema: LayerSchema, present: set[str], skip: frozenset[str] = frozenset()) -> dict[str, str]:
    """Column -> layer whose ``id`` it must name, for references to a single present layer.

    ``skip`` names columns left without a foreign key because the pushed data does not meet it
    (a link the validator only warns about, such as a settlement's ``town_id`` naming no town).
    """
    out: dict[str, str] = {}
    for f in schema.fields:
        refs = f.references
        if len(refs) == 1 and refs[0] in present and f.name not in skip:
            out[f.name] = refs[0]
    return out


def _unmet_references(layers: LayerSet) -> dict[str, frozenset[str]]:
    """Per layer, the referencing columns with a value that names no feature of the target layer."""
    out: dict[str, frozenset[str]] = {}
    for name, gdf in layers.layers.items():
        bad = set()
        for col, target in _fk_targets(SCHEMAS[name], set(layers.layers)).items():
            if col not in gdf.columns:
                continue
            ids = set(layers.layers[target][SCHEMAS[target].id_field].dropna().astype(str))
            if not gdf[col].dropna().astype(str).isin(ids).all():
                bad.add(col)
        out[name] = frozenset(bad)
    return out


def _constraint_name(text: str) -> str:
    """Return a constraint name that reads as the rule (at most 63 bytes, PostgreSQL's limit)."""
    raw = text.encode("utf-8")
    return raw[:63].decode("utf-8", "ignore") if len(raw) > 63 else text


def _number(v: float) -> str:
    """``100,000,000`` rather than ``1e+08`` in a rule's name."""
    return f"{int(v):,}" if float(v).is_integer() else f"{v:g}"


def _checks(schema: LayerSchema, columns: list[str]) -> list[tuple[str, str]]:
    """(constraint name, CHECK expression) pairs stating the schema's value rules."""
    out: list[tuple[str, str]] = []
    for f in schema.fields:
        if f.name not in columns:
            continue
        col = _ident(f.name)
        if f.kind == "str" and not f.nullable:
            out.append((f"{f.name} must not be blank", f"btrim({col}) <> ''"))
        if f.allowed is not None:
            values = ", ".join(_literal(v) for v in f.allowed)
            name = f"{f.name} must be one of: {', '.join(f.allowed)}"
            if len(name.encode()) > 63:
                name = f"{f.name} must be one of the allowed values"
            out.append((_constraint_name(name), f"{col} IN ({values})"))
        if f.kind == "float":
            out.append((f"{f.name} must be a finite number",
                        f"{col} NOT IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8)"))
        if f.kind in ("int", "float") and f.minimum is not None:
            op, word = (">", "greater than") if f.exclusive_minimum else (">=", "at least")
            out.append((f"{f.name} must be {word} {_number(f.minimum)}", f"{col} {op} {f.minimum!r}"))
        if f.kind in ("int", "float") and f.maximum is not None:
            out.append((f"{f.name} must be at most {_number(f.maximum)}", f"{col} <= {f.maximum!r}"))
    out.append(("geometry must not be empty", "NOT ST_IsEmpty(geom)"))
    out.append(("geometry must be valid", "ST_IsValid(geom)"))
    out.append(("coordinates must be lon/lat degrees (EPSG:4326)",
                "ST_XMin(geom) >= -180 AND ST_XMax(geom) <= 180 AND ST_YMin(geom) >= -90 AND ST_YMax(geom) <= 90"))
    return out


def layer_table_sql(schema_name: str, layer: str, columns: list[str], present: set[str] | None = None,
                    skip: frozenset[str] = frozenset()) -> list[str]:
    """Return the SQL statements that create one layer's table, constraints and spatial index.

    Parameters
    ----------
    schema_name
        The database schema.
    layer
        The layer kind (a key of :data:`geoplan.SCHEMAS`).
    columns
        The declared columns to create (required columns are always created).
    present
        The layers of the set, for foreign keys (added after the data by the push).
    skip
        Referencing columns to leave without a foreign key (the data does not meet it).

    Returns
    -------
    list of str
        ``CREATE TABLE``, ``COMMENT`` and ``CREATE INDEX`` statements.
    """
    schema = SCHEMAS[layer]
    cols = [f for f in schema.fields if f.name in columns or f.required]
    table = f"{_ident(schema_name)}.{_ident(layer)}"
    lines = [f"fid bigint GENERATED BY DEFAULT AS IDENTITY CONSTRAINT {_ident(layer + '_pkey')} PRIMARY KEY"]
    for f in cols:
        null = " NOT NULL" if not f.nullable else ""
        lines.append(f"{_ident(f.name)} {_PG_TYPES[f.kind]}{null}")
    lines.append(f"geom geometry({_pg_geometry(schema)}, 4326) NOT NULL")
    lines.append(f"CONSTRAINT {_ident(_constraint_name(f'{layer}: {schema.id_field} must be unique'))} "
                 f"UNIQUE ({_ident(schema.id_field)})")
    for name, expr in _checks(schema, [f.name for f in cols]):
        lines.append(f"CONSTRAINT {_ident(name)} CHECK ({expr})")
    body = ",\n  ".join(lines)
    ddl = f"CREATE TABLE {table} (\n  {body}\n)"
    trigger = (f"CREATE TRIGGER geoplan_log_edit AFTER INSERT OR UPDATE OR DELETE ON {table} FOR EACH ROW "
               f"EXECUTE FUNCTION {_ident(schema_name)}.geoplan_log_edit({_literal(schema.id_field)})")
    digest = hashlib.sha256((ddl + trigger + json.dumps(sorted(_fk_targets(schema, present or set(), skip).items())))
                            .encode())
    comment = (f"geoplan layer '{layer}': {schema.description}. Columns and rules from geoplan's declared schema; "
               f"ddl {digest.hexdigest()[:16]}")
    return [ddl, f"COMMENT ON TABLE {table} IS {_literal(comment)}",
            f"CREATE INDEX {_ident(layer + '_geom_idx')} ON {table} USING GIST (geom)", trigger]


def _edit_log_sql(schema_name: str) -> list[str]:
    """Return the SQL of a layer set's edit log: its table and the trigger function of every layer table.

    Rows written while a push runs (``geoplan.push`` set in its transaction) are not logged: the
    push is recorded in ``layer_versions`` instead.
    """
    s = _ident(schema_name)
    return [
        f"CREATE TABLE IF NOT EXISTS {s}.{EDITS_TABLE} (edit bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
        "layer text NOT NULL, feature_id text, operation text NOT NULL, "
        "edited_at timestamptz NOT NULL DEFAULT now(), edited_by text NOT NULL DEFAULT current_user, "
        "client text DEFAULT current_setting('application_name', true), changes jsonb)",
        f"COMMENT ON TABLE {s}.{EDITS_TABLE} IS 'geoplan layer set: every feature inserted, updated or deleted in the "
        "database between pushes (QGIS, SQL): who, when, which columns from what to what'",
        f"""CREATE OR REPLACE FUNCTION {s}.geoplan_log_edit() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  rec jsonb := CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END;
  diff jsonb;
BEGIN
  IF coalesce(current_setting('geoplan.push', true), '') = 'on' THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    SELECT jsonb_object_agg(n.key, CASE WHEN n.key = 'geom' THEN '"moved"'::jsonb
                                        ELSE jsonb_build_array(o.value, n.value) END)
      INTO diff
      FROM jsonb_each(to_jsonb(NEW)) n JOIN jsonb_each(to_jsonb(OLD)) o USING (key)
     WHERE n.value IS DISTINCT FROM o.value AND n.key <> 'fid';
    IF diff IS NULL THEN
      RETURN NULL;
    END IF;
  ELSE
    diff := rec - 'geom' - 'fid';
  END IF;
  INSERT INTO {s}.{EDITS_TABLE} (layer, feature_id, operation, changes)
    VALUES (TG_TABLE_NAME, rec ->> TG_ARGV[0], lower(TG_OP), diff);
  RETURN NULL;
END
$fn$""",
    ]


def _foreign_key_sql(schema_name: str, layer: str, present: set[str],
                     skip: frozenset[str] = frozenset()) -> list[str]:
    schema = SCHEMAS[layer]
    out = []
    for col, target in _fk_targets(schema, present, skip).items():
        name = _constraint_name(f"{col} must be a {target} id")
        # A renamed id follows into the links; deleting a feature a nullable link names empties the
        # link (a settlement then counts as itself), one a required link names is refused.
        on_delete = "SET NULL" if schema.field(col).nullable else "NO ACTION"
        out.append(f"ALTER TABLE {_ident(schema_name)}.{_ident(layer)} ADD CONSTRAINT {_ident(name)} "
                   f"FOREIGN KEY ({_ident(col)}) REFERENCES {_ident(schema_name)}.{_ident(target)} "
                   f"({_ident(SCHEMAS[target].id_field)}) ON UPDATE CASCADE ON DELETE {on_delete} "
                   "DEFERRABLE INITIALLY DEFERRED")
    return out


def _ddl_tag(sql: list[str]) -> str:
    m = re.search(r"ddl ([0-9a-f]{16})", sql[1])
    return m.group(1) if m else ""


def _table_comment(conn: psycopg.Connection[Any], schema: str, table: str) -> str:
    row = conn.execute("SELECT obj_description(to_regclass(%s), 'pg_class')",
                       (f"{_ident(schema)}.{_ident(table)}",)).fetchone()
    return str(row[0]) if row and row[0] is not None else ""


def _columns(conn: psycopg.Connection[Any], schema: str, table: str) -> dict[str, str]:
    """Column name -> type (``format_type``) of an existing table, in column order."""
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (f"{_ident(schema)}.{_ident(table)}",)).fetchall()
    return {str(n): str(t) for n, t in rows}


# --------------------------------------------------------------------------------------
# reading


@contextmanager
def _read_transaction(conn: psycopg.Connection[Any], marker: str) -> Iterator[None]:
    """Open a read-only REPEATABLE READ transaction that first locks ``marker`` (ACCESS SHARE).

    The lock comes before any query, so the snapshot is taken after it: a writer that replaces a
    set takes the same table first (ACCESS EXCLUSIVE), so a reader sees the set before or after
    the replacement, never a mix.
    """
    if conn.info.transaction_status != 0:  # not idle: end the catalog look-ups' transaction first
        conn.commit()
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        conn.execute(f"LOCK TABLE {marker} IN ACCESS SHARE MODE")
        yield


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
    have = _columns(conn, schema, layer)
    table = f"{schema}.{layer}"
    declared = {f.name: f for f in spec.fields}
    extra = [c for c in have if c not in declared and c not in ("fid", "geom")]
    if extra:
        drops = "; ".join(f"ALTER TABLE {table} DROP COLUMN {_ident(c)}" for c in extra)
        raise StoreError(
            f"{loc.display}: table {table} has column(s) {', '.join(extra)} that the {layer} schema does not "
            f"declare ({', '.join(declared)})",
            fix=f"rename the column to a declared one, or remove it ({drops}); geoplan layer tables hold the "
                "declared columns only")
    missing = [f for f in spec.fields if f.required and f.name not in have]
    if "geom" not in have:
        raise StoreError(f"{loc.display}: table {table} has no 'geom' column",
                         fix=f"re-push the layer set (geoplan layers push), or add the column: ALTER TABLE {table} "
                             f"ADD COLUMN geom geometry({_pg_geometry(spec)}, 4326)")
    if missing:
        adds = "; ".join(f"ALTER TABLE {table} ADD COLUMN {_ident(f.name)} {_PG_TYPES[f.kind]}" for f in missing)
        raise StoreError(
            f"{loc.display}: table {table} lacks the required column(s) {', '.join(f.name for f in missing)} "
            f"({'; '.join(f.description for f in missing)})",
            fix=f"add them and fill them in ({adds}), or re-push the layer set with geoplan layers push")
    wrong = []
    for name, pgtype in have.items():
        if name in declared:
            want = _PG_TYPES[declared[name].kind]
            ok = {"bigint": ("bigint", "integer", "smallint"), "double precision": ("double precision", "real",
                  "numeric", "bigint", "integer"), "text": ("text", "character varying")}[want]
            if not pgtype.startswith(ok):
                wrong.append((name, pgtype, want))
    if wrong:
        raise StoreError(
            f"{loc.display}: table {table}: column(s) of the wrong type: "
            + ", ".join(f"{n} is {t}, should be {w}" for n, t, w in wrong),
            fix="; ".join(f"ALTER TABLE {table} ALTER COLUMN {_ident(n)} TYPE {w} USING {_ident(n)}::{w}"
                          for n, _, w in wrong))
    return [f.name for f in spec.fields if f.name in have]


def _read_layer(conn: psycopg.Connection[Any], schema: str, layer: str, columns: list[str]) -> gpd.GeoDataFrame:
    spec = SCHEMAS[layer]
    select = ", ".join([*(_ident(c) for c in columns), "ST_AsBinary(geom)"])
    rows = conn.execute(f"SELECT {select} FROM {_ident(schema)}.{_ident(layer)} ORDER BY fid").fetchall()
    return _frame_from_rows(rows, [(c, spec.field(c).kind) for c in columns])


def _read_set(conn: psycopg.Connection[Any], loc: PgLocation, schema: str) -> tuple[dict[str, gpd.GeoDataFrame],
                                                                                    dict[str, Any]]:
    tables = _tables(conn, schema)
    layers = {}
    for layer in SCHEMAS:
        if layer in tables:
            layers[layer] = _read_layer(conn, schema, layer, _check_table(conn, loc, schema, layer))
    meta: dict[str, Any] = {}
    row = conn.execute(f"SELECT value FROM {_ident(schema)}.{LAYERSET_TABLE} WHERE key = 'meta'").fetchone()
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
    with _session(loc, "read the layer set") as conn:
        _need_postgis(conn, loc)
        if not _schema_exists(conn, schema):
            raise StoreError(f"{loc.display}: schema '{schema}' does not exist in database '{loc.dbname}'",
                             fix="correct ?schema= in the URL, or push a layer set there first: "
                                 "geoplan layers push LAYERS URL")
        tables = _tables(conn, schema)
        if LAYERSET_TABLE not in tables:
            raise _not_layerset(loc, schema, tables)
        try:
            with _read_transaction(conn, f"{_ident(schema)}.{LAYERSET_TABLE}"):
                layers, meta = _read_set(conn, loc, schema)
        except StoreError:
            raise
        except Exception as exc:
            raise _db_error(exc, loc, "read the layer set") from None
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


def _db_error(exc: Exception, loc: PgLocation, what: str) -> StoreError:
    """Turn a database error during ``what`` into a StoreError naming the table and rule."""
    import psycopg

    diag = getattr(exc, "diag", None)
    table = getattr(diag, "table_name", None) if diag is not None else None
    constraint = getattr(diag, "constraint_name", None) if diag is not None else None
    detail = getattr(diag, "message_detail", None) if diag is not None else None
    msg = _mask(_first_line(exc), loc)
    if isinstance(exc, psycopg.errors.IntegrityError) and constraint:
        text = f"{loc.display}: cannot {what}: table {table}: {constraint}"
        if detail:
            text += f" ({_mask(detail, loc)[:300]})"
        return StoreError(text, fix="correct the feature named (geoplan layers check shows all problems); "
                                    "the database was left as it was")
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return StoreError(f"{loc.display}: cannot {what}: {msg}",
                          fix=f"ask the database administrator to grant your user the rights on schema "
                              f"'{loc.schema or 'public'}' (CREATE, and SELECT/INSERT/DELETE on its tables)")
    if isinstance(exc, psycopg.OperationalError):
        return StoreError(f"{loc.where}: the connection failed while trying to {what}: {msg} ({loc.display})",
                          fix="retry; nothing was changed (the transaction was rolled back)")
    return StoreError(f"{loc.display}: cannot {what}: {msg}", fix="the database was left as it was; "
                      "see the message for the table and rule involved")


# --------------------------------------------------------------------------------------
# pushing


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
    geoms = _as_declared_type(gdf.geometry.to_numpy(), _pg_geometry(spec))
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


def _as_declared_type(geoms: np.ndarray, declared: str) -> np.ndarray:
    """2-D geometries of the declared type: single-part multis unwrapped, or singles wrapped when Multi*."""
    types = shapely.get_type_id(geoms)
    if declared.startswith("Multi"):
        makers: dict[str, Callable[..., Any]] = {
            "MultiPoint": shapely.multipoints, "MultiLineString": shapely.multilinestrings,
            "MultiPolygon": shapely.multipolygons}
        wrap = makers[declared]
        single = (types >= 0) & (types < 4)
        out = geoms.copy()
        out[single] = [wrap([g]) for g in geoms[single]]
    else:
        single = (types >= 4) & (shapely.get_num_geometries(geoms) == 1)
        out = np.where(single, shapely.get_geometry(geoms, 0), geoms)
    return np.asarray(shapely.force_2d(out))


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
    unmet = _unmet_references(layers)
    ddl = {name: layer_table_sql(schema, name, cols, present, unmet[name]) for name, cols in plan.items()}
    payload = {name: _rows_for(layers.layers[name], name, cols) for name, cols in plan.items()}
    size = sum(len(str(v)) if v is not None else 0 for rows in payload.values() for r in rows for v in r)
    with connect(loc) as conn:
        try:
            with conn.transaction():
                report = _push(conn, loc, schema, layers, plan, ddl, payload, label, message, unmet)
        except (StoreError, GeoplanError):
            raise
        except Exception as exc:
            raise _db_error(exc, loc, f"push the layer set to schema '{schema}'") from None
    report.seconds = time.perf_counter() - t0
    report.bytes = size
    report.warnings = warnings
    log.info("pushed %s to %s in %.2f s", ", ".join(f"{n} ({len(g)})" for n, g in layers.layers.items()),
             loc.display, report.seconds)
    return report


def _push(conn: psycopg.Connection[Any], loc: PgLocation, schema: str, layers: LayerSet, plan: dict[str, list[str]],
          ddl: dict[str, list[str]], payload: dict[str, list[tuple[Any, ...]]], label: str, message: str,
          unmet: dict[str, frozenset[str]]) -> PushReport:
    _need_postgis(conn, loc)
    s = _ident(schema)
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"geoplan layers {schema}",))
    conn.execute("SET LOCAL geoplan.push = 'on'")  # the edit log skips the push's own rows
    tables = _tables(conn, schema) if _schema_exists(conn, schema) else []
    ours = LAYERSET_TABLE in tables
    if not ours:
        foreign = tables
        if foreign:
            raise StoreError(
                f"{loc.display}: schema '{schema}' holds tables that are not a geoplan layer set "
                f"({', '.join(foreign[:10])}); geoplan does not overwrite them",
                fix="push to another schema (?schema=NAME; it is created), or move those tables elsewhere")
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
    conn.execute(f"CREATE TABLE IF NOT EXISTS {s}.{LAYERSET_TABLE} (key text PRIMARY KEY, value json NOT NULL)")
    conn.execute(f"COMMENT ON TABLE {s}.{LAYERSET_TABLE} IS 'geoplan layer set: metadata (layerset.json); marks this "
                 "schema as a layer set geoplan reads and pushes'")
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {s}.{VERSIONS_TABLE} ("
        "version bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, push bigint NOT NULL, layer text NOT NULL, "
        "pushed_at timestamptz NOT NULL DEFAULT now(), pushed_by text NOT NULL DEFAULT current_user, "
        "client text, source text, message text, features integer NOT NULL, added integer NOT NULL, "
        "removed integer NOT NULL, changed integer NOT NULL, content_hash text NOT NULL)")
    for stmt in _edit_log_sql(schema):
        conn.execute(stmt)
    before: dict[str, gpd.GeoDataFrame] = {}
    if ours:
        try:
            before, _ = _read_set(conn, loc, schema)
        except StoreError:
            before = {}  # a damaged table is replaced by the push
    old_layers = [t for t in SCHEMAS if t in tables]
    recreate = sorted(old_layers) != sorted(plan) or any(
        f"ddl {_ddl_tag(ddl[n])}" not in _table_comment(conn, schema, n)
        or list(_columns(conn, schema, n)) != ["fid", *plan[n], "geom"] for n in plan)
    if recreate:
        # Readers lock the marker before anything else (see _read_transaction): taking it first
        # makes them wait for the new tables instead of finding them half made.
        conn.execute(f"LOCK TABLE {s}.{LAYERSET_TABLE} IN ACCESS EXCLUSIVE MODE")
        for name in old_layers:
            conn.execute(f"DROP TABLE {s}.{_ident(name)} CASCADE")
        for name in plan:
            for stmt in ddl[name]:
                conn.execute(stmt)
    else:
        for name in plan:
            conn.execute(f"DELETE FROM {s}.{_ident(name)}")
    for name, cols in plan.items():
        collist = ", ".join([*(_ident(c) for c in cols), "geom"])
        with conn.cursor().copy(f"COPY {s}.{_ident(name)} ({collist}) FROM STDIN") as copy:
            for row in payload[name]:
                copy.write_row(row)
    if recreate:
        for name in plan:
            for stmt in _foreign_key_sql(schema, name, set(plan), unmet[name]):
                conn.execute(stmt)
    conn.execute("SET CONSTRAINTS ALL IMMEDIATE")  # deferred foreign keys: fail here, named, not at COMMIT
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
    with _session(loc, "read the push history") as conn:
        tables = _tables(conn, schema)
        if VERSIONS_TABLE not in tables:
            raise _not_layerset(loc, schema, tables)
        rows = conn.execute(
            f"SELECT push, layer, pushed_at, pushed_by, client, source, message, features, added, removed, changed, "
            f"content_hash FROM {_ident(schema)}.{VERSIONS_TABLE} ORDER BY push DESC, version").fetchall()
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
    with _session(loc, "read the edit log") as conn:
        tables = _tables(conn, schema)
        if EDITS_TABLE not in tables:
            raise _not_layerset(loc, schema, tables)
        rows = conn.execute(
            f"SELECT edit, layer, feature_id, operation, edited_at, edited_by, client, changes "
            f"FROM {_ident(schema)}.{EDITS_TABLE} ORDER BY edit DESC").fetchall()
    return pd.DataFrame(rows, columns=["edit", "layer", "feature_id", "operation", "edited_at", "edited_by",
                                       "client", "changes"])


# --------------------------------------------------------------------------------------
# run results


def results_schema_name(scenario: str) -> str:
    """``<scenario>_results`` as a plain lower-case identifier.

    Examples
    --------
    >>> results_schema_name("Center-West 2030")
    'center_west_2030_results'
    """
    base = re.sub(r"[^a-z0-9_]+", "_", scenario.lower()).strip("_") or "scenario"
    if not base[0].isalpha():
        base = "s_" + base
    return base[:40] + "_results"


def _result_type(series: pd.Series) -> str:
    if series.dtype == object:  # e.g. booleans with gaps: go by the values
        kind = pd.api.types.infer_dtype(series, skipna=True)
        return {"boolean": "boolean", "integer": "bigint", "floating": "double precision",
                "mixed-integer-float": "double precision"}.get(kind, "text")
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "bigint"
    if pd.api.types.is_float_dtype(series):
        return "double precision"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "timestamptz"
    return "text"


def _result_value(v: Any, pgtype: str) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (float, np.floating)) and not math.isfinite(float(v)):
        return None
    if pgtype == "bigint":
        return int(v)
    if pgtype == "double precision":
        return float(v)
    if pgtype == "boolean":
        return bool(v)
    if pgtype == "timestamptz":
        return pd.Timestamp(v).isoformat()
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v, ensure_ascii=False, default=str)
    return str(v)


def _write_result_table(conn: psycopg.Connection[Any], schema: str, name: str, gdf: gpd.GeoDataFrame) -> None:
    if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
        gdf = gdf.to_crs(4326)
    geom_name = gdf.geometry.name
    attrs = [c for c in gdf.columns if c != geom_name]
    clash = [str(c) for c in attrs if str(c).lower() in ("fid", "geom")]
    if clash:
        raise StoreError(f"result table '{name}' has column(s) {', '.join(clash)}, which the PostGIS store uses "
                         "for the key and the geometry", fix="rename the column(s) before writing the results")
    types = {c: _result_type(gdf[c]) for c in attrs}
    geoms = gdf.geometry.to_numpy()
    kinds = {int(t) for t in shapely.get_type_id(geoms[~shapely.is_missing(geoms)])}
    names = ["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon",
             "GeometryCollection"]
    if len(kinds) == 2 and max(kinds) == min(kinds) + 3 and min(kinds) in (0, 1, 3):
        # Polygons and MultiPolygons (say): one Multi* column, so QGIS shows one layer.
        geoms = _as_declared_type(geoms, names[max(kinds)])
        kinds = {max(kinds)}
    gtype = names[kinds.pop()] if len(kinds) == 1 else "Geometry"
    table = f"{_ident(schema)}.{_ident(name)}"
    cols = ",\n  ".join([f"fid bigint GENERATED BY DEFAULT AS IDENTITY CONSTRAINT {_ident(name + '_pkey')} "
                         "PRIMARY KEY", *(f"{_ident(str(c))} {types[c]}" for c in attrs),
                         f"geom geometry({gtype}, 4326)"])
    conn.execute(f"CREATE TABLE {table} (\n  {cols}\n)")
    collist = ", ".join([*(_ident(str(c)) for c in attrs), "geom"])
    wkb = shapely.to_wkb(shapely.set_srid(shapely.force_2d(geoms), 4326), hex=True, include_srid=True)
    values = {c: gdf[c].to_numpy(dtype=object) for c in attrs}
    with conn.cursor().copy(f"COPY {table} ({collist}) FROM STDIN") as copy:
        for i in range(len(gdf)):
            copy.write_row([*(_result_value(values[c][i], types[c]) for c in attrs), wkb[i]])
    conn.execute(f"CREATE INDEX {_ident(name + '_geom_idx')} ON {table} USING GIST (geom)")


def _check_results_schema(conn: psycopg.Connection[Any], loc: PgLocation, target: str) -> None:
    if not _schema_exists(conn, target):
        return
    existing = _tables(conn, target)
    if RUN_TABLE not in existing:
        what = "a geoplan layer set" if LAYERSET_TABLE in existing else "tables geoplan did not write"
        raise StoreError(
            f"{loc.display}: schema '{target}' holds {what} ({', '.join(existing[:10]) or 'empty'}); "
            "run results are written to a schema of their own",
            fix="write the results elsewhere: leave ?schema= out (they go to <scenario>_results) or "
                "name an unused schema")


def check_results_target(url: str, *, scenario: str) -> str:
    """Check, before a run computes anything, that its results can go to ``url``; return the schema.

    Connects (failing fast for an unreachable server or a wrong password), checks for PostGIS
    and that the results schema is free or holds earlier geoplan results. Writes nothing.

    Raises
    ------
    StoreError
        As :func:`write_results` would, but before any computing.
    """
    loc = parse_url(url)
    target = loc.schema or results_schema_name(scenario)
    with _session(loc, "check the results schema", autocommit=True) as conn:
        _need_postgis(conn, loc)
        _check_results_schema(conn, loc, target)
    return target


def write_results(url: str, tables: Mapping[str, gpd.GeoDataFrame], *, scenario: str,
                  info: Mapping[str, Any] | None = None) -> str:
    """Write result layers to their own schema, replacing the previous run's tables atomically.

    The tables are built in a scratch schema first; one transaction then drops the previous
    results schema and renames the scratch one into its place. A reader using
    :func:`read_results` sees the previous run or the new one, never a mix, and a failed or
    killed write leaves the previous results as they were.

    Parameters
    ----------
    url
        ``postgresql://user@host:port/db``; ``?schema=NAME`` picks the results schema,
        otherwise it is ``<scenario>_results``.
    tables
        Result layers by table name (``towns``, ``centres``, ``catchments``, ``flows``).
    scenario
        The scenario's name, recorded in ``run_info`` and used for the schema name.
    info
        Further facts for ``run_info`` (e.g. the layer set the run read).

    Returns
    -------
    str
        The schema written.

    Raises
    ------
    StoreError
        When the target schema exists but does not hold geoplan results (or holds a layer
        set): geoplan never drops a schema it did not write.
    """
    loc = parse_url(url)
    target = loc.schema or results_schema_name(scenario)
    scratch = f"{target[:48]}__building"
    bad = [n for n in tables if not _IDENT.fullmatch(n) or n == RUN_TABLE]
    if bad:
        raise StoreError(f"result table names {bad} are not plain identifiers or clash with '{RUN_TABLE}'",
                         fix="name result tables with letters, digits and _")
    facts = {"scenario": scenario, "written_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
             "written_by": f"{getpass.getuser()}@{socket.gethostname()}", "tables": sorted(tables),
             **{k: str(v) for k, v in (info or {}).items()}}
    with connect(loc, autocommit=True) as conn:
        try:
            _need_postgis(conn, loc)
            # One writer per results schema at a time; released when the connection closes.
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"geoplan results {target}",))
            _check_results_schema(conn, loc, target)
            with conn.transaction():
                conn.execute(f"DROP SCHEMA IF EXISTS {_ident(scratch)} CASCADE")  # left by a killed run
                conn.execute(f"CREATE SCHEMA {_ident(scratch)}")
                conn.execute(f"CREATE TABLE {_ident(scratch)}.{RUN_TABLE} (key text PRIMARY KEY, value jsonb)")
                conn.execute(f"COMMENT ON TABLE {_ident(scratch)}.{RUN_TABLE} IS 'geoplan run results: facts of the "
                             "run that wrote this schema'")
                with conn.cursor() as cur:
                    cur.executemany(f"INSERT INTO {_ident(scratch)}.{RUN_TABLE} VALUES (%s, %s::jsonb)",
                                    [(k, json.dumps(v, ensure_ascii=False)) for k, v in facts.items()])
                for name, gdf in tables.items():
                    _write_result_table(conn, scratch, name, gdf)
            with conn.transaction():
                if _schema_exists(conn, target):
                    old = _tables(conn, target)
                    # The marker first, as readers do; then every other table, so that nobody holds one.
                    order = [RUN_TABLE, *sorted(t for t in old if t != RUN_TABLE)]
                    for t in order:
                        conn.execute(f"LOCK TABLE {_ident(target)}.{_ident(t)} IN ACCESS EXCLUSIVE MODE")
                    conn.execute(f"DROP SCHEMA {_ident(target)} CASCADE")
                conn.execute(f"ALTER SCHEMA {_ident(scratch)} RENAME TO {_ident(target)}")
        except StoreError:
            raise
        except Exception as exc:
            raise _db_error(exc, loc, f"write the results to schema '{target}'") from None
        finally:
            if not conn.closed:
                with contextlib.suppress(Exception):  # the error that got us here matters more
                    conn.execute(f"DROP SCHEMA IF EXISTS {_ident(scratch)} CASCADE")
    log.info("wrote results %s to %s", ", ".join(tables), loc.with_schema(target).display)
    return target


def read_results(url: str, *, scenario: str | None = None) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """Read a results schema written by :func:`write_results`, all tables from one snapshot.

    Parameters
    ----------
    url
        ``postgresql://user@host:port/db?schema=NAME``, or without ``schema`` plus ``scenario``.
    scenario
        The scenario name, when the URL names no schema.

    Returns
    -------
    dict
        ``run_info`` (a one-row DataFrame of the run's facts) and every result table as a
        GeoDataFrame in EPSG:4326, rows in the order written.
    """
    loc = parse_url(url)
    if loc.schema is None and scenario is None:
        raise StoreError(f"{loc.display}: which results? the URL names no schema",
                         fix="add ?schema=<scenario>_results to the URL, or pass the scenario name")
    target = loc.schema or results_schema_name(str(scenario))
    with _session(loc, f"read the results in schema '{target}'") as conn:
        if not _schema_exists(conn, target) or RUN_TABLE not in _tables(conn, target):
            raise StoreError(f"{loc.display}: schema '{target}' holds no geoplan results",
                             fix="run geoplan run --out with this database first, or correct the schema name")
        with _read_transaction(conn, f"{_ident(target)}.{RUN_TABLE}"):
            facts = dict(conn.execute(f"SELECT key, value FROM {_ident(target)}.{RUN_TABLE}").fetchall())
            out: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {"run_info": pd.DataFrame([facts])}
            for name in facts.get("tables", []):
                cur = conn.execute(f"SELECT * FROM {_ident(target)}.{_ident(name)} ORDER BY fid")
                cols = [d.name for d in cur.description or []]
                rows = cur.fetchall()
                frame = pd.DataFrame(rows, columns=cols).drop(columns=["fid", "geom"])
                geoms = shapely.from_wkb(np.array([bytes.fromhex(str(r[cols.index("geom")])) if r[cols.index("geom")]
                                                   else None for r in rows], dtype=object))
                out[name] = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"), crs="EPSG:4326")
    return out
