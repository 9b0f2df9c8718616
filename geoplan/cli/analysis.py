"""``geoplan catchments``, ``agglomerations``, ``surface`` and ``traveltime``: one analysis each."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import click
import typer

from geoplan import settings as S
from geoplan._errors import AnalysisError, GeoplanError
from geoplan.cli._common import (
    LayersArg,
    OsmRoadsOpt,
    ScenarioOpt,
    SchedulerOpt,
    _analysis_setup,
    _bands,
    _echo_err,
    app,
    number_check,
    plan_single,
)

if TYPE_CHECKING:
    from geoplan.surface import SurfaceResult

_BANDS = ",".join(map(str, S.CATCHMENT_BANDS))


@app.command("catchments")
def catchments_cmd(
    path: LayersArg = None,
    out: Annotated[Path, typer.Option("--out", help="Output GeoJSON file (RFC 7946).")] = Path("catchments.geojson"),
    bands: Annotated[str, typer.Option("--bands", help="Comma-separated travel-time bands, minutes.")] = _BANDS,
    offroad_kph: Annotated[float | None, typer.Option(
        "--offroad-kph", help=f"Speed off the roads to the nearest road, km/h [default: {S.OFFROAD_KPH:g}, as the "
        "surface].", show_default=False, callback=number_check(unit=f"{S.OFFROAD_KPH:g}"))] = None,
    osm: OsmRoadsOpt = None,
    scenario: ScenarioOpt = None,
) -> None:
    """Write nested travel-time catchments of every growth centre, with the people inside, as GeoJSON polygons."""
    from geoplan._io import write_geojson
    from geoplan.catchments import catchment_bands
    from geoplan.network import build_network
    from geoplan.surface import country_area

    band_list = _bands(bands)  # options first, then outputs: both before any work
    plan = plan_single(out, path, osm)
    _, layers, snap, sc = _analysis_setup(path, osm, scenario)
    net = build_network(layers.roads, speeds=sc.speeds, snap_tolerance_m=snap, progress=True)
    result = catchment_bands(net, layers.centres, bands=band_list, towns=layers.towns,
                             settlements=layers.layers.get("settlements"),
                             offroad_kph=sc.surface.offroad_kph if offroad_kph is None else offroad_kph,
                             area=country_area(layers), progress=True)
    with plan.writing() as staging:
        write_geojson(result, staging.path(out), id_column=None, name="catchments")
    typer.echo(f"wrote {len(result)} catchments ({result['centre'].nunique()} centres x "
               f"{result['band'].nunique()} bands) to {out}")


@app.command("agglomerations")
def agglomerations_cmd(
    path: LayersArg = None,
    out: Annotated[Path, typer.Option("--out", help="Output GeoJSON file (RFC 7946), one feature per centre.")] = Path(
        "agglomerations.geojson"),
    table: Annotated[Path | None, typer.Option(
        "--table", help="CSV of every centre x district the band touches [default: --out with .csv].",
        show_default=False)] = None,
    minutes: Annotated[float, typer.Option(
        "--minutes", help="Agglomeration band, minutes (the scenario's agglomeration.max_minutes).",
        callback=number_check(unit="90"))] = 90.0,
    min_share: Annotated[float, typer.Option(
        "--min-share", help="Share of a district's people inside the band that makes it a member.",
        callback=number_check(unit="0.5"))] = 0.5,
    offroad_kph: Annotated[float | None, typer.Option(
        "--offroad-kph", help="Speed off the roads to the nearest road, km/h [default: 20, as the surface].",
        show_default=False, callback=number_check(unit="20"))] = None,
    osm: OsmRoadsOpt = None,
    scenario: ScenarioOpt = None,
) -> None:
    """Write the proposed composition of every growth centre's agglomeration: places, people, districts."""
    from geoplan._io import write_csv, write_geojson
    from geoplan.agglomeration import agglomerations
    from geoplan.network import build_network

    if min_share > 1:
        raise click.BadParameter(f"must be at most 1, got {min_share:g}", param_hint="'--min-share'")
    table_path = table if table is not None else out.with_suffix(".csv")
    plan = plan_single(out, path, osm, also=(table_path,))
    _, layers, snap, sc = _analysis_setup(path, osm, scenario)
    net = build_network(layers.roads, speeds=sc.speeds, snap_tolerance_m=snap, progress=True)
    result = agglomerations(layers, net=net, max_minutes=minutes, min_share=min_share,
                            offroad_kph=sc.surface.offroad_kph if offroad_kph is None else offroad_kph,
                            progress=True)
    with plan.writing() as staging:
        write_geojson(result.centres, staging.path(out), id_column="centre", name="agglomerations")
        write_csv(result.districts, staging.path(table_path))
    members = int(result.districts["member"].astype(bool).sum()) if len(result.districts) else 0
    typer.echo(f"wrote {len(result.centres)} agglomerations ({members} member districts) to {out} and {table_path}")


