"""The railway network from the optional ``rail`` and ``rail_stations`` layers."""

from __future__ import annotations

import math
import numbers
from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.ops
from pyproj import Geod

from geoplan._errors import NetworkError
from geoplan.network.graph import RoadNetwork, _listed, network_from_arrays
from geoplan.network.snap import _attached_before, _place_points, _yield_labels
from geoplan.settings import ACCESS_KPH, RAIL_SPEED_KPH

# --------------------------------------------------------------------------------------
# rail



_GEOD = Geod(ellps="WGS84")


def _text(values: pd.Series) -> np.ndarray:
    """Return the values as stripped strings, ``""`` where missing."""
    def one(v: object) -> str:
        return "" if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else str(v).strip()

    return np.array([one(v) for v in values], dtype=object)


def build_rail_network(
    rail: gpd.GeoDataFrame,
    stations: gpd.GeoDataFrame,
    *,
    speed_kph: float = RAIL_SPEED_KPH,
    passenger_only: bool = True,
) -> RoadNetwork:
    """Build a routable railway network from the ``rail`` and ``rail_stations`` layers.

    Every station is a node labelled with its id (stations whose links are all left out stay
    as isolated nodes); every link is an edge in both directions with the layer's ``km`` (the
    track length, not the drawn length), drawn straight between its stations. Travel time is
    the link's ``typical_minutes`` where given, else ``km / speed_kph``. Edges have class
    ``"rail"`` and the link id as road id.

    Parameters
    ----------
    rail
        Links with ``id``, ``from_station``, ``to_station``, ``km`` and, with
        ``passenger_only``, ``passenger``; optional ``typical_minutes``.
    stations
        Station points with ``id``.
    speed_kph
        Average passenger-train speed, stops included (:data:`RAIL_SPEED_KPH`).
    passenger_only
        Keep only links with ``passenger == "yes"`` (regular passenger trains found).

    Returns
    -------
    RoadNetwork

    Raises
    ------
    NetworkError
        For a non-positive speed, missing columns or CRS, stations without a point, and naming
        the links whose station is unknown or whose ``km`` is not a positive number.
    """
    if isinstance(speed_kph, bool) or not (isinstance(speed_kph, numbers.Real) and math.isfinite(speed_kph)
                                           and speed_kph > 0):
        raise NetworkError(f"speed_kph is {speed_kph!r}", fix="give a positive average train speed in km/h")
    for name, gdf, cols in (("rail_stations", stations, ("id",)),
                            ("rail", rail, ("id", "from_station", "to_station", "km")
                             + (("passenger",) if passenger_only else ()))):
        missing = [c for c in cols if c not in gdf.columns]
        if missing:
            fix = ("add the column (see `geoplan layers check`)"
                   + (", or pass passenger_only=False" if "passenger" in missing else ""))
            raise NetworkError(f"the {name} layer has no {', '.join(repr(c) for c in missing)} column", fix=fix)
        if gdf.crs is None:
            raise NetworkError(f"the {name} layer has no CRS", fix="assign the CRS of its coordinates (EPSG:4326)")
    st_ids, st_geoms, st_absent = _place_points(stations, "id")
    if st_absent.any():
        raise NetworkError(f"stations without a point: {_listed(st_ids[st_absent])}",
                           fix="give every station its position (run `geoplan layers check`)")
    rail = rail.reset_index(drop=True)
    if passenger_only:
        rail = rail[_text(rail["passenger"]) == "yes"].reset_index(drop=True)
    link_ids = _text(rail["id"])
    a, b = _text(rail["from_station"]), _text(rail["to_station"])
    lookup = pd.Index(st_ids)
    u, v = lookup.get_indexer(a), lookup.get_indexer(b)
    unknown = (u < 0) | (v < 0)
    if unknown.any():
        listed = ", ".join(f"{i} ({x if ui < 0 else y})" for i, x, y, ui in
                           zip(link_ids[unknown][:10], a[unknown], b[unknown], u[unknown], strict=False))
        raise NetworkError(f"rail links whose station is not in rail_stations: {listed}",
                           fix="correct from_station/to_station or add the stations (run `geoplan layers check`)")
    km = pd.to_numeric(rail["km"], errors="coerce").to_numpy(dtype=float)
    bad = ~(np.isfinite(km) & (km > 0))
    if bad.any():
        raise NetworkError(f"rail links without a positive km: {_listed(link_ids[bad])}",
                           fix="fill in the track length in km (run `geoplan layers check`)")
    scheduled = (pd.to_numeric(rail["typical_minutes"], errors="coerce").to_numpy(dtype=float)
                 if "typical_minutes" in rail.columns else np.full(len(rail), np.nan))
    minutes = np.where(np.isfinite(scheduled) & (scheduled > 0), scheduled, km / float(speed_kph) * 60.0)
    return network_from_arrays(
        node_id=st_ids, node_x=shapely.get_x(st_geoms), node_y=shapely.get_y(st_geoms),
        edge_u=u, edge_v=v, edge_km=km, edge_minutes=minutes, edge_road=link_ids,
        edge_class=np.full(len(rail), "rail", dtype=object), twoway=True,
    )


