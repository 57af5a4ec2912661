"""One run in this process: :func:`build_experiment`, :func:`simulate`, :func:`collect`
(:func:`run` does them and writes the run directory).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..baseline import Backprop, ChainLearner, SyncPC
from ..datasets import Dataset
from ..engines import Diverged, Engine, build
from ..metrics import forgetting, symmetry
from ..model import rng_for
from ..recording import Recorder
from ..scenario import Scenario
from ..stimulus import Stimulus
from .preflight import check, estimate, span
from .rundir import RunResult, prepare_out, write
from .scoring import Scorer, confusion, generate, task_evaluations


class Progress:
    """A one-line progress display on stderr (simulated time, %, messages/s, time left)."""

    def __init__(self, total: float, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.start = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self.last_print = 0.0

    def update(self, t: float, delivered: int) -> None:
        if not self.enabled:
            return
        wall = time.perf_counter() - self.start
        if not self.tty and wall - self.last_print < 10.0 and t < self.total:
            return
        self.last_print = wall
        frac = t / self.total if self.total else 1.0
        left = wall * (1.0 - frac) / frac if frac > 0 else float("nan")
        line = (f"t = {t:10.1f} / {self.total:g}  {100 * frac:5.1f}%  "
                f"{delivered / max(wall, 1e-9):9.0f} msg/s  {left:6.0f} s left")
        print(("\r" if self.tty else "") + line, end="" if self.tty else "\n", file=sys.stderr,
              flush=True)

    def close(self) -> None:
        if self.enabled and self.tty:
            print(file=sys.stderr)


@dataclass
class Experiment:
    """A built run, ready to simulate: the network and the world around it."""

    scenario: Scenario
    net: Engine
    duration: float
    dataset: Dataset | None
    stimulus: Stimulus | None
    recorder: Recorder
    scorer: Scorer | None


def build_experiment(scenario: Scenario, checked: tuple | None = None, ranks: int = 1
                     ) -> Experiment:
    """Build the network, stimulus, scorer and recorder of ``scenario`` (``checked``: what
    :func:`check` returned for it, if it was already called; ``ranks`` > 1: the network split
    over the MPI processes this one is rank 0 of, :mod:`asyncpc.mpi`)."""
    dataset, test_set, duration = checked or check(scenario)
    sec = scenario.sections
    net = build(scenario.graph(), engine=scenario.engine, seed=scenario.seed, ranks=ranks)
    st, rec = sec.stimulus, sec.record
    stimulus = None
    if dataset is not None and st.clamp and st.epochs > 0:
        stimulus = Stimulus(net, dataset, clamp=st.clamp, presentation=st.presentation,
                            jitter=st.jitter, epochs=st.epochs, rounds=st.rounds,
                            order=st.order, reset=st.reset,
                            rng=rng_for(scenario.seed, "stimulus"))
    baselines = learners(net, sec) if stimulus is not None else []
    scorer = Scorer(net, scenario, dataset, test_set, baselines) \
        if dataset is not None and sec.evaluation.read else None
    zoom_every = (rec.zoom_every or st.presentation / 50.0) if stimulus and rec.zoom else 0.0
    by_task = stimulus is not None and dataset.task is not None  # evaluations follow the tasks
    recorder = Recorder(net, every=rec.every, neurons=rec.neurons, raster=rec.raster,
                        raster_from=rec.raster_from, max_energy=sec.run.max_energy,
                        evaluate=scorer, eval_every=0.0 if by_task else sec.evaluation.every,
                        presented=(lambda: stimulus.presented) if stimulus else None,
                        zoom_from=max(0.0, duration - rec.zoom * st.presentation),
                        zoom_every=zoom_every)
    if stimulus is not None:
        stimulus.on_end = recorder.presentation_end
        if by_task and scorer is not None:
            stimulus.on_task = task_evaluations(net, recorder, sec.evaluation.every)
        if baselines:  # one update of each baseline per presentation, on its sample
            def end() -> None:
                recorder.presentation_end()
                for learner in baselines:
                    learner.update(stimulus.current)
            stimulus.on_end = end
    return Experiment(scenario, net, duration, dataset, stimulus, recorder, scorer)


def simulate(exp: Experiment, progress: bool = False) -> tuple[str, str, float]:
    """Run the experiment to its duration in 200 chunks; return (status, message, wall time).

    Ctrl-C (or SIGTERM, turned into KeyboardInterrupt by the CLI) ends it as "interrupted",
    a blow-up as "diverged" (reported by the engine or the recorder with when and where)."""
    net, duration = exp.net, exp.duration
    status, message = "ok", ""
    if progress:
        steps, seconds = estimate(exp.scenario, duration)
        print(f"estimate: up to {steps:.3g} clock steps if every clock stayed awake (roughly "
              f"{span(seconds)}); settled neurons sleep, so usually far less", file=sys.stderr)
    bar = Progress(duration, progress)
    start = time.perf_counter()
    try:
        # numpy's own overflow warnings would only precede the engine's Diverged
        with np.errstate(over="ignore", invalid="ignore"):
            for j in range(1, 201):
                net.run(duration * j / 200.0)
                bar.update(net.now, net.counters.delivered)
    except KeyboardInterrupt:
        status, message = "interrupted", f"interrupted by the user at t = {net.now:g}"
    except Diverged as exc:
        status, message = "diverged", f"diverged: {exc}"
    finally:
        bar.close()
    wall = time.perf_counter() - start
    if status == "ok":
        exp.recorder.sample()  # the state at the end of the run
        if exp.stimulus is not None and exp.recorder.ends < exp.stimulus.presented:
            exp.stimulus.on_end()  # the last presentation ends with the run
    if exp.scorer is not None and status == "ok":  # an interrupted run stops at once
        try:
            exp.recorder.record_accuracy()
        except KeyboardInterrupt:
            status, message = "interrupted", f"interrupted by the user at t = {net.now:g}"
    return status, message, wall


def collect(exp: Experiment, status: str, message: str, wall: float) -> RunResult:
    """The traces, the summary and (if asked) what the network generates."""
    traces = exp.recorder.arrays()
    scorer = exp.scorer
    final = scorer and (scorer.last.get("test") or scorer.last.get("train"))
    if final is not None and exp.scenario.sections.evaluation.readout == "argmax":
        traces["confusion"] = confusion(final)
    if exp.stimulus is not None and exp.dataset.task is not None:
        onsets = np.asarray(exp.stimulus.task_onsets, dtype=float).reshape(-1, 2)
        traces["stimulus/task_onsets"], traces["stimulus/task"] = onsets[:, 0], onsets[:, 1]
    if exp.stimulus is not None and "zoom/t" in traces:
        onsets = np.asarray(exp.stimulus.onsets)
        traces["zoom/onsets"] = onsets[onsets >= traces["zoom/t"][0]]
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged run's states may be huge
        summary = make_summary(exp.scenario, exp.net, traces, exp.stimulus, status, message,
                               wall)
    for learner in scorer.baselines if scorer is not None else []:
        # "baseline": backprop's entry (the name it has always had); "sync_pc"
        summary["baseline" if learner.kind == "backprop" else learner.kind] = {
            "kind": learner.kind, "eta": learner.eta, "updates": learner.updates,
            "accuracy": {key: float(traces[f"evaluation/{name}"][-1])
                         if f"evaluation/{name}" in traces else None
                         for key, name in (("train", f"{learner.prefix}accuracy"),
                                           ("test", f"{learner.prefix}test_accuracy"))}}
    if "stimulus/task_onsets" in traces and "evaluation/task1_test_accuracy" in traces:
        summary["tasks"] = task_summary(exp.scenario, traces)
    result = RunResult(summary, traces, exp.net)
    if (exp.scenario.sections.evaluation.generate and exp.dataset is not None
            and status == "ok"):
        result.generated = generate(exp.net, exp.dataset, exp.scenario)
        summary["generation"] = {"mean_abs_error": result.generated["mean_abs_error"]}
    return result


def learners(net, sec) -> list[ChainLearner]:
    """The baselines ``[baseline] kind`` asks for, on ``net``'s chain data.input → data.label."""
    bl, src, tgt = sec.baseline, sec.data.input, sec.data.label
    made = {"backprop": lambda: Backprop(net, src, tgt, bl.eta),
            "sync_pc": lambda: SyncPC(net, src, tgt, bl.pc_eta, steps=bl.pc_steps,
                                      rate=bl.pc_rate, feedback=bl.pc_feedback, lam=bl.pc_lam)}
    return [made[kind]() for kind in bl.kind]


