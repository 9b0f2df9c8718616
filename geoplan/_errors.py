"""The geoplan error hierarchy.

Every error a user can cause (bad layers, bad scenario, impossible network request) is a
:class:`GeoplanError`. The CLI turns these into a one-paragraph message and exit code 2;
anything else escaping is a bug in geoplan.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "GeoplanError",
    "LayerError",
    "LayerReadError",
    "LayerValidationError",
    "NetworkError",
    "ScenarioError",
    "AnalysisError",
    "OutputError",
    "StoreError",
]


class GeoplanError(Exception):
    """Base class of every error geoplan raises on purpose.

    Parameters
    ----------
    message
        What went wrong, naming the file, layer and feature where known.
    fix
        What the user should do about it.
    """

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.fix:
            return f"{self.message}\n  fix: {self.fix}"
        return self.message


class LayerError(GeoplanError, ValueError):
    """A layer set cannot be used (bad input: also a ``ValueError``)."""


class LayerReadError(LayerError):
    """A layer file is missing, unreadable or not a vector dataset."""


class LayerValidationError(LayerError):
    """A layer set was read but has errors; ``problems`` holds them as data."""

    def __init__(self, message: str, *, problems: list[Any] | None = None, fix: str | None = None) -> None:
        self.problems = list(problems or [])
        super().__init__(message, fix=fix)


class NetworkError(GeoplanError, ValueError):
    """A road network cannot be built or routed on (bad input: also a ``ValueError``)."""


class ScenarioError(GeoplanError, ValueError):
    """A scenario file is unreadable or invalid (bad input: also a ``ValueError``)."""


class AnalysisError(GeoplanError, ValueError):
    """An analysis step cannot produce a meaningful result (e.g. an infeasible allocation); a ``ValueError``."""


class OutputError(GeoplanError):
    """Outputs cannot be written: a target is a folder, an input, locked or unwritable, or the disk is full.

    ``path`` is the output file or folder concerned, when known.
    """

    def __init__(self, message: str, *, fix: str | None = None, path: object | None = None) -> None:
        self.path = path
        super().__init__(message, fix=fix)


class StoreError(GeoplanError):
    """A database layer store (PostGIS) cannot be reached, read or written; it is left as it was."""
