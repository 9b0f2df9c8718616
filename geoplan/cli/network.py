"""``geoplan network``: build and export the routable road network."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import click
import typer

from geoplan.cli._common import LayersArg, MainRoads, ScenarioOpt, _analysis_setup, _load, app, number_check
from geoplan.settings import SNAP_TOLERANCE_M

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
        f"[default: {SNAP_TOLERANCE_M:g} for a layer set, 0 for OSM].", show_default=False,
        callback=number_check(inclusive=True, unit=f"{SNAP_TOLERANCE_M:g}"))] = None,
    scenario: ScenarioOpt = None,
) -> None:
    """Build the road network and write its edges and nodes; print node, edge and component counts.

    With ``--scenario`` the network is the one ``geoplan run`` routes on: the scenario's layer
    set, roads replacement, network edits (added, closed, reclassified roads) and speeds.
    """
    import numpy as np

    from geoplan._outputs import plan_outputs
    from geoplan.layers import embedded_layers_path
    from geoplan.network import build_network, write_network

    if osm is not None and path is not None:
        raise click.BadParameter("give either a layer set or --osm, not both", param_hint="--osm")
    # Every file write_network writes, checked before anything is built.
    nodes = out.with_name(f"{out.stem}.nodes.geojson") if out.suffix.lower() == ".geojson" else None
    source = osm if osm is not None else (path or embedded_layers_path())
    plan_outputs([out, *([nodes] if nodes else [])], inputs=[source, scenario])
    speeds = None
    src: Path | str
    tolerance: float | None
    label = ""
    if scenario is not None:
        src, layers, snap, sc = _analysis_setup(path, osm, scenario, main_roads=main_roads)
        roads, speeds = layers.roads, sc.speeds
        tolerance = snap if snap_m is None else snap_m
        label = f" under scenario {sc.name}" + (f" ({len(layers.meta['edits'])} edit operation(s))"
                                                 if layers.meta.get("edits") else "")
    elif osm is not None:
        from geoplan.osm import read_osm

        src = osm
        roads = read_osm(osm, main_roads=main_roads, progress=True)
        tolerance = 0.0 if snap_m is None else snap_m  # OSM topology comes from shared node ids
    else:
        src, layers = _load(path)
        roads = layers.roads
        tolerance = snap_m  # None: build_network's default
    net = build_network(roads, speeds=speeds, progress=True) if tolerance is None else build_network(
        roads, speeds=speeds, snap_tolerance_m=tolerance, progress=True)
    sizes = np.bincount(net.components()) if net.n_nodes else np.zeros(1, int)
    written = write_network(net, out)
    typer.echo(f"network from {src}{label}: {net.n_nodes:,} nodes, {net.n_edges:,} directed edges, "
               f"{len(sizes)} component(s) (largest {int(sizes[0]):,} nodes)")
    typer.echo(f"wrote {', '.join(map(str, written))}")
