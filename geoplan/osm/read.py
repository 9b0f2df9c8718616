"""Read OpenStreetMap extracts (PBF, XML) into a geoplan roads layer.

:func:`read_osm` turns an OSM extract into a ``roads`` layer (see :data:`geoplan.layers.ROADS`):
one LineString per piece of an OSM way between two junctions, so that segment ends are the
network's nodes. ``.osm.pbf`` files are streamed with pyosmium in two passes (the kept ways,
then only the nodes they use), so memory follows the roads kept, not the file; OSM XML
(``.osm``, ``.osm.bz2``, ``.osm.gz``) goes through :func:`osmnx.graph_from_xml`.

Splitting rule (both readers): a way is cut at every node it shares with another kept way (or
visits twice), at both ends of an open way, and where it doubles back on itself. A closed way
that touches no other kept way stays one ring segment starting at its smallest node id. Pieces
of a way that run through nodes missing from a clipped extract are dropped at the gap.
"""

from __future__ import annotations

import bz2
import contextlib
import gc
import gzip
import itertools
import os
import re
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from geoplan._errors import LayerReadError
from geoplan._progress import Progress, progress_bar
from geoplan.osm.roads import (
    _ONEWAY_AGAINST,
    _WAY_TAGS,
    _finish,
    _no_roads,
    _road_classes,
)

__all__ = ["read_osm"]

_SPLIT_ATTR = "geoplan_split"
_PBF_SUFFIXES = (".osm.pbf", ".pbf")
_XML_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".xml", ".xml.bz2", ".xml.gz")


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


# --------------------------------------------------------------------------------------
# PBF (pyosmium + numpy)


def _read_pbf(path: Path, classes: tuple[str, ...], progress: bool | None, merge: bool = False) -> gpd.GeoDataFrame:
    """Stream a PBF in two passes: the kept ways (tags, node ids), then the nodes they use.

    Memory follows the roads kept: the first pass skips nodes entirely, the second keeps only
    the locations of nodes on kept ways. No index of every node in the file is built.
    """
    import osmium

    way_ids = array("q")
    rows: list[tuple[Any, ...]] = []
    lengths = array("q")
    refs = array("q")  # node ids of every kept way position, ways one after the other
    bar: Progress[None] = progress_bar(desc=f"reading {path.name}: ways", unit=" ways", enabled=progress)
    try:
        processor = (osmium.FileProcessor(str(path), osmium.osm.WAY)
                     .with_filter(osmium.filter.TagFilter(*(("highway", c) for c in classes))))
        for obj in processor:
            way = cast(Any, obj)  # a Way: the processor reads ways only
            tags = way.tags
            row = tuple(tags.get(k) for k in _WAY_TAGS)
            nodes = [nd.ref for nd in way.nodes]
            if row[5] in _ONEWAY_AGAINST:
                nodes.reverse()
            way_ids.append(way.id)
            rows.append(row)
            lengths.append(len(nodes))
            refs.extend(nodes)
            bar.update()
        bar.close()
        if not way_ids:
            raise _no_roads(str(path), classes, *_pbf_census(path))
        need = np.unique(np.frombuffer(refs, dtype=np.int64))
        node_id, node_x, node_y = _node_locations(path, need, progress)
    except LayerReadError:
        raise
    except Exception as exc:  # any libosmium failure means "unreadable file"
        if (wrong := _not_osm(path, "OSM PBF")) is not None:
            raise wrong from exc
        raise LayerReadError(f"{path}: cannot read OSM PBF: {_reason(exc)}",
                             fix="check that the file is a complete .osm.pbf extract (download it again)") from exc
    finally:
        bar.close()
    ways = pd.DataFrame(rows, columns=list(_WAY_TAGS), index=pd.Index(np.frombuffer(way_ids, dtype=np.int64),
                                                                      name="osm_id"))
    ways = ways[~ways.index.duplicated()]
    ref = np.frombuffer(refs, dtype=np.int64).copy()
    del refs
    pos = np.searchsorted(node_id, ref)
    valid = (pos < len(node_id)) & (node_id[np.minimum(pos, len(node_id) - 1)] == ref) if len(node_id) else \
        np.zeros(len(ref), dtype=bool)
    pos = np.minimum(pos, max(len(node_id) - 1, 0))
    xy = np.column_stack([node_x[pos], node_y[pos]]).astype(np.float64) * 1e-7 if len(node_id) else \
        np.zeros((len(ref), 2))
    way_of = np.repeat(np.arange(len(way_ids)), np.frombuffer(lengths, dtype=np.int64))
    seg_way, u, v, lines = _split_ways(ref, xy, valid, way_of)
    if len(lines) == 0:
        if valid.all():
            raise LayerReadError(f"{path}: none of its {len(ways)} highway way(s) of the kept classes runs between "
                                 "two different nodes (zero-length ways)",
                                 fix="the file is damaged or was edited by hand: download or extract it again")
        raise LayerReadError(f"{path}: the kept highway ways have no node locations in the file",
                             fix="extract the area again with complete ways (osmium extract --strategy complete_ways)")
    return _finish(np.frombuffer(way_ids, dtype=np.int64)[seg_way], u, v, lines, ways, merge=merge)


