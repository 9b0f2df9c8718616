"""The table layout of a PostGIS layer set: table names, column types, constraints and triggers (DDL).

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
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely

from geoplan.layers import SCHEMAS, LayerSchema, LayerSet
from geoplan.store.connection import quote_ident, quote_literal

__all__ = ["layer_table_sql"]

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
#: Column type per declared kind of value.
PG_TYPES = {"str": "text", "int": "bigint", "float": "double precision"}
#: Geometry column type per declared geometry type: a point or line layer holds single parts (a
#: one-part multi is unwrapped), a polygon layer holds polygons with any number of parts.
PG_GEOMETRY = {"Point": "Point", "LineString": "LineString", "Polygon": "MultiPolygon"}


def pg_geometry(schema: LayerSchema) -> str:
    """Return the geometry column type of a layer (``MultiPolygon`` for a polygon layer)."""
    return PG_GEOMETRY.get(schema.geometry_type, schema.geometry_type)


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


def unmet_references(layers: LayerSet) -> dict[str, frozenset[str]]:
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
        col = quote_ident(f.name)
        if f.kind == "str" and not f.nullable:
            out.append((f"{f.name} must not be blank", f"btrim({col}) <> ''"))
        if f.allowed is not None:
            values = ", ".join(quote_literal(v) for v in f.allowed)
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


def layer_table_sql(schema_name: str, layer: str, columns: list[str], *, present: set[str] | None = None,
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
    table = f"{quote_ident(schema_name)}.{quote_ident(layer)}"
    lines = [f"fid bigint GENERATED BY DEFAULT AS IDENTITY CONSTRAINT {quote_ident(layer + '_pkey')} PRIMARY KEY"]
    for f in cols:
        null = " NOT NULL" if not f.nullable else ""
        lines.append(f"{quote_ident(f.name)} {PG_TYPES[f.kind]}{null}")
    lines.append(f"geom geometry({pg_geometry(schema)}, 4326) NOT NULL")
    lines.append(f"CONSTRAINT {quote_ident(_constraint_name(f'{layer}: {schema.id_field} must be unique'))} "
                 f"UNIQUE ({quote_ident(schema.id_field)})")
    for name, expr in _checks(schema, [f.name for f in cols]):
        lines.append(f"CONSTRAINT {quote_ident(name)} CHECK ({expr})")
    body = ",\n  ".join(lines)
    ddl = f"CREATE TABLE {table} (\n  {body}\n)"
    trigger = (f"CREATE TRIGGER geoplan_log_edit AFTER INSERT OR UPDATE OR DELETE ON {table} FOR EACH ROW "
               f"EXECUTE FUNCTION {quote_ident(schema_name)}.geoplan_log_edit({quote_literal(schema.id_field)})")
    digest = hashlib.sha256((ddl + trigger + json.dumps(sorted(_fk_targets(schema, present or set(), skip).items())))
                            .encode())
    comment = (f"geoplan layer '{layer}': {schema.description}. Columns and rules from geoplan's declared schema; "
               f"ddl {digest.hexdigest()[:16]}")
    return [ddl, f"COMMENT ON TABLE {table} IS {quote_literal(comment)}",
            f"CREATE INDEX {quote_ident(layer + '_geom_idx')} ON {table} USING GIST (geom)", trigger]


def edit_log_sql(schema_name: str) -> list[str]:
    """Return the SQL of a layer set's edit log: its table and the trigger function of every layer table.

    Rows written while a push runs (``geoplan.push`` set in its transaction) are not logged: the
    push is recorded in ``layer_versions`` instead.
    """
    s = quote_ident(schema_name)
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


def set_tables_sql(schema_name: str) -> list[str]:
    """Return the SQL creating, when missing, the tables of a layer set that are not layers.

    ``geoplan_layerset`` (the set's metadata, marking the schema as a layer set),
    ``layer_versions`` (the push history) and the edit log (:func:`edit_log_sql`).
    """
    s = quote_ident(schema_name)
    return [
        f"CREATE TABLE IF NOT EXISTS {s}.{LAYERSET_TABLE} (key text PRIMARY KEY, value json NOT NULL)",
        f"COMMENT ON TABLE {s}.{LAYERSET_TABLE} IS 'geoplan layer set: metadata (layerset.json); marks this "
        "schema as a layer set geoplan reads and pushes'",
        f"CREATE TABLE IF NOT EXISTS {s}.{VERSIONS_TABLE} ("
        "version bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, push bigint NOT NULL, layer text NOT NULL, "
        "pushed_at timestamptz NOT NULL DEFAULT now(), pushed_by text NOT NULL DEFAULT current_user, "
        "client text, source text, message text, features integer NOT NULL, added integer NOT NULL, "
        "removed integer NOT NULL, changed integer NOT NULL, content_hash text NOT NULL)",
        *edit_log_sql(schema_name),
    ]


def foreign_key_sql(schema_name: str, layer: str, present: set[str], *,
                    skip: frozenset[str] = frozenset()) -> list[str]:
    """Return the ``ALTER TABLE ... FOREIGN KEY`` statements of one layer's links to other layers.

    The keys are deferred to the commit, so that an edit session may change both layers; a
    renamed id follows into the links.
    """
    schema = SCHEMAS[layer]
    out = []
    for col, target in _fk_targets(schema, present, skip).items():
        name = _constraint_name(f"{col} must be a {target} id")
        # A renamed id follows into the links; deleting a feature a nullable link names empties the
        # link (a settlement then counts as itself), one a required link names is refused.
        on_delete = "SET NULL" if schema.field(col).nullable else "NO ACTION"
        out.append(f"ALTER TABLE {quote_ident(schema_name)}.{quote_ident(layer)} ADD CONSTRAINT {quote_ident(name)} "
                   f"FOREIGN KEY ({quote_ident(col)}) REFERENCES {quote_ident(schema_name)}.{quote_ident(target)} "
                   f"({quote_ident(SCHEMAS[target].id_field)}) ON UPDATE CASCADE ON DELETE {on_delete} "
                   "DEFERRABLE INITIALLY DEFERRED")
    return out


def ddl_tag(sql: list[str]) -> str:
    """Return the digest of a layer's DDL that :func:`layer_table_sql` writes into its table comment."""
    m = re.search(r"ddl ([0-9a-f]{16})", sql[1])
    return m.group(1) if m else ""


def as_declared_type(geoms: np.ndarray, declared: str) -> np.ndarray:
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