@app.command("surface")
def surface_cmd(
    path: LayersArg = None,
    out: Annotated[Path, typer.Option("--out", help="Output GeoTIFF file.")] = Path("surface.tif"),
    resolution: Annotated[float, typer.Option("--resolution", help="Cell size, metres.",
                                              callback=number_check(unit=f"{S.SURFACE_RESOLUTION_M:g}"))
                ] = S.SURFACE_RESOLUTION_M,
    offroad_kph: Annotated[float | None, typer.Option(
        "--offroad-kph", help=f"Speed away from the roads layer, km/h [default: {S.OFFROAD_KPH:g}, the track speed].",
        show_default=False, callback=number_check(unit=f"{S.OFFROAD_KPH:g}"))] = None,
    study_area: Annotated[Path | None, typer.Option(
        "--study-area", help="Polygon file (e.g. a national boundary; its first layer); cells outside are nodata "
        "[default: the country of the boundaries layer, else the convex hull of roads and places + "
        f"{S.STUDY_AREA_MARGIN_M / 1000:g} km].",
        show_default=False)] = None,
    osm: OsmRoadsOpt = None,
    scenario: ScenarioOpt = None,
) -> None:
    """Write a raster of travel time to the nearest growth centre as a GeoTIFF."""
    from geoplan.surface import write_surface

    plan = plan_single(out, path, osm, study_area)
    result = _surface(path, resolution, offroad_kph, study_area, osm, scenario)
    with plan.writing() as staging:
        write_surface(staging.path(out), result)
    valid = result.array[result.array != result.nodata]
    span = f"{valid.min():.0f}-{valid.max():.0f} minutes" if valid.size else "no reachable cell"
    typer.echo(f"wrote {result.array.shape[1]} x {result.array.shape[0]} cells at {result.resolution_m:g} m "
               f"({span}) to {out}")


def _surface(path: Path | None, resolution: float, offroad_kph: float | None, study_area: Path | None,
             osm: Path | None, scenario: Path | None = None) -> SurfaceResult:
    from geoplan.surface import nearest_centre_surface

    _, layers, _, sc = _analysis_setup(path, osm, scenario)
    area = None
    if study_area is not None:
        import warnings

        import geopandas as gpd

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "more than one layer": the first one is documented
                area = gpd.read_file(study_area)
        except Exception as exc:  # any GDAL failure means "unreadable file"
            raise GeoplanError(f"{study_area}: cannot read the study area: {exc}",
                               fix="pass a polygon layer GDAL can read (GeoPackage, GeoJSON, Shapefile)") from exc
    try:
        result = nearest_centre_surface(layers, resolution_m=resolution, speeds=sc.speeds,
                                        offroad_kph=sc.surface.offroad_kph if offroad_kph is None else offroad_kph,
                                        study_area=area, progress=True)
    except AnalysisError as exc:
        if study_area is None or "study area" not in exc.message:
            raise
        raise AnalysisError(f"{study_area}: {exc.message}", fix=exc.fix) from exc  # name the file
    return result


_PLACE_LAYERS = ("towns", "centres")


