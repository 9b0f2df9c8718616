"""Administrative boundaries and the places in them: lookups and checks.

The ``boundaries`` layer holds a country (``level`` 0), its regions (1) and districts (2) as one
polygon coverage; ``parent_id`` names each unit's enclosing one. This module answers which
district and region a point lies in (:func:`locate`), whether a place's declared ``region`` is
the one its point falls in (:func:`region_matches`), and checks a layer set against its
boundaries (:func:`check_admin`, called by :func:`geoplan.layers.validate`): overlapping
units, gaps, units outside their parent, places outside every district or in another region
than declared, settlements linked to unknown towns or centres.

Everything works on whole columns (STRtree queries, vectorised shapely 2 operations).
"""

from __future__ import annotations

import re
from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geoplan.layers.schemas import LayerSet, Problem, Severity, _feature_ids, metric_crs

__all__ = [
    "BOUNDARY_LEVELS",
    "LOCATION_COLUMNS",
    "level",
    "locate",
    "normalise_names",
    "name_keys",
    "region_matches",
    "check_admin",
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
        The rows of that level with a fresh index (none when the layer has no ``level``).
    """
    if "level" not in boundaries.columns:
        return boundaries.iloc[:0].reset_index(drop=True)
    lv = pd.to_numeric(boundaries["level"], errors="coerce").to_numpy()
    out: gpd.GeoDataFrame = boundaries[lv == which]
    if "id" in out.columns:
        out = out.sort_values("id", kind="stable")
    return out.reset_index(drop=True)


def _column(gdf: pd.DataFrame, name: str) -> np.ndarray:
    if name not in gdf.columns:
        return np.full(len(gdf), None, dtype=object)
    values = gdf[name]
    return np.array(values.astype(object).where(values.notna(), None).to_numpy(), dtype=object)


def locate(points: gpd.GeoDataFrame | gpd.GeoSeries, boundaries: gpd.GeoDataFrame, *,
           max_distance_m: float = 0.0) -> pd.DataFrame:
    """Return the district and region each point lies in.

    Parameters
    ----------
    points
        Point features (any CRS; reprojected to the boundaries' CRS).
    boundaries
        The ``boundaries`` layer. Without districts (``level`` 2) the points are located in
        the regions (``level`` 1) and the district columns stay empty.
    max_distance_m
        A point outside every unit but within this distance of one is given the nearest (a
        place on the shore or on a border drawn slightly off); 0 gives outside points none.

    Returns
    -------
    pandas.DataFrame
        One row per point, on ``points``' index, with :data:`LOCATION_COLUMNS`:
        ``district_id``, ``district`` (English name), ``district_kato``, ``region_id``,
        ``region``, ``region_kato`` (NA when the point lies in no unit) and ``outside_m`` (0
        inside, the distance to the unit given otherwise, NaN when none was given). A point
        on the border of two units gets the one with the smaller id, so results do not
        depend on row order.
    """
    geoms = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    if geoms.crs is not None and boundaries.crs is not None and not geoms.crs.equals(boundaries.crs):
        geoms = geoms.to_crs(boundaries.crs)
    n = len(geoms)
    units = level(boundaries, 2)
    regions = level(boundaries, 1)
    by_region = len(units) == 0
    if by_region:
        units = regions
    out = {c: np.full(n, None, dtype=object) for c in LOCATION_COLUMNS[:-1]}
    dist = np.full(n, np.nan)
    pts = geoms.to_numpy()
    ugeoms = units.geometry.to_numpy() if len(units) else np.zeros(0, dtype=object)
    usable = ~(shapely.is_missing(ugeoms) | shapely.is_empty(ugeoms)) if len(ugeoms) else np.zeros(0, bool)
    hit = np.full(n, -1, dtype=np.int64)
    if n and usable.any():
        candidates = np.flatnonzero(usable)
        tree = shapely.STRtree(ugeoms[candidates])
        p_idx, u_idx = tree.query(pts, predicate="intersects")
        u_idx = candidates[u_idx]
        # Border points hit two units: keep the smallest id (units are sorted by id).
        order = np.lexsort((u_idx, p_idx))
        p_idx, u_idx = p_idx[order], u_idx[order]
        first = np.r_[True, p_idx[1:] != p_idx[:-1]] if p_idx.size else np.zeros(0, bool)
        hit[p_idx[first]] = u_idx[first]
        dist[hit >= 0] = 0.0
        missing = np.flatnonzero((hit < 0) & ~shapely.is_empty(pts) & ~shapely.is_missing(pts))
        if missing.size and max_distance_m > 0:
            crs = metric_crs(shapely.total_bounds(ugeoms[candidates]))
            um = gpd.GeoSeries(ugeoms[candidates], crs=units.crs).to_crs(crs).to_numpy()
            pm = gpd.GeoSeries(pts[missing], crs=units.crs).to_crs(crs).to_numpy()
            q_idx, n_idx = shapely.STRtree(um).query_nearest(pm, max_distance=max_distance_m, all_matches=False)
            hit[missing[q_idx]] = candidates[n_idx]
            dist[missing[q_idx]] = shapely.distance(pm[q_idx], um[n_idx])
    found = hit >= 0
    if found.any():
        ids, names, katos = _column(units, "id"), _column(units, "name_en"), _column(units, "kato")
        if by_region:
            region_ids = ids[hit[found]]
        else:
            for col, values in (("district_id", ids), ("district", names), ("district_kato", katos)):
                out[col][found] = values[hit[found]]
            region_ids = _column(units, "parent_id")[hit[found]]
        table = pd.DataFrame({"name": _column(regions, "name_en"), "kato": _column(regions, "kato")},
                             index=pd.Index(_column(regions, "id")))
        table = table[~table.index.duplicated()]
        known = np.isin(region_ids.astype(str), table.index.astype(str)) & pd.notna(region_ids)
        none = np.full(len(region_ids), None, dtype=object)
        rid = np.where(known, region_ids, none)
        out["region_id"][found] = rid
        out["region"][found] = np.where(known, table["name"].reindex(rid).to_numpy(dtype=object), none)
        out["region_kato"][found] = np.where(known, table["kato"].reindex(rid).to_numpy(dtype=object), none)
    frame = pd.DataFrame(out, index=geoms.index)
    frame["outside_m"] = dist
    return frame


_PAREN = re.compile(r"\(.*?\)")
_NOT_LETTER = re.compile(r"[^0-9a-zа-яәғқңөұүһі]+")


def normalise_names(values: pd.Series) -> pd.Series:
    """Return names reduced to a comparable key: case-folded, ``ё`` as ``е``, no brackets or punctuation.

    ``"Altai (Zyryanovsk until 2019)"`` and ``"Алтай (до 2019 — Зыряновск)"`` become ``"altai"``
    and ``"алтай"``; an empty or missing name becomes ``""``.
    """
    text = values.astype(object).where(values.notna(), "").astype(str)
    text = text.str.casefold().str.replace("ё", "е", regex=False)
    text = text.str.replace(_PAREN, " ", regex=True).str.replace(_NOT_LETTER, "", regex=True)
    return text


def name_keys(gdf: pd.DataFrame, *, columns: tuple[str, ...] = _NAME_COLUMNS) -> pd.DataFrame:
    """Return a long table ``row, key``: each row's normalised names and ``|``-separated alternatives.

    ``row`` is the position of the row in ``gdf``.
    """
    parts = []
    for col in columns:
        if col not in gdf.columns:
            continue
        values = pd.Series(_column(gdf, col), index=np.arange(len(gdf)), dtype=object).fillna("").astype(str)
        exploded = values.str.split("|").explode()
        parts.append(pd.DataFrame({"row": exploded.index.to_numpy(dtype=np.int64),
                                   "key": normalise_names(exploded).to_numpy(dtype=object)}))
    if not parts:
        return pd.DataFrame({"row": pd.Series([], dtype=np.int64), "key": pd.Series([], dtype=object)})
    keys = pd.concat(parts, ignore_index=True)
    return keys[keys["key"] != ""].drop_duplicates().reset_index(drop=True)


def _region_keys(boundaries: gpd.GeoDataFrame) -> pd.DataFrame:
    regions = level(boundaries, 1)
    extra = regions.assign(kato_key=_column(regions, "kato"), id_key=_column(regions, "id"))
    keys = name_keys(extra, columns=(*_NAME_COLUMNS, "kato_key", "id_key"))
    keys["region_id"] = _column(regions, "id")[keys["row"].to_numpy()]
    return keys[["key", "region_id"]]


def region_matches(declared: pd.Series, located_region_id: pd.Series, boundaries: gpd.GeoDataFrame) -> np.ndarray:
    """Return whether each declared ``region`` names the region the place was located in.

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
    return _matches(declared, located_region_id, _region_keys(boundaries))


def _matches(declared: pd.Series, located_region_id: pd.Series, keys: pd.DataFrame) -> np.ndarray:
    wanted = pd.DataFrame({"key": normalise_names(declared.reset_index(drop=True)).to_numpy(dtype=object),
                           "region_id": np.array(located_region_id.astype(object).to_numpy(), dtype=object)})
    wanted["pos"] = np.arange(len(wanted))
    hits = wanted.merge(keys, on=["key", "region_id"], how="inner")["pos"].to_numpy()
    ok = np.zeros(len(wanted), bool)
    ok[hits] = True
    nothing = (wanted["key"] == "").to_numpy() | pd.isna(wanted["region_id"]).to_numpy()
    return ok | nothing


# --------------------------------------------------------------------------------------
# checks


class _Found:
    """Problems with the layer's source file filled in."""

    def __init__(self, layers: LayerSet) -> None:
        self.items: list[Problem] = []
        self.sources = layers.sources

    def add(self, severity: Severity, layer: str, fid: str | None, check: str, message: str, fix: str) -> None:
        self.items.append(Problem(severity, layer, fid, check, message, fix, self.sources.get(layer, "")))


def _lonlat(points: np.ndarray, crs: CRS) -> np.ndarray:
    return shapely.get_coordinates(gpd.GeoSeries(points, crs=crs).to_crs(4326).to_numpy())


_COVERAGE_FIX = ("make the units share their borders exactly (QGIS: Processing ▸ Snap geometries to layer, then "
                 "Vector ▸ Geometry Tools ▸ Check Validity; shapely: coverage_clean), or rebuild the embedded "
                 "layer with scripts/build_admin_layers.py")


#: At most this many overlaps, gaps or overhangs are listed one by one; the rest are summed up.
_MAX_LISTED = 10


def _report(f: _Found, check: str, rows: list[tuple[float, str | None, str]], what: str, fix: str) -> None:
    """Add the largest ``rows`` (area m², feature id, message) and one summary of the rest."""
    rows = sorted(rows, key=lambda r: (-r[0], r[1] or "", r[2]))
    for _, fid, message in rows[:_MAX_LISTED]:
        f.add("error", "boundaries", fid, check, message, fix)
    if len(rows) > _MAX_LISTED:
        rest = rows[_MAX_LISTED:]
        f.add("error", "boundaries", None, check,
              f"... and {len(rest)} more {what} ({sum(r[0] for r in rest) / 1e6:.3f} km² in all)", fix)


def _report_gaps(f: _Found, gaps: np.ndarray, gm: np.ndarray, ids: np.ndarray, what: str, crs: CRS,
                 tol_m2: float) -> None:
    """Report each gap polygon above the tolerance on the unit beside it (smallest id)."""
    area = shapely.area(gaps)
    big = area > tol_m2
    if not big.any():
        return
    gaps, area = gaps[big], area[big]
    h_idx, u_idx = shapely.STRtree(gm).query(gaps, predicate="dwithin", distance=1.0)
    beside = pd.Series(ids[u_idx].astype(str)).groupby(h_idx).min()
    where = _lonlat(shapely.point_on_surface(gaps), crs)
    _report(f, "boundary_gap", [
        (ar, beside.get(k), f"gap of {ar / 1e6:.3f} km² in no {what} near lon {x:.4f}, lat {y:.4f}: places there "
                            f"lie in none")
        for k, (ar, (x, y)) in enumerate(zip(area, where, strict=True))], f"gaps between {what}s", _COVERAGE_FIX)


def _check_level(f: _Found, gm: np.ndarray, ids: np.ndarray, lonlat: np.ndarray, what: str, crs: CRS,
                 tol_m2: float, *, holes: bool) -> shapely.Geometry:
    """Overlaps between units of one level and (``holes``) gaps inside their union; return the union."""
    clean = bool(shapely.coverage_is_valid(lonlat))
    if not clean:
        a, b = shapely.STRtree(gm).query(gm, predicate="intersects")
        keep = a < b
        a, b = a[keep], b[keep]
        inter = shapely.intersection(gm[a], gm[b])
        area = shapely.area(inter)
        big = area > tol_m2
        where = _lonlat(shapely.point_on_surface(inter[big]), crs) if big.any() else np.zeros((0, 2))
        _report(f, "boundary_overlap", [
            (ar, str(ids[i]), f"{what}s {ids[i]} and {ids[j]} overlap by {ar / 1e6:.3f} km² near lon {x:.4f}, "
                              f"lat {y:.4f}; places there would belong to both")
            for i, j, ar, (x, y) in zip(a[big], b[big], area[big], where, strict=True)], f"{what} overlaps",
            _COVERAGE_FIX)
    union: shapely.Geometry = shapely.coverage_union_all(gm) if clean else shapely.union_all(gm)
    if not holes:
        return union
    parts = np.asarray(shapely.get_parts(union))
    n_holes = shapely.get_num_interior_rings(parts)
    if n_holes.sum():
        owner = np.repeat(np.arange(len(parts)), n_holes)
        ring_no = np.concatenate([np.arange(k) for k in n_holes])
        holes_poly = np.asarray(shapely.polygons(shapely.get_interior_ring(parts[owner], ring_no)))
        _report_gaps(f, holes_poly, gm, ids, what, crs, tol_m2)
    return union


def _check_boundaries(f: _Found, b: gpd.GeoDataFrame, crs: CRS, tol_m2: float) -> None:
    ids = _feature_ids(b, "id")
    lv = pd.to_numeric(b["level"], errors="coerce").to_numpy() if "level" in b.columns else np.full(len(b), np.nan)
    parent = _column(b, "parent_id")
    lonlat = b.geometry.to_numpy()
    gm = b.geometry.to_crs(crs).to_numpy()
    # Position of each id (the first, when an id is duplicated: reported as duplicate_id).
    position = pd.Series(np.arange(len(ids)), index=ids.astype(str))
    position = position[~position.index.duplicated()]
    for child, what in ((2, "district"), (1, "region")):
        rows = np.flatnonzero(lv == child)
        if rows.size == 0 or not (lv == child - 1).any():
            continue
        wanted = pd.Series(parent[rows], dtype=object).fillna("").astype(str)
        prow = position.reindex(wanted).fillna(-1).to_numpy(dtype=np.int64)
        plv = np.where(prow >= 0, lv[np.maximum(prow, 0)], np.nan)
        bad = plv != child - 1
        for i in rows[bad]:
            f.add("error", "boundaries", str(ids[i]), "unknown_parent",
                  f"{what} {ids[i]} has parent_id {parent[i]!r}, which is not the id of a level-{child - 1} unit",
                  f"set parent_id to the id of the {BOUNDARY_LEVELS[child - 1]} that contains it")
        good, prow = rows[~bad], prow[~bad]
        # covers() in lon/lat is a cheap first pass; only overhanging units are measured.
        over = ~shapely.covers(lonlat[prow], lonlat[good])
        good, prow = good[over], prow[over]
        out_area = shapely.area(shapely.difference(gm[good], gm[prow]))
        far = out_area > tol_m2
        _report(f, "outside_parent", [
            (ar, str(ids[i]), f"{what} {ids[i]} reaches {ar / 1e6:.3f} km² beyond its parent {parent[i]}")
            for i, ar in zip(good[far], out_area[far], strict=True)], f"{what}s beyond their parent",
            "redraw the unit inside its parent (QGIS: Processing ▸ Clip), or correct its parent_id")
    country = np.flatnonzero(lv == 0)
    for which, what in ((2, "district"), (1, "region")):
        rows = np.flatnonzero(lv == which)
        if rows.size < 2:
            continue
        # With a country, its part outside the union is every gap (holes and notches at the
        # border); without one, the holes of the union are.
        union = _check_level(f, gm[rows], ids[rows], lonlat[rows], what, crs, tol_m2, holes=country.size != 1)
        # Units lie within the country (outside_parent above), so the uncovered area is the
        # difference of the areas: measure the gaps only when that is above the tolerance.
        if country.size == 1 and shapely.area(gm[country[0]]) - shapely.area(union) > tol_m2:
            rest = shapely.get_parts(shapely.difference(gm[country[0]], union))
            _report_gaps(f, rest, gm[rows], ids[rows], what, crs, tol_m2)


def _check_places(f: _Found, layers: LayerSet, b: gpd.GeoDataFrame, usable: dict[str, np.ndarray],
                  tol_m: float) -> None:
    keys = _region_keys(b)
    known_keys = set(keys["key"])
    regions = level(b, 1)
    region_name = dict(zip(_column(regions, "id"), _column(regions, "name_en"), strict=True))
    unit = "district" if len(level(b, 2)) else "region"
    names = [n for n in ("towns", "centres", "settlements")
             if n in layers.layers and n in usable and usable[n].any() and layers.layers[n].crs is not None]
    if not names:
        return
    # One spatial join for the points of all three layers.
    crs = b.crs
    if crs is None:  # check_admin skips boundaries without a CRS (reported as missing_crs)
        return
    frames = [gpd.GeoSeries(layers.layers[n].geometry.to_numpy()[usable[n]], crs=layers.layers[n].crs).to_crs(crs)
              for n in names]
    everywhere = locate(gpd.GeoSeries(pd.concat(frames, ignore_index=True), crs=crs), b, max_distance_m=tol_m)
    bounds = np.cumsum([0, *(len(fr) for fr in frames)])
    for k, name in enumerate(names):
        gdf, mask = layers.layers[name], usable[name]
        ids = _feature_ids(gdf, "id")[mask]
        pts = gdf[mask]
        where = everywhere.iloc[bounds[k]:bounds[k + 1]].reset_index(drop=True)
        out = where["outside_m"].isna().to_numpy()
        for fid in ids[out]:
            f.add("warning", name, fid, "outside_boundaries",
                  f"lies outside every {unit} of the boundaries layer (by more than {tol_m:g} m)",
                  "check the coordinates (swapped, wrong sign, another country?) or extend the boundaries layer")
        if "region" in pts.columns:
            declared = pd.Series(_column(pts, "region"), dtype=object)
            located = where["region_id"].reset_index(drop=True)
            ok = _matches(declared, located, keys)
            norm = normalise_names(declared).to_numpy(dtype=object)
            is_known = np.isin(norm, list(known_keys))
            wrong = ~ok & is_known
            for fid, dec, rid, dist in zip(ids[wrong], declared[wrong], located[wrong],
                                           _column(where, "district")[wrong], strict=True):
                f.add("error", name, fid, "region_mismatch",
                      f"region is {dec!r} but the point lies in region {region_name.get(rid, rid)!r}"
                      + (f" (district {dist})" if dist else ""),
                      f"correct 'region' to {region_name.get(rid, rid)!r}, or move the point into {dec!r}")
            unknown = (norm != "") & ~is_known & located.notna().to_numpy()
            for fid, dec in zip(ids[unknown], declared[unknown], strict=True):
                f.add("warning", name, fid, "unknown_region",
                      f"region {dec!r} is not the name of any region in the boundaries layer",
                      "write the region as the boundaries layer names it (name_en, name_ru, name_kk) or add the "
                      "spelling to that region's name_alt")
        if name == "settlements" and "district_kato" in pts.columns:
            declared_kato = _column(pts, "district_kato")
            got = _column(where, "district_kato")
            differ = (declared_kato != None) & (got != None) & (declared_kato.astype(str) != got.astype(str))  # noqa: E711
            for fid, d, g, dn in zip(ids[differ], declared_kato[differ], got[differ],
                                     _column(where, "district")[differ], strict=True):
                f.add("warning", name, fid, "district_mismatch",
                      f"district_kato is {d!r} but the point lies in district {dn} ({g})",
                      "correct district_kato (or rebuild the layer with scripts/build_admin_layers.py)")


def _check_links(f: _Found, layers: LayerSet) -> None:
    s = layers.layers.get("settlements")
    if s is None:
        return
    ids = _feature_ids(s, "id")
    for col, layer in (("town_id", "towns"), ("centre_id", "centres")):
        if col not in s.columns:
            continue
        values = _column(s, col)
        present = (pd.Series(values, dtype=object).fillna("").astype(str).str.strip() != "").to_numpy()
        other = layers.layers.get(layer)
        if other is not None and "id" in other.columns:
            known = set(_column(other, "id").astype(str))
            unknown = present & ~np.isin(values.astype(str), list(known))
            for fid, v in zip(ids[unknown], values[unknown], strict=True):
                f.add("warning", "settlements", fid, "unknown_place",
                      f"{col} is {v!r}, which is not an id of the {layer} layer (removed or renamed?); the "
                      "settlement is counted as a place of its own",
                      f"set {col} to the id of the {layer[:-1]} that is the same place, or leave it empty")
        linked = pd.Series(values[present].astype(str))
        for v in sorted(set(linked[linked.duplicated()])):
            dup = ids[present][(linked == v).to_numpy()]
            f.add("warning", "settlements", str(dup[0]), "duplicate_link",
                  f"{len(dup)} settlements ({', '.join(map(str, dup[:5]))}) claim to be {layer[:-1]} {v!r}",
                  f"keep {col} on the one settlement that is {v!r}; clear it on the others (they are other places)")


def check_admin(layers: LayerSet, usable: dict[str, np.ndarray], *, outside_tolerance_m: float,
                coverage_tolerance_km2: float) -> list[Problem]:
    """Check the boundaries layer and every place against it; return the problems found.

    Parameters
    ----------
    layers
        The layer set.
    usable
        Per layer, the mask of features whose geometry passed the geometry checks.
    outside_tolerance_m
        A place within this distance outside every district is not reported (a shore village
        against a simplified coastline).
    coverage_tolerance_km2
        Overlaps, gaps and parts outside the parent smaller than this are ignored (digitising
        noise rather than a real error).

    Returns
    -------
    list of Problem
        Errors ``boundary_overlap``, ``boundary_gap``, ``outside_parent``, ``unknown_parent``,
        ``region_mismatch`` (a town or centre declares another region than the one it lies
        in); warnings ``outside_boundaries``, ``unknown_region``, ``district_mismatch``,
        ``unknown_place`` (a settlement's ``town_id``/``centre_id`` names no town or centre:
        it is then counted as a settlement) and ``duplicate_link``.
    """
    f = _Found(layers)
    _check_links(f, layers)
    b = layers.layers.get("boundaries")
    mask = usable.get("boundaries")
    if b is None or mask is None or not mask.any() or b.crs is None:
        return f.items
    b = b[mask].reset_index(drop=True)
    crs = metric_crs(b.total_bounds)
    _check_boundaries(f, b, crs, coverage_tolerance_km2 * 1e6)
    _check_places(f, layers, b, usable, outside_tolerance_m)
    return f.items
