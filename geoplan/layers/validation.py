"""Validation of a layer set.

Every problem comes back as data (:class:`~geoplan.layers.Problem`), not as an exception at the
first one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geoplan._errors import LayerValidationError
from geoplan.layers.admin import check_admin
from geoplan.layers.schemas import (
    RAIL_STATIONS,
    SCHEMAS,
    LayerSchema,
    LayerSet,
    Problem,
    Severity,
    _coerce_numbers,
    _feature_ids,
    metric_crs,
)
from geoplan.settings import (
    COVERAGE_TOLERANCE_KM2,
    EXTENT_MARGIN_DEG,
    MAX_ACCESS_KM,
    OUTSIDE_BOUNDARIES_M,
    VALIDATION_SNAP_TOLERANCE_M,
)


@dataclass(frozen=True)
class ValidationConfig:
    """Thresholds of :func:`validate`.

    Parameters
    ----------
    snap_tolerance_m
        Road ends closer than this to another road (but not on it) are reported as dangling.
    max_access_km
        Towns and centres farther than this from every road are reported.
    extent_margin_deg
        Slack around the layer set's declared extent before a feature counts as outside it.
    outside_boundaries_m
        A place this close outside every district is not reported (a shore village against
        a simplified coastline; the embedded boundaries move borders by up to ~1 km).
    coverage_tolerance_km2
        Overlaps and gaps between boundaries smaller than this are digitising noise, not
        reported.
    """

    snap_tolerance_m: float = VALIDATION_SNAP_TOLERANCE_M
    max_access_km: float = MAX_ACCESS_KM
    extent_margin_deg: float = EXTENT_MARGIN_DEG
    outside_boundaries_m: float = OUTSIDE_BOUNDARIES_M
    coverage_tolerance_km2: float = COVERAGE_TOLERANCE_KM2


class _Collector:
    def __init__(self, layers: LayerSet) -> None:
        self.items: list[Problem] = []
        self.layers = layers

    def add(self, severity: Severity, layer: str, fid: str | None, check: str, message: str, fix: str) -> None:
        self.items.append(Problem(severity, layer, fid, check, message, fix, self.layers.sources.get(layer, "")))


#: Cyrillic text decoded with the wrong code page: CP1251 read as Latin-1 gives runs of
#: accented capitals and small letters ("Àáàé" for "Абай"); UTF-8 read as a single-byte code
#: page gives "Ð" or "Ñ" before a second byte ("Ð\x90Ð±Ð°Ð¹").
_MOJIBAKE = r"[\u00c0-\u00ff]{3,}|[\u00d0\u00d1][\u0080-\u00bf]"


def _check_text_encoding(c: _Collector, name: str, gdf: gpd.GeoDataFrame, schema: LayerSchema, ids: np.ndarray) -> None:
    """One warning per layer whose text looks decoded with the wrong code page."""
    hits: dict[str, np.ndarray] = {}
    for f in schema.fields:
        if f.kind != "str" or f.name not in gdf.columns:
            continue
        text = gdf[f.name].map(lambda v: v if isinstance(v, str) else "").astype(object)
        hit = text.str.contains(_MOJIBAKE, regex=True) & ~text.str.contains("[\u0400-\u04ff]", regex=True)
        if hit.any():
            hits[f.name] = hit.to_numpy(dtype=bool)
    if not hits:
        return
    suspect = np.logical_or.reduce(list(hits.values()))
    first = int(np.flatnonzero(suspect)[0])
    column = next(k for k, h in hits.items() if h[first])
    c.add("warning", name, ids[first], "suspect_encoding",
          f"text in {', '.join(repr(k) for k in hits)} on {int(suspect.sum())} feature(s) looks decoded with the "
          f"wrong encoding (e.g. {column} = {str(gdf[column].iloc[first])[:40]!r})",
          "declare the file's encoding (for a Shapefile, a .cpg file holding e.g. CP1251) or re-save it as UTF-8")


def _check_fields(c: _Collector, name: str, gdf: gpd.GeoDataFrame, schema: LayerSchema, ids: np.ndarray) -> None:
    for f in schema.fields:
        if f.name not in gdf.columns:
            if f.required:
                c.add("error", name, None, "missing_column", f"required column '{f.name}' is missing ({f.description})",
                      f"add {'an' if f.kind == 'int' else 'a'} {f.kind} column '{f.name}' to the layer "
                      "(QGIS: Layer Properties ▸ Fields)")
            continue
        col = gdf[f.name]
        empty = col.isna().to_numpy().copy()
        if f.kind == "str":
            empty |= (col.astype(str).str.strip() == "").to_numpy() & col.notna().to_numpy()
        if not f.nullable:
            for fid in ids[empty]:
                c.add("error", name, fid, "null_value", f"'{f.name}' is empty but required ({f.description})",
                      f"fill in '{f.name}'")
        if f.kind in ("int", "float"):
            parsed, bad = _coerce_numbers(col)
            for fid, raw in zip(ids[bad], col[bad], strict=True):
                c.add("error", name, fid, "wrong_type", f"'{f.name}' must be a number, got {str(raw)!r}",
                      f"type a plain number in '{f.name}' (no units, spaces or thousands separators) or leave it empty")
            ok = parsed.notna().to_numpy()
            if f.kind == "int":
                frac = ok & (np.abs(parsed.to_numpy() - np.round(parsed.to_numpy())) > 1e-9)
                for fid, v in zip(ids[frac], parsed[frac], strict=True):
                    c.add("error", name, fid, "wrong_type", f"'{f.name}' must be a whole number, got {v}",
                          f"round '{f.name}'")
            vals = parsed.to_numpy()
            if f.minimum is not None:
                low = ok & ((vals <= f.minimum) if f.exclusive_minimum else (vals < f.minimum))
                bound = f"greater than {f.minimum:g}" if f.exclusive_minimum else f"at least {f.minimum:g}"
                for fid, v in zip(ids[low], vals[low], strict=True):
                    c.add("error", name, fid, "out_of_range", f"'{f.name}' is {v:g}; it must be {bound}",
                          f"correct '{f.name}' or leave it empty if unknown" if f.nullable else f"correct '{f.name}'")
            if f.maximum is not None:
                high = ok & (vals > f.maximum)
                for fid, v in zip(ids[high], vals[high], strict=True):
                    c.add("error", name, fid, "out_of_range",
                          f"'{f.name}' is {v:.6g}; it must be at most {f.maximum:,.12g}", f"correct '{f.name}'")
        elif f.allowed is not None:
            present = col.notna().to_numpy() & ~empty
            vals = col.astype(str).str.strip().to_numpy()
            bad = present & ~np.isin(vals, f.allowed)
            for fid, v in zip(ids[bad], vals[bad], strict=True):
                c.add("error", name, fid, "not_allowed", f"'{f.name}' is {v!r}; allowed: {', '.join(f.allowed)}",
                      f"set '{f.name}' to one of the allowed values")
    _check_text_encoding(c, name, gdf, schema, ids)
    if schema.id_field in gdf.columns:
        idcol = gdf[schema.id_field]
        has_id = idcol.notna() & (idcol.astype(str).str.strip() != "")
        dup = idcol[has_id].astype(str).duplicated(keep="first")
        for fid in sorted(set(idcol[has_id][dup].astype(str))):
            n = int((idcol.astype(str) == fid).sum())
            c.add("error", name, fid, "duplicate_id", f"id '{fid}' is used by {n} features",
                  "give every feature its own id (delete the copy or rename one)")


def _check_geometry(c: _Collector, name: str, gdf: gpd.GeoDataFrame, schema: LayerSchema, ids: np.ndarray,
                    extent: list[float] | None, margin: float) -> np.ndarray:
    """Geometry checks; returns the mask of features whose geometry is usable."""
    geoms = gdf.geometry.to_numpy()
    missing = shapely.is_missing(geoms)
    empty = ~missing & shapely.is_empty(geoms)
    # A geometry that could not be parsed was reported while reading; do not call it empty too.
    unparsed = {p.feature_id for p in c.items if p.layer == name and p.check == "invalid_geometry"}
    for fid in ids[missing | empty]:
        if fid not in unparsed:
            c.add("error", name, fid, "empty_geometry", "feature has no geometry",
                  "draw the feature's geometry or delete the feature")
    present = ~(missing | empty)
    types = np.array(shapely.get_type_id(geoms))
    want = {"Point": (0, 4), "LineString": (1, 5), "Polygon": (3, 6)}[schema.geometry_type]
    single_multi = present & (types == want[1]) & (
        (shapely.get_num_geometries(geoms) == 1) | (schema.geometry_type == "Polygon"))
    wrong = present & ~np.isin(types, want[0]) & ~single_multi
    for fid, t in zip(ids[wrong], shapely.get_type_id(geoms[wrong]), strict=True):
        kind = ["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon",
                "GeometryCollection"][int(t)]
        fix = ("split it into single parts (QGIS: Vector ▸ Geometry Tools ▸ Multipart to Singleparts)"
               if kind.startswith("Multi") else f"redraw it as a {schema.geometry_type}")
        c.add("error", name, fid, "wrong_geometry_type",
              f"geometry is a {kind}; this layer holds {schema.geometry_type}s", fix)
    usable: np.ndarray = np.asarray(present & ~wrong)
    invalid = usable & ~shapely.is_valid(geoms)
    for fid, reason in zip(ids[invalid], shapely.is_valid_reason(geoms[invalid]), strict=True):
        c.add("error", name, fid, "invalid_geometry", f"invalid geometry: {reason}",
              "repair it (QGIS: Vector ▸ Geometry Tools ▸ Fix Geometries) or redraw it")
    usable &= ~invalid
    if gdf.crs is None:
        c.add("error", name, None, "missing_crs", "layer has no coordinate reference system",
              "assign the CRS the coordinates are in (QGIS: Layer ▸ Set CRS of Layer; geopandas: set_crs)")
    if not usable.any():
        return usable
    if gdf.crs is None or gdf.crs.is_geographic:
        # Checked vertex by vertex, so that a message points at the offending vertex, not at a
        # bounding box, and one stray vertex of a long road is caught.
        idx = np.flatnonzero(usable)
        xy, own = shapely.get_coordinates(geoms[idx], return_index=True)
        starts = np.searchsorted(own, np.arange(len(idx)))
        counts = np.bincount(own, minlength=len(idx))

        def first(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Per feature with a vertex in ``mask``: its position in ``idx`` and its first such vertex."""
            hits = np.flatnonzero(mask)
            feats, at = np.unique(own[hits], return_index=True)
            return feats, hits[at]

        def where(k: int, v: int, fmt: str) -> str:
            point = f"lon {xy[v, 0]:{fmt}}, lat {xy[v, 1]:{fmt}}"
            return f"at {point}" if counts[k] == 1 else f"vertex {v - starts[k] + 1} of {counts[k]} is at {point}"

        wild = (np.abs(xy[:, 0]) > 180) | (np.abs(xy[:, 1]) > 90)
        feats, verts = first(wild)
        for k, v in zip(feats, verts, strict=True):
            c.add("error", name, ids[idx[k]], "coordinates_out_of_range",
                  f"{where(k, v, '.6g')}: not longitude/latitude degrees; the layer is labelled EPSG:4326 but looks "
                  "projected", "assign the layer its real (projected) CRS instead of EPSG:4326")
        usable[idx[feats]] = False
        if extent is not None:
            x0, y0, x1, y1 = extent
            x, y = xy[:, 0], xy[:, 1]
            inside = (x >= x0 - margin) & (x <= x1 + margin) & (y >= y0 - margin) & (y <= y1 + margin)
            swapped = (y >= x0 - margin) & (y <= x1 + margin) & (x >= y0 - margin) & (x <= y1 + margin)
            feats, verts = first(~inside & ~wild)
            feats_ok = usable[idx[feats]]
            for k, v in zip(feats[feats_ok], verts[feats_ok], strict=True):
                if swapped[v]:
                    c.add("error", name, ids[idx[k]], "swapped_coordinates",
                          f"{where(k, v, '.4f')}, outside the expected extent; swapping gives a point inside it",
                          "swap longitude and latitude (x = longitude, y = latitude)")
                else:
                    c.add("error", name, ids[idx[k]], "outside_extent",
                          f"{where(k, v, '.4f')}, outside the layer set's extent {extent}",
                          "move the vertex to its real location, or widen 'extent' in layerset.json")
            usable[idx[feats]] = False
    return usable


