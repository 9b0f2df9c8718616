"""Roads from an Overpass API server (through osmnx), for a place name or a bounding box."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable

import geopandas as gpd

from geoplan._errors import LayerError, LayerReadError
from geoplan._progress import progress_bar
from geoplan.osm.read import _graph_settings, _osmnx_settings, _reason, _roads_from_graph
from geoplan.osm.roads import _no_roads, _road_classes

__all__ = ["download_osm"]


def download_osm(
    *,
    place: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    road_classes: Iterable[str] | None = None,
    main_roads: bool = False,
    overpass_url: str | None = None,
    nominatim_url: str | None = None,
    timeout: float = 180.0,
    cache_folder: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
) -> gpd.GeoDataFrame:
    """Download roads from an Overpass server (through osmnx) as a geoplan roads layer.

    Parameters
    ----------
    place
        A place name that Nominatim resolves to a boundary, e.g. ``"Temirtau, Kazakhstan"``.
    bbox
        ``(west, south, east, north)`` in degrees. Give ``place`` or ``bbox``, not both.
    road_classes, main_roads
        Which ``highway=*`` classes to request, as in :func:`read_osm`.
    overpass_url
        Overpass API base URL (default: osmnx's, ``https://overpass-api.de/api``).
    nominatim_url
        Nominatim base URL for ``place`` (default: osmnx's).
    timeout
        Seconds to wait for each server response.
    cache_folder
        Keep server responses in this folder and reuse them; ``None`` disables caching.
    progress
        Show a progress bar on stderr; ``None`` follows
        :func:`geoplan._progress.set_progress` (off in a library call, on in the ``geoplan`` command).

    Returns
    -------
    geopandas.GeoDataFrame
        The roads layer, as from :func:`read_osm` on the same data. Ways crossing the area's
        edge are cut there.

    Raises
    ------
    LayerReadError
        The server cannot be reached or answers with an error, the place is unknown, or the
        area holds no roads of the requested classes.

    """
    classes = _road_classes(road_classes, main_roads)
    if (place is None) == (bbox is None):
        raise LayerError("give either a place name or a bounding box", fix="pass --place NAME or --bbox W,S,E,N")
    if bbox is not None:
        try:
            west, south, east, north = (float(b) for b in bbox)
        except (TypeError, ValueError) as exc:
            raise LayerError(f"bounding box {bbox!r} is not four numbers", fix="pass W,S,E,N in degrees") from exc
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise LayerError(f"bounding box {bbox!r} is not west < east, south < north in degrees",
                             fix="pass W,S,E,N, e.g. 72.9,50.0,73.2,50.1")
    overrides = _graph_settings()
    overrides.update(requests_timeout=timeout, use_cache=cache_folder is not None)
    if cache_folder is not None:
        overrides["cache_folder"] = str(cache_folder)
    if overpass_url:
        overrides["overpass_url"] = overpass_url
    if nominatim_url:
        overrides["nominatim_url"] = nominatim_url
    custom_filter = f'["highway"~"^({"|".join(classes)})$"]'
    where = f"place {place!r}" if place is not None else f"bbox {bbox}"
    with progress_bar(total=3, desc="downloading OSM roads", enabled=progress) as bar, \
            _osmnx_settings(**overrides) as ox:
        server = ox.settings.overpass_url
        try:
            if place is not None:
                G = ox.graph_from_place(place, custom_filter=custom_filter, simplify=False, retain_all=True,
                                        truncate_by_edge=True)
            else:
                G = ox.graph_from_bbox((west, south, east, north), custom_filter=custom_filter, simplify=False,
                                       retain_all=True, truncate_by_edge=True)
        except Exception as exc:
            text = _reason(exc)
            if "No data elements" in text or "Found no graph nodes" in text:
                raise _no_roads(f"Overpass ({where})", classes, Counter(), None) from exc
            if "Nominatim" in text or "geocode" in text:
                raise LayerReadError(f"cannot find {where}: {text}",
                                     fix="spell the place as Nominatim knows it (e.g. 'Temirtau, Kazakhstan') "
                                     "or pass --bbox W,S,E,N") from exc
            raise LayerReadError(f"cannot download roads for {where} from {server}: {text}",
                                 fix="check the network connection and the server URL (--overpass-url), "
                                 "or download an .osm.pbf extract and use `geoplan osm convert`") from exc
        bar.update()
        if G.number_of_edges() == 0:
            raise _no_roads(f"Overpass ({where})", classes, Counter(), None)
        return _roads_from_graph(G, classes, f"Overpass ({where})", bar)
