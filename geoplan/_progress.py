"""Logging and progress: the library is quiet unless asked, the command line asks.

geoplan logs through one logger, ``logging.getLogger("geoplan")`` (:data:`logger`), and never
prints. A library call shows a progress bar only when told so (``progress=True``) or when
progress was switched on for the whole process (:func:`set_progress`, or the
``GEOPLAN_PROGRESS=1`` environment variable); log lines appear only when the application
configures logging. The ``geoplan`` command does both for the duration of a command through
:func:`reporting`: log lines and progress bars on stderr, nothing with ``--quiet``.

Examples
--------
>>> from geoplan._progress import progress_bar, progress_enabled
>>> progress_enabled(None)                  # a library call that was not told: quiet
False
>>> sum(progress_bar(range(4), desc="adding"))  # no bar: iterates as the plain iterable
6
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import IO, Any, Generic, TypeVar, overload

from geoplan.settings import LOG_FORMAT, LOGGER_NAME, PROGRESS_ENV

__all__ = ["Progress", "logger", "progress_bar", "progress_enabled", "reporting", "set_progress"]

T = TypeVar("T")

#: geoplan's logger. The library adds no handler that prints (only a ``NullHandler``).
logger = logging.getLogger(LOGGER_NAME)
logger.addHandler(logging.NullHandler())

_default: bool | None = None


def set_progress(enabled: bool | None) -> None:
    """Switch progress bars on or off for library calls that do not say (``None``: the environment).

    Parameters
    ----------
    enabled
        ``True`` shows bars, ``False`` hides them, ``None`` follows ``GEOPLAN_PROGRESS``.
    """
    global _default
    _default = enabled


def progress_enabled(enabled: bool | None) -> bool:
    """Return whether to show progress: ``enabled`` if given, else the process-wide setting.

    Parameters
    ----------
    enabled
        A call's own ``progress`` argument; ``None`` defers to :func:`set_progress` and then to
        the ``GEOPLAN_PROGRESS`` environment variable (``1``/``true``/``yes``/``on``).
    """
    if enabled is not None:
        return bool(enabled)
    if _default is not None:
        return _default
    return os.environ.get(PROGRESS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class Progress(Generic[T]):
    """A progress bar on stderr (tqdm) when enabled, else nothing: iterate it or call :meth:`update`.

    Use :func:`progress_bar` to make one. The bar is drawn only on a terminal (tqdm's
    ``disable=None``), so logs and captured output never fill with bar frames.
    """

    def __init__(self, iterable: Iterable[T] | None, *, total: float | None, desc: str, unit: str,
                 enabled: bool | None, leave: bool, unit_scale: bool = False) -> None:
        self._iterable = iterable
        self._bar: Any = None
        if progress_enabled(enabled):
            from tqdm import tqdm  # imported only when a bar is shown

            if total is None and iterable is not None and hasattr(iterable, "__len__"):
                total = len(iterable)  # type: ignore[arg-type]
            self._bar = tqdm(total=total, desc=desc, unit=unit, leave=leave, disable=None, file=sys.stderr,
                             unit_scale=unit_scale, unit_divisor=1024 if unit == "B" else 1000)

    def __iter__(self) -> Iterator[T]:
        if self._iterable is None:
            raise TypeError("this progress bar has no iterable; call update() instead")
        try:
            for item in self._iterable:
                yield item
                self.update()
        finally:
            self.close()

    # ``n`` stays positional, as in tqdm's own ``update(n=1)``: ``bar.update(len(batch))``.
    def update(self, n: float = 1) -> None:
        """Advance the bar by ``n`` steps."""
        if self._bar is not None:
            self._bar.update(n)

    def reset(self, *, total: float | None = None) -> None:
        """Start again from zero, with a new ``total`` (e.g. a download that learnt its size)."""
        if self._bar is not None:
            self._bar.reset(total=total)

    def describe(self, text: str) -> None:
        """Change the text in front of the bar (e.g. the current step)."""
        if self._bar is not None:
            self._bar.set_description_str(text)

    def close(self) -> None:
        """Remove the bar (when not ``leave``)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress[T]:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


# ``iterable`` stays positional although it has a default, as in ``tqdm(iterable=None, ...)``:
# ``for c in progress_bar(centres, ...)`` reads like the tqdm call it replaces.
@overload
def progress_bar(iterable: Iterable[T], *, total: float | None = None, desc: str = "", unit: str = "it",
                 enabled: bool | None = None, leave: bool = False, unit_scale: bool = False) -> Progress[T]: ...


@overload
def progress_bar(iterable: None = None, *, total: float | None = None, desc: str = "", unit: str = "it",
                 enabled: bool | None = None, leave: bool = False, unit_scale: bool = False) -> Progress[None]: ...


def progress_bar(iterable: Iterable[T] | None = None, *, total: float | None = None, desc: str = "",
                 unit: str = "it", enabled: bool | None = None, leave: bool = False,
                 unit_scale: bool = False) -> Progress[T] | Progress[None]:
    """Return a :class:`Progress` over ``iterable`` (or of ``total`` steps), shown only when enabled.

    Parameters
    ----------
    iterable
        Items to iterate; the bar advances by one per item.
    total
        Number of steps when there is no iterable (or it has no length).
    desc
        Text in front of the bar.
    unit
        What a step is (``"centre"``, ``"batch"``).
    enabled
        The calling function's ``progress`` argument (see :func:`progress_enabled`).
    leave
        Keep the finished bar on screen.
    unit_scale
        Show counts with k/M/G prefixes (binary ones for the unit ``"B"``: bytes).

    Examples
    --------
    >>> with progress_bar(total=3, desc="surface", enabled=False) as bar:
    ...     bar.update()
    """
    return Progress(iterable, total=total, desc=desc, unit=unit, enabled=enabled, leave=leave,
                    unit_scale=unit_scale)


@contextlib.contextmanager
def reporting(*, progress: bool = True, level: int = logging.INFO, stream: IO[str] | None = None) -> Iterator[None]:
    r"""Show geoplan's log lines (and progress bars) on ``stream`` for the block: what the CLI does.

    Parameters
    ----------
    progress
        Switch progress bars on for calls that do not say (``False``: log lines only).
    level
        Lowest level of the lines shown.
    stream
        Where to write (default: the current ``sys.stderr``).

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> with reporting(progress=False, stream=out):
    ...     logger.info("network: %d nodes", 3)
    >>> out.getvalue()
    'network: 3 nodes\n'
    >>> logger.info("not shown"); out.getvalue()
    'network: 3 nodes\n'
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.setLevel(level)
    previous_level, previous_progress = logger.level, _default
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > level:
        logger.setLevel(level)
    set_progress(progress)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
        set_progress(previous_progress)