def task_summary(scenario: Scenario, traces: dict[str, np.ndarray]) -> dict:
    """Per-task test error over training and the forgetting measures
    (:func:`asyncpc.metrics.forgetting`) of the network and, if any, of the baseline."""
    classes = scenario.sections.data.tasks
    out: dict[str, Any] = {"classes": classes,
                           "switches": [float(s) for s in traces["stimulus/task_onsets"][1:]]}
    for learner, prefix in (("pc", "evaluation/"), ("baseline", "evaluation/baseline_")):
        names = [f"{prefix}task{k + 1}_test_accuracy" for k in range(len(classes))]
        if all(n in traces for n in names):
            errors = 1.0 - np.array([traces[n] for n in names])
            out[learner] = forgetting(traces["accuracy/t"], errors,
                                      traces["stimulus/task_onsets"], traces["stimulus/task"])
    return out


def run(scenario: Scenario, *, out: str | Path | None = None, progress: bool = False,
        plots: bool = True, force: bool = False) -> RunResult:
    """Run ``scenario`` in this process (build, simulate, collect); with ``out``, write the run
    directory. :func:`asyncpc.launch.run` (``ap.run``) also splits a run over MPI processes."""
    checked = check(scenario)  # bad input is reported before anything is written
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        prepare_out(out_dir, force)
    exp = build_experiment(scenario, checked)
    result = collect(exp, *simulate(exp, progress))
    if out_dir is not None:
        write(out_dir, scenario, result, plots)
    return result


