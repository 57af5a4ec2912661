"""Cross-key rules of a scenario file: each a small named function of the resolved data.

Validation (:mod:`asyncpc.scenario`) first checks every key on its own against its declaration
(type, range, choices); then it runs every rule in :data:`RULES`, which look at several keys
together (a reference to a population, a matrix against two population sizes, a delay grid
against a step). A rule reports each problem through :class:`Report`, naming the file, the key
path and what was expected; it skips values that were already reported as malformed. Each rule
has its case in ``tests/scenario/test_checks.py``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from typing import Any

import networkx as nx

#: measured memory per synapse and per neuron of each engine (bytes; docs/performance.md),
#: with a margin
BYTES = {"unit": (2500, 2000), "population": (100, 400)}


class Report:
    """Where the rules put what they find: one line per problem, ``FILE: KEY.PATH: text``.

    ``value(keypath, value, kind)`` checks one value against a declaration kind (the key
    checker of :mod:`asyncpc.scenario`), for tables whose entries are declared by use."""

    def __init__(self, where: str, data: dict, problems: list[str],
                 value: Callable[[str, Any, str], Any]) -> None:
        self.where = where
        self.problems = problems
        self.names = set(data["populations"])
        self.value = value

    def add(self, keypath: str, text: str) -> None:
        self.problems.append(f"{self.where}: {keypath}: {text}")

    def ref(self, keypath: str, name: Any) -> None:
        """``name`` must be a population."""
        if isinstance(name, str) and name and name not in self.names:
            hint = difflib.get_close_matches(name, sorted(self.names), n=1)
            self.add(keypath, f"no population named {name!r}"
                     + (f" (did you mean {hint[0]!r}?)" if hint else "")
                     + f"; populations are: {', '.join(sorted(self.names))}")


def _numbers(p: dict, *keys: str) -> bool:
    return all(isinstance(p.get(k), float) for k in keys)


def population_names(r: Report, data: dict) -> None:
    """A name may not hold what separates key paths, overrides and edge names."""
    for name in data["populations"]:
        if any(c in name for c in ".=,*") or "->" in name or name != name.strip() or not name:
            r.add(f"populations.{name}", "expected a name without '.', '=', ',', '*', '->' or "
                  "surrounding spaces (they separate key paths, overrides and edge names), got "
                  f"{name!r}")


def refresh_at_least_a_step(r: Report, data: dict) -> None:
    for name, p in data["populations"].items():
        if _numbers(p, "dt", "refresh") and p["refresh"] < p["dt"]:
            r.add(f"populations.{name}.refresh", f"expected a value ≥ dt = {p['dt']:g} (a "
                  f"neuron reads its inputs at most once a step), got {p['refresh']:g}")


def stable_euler_step(r: Report, data: dict) -> None:
    """Explicit Euler on x: the neuron's own spring alone, dx/dt = −(x − mu)/(sigma2 tau_x),
    is stable for steps < 2 sigma2 tau_x; half that leaves room for the coupling to the other
    populations (a step of 1.5 tau_x with sigma2 = 1 blows up)."""
    for name, p in data["populations"].items():
        if not _numbers(p, "dt", "tau_x", "variance", "jitter"):
            continue
        limit = p["variance"] * p["tau_x"]
        if p["dt"] * (1.0 + p["jitter"]) > limit:
            r.add(f"populations.{name}.dt", f"expected dt·(1 + jitter) ≤ variance·tau_x = "
                  f"{limit:g} for a stable explicit Euler step, got dt = {p['dt']:g} with "
                  f"jitter {p['jitter']:g} (lower dt or raise tau_x)")


def estimated_memory(data: dict) -> tuple[int, float]:
    """Synapses and estimated memory (bytes) of a resolved scenario's network."""
    n = {name: p["n"] for name, p in data["populations"].items() if isinstance(p.get("n"), int)}
    synapses = sum(2 * n[e["source"]] * n[e["target"]] for e in data["edges"]
                   if e["source"] in n and e["target"] in n)
    per_synapse, per_neuron = BYTES.get(data["run"]["engine"], BYTES["unit"])
    return synapses, synapses * per_synapse + 2 * sum(n.values()) * per_neuron


