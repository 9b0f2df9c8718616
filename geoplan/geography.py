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

import re
from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan.layers import metric_crs

__all__ = [
    "BOUNDARY_LEVELS",
    "LOCATION_COLUMNS",
    "level",
    "locate",
    "normalise_names",
    "region_matches",
    "link_places",
    "population_points",
]

#: ``level`` values of the boundaries layer and what they mean.
BOUNDARY_LEVELS: Final[dict[int, str]] = {0: "country", 1: "region", 2: "district"}

#: Columns :func:`locate` returns, in order.
LOCATION_COLUMNS: Final[tuple[str, ...]] = (
    "district_id", "district", "district_kato", "region_id", "region", "region_kato", "outside_m",
)

_NAME_COLUMNS: Final[tuple[str, ...]] = ("name", "name_en", "name_ru", "name_kk", "name_alt")


def level(boundaries: gpd.GeoDataFrame, which: int) -> gpd.GeoDataFrame:
    """Return the features of one administrative level, sorted by id.

    Parameters
    ----------
    boundaries
        The ``boundaries`` layer (``id``, ``level``, ``kato``, names, ``parent_id``, polygons).
    which
        0 (country), 1 (regions) or 2 (districts).

    Returns
    -------
    geopandas.GeoDataFrame
        The rows of that level with a fresh index.
    """
    lv = pd.to_numeric(boundaries["level"], errors="coerce").to_numpy()
    out = boundaries[lv == which]
    return out.sort_values("id", kind="stable").reset_index(drop=True)


def locate(points: gpd.GeoDataFrame | gpd.GeoSeries, boundaries: gpd.GeoDataFrame, *,
           max_distance_m: float = 0.0) -> pd.DataFrame:
    """Return the district and region each point lies in.

    Parameters
    ----------
    points
        Point features (any CRS; reprojected to the boundaries' CRS).
    boundaries
        The ``boundaries`` layer.
    max_distance_m
        A point outside every district but within this distance of one is given the nearest
        (a place on the shore or on a border drawn slightly off); 0 gives outside points no
        district.

    Returns
    -------
    pandas.DataFrame
        One row per point, on ``points``' index, with :data:`LOCATION_COLUMNS`:
        ``district_id``, ``district`` (English name), ``district_kato``, ``region_id``,
        ``region``, ``region_kato`` (empty when the point lies in no district) and
        ``outside_m`` (0 inside a district, the distance to the district given otherwise,
        NaN when none was given); missing values are NA. A point on the border of two districts gets the one with
        the smaller id, so results do not depend on row order.
    """
    geoms = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    if geoms.crs is not None and boundaries.crs is not None and not geoms.crs.equals(boundaries.crs):
        geoms = geoms.to_crs(boundaries.crs)
    n = len(geoms)
    districts = level(boundaries, 2)
    regions = level(boundaries, 1).set_index("id")
    out = pd.DataFrame({c: pd.Series([None] * n, dtype=object) for c in LOCATION_COLUMNS[:-1]})
    out["outside_m"] = np.nan
    if n == 0 or len(districts) == 0:
        out.index = geoms.index
        return out
    pts = geoms.to_numpy()
    tree = shapely.STRtree(districts.geometry.to_numpy())
    p_idx, d_idx = tree.query(pts, predicate="intersects")
    # Border points hit two districts: keep the smallest district id (districts are sorted by id).
    order = np.lexsort((d_idx, p_idx))
    p_idx, d_idx = p_idx[order], d_idx[order]
    first = np.r_[True, p_idx[1:] != p_idx[:-1]] if p_idx.size else np.zeros(0, bool)
    hit = np.full(n, -1, dtype=np.int64)
    hit[p_idx[first]] = d_idx[first]
    dist = np.where(hit >= 0, 0.0, np.nan)
    missing = np.flatnonzero((hit < 0) & ~shapely.is_empty(pts) & ~shapely.is_missing(pts))
    if missing.size and max_distance_m > 0:
        b = districts.total_bounds
        crs = metric_crs(b)
        dm = districts.geometry.to_crs(crs).to_numpy()
        pm = gpd.GeoSeries(pts[missing], crs=districts.crs).to_crs(crs).to_numpy()
        q_idx, n_idx = shapely.STRtree(dm).query_nearest(pm, max_distance=max_distance_m, all_matches=False)
        hit[missing[q_idx]] = n_idx
        dist[missing[q_idx]] = shapely.distance(pm[q_idx], dm[n_idx])
    found = hit >= 0
    d = districts.iloc[hit[found]]
    parent = d["parent_id"].astype(str).to_numpy()
    known = np.isin(parent, regions.index.to_numpy())
    cols = {
        "district_id": d["id"].to_numpy(dtype=object),
        "district": d["name_en"].to_numpy(dtype=object),
        "district_kato": d["kato"].to_numpy(dtype=object),
        "region_id": np.where(known, parent, None),
        "region": np.where(known, regions["name_en"].reindex(parent).to_numpy(dtype=object), None),
        "region_kato": np.where(known, regions["kato"].reindex(parent).to_numpy(dtype=object), None),
    }
    for col, values in cols.items():
        column = out[col].to_numpy(dtype=object).copy()
        column[found] = values
        out[col] = column
    out["outside_m"] = dist
    out.index = geoms.index
    return out


