"""Layer sets and results in a database: the PostGIS store and layer-set versions.

A team keeps its layer set in one schema of a PostgreSQL database with PostGIS, edits it from
QGIS, and geoplan reads, validates and analyses it in place. Every function that takes a layer
set also takes a ``postgresql://user@host:port/db?schema=kz`` URL (:func:`geoplan.read_layers`
reads one through :func:`read_postgis`). The rooms, in the order they build on each other:

- :mod:`geoplan.store.connection`: URLs (passwords masked), connections, database errors;
- :mod:`geoplan.store.tables`: the table layout, constraints and edit-log triggers (DDL);
- :mod:`geoplan.store.versions`: content hashes and feature-level differences;
- :mod:`geoplan.store.read`: reading a set (one snapshot), pulling it into files, its histories;
- :mod:`geoplan.store.push`: pushing a set, all layers in one transaction;
- :mod:`geoplan.store.results`: run results in a schema of their own, swapped in atomically.
"""

from __future__ import annotations

from geoplan.store.connection import CONNECT_TIMEOUT_S, PgLocation, connect, is_postgres_url, parse_url, redact_url
from geoplan.store.push import PushReport, push_layers
from geoplan.store.read import layer_edits, layer_versions, pull_layers, read_postgis, read_url
from geoplan.store.results import check_results_target, read_results, results_schema_name, write_results
from geoplan.store.tables import layer_table_sql
from geoplan.store.versions import content_hash, diff_layers, feature_records

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
    "feature_records",
    "content_hash",
    "diff_layers",
]