#: Vertex spacing (degrees, about 200 m) used before projecting lon/lat lines to metres. A
#: straight segment in the file is straight in lon/lat; projected as a two-point chord it can
#: sit kilometres away from that line mid-way along a long road link (2.4 km on the embedded
#: Kazakhstan network). Densified, the projected line stays within a millimetre of it.
_DENSIFY_DEG = 0.002


def _metric_lines(geoms: np.ndarray, crs: CRS) -> np.ndarray:
    """Lon/lat lines in the metric ``crs``, following the lon/lat line rather than its chord."""
    dense = shapely.segmentize(geoms, _DENSIFY_DEG)
    return gpd.GeoSeries(dense, crs=4326).to_crs(crs).to_numpy()


def _road_endpoints(lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    first = shapely.get_coordinates(shapely.get_point(lines, 0))
    last = shapely.get_coordinates(shapely.get_point(lines, -1))
    return first, last


def _check_roads(c: _Collector, roads: gpd.GeoDataFrame, ids: np.ndarray, usable: np.ndarray,
                 crs: CRS, cfg: ValidationConfig) -> None:
    if usable.sum() == 0:
        return
    lines = _metric_lines(roads.geometry.to_numpy()[usable], crs)
    lines = np.where(shapely.get_type_id(lines) == 5, shapely.get_geometry(lines, 0), lines)  # single-part multis
    rid = ids[usable]
    length_m = shapely.length(lines)
    for fid in rid[length_m <= 0.5]:
        c.add("error", "roads", fid, "zero_length", "road has zero length (start and end are the same point)",
              "delete the segment or redraw it between two different places")
    if "length_km" in roads.columns:
        declared, _ = _coerce_numbers(roads["length_km"])
        declared = declared.to_numpy()[usable]
        short = np.isfinite(declared) & (declared > 0) & (declared * 1000 < 0.9 * length_m)
        for fid, d, g in zip(rid[short], declared[short], length_m[short], strict=True):
            c.add("warning", "roads", fid, "length_shorter_than_line",
                  f"length_km is {d:g} but the line itself is {g / 1000:.1f} km long",
                  "check length_km (a road cannot be shorter than its straight line)")
    # Topology: nodes = endpoints rounded to 1 cm, so connectivity needs shared end coordinates.
    first, last = _road_endpoints(lines)
    ends = np.vstack([first, last])
    keys, inverse = np.unique(np.round(ends, 2), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    n = len(rid)
    u, v = inverse[:n], inverse[n:]
    from scipy.sparse import coo_matrix  # here, not at the top: `geoplan layers check` starts faster
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(n), (u, v)), shape=(len(keys), len(keys)))
    ncomp, labels = connected_components(graph, directed=False)
    if ncomp > 1:
        comp_of_road = labels[u]
        sizes = np.bincount(comp_of_road, minlength=ncomp)
        main = int(np.argmax(sizes))
        for comp in sorted(set(range(ncomp)) - {main}, key=lambda k: (-sizes[k], k)):
            members = sorted(rid[comp_of_road == comp].tolist())
            shown = ", ".join(members[:10]) + (f" and {len(members) - 10} more" if len(members) > 10 else "")
            c.add("warning", "roads", members[0], "disconnected_component",
                  f"{len(members)} road(s) not connected to the main network ({sizes[main]} roads): {shown}",
                  "connect them with a road to the main network, or snap their ends onto it")
    # Dangling ends: an end used by one segment only that lies near another road.
    degree = np.bincount(inverse, minlength=len(keys))
    tree = shapely.STRtree(lines)
    for which, pts in (("start", first), ("end", last)):
        idx = inverse[:n] if which == "start" else inverse[n:]
        dangling = np.flatnonzero(degree[idx] == 1)
        if dangling.size == 0:
            continue
        points = np.asarray(shapely.points(pts[dangling]))
        p_idx, l_idx = tree.query(points, predicate="dwithin", distance=cfg.snap_tolerance_m)
        keep = l_idx != dangling[p_idx]
        p_idx, l_idx = p_idx[keep], l_idx[keep]
        dist = np.asarray(shapely.distance(points[p_idx], lines[l_idx]))
        # Only the nearest other road per end (ties: the smallest id), not every road of a junction.
        order = np.lexsort((rid[l_idx].astype(str), np.round(dist, 3), p_idx))
        nearest = order[np.r_[True, p_idx[order][1:] != p_idx[order][:-1]]] if order.size else order
        for p_i, line_i, d in zip(p_idx[nearest], l_idx[nearest], dist[nearest], strict=True):
            own = dangling[p_i]
            if d <= 0.01:
                # Ends exactly on another line's interior: a T-junction without a node.
                msg = f"{which} lies on road {rid[line_i]} but that road has no vertex there"
                fix = f"split road {rid[line_i]} at this point so the two connect"
            else:
                msg = f"{which} is {d:.0f} m from road {rid[line_i]} but not connected to it"
                fix = f"snap the {which} onto road {rid[line_i]} (QGIS snapping, or Snap Geometries to Layer)"
            c.add("warning", "roads", rid[own], "dangling_end", msg, fix)


