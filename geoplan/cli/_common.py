"""The root ``geoplan`` command and what the command groups share (options, layer loading)."""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import click
import typer

# Heavy modules (geopandas through geoplan.layers) are imported inside the commands, so that
# `geoplan --help` starts at once.
if TYPE_CHECKING:
    from geoplan._outputs import OutputSet
    from geoplan.layers import LayerSet
    from geoplan.scenario import Scenario

app = typer.Typer(
    name="geoplan",
    help="Travel-time and catchment analysis for planning single-industry towns.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _layer_location(text: str) -> Path | str:
    """Parse a layer-set argument: a ``postgresql://`` URL stays text (a Path would mangle ``//``)."""
    return text if "://" in text else Path(text)


LayersArg = Annotated[
    Path | None,
    typer.Argument(help="Layer folder, GeoPackage or postgresql://user@host:port/db?schema=NAME URL "
                   "(default: the embedded Kazakhstan layers).", show_default=False, parser=_layer_location),
]


def _echo_err(text: str) -> None:
    typer.echo(text, err=True)


def _load(path: Path | str | None,
          required: tuple[str, ...] = ("towns", "centres", "roads")) -> tuple[Path | str, LayerSet]:
    """Read a layer set; return it with the name to show for it (a URL without its password)."""
    from geoplan.layers import embedded_layers_path, read_layers

    src = path if path is not None else embedded_layers_path()
    layers = read_layers(src, required=required)
    if isinstance(src, str) and "://" in src:
        from geoplan.store import redact_url

        return redact_url(src), layers
    return src, layers


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show Python tracebacks for errors.")] = False,
) -> None:
    # Declared here for parsing and --help only: main() reads --debug from the arguments itself,
    # because it must know before typer runs.
    del debug


OsmRoadsOpt = Annotated[Path | None, typer.Option(
    "--osm", help="Use the roads of this OpenStreetMap extract (.osm.pbf, .osm, .osm.bz2) instead of the "
    "layer set's roads layer; towns and centres still come from the layer set.", show_default=False)]


def _layers_for_analysis(path: Path | str | None, osm: Path, *,
                         main_roads: bool = False) -> tuple[Path | str, LayerSet]:
    """Read the layer set with the roads of the OSM extract ``osm`` in place of its own (not validated yet)."""
    src, layers = _load(path, required=("towns", "centres"))
    from geoplan.osm import read_osm

    layers = layers.copy()
    roads = read_osm(osm, main_roads=main_roads, progress=True)
    extent = layers.meta.get("extent")
    if extent is not None and len(roads):
        # An extract of another country would otherwise give one error per road.
        w, s, e, n = (float(v) for v in roads.total_bounds)
        if w > extent[2] or e < extent[0] or s > extent[3] or n < extent[1]:
            from geoplan._errors import LayerValidationError

            raise LayerValidationError(
                f"{osm}: the extract covers lon {w:.2f}..{e:.2f}, lat {s:.2f}..{n:.2f}, entirely outside the "
                f"layer set's extent {list(extent)} ({src}): none of its {len(roads):,} roads can reach the towns",
                fix="download the extract of the layer set's country (geoplan osm download --region ...), or pass "
                    "the layer set of the extract's area")
    layers.layers["roads"] = roads
    layers.sources["roads"] = str(osm)
    return src, layers


def _analysis_setup(path: Path | str | None, osm: Path | None, scenario: Path | None, *,
                    main_roads: bool = False) -> tuple[Path | str, LayerSet, float, Scenario]:
    """Layers for a single analysis command as ``geoplan run`` would see them under ``scenario``.

    The layer set is ``path`` if given, else the scenario's (else the embedded one); the
    scenario's ``roads`` replacement (unless ``osm`` gives the roads) and network edits are
    applied and the result validated (:func:`geoplan.scenario.scenario_layers`), so
    ``traveltime``/``catchments``/``surface``/``network build`` answer the same what-if as ``run``.
    ``main_roads`` keeps the extract's motorway..secondary roads only. Returns the source shown
    to the user, the layers, the snap tolerance and the scenario.
    """
    from geoplan.layers import embedded_layers_path
    from geoplan.scenario import Scenario, load_scenario, scenario_layers

    sc = Scenario.baseline() if scenario is None else load_scenario(scenario)
    if osm is not None:
        src, layers = _layers_for_analysis(path, osm, main_roads=main_roads)
        # The extract's roads replace the scenario's roads key; OSM topology comes from shared node ids: never snap.
        edited, _ = scenario_layers(sc.model_copy(update={"roads": None}), layers=layers)
        return src, edited, 0.0, sc
    if path is None:
        path = sc.layers_path() if scenario is not None else embedded_layers_path()
    src, layers = _load(path)
    edited, _ = scenario_layers(sc, layers=layers)
    return src, edited, sc.network.snap_tolerance_m, sc


