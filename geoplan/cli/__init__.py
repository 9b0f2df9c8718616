"""The ``geoplan`` command line: a thin shell over the public API.

One module per command group (:mod:`~geoplan.cli.layers`, :mod:`~geoplan.cli.osm`,
:mod:`~geoplan.cli.network`, :mod:`~geoplan.cli.analysis`, :mod:`~geoplan.cli.scenario`,
:mod:`~geoplan.cli.run`); :func:`main` is the console script's entry point.

Exit codes: 0 success, 1 problems found (``layers check``), 2 bad input or usage (message on
stderr, traceback only with ``--debug``), 130 aborted.
"""

from __future__ import annotations

import sys
import traceback

import click
import typer

from geoplan._errors import GeoplanError
from geoplan._progress import reporting
from geoplan.cli._common import _echo_err, app

# Importing the command modules registers their commands on the root app, in --help order.
# isort: off
from geoplan.cli import layers, osm, analysis, network, scenario, run, assessment  # noqa: F401
# isort: on

# typer >= 0.22 runs on its own copy of click (typer._click): usage errors it raises (unknown
# command or option, missing value) are not click's classes, so catch both families.
_USAGE_ERRORS = tuple({click.ClickException, getattr(typer, "TyperException", click.ClickException)})
_EXITS = tuple({click.exceptions.Exit, typer.Exit})
_ABORTS = tuple({click.exceptions.Abort, typer.Abort})


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``geoplan`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        with reporting(progress=True):  # log lines and progress bars on stderr while the command runs
            result = app(args=args, prog_name="geoplan", standalone_mode=False)
    except GeoplanError as exc:
        if debug:
            traceback.print_exc()
        _echo_err(f"geoplan: error: {exc}")
        sys.exit(2)
    except _EXITS as exc:
        sys.exit(getattr(exc, "exit_code", 0))
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


__all__ = ["app", "main"]
