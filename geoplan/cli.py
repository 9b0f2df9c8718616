"""The ``geoplan`` command line: a thin shell over the public API.

Exit codes: 0 success, 1 problems found (``layers check``), 2 bad input or usage (message on
stderr, traceback only with ``--debug``), 130 aborted.
"""

from __future__ import annotations

import json
import sys
import traceback
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated

import click
import typer

from geoplan._errors import GeoplanError
from geoplan.layers import (
    LayerSet,
    Problem,
    ValidationConfig,
    embedded_layers_path,
    read_layers,
    validate,
    write_layers,
)

app = typer.Typer(
    name="geoplan",
    help="Travel-time and catchment analysis for planning single-industry towns.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
layers_app = typer.Typer(help="Check, inspect and export layer sets.", no_args_is_help=True)
app.add_typer(layers_app, name="layers")

LayersArg = Annotated[
    Path | None,
    typer.Argument(help="Layer folder or GeoPackage (default: the embedded Kazakhstan layers).", show_default=False),
]


def _echo_err(text: str) -> None:
    typer.echo(text, err=True)


def _load(path: Path | None, required: tuple[str, ...] = ("towns", "centres", "roads")) -> tuple[Path, LayerSet]:
    src = path if path is not None else embedded_layers_path()
    return src, read_layers(src, required=required)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show Python tracebacks for errors.")] = False,
) -> None:
    # Declared here for parsing and --help only: main() reads --debug from the arguments itself,
    # because it must know before typer runs.
    del debug


def _format_report(src: Path, layers: LayerSet, problems: list[Problem]) -> str:
    counts = ", ".join(f"{n} {len(layers.layers[n])}" for n in layers.names)
    lines = [f"layer set: {src} ({counts})"]
    # Columns as wide as their longest entry, so rows line up for any layer and id.
    wl = max([8, *(len(p.layer) for p in problems)])
    wf = max([14, *(len(str(p.feature_id)) for p in problems)])
    for p in problems:
        fid = p.feature_id if p.feature_id is not None else "-"
        lines.append(f"{p.severity.upper():7s} {p.layer:{wl}s} {fid:{wf}s} {p.check}: {p.message}")
        lines.append(f"{'':7s} {'':{wl}s} {'':{wf}s} fix: {p.fix}" + (f"  [{p.source}]" if p.source else ""))
    n_err = sum(p.severity == "error" for p in problems)
    n_warn = len(problems) - n_err
    lines.append("no problems found" if not problems else f"{n_err} error(s), {n_warn} warning(s)")
    return "\n".join(lines)


@layers_app.command("check")
def layers_check(
    path: LayersArg = None,
    fmt: Annotated[str, typer.Option("--format", help="Report format: text or json.")] = "text",
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 on warnings too.")] = False,
    snap_tolerance_m: Annotated[float, typer.Option(help="Report road ends this close to another road.")] = 100.0,
    max_access_km: Annotated[float, typer.Option(help="Report places farther than this from every road.")] = 25.0,
) -> None:
    """Validate a layer set and report every problem (exit 0 clean, 1 problems, 2 unreadable)."""
    if fmt not in ("text", "json"):
        raise click.BadParameter("must be 'text' or 'json'", param_hint="--format")
    src, layers = _load(path)
    problems = validate(layers, config=ValidationConfig(snap_tolerance_m=snap_tolerance_m, max_access_km=max_access_km))
    if fmt == "json":
        payload = {
            "path": str(src),
            "layers": {n: len(g) for n, g in layers.layers.items()},
            "errors": sum(p.severity == "error" for p in problems),
            "warnings": sum(p.severity == "warning" for p in problems),
            "problems": [p.__dict__ for p in problems],
        }
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        typer.echo(_format_report(src, layers, problems))
    failing = [p for p in problems if strict or p.severity == "error"]
    raise typer.Exit(1 if failing else 0)


@layers_app.command("export")
def layers_export(
    path: LayersArg = None,
    to: Annotated[Path, typer.Option(
        "--to", help="Output .gpkg file, or a folder for GeoJSON files.")] = Path("layers.gpkg"),
    force: Annotated[bool, typer.Option("--force", help="Export even if the layer set has errors.")] = False,
) -> None:
    """Write a layer set as one GeoPackage (for QGIS) or a folder of RFC 7946 GeoJSON files."""
    src, layers = _load(path)
    problems = validate(layers)
    errors = [p for p in problems if p.severity == "error"]
    if errors and not force:
        for p in errors[:20]:
            _echo_err(str(p))
        raise GeoplanError(f"{src}: {len(errors)} error(s); nothing written",
                           fix="fix them, or pass --force to export anyway")
    out = write_layers(layers, to)
    typer.echo(f"wrote {', '.join(f'{n} ({len(g)})' for n, g in layers.layers.items())} to {out}")


