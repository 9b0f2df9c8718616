"""OpenStreetMap readers: OSM XML, PBF and the Overpass API into a geoplan roads layer.

:func:`read_osm` turns an OSM extract into a ``roads`` layer (see :data:`geoplan.layers.ROADS`):
one LineString per piece of an OSM way between two junctions, so that segment ends are the
network's nodes. ``.osm.pbf`` files are read with pyosmium and split with numpy; OSM XML
(``.osm``, ``.osm.bz2``, ``.osm.gz``) goes through :func:`osmnx.graph_from_xml`.
:func:`download_osm` fetches the same data from an Overpass server through osmnx.

Splitting rule (both readers): a way is cut at every node it shares with another kept way (or
visits twice), at both ends of an open way, and where it doubles back on itself. A closed way
that touches no other kept way stays one ring segment starting at its smallest node id. Pieces
of a way that run through nodes missing from a clipped extract are dropped at the gap.

Examples
--------
>>> import geoplan
>>> roads = geoplan.read_osm("monaco.osm.pbf", main_roads=True)  # doctest: +SKIP
>>> net = geoplan.network.build_network(roads, snap_tolerance_m=0)  # doctest: +SKIP

"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import math
import os
import re
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from tqdm import tqdm

from geoplan._errors import LayerError, LayerReadError
from geoplan._io import atomic_path, write_geojson
from geoplan.layers import ROAD_CLASSES, metric_crs

__all__ = [
    "MAIN_ROAD_CLASSES",
    "SURFACE_OF",
    "ZONE_SPEEDS_KPH",
    "download_osm",
    "parse_maxspeed",
    "read_osm",
    "roads_summary",
    "write_roads",
]

#: ``main_roads=True`` keeps these: the inter-city network (motorway to secondary, with links).
MAIN_ROAD_CLASSES: tuple[str, ...] = ROAD_CLASSES[: ROAD_CLASSES.index("tertiary")]

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
_SPLIT_ATTR = "geoplan_split"
_SPEED_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$", re.IGNORECASE)
_PBF_SUFFIXES = (".osm.pbf", ".pbf")
_XML_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".xml", ".xml.bz2", ".xml.gz")


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


def _open_bytes(path: Path) -> Any:
    """Open an OSM file for reading bytes, decompressing ``.bz2`` and ``.gz`` files."""
    name = path.name.lower()
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    return path.open("rb")


def _not_osm(path: Path, what: str) -> LayerReadError | None:
    """Say what a file holds when it is markup other than the OSM data expected, else ``None``.

    Catches the common case of a web server's answer (often an HTML error page) saved in place
    of an extract. Reads at most the first 64 KiB, so it is cheap enough for an error path.
    """
    try:
        with _open_bytes(path) as f:
            head = f.read(1 << 16)
    except (OSError, EOFError, ValueError):
        return None
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    # The first element, after an XML declaration, a DOCTYPE or simple comments.
    match = re.match(r"(?:<[?!][^>]*>\s*)*<([A-Za-z][\w:.-]*)", text)
    if match is None or (match.group(1) == "osm" and what == "OSM XML"):
        return None
    root = match.group(1)
    if root.lower() == "html":
        found = "an HTML page, not OSM data (a web server's answer, often an error message, saved as the extract)"
        fix = "download the extract again and check that the download succeeded"
    elif root == "osm":
        found = "OSM XML, not PBF"
        fix = "name the file .osm (geoplan reads OSM XML too), or convert it: osmium cat FILE -o FILE.osm.pbf"
    else:
        found = f"XML with the root element <{root}>, not OSM data"
        fix = "pass an OpenStreetMap extract: .osm.pbf, or OSM XML (.osm, .osm.bz2, .osm.gz)"
    return LayerReadError(f"{path}: cannot read {what}: the file is {found}", fix=fix)


def _count_xml_ways(path: Path) -> int:
    """Count the ``<way>`` elements of an OSM XML file (a text scan, only to explain an empty result)."""
    pattern = re.compile(rb"<way[\s/>]")
    n, tail = 0, b""
    with _open_bytes(path) as f:
        while chunk := f.read(1 << 20):
            buf = tail + chunk
            n += len(pattern.findall(buf))
            tail = buf[-4:]  # shorter than a match: a match ending in the next chunk is counted once
    return n


def _finish(osm_id: np.ndarray, u: np.ndarray, v: np.ndarray, lines: np.ndarray,
            ways: pd.DataFrame) -> gpd.GeoDataFrame:
    """Build the roads layer from segments (way id, end node ids, line) and per-way tags."""
    tiny, u, v, lines = _merge_tiny_segments(u, v, lines)
    # A loop needs four points to be a ring; shorter ones are back-and-forth scribbles.
    keep = ~tiny & ((u != v) | (shapely.get_num_points(lines) >= 4))
    osm_id, u, v, lines = osm_id[keep], u[keep], v[keep], lines[keep]
    order = np.lexsort((v, u, osm_id))
    osm_id, u, v, lines = osm_id[order], u[order], v[order], lines[order]
    base = "w" + pd.Series(osm_id).astype(str) + ":" + pd.Series(u).astype(str) + "-" + pd.Series(v).astype(str)
    # A way that runs twice between the same two nodes (rare digitising quirk) needs distinct ids.
    dup = base.groupby(base).cumcount().to_numpy()
    ids = np.where(dup > 0, base + "#" + pd.Series(dup + 1).astype(str), base).astype(object)

    tags = ways.reindex(pd.Index(osm_id, name="osm_id"))
    highway = tags["highway"].astype(str)
    speed_of = {s: parse_maxspeed(s) for s in tags["maxspeed"].dropna().unique()}
    frame = pd.DataFrame({
        "id": ids,
        "road_class": highway.to_numpy(dtype=object),
        "road_ref": _text(tags["ref"]),
        "name": _text(tags["name"]),
        "lanes": pd.array(tags["lanes"].map(_parse_lanes).to_numpy(dtype=float), dtype="Int64"),
        "length_km": np.full(len(ids), np.nan),
        "surface": tags["surface"].map(_surface).to_numpy(dtype=object),
        "speed_kph": tags["maxspeed"].map(speed_of).astype(float).to_numpy(),
        "oneway": _oneway(tags["oneway"], tags["junction"], highway),
        "osm_id": osm_id.astype(np.int64),
    })
    frame["surface"] = frame["surface"].where(frame["surface"].notna(), None)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(lines, crs=CRS.from_epsg(4326)), crs=CRS.from_epsg(4326))


def _text(values: pd.Series) -> np.ndarray:
    out = values.to_numpy(dtype=object)
    blank = pd.isna(out) | (values.astype(str).str.strip() == "").to_numpy()
    return np.where(blank, None, out)


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
# PBF (pyosmium + numpy)


def _read_pbf(path: Path, classes: tuple[str, ...], progress: bool) -> gpd.GeoDataFrame:
    import osmium

    undefined = osmium.osm.Location().x  # the fixed-point value of a node missing from the file
    way_ids: list[int] = []
    rows: list[tuple[Any, ...]] = []
    lengths: list[int] = []
    flat = array("q")  # node id, x, y (fixed-point 1e-7 degrees) of every way position; compact
    processor = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.TagFilter(*(("highway", c) for c in classes)))
    )
    bar = tqdm(desc=f"reading {path.name}", unit=" ways", disable=None if progress else True, leave=False)
    try:
        for way in processor:
            tags = way.tags
            row = tuple(tags.get(k) for k in _WAY_TAGS)
            nodes = [(nd.ref, nd.location.x, nd.location.y) for nd in way.nodes]
            if row[5] in _ONEWAY_AGAINST:
                nodes.reverse()
            way_ids.append(way.id)
            rows.append(row)
            lengths.append(len(nodes))
            flat.extend(chain.from_iterable(nodes))
            bar.update()
    except Exception as exc:  # any libosmium failure means "unreadable file"
        if (wrong := _not_osm(path, "OSM PBF")) is not None:
            raise wrong from exc
        raise LayerReadError(f"{path}: cannot read OSM PBF: {_reason(exc)}",
                             fix="check that the file is a complete .osm.pbf extract (download it again)") from exc
    finally:
        bar.close()
    if not way_ids:
        raise _no_roads(str(path), classes, *_pbf_census(path))
    ways = pd.DataFrame(rows, columns=list(_WAY_TAGS), index=pd.Index(way_ids, name="osm_id"))
    ways = ways[~ways.index.duplicated()]
    table = np.frombuffer(flat, dtype=np.int64).reshape(-1, 3)
    ref = table[:, 0].copy()
    valid = table[:, 1] != undefined
    xy = table[:, 1:].astype(np.float64) * 1e-7
    del flat, table
    way_of = np.repeat(np.arange(len(way_ids)), lengths)
    seg_way, u, v, lines = _split_ways(ref, xy, valid, way_of)
    if len(lines) == 0:
        if valid.all():
            raise LayerReadError(f"{path}: none of its {len(ways)} highway way(s) of the kept classes runs between "
                                 "two different nodes (zero-length ways)",
                                 fix="the file is damaged or was edited by hand: download or extract it again")
        raise LayerReadError(f"{path}: the kept highway ways have no node locations in the file",
                             fix="extract the area again with complete ways (osmium extract --strategy complete_ways)")
    return _finish(np.asarray(way_ids, dtype=np.int64)[seg_way], u, v, lines, ways)


def _pbf_census(path: Path) -> tuple[Counter[str], int]:
    """Highway classes and the number of ways in the file (only to explain an empty result)."""
    import osmium

    found: Counter[str] = Counter()
    n_ways = 0
    for way in osmium.FileProcessor(str(path), osmium.osm.WAY):
        n_ways += 1
        hw = way.tags.get("highway")
        if hw is not None:
            found[hw] += 1
    return found, n_ways


def _split_ways(ref: np.ndarray, xy: np.ndarray, valid: np.ndarray, way_of: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cut ways (flat node lists) into junction-to-junction LineStrings, vectorised.

    Parameters
    ----------
    ref, xy, valid, way_of
        Node id, lon/lat, "location known" and way index of every way position, ways one
        after the other in travel order.

    Returns
    -------
    way, u, v, lines
        Way index, first and last node id and LineString of every segment.

    """
    # Drop consecutive repeats of a node (as osmnx does), then cut ways into parts at nodes
    # missing from the file (clipped extracts).
    rep = np.r_[False, (ref[1:] == ref[:-1]) & (way_of[1:] == way_of[:-1])]
    ref, xy, valid, way_of = ref[~rep], xy[~rep], valid[~rep], way_of[~rep]
    part = np.cumsum(np.r_[True, way_of[1:] != way_of[:-1]] | np.r_[True, ~valid[:-1]])
    ref, xy, way_of, part = ref[valid], xy[valid], way_of[valid], part[valid]
    # A lone located node between gaps is no road and must not count as a junction.
    sizes = np.bincount(part)
    ref, xy, way_of, part = (a[sizes[part] >= 2] for a in (ref, xy, way_of, part))
    if len(ref) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, object)
    part = np.unique(part, return_inverse=True)[1].ravel()
    n = len(ref)
    start = np.flatnonzero(np.r_[True, part[1:] != part[:-1]])
    length = np.diff(np.r_[start, n])
    last = start + length - 1
    closed = (length >= 3) & (ref[start] == ref[last])
    ring_len = np.where(closed, length - 1, length)  # distinct positions (a ring's end repeats its start)
    pos = np.arange(n) - np.repeat(start, length)
    p_len, p_closed, p_start = np.repeat(ring_len, length), np.repeat(closed, length), np.repeat(start, length)
    closing = p_closed & (pos == p_len)

    # Cut where a node is used more than once by the kept ways (a ring's end counted once) ...
    inv = np.unique(ref, return_inverse=True)[1].ravel()
    split = np.bincount(inv[~closing], minlength=inv.max() + 1)[inv] > 1
    # ... at both ends of an open part ...
    split[start[~closed]] = True
    split[last[~closed]] = True
    # ... and where a way doubles back on itself (a-b-a turns at b; osmnx cuts there too).
    idx = np.arange(n)
    prev = np.where(pos == 0, np.where(p_closed, p_start + p_len - 1, -1), idx - 1)
    nxt = np.where(pos >= p_len - 1, np.where(p_closed, p_start, -1), idx + 1)
    inner = (prev >= 0) & (nxt >= 0) & ~closing
    split[inner] |= ref[prev[inner]] == ref[nxt[inner]]
    split[closing] = False

    # Rings start at their first cut, or at their smallest node id when nothing cuts them.
    big = np.iinfo(np.int64).max
    first_cut = np.full(len(start), big)
    cut_at = np.flatnonzero(split)
    np.minimum.at(first_cut, part[cut_at], pos[cut_at])
    lone = closed & (first_cut == big)
    if lone.any():
        candidate = np.repeat(lone, length) & ~closing
        smallest = np.full(len(start), big)
        np.minimum.at(smallest, part[candidate], ref[candidate])
        at_min = candidate & (ref == smallest[part])
        np.minimum.at(first_cut, part[at_min], pos[at_min])
        split[at_min] = True
    offset = np.where(closed, first_cut, 0)

    # Rotate rings so they run from that node round to itself (k = length-1 lands on the start
    # again); open parts keep their order.
    k = pos
    src = p_start + (k + np.repeat(offset, length)) % p_len
    cut = split[src]
    cut[start] = True
    cut[last] = True
    ref, xy = ref[src], xy[src]

    # Segments run between consecutive cuts of the same part.
    cuts = np.flatnonzero(cut)
    same = part[cuts[1:]] == part[cuts[:-1]]
    seg_a, seg_b = cuts[:-1][same], cuts[1:][same]
    n_pts = seg_b - seg_a + 1
    first = np.r_[0, np.cumsum(n_pts)[:-1]]
    take = np.repeat(seg_a, n_pts) + np.arange(n_pts.sum()) - np.repeat(first, n_pts)
    lines = shapely.linestrings(xy[take], indices=np.repeat(np.arange(len(seg_a)), n_pts))
    return way_of[seg_a], ref[seg_a], ref[seg_b], np.asarray(lines, dtype=object)