_PAREN = re.compile(r"\(.*?\)")
_NOT_LETTER = re.compile(r"[^0-9a-zа-яәғқңөұүһі]+")


def normalise_names(values: pd.Series) -> pd.Series:
    """Names reduced to a comparable key: case-folded, ``ё`` as ``е``, no brackets or punctuation.

    ``"Altai (Zyryanovsk until 2019)"`` and ``"Алтай (до 2019 — Зыряновск)"`` become ``"altai"``
    and ``"алтай"``; an empty or missing name becomes ``""``.
    """
    text = values.astype(object).where(values.notna(), "").astype(str)
    text = text.str.casefold().str.replace("ё", "е", regex=False)
    text = text.str.replace(_PAREN, " ", regex=True).str.replace(_NOT_LETTER, "", regex=True)
    return text


def _name_keys(gdf: pd.DataFrame, columns: tuple[str, ...] = _NAME_COLUMNS) -> pd.DataFrame:
    """Long table ``row, key``: every normalised name (and ``|``-separated alternative) of each row."""
    parts = []
    for col in columns:
        if col not in gdf.columns:
            continue
        values = gdf[col].astype(object).where(gdf[col].notna(), "").astype(str).str.split("|")
        exploded = values.explode()
        parts.append(pd.DataFrame({"row": exploded.index.to_numpy(), "key": normalise_names(exploded).to_numpy()}))
    if not parts:
        return pd.DataFrame({"row": pd.Series([], dtype=np.int64), "key": pd.Series([], dtype=object)})
    keys = pd.concat(parts, ignore_index=True)
    return keys[keys["key"] != ""].drop_duplicates().reset_index(drop=True)


def region_matches(declared: pd.Series, located_region_id: pd.Series, boundaries: gpd.GeoDataFrame) -> np.ndarray:
    """Whether each declared ``region`` names the region the place was located in.

    A declared region matches when, normalised (:func:`normalise_names`), it equals the
    region's ``name_en``, ``name_ru``, ``name_kk``, any ``|``-separated ``name_alt``, or its
    ``kato`` code or ``id``.

    Parameters
    ----------
    declared
        The places' ``region`` values.
    located_region_id
        The ``region_id`` from :func:`locate`, on the same index.
    boundaries
        The ``boundaries`` layer.

    Returns
    -------
    numpy.ndarray
        Boolean per place; places with an empty ``region`` or no located region count as
        matching (nothing to compare).
    """
    regions = level(boundaries, 1)
    keys = _name_keys(regions.assign(kato_key=regions["kato"], id_key=regions["id"]),
                      (*_NAME_COLUMNS, "kato_key", "id_key"))
    keys["region_id"] = regions["id"].to_numpy(dtype=object)[keys["row"].to_numpy()]
    wanted = pd.DataFrame({"key": normalise_names(declared.reset_index(drop=True)).to_numpy(),
                           "region_id": located_region_id.reset_index(drop=True).astype(object).to_numpy()})
    wanted["pos"] = np.arange(len(wanted))
    hits = wanted.merge(keys[["key", "region_id"]], on=["key", "region_id"], how="inner")["pos"].to_numpy()
    ok = np.zeros(len(wanted), bool)
    ok[hits] = True
    nothing = (wanted["key"] == "").to_numpy() | pd.isna(wanted["region_id"]).to_numpy()
    return ok | nothing


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
    pk = _name_keys(p).rename(columns={"row": "p"})
    sk = _name_keys(s).rename(columns={"row": "s"})
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

    A settlement linked to a town (``town_id``) or centre (``centre_id``) is represented by
    that town or centre (whose population is the curated figure), and a centre that is also a
    town (same id) by the town, so summing ``population`` counts everyone once.

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
        for col in ("town_id", "centre_id"):
            if col in settlements.columns:
                v = settlements[col]
                linked |= (v.notna() & (v.astype(str).str.strip() != "")).to_numpy()
        parts.append(frame(settlements[~linked], "settlement"))
    out = pd.concat(parts, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=4326)