osm_app = typer.Typer(help="Turn OpenStreetMap data into a roads layer.", no_args_is_help=True)
app.add_typer(osm_app, name="osm")

RoadsOut = Annotated[Path, typer.Option("--to", help="Output roads file: .geojson or .gpkg (layer 'roads').")]
MainRoads = Annotated[bool, typer.Option("--main-roads", help="Keep motorway..secondary and their links only.")]
RoadClasses = Annotated[str | None, typer.Option("--road-classes", help="Comma-separated highway classes to keep.")]


def _osm_classes(road_classes: str | None) -> list[str] | None:
    return None if road_classes is None else [c for c in road_classes.split(",") if c.strip()]


@osm_app.command("convert")
def osm_convert(
    file: Annotated[Path, typer.Argument(help="OSM extract: .osm.pbf, .osm, .osm.bz2 or .osm.gz.")],
    to: RoadsOut,
    main_roads: MainRoads = False,
    road_classes: RoadClasses = None,
) -> None:
    """Convert an OSM extract into a roads layer (segments split at junctions)."""
    from geoplan.osm import read_osm, roads_summary, write_roads

    roads = read_osm(file, road_classes=_osm_classes(road_classes), main_roads=main_roads, progress=True)
    typer.echo(f"wrote {roads_summary(roads)} to {write_roads(roads, to)}")


@osm_app.command("download")
def osm_download(
    to: RoadsOut,
    place: Annotated[str | None, typer.Option("--place", help="Place name known to Nominatim.")] = None,
    bbox: Annotated[str | None, typer.Option("--bbox", help="Bounding box W,S,E,N in degrees.")] = None,
    main_roads: MainRoads = False,
    road_classes: RoadClasses = None,
    overpass_url: Annotated[str | None, typer.Option("--overpass-url", help="Overpass API base URL.")] = None,
) -> None:
    """Download roads from the Overpass API (through osmnx) into a roads layer."""
    from geoplan.osm import download_osm, roads_summary, write_roads

    box = None
    if bbox is not None:
        parts = bbox.split(",")
        try:
            box = tuple(float(v) for v in parts)
        except ValueError:
            box = ()
        if len(box) != 4:
            raise click.BadParameter("must be four numbers W,S,E,N, e.g. 72.9,50.0,73.2,50.1", param_hint="--bbox")
    roads = download_osm(place=place, bbox=box, road_classes=_osm_classes(road_classes), main_roads=main_roads,
                         overpass_url=overpass_url, progress=True)
    typer.echo(f"wrote {roads_summary(roads)} to {write_roads(roads, to)}")


OsmRoadsOpt = Annotated[Path | None, typer.Option(
    "--osm", help="Use the roads of this OpenStreetMap extract (.osm.pbf, .osm, .osm.bz2) instead of the "
    "layer set's roads layer; towns and centres still come from the layer set.", show_default=False)]


def _layers_for_analysis(path: Path | None, osm: Path | None) -> tuple[Path, LayerSet, float]:
    """Read and validate the layer set; swap in OSM roads if asked. Returns the snap tolerance to use."""
    from geoplan.layers import require_valid

    src, layers = _load(path, required=("towns", "centres") if osm is not None else ("towns", "centres", "roads"))
    if osm is None:
        require_valid(layers)
        return src, layers, 1.0
    from geoplan.osm import read_osm

    layers = layers.copy()
    layers.layers["roads"] = read_osm(osm, progress=True)
    layers.sources["roads"] = str(osm)
    require_valid(layers)
    return src, layers, 0.0  # OSM topology comes from shared node ids: never snap


def _bands(text: str) -> list[float]:
    try:
        return [float(b) for b in text.split(",") if b.strip()]
    except ValueError:
        raise click.BadParameter("must be comma-separated minutes, e.g. 30,60,90,120", param_hint="--bands") from None


