"""All cores, then a cluster: geoplan jobs split in chunks and run by Dask distributed.

Two entry points:

* :func:`map_chunks` -- ``func(chunk, **shared)`` for every chunk, on a local cluster of worker
  *processes* (``scheduler="processes"``; the compiled searches hold the GIL, so threads would
  not help), on a running Dask scheduler (``"tcp://HOST:PORT"``), on a
  :class:`dask.distributed.Client` you made, or in this process (``None``). The ``shared``
  objects (graph arrays, layers) go to each worker once (``scatter(..., broadcast=True)``),
  not once per chunk. Results come back in chunk order, all of them or an error: a worker that
  dies mid-job, a chunk that raises, a scheduler that does not answer in ``timeout`` seconds,
  or workers running another geoplan version each raise :class:`DistributedError`.
* :func:`od_matrix` -- :func:`geoplan.traveltime.od_matrix` with its searches split over
  the workers; the table is identical to the single-process one.

Examples
--------
>>> from geoplan.distributed import map_chunks
>>> map_chunks(sum, [[1, 2], [3, 4, 5]])  # no scheduler: in this process
[3, 12]
"""

from __future__ import annotations

import importlib
import logging
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from geoplan._errors import GeoplanError
from geoplan.network import RoadNetwork, Weight
from geoplan.traveltime import ODMatrix, SearchGraph, od_block, plan_od, search_graph

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["DistributedError", "check_scheduler", "dask_client", "map_chunks", "chunk_mapper", "od_matrix"]

log = logging.getLogger("geoplan")

#: Seconds to wait for a scheduler to answer (and for its first worker) before giving up.
DEFAULT_TIMEOUT = 10.0

T = TypeVar("T")
R = TypeVar("R")


class DistributedError(GeoplanError, ValueError):
    """A distributed job cannot start or did not finish (no partial result is returned)."""


def check_scheduler(scheduler: object) -> None:
    """Raise :class:`DistributedError` unless ``scheduler`` is a value :func:`map_chunks` accepts.

    Parameters
    ----------
    scheduler
        ``None``, ``"processes"``, ``"tcp://HOST:PORT"`` or a ``dask.distributed.Client``.
    """
    if scheduler is None or _is_client(scheduler):
        return
    if isinstance(scheduler, str):
        if scheduler == "processes":
            return
        if scheduler.startswith("tcp://"):
            host, _, port = scheduler.removeprefix("tcp://").rpartition(":")
            if host and port.isdigit() and 0 < int(port) < 65536:
                return
    raise DistributedError(f"unknown scheduler {scheduler!r}",
                           fix="use 'processes' (all cores of this machine) or the address of a running Dask "
                               "scheduler, tcp://HOST:PORT (started with `dask scheduler`)")


def _is_client(obj: object) -> bool:
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - dask is a dependency
        return False
    return isinstance(obj, Client)


def _version_probe() -> Callable[[], str]:
    """Return a function that reports the geoplan version of the process it runs in.

    Built inside a function so that it is pickled by value: it runs even on a worker whose
    geoplan is missing or different (which is what it is there to detect).
    """

    def probe() -> str:
        import importlib

        try:
            module = importlib.import_module("geoplan")
        except ImportError:
            return "(geoplan not installed)"
        return str(getattr(module, "__version__", "(no version)"))

    return probe


def _check_workers(client: Client, where: str, timeout: float) -> None:
    """Wait for a worker, then fail when any worker runs another geoplan version."""
    from geoplan import __version__

    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError) as exc:
        raise DistributedError(f"the Dask scheduler at {where} has no worker (waited {timeout:g} s)",
                               fix=f"start workers with `dask worker {where}`") from exc
    versions: dict[str, str] = client.run(_version_probe())
    other = {addr: v for addr, v in sorted(versions.items()) if v != __version__}
    if other:
        listed = ", ".join(f"{addr} has {v}" for addr, v in other.items())
        raise DistributedError(f"Dask workers at {where} run another geoplan version than this one ({__version__}): "
                               f"{listed}",
                               fix=f"install geoplan {__version__} on every worker machine and restart the workers")


