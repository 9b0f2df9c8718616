"""Administrative geography: which district and region a place lies in, and which places are one.

The ``boundaries`` layer holds the country (``level`` 0), its regions (1) and districts (2) as
one polygon coverage; the ``settlements`` layer holds populated places with their population.
This module joins points to that coverage (:func:`locate`), matches a place's declared
``region`` with the region its point falls in (:func:`region_matches`), and recognises a
settlement that is the same place as a monotown or growth centre (:func:`link_places`), so that
nobody is counted twice when populations are summed (:func:`population_points`).

Every function works on whole columns (shapely 2 / geopandas spatial joins), never feature by
feature.

Examples
--------
>>> import geopandas as gpd
>>> import geoplan
>>> from geoplan.geography import locate
>>> kz = geoplan.embedded_layers_path()
>>> towns = gpd.read_file(kz / "towns.geojson")
>>> where = locate(towns, gpd.read_file(kz / "boundaries.geojson"))
>>> where.loc[towns["id"] == "saran", ["district", "district_kato", "region"]].to_numpy().tolist()
[["Saran'", '352200000', 'Karagandy']]
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan.layers import metric_crs
from geoplan.layers.admin import (
    BOUNDARY_LEVELS,
    LOCATION_COLUMNS,
    level,
    locate,
    name_keys,
    normalise_names,
    region_matches,
)

__all__ = [
    "BOUNDARY_LEVELS",
    "LOCATION_COLUMNS",
    "level",
    "locate",
    "normalise_names",
    "region_matches",
    "link_places",
    "population_points",
    "with_districts",
]

def link_places(settlements: gpd.GeoDataFrame, places: gpd.GeoDataFrame, *, max_km: float = 10.0) -> pd.Series:
    """Return the id of the town or centre each settlement is the same place as.

    A settlement and a place are the same when one of their names is equal after
    :func:`normalise_names` (any of ``name``, ``name_en``, ``name_ru``, ``name_kk``) and they
    lie within ``max_km`` of each other. Each place is linked to its nearest such settlement
    only, so a place is never counted twice; a place without such a settlement (absent from
    the settlement data, or without a population there) stays unlinked.

    Parameters
    ----------
    settlements
        The ``settlements`` layer.
    places
        Towns or centres (``id``, names, points).
    max_km
        Largest distance between the two points of one place (a city's OSM node can sit
        several km from the point chosen for it elsewhere: Almaty's are 6 km apart).

    Returns
    -------
    pandas.Series
        On ``settlements``' index: the linked place id, or ``None``.
    """
    result = pd.Series([None] * len(settlements), index=settlements.index, dtype=object)
    if len(settlements) == 0 or len(places) == 0:
        return result
    s = settlements.reset_index(drop=True)
    p = places.reset_index(drop=True)
    crs = metric_crs(np.r_[s.total_bounds[:2].clip(max=p.total_bounds[:2]),
                           s.total_bounds[2:].clip(min=p.total_bounds[2:])])
    sm = s.geometry.to_crs(crs).to_numpy()
    pm = p.geometry.to_crs(crs).to_numpy()
    p_idx, s_idx = shapely.STRtree(sm).query(pm, predicate="dwithin", distance=max_km * 1000.0)
    if p_idx.size == 0:
        return result
    pairs = pd.DataFrame({"p": p_idx, "s": s_idx, "d": shapely.distance(pm[p_idx], sm[s_idx])})
    pk = name_keys(p).rename(columns={"row": "p"})
    sk = name_keys(s).rename(columns={"row": "s"})
    named = pairs.merge(pk, on="p").merge(sk, on=["s", "key"])[["p", "s", "d"]].drop_duplicates()
    if named.empty:
        return result
    # Nearest settlement per place, then (a settlement claimed by two places) nearest place.
    named = named.sort_values(["p", "d", "s"], kind="stable").drop_duplicates("p")
    named = named.sort_values(["s", "d", "p"], kind="stable").drop_duplicates("s")
    values = np.array(result.to_numpy(dtype=object), dtype=object)
    values[named["s"].to_numpy()] = p["id"].astype(str).to_numpy(dtype=object)[named["p"].to_numpy()]
    return pd.Series(values, index=settlements.index, dtype=object)


def population_points(settlements: gpd.GeoDataFrame | None, towns: gpd.GeoDataFrame,
                      centres: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Every populated place once: towns, centres that are not towns, and unlinked settlements.

    A settlement linked to a town (``town_id``) or centre (``centre_id``) given here is
    represented by that town or centre (whose population is the curated figure), and a centre
    that is also a town (same id) by the town, so summing ``population`` counts everyone once.
    A settlement linked to an id missing from ``towns``/``centres`` counts as itself.

    Parameters
    ----------
    settlements
        The ``settlements`` layer, or ``None`` (then towns and centres only).
    towns, centres
        The ``towns`` and ``centres`` layers.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``id``, ``kind`` (``town``, ``centre`` or ``settlement``), ``name_en``,
        ``population`` (float) and point geometry, in EPSG:4326.
    """
    def frame(gdf: gpd.GeoDataFrame, kind: str) -> gpd.GeoDataFrame:
        name = gdf["name_en"] if "name_en" in gdf.columns else gdf.get("name", pd.Series([None] * len(gdf)))
        return gpd.GeoDataFrame({
            "id": gdf["id"].astype(str).to_numpy(),
            "kind": kind,
            "name_en": name.to_numpy(dtype=object),
            "population": pd.to_numeric(gdf["population"], errors="coerce").to_numpy(dtype=float),
        }, geometry=gdf.geometry.to_crs(4326).to_numpy(), crs=4326)

    parts = [frame(towns, "town"), frame(centres[~centres["id"].astype(str).isin(towns["id"].astype(str))], "centre")]
    if settlements is not None and len(settlements):
        linked = np.zeros(len(settlements), bool)
        for col, known in (("town_id", towns), ("centre_id", centres)):
            if col in settlements.columns:
                # A link to a place missing from its layer (removed by an edit) does not hide the settlement.
                linked |= settlements[col].astype(object).isin(set(known["id"].astype(str))).to_numpy()
        parts.append(frame(settlements[~linked], "settlement"))
    out = pd.concat(parts, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=4326)


def with_districts(places: gpd.GeoDataFrame, boundaries: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """Return ``places`` with the ``district`` and ``district_kato`` their points lie in.

    Parameters
    ----------
    places
        Point features (towns, centres, a run's results).
    boundaries
        The ``boundaries`` layer, or ``None`` (the columns are then empty, so outputs keep one
        set of columns whichever layers a run had).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with ``district`` (English name) and ``district_kato`` before the geometry
        column (replaced if present).
    """
    out = places.drop(columns=[c for c in ("district", "district_kato") if c in places.columns])
    if boundaries is not None and len(out):
        where = locate(out, boundaries)
        district, kato = where["district"].to_numpy(dtype=object), where["district_kato"].to_numpy(dtype=object)
    else:
        district = kato = np.full(len(out), None, dtype=object)
    geometry = out.geometry.name
    columns = [c for c in out.columns if c != geometry]
    out = out.assign(district=pd.Series(district, index=out.index, dtype=object),
                     district_kato=pd.Series(kato, index=out.index, dtype=object))
    return out[[*columns, "district", "district_kato", geometry]]
