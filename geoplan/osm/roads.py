"""The roads layer from OpenStreetMap ways: tag parsing, assembly, merging and writing.

Shared by every reader of :mod:`geoplan.osm`: OSM tags become the roads layer columns
(:func:`parse_maxspeed`, :data:`SURFACE_OF`, one-way rules as osmnx reads them), way pieces
between junctions become features (``_finish``), :func:`merge_chains` joins pieces that meet at
a node used by no other road (degree 2) into one feature with the full geometry, and
:func:`write_roads` writes the layer atomically.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from geoplan._errors import LayerError, LayerReadError
from geoplan._io import atomic_path, write_geojson
from geoplan.layers import ROAD_CLASSES, metric_crs

__all__ = [
    "DOWNLOAD_ROAD_CLASSES",
    "MAIN_ROAD_CLASSES",
    "SURFACE_OF",
    "ZONE_SPEEDS_KPH",
    "parse_maxspeed",
    "roads_summary",
    "write_roads",
]

MAIN_ROAD_CLASSES: tuple[str, ...] = ROAD_CLASSES[: ROAD_CLASSES.index("tertiary")]
#: Kept by default when a country's extract is downloaded: motorway to tertiary, with their links.
DOWNLOAD_ROAD_CLASSES: tuple[str, ...] = ROAD_CLASSES[: ROAD_CLASSES.index("tertiary_link") + 1]

#: OSM ``surface=*`` values mapped onto the layer vocabulary (:data:`geoplan.layers.SURFACES`).
SURFACE_OF: dict[str, str] = {
    "asphalt": "asphalt",
    "chipseal": "asphalt",
    "concrete": "concrete",
    "concrete:plates": "concrete",
    "concrete:lanes": "concrete",
    "paved": "paved",
    "paving_stones": "paved",
    "sett": "paved",
    "cobblestone": "paved",
    "unhewn_cobblestone": "paved",
    "stone": "paved",
    "bricks": "paved",
    "metal": "paved",
    "wood": "paved",
    "gravel": "gravel",
    "fine_gravel": "gravel",
    "pebblestone": "gravel",
    "compacted": "gravel",
    "unpaved": "unpaved",
    "grass_paver": "unpaved",
    "sand": "unpaved",
    "grass": "unpaved",
    "rock": "unpaved",
    "dirt": "dirt",
    "earth": "dirt",
    "ground": "dirt",
    "mud": "dirt",
}

_MPH = 1.609344  # km per international mile
_KNOT = 1.852  # km per nautical mile

#: Implicit ``maxspeed`` values (``<country>:<zone>``) in km/h, from national traffic rules.
#: Kazakhstan: 60 in settlements, 100 on ordinary rural roads (categories II-III), 140 on
#: motorways (category I-a), per the Kazakh traffic rules as published by KazAvtoZhol.
ZONE_SPEEDS_KPH: dict[str, float] = {
    "KZ:urban": 60, "KZ:rural": 100, "KZ:motorway": 140, "KZ:living_street": 20,
    "RU:urban": 60, "RU:rural": 90, "RU:motorway": 110, "RU:living_street": 20,
    "BY:urban": 60, "BY:rural": 90, "BY:motorway": 120, "BY:living_street": 20,
    "UA:urban": 50, "UA:rural": 90, "UA:motorway": 130, "UA:living_street": 20,
    "KG:urban": 60, "KG:rural": 90,
    "UZ:urban": 70, "UZ:rural": 100,
    "DE:urban": 50, "DE:rural": 100, "DE:living_street": 7,
    "AT:urban": 50, "AT:rural": 100, "AT:motorway": 130,
    "CH:urban": 50, "CH:rural": 80, "CH:motorway": 120,
    "FR:urban": 50, "FR:rural": 80, "FR:motorway": 130,
    "IT:urban": 50, "IT:rural": 90, "IT:motorway": 130,
    "PL:urban": 50, "PL:rural": 90, "PL:motorway": 140,
    "FI:urban": 50, "FI:rural": 80,
    "GB:nsl_single": 60 * _MPH, "GB:nsl_dual": 70 * _MPH, "GB:motorway": 70 * _MPH,
    "walk": 5,
}

# osmnx's vocabulary for one-way travel (its XML reader reverses the "against" values, so the
# PBF reader must do the same); "T"/"F" are legacy export values for against/along.
_ONEWAY_ALONG = frozenset({"yes", "true", "1", "F"})
_ONEWAY_AGAINST = frozenset({"-1", "reverse", "T"})
_ONEWAY_NO = frozenset({"no", "false", "0"})

#: Way tags the readers keep (osmnx ``useful_tags_way`` while reading).
_WAY_TAGS = ("highway", "name", "ref", "lanes", "maxspeed", "oneway", "junction", "surface")
#: Segments shorter than this are merged into one node (the layer validator rejects them).
_MIN_SEGMENT_M = 0.5
_SPEED_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$", re.IGNORECASE)


# --------------------------------------------------------------------------------------
# tag parsing


def parse_maxspeed(value: object) -> float | None:
    """Speed limit in km/h from an OSM ``maxspeed`` value, or ``None`` when it has none.

    Understands plain numbers (km/h), ``km/h``/``mph``/``knots`` units, implicit zone values
    such as ``RU:urban`` or ``KZ:rural`` (see :data:`ZONE_SPEEDS_KPH`) and ``walk``. For
    several values separated by ``;`` (per lane or per time), the lowest is used. ``none``,
    ``signals``, unknown zones and values outside 0-200 km/h give ``None``.

    Examples
    --------
    >>> parse_maxspeed("90"), parse_maxspeed("RU:urban"), round(parse_maxspeed("50 mph"), 2)
    (90.0, 60.0, 80.47)
    >>> parse_maxspeed("none") is None
    True

    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    speeds = [s for s in (_parse_one_speed(part) for part in str(value).split(";")) if s is not None]
    if not speeds:
        return None
    best = min(speeds)
    return best if 0 < best <= 200 else None


