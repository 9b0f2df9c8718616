"""Agglomeration composition: the places and districts inside each growth centre's agglomeration band.

Kazakhstan's agglomeration rules need a proposed *composition* per centre, not only a flag per
monotown: which settlements and which districts form the agglomeration. The agglomeration band
of a centre is its catchment band of ``agglomeration.max_minutes`` (road plus off-road access,
see :mod:`geoplan.catchments`). :func:`composition` lists every populated place inside it (the
centre, the towns and the settlements, each place once: see
:func:`geoplan.geography.population_points`), sums their people, and measures, for every
district the band touches, the share of the district's population (and area) inside. A district
with at least ``min_share`` of its people inside is proposed as a member; a district without
any counted population (a city district whose people are all counted at the city's single
point) is judged by its share of area.

Examples
--------
>>> import geoplan
>>> from geoplan.agglomeration import agglomerations
>>> layers = geoplan.read_layers(geoplan.embedded_layers_path())
>>> agg = agglomerations(layers, centre_ids=["karaganda"])
>>> row = agg.centres.iloc[0]
>>> row["centre"], "saran" in row["towns"], bool(row["population"] > 800_000)
('karaganda', True, True)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan._errors import AnalysisError
from geoplan._io import read_csv_table
from geoplan.catchments import DEFAULT_OFFROAD_KPH, catchment_bands
from geoplan.geography import level, locate, population_points
from geoplan.indicators import layer_folder
from geoplan.layers import LayerSet, metric_crs
from geoplan.network import RoadNetwork, build_network
from geoplan.surface import country_area

__all__ = ["DECREE_COLUMNS", "DECREE_FILE", "DEFAULT_MIN_SHARE", "DISTRICT_COLUMNS", "MEMBER_COLUMNS",
           "Agglomerations", "agglomerations", "composition", "decree_comparison", "decree_membership", "layer_decree",
           "read_decree"]

#: A district whose share of people (or, without people, of area) inside the band is at least
#: this is proposed as a member of the agglomeration.
DEFAULT_MIN_SHARE = 0.5

#: Columns of :attr:`Agglomerations.centres` (besides the band polygon).
CENTRE_COLUMNS: tuple[str, ...] = (
    "centre", "centre_name", "max_minutes", "population", "places", "settlements", "towns", "districts",
    "district_katos", "area_km2",
)
#: Columns of :attr:`Agglomerations.districts`.
DISTRICT_COLUMNS: tuple[str, ...] = (
    "centre", "centre_name", "district_id", "district", "district_kato", "region", "population_inside",
    "district_population", "share", "area_share", "member",
)
#: The table of a decree's agglomerations beside the layers (the embedded set's is the 2023 decree).
DECREE_FILE = "agglomeration_decree.csv"
#: Columns of a decree table: the centre id, the decree's level, a ``boundaries`` unit id and name,
#: the decree's own wording and a note.
DECREE_COLUMNS: tuple[str, ...] = ("agglomeration", "level", "member_id", "member", "named_as", "note")
#: Columns of :func:`decree_comparison`.
COMPARISON_COLUMNS: tuple[str, ...] = (
    "centre", "centre_name", "decree_level", "district_id", "district", "in_decree", "proposed", "agreement",
    "share", "area_share", "named_as",
)

#: Columns of :attr:`Agglomerations.members`.
MEMBER_COLUMNS: tuple[str, ...] = ("centre", "place", "kind", "name_en", "population", "district", "district_kato")


@dataclass(frozen=True)
class Agglomerations:
    """The composition of every centre's agglomeration band.

    Attributes
    ----------
    centres
        One feature per centre (EPSG:4326 band polygon) with :data:`CENTRE_COLUMNS`:
        ``population`` of every place inside (each counted once), ``places`` and
        ``settlements`` (counts), ``towns`` (member monotown ids, ``", "``-joined),
        ``districts`` / ``district_katos`` (the member districts' names and KATO codes) and
        ``area_km2`` of the band.
    districts
        One row per centre and district the band touches (:data:`DISTRICT_COLUMNS`):
        people inside and in the whole district, ``share`` (NaN for a district without
        counted people), ``area_share`` and ``member``.
    members
        One row per centre and place inside its band (:data:`MEMBER_COLUMNS`).
    decree
        The members a decree names (:func:`read_decree`), when the layers have such a table.
    decree_comparison
        The proposed members against the decree's (:func:`decree_comparison`), or ``None``.
    """

    centres: gpd.GeoDataFrame
    districts: pd.DataFrame
    members: pd.DataFrame
    decree: pd.DataFrame | None = None
    decree_comparison: pd.DataFrame | None = None

    def with_decree(self, decree: pd.DataFrame | None, *, centres: gpd.GeoDataFrame,
                    boundaries: gpd.GeoDataFrame | None) -> Agglomerations:
        """Return these compositions compared with a decree's members (unchanged without one).

        Parameters
        ----------
        decree
            :func:`read_decree`'s table, or ``None``.
        centres
            The ``centres`` layer.
        boundaries
            The ``boundaries`` layer (a decree names districts, so it is needed to compare).

        Returns
        -------
        Agglomerations
        """
        if decree is None or boundaries is None:
            return self
        table = decree_comparison(self.districts, decree, centres=centres, boundaries=boundaries)
        return replace(self, decree=decree, decree_comparison=table)

    def mark_towns(self, towns: gpd.GeoDataFrame, *, boundaries: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
        """Return ``towns`` with ``decree_agglomeration`` and ``decree_level`` (when a decree was given).

        Parameters
        ----------
        towns
            Point features (the result towns).
        boundaries
            The ``boundaries`` layer.

        Returns
        -------
        geopandas.GeoDataFrame
            A copy with the two columns of :func:`decree_membership`; ``towns`` itself without a decree.
        """
        if self.decree is None or boundaries is None:
            return towns
        return towns.join(decree_membership(towns, self.decree, boundaries=boundaries))


def layer_decree(layers: LayerSet) -> pd.DataFrame | None:
    """Read the decree table beside a layer set's files (:data:`DECREE_FILE`), if there is one.

    Parameters
    ----------
    layers
        A layer set read from a folder; a decree is used only with its ``boundaries`` layer.

    Returns
    -------
    pandas.DataFrame or None
        :func:`read_decree`'s table, or ``None`` without the file or the boundaries.
    """
    folder = layer_folder(layers.sources)
    boundaries = layers.layers.get("boundaries")
    if folder is None or boundaries is None or not (folder / DECREE_FILE).is_file():
        return None
    return read_decree(folder / DECREE_FILE, boundaries=boundaries, centres=layers.centres)


def _join(values: pd.Series) -> str:
    return ", ".join(sorted(str(v) for v in values if isinstance(v, str) and v))


def composition(bands: gpd.GeoDataFrame, *, towns: gpd.GeoDataFrame, centres: gpd.GeoDataFrame,
                settlements: gpd.GeoDataFrame | None = None, boundaries: gpd.GeoDataFrame | None = None,
                min_share: float = DEFAULT_MIN_SHARE) -> Agglomerations:
    """Compose each centre's agglomeration from the places and districts inside its band.

    Parameters
    ----------
    bands
        One polygon per centre with ``centre`` (the centre id), optional ``centre_name`` and
        ``band`` (minutes): e.g. the rows of :func:`geoplan.catchments.catchment_bands` for one band.
    towns, centres
        The ``towns`` and ``centres`` layers (``id``, ``population``, points).
    settlements
        The ``settlements`` layer, or ``None`` (then only towns and centres are counted).
    boundaries
        The ``boundaries`` layer, or ``None`` (then no district is assigned or proposed).
    min_share
        Smallest share of a district's people inside the band for it to be a member.

    Returns
    -------
    Agglomerations

    Raises
    ------
    AnalysisError
        For bands without a ``centre`` column or CRS, or ``min_share`` outside (0, 1].
    """
    if "centre" not in bands.columns or bands.crs is None:
        raise AnalysisError("agglomeration bands need a 'centre' column and a CRS",
                            fix="pass catchment polygons (geoplan.catchments.catchment_bands) for one band")
    if not 0 < min_share <= 1:
        raise AnalysisError(f"min_share is {min_share}; it must be in (0, 1]", fix="give a share such as 0.5")
    b = bands.to_crs(4326).reset_index(drop=True)
    names = b["centre_name"] if "centre_name" in b.columns else b["centre"]
    minutes = b["band"] if "band" in b.columns else pd.Series(np.nan, index=b.index)
    pts = population_points(settlements, towns, centres)
    have_districts = boundaries is not None and len(level(boundaries, 2)) > 0
    if have_districts:
        assert boundaries is not None
        where = locate(pts, boundaries)
        pts = pts.assign(district_id=where["district_id"].to_numpy(), district=where["district"].to_numpy(),
                         district_kato=where["district_kato"].to_numpy(), region=where["region"].to_numpy())
    else:
        pts = pts.assign(district_id=None, district=None, district_kato=None, region=None)
    # Places inside each band: one STRtree query for all bands.
    band_geoms = b.geometry.to_numpy()
    b_idx, p_idx = shapely.STRtree(pts.geometry.to_numpy()).query(band_geoms, predicate="intersects")
    # The centre belongs to its own agglomeration even where its point sits just outside a clipped band.
    own = pd.DataFrame({"b": np.arange(len(b)), "id": b["centre"].astype(str).to_numpy()}).merge(
        pd.DataFrame({"p": np.arange(len(pts)), "id": pts["id"].to_numpy()}), on="id")
    pairs = pd.DataFrame({"b": np.r_[b_idx, own["b"].to_numpy()], "p": np.r_[p_idx, own["p"].to_numpy()]})
    pairs = pairs.drop_duplicates().sort_values(["b", "p"]).reset_index(drop=True)
    m = pts.iloc[pairs["p"].to_numpy()].reset_index(drop=True)
    members = pd.DataFrame({
        "centre": b["centre"].astype(str).to_numpy()[pairs["b"].to_numpy()],
        "place": m["id"].to_numpy(), "kind": m["kind"].to_numpy(), "name_en": m["name_en"].to_numpy(),
        "population": m["population"].fillna(0).to_numpy(), "district": m["district"].to_numpy(),
        "district_kato": m["district_kato"].to_numpy(),
    })
    members = members.sort_values(["centre", "population", "place"], ascending=[True, False, True],
                                  kind="stable").reset_index(drop=True)

    districts = _district_shares(b, names, pts, members, boundaries if have_districts else None, min_share)
    area_crs = metric_crs(b.total_bounds)
    per = members.groupby("centre")
    summary = pd.DataFrame({"centre": b["centre"].astype(str).to_numpy()})
    summary["population"] = summary["centre"].map(per["population"].sum()).fillna(0).round().astype("int64")
    summary["places"] = summary["centre"].map(per.size()).fillna(0).astype("int64")
    summary["settlements"] = summary["centre"].map(
        members[members["kind"] == "settlement"].groupby("centre").size()).fillna(0).astype("int64")
    town_ids = set(towns["id"].astype(str))
    inside_towns = members[members["place"].isin(town_ids) & (members["place"] != members["centre"])]
    chosen = districts.loc[districts["member"].astype(bool).to_numpy()]

    def joined(frame: pd.DataFrame, column: str) -> np.ndarray:
        texts = frame.groupby("centre")[column].agg(_join).to_dict() if len(frame) else {}
        return np.array([texts.get(c, "") for c in summary["centre"]], dtype=object)

    summary["towns"] = joined(inside_towns, "place")
    summary["districts"] = joined(chosen, "district")
    summary["district_katos"] = joined(chosen, "district_kato")
    summary["area_km2"] = np.round(gpd.GeoSeries(band_geoms, crs=4326).to_crs(area_crs).area.to_numpy() / 1e6, 3)
    out = gpd.GeoDataFrame({
        "centre": summary["centre"], "centre_name": names.astype(str).to_numpy(),
        "max_minutes": minutes.to_numpy(dtype=float), "population": summary["population"],
        "places": summary["places"], "settlements": summary["settlements"], "towns": summary["towns"],
        "districts": summary["districts"], "district_katos": summary["district_katos"],
        "area_km2": summary["area_km2"],
    }, geometry=gpd.GeoSeries(band_geoms, crs=4326), crs=4326)
    out = out.sort_values("centre", kind="stable").reset_index(drop=True)
    return Agglomerations(out, districts, members[list(MEMBER_COLUMNS)])


def _district_shares(b: gpd.GeoDataFrame, names: pd.Series, pts: gpd.GeoDataFrame, members: pd.DataFrame,
                     boundaries: gpd.GeoDataFrame | None, min_share: float) -> pd.DataFrame:
    """One row per centre and district its band touches, with the shares inside."""
    if boundaries is None:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in DISTRICT_COLUMNS})
    d = level(boundaries, 2)
    crs = metric_crs(d.total_bounds)
    dm = d.geometry.to_crs(crs).to_numpy()
    bm = b.geometry.to_crs(crs).to_numpy()
    b_idx, d_idx = shapely.STRtree(dm).query(bm, predicate="intersects")
    inter = shapely.area(shapely.intersection(bm[b_idx], dm[d_idx]))
    area_share = inter / shapely.area(dm[d_idx])
    total = pts.groupby("district_id")["population"].sum()
    rows = pd.DataFrame({
        "centre": b["centre"].astype(str).to_numpy()[b_idx], "centre_name": names.astype(str).to_numpy()[b_idx],
        "district_id": d["id"].to_numpy(dtype=object)[d_idx], "district": d["name_en"].to_numpy(dtype=object)[d_idx],
        "district_kato": d["kato"].to_numpy(dtype=object)[d_idx], "area_share": np.round(area_share, 4),
    })
    regions = level(boundaries, 1).set_index("id")["name_en"]
    rows["region"] = regions.reindex(d["parent_id"].to_numpy(dtype=object)[d_idx]).to_numpy(dtype=object)
    inside = members.dropna(subset=["district_kato"]).groupby(["centre", "district_kato"])["population"].sum()
    key = pd.MultiIndex.from_arrays([rows["centre"], rows["district_kato"]])
    rows["population_inside"] = inside.reindex(key).fillna(0).round().astype("int64").to_numpy()
    rows["district_population"] = total.reindex(rows["district_id"]).fillna(0).round().astype("int64").to_numpy()
    counted = rows["district_population"] > 0
    rows["share"] = np.where(counted, np.round(rows["population_inside"] / rows["district_population"].where(
        counted, 1), 4), np.nan)
    rows["member"] = np.where(counted, rows["share"] >= min_share, rows["area_share"] >= min_share)
    # Slivers where the band only grazes a district (less than 0.1 % of it, nobody inside) are dropped.
    keep = (rows["population_inside"] > 0) | (rows["area_share"] >= 0.001)
    rows = rows[keep].sort_values(["centre", "member", "population_inside", "district_id"],
                                  ascending=[True, False, False, True], kind="stable")
    return rows[list(DISTRICT_COLUMNS)].reset_index(drop=True)


def agglomerations(layers: LayerSet, *, net: RoadNetwork | None = None, max_minutes: float = 90.0,
                   offroad_kph: float = DEFAULT_OFFROAD_KPH, min_share: float = DEFAULT_MIN_SHARE,
                   centre_ids: Sequence[str] | None = None, bands: gpd.GeoDataFrame | None = None,
                   progress: bool = False) -> Agglomerations:
    """Compose the agglomeration of each growth centre of a layer set.

    Parameters
    ----------
    layers
        A layer set with ``towns``, ``centres`` and ``roads``; ``settlements`` and
        ``boundaries`` when present.
    net
        The road network; built from ``layers.roads`` when ``None``.
    max_minutes
        The agglomeration band, minutes (the scenario's ``agglomeration.max_minutes``).
    offroad_kph
        Off-road speed of the band (the surface's ``offroad_kph``).
    min_share
        Smallest share of a district's people inside the band for it to be a member.
    centre_ids
        Only these centres (default: all).
    bands
        Ready catchment polygons of ``max_minutes`` (``centre``, ``band``), e.g. from the
        pipeline's catchments, so the band is not computed twice.
    progress
        Show a progress bar over the centres.

    Returns
    -------
    Agglomerations
    """
    centres = layers.centres
    if centre_ids is not None:
        wanted = [str(c) for c in centre_ids]
        unknown = sorted(set(wanted) - set(centres["id"].astype(str)))
        if unknown:
            raise AnalysisError(f"no growth centre with id {', '.join(unknown)}",
                                fix="use ids of the centres layer")
        centres = centres[centres["id"].astype(str).isin(wanted)]
    boundaries = layers.layers.get("boundaries")
    settlements = layers.layers.get("settlements")
    if bands is None:
        bands = catchment_bands(net if net is not None else build_network(layers.roads), centres,
                                bands=(round(max_minutes),), towns=layers.towns, settlements=settlements,
                                offroad_kph=offroad_kph, area=country_area(layers), progress=progress)
    else:
        bands = bands[bands["centre"].astype(str).isin(set(centres["id"].astype(str)))]
    # Every centre counts its people wherever it lies, whichever bands are composed.
    return composition(bands, towns=layers.towns, centres=layers.centres, settlements=settlements,
                       boundaries=boundaries, min_share=min_share)


def read_decree(path: str | os.PathLike[str], *, boundaries: gpd.GeoDataFrame,
                centres: gpd.GeoDataFrame) -> pd.DataFrame:
    """Read a table of the agglomerations a decree names, member unit by member unit.

    Kazakhstan's government fixed the agglomerations and their members (districts and cities of
    regional significance) by a resolution of 19 June 2023; ``agglomeration_decree.csv`` in the
    embedded layers holds it (see ``layers/kazakhstan/SOURCES.md``). Comparing it with the
    travel-time compositions (:func:`decree_comparison`) shows where geoplan's proposal and the
    law agree.

    Parameters
    ----------
    path
        The CSV file, with :data:`DECREE_COLUMNS` (``named_as`` and ``note`` may be empty).
    boundaries
        The ``boundaries`` layer: every ``member_id`` must be one of its units of level 2.
    centres
        The ``centres`` layer: every ``agglomeration`` must be one of its ids.

    Returns
    -------
    pandas.DataFrame
        The table with ``level`` as int, in file order.

    Raises
    ------
    AnalysisError
        For a missing file or column, a level other than 1 or 2, a member that is not a
        district of the boundaries, an unknown centre or a member named twice; each names the
        file, the line and the fix.
    """
    p = Path(path)
    raw = read_csv_table(p, columns=DECREE_COLUMNS, what="decree table",
                         missing_fix="write a CSV with columns " + ", ".join(DECREE_COLUMNS) + " or leave it out")
    out = raw.copy()
    level_num = pd.to_numeric(out["level"].str.strip(), errors="coerce")
    districts = set(level(boundaries, 2)["id"].astype(str))
    known_centres = set(centres["id"].astype(str))
    checks = (
        (~level_num.isin([1, 2]), "level {level!r} is not 1 or 2", "write the decree's level: 1 or 2"),
        (~out["agglomeration"].isin(known_centres), "agglomeration {agglomeration!r} is not a growth centre id",
         "use the id of the centre layer's core city, e.g. karaganda"),
        (~out["member_id"].isin(districts), "member {member_id!r} is not a district (level 2) of the boundaries",
         "use the boundaries layer's district id, e.g. KZ352400 (`geoplan layers show boundaries`)"),
        (out.duplicated(["member_id"]), "member {member_id!r} is named twice",
         "keep one row per member: a unit belongs to one agglomeration"),
    )
    for bad, what, fix in checks:
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise AnalysisError(f"{p}:{i + 2}: " + what.format(**{str(k): v for k, v in out.iloc[i].items()}), fix=fix)
    out["level"] = level_num.astype(np.int64)
    return out[list(DECREE_COLUMNS) + [c for c in out.columns if c not in DECREE_COLUMNS]]


def decree_comparison(districts: pd.DataFrame, decree: pd.DataFrame, *, centres: gpd.GeoDataFrame,
                      boundaries: gpd.GeoDataFrame) -> pd.DataFrame:
    """Compare the proposed member districts with a decree's, for the centres the decree names.

    Parameters
    ----------
    districts
        :attr:`Agglomerations.districts` (the travel-time composition).
    decree
        :func:`read_decree`'s table.
    centres
        The ``centres`` layer (to find each centre's own city).
    boundaries
        The ``boundaries`` layer.

    Returns
    -------
    pandas.DataFrame
        :data:`COMPARISON_COLUMNS`, one row per centre of the decree and district that either
        names as a member, in decree order then by district id: ``agreement`` is ``"both"``,
        ``"decree only"`` or ``"proposed only"``; ``share`` / ``area_share`` are the people's
        and the area's share inside the band (0 where the band does not reach the district).
        The centre's own city is the core, not a member, and is left out: the district its point
        lies in and, for a city that is a region of its own (Almaty, Astana, Shymkent) when all
        its districts are proposed, every district of that region.
    """
    units = level(boundaries, 2)[["id", "name_en", "parent_id"]].rename(
        columns={"id": "district_id", "name_en": "unit_name", "parent_id": "region_id"})
    order = list(dict.fromkeys(decree["agglomeration"].astype(str)))
    d = districts[districts["centre"].astype(str).isin(order)].merge(units, on="district_id", how="left")
    at = locate(centres[centres["id"].astype(str).isin(order)], boundaries)
    at["centre"] = centres.loc[at.index, "id"].astype(str)
    # A region is the centre's own city when the centre lies in it and all its districts are members.
    n_units = units.groupby("region_id").size()
    whole = d[d["member"].astype(bool)].groupby(["centre", "region_id"]).size()
    whole = whole[whole.to_numpy() == n_units.reindex(whole.index.get_level_values(1)).to_numpy()]
    own_region = set(zip(at["centre"], at["region_id"], strict=True)) & set(whole.index)
    core = set(zip(at["centre"], at["district_id"], strict=True)) | {
        (c, u) for c, u, r in zip(d["centre"], d["district_id"], d["region_id"], strict=True) if (c, r) in own_region}
    is_core = pd.Series([k in core for k in zip(d["centre"], d["district_id"], strict=True)], index=d.index)
    proposed = d.loc[d["member"].astype(bool) & ~is_core, ["centre", "district_id"]].assign(proposed=True)
    decreed = decree.rename(columns={"agglomeration": "centre", "member_id": "district_id", "level": "decree_level"})
    out = decreed[["centre", "district_id", "decree_level", "named_as"]].assign(in_decree=True).merge(
        proposed, on=["centre", "district_id"], how="outer")
    out = out.merge(d[["centre", "district_id", "share", "area_share"]], on=["centre", "district_id"], how="left")
    out = out.merge(units[["district_id", "unit_name"]], on="district_id", how="left")
    out["in_decree"] = out["in_decree"].fillna(False).astype(bool)
    out["proposed"] = out["proposed"].fillna(False).astype(bool)
    out["agreement"] = np.select([out["in_decree"] & out["proposed"], out["in_decree"]],
                                 ["both", "decree only"], "proposed only")
    names = districts.drop_duplicates("centre").set_index("centre")["centre_name"]
    out["centre_name"] = out["centre"].map(names).fillna(out["centre"])
    out["district"] = out["unit_name"].fillna(out["district_id"])
    out[["share", "area_share"]] = out[["share", "area_share"]].fillna(0.0)
    out["named_as"] = out["named_as"].fillna("")
    out["decree_level"] = out["decree_level"].astype("Int64")
    out["_order"] = out["centre"].map({c: i for i, c in enumerate(order)})
    out = out.sort_values(["_order", "district_id"], kind="stable")
    return out[list(COMPARISON_COLUMNS)].reset_index(drop=True)


def decree_membership(places: gpd.GeoDataFrame, decree: pd.DataFrame, *,
                      boundaries: gpd.GeoDataFrame) -> pd.DataFrame:
    """Find the agglomeration a decree puts each place in, from the district its point lies in.

    Parameters
    ----------
    places
        Point features (towns, settlements).
    decree
        :func:`read_decree`'s table.
    boundaries
        The ``boundaries`` layer.

    Returns
    -------
    pandas.DataFrame
        On ``places``' index: ``decree_agglomeration`` (the centre id, or ``""`` outside every
        decree agglomeration) and ``decree_level`` (``Int64``, NA outside).
    """
    at = locate(places, boundaries)
    by_unit = decree.set_index("member_id")
    agg = at["district_id"].map(by_unit["agglomeration"])
    return pd.DataFrame({"decree_agglomeration": agg.fillna("").astype(str),
                         "decree_level": at["district_id"].map(by_unit["level"]).astype("Int64")},
                        index=places.index)
