"""``ap.run``: the one place that chooses how a run is carried out — in this process
(:func:`asyncpc.runner.run`) or split over MPI processes (:func:`asyncpc.mpi.launch`)."""

from __future__ import annotations

from pathlib import Path

from .mpi import launch
from .runner import RunResult
from .runner import run as run_here
from .scenario import Scenario


def run(scenario: Scenario, *, out: str | Path | None = None, progress: bool = False,
        plots: bool = True, force: bool = False, engine: str | None = None, ranks: int = 1
        ) -> RunResult:
    """Run ``scenario`` (build, simulate, collect); with ``out``, write the run directory.

    ``engine`` (``"unit"`` or ``"population"``) overrides the scenario's ``run.engine``.
    ``ranks`` > 1 splits the network over that many MPI processes (:mod:`asyncpc.mpi`; the
    result is the same, bit for bit, and has no live network).
    """
    if engine is not None:
        scenario = scenario.with_overrides([f"run.engine={engine}"])
    if ranks > 1:
        return launch(scenario, ranks=ranks, out=None if out is None else Path(out),
                      progress=progress, plots=plots, force=force)
    return run_here(scenario, out=out, progress=progress, plots=plots, force=force)