def _parse_one_speed(text: str) -> float | None:
    text = text.strip()
    if text in ZONE_SPEEDS_KPH:
        return float(ZONE_SPEEDS_KPH[text])
    country, sep, zone = text.partition(":")
    if sep and f"{country.upper()}:{zone.lower()}" in ZONE_SPEEDS_KPH:
        return float(ZONE_SPEEDS_KPH[f"{country.upper()}:{zone.lower()}"])
    match = _SPEED_RE.match(text)
    if match is None:
        return None
    number = float(match.group(1))
    unit = (match.group(2) or "").lower()
    return number * _MPH if unit == "mph" else number * _KNOT if unit == "knots" else number


def _parse_lanes(value: object) -> float:
    text = str(value).strip() if isinstance(value, str) else ""
    return float(text) if text.isdigit() and 1 <= int(text) <= 12 else np.nan


def _surface(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return SURFACE_OF.get(value.split(";")[0].strip().lower())


def _oneway(oneway: pd.Series, junction: pd.Series, highway: pd.Series) -> np.ndarray:
    """1 where travel is one-way along the (already reversed) geometry, else 0."""
    raw = oneway.fillna("").astype(str).str.strip()
    explicit = raw.isin(_ONEWAY_ALONG | _ONEWAY_AGAINST)
    implied = junction.fillna("").isin(["roundabout", "circular"]) | (highway == "motorway")
    return (explicit | (implied & ~raw.isin(_ONEWAY_NO))).to_numpy().astype(np.int64)


# --------------------------------------------------------------------------------------
# shared assembly


def _road_classes(road_classes: Iterable[str] | None, main_roads: bool) -> tuple[str, ...]:
    if road_classes is not None and main_roads:
        raise LayerError("pass either main_roads or road_classes, not both",
                         fix="drop --main-roads, or list the classes you want in --road-classes")
    if road_classes is None:
        return MAIN_ROAD_CLASSES if main_roads else ROAD_CLASSES
    wanted = [road_classes] if isinstance(road_classes, str) else list(road_classes)
    classes = tuple(dict.fromkeys(c.strip() for c in wanted if c and c.strip()))
    unknown = [c for c in classes if c not in ROAD_CLASSES]
    if unknown or not classes:
        raise LayerError(f"unknown road class(es): {', '.join(unknown) or '(none given)'}",
                         fix=f"choose from {', '.join(ROAD_CLASSES)}")
    return classes


def _no_roads(source: str, classes: tuple[str, ...], found: Counter[str], n_ways: int | None) -> LayerReadError:
    """Explain a source without roads of ``classes``: what it holds instead, and what to change.

    ``found`` counts the source's highway values and ``n_ways`` its ways; ``n_ways`` is ``None``
    when unknown (an Overpass answer holds only the classes asked for).
    """
    if n_ways == 0:
        return LayerReadError(f"{source}: contains no OSM ways",
                              fix="pass an extract that includes ways (not only nodes)")
    if found:
        detail = "; its highway ways are " + ", ".join(f"{k} ({v})" for k, v in found.most_common(8))
    elif n_ways is not None:
        detail = f"; none of its {n_ways} ways has a highway tag"
    else:
        detail = ""
    # Name only options that can help: every command reading OSM has --main-roads, only
    # `geoplan osm convert` and `geoplan osm download` have --road-classes.
    if set(classes) == set(ROAD_CLASSES):
        fix = ("pass an extract that covers roads (highway values that are not roads, such as footway, cycleway "
               "and path, are never kept)")
    elif classes == MAIN_ROAD_CLASSES:
        fix = "pass a larger extract, or leave out --main-roads (main_roads=True) to keep every road class"
    else:
        fix = "pass a larger extract, or keep other road classes (--road-classes; road_classes= in Python)"
    return LayerReadError(f"{source}: no highway ways with classes {', '.join(classes)}{detail}", fix=fix)


def _finish(osm_id: np.ndarray, u: np.ndarray, v: np.ndarray, lines: np.ndarray,
            ways: pd.DataFrame, *, merge: bool = False) -> gpd.GeoDataFrame:
    """Build the roads layer from segments (way id, end node ids, line) and per-way tags.

    With ``merge``, segments meeting at a node of degree 2 with the same attributes are joined
    (see :func:`_merge_chains`).
    """
    tiny, u, v, lines = _merge_tiny_segments(u, v, lines)
    # A loop needs four points to be a ring; shorter ones are back-and-forth scribbles.
    keep = ~tiny & ((u != v) | (shapely.get_num_points(lines) >= 4))
    osm_id, u, v, lines = osm_id[keep], u[keep], v[keep], lines[keep]
    tags = ways.reindex(pd.Index(osm_id, name="osm_id"))
    highway = tags["highway"].astype(str)
    speed_of = {s: parse_maxspeed(s) for s in tags["maxspeed"].dropna().unique()}
    frame = pd.DataFrame({
        "road_class": highway.to_numpy(dtype=object),
        "road_ref": _text(tags["ref"]),
        "name": _text(tags["name"]),
        "lanes": pd.Series(tags["lanes"].map(_parse_lanes).to_numpy(dtype=float)).astype("Int64").array,
        "length_km": np.full(len(osm_id), np.nan),
        "surface": tags["surface"].map(_surface).to_numpy(dtype=object),
        "speed_kph": tags["maxspeed"].map(speed_of).astype(float).to_numpy(),
        "oneway": _oneway(tags["oneway"], tags["junction"], highway),
        "osm_id": osm_id.astype(np.int64),
    })
    if merge:
        rows, u, v, lines = _merge_chains(frame, u, v, lines)
        frame = frame.iloc[rows].reset_index(drop=True)
        osm_id = frame["osm_id"].to_numpy()
    order = np.lexsort((v, u, osm_id))
    frame, u, v, lines = frame.iloc[order].reset_index(drop=True), u[order], v[order], lines[order]
    osm_id = frame["osm_id"].to_numpy()
    base = "w" + pd.Series(osm_id).astype(str) + ":" + pd.Series(u).astype(str) + "-" + pd.Series(v).astype(str)
    # A way that runs twice between the same two nodes (rare digitising quirk) needs distinct ids.
    dup = base.groupby(base).cumcount().to_numpy()
    frame.insert(0, "id", np.where(dup > 0, base + "#" + pd.Series(dup + 1).astype(str), base).astype(object))
    frame["surface"] = frame["surface"].where(frame["surface"].notna(), None)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(lines, crs=CRS.from_epsg(4326)), crs=CRS.from_epsg(4326))