@contextmanager
def dask_client(scheduler: str | Client, *, n_workers: int | None = None,
                timeout: float = DEFAULT_TIMEOUT) -> Iterator[Client]:
    """Connect to a Dask cluster whose workers run this geoplan version; yield the client.

    Parameters
    ----------
    scheduler
        ``"processes"``: a local cluster of ``n_workers`` single-threaded worker processes
        (default: one per CPU), closed on exit; ``"tcp://HOST:PORT"``: a running scheduler
        (the connection is closed on exit, the cluster stays); a ``Client``: used as it is.
    n_workers
        Worker processes of a local cluster.
    timeout
        Seconds to wait for the scheduler to answer and for its first worker.

    Raises
    ------
    DistributedError
        For a scheduler that does not answer in time, one without workers, or workers of
        another geoplan version.
    """
    check_scheduler(scheduler)
    # dask is untyped: its entry points are used through Any.
    dd: Any = importlib.import_module("distributed")
    if isinstance(scheduler, dd.Client):
        _check_workers(scheduler, str(scheduler.scheduler.address if scheduler.scheduler else "?"), timeout)
        yield scheduler
        return
    if scheduler == "processes":
        workers = n_workers or os.cpu_count() or 1
        log.info("starting a local Dask cluster of %d worker processes", workers)
        with dd.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                             dashboard_address=None) as cluster, dd.Client(cluster) as client:
            _check_workers(client, "the local cluster", timeout)
            yield client
        return
    address = str(scheduler)
    try:
        client = dd.Client(address, timeout=f"{timeout}s")
    except (OSError, TimeoutError) as exc:
        raise DistributedError(f"no Dask scheduler answered at {scheduler} within {timeout:g} s ({exc})",
                               fix=f"start one with `dask scheduler --host HOST --port PORT` and workers with "
                                   f"`dask worker {scheduler}`, or check the host, the port and the firewall") from exc
    try:
        _check_workers(client, address, timeout)
        yield client
    finally:
        client.close()


#: Prefix of the shared arguments in a task (so that none collides with ``Client.map``'s own).
_SHARED = "geoplan_shared_"


def _apply(func: Callable[..., R], chunk: Any, **shared: Any) -> R:
    return func(chunk, **{k.removeprefix(_SHARED): v for k, v in shared.items()})


