"""``geoplan layers``: check, inspect and export layer sets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import click
import typer

from geoplan._errors import GeoplanError
from geoplan.cli._common import LayersArg, _echo_err, _load, app, number_check
from geoplan.layers import (
    LayerSet,
    Problem,
    ValidationConfig,
    embedded_layers_path,
    validate,
    write_layers,
)

layers_app = typer.Typer(help="Check, inspect and export layer sets.", no_args_is_help=True)
app.add_typer(layers_app, name="layers")


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
    snap_tolerance_m: Annotated[float, typer.Option(
        help="Report road ends this close to another road.", callback=number_check(inclusive=True, unit="100"))] = 100.0,
    max_access_km: Annotated[float, typer.Option(
        help="Report places farther than this from every road.", callback=number_check(unit="25"))] = 25.0,
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
    from geoplan._io import plan_outputs

    src = path if path is not None else embedded_layers_path()
    # Before reading: the target must not be (or lie inside) the layer set being exported.
    plan_outputs([to] if to.suffix.lower() == ".gpkg" else [to / "towns.geojson"], inputs=[src])
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