# --------------------------------------------------------------------------------------
# XML and Overpass (osmnx)


@contextlib.contextmanager
def _osmnx_settings(**overrides: Any) -> Iterator[Any]:
    """Temporarily set osmnx settings (restored afterwards, even on error)."""
    import osmnx as ox

    saved = {k: getattr(ox.settings, k) for k in overrides}
    try:
        for k, v in overrides.items():
            setattr(ox.settings, k, v)
        yield ox
    finally:
        for k, v in saved.items():
            setattr(ox.settings, k, v)


def _graph_settings() -> dict[str, Any]:
    # all_oneway: one edge per OSM node pair in drawing order (ways tagged oneway=-1 reversed),
    # and osmnx keeps the raw oneway tag instead of replacing it with a bool.
    return {"all_oneway": True, "useful_tags_way": list(_WAY_TAGS)}


def _roads_from_graph(G: Any, classes: tuple[str, ...], source: str, bar: Any) -> gpd.GeoDataFrame:
    """Convert an unsimplified osmnx graph (built with ``all_oneway``) into the roads layer."""
    import osmnx as ox

    n_ways_all = len({d for _, _, d in G.edges(data="osmid")})
    found: Counter[str] = Counter()
    drop = []
    way_class: dict[int, Any] = {}
    for u, v, k, d in G.edges(keys=True, data=True):
        hw = d.get("highway")
        way_class[d["osmid"]] = hw
        if hw not in classes:
            drop.append((u, v, k))
    for hw in way_class.values():
        if hw is not None:
            found[str(hw)] += 1
    G.remove_edges_from(drop)  # the graph is ours: graph_from_* built it for this call
    G.remove_nodes_from([n for n, deg in G.degree() if deg == 0])
    if G.number_of_edges() == 0:
        raise _no_roads(source, classes, found, n_ways_all)
    bar.update()
    _mark_split_nodes(G)
    G = ox.simplify_graph(G, node_attrs_include=[_SPLIT_ATTR], remove_rings=False)
    bar.update()
    edges = ox.convert.graph_to_gdfs(G, nodes=False, fill_edge_geometry=True).reset_index()
    for col in _WAY_TAGS:
        if col not in edges.columns:
            edges[col] = None
    ways = edges.drop_duplicates("osmid").set_index("osmid")[list(_WAY_TAGS)]
    ways.index = ways.index.astype(np.int64)
    ways = ways.map(lambda x: x if not isinstance(x, list) else x[0])
    return _finish(edges["osmid"].to_numpy(np.int64), edges["u"].to_numpy(np.int64), edges["v"].to_numpy(np.int64),
                   edges.geometry.to_numpy(), ways)