#: Node ids covered by one block of libosmium's id set (``IdSetDense``: 2**25 ids in 4 MiB).
_ID_BLOCK_BITS = 25
#: Memory the node-id filter of one pass may use; more blocks than this take more passes.
_ID_FILTER_BUDGET_MB = 64


def _node_locations(path: Path, need: np.ndarray, progress: bool | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ids and fixed-point (1e-7 degree) locations of the nodes ``need`` (sorted ids).

    Decoded block by block with numpy (:mod:`geoplan.osm.pbfnodes`): memory is one block plus
    the nodes kept. Files it cannot decode (LZ4/ZSTD blobs) go through pyosmium with an id
    filter (libosmium ``IdSetDense``, 4 MiB for every block of 2**25 ids holding a wanted
    node), in as many passes as keep it within :data:`_ID_FILTER_BUDGET_MB`. A node missing
    from the file (a clipped extract) is simply absent from the result.
    """
    from geoplan.osm.pbfnodes import UnsupportedPBF, node_locations

    bar: Progress[None] = progress_bar(total=path.stat().st_size, desc=f"reading {path.name}: nodes", unit="B",
                                      unit_scale=True, enabled=progress)
    with bar:
        def on_bytes(n: int) -> None:
            bar.update(n)

        try:
            return node_locations(path, need, on_bytes=on_bytes)
        except UnsupportedPBF:
            pass
    return _node_locations_filtered(path, need, progress)


def _node_locations_filtered(path: Path, need: np.ndarray, progress: bool | None
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_node_locations` through pyosmium's id filter, in passes within the memory budget."""
    ids, xs, ys = array("q"), array("q"), array("q")
    block = need >> _ID_BLOCK_BITS
    starts = np.flatnonzero(np.r_[True, block[1:] != block[:-1]])  # first wanted id of each block
    per_pass = max(1, (_ID_FILTER_BUDGET_MB << 20) // (1 << (_ID_BLOCK_BITS - 3)))
    cuts = np.r_[starts[::per_pass], len(need)] if len(need) else np.zeros(1, dtype=np.int64)
    bar: Progress[None] = progress_bar(total=len(need), desc=f"reading {path.name}: nodes", unit=" nodes",
                                      unit_scale=True, enabled=progress)
    with bar:
        for a, b in itertools.pairwise(cuts):
            _pick_nodes(path, need[a:b], ids, xs, ys)
            gc.collect()  # the id filter of this pass is freed before the next one is built
            bar.update(int(b - a))
    node_id = np.frombuffer(ids, dtype=np.int64)
    order = np.argsort(node_id, kind="stable")
    return node_id[order], np.frombuffer(xs, dtype=np.int64)[order], np.frombuffer(ys, dtype=np.int64)[order]


def _pick_nodes(path: Path, wanted: np.ndarray, ids: array[int], xs: array[int], ys: array[int]) -> None:
    """Append the id and location of every node of ``path`` whose id is in ``wanted``."""
    import osmium

    processor = osmium.FileProcessor(str(path), osmium.osm.NODE).with_filter(osmium.filter.IdFilter(wanted.tolist()))
    for obj in processor:
        node = cast(Any, obj)  # a Node: the processor reads nodes only
        loc = node.location
        ids.append(node.id)
        xs.append(loc.x)
        ys.append(loc.y)


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


def _roads_from_graph(G: Any, classes: tuple[str, ...], source: str, bar: Progress[None], merge: bool = False
                      ) -> gpd.GeoDataFrame:
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
                   edges.geometry.to_numpy(), ways, merge=merge)


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


def _read_xml(path: Path, classes: tuple[str, ...], progress: bool | None, merge: bool = False) -> gpd.GeoDataFrame:
    with progress_bar(total=3, desc=f"reading {path.name}", enabled=progress) as bar, \
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
        return _roads_from_graph(G, classes, str(path), bar, merge=merge)


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
    merge: bool = False,
    progress: bool | None = None,
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
    merge
        Join pieces that meet at a node used by no other kept road (degree 2) and share their
        class, ref, name, lanes, surface, speed and direction into one feature with the full
        geometry (the graph is the same, with fewer, longer edges); the joined feature keeps
        the ``osm_id`` of its first piece.
    progress
        Show a progress bar on stderr; ``None`` follows
        :func:`geoplan._progress.set_progress` (off in a library call, on in the ``geoplan`` command).

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
        return _check_lonlat(_read_pbf(src, classes, progress, merge), src)
    if name.endswith(_XML_SUFFIXES):
        return _check_lonlat(_read_xml(src, classes, progress, merge), src)
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