def _bands(text: str) -> list[float]:
    try:
        bands = [float(b) for b in text.split(",") if b.strip()]
    except ValueError:
        raise click.BadParameter("must be comma-separated minutes, e.g. 30,60,90,120", param_hint="--bands") from None
    bad = [b for b in bands if not (math.isfinite(b) and b > 0)]
    if bad or not bands:
        shown = f", got {', '.join(f'{b:g}' for b in bad)}" if bad else ""
        raise click.BadParameter(f"must be positive minutes, e.g. 30,60,90,120{shown}", param_hint="'--bands'")
    return bands


ScenarioOpt = Annotated[Path | None, typer.Option("--scenario", "-s", help="Scenario YAML (default: baseline).")]
LayersOpt = Annotated[Path | None, typer.Option(
    "--layers", help="Layer folder, GeoPackage or postgresql://user@host:port/db?schema=NAME URL (default: the "
    "scenario's, else embedded).", parser=_layer_location)]


SchedulerOpt = Annotated[str | None, typer.Option(
    "--scheduler", help="Run the travel-time searches on Dask workers: 'processes' (all cores of this machine) or "
    "tcp://HOST:PORT (a running `dask scheduler`). Default: in this process.", show_default=False)]


def pd_display() -> AbstractContextManager[None]:
    """Widen pandas output for terminal tables (a context manager)."""
    import pandas as pd

    return pd.option_context("display.width", 200, "display.max_columns", 50, "display.max_colwidth", 40)

MainRoads = Annotated[bool, typer.Option("--main-roads", help="Keep motorway..secondary and their links only.")]


# --------------------------------------------------------------------------------------
# numeric options and single-file outputs


def number_check(*, minimum: float = 0.0, inclusive: bool = False, unit: str = "") -> Callable[..., float | None]:
    """Return a typer option callback refusing NaN, infinities and numbers below ``minimum``.

    ``inclusive`` allows ``minimum`` itself (e.g. a snap distance of 0).
    """
    bound = f"at least {minimum:g}" if inclusive else ("a positive number" if minimum == 0 else f"above {minimum:g}")

    def check(param: typer.CallbackParam, value: float | None) -> float | None:
        if value is None:
            return None
        if not math.isfinite(value) or value < minimum or (value == minimum and not inclusive):
            example = f", e.g. {unit}" if unit else ""
            raise click.BadParameter(f"must be {bound}, got {value:g}{example}",
                                     param_hint=f"'{param.opts[0]}'" if param.opts else None)
        return value

    return check


def plan_single(out: Path, layers: Path | None, *inputs: Path | None, also: tuple[Path, ...] = ()) -> OutputSet:
    """Check ``out`` before anything runs; write it later with ``with plan.writing() as staging:``.

    ``out`` naming a folder, a special file or one of the inputs is refused here, before any
    computing, and so is any file name of the layer set ``layers`` (default: the embedded one)
    reads or would read (``towns.gpkg`` beside ``towns.geojson``, say): see
    :func:`geoplan._outputs.plan_outputs` and :func:`geoplan.layers.io.layer_set_files`. Writing
    through the plan's staging path (``staging.path(out)``) locks the folder, verifies the file
    and replaces ``out`` only once it is complete. ``also`` names further files written with
    ``out`` and committed together with it.
    """
    from geoplan._outputs import plan_outputs
    from geoplan.layers import embedded_layers_path
    from geoplan.layers.io import layer_set_files, layer_url_scheme

    protected: list[Path | None] = list(inputs)
    if layers is None or layer_url_scheme(layers) is None:
        protected += layer_set_files(layers if layers is not None else embedded_layers_path())
    return plan_outputs([out, *also], inputs=protected)
