"""The ``geoplan`` command line: a thin shell over the public API.

Exit codes: 0 success, 1 problems found (``layers check``), 2 bad input or usage (message on
stderr, traceback only with ``--debug``).
"""

from __future__ import annotations

import json
import sys
import traceback
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

_STATE = {"debug": False}

LayersArg = Annotated[
    Path | None,
    typer.Argument(help="Layer folder or GeoPackage (default: the embedded Kazakhstan layers).", show_default=False),
]


def _echo_err(text: str) -> None:
    typer.echo(text, err=True)


def _load(path: Path | None) -> tuple[Path, LayerSet]:
    src = path if path is not None else embedded_layers_path()
    return src, read_layers(src)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show Python tracebacks for errors.")] = False,
) -> None:
    _STATE["debug"] = debug


def _format_report(src: Path, layers: LayerSet, problems: list[Problem]) -> str:
    counts = ", ".join(f"{n} {len(layers.layers[n])}" for n in layers.names)
    lines = [f"layer set: {src} ({counts})"]
    for p in problems:
        fid = p.feature_id if p.feature_id is not None else "-"
        lines.append(f"{p.severity.upper():7s} {p.layer:8s} {fid:14s} {p.check}: {p.message}")
        lines.append(f"{'':7s} {'':8s} {'':14s} fix: {p.fix}" + (f"  [{p.source}]" if p.source else ""))
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
    to: Annotated[Path, typer.Option("--to", help="Output .gpkg file, or a folder for GeoJSON files.")] = Path("layers.gpkg"),
    force: Annotated[bool, typer.Option("--force", help="Export even if the layer set has errors.")] = False,
) -> None:
    """Write a layer set as one GeoPackage (for QGIS) or a folder of RFC 7946 GeoJSON files."""
    src, layers = _load(path)
    problems = validate(layers)
    errors = [p for p in problems if p.severity == "error"]
    if errors and not force:
        for p in errors[:20]:
            _echo_err(str(p))
        raise GeoplanError(f"{src}: {len(errors)} error(s); nothing written", fix="fix them, or pass --force to export anyway")
    out = write_layers(layers, to)
    typer.echo(f"wrote {', '.join(f'{n} ({len(g)})' for n, g in layers.layers.items())} to {out}")


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
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except click.exceptions.Abort:
        _echo_err("geoplan: aborted")
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