def _check_access(c: _Collector, layers: LayerSet, crs: CRS, usable: dict[str, np.ndarray],
                  cfg: ValidationConfig) -> None:
    roads = layers.layers.get("roads")
    if roads is None or not usable["roads"].any():
        return
    road_lines = _metric_lines(roads.geometry.to_numpy()[usable["roads"]], crs)
    tree = shapely.STRtree(road_lines)
    for name in ("towns", "centres"):
        gdf = layers.layers.get(name)
        if gdf is None or not usable[name].any():
            continue
        ids = _feature_ids(gdf, "id")[usable[name]]
        pts = gpd.GeoSeries(gdf.geometry.to_numpy()[usable[name]], crs=4326).to_crs(crs).to_numpy()
        _, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
        far = dist > cfg.max_access_km * 1000
        for fid, d in zip(ids[far], dist[far], strict=True):
            c.add("warning", name, fid, "far_from_road",
                  f"nearest road is {d / 1000:.1f} km away (limit {cfg.max_access_km:g} km)",
                  "add the road that serves this place, or check its coordinates")


def _check_identity(c: _Collector, layers: LayerSet, crs: CRS, usable: dict[str, np.ndarray]) -> None:
    """One identity per place: a town that is also a centre must share id, position and name."""
    towns, centres = layers.layers.get("towns"), layers.layers.get("centres")
    if towns is None or centres is None or "id" not in towns or "id" not in centres:
        return
    if not usable["towns"].any() or not usable["centres"].any():
        return
    t = towns[usable["towns"]].to_crs(crs)
    ce = centres[usable["centres"]].to_crs(crs)
    joined = gpd.sjoin_nearest(t[["id", "name_en", "geometry"]] if "name_en" in t else t[["id", "geometry"]],
                               ce[["id", "geometry"]].rename(columns={"id": "centre_id"}),
                               max_distance=5000, distance_col="dist")
    for _, row in joined.sort_values("id").iterrows():
        if row["id"] != row["centre_id"]:
            c.add("warning", "towns", str(row["id"]), "identity",
                  f"lies {row['dist'] / 1000:.1f} km from centre '{row['centre_id']}'; the same place has two ids",
                  f"use the id '{row['centre_id']}' in both layers so the place has one identity")
    tid, cid = _plain_text(t["id"]), _plain_text(ce["id"])
    shared = sorted((set(tid) & set(cid)) - {""})  # blank ids are reported as null_value, not matched
    # A shared id declares one place (Temirtau, Zhezkazgan are towns and centres): the analysis
    # merges them. It counts as a declaration only when name and position agree too; otherwise it
    # is a typo that would silently merge two places and change other towns' results.
    tname = _plain_text(t["name_en"]) if "name_en" in t else np.full(len(t), "", dtype=object)
    cname = _plain_text(ce["name_en"]) if "name_en" in ce else np.full(len(ce), "", dtype=object)
    for pid in shared:
        a = t.geometry.to_numpy()[tid == pid][0]
        b = ce.geometry.to_numpy()[cid == pid][0]
        d = float(a.distance(b))
        na, nb = tname[tid == pid][0], cname[cid == pid][0]
        other_name = bool(na and nb and na.casefold() != nb.casefold())
        if d > 5000 or other_name:
            why = " and ".join(x for x in (f"are {d / 1000:.1f} km apart" if d > 5000 else "",
                                           f"have different names ({na!r} / {nb!r})" if other_name else "") if x)
            c.add("error", "towns", pid, "id_conflict",
                  f"town and centre share the id '{pid}' but {why}; a shared id means one place (a town that is "
                  "also a growth centre), which the analysis merges",
                  "if they are different places, give the town its own id; if it is one place, use the same "
                  "name_en and coordinates in towns and centres")


