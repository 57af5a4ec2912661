"""What a worker process does, for local sweeps and Dask clusters alike: pin numpy's BLAS to
one thread and run one resolved scenario into a run directory, never raising (a crash in one
run is a run with status ``failed``, not the end of a sweep)."""

from __future__ import annotations

import signal

from threadpoolctl import threadpool_limits

from .runner import run
from .scenario import ScenarioError, load


def pin_blas() -> None:
    """One BLAS thread per worker process: several workers each running a multi-threaded BLAS
    on a small machine oversubscribe it (measured here: 40× slower numpy)."""
    threadpool_limits(1)


def worker_init() -> None:
    """A sweep worker: one BLAS thread; Ctrl-C is the parent's business (it stops the sweep),
    and SIGTERM, which the parent sends to stop a worker, ends it at once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    pin_blas()


def run_task(item: tuple) -> tuple[int, dict]:
    """A local sweep's task ``(j, path, params, seed, run_dir, fixed)``: ``(j, summary)``."""
    j, path, params, seed, run_dir, fixed = item
    return j, run_point(path, params, seed, run_dir, fixed)


def run_point(path: str, params: dict[str, str], seed: int, out: str, fixed: list[str]) -> dict:
    """Run one grid point (in a worker process); never raises."""
    sets = [*fixed, *(f"{k}={v}" for k, v in params.items()), f"run.seed={seed}"]
    try:
        scenario = load(path, sets)
    except ScenarioError as exc:
        return {"status": "failed", "message": "; ".join(exc.problems)}
    return run_loaded(scenario, out)


def run_loaded(scenario, out: str) -> dict:
    """Run a resolved scenario into the run directory ``out``; return its summary. Never
    raises: a crash in one run must not stop the sweep, it is a run with status failed."""
    try:
        return run(scenario, out=out, plots=False, force=True).summary
    except ScenarioError as exc:
        return {"status": "failed", "message": "; ".join(exc.problems)}
    except Exception as exc:
        return {"status": "failed", "message": f"{type(exc).__name__}: {exc}"}
