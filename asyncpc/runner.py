"""Running a scenario: build, simulate with recorders, and write the run directory.

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
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .datasets import Dataset, bars, digits, load, mnist1d, parity, random_patterns, teacher, xor
from .engines import Diverged, Engine, build
from .evaluation import Evaluation, evaluate
from .metrics import pc_vs_backprop, symmetry
from .model import rng_for
from .recording import Recorder
from .scenario import Scenario, ScenarioError, to_toml
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


def make_datasets(scenario: Scenario) -> tuple[Dataset | None, Dataset | None]:
    """The training set and the held-out test set (None where the kind has none)."""
    d = scenario.data["data"]
    kind = d["kind"]
    test = None
    if kind in ("digits", "mnist1d"):
        train, test = (digits if kind == "digits" else mnist1d)(d["low"], d["high"])
        train = train.head(d["train_count"])
        test = test.head(d["test_count"]).rename({"input": d["input"], "label": d["label"]})
    else:
        train = make_dataset(scenario)
        if train is not None and kind == "teacher":
            train, test = train.split(d["test_count"])
        return train, test
    return check_dataset(scenario, train.rename({"input": d["input"], "label": d["label"]})), test


def make_dataset(scenario: Scenario) -> Dataset | None:
    d = scenario.data["data"]
    kind = d["kind"]
    rng = rng_for(scenario.seed, "data")
    if kind == "none":
        return None
    if kind == "values":
        return Dataset("values", {k: np.asarray(v, dtype=float) for k, v in d["values"].items()})
    if kind == "xor":
        ds = xor(d["low"], d["high"])
    elif kind == "parity":
        ds = parity(d["bits"], d["low"], d["high"])
    elif kind == "bars":
        ds = bars(d["size"], d["low"], d["high"])
    elif kind == "random":
        ds = random_patterns(d["count"], d["n"], rng=rng, low=d["low"], high=d["high"])
    elif kind == "teacher":
        ds = teacher(d["count"] + d["test_count"], d["n_in"], d["n_hidden"], d["n_out"], rng=rng,
                     noise=d["noise"])
    else:
        base = scenario.path.parent if scenario.path else Path.cwd()
        try:
            ds = load(base / d["path"], d["keys"] or {"input": "input", "label": "label"})
        except (OSError, KeyError, ValueError) as exc:
            raise ScenarioError([f"{scenario.path}: data.path: cannot load {d['path']!r}: "
                                 f"{exc}"]) from None
    return check_dataset(scenario, ds.rename({"input": d["input"], "label": d["label"]}))


def check_dataset(scenario: Scenario, ds: Dataset) -> Dataset:
    """The data set, if it provides every population the scenario clamps or reads, with the
    right sizes; otherwise a :class:`ScenarioError` naming the keys."""
    problems = []
    cfg = scenario.data
    needed = [("stimulus.clamp", n) for n in cfg["stimulus"]["clamp"]]
    if cfg["evaluation"]["read"]:
        needed += [("evaluation.clamp", n) for n in cfg["evaluation"]["clamp"]]
        needed.append(("evaluation.read", cfg["evaluation"]["read"]))
    for key, name in needed:
        if name not in ds.arrays:
            problems.append(f"{scenario.path}: {key}: the data set has no values for "
                            f"{name!r}; it provides {', '.join(sorted(ds.arrays))} "
                            "(see data.input and data.label)")
    for name, arr in ds.arrays.items():
        pop = scenario.data["populations"].get(name)
        if pop is not None and arr.shape[1] != pop["n"]:
            problems.append(f"{scenario.path}: data: {name!r} samples have {arr.shape[1]} values "
                            f"but population {name!r} has n = {pop['n']}")
    if problems:
        raise ScenarioError(problems)
    return ds


def check(scenario: Scenario) -> tuple[Dataset | None, Dataset | None, float]:
    """Everything :func:`run` checks before it simulates (``asyncpc validate`` runs it too):
    the data (files loaded, sizes against the populations, values finite), and a duration.
    Returns the training set, the test set and the duration."""
    dataset, test_set = make_datasets(scenario)
    for ds in (dataset, test_set):
        for name, arr in (ds.arrays.items() if ds is not None else ()):
            if np.isinf(arr).any():
                raise ScenarioError([f"{scenario.path}: data: the values for {name!r} contain "
                                     "infinities; expected finite numbers (nan = free)"])
    stim = scenario.data["stimulus"]
    presented = dataset is not None and stim["clamp"] and stim["epochs"] > 0
    duration = scenario.data["run"]["duration"] or (
        stimulus_duration(stim["epochs"], len(dataset), stim["presentation"]) if presented
        else None)
    if not duration:
        raise ScenarioError([f"{scenario.path}: run.duration: missing; expected a duration "
                             "when there is no stimulus to take it from"])
    return dataset, test_set, duration


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


def run(scenario: Scenario, *, out: str | Path | None = None, progress: bool = False,
        plots: bool = True, force: bool = False, engine: str | None = None) -> RunResult:
    """Run ``scenario``; with ``out``, write the run directory there.

    ``engine`` (``"unit"`` or ``"population"``) overrides the scenario's ``run.engine``.
    """
    if engine is not None:
        scenario = scenario.with_overrides([f"run.engine={engine}"])
    dataset, test_set, duration = check(scenario)
    out_dir = Path(out) if out is not None else None
    if out_dir is not None:
        prepare_out(out_dir, force)
    data = scenario.data
    net = build(scenario.graph(), engine=scenario.engine, seed=scenario.seed)
    stim_cfg, eval_cfg = data["stimulus"], data["evaluation"]
    stimulus = None
    if dataset is not None and stim_cfg["clamp"] and stim_cfg["epochs"] > 0:
        stimulus = Stimulus(net, dataset, clamp=stim_cfg["clamp"],
                            presentation=stim_cfg["presentation"], jitter=stim_cfg["jitter"],
                            epochs=stim_cfg["epochs"], order=stim_cfg["order"],
                            reset=stim_cfg["reset"], rng=rng_for(scenario.seed, "stimulus"))
    evaluator = None
    last: dict[str, Evaluation] = {}  # the latest evaluation of each set
    if dataset is not None and eval_cfg["read"]:
        def score(ds: Dataset, key: str) -> float:
            last[key] = evaluate(net, ds, clamp=eval_cfg["clamp"], read=eval_cfg["read"],
                                 settle=eval_cfg["settle"], readout=eval_cfg["readout"],
                                 threshold=eval_cfg["threshold"])
            return last[key].accuracy

        def evaluator() -> dict[str, float]:
            out = {"accuracy": score(dataset.head(eval_cfg["train_count"]), "train")}
            if test_set is not None:
                out["test_accuracy"] = score(test_set, "test")
            if eval_cfg["backprop"]:
                out.update(backprop_alignment(net, dataset, data["data"], eval_cfg["settle"]))
            return out
    rec_cfg = data["record"]
    recorder = Recorder(net, every=rec_cfg["every"], neurons=rec_cfg["neurons"],
                        raster=rec_cfg["raster"], raster_from=rec_cfg["raster_from"],
                        max_energy=data["run"]["max_energy"], evaluate=evaluator,
                        eval_every=eval_cfg["every"],
                        presented=(lambda: stimulus.presented) if stimulus else None)
    status, message = "ok", ""
    bar = Progress(duration, progress)
    start = time.perf_counter()
    # a blow-up is reported by the engine (a non-finite state) or the recorder (runaway
    # energy) with when and where; numpy's own overflow warnings would only precede it
    quiet = np.errstate(over="ignore", invalid="ignore")
    try:
        chunk = duration / 200.0
        j = 0
        with quiet:
            while net.now < duration:
                j += 1
                net.run(min(duration, j * chunk))
                bar.update(net.now, net.counters.delivered)
    except KeyboardInterrupt:
        status, message = "interrupted", f"interrupted by the user at t = {net.now:g}"
    except Diverged as exc:
        status, message = "diverged", f"diverged: {exc}"
    finally:
        bar.close()
    wall = time.perf_counter() - start
    if status == "ok":
        recorder.sample()  # the state at the end of the run
    if evaluator is not None and status != "diverged":
        try:
            recorder.record_accuracy()
        except KeyboardInterrupt:
            status, message = "interrupted", f"interrupted by the user at t = {net.now:g}"
    traces = recorder.arrays()
    final = last.get("test") or last.get("train")
    if final is not None and eval_cfg["readout"] == "argmax":
        traces["confusion"] = confusion(final)
    summary = make_summary(scenario, net, traces, stimulus, status, message, wall)
    generated = None
    if eval_cfg["generate"] and dataset is not None and status != "diverged":
        generated = generate(net, dataset, scenario)
        summary["generation"] = {"mean_abs_error": generated["mean_abs_error"]}
    result = RunResult(summary, traces, net, out_dir)
    if out_dir is not None:
        write_run(out_dir, scenario, summary, traces)
        if generated is not None:
            buf = io.BytesIO()
            np.savez(buf, **{k: v for k, v in generated.items() if k != "mean_abs_error"})
            atomic_write(out_dir / "generated.npz", buf.getvalue())
        if plots:
            from .plotting import plot_run
            result.figures = plot_run(out_dir)
    return result


def confusion(ev: Evaluation) -> np.ndarray:
    """Counts of (true class, predicted class) of an argmax evaluation."""
    k = ev.targets.shape[1]
    m = np.zeros((k, k), dtype=int)
    np.add.at(m, (ev.targets.argmax(axis=1), ev.outputs.argmax(axis=1)), 1)
    return m


def backprop_alignment(net: Engine, dataset: Dataset, d: dict, settle: float) -> dict:
    """Mean angle and relative error between PC updates and backprop over the data set."""
    results = [pc_vs_backprop(net, dataset.sample(j), source=d["input"], target=d["label"],
                              settle=settle) for j in range(len(dataset))]
    return {"backprop_angle_deg": float(np.mean([r["angle_deg"] for r in results])),
            "backprop_rel_error": float(np.mean([r["rel_error"] for r in results]))}


def generate(net: Engine, dataset: Dataset, scenario: Scenario) -> dict:
    """Clamp each distinct label on a frozen copy and read what it generates at the input
    (for each label, its first sample is the target shown beside it)."""
    d, settle = scenario.data["data"], scenario.data["evaluation"]["settle"]
    label, image = d["label"], d["input"]
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
                         for name, idx in (scenario.data["record"]["neurons"] or {}).items()},
        "network": {"neurons": net.n_neurons, "synapses": net.n_synapses,
                    "processes": net.n_processes,
                    "min_delay": net.min_delay()},
        "version": __version__,
    }


RUN_FILES = ("summary.json", "traces.npz", "scenario.toml")


def prepare_out(out: Path, force: bool) -> None:
    """Create the run directory. With ``force`` an existing run directory is replaced whole
    (nothing of the previous run survives to be plotted by mistake); a non-empty directory
    that is not a run directory is never deleted."""
    if out.exists() and not out.is_dir():
        raise ScenarioError([f"--out {out}: exists and is not a directory"])
    if out.exists() and any(out.iterdir()):
        if not force:
            raise ScenarioError([f"--out {out}: directory is not empty; use --force to "
                                 "replace it, or choose another --out"])
        if not any((out / name).exists() for name in RUN_FILES):
            raise ScenarioError([f"--out {out}: not a run directory (none of "
                                 f"{', '.join(RUN_FILES)}); --force replaces run directories "
                                 "only"])
        shutil.rmtree(out)
    try:
        (out / "plots").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScenarioError([f"--out {out}: cannot create the run directory: "
                             f"{exc.strerror}"]) from None


def atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_run(out: Path, scenario: Scenario, summary: dict, traces: dict) -> None:
    atomic_write(out / "scenario.toml", to_toml(scenario.data).encode())
    buf = io.BytesIO()
    np.savez_compressed(buf, **traces)
    atomic_write(out / "traces.npz", buf.getvalue())
    atomic_write(out / "summary.json",
                 (json.dumps(_jsonable(summary), indent=2, allow_nan=True) + "\n").encode())


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
