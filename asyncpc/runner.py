"""Running a scenario: :func:`build_experiment`, :func:`simulate`, :func:`collect` and
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

from __future__ import annotations

import io
import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .baseline import Backprop
from .datasets import (
    Dataset,
    KeyProblem,
    bars,
    digits,
    load,
    mnist1d,
    parity,
    random_patterns,
    split_tasks,
    teacher,
    xor,
)
from .engines import Diverged, Engine, build
from .engines.events import world_timeout
from .evaluation import Evaluation, evaluate, score
from .metrics import forgetting, pc_vs_backprop, symmetry
from .model import Distribution, rng_for
from .plotting import plot_run
from .recording import Recorder
from .scenario import Scenario, ScenarioError, to_toml
from .sections import DataSection
from .stimulus import Stimulus
from .stimulus import duration as stimulus_duration


@dataclass
class RunResult:
    """What a run produced: the summary, the traces (numpy arrays) and the live network."""

    summary: dict[str, Any]
    traces: dict[str, np.ndarray]
    network: Engine
    out: Path | None = None
    figures: list[Path] = field(default_factory=list)
    generated: dict[str, Any] | None = None  # what each label generates (evaluation.generate)


def make_datasets(scenario: Scenario) -> tuple[Dataset | None, Dataset | None]:
    """The training set and the held-out test set (None where the kind has none)."""
    d = scenario.sections.data
    roles = {"input": d.input, "label": d.label}
    test = None
    if d.kind in ("digits", "mnist1d"):
        train, test = (digits if d.kind == "digits" else mnist1d)(d.low, d.high)
        if d.tasks:
            train, test = (split_tasks(s, d.tasks, "label", d.low, d.high) for s in (train, test))
        train = train.head(d.train_count)
        test = test.head(d.test_count).rename(roles)
    else:
        train = make_dataset(scenario)
        if train is not None and d.kind == "teacher":
            train, test = train.split(d.test_count)
        return train, test
    return check_dataset(scenario, train.rename(roles)), test


def make_dataset(scenario: Scenario) -> Dataset | None:
    d = scenario.sections.data
    rng = rng_for(scenario.seed, "data")
    if d.kind == "none":
        return None
    if d.kind == "values":
        return Dataset("values", {k: np.asarray(v, dtype=float) for k, v in d.values.items()})
    if d.kind == "xor":
        ds = xor(d.low, d.high)
    elif d.kind == "parity":
        ds = parity(d.bits, d.low, d.high)
    elif d.kind == "bars":
        ds = bars(d.size, d.low, d.high)
    elif d.kind == "random":
        ds = random_patterns(d.count, d.n, rng=rng, low=d.low, high=d.high)
    elif d.kind == "teacher":
        ds = teacher(d.count + d.test_count, d.n_in, d.n_hidden, d.n_out, rng=rng, noise=d.noise)
    else:
        base = scenario.path.parent if scenario.path else Path.cwd()
        try:
            ds = load(base / d.path, d.keys or {"input": "input", "label": "label"})
        except KeyProblem as exc:
            raise ScenarioError([f"{scenario.path}: {exc}"]) from None
        except (OSError, KeyError, ValueError) as exc:
            raise ScenarioError([f"{scenario.path}: data.path: cannot load {d.path!r}: "
                                 f"{exc}"]) from None
    return check_dataset(scenario, ds.rename({"input": d.input, "label": d.label}))


def check_dataset(scenario: Scenario, ds: Dataset) -> Dataset:
    """The data set, if it provides every population the scenario clamps or reads, with the
    right sizes; otherwise a :class:`ScenarioError` naming the keys."""
    problems = []
    sec = scenario.sections
    needed = [("stimulus.clamp", n) for n in sec.stimulus.clamp]
    if sec.evaluation.read:
        needed += [("evaluation.clamp", n) for n in sec.evaluation.clamp]
        needed.append(("evaluation.read", sec.evaluation.read))
    missing = [(key, name) for key, name in needed if name not in ds.arrays]
    pops = {name: data["spec"] for name, data in scenario.graph().nodes(data=True)}
    roles = [("data.input", sec.data.input), ("data.label", sec.data.label)]
    for role, name in (roles if missing else ()):
        if name in ds.arrays and name not in pops:  # the data goes to no population
            problems.append(f"{scenario.path}: {role}: no population named {name!r}; "
                            f"populations are: {', '.join(pops)}")
    if not problems:
        for key, name in missing:
            problems.append(f"{scenario.path}: {key}: the data set has no values for "
                            f"{name!r}; it provides {', '.join(sorted(ds.arrays))} "
                            "(see data.input and data.label)")
    for name, arr in ds.arrays.items():
        pop = pops.get(name)
        if pop is not None and arr.shape[1] != pop.n:
            problems.append(f"{scenario.path}: data: {name!r} samples have {arr.shape[1]} values "
                            f"but population {name!r} has n = {pop.n}")
    if problems:
        raise ScenarioError(problems)
    return ds


def check(scenario: Scenario) -> tuple[Dataset | None, Dataset | None, float]:
    """Everything :func:`run` checks before it simulates (``asyncpc validate`` runs it too):
    the data (files loaded, sizes against the populations, values finite), a duration that
    messages can cross, and work within ``run.max_steps`` (:func:`estimate`). Returns the
    training set, the test set and the duration."""
    dataset, test_set = make_datasets(scenario)
    for ds in (dataset, test_set):
        for name, arr in (ds.arrays.items() if ds is not None else ()):
            if np.isinf(arr).any():
                raise ScenarioError([f"{scenario.path}: data: the values for {name!r} contain "
                                     "infinities; expected finite numbers (nan = free)"])
    stim = scenario.sections.stimulus
    presented = dataset is not None and stim.clamp and stim.epochs > 0
    duration = scenario.sections.run.duration or (
        stimulus_duration(stim.epochs, len(dataset), stim.presentation, stim.rounds)
        if presented else None)
    if not duration:
        if dataset is not None and stim.clamp and stim.epochs == 0:
            raise ScenarioError([f"{scenario.path}: stimulus.epochs: 0 presents nothing; "
                                 "expected at least 1 (or run.duration for a run without "
                                 "samples)"])
        raise ScenarioError([f"{scenario.path}: run.duration: missing; expected a duration "
                             "when there is no stimulus to take it from"])
    problems = [f"{scenario.path}: edges.{j}.{key}: every delay of this distribution exceeds "
                f"the run's duration {duration:g}, so no message would ever arrive; expected "
                "shorter delays (or a longer run)"
                for j, (_, _, e) in enumerate(scenario.graph().edges(data="spec"))
                for key in ("delay", "feedback_delay")
                if getattr(e, key) is not None and shortest_delay(getattr(e, key)) > duration]
    steps, seconds = estimate(scenario, duration)
    limit = scenario.sections.run.max_steps
    if steps > limit:
        problems.append(f"{scenario.path}: run.max_steps: this run would take up to "
                        f"{steps:.3g} clock steps (duration {duration:g} over steps dt; roughly "
                        f"{_span(seconds)}), more than run.max_steps = {limit:.3g}; expected a "
                        "shorter run, a larger dt, or a raised limit (run.max_steps, or run --yes)")
    if problems:
        raise ScenarioError(problems)
    return dataset, test_set, duration


def _span(seconds: float) -> str:
    """A wall time in the unit a reader grasps."""
    for unit, size in (("years", 3.156e7), ("days", 86400.0), ("hours", 3600.0),
                       ("minutes", 60.0)):
        if seconds >= 2 * size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


def shortest_delay(d: Distribution) -> float:
    """A delay that a distribution draws below with practical certainty."""
    if d.kind == "constant":
        return d.value
    if d.kind == "uniform":
        return d.low
    if d.kind == "lognormal":  # of the value; its log is normal (model.Distribution)
        sigma2 = math.log1p((d.std / d.mean) ** 2)
        return d.mean * math.exp(-0.5 * sigma2 - 6.0 * math.sqrt(sigma2))
    return max(d.mean - 6.0 * d.std, 0.0)


#: rough cost of one clock step, for the estimate printed before a run (seconds; measured
#: per neuron step on the unit engine, per population step on the population engine, with
#: the deliveries they cause)
STEP_SECONDS = {"unit": 5e-6, "population": 3e-5}


def estimate(scenario: Scenario, duration: float) -> tuple[float, float]:
    """``(steps, seconds)``: the clock steps of the run if every clock stayed awake for the
    whole duration (an upper bound: settled neurons sleep), and a rough wall time for them."""
    engine = scenario.engine
    steps = 0.0
    for _, pop in scenario.graph().nodes(data="spec"):
        clocks = 1 if engine == "population" else pop.n * (2 if pop.tau_eps > 0 else 1)
        steps += clocks * duration / pop.dt
    return steps, steps * STEP_SECONDS[engine]


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


class Scorer:
    """Evaluates frozen copies of ``net`` on the training and test sets; keeps the latest
    :class:`Evaluation` of each."""

    def __init__(self, net: Engine, scenario: Scenario, dataset: Dataset,
                 test_set: Dataset | None, baseline: Backprop | None = None) -> None:
        self.net, self.cfg, self.data_cfg = net, scenario.sections.evaluation, \
            scenario.sections.data
        self.sets = {"train": dataset.head(self.cfg.train_count), "test": test_set}
        self.dataset = dataset
        self.baseline = baseline
        self.last: dict[str, Evaluation] = {}

    def __call__(self) -> dict[str, float]:
        c = self.cfg
        for key, ds in self.sets.items():
            if ds is not None:
                self.last[key] = evaluate(self.net, ds, clamp=c.clamp, read=c.read,
                                          settle=c.settle, readout=c.readout,
                                          threshold=c.threshold)
        out = {"accuracy": self.last["train"].accuracy}
        if "test" in self.last:
            out["test_accuracy"] = self.last["test"].accuracy
            out.update(self.per_task(self.last["test"]))
        if c.backprop:
            out.update(backprop_alignment(self.net, self.sets["train"], self.data_cfg, c.settle))
        if c.readout == "values":  # what the network predicts for the first training sample
            out["outputs"] = self.last["train"].outputs[0]
        if self.baseline is not None:  # scored on the same sets, at the same times
            for key, ds in self.sets.items():
                if ds is not None:
                    ev = self.baseline.evaluate(ds, c.readout, c.threshold)
                    name = "baseline_accuracy" if key == "train" else f"baseline_{key}_accuracy"
                    out[name] = ev.accuracy
                    if key == "test":
                        out.update(self.per_task(ev, "baseline_"))
                    if key == "train" and c.readout == "values":
                        out["baseline_outputs"] = ev.outputs[0]
        return out

    def per_task(self, ev: Evaluation, prefix: str = "") -> dict[str, float]:
        """Each task's test accuracy (``task<k>_test_accuracy``, k from 1), scored from the
        test evaluation's outputs on that task's samples (data.tasks)."""
        test = self.sets["test"]
        if test.task is None:
            return {}
        return {f"{prefix}task{k + 1}_test_accuracy":
                score(ev.outputs[test.task == k], ev.targets[test.task == k], self.cfg.readout,
                      self.cfg.threshold).accuracy for k in range(test.n_tasks)}


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
    baseline = None
    if sec.baseline.kind == "backprop" and stimulus is not None:
        baseline = Backprop(net, sec.data.input, sec.data.label, sec.baseline.eta)
    scorer = Scorer(net, scenario, dataset, test_set, baseline) \
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
        if baseline is not None:  # one backprop step per presentation, on its sample
            def end() -> None:
                recorder.presentation_end()
                baseline.update(stimulus.current)
            stimulus.on_end = end
    return Experiment(scenario, net, duration, dataset, stimulus, recorder, scorer)


def task_evaluations(net: Engine, recorder: Recorder, every: float):
    """With data.tasks, evaluations follow the schedule: one when each task's turn starts
    (the state the previous task left) and then every ``every`` time units of that turn, so
    that the evaluation "right after a switch" is the same time after every switch."""
    turn = [0]

    def evaluate_once() -> None:
        if not recorder.accuracy_t or recorder.accuracy_t[-1] != net.now:
            recorder.record_accuracy()

    def periodic(mine: int):
        while True:
            yield world_timeout(net.env, every)
            if turn[0] != mine:
                return
            evaluate_once()

    def on_task(_: int) -> None:
        turn[0] += 1
        evaluate_once()
        if every > 0:
            net.env.process(periodic(turn[0]))
    return on_task


def simulate(exp: Experiment, progress: bool = False) -> tuple[str, str, float]:
    """Run the experiment to its duration in 200 chunks; return (status, message, wall time).

    Ctrl-C (or SIGTERM, turned into KeyboardInterrupt by the CLI) ends it as "interrupted",
    a blow-up as "diverged" (reported by the engine or the recorder with when and where)."""
    net, duration = exp.net, exp.duration
    status, message = "ok", ""
    if progress:
        steps, seconds = estimate(exp.scenario, duration)
        print(f"estimate: up to {steps:.3g} clock steps if every clock stayed awake (roughly "
              f"{_span(seconds)}); settled neurons sleep, so usually far less", file=sys.stderr)
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
    if scorer is not None and scorer.baseline is not None:
        bl = exp.scenario.sections.baseline
        summary["baseline"] = {
            "kind": bl.kind, "eta": bl.eta, "updates": scorer.baseline.updates,
            "accuracy": {key: float(traces[f"evaluation/{name}"][-1])
                         if f"evaluation/{name}" in traces else None
                         for key, name in (("train", "baseline_accuracy"),
                                           ("test", "baseline_test_accuracy"))}}
    if "stimulus/task_onsets" in traces and "evaluation/task1_test_accuracy" in traces:
        summary["tasks"] = task_summary(exp.scenario, traces)
    result = RunResult(summary, traces, exp.net)
    if (exp.scenario.sections.evaluation.generate and exp.dataset is not None
            and status == "ok"):
        result.generated = generate(exp.net, exp.dataset, exp.scenario)
        summary["generation"] = {"mean_abs_error": result.generated["mean_abs_error"]}
    return result


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


def confusion(ev: Evaluation) -> np.ndarray:
    """Counts of (true class, predicted class) of an argmax evaluation."""
    k = ev.targets.shape[1]
    m = np.zeros((k, k), dtype=int)
    np.add.at(m, (ev.targets.argmax(axis=1), ev.outputs.argmax(axis=1)), 1)
    return m


def backprop_alignment(net: Engine, dataset: Dataset, d: DataSection, settle: float) -> dict:
    """Mean angle and relative error between PC updates and backprop over the data set."""
    results = [pc_vs_backprop(net, dataset.sample(j), source=d.input, target=d.label,
                              settle=settle) for j in range(len(dataset))]
    return {"backprop_angle_deg": float(np.mean([r["angle_deg"] for r in results])),
            "backprop_rel_error": float(np.mean([r["rel_error"] for r in results]))}


def generate(net: Engine, dataset: Dataset, scenario: Scenario) -> dict:
    """Clamp each distinct label on a frozen copy and read what it generates at the input
    (for each label, its first sample is the target shown beside it)."""
    label, image = scenario.sections.data.label, scenario.sections.data.input
    settle = scenario.sections.evaluation.settle
    _, first = np.unique(dataset.arrays[label], axis=0, return_index=True)
    first = np.sort(first)
    dataset = Dataset(dataset.name, {k: v[first] for k, v in dataset.arrays.items()})
    ev = evaluate(net, dataset, clamp=[label], read=image, settle=settle, readout="values")
    n = ev.outputs.shape[1]
    side = int(round(np.sqrt(n)))
    titles = [f"label {int(np.argmax(dataset.arrays[label][j]))}" for j in range(len(dataset))]
    images = np.concatenate([np.clip(ev.outputs, 0.0, 1.0), ev.targets]) if side * side == n \
        else ev.outputs
    return {"images": images, "titles": np.asarray(titles + [f"target {t[6:]}" for t in titles]),
            "side": np.asarray(side), "generated": ev.outputs, "targets": ev.targets,
            "mean_abs_error": ev.mean_abs_error}


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


RUN_FILES = ("summary.json", "traces.npz", "scenario.toml")
#: written first, before anything slow: a run killed at any moment (SIGKILL, out of memory)
#: leaves a directory that ``--force`` and sweep reruns recognise as a run directory
RUN_MARKER = ".asyncpc-run"


def is_run_directory(out: Path) -> bool:
    return any((out / name).exists() for name in (RUN_MARKER, *RUN_FILES))


def prepare_out(out: Path, force: bool) -> None:
    """Create the run directory and mark it as one. With ``force`` an existing run directory
    (finished or killed) is replaced whole (nothing of the previous run survives to be
    plotted by mistake); a non-empty directory that is not a run directory is never
    deleted."""
    try:
        if out.exists() and not out.is_dir():
            raise ScenarioError([f"--out {out}: exists and is not a directory"])
        if out.exists() and any(out.iterdir()):
            if not force:
                raise ScenarioError([f"--out {out}: directory is not empty; use --force to "
                                     "replace it, or choose another --out"])
            if not is_run_directory(out):
                raise ScenarioError([f"--out {out}: not a run directory (none of "
                                     f"{', '.join(RUN_FILES)}); --force replaces run "
                                     "directories only"])
            shutil.rmtree(out)
        (out / "plots").mkdir(parents=True, exist_ok=True)
        atomic_write(out / RUN_MARKER, (json.dumps({"asyncpc": __version__}) + "\n").encode())
    except OSError as exc:
        raise ScenarioError([f"--out {out}: cannot create the run directory: "
                             f"{exc.strerror}"]) from None


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (a temporary file, renamed; removed
    again if the write fails, e.g. on a full disk)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class WriteFailed(OSError):
    """The run directory could not be written whole (a full disk, a lost mount): what was
    simulated is intact in memory, but ``missing`` files are not on disk."""

    def __init__(self, out: Path, missing: list[str], reason: str) -> None:
        super().__init__(f"{out}: could not write {', '.join(missing)} ({reason}); "
                         f"everything else of the run is there, and summary.json says what is "
                         "missing if it could be written")
        self.missing = missing


def write(out: Path, scenario: Scenario, result: RunResult, plots: bool = True) -> None:
    """Write the run directory (module docstring) and, with ``plots``, its figures.

    Each file is written whole or not at all. If one cannot be written (a full disk), the
    others are still tried; the summary then lists the ``missing`` files and its status is
    never ``ok`` (``incomplete``), and :class:`WriteFailed` is raised at the end."""
    result.out = out
    missing, reasons = [], []

    def attempt(name: str, make) -> None:
        try:
            make()
        except OSError as exc:
            missing.append(name)
            reasons.append(exc.strerror or str(exc))

    def arrays(name: str, values: dict, compress: bool) -> None:
        buf = io.BytesIO()
        (np.savez_compressed if compress else np.savez)(buf, **values)
        atomic_write(out / name, buf.getvalue())

    attempt("scenario.toml",
            lambda: atomic_write(out / "scenario.toml", to_toml(scenario.data).encode()))
    attempt("traces.npz", lambda: arrays("traces.npz", result.traces, True))
    if result.generated is not None:
        attempt("generated.npz", lambda: arrays(
            "generated.npz", {k: v for k, v in result.generated.items()
                              if k != "mean_abs_error"}, False))
    if plots and missing:
        missing.append("plots")  # drawn from the traces on disk
    elif plots:

        def figures() -> None:
            result.figures = plot_run(out)
        attempt("plots", figures)
    summary = result.summary
    if missing:
        summary["missing"] = list(missing)
        if summary["status"] == "ok":
            summary["status"] = "incomplete"
        summary["message"] = "; ".join(filter(None, [
            summary.get("message"), f"could not write {', '.join(missing)}: {reasons[0]}"]))
    attempt("summary.json", lambda: atomic_write(
        out / "summary.json",
        (json.dumps(_jsonable(summary), indent=2, allow_nan=True) + "\n").encode()))
    if missing:
        raise WriteFailed(out, missing, reasons[0])


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj
