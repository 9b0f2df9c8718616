"""OpenStreetMap roads: read extracts, download them (Geofabrik, Overpass), write a roads layer.

- :mod:`geoplan.osm.read` — :func:`read_osm`: an ``.osm.pbf`` (streamed with pyosmium) or OSM
  XML extract as a geoplan ``roads`` layer, one feature per way piece between junctions
  (``merge=True`` joins pieces through nodes of degree 2);
- :mod:`geoplan.osm.geofabrik` — :func:`download_extract`: a regional ``.osm.pbf`` from the
  Geofabrik index (any region it lists) or any URL, resumable, checked against its MD5 and
  cached; :func:`download_roads` streams it into a roads layer in one call;
- :mod:`geoplan.osm.overpass` — :func:`download_osm`: roads of a place or bounding box from an
  Overpass server (through osmnx);
- :mod:`geoplan.osm.roads` — tag parsing (:func:`parse_maxspeed`, :data:`SURFACE_OF`),
  :func:`merge_chains`, :func:`write_roads`, :func:`roads_summary`.

Examples
--------
>>> import geoplan
>>> roads = geoplan.read_osm("monaco.osm.pbf", main_roads=True)  # doctest: +SKIP
>>> net = geoplan.network.build_network(roads, snap_tolerance_m=0)  # doctest: +SKIP
"""

from __future__ import annotations

from geoplan.osm.overpass import download_osm
from geoplan.osm.read import read_osm
from geoplan.osm.roads import (
    DOWNLOAD_ROAD_CLASSES,
    MAIN_ROAD_CLASSES,
    SURFACE_OF,
    ZONE_SPEEDS_KPH,
    parse_maxspeed,
    roads_summary,
    write_roads,
)

__all__ = [
    "DOWNLOAD_ROAD_CLASSES",
    "MAIN_ROAD_CLASSES",
    "SURFACE_OF",
    "ZONE_SPEEDS_KPH",
    "download_osm",
    "parse_maxspeed",
    "read_osm",
    "roads_summary",
    "write_roads",
]
