"""``geoplan sensitivity``: how robust each town's category is."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geoplan.cli._common import LayersOpt, app, pd_display, plan_single


@app.command("sensitivity")
def sensitivity_cmd(
    scenario: Annotated[Path | None, typer.Argument(help="Scenario YAML (default: baseline).")] = None,
    runs: Annotated[int | None, typer.Option("--runs", "-n", min=10, help="Model runs (default: the scenario's).")
                    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="Random seed (default: the scenario's).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the per-town table as CSV.")] = None,
    layers: LayersOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or table.")] = False,
) -> None:
    """Monte Carlo over every documented assumption: per town the category shares, rank interval and flip cause.

    A Latin hypercube over the ranges in the scenario's ``sensitivity`` section; the network is
    solved once. See docs/method.md.
    """
    from geoplan._io import write_csv
    from geoplan.pipeline import run
    from geoplan.scenario import Scenario, load_scenario
    from geoplan.sensitivity import sensitivity_table

    plan = plan_single(out, layers, scenario) if out is not None else None
    sc = load_scenario(scenario) if scenario is not None else Scenario.baseline()
    values: dict[str, object] = {"sensitivity.in_run": True}
    if runs is not None:
        values["sensitivity.runs"] = runs
    if seed is not None:
        values["sensitivity.seed"] = seed
    sc = sc.with_values(values=values)
    result = run(scenario=sc, layers=layers, with_surface=False, with_maps=False, progress=not quiet)
    assert result.sensitivity is not None
    table = sensitivity_table(result.sensitivity, towns=result.towns)
    if not quiet:
        shown = table[["id", "category", "stability", "fragile", "rank", "rank_p05", "rank_p95", "flipped_by"]]
        with pd_display():
            typer.echo(shown.to_string(index=False))
        fragile = table.loc[table["fragile"], "id"].tolist()
        typer.echo(f"{len(table.index)} towns, {int(result.sensitivity.params.shape[0]):,} runs in "
                   f"{result.sensitivity.seconds:.2f} s ({result.sensitivity.runs_per_second:,.0f} runs/s), "
                   f"seed {sc.sensitivity.seed}; fragile (< {sc.sensitivity.fragile_share:.0%} same category): "
                   + (", ".join(fragile) or "none"))
        typer.echo("flipped_by: the assumption with the largest first-order sensitivity index (binned "
                   "correlation ratio) of 'category differs from the scenario's'")
    if plan is not None and out is not None:
        with plan.writing() as staging:
            write_csv(table, staging.path(out))
        typer.echo(f"wrote {out}")
