"""``geoplan run``, ``geoplan export`` and ``geoplan compare``: the whole pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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

    result = run(scenario=scenario, layers=layers, roads=roads, out_dir=out, maps_dir=maps, with_surface=surface,
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
                       + (", " + str(row.years) if row.years else ""))
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

    result = run(scenario=scenario, layers=layers, out_dir=out, with_surface=False, with_maps=False, progress=True,
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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines, only the changes.")] = False,
) -> None:
    """List the towns whose category, nearest centre, travel time or destination differ between two scenarios.

    The table names towns and centres and shows each value as A -> B (100 columns); --out writes
    every column (ids, groups, km, accessibility) as CSV.
    """
    from geoplan._io import write_csv
    from geoplan.pipeline import compare

    plan = plan_single(out, layers, a, b) if out is not None else None
    changes = compare(a, b, layers=layers, maps_dir=maps, progress=not quiet)
    if changes.empty:
        typer.echo("no town changes category, nearest centre, travel time or destination")
    else:
        typer.echo(_changes_table(changes, _place_names(a, layers)))
        typer.echo(f"{len(changes)} town(s) change")
    if plan is not None and out is not None:
        with plan.writing() as staging:
            write_csv(changes, staging.path(out))
        typer.echo(f"wrote {out}")
    if maps is not None:
        typer.echo(f"wrote {maps / 'difference.html'}")


def _place_names(scenario: Path, layers: Path | None) -> dict[str, str]:
    """Town and centre names by id, from the layer set the comparison ran on."""
    from geoplan.layers import read_layers
    from geoplan.scenario import load_scenario

    src = layers if layers is not None else load_scenario(scenario).layers_path()
    names: dict[str, str] = {}
    for gdf in (read_layers(src).towns, read_layers(src).centres):
        col = "name_en" if "name_en" in gdf.columns else "id"
        names.update(zip(gdf["id"].astype(str), gdf[col].astype(str), strict=True))
    return names


def _changes_table(changes: Any, names: dict[str, str], width: int = 100) -> str:
    """Return the changed towns as a plain table of at most ``width`` columns: names, A -> B values."""
    sfx = [c.removeprefix("category_") for c in changes.columns if c.startswith("category_")]
    a, b = sfx[0], sfx[1]

    def pair(col: str, fmt: str = "{}") -> list[str]:
        out = []
        for x, y in zip(changes[f"{col}_{a}"], changes[f"{col}_{b}"], strict=True):
            def show(v: Any) -> str:
                return "-" if v is None or v != v else fmt.format(names.get(str(v), v) if fmt == "{}" else v)
            out.append(show(x) if show(x) == show(y) else f"{show(x)} -> {show(y)}")
        return out

    columns = {
        "town": [names.get(str(i), str(n)) for i, n in zip(changes["id"], changes["name_en"], strict=True)],
        "category": pair("category"),
        "rank": pair("rank", "{:.0f}"),
        "minutes": pair("minutes", "{:.0f}"),
        "nearest centre": pair("nearest_centre"),
        "destination": pair("destination"),
    }
    limit = {"town": 16, "category": 30, "rank": 8, "minutes": 10, "nearest centre": 26, "destination": 26}

    def cut(text: str, n: int) -> str:
        return text if len(text) <= n else text[: n - 1] + "…"

    cells = {k: [cut(v, limit[k]) for v in vals] for k, vals in columns.items()}
    widths = {k: max([len(k), *map(len, vals)]) for k, vals in cells.items()}
    while sum(widths.values()) + 2 * (len(widths) - 1) > width:  # shrink the widest column
        k = max(widths, key=lambda c: widths[c])
        widths[k] -= 1
        cells[k] = [cut(v, widths[k]) for v in cells[k]]
    lines = ["  ".join(k.ljust(widths[k]) for k in cells).rstrip()]
    for r in range(len(changes)):
        lines.append("  ".join(cells[k][r].ljust(widths[k]) for k in cells).rstrip())
    return "\n".join(lines)
