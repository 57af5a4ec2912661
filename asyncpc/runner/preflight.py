"""Everything a run checks before it starts (``asyncpc validate`` runs it too): the data
sets built and checked against the populations, a duration that messages can cross, and the
work estimate within ``run.max_steps``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..datasets import (
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
from ..model import Distribution, rng_for
from ..scenario import Scenario, ScenarioError
from ..stimulus import duration as stimulus_duration


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
                        f"{span(seconds)}), more than run.max_steps = {limit:.3g}; expected a "
                        "shorter run, a larger dt, or a raised limit (run.max_steps, or run --yes)")
    if problems:
        raise ScenarioError(problems)
    return dataset, test_set, duration


def span(seconds: float) -> str:
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
