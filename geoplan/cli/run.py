"""``geoplan run``, ``geoplan export`` and ``geoplan compare``: the whole pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geoplan.cli._common import (
    LayersOpt,
    ScenarioOpt,
    SchedulerOpt,
    _echo_err,
    _layer_location,
    app,
    pd_display,
    plan_single,
)

FormatsOpt = Annotated[str, typer.Option(
    "--formats", help="Per-layer files besides results.gpkg, comma-separated: geojson, fgb (FlatGeobuf), "
                      "parquet (GeoParquet).")]
ExcelOpt = Annotated[bool, typer.Option(
    "--excel", help="Write towns.csv with a UTF-8 byte-order mark so Excel (any locale) reads Cyrillic right.")]


def _formats(text: str) -> tuple[str, ...]:
    """Parse ``--formats``: a comma-separated list of export formats."""
    from geoplan._errors import GeoplanError
    from geoplan.export import FORMATS

    formats = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise GeoplanError(f"--formats: unknown format(s) {', '.join(bad) or '(none given)'}",
                           fix=f"use a comma-separated list of {', '.join(FORMATS)}")
    return formats


@app.command("run")
def run_cmd(
    scenario: ScenarioOpt = None,
    out: Annotated[Path, typer.Option(
        "--out", "-o", help="Folder for GeoJSON, GeoPackage, CSV and GeoTIFF outputs, or a "
        "postgresql://user@host:port/db URL: the result layers go to its schema <scenario>_results, replaced "
        "atomically (no maps unless --maps).", parser=_layer_location)] = Path("out"),
    maps: Annotated[Path | None, typer.Option(
        "--maps", help="Folder for the HTML and PNG maps (default: --out).")] = None,
    layers: LayersOpt = None,
    roads: Annotated[Path | None, typer.Option(
        "--roads", help="Roads layer file replacing the layer set's roads, e.g. the real network from "
        "`geoplan osm download --region kazakhstan --to roads.gpkg` (default: the scenario's roads key, else the "
        "layer set's).", show_default=False)] = None,
    surface: Annotated[bool, typer.Option(
        "--surface/--no-surface", help="Compute the raster travel-time surface.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary table.")] = False,
    scheduler: SchedulerOpt = None,
    formats: FormatsOpt = "geojson",
    excel: ExcelOpt = False,
) -> None:
    """Run the whole analysis: validate, network, travel times, catchments, categories, relocation, maps, exports."""
    from geoplan.pipeline import run, summary_table

    result = run(scenario, layers=layers, roads=roads, out_dir=out, maps_dir=maps, with_surface=surface,
                 progress=not quiet, scheduler=scheduler, export_formats=_formats(formats), excel=excel)
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
    if result.sensitivity is not None:
        fragile = result.towns.loc[result.towns["fragile"].astype(bool), "id"].tolist()
        border = result.towns.loc[result.towns["borderline"].astype(bool), "id"].tolist()
        typer.echo(f"fragile (category in < {result.scenario.sensitivity.fragile_share:.0%} of "
                   f"{len(result.sensitivity.params):,} runs): {', '.join(fragile) or 'none'}; "
                   f"borderline: {', '.join(border) or 'none'}")
    if result.relocation_modes is not None and len(result.relocation_modes):
        for row in result.relocation_modes.itertuples(index=False):
            typer.echo(f"relocation mode {row.mode}: placed {row.placed} of {row.people_to_move}"
                       + (f", {row.years}" if row.years else ""))
    if result.outputs:
        typer.echo("wrote: " + ", ".join(str(p) for p in result.outputs.values()))
    if result.database is not None:
        typer.echo(f"wrote towns, centres, catchments, flows, agglomerations to {result.database}")


@app.command("export")
def export_cmd(
    scenario: ScenarioOpt = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("out"),
    layers: LayersOpt = None,
    formats: FormatsOpt = "geojson",
    excel: ExcelOpt = False,
) -> None:
    """Write the results (GeoJSON, styled GeoPackage, CSV) without maps or surface."""
    from geoplan.pipeline import run

    result = run(scenario, layers=layers, out_dir=out, with_surface=False, with_maps=False, progress=True,
                 export_formats=_formats(formats), excel=excel)
    typer.echo("wrote: " + ", ".join(str(p) for p in result.outputs.values()))


@app.command("compare")
def compare_cmd(
    a: Annotated[Path, typer.Argument(help="First scenario YAML (e.g. scenarios/baseline.yaml).")],
    b: Annotated[Path, typer.Argument(help="Second scenario YAML.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the changes as CSV.")] = None,
    layers: LayersOpt = None,
    maps: Annotated[Path | None, typer.Option(
        "--maps", help="Folder for difference.html: a map of what changes from A to B.")] = None,
) -> None:
    """List the towns whose category, nearest centre, travel time or destination differ between two scenarios."""
    from geoplan._io import write_csv
    from geoplan.pipeline import compare

    plan = plan_single(out, layers, a, b) if out is not None else None
    changes = compare(a, b, layers=layers, maps_dir=maps)
    if changes.empty:
        typer.echo("no town changes category, nearest centre, travel time or destination")
    else:
        with pd_display():
            typer.echo(changes.to_string(index=False))
        typer.echo(f"{len(changes)} town(s) change")
    if plan is not None and out is not None:
        with plan.writing() as staging:
            write_csv(changes, staging.path(out))
        typer.echo(f"wrote {out}")
    if maps is not None:
        typer.echo(f"wrote {maps / 'difference.html'}")