def network_fits_in_memory(r: Report, data: dict) -> None:
    if not isinstance(data["run"].get("max_memory_gb"), float):
        return
    synapses, memory = estimated_memory(data)
    if memory > data["run"]["max_memory_gb"] * 1e9:
        r.add("populations", f"the network has {synapses:,} synapses, about "
              f"{memory / 1e9:,.1f} GB on the {data['run']['engine']} engine; expected at most "
              f"run.max_memory_gb = {data['run']['max_memory_gb']:g} GB (raise it to build it "
              "anyway, or use the population engine)")


def edges_join_two_populations(r: Report, data: dict) -> None:
    """Each edge names two existing, different populations, and no pair twice."""
    seen = set()
    for j, e in enumerate(data["edges"]):
        r.ref(f"edges.{j}.source", e["source"])
        r.ref(f"edges.{j}.target", e["target"])
        pair = (e["source"], e["target"])
        if e["source"] == e["target"] and e["source"]:
            r.add(f"edges.{j}", f"a population cannot predict itself ({e['source']!r})")
        if pair in seen:
            r.add(f"edges.{j}", f"duplicate edge {pair[0]} -> {pair[1]}")
        seen.add(pair)


def explicit_weights_fit_the_edge(r: Report, data: dict) -> None:
    pops = data["populations"]
    for j, e in enumerate(data["edges"]):
        if e["source"] not in pops or e["target"] not in pops:
            continue
        shape = (pops[e["target"]]["n"], pops[e["source"]]["n"])
        for key, expected in (("w_values", shape), ("b_values", shape[::-1])):
            m = e[key]
            if m is not None and (len(m), len(m[0])) != expected:
                r.add(f"edges.{j}.{key}", f"expected a {expected[0]}×{expected[1]} matrix, got "
                      f"{len(m)}×{len(m[0])}")


def delay_grid_within_the_step(r: Report, data: dict) -> None:
    """The population engine delivers on a grid no coarser than the sender's step."""
    pops = data["populations"]
    if data["run"]["engine"] != "population":
        return
    for j, e in enumerate(data["edges"]):
        if e["source"] not in pops or e["target"] not in pops:
            continue
        step = min(pops[e["source"]]["dt"], pops[e["target"]]["dt"])
        if e["delay_resolution"] > step:
            r.add(f"edges.{j}.delay_resolution", f"expected a value ≤ {step:g} (the step dt of "
                  f"{e['source']!r} and {e['target']!r}): the population engine delivers on a "
                  "grid no coarser than the sender's step")


def tied_edges_have_no_feedback_values(r: Report, data: dict) -> None:
    for j, e in enumerate(data["edges"]):
        if e["rule"] == "tied" and e["b_values"] is not None:
            r.add(f"edges.{j}.b_values", "a tied edge has B = Wᵀ by definition")


def clamps_name_populations_once(r: Report, data: dict) -> None:
    for section in ("stimulus", "evaluation"):
        clamp = data[section]["clamp"] or []
        for j, name in enumerate(clamp):
            r.ref(f"{section}.clamp.{j}", name)
            if name in clamp[:j]:
                r.add(f"{section}.clamp.{j}", f"{name!r} is listed twice; expected each "
                      "population once")


def read_out_exists(r: Report, data: dict) -> None:
    r.ref("evaluation.read", data["evaluation"]["read"])
    read = data["populations"].get(data["evaluation"]["read"])
    if read is not None and data["evaluation"]["readout"] == "argmax" and read.get("n") == 1:
        r.add("evaluation.readout", f"argmax over the single neuron of "
              f"{data['evaluation']['read']!r} is always right; expected threshold or values for "
              "a one-neuron read-out")