def make_summary(scenario, net, traces, stimulus, status, message, wall) -> dict:
    per = net.energy()[1]
    samples = stimulus.presented if stimulus else 0
    acc = traces["accuracy"]
    sym = {}
    for name in net.edge_names:
        W, B = net.weights(name)
        sym[name] = {**symmetry(W, B), "rule": net.edge_spec(name).rule,
                     "nonlocal": net.nonlocal_feedback(name)}
    return {
        "scenario": scenario.name,
        "scenario_file": str(scenario.path) if scenario.path else None,
        "seed": scenario.seed,
        "engine": net.kind,
        "status": status,
        "message": message,
        "sim_time": net.now,
        "wall_seconds": wall,
        "events": {"delivered": net.counters.delivered,
                   "neuron_updates": net.counters.neuron_updates,
                   "synapse_updates": net.counters.synapse_updates,
                   "emitted": {n: net.emitted(n) for n in net.population_names}},
        "samples_presented": samples,
        "messages_per_sample": net.counters.delivered / samples if samples else None,
        "energy": {"initial": float(traces["energy"][0]), "final": float(sum(per.values())),
                   "final_per_population": per},
        "accuracy": {"train": float(acc[-1]) if acc.size else None,
                     "test": float(traces["evaluation/test_accuracy"][-1])
                     if "evaluation/test_accuracy" in traces else None},
        **({"backprop": {k.split("_", 1)[1]: float(traces[f"evaluation/{k}"][-1])
                         for k in ("backprop_angle_deg", "backprop_rel_error")}}
           if "evaluation/backprop_angle_deg" in traces else {}),
        "symmetry": sym,
        "final_states": {name: {str(k): float(net.x(name)[k]) for k in idx}
                         for name, idx in scenario.sections.record.neurons.items()},
        "network": {"neurons": net.n_neurons, "synapses": net.n_synapses,
                    "processes": net.n_processes,
                    "min_delay": net.min_delay(), "ranks": net.ranks},
        **({"mpi": net.mpi_summary()} if net.ranks > 1 else {}),
        "version": __version__,
    }