def map_chunks(
    func: Callable[..., R],
    chunks: Sequence[T],
    *,
    scheduler: str | Client | None = None,
    shared: Mapping[str, Any] | None = None,
    n_workers: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[R]:
    """``[func(chunk, **shared) for chunk in chunks]``, run by Dask worker processes.

    Parameters
    ----------
    func
        A module-level function (workers import it by name, so they need the same geoplan).
    chunks
        The pieces of work, each passed as the first argument.
    scheduler
        ``None`` (run here, one after the other), ``"processes"``, ``"tcp://HOST:PORT"`` or a
        ``dask.distributed.Client``; see :func:`dask_client`.
    shared
        Keyword arguments passed to every call; sent to each worker once.
    n_workers
        Worker processes of a ``"processes"`` cluster (default: one per CPU).
    timeout
        Seconds to wait for the scheduler to answer and for its first worker.

    Returns
    -------
    list
        One result per chunk, in chunk order.

    Raises
    ------
    DistributedError
        When the job cannot start, or a chunk failed (its error is chained) or its worker
        died: no partial list is returned.
    """
    kwargs = dict(shared or {})
    check_scheduler(scheduler)
    name = getattr(kwargs.get("func"), "__name__", "?") if func is _call_with else getattr(func, "__name__", "?")
    if scheduler is None:
        return [func(chunk, **kwargs) for chunk in chunks]
    if not chunks:
        return []
    with dask_client(scheduler, n_workers=n_workers, timeout=timeout) as connected:
        client: Any = connected
        log.info("running %d chunk(s) of %s on %d Dask worker(s)", len(chunks), name,
                 len(client.scheduler_info().get("workers", {})))
        scattered = {_SHARED + k: client.scatter(v, broadcast=True) for k, v in kwargs.items()}
        futures = client.map(_apply, [func] * len(chunks), list(chunks), pure=False, **scattered)
        try:
            results: list[R] = client.gather(futures)
        except GeoplanError:
            raise
        except Exception as exc:
            if type(exc).__name__ == "KilledWorker":
                raise DistributedError(f"a Dask worker died while running {name} (no result is returned): "
                                       f"{exc}", fix="check the worker's log and memory, then run again") from exc
            raise DistributedError(f"{name} failed on a Dask worker: {type(exc).__name__}: {exc}",
                                   fix="see the chained error; run with scheduler=None to debug it here") from exc
        finally:
            client.cancel(futures)
            for fut in scattered.values():
                client.cancel(fut)
    return results


def _call_with(chunk: Any, *, func: Callable[[Any, Any], Any], obj: Any) -> Any:
    return func(obj, chunk)


def chunk_mapper(
    scheduler: str | Client | None,
    *,
    n_workers: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Callable[[Callable[[Any, Any], R], Any, Sequence[Any]], list[R]]:
    """Return a ``mapper(func, obj, chunks) -> [func(obj, chunk) for chunk in chunks]`` run by Dask.

    For APIs that take such a mapper, e.g. :func:`geoplan.sensitivity.run_sensitivity`:
    ``obj`` (the model) is sent to each worker once, each chunk is one task.

    Parameters
    ----------
    scheduler, n_workers, timeout
        See :func:`map_chunks`.

    Examples
    --------
    >>> mapper = chunk_mapper(None)  # in this process
    >>> mapper(pow, 2, [3, 10])
    [8, 1024]
    """
    check_scheduler(scheduler)

    def mapper(func: Callable[[Any, Any], R], obj: Any, chunks: Sequence[Any]) -> list[R]:
        return map_chunks(_call_with, chunks, scheduler=scheduler, n_workers=n_workers, timeout=timeout,
                          shared={"func": func, "obj": obj})

    return mapper


def _od_chunk(sources: np.ndarray, *, graph: SearchGraph, targets: np.ndarray,
              limit: float) -> tuple[np.ndarray, np.ndarray]:
    return od_block(graph, sources, targets, limit=limit)


def od_matrix(
    net: RoadNetwork,
    origins: Sequence[str] | np.ndarray,
    destinations: Sequence[str] | np.ndarray,
    *,
    weight: Weight = "minutes",
    cutoff: float | None = None,
    scheduler: str | Client | None = "processes",
    n_workers: int | None = None,
    chunks: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ODMatrix:
    """:func:`geoplan.traveltime.od_matrix` with the searches split over Dask workers.

    The network's search arrays are sent to each worker once; each chunk of origins (or of
    destinations, searched on the reversed network when there are fewer of them) is one task.
    The result is identical to :func:`geoplan.traveltime.od_matrix`.

    Parameters
    ----------
    net, origins, destinations, weight, cutoff
        As for :func:`geoplan.traveltime.od_matrix`.
    scheduler, n_workers, timeout
        See :func:`map_chunks`.
    chunks
        Number of tasks (default: four per worker, at most one per searched place).

    Returns
    -------
    ODMatrix

    Raises
    ------
    NetworkError
        For a bad request (as :func:`geoplan.traveltime.od_matrix`).
    DistributedError
        When the job cannot run to the end.
    """
    plan = plan_od(net, origins, destinations, weight=weight, cutoff=cutoff)
    graph = search_graph(net, weight=weight, reverse=plan.reverse)
    b, t = len(plan.sources), len(plan.targets)
    if b == 0 or t == 0:
        return plan.assemble(np.full((b, t), np.inf), np.full((b, t), np.inf))
    n_tasks = chunks or 4 * (n_workers or os.cpu_count() or 1)
    n_tasks = max(1, min(int(n_tasks), b))
    size = math.ceil(b / n_tasks)
    pieces = [plan.sources[s:s + size] for s in range(0, b, size)]
    parts = map_chunks(_od_chunk, pieces, scheduler=scheduler, n_workers=n_workers, timeout=timeout,
                       shared={"graph": graph, "targets": plan.targets, "limit": plan.limit})
    first = np.vstack([p[0] for p in parts])
    second = np.vstack([p[1] for p in parts])
    return plan.assemble(first, second)