def baseline_has_a_chain(r: Report, data: dict) -> None:
    """A baseline learns from the stimulus along one chain data.input → … → data.label."""
    if not data["baseline"]["kind"]:
        return
    src, tgt = data["data"]["input"], data["data"]["label"]
    if not data["evaluation"]["read"] or not data["stimulus"]["clamp"]:
        r.add("baseline.kind", "a baseline learns from the stimulus and is scored with the "
              "network; expected stimulus.clamp and evaluation.read")
        return
    graph = nx.DiGraph([(e["source"], e["target"]) for e in data["edges"]])
    if not (src in graph and tgt in graph and nx.has_path(graph, src, tgt)):
        r.add("baseline.kind", f"expected a chain of edges from data.input {src!r} to "
              f"data.label {tgt!r}")
        return
    path = max(nx.all_simple_paths(graph, src, tgt), key=len)
    own = set(zip(path, path[1:], strict=False))
    extra = [f"{a} -> {b}" for a, b in graph.edges if b in path[1:] and (a, b) not in own]
    if extra:
        r.add("baseline.kind", f"a baseline has the architecture of one chain "
              f"{src!r} → … → {tgt!r}; expected no other edges into it, got {', '.join(extra)}")


def data_input_exists(r: Report, data: dict) -> None:
    if data["data"]["kind"] not in ("none", "values"):
        r.ref("data.input", data["data"]["input"])


def recorded_neurons_exist(r: Report, data: dict) -> None:
    for name, idx in (data["record"]["neurons"] or {}).items():
        r.ref(f"record.neurons.{name}", name)
        n = data["populations"].get(name, {}).get("n")
        if not isinstance(idx, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                                for i in idx):
            r.add(f"record.neurons.{name}", "expected a list of indices")
        elif n is not None and any(not 0 <= i < n for i in idx):
            r.add(f"record.neurons.{name}", f"indices must be in [0, {n})")


def expected_values_match_recorded_neurons(r: Report, data: dict) -> None:
    for name, values in (data["record"]["expected"] or {}).items():
        r.ref(f"record.expected.{name}", name)
        recorded = (data["record"]["neurons"] or {}).get(name)
        if not isinstance(values, list) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            r.add(f"record.expected.{name}", "expected a list of numbers")
        elif not isinstance(recorded, list) or len(recorded) != len(values):
            r.add(f"record.expected.{name}", f"expected one value per neuron of "
                  f"record.neurons.{name} ({recorded!r}), got {len(values)}")


def values_fit_their_populations(r: Report, data: dict) -> None:
    """``data.kind = "values"``: population → samples, as many for each population."""
    if data["data"]["kind"] != "values":
        return
    values = data["data"]["values"] or {}
    for name, rows in values.items():
        r.ref(f"data.values.{name}", name)
        if r.value(f"data.values.{name}", rows, "matrix") is None:
            continue
        n = data["populations"].get(name, {}).get("n")
        if n is not None and len(rows[0]) != n:
            r.add(f"data.values.{name}", f"expected samples of {n} values, got {len(rows[0])}")
    if not values:
        r.add("data.values", "missing; expected population → samples")
    counts = {name: len(rows) for name, rows in values.items() if isinstance(rows, list)}
    if len(set(counts.values())) > 1:
        r.add("data.values", "expected the same number of samples for every population, got "
              + ", ".join(f"{n} for {name!r}" for name, n in counts.items()))


