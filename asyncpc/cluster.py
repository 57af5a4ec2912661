"""Sweeps on a Dask distributed cluster: ``asyncpc sweep … --scheduler ADDRESS``.

Every run of the sweep is one task on an existing cluster (``pip install 'asyncpc[cluster]'``
on the client and on every worker). The client resolves each run's scenario (overrides and
seed applied) and sends it whole, so a worker needs asyncpc but neither the scenario file nor
the client's paths (a ``data.kind = "file"`` data set must still be readable at the same path,
e.g. on a shared file system). The worker runs it into a temporary directory and sends the
run directory's files back; the client writes them where the user asked. A run is therefore
the same computation as in a local sweep, seeded per run (never per worker): bit-identical
results. Each task has its own key and is impure, so the scheduler never merges two runs.

Faults: a worker that dies mid-run has its task rescheduled by Dask on another worker; a run
whose workers keep dying (Dask's ``KilledWorker``) or that raises is recorded as ``failed``; if
the client loses the scheduler for longer than ``lost_after`` seconds, the runs not yet back
are recorded as ``interrupted``. Both are retried when the sweep is run again (with or without
``--scheduler``); the sweep never hangs on a cluster that went away.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from .scenario import ScenarioError, load
from .workers import pin_blas, run_loaded

#: how long the client waits for a lost scheduler to come back before giving up (seconds)
LOST_AFTER = 20.0
#: how long the client tries to reach the scheduler at the start (seconds)
CONNECT_TIMEOUT = 10.0


def connect(address: str, timeout: float | None = None):
    """A Dask client connected to the scheduler at ``address``, or a :class:`ScenarioError`
    saying what is missing."""
    try:
        from distributed import Client
    except ImportError:
        raise ScenarioError(["--scheduler: sweeps on a cluster need Dask distributed: "
                             "pip install 'asyncpc[cluster]'"]) from None
    try:
        return Client(address, timeout=f"{timeout or CONNECT_TIMEOUT}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ScenarioError([f"--scheduler {address}: cannot reach a Dask scheduler there "
                             f"({type(exc).__name__}: {exc}); expected the address of a running "
                             "scheduler, e.g. tcp://host:8786"]) from None


def remote_run(scenario) -> tuple[dict, dict[str, bytes]]:
    """Run one resolved scenario on a worker; return its summary and its run directory's files
    (relative path → bytes). Never raises: a failure is a summary with status ``failed``."""
    pin_blas()
    with tempfile.TemporaryDirectory(prefix="asyncpc-") as tmp:
        out = Path(tmp) / "run"
        summary = run_loaded(scenario, str(out))
        files = {str(p.relative_to(out)): p.read_bytes()
                 for p in sorted(out.rglob("*")) if p.is_file()} if out.exists() else {}
    return summary, files


def run_on_cluster(todo: list[tuple], address: str, *, lost_after: float | None = None
                   ) -> Iterator[tuple[int, dict, dict[str, bytes]]]:
    """Submit every item of ``todo`` (``(j, path, params, seed, run_dir, fixed)``, as a local
    sweep plans them) and yield ``(j, summary, files)`` as runs come back, then the runs the
    cluster could not finish (module docstring)."""
    from distributed.client import FutureCancelledError

    client = connect(address)
    futures = {}
    try:
        for j, path, params, seed, _, fixed in todo:
            sets = [*fixed, *(f"{k}={v}" for k, v in params.items()), f"run.seed={seed}"]
            try:
                scenario = load(path, sets)
            except ScenarioError as exc:
                yield j, {"status": "failed", "message": "; ".join(exc.problems)}, {}
                continue
            key = f"asyncpc-run-{j}-seed{seed}-{uuid.uuid4().hex}"
            futures[client.submit(remote_run, scenario, key=key, pure=False)] = j
        pending = set(futures)
        lost_since = None
        while pending:
            done = [f for f in pending if f.done()]
            if not done:
                time.sleep(0.2)
            for future in done:
                pending.discard(future)
                j = futures[future]
                try:
                    summary, files = future.result()
                except (FutureCancelledError, TimeoutError) as exc:
                    summary, files = {"status": "interrupted", "message":
                                      f"the cluster cancelled the run ({exc})"}, {}
                except Exception as exc:  # KilledWorker, a lost connection, …
                    summary, files = {"status": "failed", "message":
                                      f"on the cluster: {type(exc).__name__}: {exc}"}, {}
                yield j, summary, files
            if client.status == "running":
                lost_since = None
            elif lost_since is None:
                lost_since = time.monotonic()
            elif time.monotonic() - lost_since > (lost_after or LOST_AFTER):
                for future in pending:
                    yield futures[future], {"status": "interrupted", "message":
                                            f"lost the Dask scheduler at {address}"}, {}
                return
    finally:
        with contextlib.suppress(Exception):  # the cluster may be gone already
            client.cancel(list(futures))  # runs still out there are of no use now
        client.close(timeout=5)


def wait_for_workers(address: str, n: int, timeout: float = 60.0) -> None:
    """Block until the scheduler at ``address`` has ``n`` workers (used by tests and scripts
    that start a cluster)."""
    client = connect(address)
    try:
        client.wait_for_workers(n, timeout=timeout)
    finally:
        client.close()
