"""Layer sets: declared schemas, reading, validation and writing.

The package is split by job: :mod:`geoplan.layers.schemas` (vocabularies, the fields of each
layer kind, the :class:`LayerSet` container), :mod:`geoplan.layers.io` (readers and writers)
and :mod:`geoplan.layers.validation` (every problem as data). Every public name is importable
from ``geoplan.layers``.

A *layer set* is what a GIS specialist edits: ``towns`` (the monotowns), ``centres`` (growth
centres) and ``roads`` (a line per road segment), optionally with a schematic railway:
``rail_stations`` (points) and ``rail`` (a straight line per link between two stations), and
with ``boundaries`` (country, regions, districts) and ``settlements`` (places with population). It
can live in a folder of GeoJSON, Shapefile or FlatGeobuf files named after the layers, or in
one GeoPackage with one layer per kind. :func:`read_layers` reads any of these;
:func:`validate` returns every problem as data (:class:`Problem`) instead of stopping at the
first, so a report can list them all.

Examples
--------
>>> import geoplan
>>> layers = geoplan.read_layers(geoplan.embedded_layers_path())
>>> sorted(layers.names)
['boundaries', 'centres', 'rail', 'rail_stations', 'roads', 'settlements', 'towns']
>>> [p for p in geoplan.validate(layers) if p.severity == "error"]
[]
"""

from geoplan.layers.io import normalise, read_layers, write_layers
from geoplan.layers.schemas import (
    BOUNDARIES,
    CENTRES,
    OPTIONAL_LAYERS,
    RAIL,
    RAIL_STATIONS,
    ROADS,
    SCHEMAS,
    SETTLEMENTS,
    TOWNS,
    Field,
    Kind,
    LayerSchema,
    LayerSet,
    Problem,
    Severity,
    embedded_layers_path,
    metric_crs,
)
from geoplan.layers.validation import ValidationConfig, problems_frame, require_valid, validate
from geoplan.settings import (
    CENTRE_ROLES,
    ENTERPRISE_STATUS,
    GPKG_TIMESTAMP,
    LENGTH_SOURCES,
    PLACE_TYPES,
    RESOURCE_STATUS,
    ROAD_CLASSES,
    STATION_KINDS,
    SURFACES,
    TRACKS,
    YES_NO_UNKNOWN,
)

__all__ = [
    "Field",
    "LayerSchema",
    "SCHEMAS",
    "ROAD_CLASSES",
    "OPTIONAL_LAYERS",
    "LayerSet",
    "Problem",
    "ValidationConfig",
    "read_layers",
    "validate",
    "require_valid",
    "write_layers",
    "problems_frame",
    "metric_crs",
    "embedded_layers_path",
    "GPKG_TIMESTAMP",
    "normalise",
    "Kind",
    "Severity",
    "TOWNS",
    "CENTRES",
    "ROADS",
    "RAIL_STATIONS",
    "RAIL",
    "RESOURCE_STATUS",
    "ENTERPRISE_STATUS",
    "CENTRE_ROLES",
    "LENGTH_SOURCES",
    "SURFACES",
    "STATION_KINDS",
    "YES_NO_UNKNOWN",
    "TRACKS",
    "BOUNDARIES",
    "SETTLEMENTS",
    "PLACE_TYPES",
]
