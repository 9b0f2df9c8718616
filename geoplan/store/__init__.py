"""Layer sets and results in a database: the PostGIS store and layer-set versions.

Every function that takes a layer set also takes a ``postgresql://user@host:port/db?schema=kz``
URL (:func:`geoplan.read_layers` reads one through :func:`read_postgis`). See
:mod:`geoplan.store.postgis` for the table layout, constraints and transactions, and
:mod:`geoplan.store.versions` for content hashes and differences.
"""

from __future__ import annotations

from geoplan.store.postgis import (
    CONNECT_TIMEOUT_S,
    PgLocation,
    PushReport,
    check_results_target,
    connect,
    is_postgres_url,
    layer_edits,
    layer_table_sql,
    layer_versions,
    parse_url,
    pull_layers,
    push_layers,
    read_postgis,
    read_results,
    redact_url,
    results_schema_name,
    write_results,
)
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
