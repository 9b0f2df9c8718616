"""``geoplan scenario``: check and show scenario files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geoplan.cli._common import _echo_err, _load, app

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

    if out is not None:
        from geoplan._outputs import plan_outputs

        plan_outputs([out], inputs=[scenario])
    s = load_scenario(scenario) if scenario is not None else Scenario.baseline()
    typer.echo(dump_scenario(s, path=out), nl=False)
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
