"""``asyncpc run SCENARIO --ranks N``: one network over N MPI processes.

:func:`launch` (the user's process) checks the scenario and the partition, creates the run
directory and starts ``mpiexec -n N python -m mpi4py -m asyncpc.mpi JOB OUT`` (the ``mpich``
wheel of the ``asyncpc[mpi]`` extra provides ``mpiexec``; ``python -m mpi4py`` aborts every
rank if one fails, so nothing hangs). In there, :func:`main` makes rank 0 run the experiment
on a :class:`~asyncpc.engines.unit.ranks.DistributedNetwork` and write the run directory, and
the other ranks :func:`~asyncpc.engines.unit.ranks.serve`. Ctrl-C and SIGTERM are forwarded
once to ``mpiexec``, which passes them to every rank; rank 0 ends the run at the next window
boundary and writes everything recorded, as a single-process run does.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .engines.unit.partition import PartitionError, partition
from .engines.unit.ranks import serve
from .files import SUMMARY, TRACES
from .runner import (
    RunResult,
    build_experiment,
    check,
    collect,
    prepare_out,
    simulate,
    write,
)
from .scenario import Scenario, ScenarioError

#: set in the ranks' environment by :func:`launch` (the number of ranks)
ENV = "ASYNCPC_RANKS"


class RanksFailed(RuntimeError):
    """The MPI processes ended without writing the run directory (a crash; their output,
    printed above, says why)."""


def inside() -> bool:
    """Is this process a rank started by :func:`launch`?"""
    return ENV in os.environ


def mpiexec() -> str:
    """The ``mpiexec`` of this Python environment (the ``mpich`` wheel's), else of PATH."""
    here = Path(sys.executable).parent / "mpiexec"
    found = str(here) if here.exists() else shutil.which("mpiexec")
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        found = None
    if found is None:
        raise ScenarioError(["--ranks needs MPI (mpi4py and an mpiexec): pip install "
                             "'asyncpc[mpi]'"])
    return found


def check_split(scenario: Scenario, ranks: int):
    """The partition of ``scenario`` over ``ranks`` (a :class:`ScenarioError` if impossible)."""
    if scenario.engine != "unit":
        raise ScenarioError([f"{scenario.path or scenario.name}: run.engine = "
                             f"{scenario.engine!r}: --ranks splits the unit engine's network; "
                             "set run.engine = 'unit' or run on one process"])
    try:
        return partition(scenario.graph(), ranks, scenario.seed)
    except PartitionError as exc:
        raise ScenarioError([f"{scenario.path or scenario.name}: {exc}"]) from None


def launch(scenario: Scenario, *, ranks: int, out: Path | None, progress: bool, plots: bool,
           force: bool):
    """Run ``scenario`` on ``ranks`` MPI processes; the result as read from the run
    directory (``out``, or a temporary one), without the network (it lived in the ranks)."""
    check(scenario)
    check_split(scenario, ranks)
    command = mpiexec()
    temporary = out is None
    out = Path(tempfile.mkdtemp(prefix="asyncpc-")) if temporary else Path(out)
    prepare_out(out, force)
    fd, job = tempfile.mkstemp(prefix="asyncpc-job-", suffix=".pickle")
    with os.fdopen(fd, "wb") as fh:
        pickle.dump({"scenario": scenario, "progress": progress, "plots": plots}, fh)
    env = {**os.environ, ENV: str(ranks), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    proc = subprocess.Popen([command, "-n", str(ranks), sys.executable, "-m", "mpi4py", "-m",
                             "asyncpc.mpi", job, str(out)], env=env, start_new_session=True)

    def forward(signum, frame):  # once, to mpiexec, which passes it to every rank
        proc.send_signal(signum)
    saved = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = proc.wait()
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        os.unlink(job)
    try:
        summary = json.loads((out / SUMMARY).read_text())
        with np.load(out / TRACES) as npz:
            traces = {k: npz[k] for k in npz.files}
    except FileNotFoundError:
        raise RanksFailed(f"the run on {ranks} MPI processes failed (mpiexec exit code "
                          f"{code}) without writing {out}; their output is above") from None
    finally:
        if temporary:
            shutil.rmtree(out, ignore_errors=True)
    result = RunResult(summary, traces, None)
    result.out = None if temporary else out
    return result


def main(argv: list[str] | None = None) -> int:
    """Entry point of every rank (``python -m mpi4py -m asyncpc.mpi JOB OUT``)."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    if comm.Get_rank() > 0:
        serve(comm)
        return 0
    job_path, out = argv if argv is not None else sys.argv[1:]
    with open(job_path, "rb") as fh:
        job = pickle.load(fh)

    def terminate(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, terminate)
    scenario = job["scenario"]
    exp = build_experiment(scenario, check(scenario), ranks=comm.Get_size())
    try:
        result = collect(exp, *simulate(exp, job["progress"]))
        write(Path(out), scenario, result, job["plots"])
    finally:
        exp.net.close()
    return 0  # the status is in the run directory (a non-zero exit would abort every rank)


if __name__ == "__main__":
    sys.exit(main())
