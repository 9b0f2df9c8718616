"""``geoplan layers``: check, inspect and export layer sets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import click
import typer

from geoplan import settings as S
from geoplan._errors import GeoplanError
from geoplan.cli._common import LayersArg, _echo_err, _layer_location, _load, app, number_check, pd_display

if TYPE_CHECKING:  # the commands import geoplan.layers when they run (fast --help)
    import geopandas as gpd
    import pandas as pd

    from geoplan.layers import LayerSet, Problem

layers_app = typer.Typer(help="Check, inspect, export, push to and pull from PostGIS, and diff layer sets.",
                         no_args_is_help=True)
app.add_typer(layers_app, name="layers")


def _format_report(src: Path | str, layers: LayerSet, problems: list[Problem]) -> str:
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
        help="Report road ends this close to another road.",
        callback=number_check(inclusive=True, unit=f"{S.VALIDATION_SNAP_TOLERANCE_M:g}")
    )] = S.VALIDATION_SNAP_TOLERANCE_M,
    max_access_km: Annotated[float, typer.Option(
        help="Report places farther than this from every road.",
        callback=number_check(unit=f"{S.MAX_ACCESS_KM:g}"))] = S.MAX_ACCESS_KM,
) -> None:
    """Validate a layer set and report every problem (exit 0 clean, 1 problems, 2 unreadable)."""
    from geoplan.layers import ValidationConfig, validate

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
    from geoplan._outputs import plan_outputs
    from geoplan.layers import embedded_layers_path, validate, write_layers
    from geoplan.layers.io import layer_set_files, layer_url_scheme

    src: Path | str = path if path is not None else embedded_layers_path()
    # Before reading: the target must not be one of the files the layer set reads.
    targets = [to] if to.suffix.lower() == ".gpkg" else [to / f"{n}.geojson" for n in ("towns", "centres", "roads")]
    plan_outputs(targets, inputs=layer_set_files(src) if layer_url_scheme(src) is None else [])
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


@layers_app.command("show")
def layers_show(
    layer: Annotated[str, typer.Argument(help="Layer to list: towns, centres, roads, rail_stations, rail, ...",
                                         show_default=False)],
    path: LayersArg = None,
) -> None:
    """List a layer's features: id and name; roads also class, end nodes and end coordinates (for writing edits)."""
    import numpy as np
    import shapely

    _, layers = _load(path, required=())
    gdf = layers[layer].to_crs(4326)
    table = _feature_table(gdf)
    geoms = gdf.geometry.to_numpy()
    kinds = shapely.get_type_id(geoms)
    if len(gdf) and (kinds == 0).all():  # points: where they are
        xy = shapely.get_coordinates(geoms)
        table["lon"], table["lat"] = xy[:, 0].round(5), xy[:, 1].round(5)
    elif len(gdf):  # lines: where they start and end (an added road may start at a node or a town)
        xy, index = shapely.get_coordinates(geoms, return_index=True)
        first = np.r_[True, index[1:] != index[:-1]]
        last = np.r_[index[1:] != index[:-1], True]
        for end, mask in (("start", first), ("end", last)):
            text = np.full(len(gdf), "", dtype=object)
            text[index[mask]] = [f"{x:.5f},{y:.5f}" for x, y in xy[mask]]
            table[end] = text
    with pd_display():
        typer.echo(table.to_string(index=False) if len(table) else f"layer '{layer}' has no features")
    typer.echo(f"{len(gdf)} feature(s) in {layer}")


