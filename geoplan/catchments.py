"""Nested travel-time catchments (isochrones) around growth centres, with the people inside.

A catchment band of ``B`` minutes is the area from which the centre is reached within ``B``
minutes by the cost model of the travel-time surface (:mod:`geoplan.surface`): off-road in a
straight line at ``offroad_kph`` to a road, then along the network at its speeds. For each
centre one Dijkstra search on the reversed network (so one-way roads count in the direction of
travel *to* the centre) gives the time ``t_v`` from every node to the centre. A point at
distance ``s`` along an edge ``u -> v`` of ``m`` minutes and drawn length ``L`` reaches the
centre in ``t_v + (1 - s / L) m`` minutes, so the off-road budget left there is
``B - t_v - (1 - s / L) m`` and the points within that many minutes off-road are reached. Along
a straight piece of road the radius changes linearly, and the union of discs with a linearly
changing radius is exactly the convex hull of its two end discs: a band is the union of those
hulls (one per reached line segment, cut where the budget runs out) and the disc around the
centre itself. Discs are drawn as inscribed 32-gons, so every point inside a band is within
its time (to 0.5 % of the radius), and road lines are simplified to 50 m first.

Bands are built incrementally (band ``k`` is band ``k - 1`` united with the pieces of band
``k``), so they are nested; they can be clipped to the country (``area``). Each band counts the
people living inside it: the centre, the towns and the settlements whose points it contains,
each place once (a settlement linked to a town or centre by ``town_id``/``centre_id`` is that
town or centre). Areas are measured in a Lambert azimuthal equal-area projection centred on
the network.

:func:`reached_edges` lists the road pieces reached from a centre (outwards) within each band.

Examples
--------
>>> import geoplan
>>> from geoplan.network import build_network
>>> from geoplan.catchments import catchment_bands
>>> layers = geoplan.read_layers(geoplan.embedded_layers_path())
>>> net = build_network(layers.roads)
>>> kar = layers.centres[layers.centres["id"] == "karaganda"]
>>> c = catchment_bands(net, kar, bands=(30, 60), towns=layers.towns)
>>> c[["centre", "band"]].to_numpy().tolist()
[['karaganda', 30], ['karaganda', 60]]
>>> "shakhtinsk" in c["towns"].iloc[1]
True
>>> bool(c["population"].iloc[1] > c["population"].iloc[0] > 0)
True
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geoplan._errors import AnalysisError
from geoplan._progress import progress_bar
from geoplan.network import RoadNetwork, attach_places
from geoplan.settings import CATCHMENT_BANDS, OFFROAD_KPH
from geoplan.traveltime import travel_times_from

__all__ = ["DEFAULT_BANDS", "DEFAULT_OFFROAD_KPH", "catchment_bands", "reached_edges"]

#: Default catchment bands, minutes.
DEFAULT_BANDS: tuple[int, ...] = CATCHMENT_BANDS
#: Off-road speed, km/h: the surface's default (the network's ``track`` speed).
DEFAULT_OFFROAD_KPH: float = OFFROAD_KPH
#: Vertices of the polygon drawn for a disc (inscribed: its area is 99.4 % of the disc's).
_CIRCLE_POINTS = 32
_UNIT_CIRCLE = np.column_stack([np.cos(np.arange(_CIRCLE_POINTS) * 2 * np.pi / _CIRCLE_POINTS),
                                np.sin(np.arange(_CIRCLE_POINTS) * 2 * np.pi / _CIRCLE_POINTS)])
#: Road lines are simplified to this tolerance (metres) before the corridors are drawn.
_SIMPLIFY_M = 50.0
#: Segments per vectorised batch (bounds the memory of the circle coordinates).
_CHUNK = 20_000


# --------------------------------------------------------------------------------------
# inputs


def _check_bands(bands: Sequence[float]) -> tuple[int, ...]:
    try:
        values = [float(b) for b in bands]
    except (TypeError, ValueError):
        raise AnalysisError(f"catchment bands must be numbers of minutes, got {bands!r}",
                            fix="give whole minutes, e.g. 30,60,90,120") from None
    if not values:
        raise AnalysisError("no catchment bands given", fix="give whole minutes, e.g. 30,60,90,120")
    bad = [b for b in values if not (np.isfinite(b) and b > 0 and float(b).is_integer())]
    if bad:
        raise AnalysisError(f"catchment bands must be positive whole minutes, got {', '.join(map(str, bad))}",
                            fix="give whole minutes, e.g. 30,60,90,120")
    return tuple(sorted({int(b) for b in values}))


def _check_places(gdf: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise AnalysisError(f"{what} must be a GeoDataFrame of points, got {type(gdf).__name__}",
                            fix=f"pass the {what} layer (e.g. layers.{what})")
    if "id" not in gdf.columns:
        raise AnalysisError(f"the {what} layer has no 'id' column", fix="add a unique 'id' to every feature")
    if gdf.crs is None:
        raise AnalysisError(f"the {what} layer has no CRS", fix="assign the CRS of its coordinates (e.g. EPSG:4326)")
    dup = gdf["id"].astype(str).duplicated()
    if dup.any():
        raise AnalysisError(f"{what}: duplicate ids {', '.join(sorted(set(gdf.loc[dup, 'id'].astype(str))))}",
                            fix="give every feature a unique id")
    return gdf.to_crs(4326).reset_index(drop=True)


def _ensure_attached(net: RoadNetwork, places: list[gpd.GeoDataFrame]) -> RoadNetwork:
    """Attach the places that are not attached to ``net`` yet (with the default access speed).

    A place counts as attached when it has an access leg, or is the isolated node that
    :func:`~geoplan.network.attach_places` leaves for a place too far from every road. A road
    node that merely carries the place's id (schematic layers name junctions after towns) is
    not enough: times are measured from the place's own point, as in the travel-time analysis.
    """
    roads = pd.Series(net.edge_road, dtype=object).astype(str)
    legs = set(roads[roads.str.startswith("access:")].str.slice(len("access:")))
    degree = np.bincount(net.edge_u, minlength=net.n_nodes) + np.bincount(net.edge_v, minlength=net.n_nodes)
    have = legs | set(map(str, net.node_id[degree == 0]))
    frames = [p.loc[~p["id"].astype(str).isin(have), ["id", "geometry"]] for p in places]
    missing = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(missing) == 0:
        return net
    missing = gpd.GeoDataFrame(missing, geometry="geometry", crs=4326).drop_duplicates("id")
    attached, _ = attach_places(net, missing)
    return attached


def _place_name(gdf: gpd.GeoDataFrame) -> np.ndarray:
    for col in ("name_en", "name"):
        if col in gdf.columns:
            names = gdf[col].astype(object)
            return np.where(names.isna(), gdf["id"].astype(str), names.astype(str)).astype(object)
    return gdf["id"].astype(str).to_numpy(dtype=object)


# --------------------------------------------------------------------------------------
# reach


def _substrings(lines: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Cut each line between distances ``start`` and ``end`` from its first vertex.

    Vectorised over all lines: the vertices strictly inside each interval are kept and the two
    cut points are interpolated (the same result as :func:`shapely.ops.substring`, without a
    Python loop).
    """
    if len(lines) == 0:
        return np.empty(0, dtype=object)
    coords, owner = shapely.get_coordinates(lines, return_index=True)
    seg = np.zeros(len(coords))
    step = np.hypot(*np.diff(coords, axis=0).T)
    same = owner[1:] == owner[:-1]
    seg[1:] = np.where(same, step, 0.0)
    # Distance of each vertex from its line's first vertex.
    cum = np.cumsum(seg)
    first = np.r_[0, np.flatnonzero(~same) + 1]
    cum -= np.repeat(cum[first], np.diff(np.r_[first, len(coords)]))
    inner = (cum > start[owner]) & (cum < end[owner])
    a = shapely.get_coordinates(shapely.line_interpolate_point(lines, start))
    b = shapely.get_coordinates(shapely.line_interpolate_point(lines, end))
    n = len(lines)
    # Sort key: cut start (rank 0), inner vertices in order (rank 1), cut end (rank 2).
    all_xy = np.vstack([a, coords[inner], b])
    all_owner = np.r_[np.arange(n), owner[inner], np.arange(n)]
    rank = np.r_[np.zeros(n), np.ones(inner.sum()), np.full(n, 2.0)]
    pos = np.r_[np.zeros(n), np.flatnonzero(inner), np.zeros(n)]
    order = np.lexsort((pos, rank, all_owner))
    return np.asarray(shapely.linestrings(all_xy[order], indices=all_owner[order]), dtype=object)


