"""Running a scenario (a package, one module per job: :mod:`.preflight`, :mod:`.experiment`,
:mod:`.scoring`, :mod:`.rundir`): :func:`build_experiment`, :func:`simulate`, :func:`collect` and
:func:`write` the run directory (:func:`run` does all four).

Run directory (a stable contract):

* ``scenario.toml`` — the scenario fully resolved (defaults filled in, overrides applied);
* ``summary.json`` — scenario, seed, engine, status (ok | diverged | interrupted), message,
  sim_time, wall_seconds, events, messages_per_sample, energy, accuracy (train, test),
  symmetry per edge, final_states of the recorded neurons, network size and the asyncpc
  version;
* ``traces.npz`` — the recorded time series (names in :mod:`asyncpc.recording`);
* ``plots/*.png`` — the standard figures.

Every file is written to a temporary name and renamed, so an interrupted write never leaves a
corrupt file behind.
"""

from ..files import RUN_FILES
from .experiment import (
    Experiment,
    Progress,
    build_experiment,
    collect,
    make_summary,
    run,
    simulate,
    task_summary,
)
from .preflight import check, check_dataset, estimate, make_dataset, make_datasets
from .rundir import (
    RunResult,
    WriteFailed,
    atomic_write,
    is_run_directory,
    prepare_out,
    write,
)
from .scoring import Scorer, backprop_alignment, confusion, generate

__all__ = ["RUN_FILES", "Experiment", "Progress", "RunResult", "Scorer",
           "WriteFailed", "atomic_write", "backprop_alignment", "build_experiment", "check",
           "check_dataset", "collect", "confusion", "estimate", "generate", "is_run_directory",
           "make_dataset", "make_datasets", "make_summary", "prepare_out", "run", "simulate",
           "task_summary", "write"]