def tasks_fit_the_label_head(r: Report, data: dict) -> None:
    tasks = data["data"]["tasks"]
    if not tasks:
        return
    if data["data"]["kind"] not in ("digits", "mnist1d"):
        r.add("data.tasks", f"tasks split classes; expected data.kind digits or mnist1d, got "
              f"{data['data']['kind']!r}")
    if any(not 0 <= c <= 9 for t in tasks for c in t):
        r.add("data.tasks", f"expected classes 0 to 9, got {tasks!r}")
    width = max(len(t) for t in tasks)
    label = data["populations"].get(data["data"]["label"])
    if label is not None and label["n"] != width:
        r.add(f"populations.{data['data']['label']}.n", f"the tasks' label head has {width} "
              f"units (the largest task); got n = {label['n']}")


def file_data_has_a_path(r: Report, data: dict) -> None:
    if data["data"]["kind"] == "file" and not data["data"]["path"]:
        r.add("data.path", "missing; expected a .npz or .csv file")


def clamped_data_exists(r: Report, data: dict) -> None:
    if data["stimulus"]["epochs"] and data["data"]["kind"] == "none" and data["stimulus"]["clamp"]:
        r.add("stimulus.clamp", "the stimulus clamps populations but data.kind is 'none'")


def _distributions(data: dict):
    """``(keypath, table)`` of every well-formed distribution of every edge."""
    for j, e in enumerate(data["edges"]):
        for key in ("w_init", "b_init", "delay", "feedback_delay"):
            d = e[key]
            if isinstance(d, dict) and None not in d.values():  # else reported already
                yield f"edges.{j}.{key}", d


def distributions_are_proper(r: Report, data: dict) -> None:
    for keypath, d in _distributions(data):
        if d.get("dist") == "lognormal" and d.get("mean", 0) <= 0:
            r.add(f"{keypath}.mean", "expected a value > 0 for a lognormal distribution")
        if d.get("dist") == "uniform" and d.get("high", 0) < d.get("low", 0):
            r.add(keypath, "expected low ≤ high")


def normal_below_zero(d: dict) -> float:
    """The probability that a ``normal`` delay distribution draws a negative delay."""
    mean, std = d.get("mean", 0.0), d.get("std", 0.0)
    if d.get("dist") != "normal" or not isinstance(mean, float) or not isinstance(std, float):
        return 0.0
    if std == 0.0:
        return float(mean < 0.0)
    return 0.5 * math.erfc(mean / (std * math.sqrt(2.0)))


def delays_are_not_negative(r: Report, data: dict) -> None:
    for keypath, d in _distributions(data):
        if not keypath.endswith("delay"):
            continue
        clipped = normal_below_zero(d)
        if clipped > 0.001:
            r.add(keypath, f"a normal delay distribution with mean {d.get('mean', 0):g} and std "
                  f"{d.get('std', 0):g} draws {100 * clipped:.1f} % negative delays, which would "
                  "be clipped to 0; expected mean ≥ 3·std (or a lognormal or uniform "
                  "distribution)")
        if d.get("dist") == "constant" and d.get("value", 0) < 0:
            r.add(f"{keypath}.value", "expected a delay ≥ 0")
        if d.get("dist") == "uniform" and d.get("low", 0) < 0:
            r.add(f"{keypath}.low", "expected a delay ≥ 0")


#: every cross-key rule, in the order their problems are reported
RULES = (population_names, refresh_at_least_a_step, stable_euler_step, network_fits_in_memory,
         edges_join_two_populations, explicit_weights_fit_the_edge, delay_grid_within_the_step,
         tied_edges_have_no_feedback_values, clamps_name_populations_once, read_out_exists,
         baseline_has_a_chain, data_input_exists, recorded_neurons_exist,
         expected_values_match_recorded_neurons, values_fit_their_populations,
         tasks_fit_the_label_head, file_data_has_a_path, clamped_data_exists,
         distributions_are_proper, delays_are_not_negative)


def check(where: str, data: dict, problems: list[str],
          value: Callable[[str, Any, str], Any]) -> None:
    """Run every rule of :data:`RULES` on the resolved ``data``."""
    report = Report(where, data, problems, value)
    for rule in RULES:
        rule(report, data)