def _mark_split_nodes(G: Any) -> None:
    """Flag the nodes where :func:`_split_ways` would cut, so osmnx keeps them as endpoints."""
    data = [(u, v, d) for u, v, d in G.edges(data="osmid")]
    e = pd.DataFrame(data, columns=["u", "v", "way"])
    out_n = e.groupby(["u", "way"]).size().rename_axis(["node", "way"])
    in_n = e.groupby(["v", "way"]).size().rename_axis(["node", "way"])
    both = pd.concat([out_n.rename("out"), in_n.rename("in")], axis=1).fillna(0)
    visits = both.max(axis=1).groupby(level="node").sum()
    way_end = (both["out"] != both["in"]).groupby(level="node").any()
    split = (visits > 1) | way_end
    # A way doubling back (a-b-a) turns at b: b's only neighbour on both sides is a.
    pairs = pd.concat([e[["u", "v"]].rename(columns={"u": "node", "v": "nb"}),
                       e[["v", "u"]].rename(columns={"v": "node", "u": "nb"})])
    n_nb = pairs.drop_duplicates().groupby("node").size()
    split |= (n_nb.reindex(split.index) == 1) & (visits == 1)
    # Rings touching nothing else start at their smallest node id.
    nodes = np.asarray(split.index)
    iu, iv = np.searchsorted(nodes, e["u"].to_numpy()), np.searchsorted(nodes, e["v"].to_numpy())
    graph = coo_matrix((np.ones(len(e)), (iu, iv)), shape=(len(nodes), len(nodes)))
    _, comp = connected_components(graph, directed=False)
    comp_has = np.bincount(comp, weights=split.to_numpy().astype(float), minlength=comp.max() + 1) > 0
    lone = ~comp_has[comp]
    if lone.any():
        smallest = pd.Series(nodes[lone]).groupby(comp[lone]).min().to_numpy()
        split.loc[smallest] = True
    for n in split.index[split.to_numpy()]:
        G.nodes[n][_SPLIT_ATTR] = True