@app.command("traveltime")
def traveltime_cmd(
    path: LayersArg = None,
    out: Annotated[Path, typer.Option("--out", help="Output CSV file.")] = Path("traveltime.csv"),
    origins: Annotated[str, typer.Option("--origins", help="Origin layer: towns or centres.")] = "towns",
    destinations: Annotated[str, typer.Option(
        "--destinations", help="Destination layer: centres or towns.")] = "centres",
    cutoff: Annotated[float | None, typer.Option(
        "--cutoff", help="Minutes; pairs farther apart are written as unreachable.", show_default=False,
        callback=number_check(unit="120"))] = None,
    max_snap_km: Annotated[float, typer.Option(
        "--max-snap-km", help="Places farther than this from every road are not attached (unreachable).",
        callback=number_check(unit=f"{S.MAX_SNAP_KM:g}"))] = S.MAX_SNAP_KM,
    osm: OsmRoadsOpt = None,
    mode: Annotated[str, typer.Option(
        "--mode", help="road, or rail: passenger railway (needs the rail_stations and rail layers); places "
        "without a station are written as unreachable.")] = "road",
    weight: Annotated[str, typer.Option(
        "--weight", help="minutes: the fastest route (its km beside); km: the shortest route (its minutes beside); "
        "--cutoff is in the same unit.")] = "minutes",
    scheduler: SchedulerOpt = None,
    scenario: ScenarioOpt = None,
) -> None:
    """Write the fastest (or shortest) route of every origin x destination pair as a CSV table.

    Columns: origin, destination, minutes, km (road or track length of that route), reachable.
    """
    import geopandas as gpd
    import pandas as pd

    from geoplan._io import write_csv
    from geoplan.network import attach_places, attach_served_places, build_network, build_rail_network
    from geoplan.traveltime import od_matrix

    for value, hint in ((origins, "--origins"), (destinations, "--destinations")):
        if value not in _PLACE_LAYERS:
            raise click.BadParameter(f"must be one of {', '.join(_PLACE_LAYERS)}", param_hint=hint)
    if mode not in ("road", "rail"):
        raise click.BadParameter("must be road or rail", param_hint="--mode")
    if weight not in ("minutes", "km"):
        raise click.BadParameter("must be minutes or km", param_hint="--weight")
    if scheduler is not None:
        from geoplan.distributed import check_scheduler

        check_scheduler(scheduler)
    if mode == "rail" and osm is not None:
        raise click.BadParameter("--osm replaces the roads; it cannot be combined with --mode rail", param_hint="--osm")
    plan = plan_single(out, path, osm)
    src, layers, snap, sc = _analysis_setup(path, osm, scenario)
    places = gpd.GeoDataFrame(pd.concat([layers[name][["id", "geometry"]] for name in _PLACE_LAYERS],
                                        ignore_index=True), crs=layers.towns.crs)
    if mode == "rail":
        absent = [n for n in ("rail_stations", "rail") if n not in layers.layers]
        if absent:
            from geoplan._errors import LayerReadError

            raise LayerReadError(f"{src}: --mode rail needs the layer(s) {', '.join(absent)}, which are missing",
                                 fix="add rail_stations and rail layers (see layers/kazakhstan/SOURCES.md), "
                                     "or use --mode road")
        rail = build_rail_network(layers["rail"], layers["rail_stations"])
        net, report = attach_served_places(rail, layers["rail_stations"], places)
        lost = report.loc[~report["attached"], "id"].tolist()
        if lost:
            _echo_err(f"geoplan: warning: {len(lost)} place(s) without a station (reported unreachable): "
                      f"{', '.join(lost)}")
        # Stations on links without passenger trains are nodes without edges.
        served_by = set(rail.node_id[rail.edge_u].tolist())
        idle = [str(i) for i, st in zip(report["id"], report["stations"], strict=True)
                if isinstance(st, str) and not set(st.split(";")) & served_by]
        if idle:
            _echo_err(f"geoplan: warning: {len(idle)} place(s) whose station has no passenger service "
                      f"(reported unreachable): {', '.join(idle)}")
    else:
        net = build_network(layers.roads, speeds=sc.speeds, snap_tolerance_m=snap, progress=True)
        net, report = attach_places(net, places, access_kph=sc.network.access_kph, max_snap_km=max_snap_km)
        lost = report.loc[~report["snapped"], "id"].tolist()
        if lost:
            _echo_err(f"geoplan: warning: {len(lost)} place(s) farther than {max_snap_km:g} km from every road "
                      f"(reported unreachable): {', '.join(lost)}")
    o_ids = layers[origins]["id"].astype(str).tolist()
    d_ids = layers[destinations]["id"].astype(str).tolist()
    w: Literal["minutes", "km"] = "km" if weight == "km" else "minutes"
    if scheduler is None:
        od = od_matrix(net, o_ids, d_ids, weight=w, cutoff=cutoff, progress=True)
    else:
        from geoplan.distributed import od_matrix as distributed_od_matrix

        od = distributed_od_matrix(net, o_ids, d_ids, weight=w, cutoff=cutoff, scheduler=scheduler)
    table = od.long()
    table["minutes"] = table["minutes"].round(3)
    table["km"] = table["km"].round(3)
    with plan.writing() as staging:
        write_csv(table, staging.path(out))
    n_bad = int((~table["reachable"]).sum())
    typer.echo(f"wrote {len(table)} pairs ({len(od.origins)} {origins} x {len(od.destinations)} {destinations}, "
               f"{n_bad} unreachable) from {src} to {out}")
