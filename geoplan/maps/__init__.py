"""Maps of the analysis results: interactive Leaflet maps (folium) and a static PNG.

:func:`agglomeration_map` shows growth centres sized by population, monotowns coloured by
category, nested catchment bands and, optionally, the travel-time surface;
:func:`relocation_map` shows the relocation flows along their road routes and how much of each
destination's capacity they use. :func:`save_map` writes either as one HTML file, atomically
and byte-identically for the same inputs. :func:`category_png` draws the categories with
matplotlib for reports.

The HTML needs only Leaflet: folium's other defaults (jQuery, Bootstrap, Font Awesome,
awesome-markers) are left out, points are canvas circle markers, popups are plain Leaflet
popups and the legend is plain HTML/CSS, so the map works offline once ``assets_url`` points
at a local copy of Leaflet's ``dist`` folder. Every text that comes from data is HTML-escaped
before it reaches a popup or tooltip.

Examples
--------
>>> import geopandas as gpd, shapely
>>> towns = gpd.GeoDataFrame({"id": ["a"], "name_en": ["Abai"], "category": ["monitor"]},
...                          geometry=[shapely.Point(72.85, 49.63)], crs=4326)
>>> centres = gpd.GeoDataFrame({"id": ["k"], "name_en": ["Karaganda"], "population": [500000]},
...                            geometry=[shapely.Point(73.10, 49.80)], crs=4326)
>>> m = agglomeration_map(towns, centres, None, tiles=False)
>>> "jquery" in render_map(m).lower()
False

"""

from __future__ import annotations

from geoplan.maps.agglomeration import agglomeration_map
from geoplan.maps.assets import LEAFLET_CDN, LEAFLET_VERSION, OSM_TILES
from geoplan.maps.basemap import MapContext
from geoplan.maps.difference import difference_map
from geoplan.maps.figures import category_png
from geoplan.maps.relocation import curved_flow, relocation_map
from geoplan.maps.render import render_map, save_map, write_maps

__all__ = [
    "MapContext",
    "LEAFLET_CDN",
    "LEAFLET_VERSION",
    "OSM_TILES",
    "agglomeration_map",
    "curved_flow",
    "difference_map",
    "category_png",
    "relocation_map",
    "render_map",
    "save_map",
    "write_maps",
]