def _read_xml(path: Path, classes: tuple[str, ...], progress: bool) -> gpd.GeoDataFrame:
    with tqdm(total=3, desc=f"reading {path.name}", disable=None if progress else True, leave=False) as bar, \
            _osmnx_settings(**_graph_settings()) as ox:
        try:
            G = ox.graph_from_xml(path, simplify=False, retain_all=True, bidirectional=False)
        except Exception as exc:
            if "missing nodes" in str(exc):
                raise LayerReadError(f"{path}: ways reference nodes that are not in the file (a clipped extract)",
                                     fix="convert it to PBF (`osmium cat FILE -o FILE.osm.pbf`): geoplan reads PBF "
                                     "extracts with missing nodes, cutting the ways there; or extract again with "
                                     "complete ways (osmium extract --strategy complete_ways)") from exc
            if (wrong := _not_osm(path, "OSM XML")) is not None:
                raise wrong from exc
            if "No data elements" in str(exc):
                raise _no_roads(str(path), classes, Counter(), 0) from exc
            raise LayerReadError(f"{path}: cannot read OSM XML: {_reason(exc)}",
                                 fix="check that the file is complete OSM XML (.osm, .osm.bz2 or .osm.gz); "
                                 "download it again") from exc
        bar.update()
        if G.number_of_edges() == 0:
            # osmnx drops ways without two different nodes in a row; say so rather than "no ways".
            n_ways = _count_xml_ways(path)
            if n_ways:
                raise LayerReadError(f"{path}: none of its {n_ways} OSM way(s) runs between two different nodes "
                                     "(zero-length ways)",
                                     fix="the file is damaged or was edited by hand: download or extract it again")
            raise _no_roads(str(path), classes, Counter(), 0)
        return _roads_from_graph(G, classes, str(path), bar)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --------------------------------------------------------------------------------------