@app.command("catchments")
def catchments_cmd(
    path: LayersArg = None,
    out: Annotated[Path, typer.Option("--out", help="Output GeoJSON file (RFC 7946).")] = Path("catchments.geojson"),
    bands: Annotated[str, typer.Option("--bands", help="Comma-separated travel-time bands, minutes.")] = "30,60,90,120",
    buffer_m: Annotated[float, typer.Option(
        "--buffer-m", help="Corridor half-width around reached roads, m.")] = 2000.0,
    osm: OsmRoadsOpt = None,
) -> None:
    """Write nested travel-time catchments of every growth centre as GeoJSON polygons."""
    from geoplan._io import write_geojson
    from geoplan.catchments import catchments
    from geoplan.network import build_network

    _, layers, snap = _layers_for_analysis(path, osm)
    net = build_network(layers.roads, snap_tolerance_m=snap, progress=True)
    result = catchments(net, layers.centres, bands=_bands(bands), towns=layers.towns, buffer_m=buffer_m, progress=True)
    write_geojson(result, out, id_column=None, name="catchments")
    typer.echo(f"wrote {len(result)} catchments ({result['centre'].nunique()} centres x "
               f"{result['band'].nunique()} bands) to {out}")


@app.command("surface")
def surface_cmd(
    path: LayersArg = None,
    out: Annotated[Path, typer.Option("--out", help="Output GeoTIFF file.")] = Path("surface.tif"),
    resolution: Annotated[float, typer.Option("--resolution", help="Cell size, metres.")] = 1000.0,
    offroad_kph: Annotated[float | None, typer.Option(
        "--offroad-kph", help="Speed away from the roads layer, km/h [default: 20, the track speed].",
        show_default=False)] = None,
    study_area: Annotated[Path | None, typer.Option(
        "--study-area", help="Polygon file (e.g. a national boundary; its first layer); cells outside are nodata "
        "[default: convex hull of roads and places + 10 km].", show_default=False)] = None,
    osm: OsmRoadsOpt = None,
) -> None:
    """Write a raster of travel time to the nearest growth centre as a GeoTIFF."""
    from geoplan.surface import DEFAULT_OFFROAD_KPH, surface

    _, layers, _ = _layers_for_analysis(path, osm)
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
    result = surface(layers, resolution_m=resolution,
                     offroad_kph=DEFAULT_OFFROAD_KPH if offroad_kph is None else offroad_kph,
                     study_area=area, out=out, progress=True)
    valid = result.array[result.array != result.nodata]
    span = f"{valid.min():.0f}-{valid.max():.0f} minutes" if valid.size else "no reachable cell"
    typer.echo(f"wrote {result.array.shape[1]} x {result.array.shape[0]} cells at {result.resolution_m:g} m "
               f"({span}) to {out}")


network_app = typer.Typer(help="Build and export the routable road network.", no_args_is_help=True)
app.add_typer(network_app, name="network")


@network_app.command("build")
def network_build(
    path: LayersArg = None,
    out: Annotated[Path, typer.Option(
        "--out", help="Output .gpkg (layers 'edges' and 'nodes') or .geojson (edges; nodes in <stem>.nodes.geojson)."
    )] = Path("network.gpkg"),
    osm: Annotated[Path | None, typer.Option(
        "--osm", help="Build from an OSM extract (.osm.pbf, .osm, .osm.bz2) instead of a roads layer.")] = None,
    main_roads: MainRoads = False,
    snap_m: Annotated[float | None, typer.Option(
        "--snap-m", help="Snap dangling segment ends this close to another node, metres "
        "[default: 1 for a layer set, 0 for OSM].", show_default=False)] = None,
) -> None:
    """Build the road network and write its edges and nodes; print node, edge and component counts."""
    import numpy as np

    from geoplan.network import build_network, write_network

    if osm is not None:
        if path is not None:
            raise click.BadParameter("give either a layer set or --osm, not both", param_hint="--osm")
        from geoplan.osm import read_osm

        src: Path = osm
        roads = read_osm(osm, main_roads=main_roads, progress=True)
        tolerance: float | None = 0.0 if snap_m is None else snap_m  # OSM topology comes from shared node ids
    else:
        src, layers = _load(path)
        roads = layers.roads
        tolerance = snap_m  # None: build_network's default
    net = build_network(roads, progress=True) if tolerance is None else build_network(
        roads, snap_tolerance_m=tolerance, progress=True)
    sizes = np.bincount(net.components()) if net.n_nodes else np.zeros(1, int)
    written = write_network(net, out)
    typer.echo(f"network from {src}: {net.n_nodes:,} nodes, {net.n_edges:,} directed edges, "
               f"{len(sizes)} component(s) (largest {int(sizes[0]):,} nodes)")
    typer.echo(f"wrote {', '.join(map(str, written))}")