#: Columns that must be equal for two segments to merge into one feature.
_MERGE_KEYS = ("road_class", "road_ref", "name", "lanes", "surface", "speed_kph", "oneway")


def _merge_chains(frame: pd.DataFrame, u: np.ndarray, v: np.ndarray, lines: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Join chains of segments through nodes of degree 2 into single segments with full geometry.

    A node merges its two segments when exactly two segment ends meet there, the segments
    differ and have equal :data:`_MERGE_KEYS` (class, ref, name, lanes, surface, speed,
    one-way), and, for one-way roads, one segment ends where the other starts. A two-way
    chain runs from its end with the smaller node id; a closed chain (a ring touching nothing
    else) from its smallest node id. Each chain keeps the attributes (and ``osm_id``) of its
    first segment.

    Returns
    -------
    rows, u, v, lines
        Row of ``frame`` whose attributes each merged segment takes, its end node ids and line.
    """
    n = len(u)
    if n == 0:
        return np.zeros(0, np.int64), u, v, lines
    oneway = frame["oneway"].to_numpy() == 1
    nb = _chain_neighbours(frame, u, v, oneway)
    merged = np.asarray((nb >= 0).any(axis=1))
    if not merged.any():
        return np.arange(n), u, v, lines
    walker = _ChainWalker(u, v, nb, lines, merged)
    for s in np.flatnonzero(merged):
        if walker.seen[s]:
            continue
        free = np.flatnonzero(nb[s] < 0)
        if len(free) == 0:
            continue  # inside a chain: its end is walked from (or it is part of a ring, below)
        # ``s`` is a chain end; start here unless the other end is the better start.
        at = int(free[0])
        t, t_at = _chain_end(int(s), at, nb, u, v)
        if oneway[s]:
            start_seg, start_at = (s, at) if at == 0 else (t, t_at)
        else:
            here = u[s] if at == 0 else v[s]
            there = v[t] if t_at == 1 else u[t]
            start_seg, start_at = (s, at) if here <= there else (t, t_at)
        walker.walk(int(start_seg), int(start_at))
    # Rings: every node of the chain merges; start at the smallest node id.
    for s in np.flatnonzero(merged & ~walker.seen):
        if walker.seen[s]:
            continue
        ring = _ring_members(int(s), nb)
        node_at = np.r_[u[ring], v[ring]]
        k = int(np.argmin(node_at))
        r, at = (ring[k], 0) if k < len(ring) else (ring[k - len(ring)], 1)
        if oneway[r] and at == 1:
            r = nb[r, 1]
            at = 0
        walker.walk(int(r), int(at))
    single = np.flatnonzero(~merged)
    rows = np.r_[single, np.asarray(walker.out_rows, dtype=np.int64)]
    new_u = np.r_[u[single], np.asarray(walker.out_u, dtype=u.dtype)]
    new_v = np.r_[v[single], np.asarray(walker.out_v, dtype=v.dtype)]
    return rows, new_u, new_v, np.r_[lines[single], walker.lines()]


def _chain_neighbours(frame: pd.DataFrame, u: np.ndarray, v: np.ndarray, oneway: np.ndarray) -> np.ndarray:
    """Neighbour of each segment through its start (column 0, u) and its end (column 1, v): -1 when none.

    Two segments are neighbours when exactly two segment ends meet at their node, the segments
    differ and have equal :data:`_MERGE_KEYS`, and a one-way segment meets the other end to start.
    """
    n = len(u)
    kind = frame.groupby(list(_MERGE_KEYS), dropna=False, sort=False).ngroup().to_numpy()
    ends = np.r_[u, v]
    seg = np.r_[np.arange(n), np.arange(n)]
    side = np.r_[np.zeros(n, np.int8), np.ones(n, np.int8)]  # 0 = start (u), 1 = end (v)
    order = np.lexsort((side, seg, ends))
    ends, seg, side = ends[order], seg[order], side[order]
    first = np.r_[True, ends[1:] != ends[:-1]]
    start = np.flatnonzero(first)
    degree = np.diff(np.r_[start, len(ends)])
    two = start[degree == 2]
    a, b = seg[two], seg[two + 1]
    sa, sb = side[two], side[two + 1]
    ok = (a != b) & (kind[a] == kind[b]) & (~oneway[a] | (sa != sb))
    a, b, sa, sb = a[ok], b[ok], sa[ok], sb[ok]
    nb = np.full((n, 2), -1, dtype=np.int64)
    nb[a, sa] = b
    nb[b, sb] = a
    return nb


class _ChainWalker:
    """Follows chains of segments (``nb``: see :func:`_chain_neighbours`) and collects the merged ones."""

    def __init__(self, u: np.ndarray, v: np.ndarray, nb: np.ndarray, lines: np.ndarray, merged: np.ndarray) -> None:
        self.u, self.v, self.nb = u, v, nb
        self.coords_of = shapely.get_coordinates(lines[merged])
        counts = shapely.get_num_points(lines[merged])
        self.offs = np.r_[0, np.cumsum(counts)]
        self.local = np.full(len(u), -1, dtype=np.int64)
        self.local[merged] = np.arange(int(merged.sum()))
        self.seen = np.zeros(len(u), dtype=bool)
        self.out_rows: list[int] = []
        self.out_u: list[int] = []
        self.out_v: list[int] = []
        self.out_lines: list[np.ndarray] = []

    def emit(self, row: int, a: int, b: int, parts: list[np.ndarray]) -> None:
        """Add a merged segment: attributes of ``row``, from node ``a`` to ``b``, through ``parts``."""
        self.out_rows.append(row)
        self.out_u.append(a)
        self.out_v.append(b)
        self.out_lines.append(np.vstack([parts[0]] + [p[1:] for p in parts[1:]]))

    def walk(self, s: int, at: int) -> None:
        """Follow the chain from segment ``s``, entering it at its side ``at`` (0 = u, 1 = v)."""
        u, v, nb, seen = self.u, self.v, self.nb, self.seen
        parts, segs, nodes = [], [], [int(u[s] if at == 0 else v[s])]
        while True:
            seen[s] = True
            xy = self.coords_of[self.offs[self.local[s]]:self.offs[self.local[s] + 1]]
            parts.append(xy if at == 0 else xy[::-1])
            segs.append(s)
            exit_node = int(v[s] if at == 0 else u[s])
            nodes.append(exit_node)
            nxt = nb[s, 1 - at]
            if nxt < 0 or seen[nxt]:
                break
            # Enter the next segment at the side that touches this one's exit node.
            at = 0 if u[nxt] == exit_node else 1
            s = int(nxt)
        if nodes[0] == nodes[-1] and len(segs) > 1:
            # A closed chain would be a self-loop, which routing drops: keep it as two halves.
            k = len(segs) // 2
            self.emit(segs[0], nodes[0], nodes[k], parts[:k])
            self.emit(segs[k], nodes[k], nodes[-1], parts[k:])
        else:
            self.emit(segs[0], nodes[0], nodes[-1], parts)

    def lines(self) -> np.ndarray:
        """Return the merged segments' lines, in the order they were emitted."""
        out_lines = self.out_lines
        return np.asarray(shapely.linestrings(np.vstack(out_lines),
                                              indices=np.repeat(np.arange(len(out_lines)),
                                                                [len(x) for x in out_lines])), dtype=object)


def _chain_end(s: int, at: int, nb: np.ndarray, u: np.ndarray, v: np.ndarray) -> tuple[int, int]:
    """Return the last segment of the chain entered at segment ``s`` side ``at``, and its exit side."""
    prev = -1
    cur, side = s, at
    while True:
        nxt = nb[cur, 1 - side]
        if nxt < 0 or nxt == prev or nxt == s:
            return cur, 1 - side
        exit_node = v[cur] if side == 0 else u[cur]
        side = 0 if u[nxt] == exit_node else 1
        prev, cur = cur, int(nxt)


def _ring_members(s: int, nb: np.ndarray) -> np.ndarray:
    """Return the segments of the closed chain through segment ``s``, in order."""
    members = [s]
    prev, cur = -1, s
    while True:
        a, b = nb[cur]
        nxt = b if a == prev else a
        if nxt < 0 or nxt == s:
            break
        members.append(int(nxt))
        prev, cur = cur, int(nxt)
    return np.asarray(members, dtype=np.int64)


def _text(values: pd.Series) -> np.ndarray:
    out = np.array(values.to_numpy(dtype=object), dtype=object)  # a copy: written below
    blank = pd.isna(out) | (values.astype(str).str.strip() == "").to_numpy()
    out[blank] = None
    return out


def _merge_tiny_segments(u: np.ndarray, v: np.ndarray, lines: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Collapse segments under :data:`_MIN_SEGMENT_M` into one node.

    OSM has junctions drawn as two nodes a few centimetres apart; a segment between them is
    below mapping precision and the layer validator rejects it. Every segment end at the
    merged nodes moves (by less than half a metre) to the node with the smallest id, so the
    roads stay connected. Returns the mask of tiny segments (to drop) and the updated ends
    and lines of all segments.
    """
    tiny = np.zeros(len(lines), bool)
    if len(lines) == 0:
        return tiny, u, v, lines
    crs = metric_crs(shapely.total_bounds(lines))
    length_m = gpd.GeoSeries(lines, crs=4326).to_crs(crs).length.to_numpy()
    tiny = (length_m < _MIN_SEGMENT_M) & (u != v)
    if not tiny.any():
        return tiny, u, v, lines
    nodes, inv = np.unique(np.r_[u, v], return_inverse=True)
    inv = inv.ravel()
    n = len(u)
    iu, iv = inv[:n], inv[n:]
    graph = coo_matrix((np.ones(int(tiny.sum())), (iu[tiny], iv[tiny])), shape=(len(nodes), len(nodes)))
    _, label = connected_components(graph, directed=False)
    rep = np.full(label.max() + 1, len(nodes))
    np.minimum.at(rep, label, np.arange(len(nodes)))  # nodes are sorted: the smallest id wins
    ends = np.vstack([shapely.get_coordinates(shapely.get_point(lines, 0)),
                      shapely.get_coordinates(shapely.get_point(lines, -1))])
    node_xy = np.empty((len(nodes), 2))
    node_xy[inv] = ends
    ru, rv = rep[label[iu]], rep[label[iv]]
    moved_u, moved_v = ru != iu, rv != iv
    coords = shapely.get_coordinates(lines)
    counts = shapely.get_num_points(lines)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    coords[first[moved_u]] = node_xy[ru[moved_u]]
    coords[(first + counts - 1)[moved_v]] = node_xy[rv[moved_v]]
    lines = np.asarray(shapely.linestrings(coords, indices=np.repeat(np.arange(len(lines)), counts)), dtype=object)
    return tiny, nodes[ru], nodes[rv], lines


# --------------------------------------------------------------------------------------
# writing


def write_roads(roads: gpd.GeoDataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a roads layer to ``.geojson`` (RFC 7946) or ``.gpkg`` (layer ``roads``), atomically.

    Parameters
    ----------
    roads
        The layer from :func:`read_osm` or :func:`download_osm`.
    path
        Output file; its suffix picks the format.

    Returns
    -------
    pathlib.Path
        ``path``.

    """
    import pyogrio

    target = Path(path)
    suffix = target.suffix.lower()
    if suffix in (".geojson", ".json"):
        return write_geojson(roads, target, name="roads")
    if suffix == ".gpkg":
        with atomic_path(target) as tmp:
            pyogrio.write_dataframe(roads, tmp, layer="roads", driver="GPKG", layer_options={"SPATIAL_INDEX": "YES"})
        return target
    raise LayerError(f"{target}: cannot write roads as '{suffix or 'no suffix'}'",
                     fix="name the output .geojson or .gpkg")


def roads_summary(roads: gpd.GeoDataFrame) -> str:
    """One line describing a roads layer from this module: segments, OSM ways and length.

    Examples
    --------
    >>> roads_summary(read_osm("monaco.osm.pbf", main_roads=True))  # doctest: +SKIP
    '311 road segments (215 OSM ways, 28.4 km)'

    """
    km = roads.to_crs(metric_crs(roads.total_bounds)).length.sum() / 1000 if len(roads) else 0.0
    ways = roads["osm_id"].nunique() if "osm_id" in roads.columns else 0
    return f"{len(roads):,} road segments ({ways:,} OSM ways, {km:,.1f} km)"