def _plain_text(values: pd.Series) -> np.ndarray:
    """Each value as stripped text; ``""`` for empty values (None, NaN, NA)."""
    def one(v: object) -> str:
        return "" if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else str(v).strip()

    return np.array([one(v) for v in values], dtype=object)


def _id_set(gdf: gpd.GeoDataFrame | None) -> set[str]:
    if gdf is None or "id" not in gdf.columns:
        return set()
    return set(_plain_text(gdf["id"])) - {""}


def _check_rail(c: _Collector, layers: LayerSet) -> None:
    """Cross-references of the rail layers: link ends are stations, ``serves`` names a place."""
    stations, rail = layers.layers.get("rail_stations"), layers.layers.get("rail")
    if rail is not None and stations is None:
        c.add("error", "rail", None, "missing_layer",
              "the rail layer has no rail_stations layer to name its link ends",
              f"add a 'rail_stations' layer ({RAIL_STATIONS.description}) beside the rail layer")
    if rail is not None and stations is not None and "id" in stations.columns:
        known = _id_set(stations)
        ids = _feature_ids(rail, "id")
        for col in ("from_station", "to_station"):
            if col not in rail.columns:
                continue  # reported as missing_column
            vals = _plain_text(rail[col])
            unknown = (vals != "") & ~np.isin(vals, list(known))
            for fid, v in zip(ids[unknown], vals[unknown], strict=True):
                c.add("error", "rail", fid, "unknown_station", f"{col} '{v}' is not a rail_stations id",
                      f"correct {col}, or add station '{v}' to the rail_stations layer")
        if {"from_station", "to_station"} <= set(rail.columns):
            a, b = _plain_text(rail["from_station"]), _plain_text(rail["to_station"])
            loop = (a == b) & (a != "")
            for fid, v in zip(ids[loop], a[loop], strict=True):
                c.add("error", "rail", fid, "self_link", f"link starts and ends at station '{v}'",
                      "set from_station and to_station to the two different stations the link joins")
    towns, centres = layers.layers.get("towns"), layers.layers.get("centres")
    if stations is not None and "serves" in stations.columns:
        if towns is None or centres is None or len(towns) == 0 or len(centres) == 0:
            return  # nothing sound to check against; a missing or empty place layer is reported itself
        places = _id_set(towns) | _id_set(centres)
        ids = _feature_ids(stations, "id")
        vals = _plain_text(stations["serves"])
        unknown = (vals != "") & ~np.isin(vals, list(places))
        for fid, v in zip(ids[unknown], vals[unknown], strict=True):
            c.add("error", "rail_stations", fid, "unknown_place",
                  f"station {fid} serves '{v}', which is neither a towns nor a centres id",
                  "set 'serves' to the id of the town or centre the station serves, or leave it empty")