_PLACE_LAYERS = ("towns", "centres")


@app.command("traveltime")
def traveltime_cmd(
    path: LayersArg = None,
    out: Annotated[Path, typer.Option("--out", help="Output CSV file.")] = Path("traveltime.csv"),
    origins: Annotated[str, typer.Option("--origins", help="Origin layer: towns or centres.")] = "towns",
    destinations: Annotated[str, typer.Option(
        "--destinations", help="Destination layer: centres or towns.")] = "centres",
    cutoff: Annotated[float | None, typer.Option(
        "--cutoff", help="Minutes; pairs farther apart are written as unreachable.", show_default=False)] = None,
    max_snap_km: Annotated[float, typer.Option(
        "--max-snap-km", help="Places farther than this from every road are not attached (unreachable).")] = 25.0,
    osm: OsmRoadsOpt = None,
    mode: Annotated[str, typer.Option(
        "--mode", help="road, or rail: passenger railway (needs the rail_stations and rail layers); places "
        "without a station are written as unreachable.")] = "road",
) -> None:
    """Write the fastest travel time of every origin x destination pair as a CSV table.

    Columns: origin, destination, minutes, km (road or track length of the fastest route), reachable.
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
    if mode == "rail" and osm is not None:
        raise click.BadParameter("--osm replaces the roads; it cannot be combined with --mode rail", param_hint="--osm")
    src, layers, snap = _layers_for_analysis(path, osm)
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
        net = build_network(layers.roads, snap_tolerance_m=snap, progress=True)
        net, report = attach_places(net, places, max_snap_km=max_snap_km)
        lost = report.loc[~report["snapped"], "id"].tolist()
        if lost:
            _echo_err(f"geoplan: warning: {len(lost)} place(s) farther than {max_snap_km:g} km from every road "
                      f"(reported unreachable): {', '.join(lost)}")
    od = od_matrix(net, layers[origins]["id"].astype(str).tolist(), layers[destinations]["id"].astype(str).tolist(),
                   cutoff=cutoff, progress=True)
    table = od.long()
    table["minutes"] = table["minutes"].round(3)
    table["km"] = table["km"].round(3)
    write_csv(table, out)
    n_bad = int((~table["reachable"]).sum())
    typer.echo(f"wrote {len(table)} pairs ({len(od.origins)} {origins} x {len(od.destinations)} {destinations}, "
               f"{n_bad} unreachable) from {src} to {out}")


scenario_app = typer.Typer(help="Check and show scenario files (every threshold, speed and network edit).",
                            no_args_is_help=True)
app.add_typer(scenario_app, name="scenario")

ScenarioArg = Annotated[
    Path | None,
    typer.Argument(help="Scenario YAML file (default: the built-in baseline).", show_default=False),
]


@scenario_app.command("show")
def scenario_show(
    scenario: ScenarioArg = None,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the complete scenario to this YAML file.",
                                             show_default=False)] = None,
) -> None:
    """Print a scenario with every default filled in (a starting point for a new scenario)."""
    from geoplan.scenario import Scenario, dump_scenario, load_scenario

    s = load_scenario(scenario) if scenario is not None else Scenario.baseline()
    typer.echo(dump_scenario(s, out), nl=False)
    if out is not None:
        _echo_err(f"wrote {out}")


@scenario_app.command("check")
def scenario_check(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
) -> None:
    """Validate a scenario and apply its network edits to its layers (exit 0 valid, 2 invalid)."""
    from geoplan.layers import require_valid
    from geoplan.scenario import apply_edits, load_scenario

    s = load_scenario(scenario)
    src, layers = _load(s.layers_path() if s.layers is not None else None)
    edited = apply_edits(layers, s)
    require_valid(edited)
    typer.echo(f"scenario {scenario} ({s.name}): valid; layers {src}")
    for line in edited.meta.get("edits", []):
        typer.echo(f"  {line}")
    typer.echo(f"  roads: {len(layers.roads)} -> {len(edited.roads)}")


# typer >= 0.22 runs on its own copy of click (typer._click): usage errors it raises (unknown
# command or option, missing value) are not click's classes, so catch both families.
_USAGE_ERRORS = tuple({click.ClickException, getattr(typer, "TyperException", click.ClickException)})
_EXITS = tuple({click.exceptions.Exit, typer.Exit})
_ABORTS = tuple({click.exceptions.Abort, typer.Abort})


# --------------------------------------------------------------------------------------
# the whole pipeline

ScenarioOpt = Annotated[Path | None, typer.Option("--scenario", "-s", help="Scenario YAML (default: baseline).")]
LayersOpt = Annotated[Path | None, typer.Option(
    "--layers", help="Layer folder or GeoPackage (default: the scenario's, else embedded).")]


@app.command("run")
def run_cmd(
    scenario: ScenarioOpt = None,
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Folder for GeoJSON, GeoPackage, CSV and GeoTIFF outputs.")] = Path("out"),
    maps: Annotated[Path | None, typer.Option(
        "--maps", help="Folder for the HTML and PNG maps (default: --out).")] = None,
    layers: LayersOpt = None,
    surface: Annotated[bool, typer.Option(
        "--surface/--no-surface", help="Compute the raster travel-time surface.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary table.")] = False,
) -> None:
    """Run the whole analysis: validate, network, travel times, catchments, categories, relocation, maps, exports."""
    from geoplan.pipeline import run, summary_table

    result = run(scenario, layers=layers, out_dir=out, maps_dir=maps, with_surface=surface, progress=not quiet)
    for w in result.warnings:  # shown even with --quiet: they may explain odd results
        _echo_err(f"geoplan: warning: {str(w).removeprefix('WARNING: ')}")
    if quiet:
        return
    with pd_display():
        typer.echo(summary_table(result).to_string(index=False))
    counts = result.towns["category"].value_counts().sort_index()
    typer.echo("categories: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    moved = int(result.flows["people"].sum()) if len(result.flows) else 0
    typer.echo(f"relocation: {moved:,} people in {len(result.flows)} flows")
    typer.echo("wrote: " + ", ".join(str(p) for p in result.outputs.values()))


@app.command("export")
def export_cmd(
    scenario: ScenarioOpt = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out"),
    layers: LayersOpt = None,
) -> None:
    """Write the results (GeoJSON, styled GeoPackage, CSV) without maps or surface."""
    from geoplan.pipeline import run

    result = run(scenario, layers=layers, out_dir=out, with_surface=False, with_maps=False, progress=True)
    typer.echo("wrote: " + ", ".join(str(p) for p in result.outputs.values()))


@app.command("compare")
def compare_cmd(
    a: Annotated[Path, typer.Argument(help="First scenario YAML (e.g. scenarios/baseline.yaml).")],
    b: Annotated[Path, typer.Argument(help="Second scenario YAML.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the changes as CSV.")] = None,
    layers: LayersOpt = None,
) -> None:
    """List the towns whose category, nearest centre, travel time or destination differ between two scenarios."""
    from geoplan._io import write_csv
    from geoplan.pipeline import compare

    changes = compare(a, b, layers=layers)
    if changes.empty:
        typer.echo("no town changes category, nearest centre, travel time or destination")
    else:
        with pd_display():
            typer.echo(changes.to_string(index=False))
        typer.echo(f"{len(changes)} town(s) change")
    if out is not None:
        write_csv(changes, out)
        typer.echo(f"wrote {out}")


def pd_display() -> AbstractContextManager[None]:
    """Widen pandas output for terminal tables (a context manager)."""
    import pandas as pd

    return pd.option_context("display.width", 200, "display.max_columns", 50, "display.max_colwidth", 40)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``geoplan`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        result = app(args=args, prog_name="geoplan", standalone_mode=False)
    except GeoplanError as exc:
        if debug:
            traceback.print_exc()
        _echo_err(f"geoplan: error: {exc}")
        sys.exit(2)
    except _EXITS as exc:
        sys.exit(exc.exit_code)
    except _USAGE_ERRORS as exc:
        if hasattr(exc, "show"):
            exc.show()
        else:
            _echo_err(f"Error: {exc.format_message()}")
        sys.exit(2)
    except _ABORTS:
        _echo_err("geoplan: aborted")
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