def _reverse_edges(net: RoadNetwork) -> np.ndarray:
    """For each edge, an edge going back along the same road (``v -> u``, same road id), or -1."""
    road = pd.factorize(net.edge_road.astype(str))[0]
    fwd = pd.DataFrame({"u": net.edge_u, "v": net.edge_v, "r": road, "i": np.arange(net.n_edges)})
    back = fwd.rename(columns={"u": "v", "v": "u", "i": "j"})
    m = fwd.merge(back, on=["u", "v", "r"], how="left").drop_duplicates("i", keep="first").sort_values("i")
    return m["j"].fillna(-1).to_numpy(dtype=np.int64)


@dataclass
class _Reach:
    """Per-network data shared by every centre and band."""

    net: RoadNetwork
    lines_m: np.ndarray  # metric geometry of each edge (None for access legs)
    length_m: np.ndarray
    canonical: np.ndarray  # the road edges drawn: one of each two-way pair, every one-way edge
    twin: np.ndarray
    to_m: Transformer
    to_geo: Transformer

    @classmethod
    def of(cls, net: RoadNetwork) -> _Reach:
        to_m = Transformer.from_crs(4326, net.metric_crs, always_xy=True)
        to_geo = Transformer.from_crs(net.metric_crs, 4326, always_xy=True)
        road = net.edge_class.astype(str) != "access"
        lines_m = np.full(net.n_edges, None, dtype=object)
        lines_m[road] = shapely.transform(net.edge_geometry[road], lambda xy: np.column_stack(to_m.transform(*xy.T)))
        length_m = np.zeros(net.n_edges)
        length_m[road] = shapely.length(lines_m[road])
        twin = _reverse_edges(net)
        twin = np.where((twin >= 0) & road[np.maximum(twin, 0)], twin, -1)
        canonical = road & ((twin < 0) | (np.arange(net.n_edges) < twin))
        return cls(net, lines_m, length_m, canonical, twin, to_m, to_geo)

    def fractions(self, t: np.ndarray, band: float) -> np.ndarray:
        """Share of each directed edge reached from its start node within ``band`` minutes."""
        net = self.net
        tu = t[net.edge_u]
        m = net.edge_minutes
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(m > 0, (band - tu) / m, np.where(tu <= band, 1.0, 0.0))
        return np.where(np.isfinite(tu), np.clip(f, 0.0, 1.0), 0.0)

    def pieces(self, t: np.ndarray, band: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Reached pieces as (edge index, start fraction, end fraction) along canonical edges."""
        a = self.fractions(t, band)
        b = np.where(self.twin >= 0, a[np.maximum(self.twin, 0)], 0.0)
        full = self.canonical & (a + b >= 1.0)
        head = self.canonical & ~full & (a > 0)
        tail = self.canonical & ~full & (b > 0)
        e_full, e_head, e_tail = np.flatnonzero(full), np.flatnonzero(head), np.flatnonzero(tail)
        edge = np.r_[e_full, e_head, e_tail]
        start = np.r_[np.zeros(len(e_full)), np.zeros(len(e_head)), 1.0 - b[e_tail]]
        end = np.r_[np.ones(len(e_full)), a[e_head], np.ones(len(e_tail))]
        order = np.lexsort((start, edge))
        return edge[order], start[order], end[order]

    def geometry_m(self, edge: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Metric geometries of the pieces (whole edges reuse their line)."""
        lines = self.lines_m[edge]
        whole = (start <= 0.0) & (end >= 1.0)
        out: np.ndarray = np.array(lines, dtype=object)
        cut = ~whole
        if cut.any():
            length = self.length_m[edge[cut]]
            out[cut] = _substrings(lines[cut], start[cut] * length, end[cut] * length)
        return np.asarray(out)


def _iter_reach(
    net: RoadNetwork, centre_ids: np.ndarray, bands: tuple[int, ...], progress: bool | None, what: str,
) -> Iterator[tuple[int, np.ndarray]]:
    """Travel times from each centre, one Dijkstra search per centre limited to the last band."""
    src = net.index_of(list(centre_ids))
    bar = progress_bar(range(len(src)), desc=what, unit="centre", enabled=progress)
    for k in bar:
        yield k, travel_times_from(net, src[k:k + 1], cutoff=float(bands[-1]))[0]


def _equal_area_crs(net: RoadNetwork) -> CRS:
    lon0 = float(np.nanmean([np.nanmin(net.node_x), np.nanmax(net.node_x)])) if net.n_nodes else 0.0
    lat0 = float(np.nanmean([np.nanmin(net.node_y), np.nanmax(net.node_y)])) if net.n_nodes else 0.0
    return CRS.from_proj4(f"+proj=laea +lat_0={lat0:.4f} +lon_0={lon0:.4f} +datum=WGS84 +units=m +no_defs")


# --------------------------------------------------------------------------------------
# corridors: road + off-road reach


def _discs(xy: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Inscribed polygons of the discs of ``radius`` around ``xy`` (points for a zero radius)."""
    ring = _circle_coords(xy, radius)
    n = len(xy)
    return np.asarray(shapely.convex_hull(shapely.multipoints(ring.reshape(-1, 2),
                                                              indices=np.repeat(np.arange(n), _CIRCLE_POINTS))),
                      dtype=object) if n else np.empty(0, dtype=object)


def _circle_coords(xy: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """``(n, _CIRCLE_POINTS, 2)`` points on the circle of each radius (vertices of an inscribed polygon)."""
    out: np.ndarray = xy[:, None, :] + radius[:, None, None] * _UNIT_CIRCLE[None, :, :]
    return out


@dataclass
class _Corridors:
    """Per-network geometry of the reach corridors, shared by every centre and band.

    Each road edge ``u -> v`` is held as its metric line reversed (from ``v`` back to ``u``),
    simplified to :data:`_SIMPLIFY_M`: the direction in which the budget left shrinks when
    travelling towards the centre. ``frac`` is each vertex's share of the line's length from
    ``v``.
    """

    net: RoadNetwork
    reverse: csr_matrix  # minutes, transposed: a search from the centre gives times *to* it
    edges: np.ndarray  # road edge indexes
    xy: np.ndarray  # vertex coordinates, metric
    owner: np.ndarray  # position in ``edges`` of each vertex
    frac: np.ndarray  # 0 at v .. 1 at u
    m_per_min: float  # off-road metres per minute
    to_m: Transformer

    @classmethod
    def of(cls, net: RoadNetwork, offroad_kph: float) -> _Corridors:
        to_m = Transformer.from_crs(4326, net.metric_crs, always_xy=True)
        access = net.edge_class.astype(str) == "access"
        # Access legs are straight lines off the roads: they count at the off-road speed.
        minutes = np.where(access, net.edge_km / offroad_kph * 60.0, net.edge_minutes)
        timed = replace(net, edge_minutes=minutes, _csr_cache={}, _index_cache={})
        reverse = timed.csr(weight="minutes").T.tocsr()
        edges = np.flatnonzero(~access)
        lines = shapely.transform(shapely.reverse(net.edge_geometry[edges]),
                                  lambda xy: np.column_stack(to_m.transform(*xy.T)))
        lines = shapely.simplify(lines, _SIMPLIFY_M, preserve_topology=False)
        xy, owner = shapely.get_coordinates(lines, return_index=True)
        step = np.r_[0.0, np.hypot(*np.diff(xy, axis=0).T)]
        step[np.r_[True, owner[1:] != owner[:-1]]] = 0.0
        cum = np.cumsum(step)
        first = np.r_[0, np.flatnonzero(owner[1:] != owner[:-1]) + 1]
        cum -= np.repeat(cum[first], np.diff(np.r_[first, len(xy)]))
        total = np.bincount(owner, weights=step, minlength=len(edges))
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(total[owner] > 0, cum / total[owner], 0.0)
        return cls(timed, reverse, edges, xy, owner, frac, offroad_kph * 1000.0 / 60.0, to_m)

    def times_to(self, node: int, limit: float) -> np.ndarray:
        """Minutes from every node to ``node`` (inf beyond ``limit``): one-way roads respected."""
        return np.asarray(dijkstra(self.reverse, directed=True, indices=node, limit=limit), dtype=float)

    def hulls(self, t: np.ndarray, band: float) -> np.ndarray:
        """Return the reach corridors of one band: metric polygons, one per reached line segment.

        Along a segment the budget left, and so the off-road radius, changes linearly; the
        points within reach of it are exactly the convex hull of its two end discs.
        """
        net = self.net
        e = self.edges
        t_end = t[net.edge_v[e]]
        m = net.edge_minutes[e]
        reached = np.isfinite(t_end) & (t_end < band)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(m > 0, (band - t_end) / m, np.inf)
        share = np.where(reached, share, 0.0)
        whole = share >= 1.0
        o = self.owner
        keep = reached[o] & (whole[o] | (self.frac < share[o]))
        # The point where the budget runs out, on edges reached only in part.
        part = np.flatnonzero(reached & ~whole)
        key = o * 2.0 + self.frac
        hi = np.minimum(np.searchsorted(key, part * 2.0 + share[part], side="left"), max(len(key) - 1, 0))
        lo = np.maximum(hi - 1, 0)
        span = self.frac[hi] - self.frac[lo]
        w = np.where(span > 0, (share[part] - self.frac[lo]) / np.where(span > 0, span, 1.0), 0.0)
        cut_xy = self.xy[lo] + w[:, None] * (self.xy[hi] - self.xy[lo])
        owner = np.r_[o[keep], part]
        frac = np.r_[self.frac[keep], share[part]]
        xy = np.vstack([self.xy[keep], cut_xy])
        left = np.maximum(band - t_end[owner] - frac * m[owner], 0.0)
        left[len(o[keep]):] = 0.0
        order = np.lexsort((frac, owner))
        owner, xy, radius = owner[order], xy[order], left[order] * self.m_per_min
        pair = np.flatnonzero((owner[1:] == owner[:-1]) & ((radius[1:] > 0) | (radius[:-1] > 0)))
        out: list[np.ndarray] = []
        for s in range(0, len(pair), _CHUNK):
            a = pair[s:s + _CHUNK]
            ring = np.concatenate([_circle_coords(xy[a], radius[a]), _circle_coords(xy[a + 1], radius[a + 1])], axis=1)
            owner = np.repeat(np.arange(len(a)), 2 * _CIRCLE_POINTS)
            out.append(np.asarray(shapely.convex_hull(shapely.multipoints(ring.reshape(-1, 2), indices=owner)),
                                  dtype=object))
        return np.concatenate(out) if out else np.empty(0, dtype=object)


def _clip_area(area: shapely.Geometry | gpd.GeoSeries | gpd.GeoDataFrame | None, crs: CRS) -> shapely.Geometry | None:
    if area is None:
        return None
    if isinstance(area, gpd.GeoDataFrame):
        area = area.geometry
    if isinstance(area, shapely.Geometry):
        area = gpd.GeoSeries([area], crs=4326)
    if not isinstance(area, gpd.GeoSeries) or area.crs is None:
        raise AnalysisError("the catchment area must be a shapely geometry (EPSG:4326) or a GeoSeries/GeoDataFrame "
                            "with a CRS", fix="pass the country boundary, e.g. the boundaries layer at level 0")
    if area.crs.is_geographic:
        # Long straight edges in degrees (a box) follow parallels and meridians, not chords.
        area = area.segmentize(0.01)
    geom = shapely.union_all(shapely.make_valid(area.to_crs(crs).to_numpy()))
    if shapely.is_empty(geom) or shapely.area(geom) <= 0:
        raise AnalysisError("the catchment area is empty", fix="pass a polygon covering the centres (the country)")
    shapely.prepare(geom)
    return geom


# --------------------------------------------------------------------------------------
# people


def _population(gdf: gpd.GeoDataFrame, what: str) -> np.ndarray:
    if "population" not in gdf.columns:
        return np.zeros(len(gdf), dtype=np.int64)
    raw = gdf["population"]
    pop = pd.to_numeric(raw, errors="coerce")
    bad = (pop.isna() & raw.notna()) | (pop < 0)
    if bad.any():
        ids = ", ".join(gdf.loc[bad, "id"].astype(str).head(5))
        raise AnalysisError(f"{what}: population is not a number >= 0 for {ids}",
                            fix="give each population as a whole number of people, or leave it empty")
    return pop.fillna(0).round().to_numpy(dtype=np.int64)


def _people(centres: gpd.GeoDataFrame, towns: gpd.GeoDataFrame | None,
            settlements: gpd.GeoDataFrame | None) -> pd.DataFrame:
    """One row per place to count (each place once): lon, lat, population, town id (or None).

    A town that is also a centre (same id) counts once, as the town; a settlement whose
    ``town_id``/``centre_id`` names a town or centre given here is left to that town or centre.
    """
    frames = []
    town_ids: set[str] = set()
    if towns is not None:
        town_ids = set(towns["id"].astype(str))
        frames.append(pd.DataFrame({"x": towns.geometry.x, "y": towns.geometry.y,
                                    "population": _population(towns, "towns"),
                                    "town": towns["id"].astype(str).to_numpy(dtype=object)}))
    centre_ids = set(centres["id"].astype(str))
    own = ~centres["id"].astype(str).isin(town_ids).to_numpy()
    frames.append(pd.DataFrame({"x": centres.geometry.x[own], "y": centres.geometry.y[own],
                                "population": _population(centres, "centres")[own], "town": None}))
    if settlements is not None:
        linked = np.zeros(len(settlements), dtype=bool)
        for col, known in (("town_id", town_ids), ("centre_id", centre_ids)):
            if col in settlements.columns:
                linked |= settlements[col].astype(object).map(lambda v, k=known: isinstance(v, str) and v in k
                                                              ).to_numpy(dtype=bool)
        keep = ~linked
        frames.append(pd.DataFrame({"x": settlements.geometry.x[keep], "y": settlements.geometry.y[keep],
                                    "population": _population(settlements, "settlements")[keep], "town": None}))
    return pd.concat(frames, ignore_index=True)


def _inside(poly: shapely.Geometry, people: pd.DataFrame) -> np.ndarray:
    shapely.prepare(poly)
    return np.asarray(shapely.contains_xy(poly, people["x"].to_numpy(), people["y"].to_numpy()), dtype=bool)


# --------------------------------------------------------------------------------------
# public API


def reached_edges(
    net: RoadNetwork,
    centres: gpd.GeoDataFrame,
    *,
    bands: Sequence[float] = DEFAULT_BANDS,
    progress: bool | None = None,
) -> gpd.GeoDataFrame:
    """List the road pieces reached from each centre within each band, as lines.

    Parameters
    ----------
    net
        The road network. Centres not attached to it yet are attached with
        :func:`~geoplan.network.attach_places` (default access speed).
    centres
        Growth centres: points with an ``id`` column.
    bands
        Travel-time limits in whole minutes.
    progress
        Show a progress bar (stderr) over the centres; ``None`` follows
        :func:`geoplan._progress.set_progress` (off in a library call, on in the ``geoplan`` command).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 LineStrings with ``centre``, ``band``, ``road`` (road id), ``u``, ``v`` (node
        labels of the edge the piece lies on), ``start`` and ``end`` (fractions of the edge
        from ``u``), ``km`` (road km of the piece) and geometry; sorted by centre, band, road,
        u, v, start. Each band lists everything reached within it (bands are cumulative); a
        two-way road appears once per piece, oriented from ``u``. Access legs are left out.
    """
    bands_t = _check_bands(bands)
    centres = _check_places(centres, "centres")
    net = _ensure_attached(net, [centres])
    reach = _Reach.of(net)
    ids = centres["id"].astype(str).to_numpy(dtype=object)
    rows: list[pd.DataFrame] = []
    geoms: list[np.ndarray] = []
    for k, t in _iter_reach(net, ids, bands_t, progress, "reached edges"):
        for band in bands_t:
            edge, start, end = reach.pieces(t, band)
            rows.append(pd.DataFrame({
                "centre": ids[k], "band": band, "road": net.edge_road[edge].astype(str),
                "u": net.node_id[net.edge_u[edge]].astype(str), "v": net.node_id[net.edge_v[edge]].astype(str),
                "start": start, "end": end, "km": (end - start) * net.edge_km[edge],
            }))
            geoms.append(reach.geometry_m(edge, start, end))
    columns = ["centre", "band", "road", "u", "v", "start", "end", "km"]
    if not rows:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    df = pd.concat(rows, ignore_index=True)
    geo = shapely.transform(np.concatenate(geoms), lambda xy: np.column_stack(reach.to_geo.transform(*xy.T)))
    out = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geo, crs=4326), crs=4326)
    out["band"] = out["band"].astype(int)
    return out.sort_values(["centre", "band", "road", "u", "v", "start"], kind="stable").reset_index(drop=True)


def catchment_bands(
    net: RoadNetwork,
    centres: gpd.GeoDataFrame,
    *,
    bands: Sequence[float] = DEFAULT_BANDS,
    towns: gpd.GeoDataFrame | None = None,
    settlements: gpd.GeoDataFrame | None = None,
    offroad_kph: float = DEFAULT_OFFROAD_KPH,
    area: shapely.Geometry | gpd.GeoSeries | gpd.GeoDataFrame | None = None,
    progress: bool | None = None,
) -> gpd.GeoDataFrame:
    """Nested travel-time catchment polygons around each growth centre, with the people inside.

    A band of ``B`` minutes is the area from which the centre is reached within ``B`` minutes by
    going off-road at ``offroad_kph`` in a straight line to a road, then along the network: the
    cost model of :func:`geoplan.surface.nearest_centre_surface` (see the module docstring for the geometry).

    Parameters
    ----------
    net
        The road network (from :func:`~geoplan.network.build_network`, with or without places
        attached). Centres not attached yet are attached with
        :func:`~geoplan.network.attach_places`; access legs count at ``offroad_kph``.
    centres
        Growth centres: points with an ``id`` column (``name_en`` or ``name`` give
        ``centre_name``; ``population`` counts the centre's own people).
    bands
        Travel-time limits in whole minutes (sorted and de-duplicated).
    towns
        Towns (points with ``id`` and ``population``). A town inside a band's polygon is listed
        in ``towns`` (not the centre itself) and its people counted.
    settlements
        Populated places (points with ``id`` and ``population``; optional ``town_id`` and
        ``centre_id`` naming the town or centre that is the same place). Settlements inside a
        band are counted; one linked to a town or centre given here is counted once, as that
        town or centre.
    offroad_kph
        Speed off the roads, km/h (the surface's ``offroad_kph``).
    area
        Clip the bands to this area (e.g. the country boundary): a shapely geometry in
        EPSG:4326, or a GeoSeries/GeoDataFrame with a CRS (dissolved).
    progress
        Show a progress bar (stderr) over the centres; ``None`` follows
        :func:`geoplan._progress.set_progress` (off in a library call, on in the ``geoplan`` command).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 polygons with ``centre``, ``centre_name``, ``band`` (int minutes),
        ``area_km2`` (equal-area, rounded to 0.001), ``towns`` (ids joined by ``", "``, sorted;
        empty when none), ``population`` (people of every place inside: the centre, towns and
        settlements, each counted once), ``settlements`` (the number of those places) and
        geometry; sorted by centre and band. Each band's polygon contains the previous one.

    Raises
    ------
    AnalysisError
        For bad bands or speed, centres/towns/settlements without ``id`` or CRS, or a
        population that is not a number >= 0.
    """
    bands_t = _check_bands(bands)
    try:
        off = float(offroad_kph)
    except (TypeError, ValueError):
        off = float("nan")
    if not (np.isfinite(off) and off > 0):
        raise AnalysisError(f"offroad_kph must be a positive speed in km/h, got {offroad_kph!r}",
                            fix="use the surface's off-road speed, e.g. 20")
    centres = _check_places(centres, "centres")
    towns = _check_places(towns, "towns") if towns is not None else None
    settlements = _check_places(settlements, "settlements") if settlements is not None else None
    people = _people(centres, towns, settlements)
    net = _ensure_attached(net, [centres])
    corridors = _Corridors.of(net, off)
    clip = _clip_area(area, net.metric_crs)
    ids = centres["id"].astype(str).to_numpy(dtype=object)
    names = _place_name(centres)
    src = net.index_of(list(ids))
    centre_xy = np.column_stack(corridors.to_m.transform(net.node_x[src], net.node_y[src]))
    town_ids = towns["id"].astype(str).to_numpy(dtype=object) if towns is not None else np.empty(0, dtype=object)

    rec: dict[str, list[Any]] = {k: [] for k in ("centre", "centre_name", "band", "towns", "population",
                                                  "settlements")}
    polys: list[shapely.Geometry] = []
    bar = progress_bar(range(len(ids)), desc="catchments", unit="centre", enabled=progress)
    for k in bar:
        t = corridors.times_to(int(src[k]), float(bands_t[-1]))
        drawn: list[shapely.Geometry] = []
        previous: shapely.Geometry = shapely.Polygon()
        for band in bands_t:
            disc = _discs(centre_xy[k:k + 1], np.array([band * corridors.m_per_min]))
            pieces = np.r_[corridors.hulls(t, float(band)), disc]
            # Incremental: the band is the previous one plus this band's pieces.
            previous = shapely.union(previous, shapely.union_all(pieces))
            drawn.append(previous if clip is None else shapely.intersection(previous, clip))
        geo = shapely.make_valid(gpd.GeoSeries(drawn, crs=net.metric_crs).to_crs(4326).to_numpy())
        # Nest in the output CRS, after reprojection, so containment holds exactly in the file.
        nested = None
        for band, g in zip(bands_t, geo, strict=True):
            nested = g if nested is None else shapely.union(g, nested)
            poly = _polygonal(nested)
            polys.append(poly)
            inside = _inside(poly, people)
            listed = np.unique(people["town"].to_numpy()[inside & people["town"].notna().to_numpy()].astype(str))
            rec["centre"].append(ids[k])
            rec["centre_name"].append(names[k])
            rec["band"].append(band)
            rec["towns"].append(", ".join(t_id for t_id in listed if t_id != ids[k] and t_id in set(town_ids)))
            rec["population"].append(int(people["population"].to_numpy()[inside].sum()))
            rec["settlements"].append(int(inside.sum()))
    shapes = gpd.GeoSeries(polys, crs=4326)
    out = gpd.GeoDataFrame(rec, geometry=shapes, crs=4326)
    out["band"] = out["band"].astype(int)
    out["population"] = out["population"].astype(np.int64)
    out["settlements"] = out["settlements"].astype(np.int64)
    # Rounded to 1000 m2: finer digits are drawing noise and would only churn the output files.
    out.insert(3, "area_km2", np.round(shapes.to_crs(_equal_area_crs(net)).area.to_numpy() / 1e6, 3))
    return out.sort_values(["centre", "band"], kind="stable").reset_index(drop=True)


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Keep only the polygons of ``geom`` (make_valid can leave slivers as lines)."""
    if shapely.get_type_id(geom) in (3, 6):
        return geom
    parts = shapely.get_parts(geom)
    polys = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
    return shapely.union_all(polys) if len(polys) else shapely.Polygon()