def attach_served_places(
    net: RoadNetwork,
    stations: gpd.GeoDataFrame,
    places: gpd.GeoDataFrame,
    *,
    access_kph: float = ACCESS_KPH,
    id_column: str = "id",
) -> tuple[RoadNetwork, pd.DataFrame]:
    """Join each place to the station(s) that serve it, for rail travel times between places.

    A place gets a node labelled with its id and, for every station whose ``serves`` is that
    id, an access leg in both directions of the great-circle (WGS 84 geodesic) distance
    between place and station at ``access_kph``. A station labelled with a place id (the
    station ``ekibastuz`` serving the town ``ekibastuz``) is renamed ``node:<id>``, as in
    :func:`attach_places`. A place that no station serves (or without a point) becomes an
    isolated node: its travel times are "unreachable", not an error. A place already added by
    an earlier call is kept as it is.

    Parameters
    ----------
    net
        The network from :func:`build_rail_network`.
    stations
        The ``rail_stations`` layer (``id``, ``serves``).
    places
        Points with an ``id`` column (towns and centres may be concatenated; duplicate ids
        are attached once).
    access_kph
        Speed on the access leg (getting to the station by road).
    id_column
        The column holding the place ids.

    Returns
    -------
    network, report
        The network with the places as nodes, and one row per place: ``id``, ``stations``
        (serving station ids joined by ``;``), ``access_km`` and ``access_minutes`` (to the
        nearest of them; empty for places kept from an earlier call), ``attached``.

    Raises
    ------
    NetworkError
        For non-positive ``access_kph``, stations without ``id``/``serves``, a serving station
        that is not a node of ``net``, and the place errors of :func:`attach_places`.
    """
    if not access_kph > 0:
        raise NetworkError(f"access_kph ({access_kph}) must be > 0", fix="use a positive speed")
    for col in ("id", "serves"):
        if col not in stations.columns:
            raise NetworkError(f"the rail_stations layer has no '{col}' column",
                               fix=f"add '{col}' (see `geoplan layers check`)")
    ids_all, geoms_all, absent = _place_points(places, id_column)
    serves, st_id = _text(stations["serves"]), _text(stations["id"])
    # Places added by an earlier call (with access legs, or isolated) are kept as they are: a
    # label that is not a station's, or whose station was already renamed node:<id>.
    labels = set(net.node_id.astype(str).tolist())
    stations_ids = set(st_id.tolist())
    legged = _attached_before(net, ids_all)[0]
    before = legged | np.array(
        [i in labels and (i not in stations_ids or f"node:{i}" in labels) for i in ids_all], dtype=bool)
    served = np.isin(serves, ids_all[~before]) & (serves != "")
    # Station nodes by their label in ``net`` (before places take the plain ids over).
    st_node = net.index_of(st_id[served])
    pos = pd.Index(ids_all).get_indexer(serves[served])
    ok = ~absent[pos]
    st_node, pos = st_node[ok], pos[ok]
    px, py = shapely.get_x(geoms_all[pos]), shapely.get_y(geoms_all[pos])
    _, _, dist_m = _GEOD.inv(px, py, net.node_x[st_node], net.node_y[st_node])
    km = np.asarray(dist_m, dtype=float) / 1000.0

    new = ~before
    place_node = np.full(len(ids_all), -1, dtype=np.int64)
    place_node[new] = net.n_nodes + np.arange(int(new.sum()))
    gx = np.where(absent, np.nan, shapely.get_x(geoms_all))
    gy = np.where(absent, np.nan, shapely.get_y(geoms_all))
    t_node = place_node[pos]
    legs = shapely.linestrings(np.stack([np.c_[px, py], np.c_[net.node_x[st_node], net.node_y[st_node]]], axis=1))
    leg_road = np.array([f"access:{i}" for i in ids_all[pos]], dtype=object)
    grown = network_from_arrays(
        node_id=np.r_[_yield_labels(net.node_id, ids_all[new]), ids_all[new]],
        node_x=np.r_[net.node_x, gx[new]],
        node_y=np.r_[net.node_y, gy[new]],
        edge_u=np.r_[net.edge_u, t_node, st_node],
        edge_v=np.r_[net.edge_v, st_node, t_node],
        edge_km=np.r_[net.edge_km, km, km],
        edge_minutes=np.r_[net.edge_minutes, km / access_kph * 60.0, km / access_kph * 60.0],
        edge_road=np.r_[net.edge_road, leg_road, leg_road],
        edge_class=np.r_[net.edge_class, np.full(2 * len(pos), "access", dtype=object)],
        edge_geometry=np.r_[net.edge_geometry, legs, shapely.reverse(legs)],
    )
    grown = replace(grown, metric_crs=net.metric_crs, crs=net.crs)

    # Report: the nearest serving station of each place.
    legs_frame = pd.DataFrame({"pos": pos, "station": net.node_id[st_node].astype(str), "km": km})
    legs_frame = legs_frame.sort_values(["pos", "km", "station"], kind="stable")
    names = legs_frame.groupby("pos")["station"].agg(";".join)
    best = legs_frame.drop_duplicates("pos", keep="first").set_index("pos")["km"]
    idx = np.arange(len(ids_all))
    report = pd.DataFrame({
        "id": ids_all,
        "stations": pd.Series(idx).map(names).to_numpy(dtype=object),
        "access_km": pd.Series(idx).map(best).to_numpy(dtype=float),
        "attached": np.isin(idx, pos) | legged,
    })
    report["access_minutes"] = report["access_km"] / access_kph * 60.0
    return grown, report[["id", "stations", "access_km", "access_minutes", "attached"]]
