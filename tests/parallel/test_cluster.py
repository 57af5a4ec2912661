"""Sweeps on a real Dask cluster: a scheduler and two workers started here on 127.0.0.1."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("distributed")

from asyncpc import cluster  # noqa: E402
from asyncpc.scenario import ScenarioError  # noqa: E402
from asyncpc.sweep import run_sweep  # noqa: E402

GRID = ["edges.*.eta_w=0.05,0.1"]
FIXED = ["stimulus.epochs=2", "evaluation.every=0", "record.every=5.0"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-m", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


@pytest.fixture
def dask_cluster():
    """A scheduler and two single-threaded workers without nannies (a killed worker stays
    dead); yields the address and the processes, and ends them all."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = {"scheduler": start("distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                "--port", str(port), "--no-dashboard")}
    for name in ("w1", "w2"):
        procs[name] = start("distributed.cli.dask_worker", address, "--nthreads", "1",
                            "--no-nanny", "--no-dashboard", "--name", name)
    deadline = time.monotonic() + 60
    while True:
        try:
            cluster.wait_for_workers(address, 2, timeout=30)
            break
        except ScenarioError:  # the scheduler is not listening yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    yield address, procs
    for p in procs.values():
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def results(out):
    """Per run directory: the summary without wall time, and the traces."""
    found = {}
    for summary_path in sorted(out.glob("*/seed*/summary.json")):
        s = json.loads(summary_path.read_text())
        s.pop("wall_seconds")
        with np.load(summary_path.parent / "traces.npz") as tr:
            found[summary_path.parent.relative_to(out).as_posix()] = (
                s, {k: tr[k] for k in tr.files})
    return found


def same(a, b):
    assert a.keys() == b.keys() and a
    for run in a:
        assert a[run][0] == b[run][0], run
        assert a[run][1].keys() == b[run][1].keys()
        for k in a[run][1]:
            x, y = a[run][1][k], b[run][1][k]
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), (run, k)


def test_a_cluster_sweep_equals_the_local_sweep_bit_for_bit(dask_cluster, tmp_path):
    address, _ = dask_cluster
    local = run_sweep("xor", GRID, seeds=2, workers=2, out=tmp_path / "local",
                      fixed=FIXED, progress=False)
    assert [r["status"] for r in local] == ["ok"] * 4
    remote = run_sweep("xor", GRID, seeds=2, workers=1, out=tmp_path / "remote",
                       fixed=FIXED, progress=False, scheduler=address)
    assert [r["status"] for r in remote] == ["ok"] * 4
    same(results(tmp_path / "local"), results(tmp_path / "remote"))
    assert (tmp_path / "remote" / "sweep.csv").exists()
    assert (tmp_path / "remote" / "plots" / "over_time.png").exists()
    # a rerun resumes: nothing is sent to the cluster again
    again = run_sweep("xor", GRID, seeds=2, workers=1, out=tmp_path / "remote", fixed=FIXED,
                      progress=False, scheduler=address)
    assert [r["wall_seconds"] for r in again] == [r["wall_seconds"] for r in remote]


def running_on_workers(address: str) -> int:
    client = cluster.connect(address)
    try:
        return sum(len(v) for v in client.processing().values())
    finally:
        client.close()


def sweep_in_background(address, out, **kw):
    box = {}

    def target():
        box["rows"] = run_sweep("xor", GRID, seeds=1, workers=1, out=out,
                                fixed=["stimulus.epochs=10", "evaluation.every=0"],
                                progress=False, scheduler=address, **kw)
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while running_on_workers(address) < 2:  # both runs have started
        assert time.monotonic() < deadline
        time.sleep(0.2)
    return thread, box


def test_a_worker_killed_mid_run_has_its_run_redone_elsewhere(dask_cluster, tmp_path):
    address, procs = dask_cluster
    thread, box = sweep_in_background(address, tmp_path / "remote")
    os.killpg(procs["w1"].pid, signal.SIGKILL)
    thread.join(timeout=300)
    assert not thread.is_alive()
    assert [r["status"] for r in box["rows"]] == ["ok", "ok"]
    local = run_sweep("xor", GRID, seeds=1, workers=2, out=tmp_path / "local",
                      fixed=["stimulus.epochs=10", "evaluation.every=0"], progress=False)
    assert [r["status"] for r in local] == ["ok", "ok"]
    same(results(tmp_path / "local"), results(tmp_path / "remote"))


def test_a_cluster_that_goes_away_ends_the_sweep_and_a_rerun_finishes_it(
        dask_cluster, tmp_path, monkeypatch):
    address, procs = dask_cluster
    monkeypatch.setattr(cluster, "LOST_AFTER", 2.0)
    start_time = time.monotonic()
    thread, box = sweep_in_background(address, tmp_path / "s")
    for p in procs.values():
        os.killpg(p.pid, signal.SIGKILL)
    thread.join(timeout=120)
    assert not thread.is_alive(), "the sweep hangs on a cluster that went away"
    assert time.monotonic() - start_time < 120
    rows = box["rows"]
    assert {r["status"] for r in rows} <= {"interrupted", "failed"}, rows
    assert all(r["message"] for r in rows)
    assert (tmp_path / "s" / "sweep.csv").exists()
    # the runs are retried by the next sweep into the same directory (here: locally)
    rerun = run_sweep("xor", GRID, seeds=1, workers=2, out=tmp_path / "s",
                      fixed=["stimulus.epochs=10", "evaluation.every=0"], progress=False)
    assert [r["status"] for r in rerun] == ["ok", "ok"]


def test_an_unreachable_scheduler_is_reported_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 2.0)
    address = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(ScenarioError, match="cannot reach a Dask scheduler there"):
        run_sweep("xor", GRID, seeds=1, workers=1, out=tmp_path / "s", fixed=FIXED,
                  progress=False, scheduler=address)
    assert not (tmp_path / "s" / "sweep.csv").exists()
    # from the command line: the message names the flag, exit code 2
    from asyncpc.cli import main
    assert main(["sweep", "xor", "--scheduler", address, "--out", str(tmp_path / "s"),
                 "--quiet"]) == 2
    assert not (tmp_path / "s" / "sweep.csv").exists()