def validate(layers: LayerSet, *, config: ValidationConfig | None = None) -> list[Problem]:
    """Check a layer set and return every problem found.

    Parameters
    ----------
    layers
        The layer set from :func:`read_layers`.
    config
        Thresholds; defaults to :class:`ValidationConfig`.

    Returns
    -------
    list of Problem
        Sorted by layer, severity, feature id and check. Empty when the layer set is clean.
        Errors make the layer set unusable for analysis; warnings flag likely mistakes.

    Notes
    -----
    Check codes (``Problem.check``). Errors: ``empty_layer``, ``missing_column``,
    ``null_value``, ``wrong_type`` (text such as ``"12 000"`` in a number column),
    ``out_of_range`` (e.g. a population of 0 or less), ``not_allowed`` (a value outside the
    schema's list, e.g. an unknown road class), ``duplicate_id``, ``empty_geometry``,
    ``wrong_geometry_type``, ``invalid_geometry`` (with the reason GEOS gives),
    ``missing_crs``, ``crs_mismatch`` (a projected CRS on lon/lat coordinates),
    ``coordinates_out_of_range`` (projected coordinates labelled EPSG:4326),
    ``swapped_coordinates``, ``outside_extent``, ``zero_length``, and ``truncated_column``
    when a required Shapefile column name is ambiguous. Warnings: ``unexpected_crs`` (a
    GeoJSON ``crs`` member), ``suspect_encoding``, ``truncated_column``,
    ``length_shorter_than_line``, ``disconnected_component``, ``dangling_end`` (within
    ``snap_tolerance_m`` of another road), ``far_from_road`` (beyond ``max_access_km``) and
    ``identity`` (one place with two ids). ``id_conflict`` (error): a town and a centre share an
    id but not their name or position (within 5 km); a shared id declares one place.

    The optional rail layers get the same column and geometry checks, plus these errors:
    ``unknown_station`` (a rail link's ``from_station``/``to_station`` is not a
    ``rail_stations`` id), ``self_link``, ``missing_layer`` (``rail`` without
    ``rail_stations``) and ``unknown_place`` (a station ``serves`` an id that is neither a
    town nor a centre).

    The optional ``boundaries`` and ``settlements`` layers get the same column and geometry
    checks (a negative or text ``population`` is ``out_of_range`` / ``wrong_type``), and every
    place is checked against the boundaries (:func:`geoplan.layers.admin.check_admin`).
    Errors: ``boundary_overlap`` and ``boundary_gap`` (larger than ``coverage_tolerance_km2``),
    ``outside_parent`` (a district reaching beyond its region), ``unknown_parent``
    and ``region_mismatch`` (a town or centre whose ``region`` names another region than the
    one its point lies in). Warnings: ``outside_boundaries`` (a place outside every district
    by more than ``outside_boundaries_m``), ``unknown_region`` (a ``region`` no boundary is
    called), ``district_mismatch``, ``unknown_place`` (a settlement's ``town_id``/``centre_id``
    is no town or centre id) and ``duplicate_link``.
    """
    cfg = config or ValidationConfig()
    c = _Collector(layers)
    c.items.extend(layers.read_problems)
    extent = layers.meta.get("extent")
    usable: dict[str, np.ndarray] = {}
    for name, gdf in layers.layers.items():
        schema = SCHEMAS.get(name)
        if schema is None:
            continue
        ids = _feature_ids(gdf, schema.id_field)
        if len(gdf) == 0:
            c.add("error", name, None, "empty_layer", "layer has no features", f"add the {schema.description}")
        _check_fields(c, name, gdf, schema, ids)
        usable[name] = _check_geometry(c, name, gdf, schema, ids, extent, cfg.extent_margin_deg)
    ok = {n: usable[n] if layers.layers[n].crs is not None else np.zeros_like(usable[n]) for n in usable}
    if any(m.any() for m in ok.values()):
        allb = np.vstack([shapely.bounds(layers.layers[n].geometry.to_numpy()[m]) for n, m in ok.items() if m.any()])
        crs = metric_crs((allb[:, 0].min(), allb[:, 1].min(), allb[:, 2].max(), allb[:, 3].max()))
        empty = np.zeros(0, bool)
        if "roads" in ok:
            _check_roads(c, layers.roads, _feature_ids(layers.roads, "id"), ok["roads"], crs, cfg)
            _check_access(c, layers, crs, {n: ok.get(n, empty) for n in ("towns", "centres", "roads")}, cfg)
        _check_identity(c, layers, crs, {n: ok.get(n, empty) for n in ("towns", "centres")})
    _check_rail(c, layers)
    c.items.extend(check_admin(layers, ok, outside_tolerance_m=cfg.outside_boundaries_m,
                               coverage_tolerance_km2=cfg.coverage_tolerance_km2))
    order = {"error": 0, "warning": 1}
    return sorted(c.items, key=lambda p: (p.layer, order[p.severity], p.feature_id or "", p.check, p.message))


def require_valid(layers: LayerSet, *, config: ValidationConfig | None = None) -> list[Problem]:
    """Validate and raise :class:`LayerValidationError` if there is any error; return the warnings.

    Parameters
    ----------
    layers
        The layer set from :func:`read_layers`.
    config
        Thresholds; defaults to :class:`ValidationConfig`.

    Raises
    ------
    LayerValidationError
        Listing the first 20 errors; ``problems`` holds every problem found.
    """
    problems = validate(layers, config=config)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        shown = "\n".join(f"  {p}" for p in errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise LayerValidationError(
            f"the layer set has {len(errors)} error(s):\n{shown}{more}",
            problems=problems,
            fix="correct the features listed (run 'geoplan layers check' for the full report) and run again",
        )
    return problems


def problems_frame(problems: list[Problem]) -> pd.DataFrame:
    """Problems as a table with one row per problem."""
    cols = ["severity", "layer", "feature_id", "check", "message", "fix", "source"]
    return pd.DataFrame([asdict(p) for p in problems], columns=cols)