# public API


def read_osm(
    path: str | os.PathLike[str],
    *,
    road_classes: Iterable[str] | None = None,
    main_roads: bool = False,
    progress: bool = False,
) -> gpd.GeoDataFrame:
    """Read an OpenStreetMap extract as a geoplan roads layer.

    Parameters
    ----------
    path
        An ``.osm.pbf`` file (read with pyosmium), or OSM XML: ``.osm``, ``.osm.bz2`` or
        ``.osm.gz`` (read with :func:`osmnx.graph_from_xml`).
    road_classes
        ``highway=*`` values to keep (a subset of :data:`geoplan.layers.ROAD_CLASSES`).
        Default: all of them. Other highway values (footway, cycleway, path, steps,
        construction, proposed, ...) are always dropped.
    main_roads
        Keep only :data:`MAIN_ROAD_CLASSES` (motorway to secondary, with their links).
    progress
        Show a progress bar on stderr.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 LineStrings, one per way piece between junctions, with the roads layer
        columns ``id`` (``w<way>:<first node>-<last node>``), ``road_class``, ``road_ref``,
        ``name``, ``lanes``, ``length_km`` (empty: the line's length is used), ``surface``,
        ``speed_kph`` (from ``maxspeed``), ``oneway`` (1 = along the line only; ways tagged
        ``oneway=-1`` are reversed), and ``osm_id`` (the way id). Sorted by ``osm_id``, then
        end nodes.

    Raises
    ------
    LayerReadError
        The file is missing, unreadable, of an unknown format, or holds no roads of the
        requested classes.
    LayerError
        Unknown road classes, or both ``main_roads`` and ``road_classes``.

    """
    src = Path(path)
    classes = _road_classes(road_classes, main_roads)
    name = src.name.lower()
    if not src.is_file():
        raise LayerReadError(f"{src}: no such file", fix="pass the path of an .osm.pbf, .osm or .osm.bz2 extract")
    if name.endswith(_PBF_SUFFIXES):
        return _check_lonlat(_read_pbf(src, classes, progress), src)
    if name.endswith(_XML_SUFFIXES):
        return _check_lonlat(_read_xml(src, classes, progress), src)
    raise LayerReadError(f"{src}: unknown OSM file type",
                         fix="pass an .osm.pbf, .osm, .osm.bz2 or .osm.gz file (convert others with `osmium cat`)")


def _check_lonlat(roads: gpd.GeoDataFrame, src: Path) -> gpd.GeoDataFrame:
    """Refuse roads with node positions no OSM file can hold (a damaged or hand-edited file)."""
    bounds = shapely.bounds(roads.geometry.to_numpy())
    bad = ~(np.isfinite(bounds).all(axis=1) & (bounds[:, 0] >= -180) & (bounds[:, 2] <= 180)
            & (bounds[:, 1] >= -90) & (bounds[:, 3] <= 90))
    if bad.any():
        ids = roads["id"].to_numpy()[bad]
        more = f" and {len(ids) - 5} more" if len(ids) > 5 else ""
        raise LayerReadError(f"{src}: road(s) {', '.join(map(str, ids[:5]))}{more} have nodes outside longitude "
                             "-180..180 / latitude -90..90",
                             fix="the file is damaged or was edited by hand: download or extract it again")
    return roads


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
    progress: bool = False,
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
        Show a progress bar on stderr.

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
    with tqdm(total=3, desc="downloading OSM roads", disable=None if progress else True, leave=False) as bar, \
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
