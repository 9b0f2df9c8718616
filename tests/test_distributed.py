"""geoplan.distributed on real Dask clusters started here on 127.0.0.1 (no mocks).

A LocalCluster of 2 worker processes, and a ``dask scheduler`` + ``dask worker`` pair started as
subprocesses on free ports: the OD tables they compute equal the single-process ones exactly.
Bad input: an address where no scheduler answers, a worker that dies mid-job, a chunk that
raises, workers of another geoplan version, a scheduler value that is not one.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pytest
from distributed import Client, LocalCluster

from geoplan.cli import main
from geoplan.distributed import DistributedError, check_scheduler, map_chunks
from geoplan.distributed import od_matrix as dist_od_matrix
from geoplan.network import attach_places, build_network
from geoplan.traveltime import od_matrix

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def net_ids(kz_layers):
    net, _ = attach_places(build_network(kz_layers.roads), kz_layers.towns)
    net, _ = attach_places(net, kz_layers.centres.loc[~kz_layers.centres["id"].isin(kz_layers.towns["id"])])
    return net, list(kz_layers.towns["id"]), list(kz_layers.centres["id"])


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    # A chunk whose worker dies is not retried elsewhere: the job fails at once.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as c:
        c.wait_for_workers(2, timeout=60)
        yield c


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _assert_same(a, b) -> None:
    assert list(a.origins) == list(b.origins) and list(a.destinations) == list(b.destinations)
    np.testing.assert_array_equal(a.minutes, b.minutes)
    np.testing.assert_array_equal(a.km, b.km)
    assert a.weight == b.weight


def test_local_cluster_gives_the_single_process_table(client, net_ids) -> None:
    net, towns, centres = net_ids
    everyone = towns + [c for c in centres if c not in towns]
    for o, d, weight in ((towns, centres, "minutes"), (centres, everyone, "minutes"), (everyone, everyone, "km")):
        got = dist_od_matrix(net, o, d, weight=weight, scheduler=client, chunks=5)
        _assert_same(got, od_matrix(net, o, d, weight=weight))
    cut = dist_od_matrix(net, towns, centres, cutoff=120.0, scheduler=client)
    _assert_same(cut, od_matrix(net, towns, centres, cutoff=120.0))
    assert np.isinf(cut.minutes).any() and np.isfinite(cut.minutes).any()


def test_map_chunks_keeps_the_order_and_ships_shared_objects(client) -> None:
    def _scaled(chunk: list[int], *, factor: np.ndarray) -> list[float]:
        return [float(x * factor.sum()) for x in chunk]

    chunks = [[1, 2], [3], [], [4, 5, 6]]
    want = [[x * 6.0 for x in c] for c in chunks]
    shared = {"factor": np.array([1.0, 2.0, 3.0])}
    assert map_chunks(_scaled, chunks, scheduler=client, shared=shared) == want
    assert map_chunks(_scaled, chunks, scheduler=None, shared=shared) == want
    assert map_chunks(_scaled, [], scheduler=client, shared=shared) == []


def test_sensitivity_runs_on_the_cluster_give_the_same_result(client, kz_layers) -> None:
    from geoplan.classify import indicators
    from geoplan.distributed import chunk_mapper
    from geoplan.indicators import layer_folder, load_inputs
    from geoplan.scenario import Scenario
    from geoplan.sensitivity import prepare, run_sensitivity

    cfg = Scenario.baseline()
    places = pd.concat([kz_layers.towns[["id", "geometry"]], kz_layers.centres[["id", "geometry"]]])
    net, _ = attach_places(build_network(kz_layers.roads), places)
    od = od_matrix(net, list(kz_layers.towns["id"]), list(kz_layers.centres["id"]))
    cat, table = load_inputs(list(kz_layers.towns["id"]), config=cfg, folder=layer_folder(kz_layers.sources))
    model = prepare(kz_layers.towns, kz_layers.centres, od, indicators(kz_layers.towns, kz_layers.centres, od,
                                                                      table=table), config=cfg, catalogue=cat)
    here = run_sensitivity(model, config=cfg, runs=120, chunk=25)
    there = run_sensitivity(model, config=cfg, runs=120, chunk=25, mapper=chunk_mapper(client))
    pd.testing.assert_frame_equal(here.towns, there.towns)
    for key, value in here.outcomes.items():
        assert np.array_equal(value, there.outcomes[key], equal_nan=True), key


def test_a_failing_chunk_fails_the_job(client) -> None:
    def fragile(chunk: int) -> int:
        if chunk == 3:
            raise ZeroDivisionError("chunk 3 is bad")
        return chunk

    with pytest.raises(DistributedError, match="fragile failed on a Dask worker: ZeroDivisionError: chunk 3 is bad"):
        map_chunks(fragile, [1, 2, 3, 4], scheduler=client)


def test_bad_scheduler_values() -> None:
    for bad in ("threads", "tcp://127.0.0.1", "tcp://:8786", "127.0.0.1:8786", 8786):
        with pytest.raises(DistributedError, match="unknown scheduler") as err:
            check_scheduler(bad)
        assert "tcp://HOST:PORT" in str(err.value)
    check_scheduler("tcp://10.0.0.5:8786")
    check_scheduler("processes")
    check_scheduler(None)


def test_an_address_where_no_scheduler_answers_fails_fast(net_ids) -> None:
    net, towns, centres = net_ids
    address = f"tcp://127.0.0.1:{_free_port()}"
    t0 = time.monotonic()
    with pytest.raises(DistributedError, match=f"no Dask scheduler answered at {address} within 1 s") as err:
        dist_od_matrix(net, towns, centres, scheduler=address, timeout=1.0)
    assert time.monotonic() - t0 < 30  # an error, not a hang
    assert f"dask worker {address}" in str(err.value)


def _cli(args: list[object]) -> int:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in args])
    return int(exc.value.code or 0)


def test_command_line_options(tmp_path, capsys) -> None:
    assert _cli(["traveltime", "--out", tmp_path / "x.csv", "--scheduler", "threads"]) == 2
    assert "unknown scheduler 'threads'" in capsys.readouterr().err
    assert _cli(["run", "--out", tmp_path / "out", "--scheduler", "tcp://nowhere"]) == 2
    assert "unknown scheduler 'tcp://nowhere'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert _cli(["traveltime", "--out", tmp_path / "x.csv", "--weight", "hours"]) == 2
    assert "must be minutes or km" in capsys.readouterr().err


def test_pipeline_with_a_scheduler_gives_the_same_towns(client, kz_layers) -> None:
    from geoplan.pipeline import run

    alone = run(layers=kz_layers, with_surface=False, with_maps=False, progress=False)
    spread = run(layers=kz_layers, with_surface=False, with_maps=False, progress=False, scheduler=client)
    pd.testing.assert_frame_equal(alone.towns.drop(columns="geometry"), spread.towns.drop(columns="geometry"))


def _spawn(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    # cwd: `python -m` puts the working directory first on sys.path.
    return subprocess.Popen([sys.executable, "-m", *args], env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def test_scheduler_and_workers_started_as_processes(net_ids, tmp_path) -> None:
    net, towns, centres = net_ids
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    procs = [_spawn(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
                     "--no-dashboard"], env, tmp_path)]
    try:
        for _ in range(2):
            procs.append(_spawn(["distributed.cli.dask_worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                                 "--no-dashboard", "--no-nanny"], env, tmp_path))
        got = dist_od_matrix(net, towns, centres, scheduler=address, timeout=60.0, chunks=4)
        _assert_same(got, od_matrix(net, towns, centres))
        # The command line (shortest routes): the same CSV bytes as without a scheduler, and
        # no route longer than the fastest one.
        here, there = tmp_path / "here.csv", tmp_path / "there.csv"
        assert _cli(["traveltime", "--out", here, "--weight", "km"]) == 0
        assert _cli(["traveltime", "--out", there, "--scheduler", address, "--weight", "km"]) == 0
        assert here.read_bytes() == there.read_bytes()
        short = pd.read_csv(here).set_index(["origin", "destination"]).sort_index()
        fast = od_matrix(net, towns, centres).long().set_index(["origin", "destination"]).sort_index()
        assert (short["km"] <= fast["km"].round(3) + 1e-3).all() and (short["km"] < fast["km"] - 1).any()

        # A worker whose geoplan is another version joins: the job refuses to run.
        other = tmp_path / "other" / "geoplan"
        other.mkdir(parents=True)
        (other / "__init__.py").write_text('__version__ = "0.0.0-other"\n', encoding="utf-8")
        procs.append(_spawn(["distributed.cli.dask_worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                             "--no-dashboard", "--no-nanny", "--name", "stale"],
                            dict(env, PYTHONPATH=str(tmp_path / "other")), tmp_path))
        with Client(address, timeout="60s") as c:
            c.wait_for_workers(3, timeout=60)
        with pytest.raises(DistributedError, match=r"run another geoplan version .*has 0\.0\.0-other") as err:
            dist_od_matrix(net, towns, centres, scheduler=address, timeout=60.0)
        assert "install geoplan" in str(err.value)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def test_a_worker_dying_mid_job_is_an_error_not_a_partial_table(client) -> None:
    # Last in this module: it kills a worker of the shared cluster (its nanny starts another).
    def die_on_three(chunk: int) -> int:
        if chunk == 3:
            os._exit(1)
        return chunk

    with pytest.raises(DistributedError, match="a Dask worker died while running die_on_three"):
        map_chunks(die_on_three, [1, 2, 3, 4], scheduler=client)