def _feature_table(gdf: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return the columns of a layer that identify its features, in a fixed order."""
    wanted = ["id", "name_en", "name", "road_class", "road_ref", "from_node", "to_node", "length_km", "population",
              "role", "kind", "from_station", "to_station"]
    return gdf[[c for c in wanted if c in gdf.columns]].copy()


# --------------------------------------------------------------------------------------
# PostGIS: push, pull, diff, log

UrlArg = Annotated[str, typer.Argument(
    help="postgresql://user@host:port/db?schema=NAME (password from PGPASSWORD or ~/.pgpass, never printed).",
    show_default=False)]


@layers_app.command("push")
def layers_push(
    source: Annotated[Path, typer.Argument(
        help="Layer folder, GeoPackage or postgresql:// URL to copy.", parser=_layer_location, show_default=False)],
    url: UrlArg,
    message: Annotated[str, typer.Option("--message", "-m", help="A note stored with the push (layer_versions).")] = "",
) -> None:
    """Copy a layer set into a PostGIS schema: every layer in one transaction, with constraints and spatial indexes."""
    from geoplan.store import push_layers

    report = push_layers(source, url, message=message)
    for _, row in report.layers.iterrows():
        typer.echo(f"  {row['layer']:14s} {row['features']:6d} features  +{row['added']} -{row['removed']} "
                   f"~{row['changed']}  {row['content_hash'][:19]}")
    how = "tables created" if report.recreated else "tables refilled"
    typer.echo(f"pushed to {report.url} as push {report.push} ({how}, {report.bytes / 1e6:.2f} MB, "
               f"{report.seconds:.2f} s); {len(report.warnings)} warning(s): geoplan layers check URL lists them")


@layers_app.command("pull")
def layers_pull(
    url: UrlArg,
    dest: Annotated[Path, typer.Argument(help="Output .gpkg file, or a folder for GeoJSON files.", show_default=False)],
) -> None:
    """Copy a layer set from a PostGIS schema into a GeoPackage or a folder of GeoJSON files."""
    from geoplan.store import pull_layers, redact_url

    out = pull_layers(url, dest)
    typer.echo(f"wrote the layer set of {redact_url(url)} to {out}")


@layers_app.command("diff")
def layers_diff(
    a: Annotated[Path, typer.Argument(help="First layer set: folder, GeoPackage or postgresql:// URL.",
                                      parser=_layer_location, show_default=False)],
    b: Annotated[Path, typer.Argument(help="Second layer set.", parser=_layer_location, show_default=False)],
    fmt: Annotated[str, typer.Option("--format", help="text, csv or json.")] = "text",
) -> None:
    """List the features added, removed and changed from A to B (exit 0 same, 1 different)."""
    from geoplan.store import diff_layers

    if fmt not in ("text", "csv", "json"):
        raise click.BadParameter("must be 'text', 'csv' or 'json'", param_hint="--format")
    (name_a, set_a), (name_b, set_b) = _load(a, required=()), _load(b, required=())
    changes = diff_layers(set_a, set_b)
    if fmt == "csv":
        typer.echo(changes.to_csv(index=False, lineterminator="\n"), nl=False)
    elif fmt == "json":
        typer.echo(json.dumps({"a": str(name_a), "b": str(name_b), "changes": changes.to_dict("records")},
                              indent=2, ensure_ascii=False))
    elif changes.empty:
        typer.echo(f"{name_a} and {name_b} hold the same features")
    else:
        for _, row in changes.iterrows():
            typer.echo(f"{row['change']:13s} {row['layer']:14s} {row['id']:20s} {row['detail']}")
        counts = changes["change"].value_counts()
        typer.echo(", ".join(f"{v} {k}" for k, v in counts.items()) + f" ({name_a} -> {name_b})")
    raise typer.Exit(1 if len(changes) else 0)


@layers_app.command("log")
def layers_log(url: UrlArg) -> None:
    """Show a PostGIS layer set's edits in the database (QGIS, SQL) and its pushes: who, when, what."""
    from geoplan.store import layer_edits, layer_versions

    edits = layer_edits(url)
    if len(edits):
        typer.echo(f"edits in the database ({len(edits)}, newest first, at most 50 shown):")
    for _, e in edits.head(50).iterrows():
        changes = e["changes"] or {}
        if e["operation"] == "update":
            what = "; ".join("geometry moved" if k == "geom" else f"{k} {v[0]} -> {v[1]}" for k, v in changes.items())
        else:
            what = ", ".join(f"{k}={v}" for k, v in changes.items() if v is not None)[:120]
        who = f"{e['edited_by']}" + (f" ({e['client']})" if e["client"] else "")
        typer.echo(f"  {e['edited_at']:%Y-%m-%d %H:%M:%S %Z}  {who}  {e['operation']} {e['layer']} "
                   f"{e['feature_id']}: {what}")
    hist = layer_versions(url)
    for push, rows in hist.groupby("push", sort=False):
        first = rows.iloc[0]
        note = f" — {first['message']}" if first["message"] else ""
        typer.echo(f"push {push}  {first['pushed_at']:%Y-%m-%d %H:%M:%S %Z}  by {first['pushed_by']} "
                   f"({first['client']}) from {first['source']}{note}")
        for _, r in rows.iterrows():
            typer.echo(f"    {r['layer']:14s} {r['features']:6d} features  +{r['added']} -{r['removed']} "
                       f"~{r['changed']}  {r['content_hash'][:19]}")
