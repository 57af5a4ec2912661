"""Scenario files: TOML → validated, fully resolved scenario (declarations only).

A scenario file is data: nothing in it is executed. :func:`load` reads it, applies ``--set``
overrides, checks every key against :data:`SCHEMA` and reports *all* problems at once, each
naming the file, the key path and what was expected. :func:`resolve` fills in the defaults;
:func:`to_toml` writes the resolved scenario back (the run directory's ``scenario.toml``).
"""

from __future__ import annotations

import difflib
import math
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import networkx as nx

from .activations import ACTIVATIONS
from .model import DISTRIBUTIONS, RULES, Distribution, EdgeSpec, PopulationSpec, build_graph
from .sections import NONNEG, POS, SECTION_TYPES, Key, RunSection, Sections, schema

#: the shipped scenarios (package data: available after any kind of install)
SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"


def shipped_scenarios() -> list[Path]:
    """The scenario files that ship with asyncpc, by name."""
    return sorted(SCENARIO_DIR.glob("*.toml"))


def find(name: str | Path) -> Path:
    """A scenario file: ``name`` itself if it is a path that exists (or names a ``.toml``
    file), else the shipped scenario of that name (``xor`` → the package's ``xor.toml``),
    else ``./scenarios/NAME.toml``."""
    p = Path(name)
    try:
        exists = p.exists()
    except OSError as exc:  # e.g. a name longer than the file system allows
        raise ScenarioError([f"{name}: {exc.strerror}; expected a scenario file or the name of "
                             "a shipped scenario"]) from None
    if exists or p.suffix == ".toml" or len(p.parts) > 1:
        return p
    for d in (SCENARIO_DIR, Path.cwd() / "scenarios"):
        if (d / f"{name}.toml").exists():
            return d / f"{name}.toml"
    names = ", ".join(s.stem for s in shipped_scenarios())
    raise ScenarioError([f"{name}: no such file, and no shipped scenario of that name "
                         f"(shipped: {names})"])


class ScenarioError(Exception):
    """Every problem found in a scenario, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


POPULATION = {
    "n": Key("int", None, "number of neurons (required)", min=1),
    "activation": Key("str", "linear", "f: " + ", ".join(ACTIVATIONS), tuple(ACTIVATIONS)),
    "variance": Key("float", 1.0, "sigma² of the error neurons", **POS),
    "prior": Key("float", None, "initial prior mean / bias b (absent: no bias)"),
    "eta_bias": Key("float", 0.0, "learning rate of the bias (1/time)", **NONNEG),
    "tau_x": Key("float", 1.0, "representation time constant (time)", **POS),
    "tau_eps": Key("float", 0.0, "error time constant (time; 0 = instantaneous)", **NONNEG),
    "dt": Key("float", 0.05, "integration step of each neuron's clock (time)", **POS),
    "jitter": Key("float", 0.0, "relative jitter of each step", min=0.0, max=0.99),
    "theta": Key("float", 0.0, "send-on-delta threshold (0 = every change)", **NONNEG),
    "settle": Key("float", 1e-4,
                  "rate of change (abs dx/dt) below which a neuron sleeps (1/time; 0 = never)",
                  **NONNEG),
    "drift_theta": Key("float", 1e-3, "a learning synapse sitting on this population (or its "
                       "learning bias) re-sends its current when learning has moved it by this "
                       "much (0 = every step dt: exact, costly)", **NONNEG),
    "refresh": Key("float", 1.0, "longest wait between those re-sends (time)", **NONNEG),
    "local_delay": Key("float", 0.0, "delay inside a column, x → eps → x (time)", **NONNEG),
    "x0": Key("float", 0.0, "initial and reset state of free neurons"),
}

EDGE = {
    "source": Key("str", None, "predicting population (required)"),
    "target": Key("str", None, "predicted population (required)"),
    "rule": Key("str", "hebbian", "feedback rule: " + ", ".join(RULES), RULES),
    "eta_w": Key("float", 0.0, "learning rate of W (1/time)", **NONNEG),
    "eta_b": Key("float", None, "learning rate of B (1/time; default eta_w)", **NONNEG),
    "lam": Key("float", 0.0, "weight decay of W (1/time)", **NONNEG),
    "lam_b": Key("float", None, "weight decay of B (1/time; default lam)", **NONNEG),
    "w_init": Key("dist", {"dist": "normal", "std": 0.1}, "initial W distribution"),
    "b_init": Key("dist", "transpose", 'initial B distribution, or "transpose" (B = Wᵀ)'),
    "w_values": Key("matrix", None, "explicit initial W (target × source)"),
    "b_values": Key("matrix", None, "explicit initial B (source × target)"),
    "delay": Key("dist", {"dist": "constant", "value": 0.0}, "delays of W synapses (time)"),
    "feedback_delay": Key("dist", None, "delays of B synapses (time; default: as delay)"),
    "delay_resolution": Key("float", 0.0, "round delays to multiples of this; equal delays "
                            "share one event (time; 0 = exact on the unit engine, the sender's "
                            "dt on the population engine)", **NONNEG),
}

DIST = {
    "dist": Key("str", "constant", "distribution: " + ", ".join(DISTRIBUTIONS), DISTRIBUTIONS),
    "value": Key("float", 0.0, "constant value"),
    "low": Key("float", 0.0, "uniform lower bound"),
    "high": Key("float", 0.0, "uniform upper bound"),
    "mean": Key("float", 0.0, "normal / lognormal mean"),
    "std": Key("float", 0.0, "normal / lognormal standard deviation", **NONNEG),
}

SECTIONS: dict[str, dict[str, Key]] = {
    "run": schema(RunSection),
    "defaults": {k: v for k, v in POPULATION.items() if k != "n"},
    **{name: schema(section) for name, section in SECTION_TYPES.items() if name != "run"},
}
TOP = ("run", "defaults", "populations", "edges", "data", "stimulus", "evaluation", "record",
       "baseline")


@dataclass
class Scenario:
    """A validated, fully resolved scenario."""

    path: Path | None
    data: dict[str, Any]

    @property
    def name(self) -> str:
        return self.data["run"]["name"]

    @property
    def seed(self) -> int:
        return self.data["run"]["seed"]

    @property
    def engine(self) -> str:
        return self.data["run"]["engine"]

    @cached_property
    def sections(self) -> Sections:
        """The typed ``[run]``, ``[data]``, ``[stimulus]``, ``[evaluation]`` and ``[record]``
        sections (:mod:`asyncpc.sections`)."""
        return Sections.from_resolved(self.data)

    def graph(self) -> nx.DiGraph:
        return build_model(self.data)

    def with_overrides(self, overrides: list[str]) -> Scenario:
        """A copy with ``key.path=value`` overrides applied (validated like ``--set``)."""
        raw = _unset_removed(self.data)  # None means "not set" in a resolved scenario
        problems: list[str] = []
        for item in overrides:
            apply_override(raw, item, problems, self.path)
        return from_dict(raw, path=self.path, problems=problems)


# -- reading -----------------------------------------------------------------------------------
def load(path: str | Path, overrides: list[str] | None = None) -> Scenario:
    """Read, override, validate and resolve a scenario file, given by path or by the name of a
    shipped scenario (``load("xor")``); raise :class:`ScenarioError`."""
    path = find(path)
    try:
        # utf-8-sig: a byte-order mark, as some editors write one, is not part of the TOML
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ScenarioError([f"{path}: no such file"]) from None
    except IsADirectoryError:
        raise ScenarioError([f"{path}: is a directory; expected a scenario file (.toml) or "
                             "the name of a shipped scenario"]) from None
    except OSError as exc:
        raise ScenarioError([f"{path}: cannot read it ({exc.strerror}); expected a readable "
                             "scenario file"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{path}: not valid TOML: {exc}"]) from None
    problems: list[str] = []
    for item in overrides or []:
        apply_override(raw, item, problems, path)
    return from_dict(raw, path=path, problems=problems)


def from_dict(raw: dict, *, path: Path | None = None, problems: list[str] | None = None
              ) -> Scenario:
    problems = list(problems or [])
    where = str(path) if path else "<scenario>"
    data = _validate(raw, where, problems)
    if problems:
        raise ScenarioError(problems)
    if not data["run"]["name"]:
        data["run"]["name"] = path.stem if path else "scenario"
    return Scenario(path, data)


def apply_override(raw: dict, item: str, problems: list[str], path: Path) -> None:
    """Apply ``key.path=value`` (value in TOML syntax; bare words are strings).

    A ``*`` component applies the value to every element of a list or table there, e.g.
    ``edges.*.rule=tied`` or ``populations.*.theta=0.01``.
    """
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        problems.append(f"--set {item!r}: expected key.path=value")
        return
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()
    parts = key.strip().split(".")
    pops = raw.get("populations") if isinstance(raw.get("populations"), dict) else {}
    if parts[0] == "populations" and len(parts) > 2 and parts[1] != "*" and parts[1] not in pops:
        # setting a key of a population the file does not have would silently add an
        # unconnected population (a typo in a sweep would vary nothing)
        hint = difflib.get_close_matches(parts[1], list(pops), n=1)
        problems.append(f"--set {key.strip()}: no population named {parts[1]!r}"
                        + (f" (did you mean {hint[0]!r}?)" if hint else "")
                        + f"; populations are: {', '.join(pops) or 'none'}")
        return
    _assign(raw, parts, value, key.strip(), problems)


def _assign(node: Any, parts: list[str], value: Any, key: str, problems: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if head == "*":
        children = range(len(node)) if isinstance(node, list) else list(node) \
            if isinstance(node, dict) else []
        if not children:
            problems.append(f"--set {key}: '*' matches nothing")
        for child in children:
            _assign(node, [str(child), *rest], value, key, problems)
        return
    if isinstance(node, list):
        try:
            index = int(head)
            node[index]
        except (ValueError, IndexError):
            problems.append(f"--set {key}: {head!r} is not an index of a list of {len(node)}")
            return
        if rest:
            _assign(node[index], rest, value, key, problems)
        else:
            node[index] = value
    elif isinstance(node, dict):
        if rest:
            _assign(node.setdefault(head, {}), rest, value, key, problems)
        else:
            node[head] = value
    else:
        problems.append(f"--set {key}: {head!r} is inside a value, not a table")


def _unset_removed(node: Any) -> Any:
    """A deep copy without the ``None`` ("not set") entries of a resolved scenario."""
    if isinstance(node, dict):
        return {k: _unset_removed(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_unset_removed(v) for v in node]
    return node


# -- validation --------------------------------------------------------------------------------
def _unknown(where: str, prefix: str, key: str, allowed, problems: list[str]) -> None:
    hint = difflib.get_close_matches(key, list(allowed), n=1)
    suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
    options = ", ".join(sorted(allowed))
    problems.append(f"{where}: {prefix}{key}: unknown key{suggestion}; expected one of: {options}")


def _check(where: str, keypath: str, value: Any, key: Key, problems: list[str]) -> Any:
    def bad(expected: str) -> None:
        problems.append(f"{where}: {keypath}: expected {expected}, got {value!r}")

    kind = key.kind
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return bad("an integer")
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return bad("a number")
        value = float(value)
        if not math.isfinite(value):
            return bad("a finite number")
    elif kind == "bool":
        if not isinstance(value, bool):
            return bad("true or false")
    elif kind == "str":
        if not isinstance(value, str):
            return bad("a string")
        if key.choices and value not in key.choices:
            hint = difflib.get_close_matches(value, key.choices, n=1)
            return bad(f"one of {', '.join(key.choices)}"
                       + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    elif kind == "list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return bad("a list of population names")
    elif kind == "tasks":
        if not isinstance(value, list) or not all(
                isinstance(t, list) and t and all(isinstance(c, int) and not isinstance(c, bool)
                                                  for c in t) for t in value):
            return bad("a list of tasks, each a non-empty list of class numbers")
        flat = [c for t in value for c in t]
        if len(set(flat)) != len(flat):
            return bad("tasks that share no class")
    elif kind == "table":
        if not isinstance(value, dict):
            return bad("a table")
    elif kind == "matrix":
        ok = (isinstance(value, list) and value and all(isinstance(r, list) and r for r in value)
              and len({len(r) for r in value}) == 1
              and all(isinstance(v, int | float) and not isinstance(v, bool)
                      for r in value for v in r))
        if not ok:
            return bad("a rectangular list of lists of numbers")
        return [[float(v) for v in r] for r in value]
    elif kind == "dist":
        return _check_dist(where, keypath, value, problems)
    below = key.min is not None and isinstance(value, int | float) and (
        value < key.min or (key.strict_min and value == key.min))
    if below:
        return bad(f"a value {'>' if key.strict_min else '≥'} {key.min:g}")
    if key.max is not None and isinstance(value, int | float) and value > key.max:
        return bad(f"a value ≤ {key.max:g}")
    return value


def _check_dist(where: str, keypath: str, value: Any, problems: list[str]):
    if value == "transpose" and keypath.endswith("b_init"):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = {"dist": "constant", "value": float(value)}
    if not isinstance(value, dict):
        problems.append(f"{where}: {keypath}: expected a number or a table "
                        f"{{dist = ..., ...}}, got {value!r}")
        return None
    return _section(where, keypath + ".", value, DIST, problems)


def _section(where: str, prefix: str, table: Any, schema: dict[str, Key],
             problems: list[str]) -> dict:
    if not isinstance(table, dict):
        problems.append(f"{where}: {prefix.rstrip('.')}: expected a table, got {table!r}")
        table = {}
    out = {}
    for key, value in table.items():
        if key not in schema:
            _unknown(where, prefix, key, schema, problems)
        else:
            out[key] = _check(where, prefix + key, value, schema[key], problems)
    for key, spec in schema.items():
        if key not in out:
            if spec.default is None and spec.doc.endswith("(required)"):
                problems.append(f"{where}: {prefix}{key}: missing; expected {spec.doc}")
            default = spec.default
            if spec.kind == "dist" and isinstance(default, dict):
                default = _section(where, f"{prefix}{key}.", default, DIST, problems)
            out[key] = default
    return out


def _validate(raw: dict, where: str, problems: list[str]) -> dict:
    for key in raw:
        if key not in TOP:
            _unknown(where, "", key, TOP, problems)
    data = {name: _section(where, f"{name}.", raw.get(name, {}), schema, problems)
            for name, schema in SECTIONS.items()}
    given = raw.get("defaults", {}) if isinstance(raw.get("defaults"), dict) else {}
    defaults = {k: v for k, v in data["defaults"].items() if k in given and v is not None}
    pops = raw.get("populations", {})
    if not isinstance(pops, dict) or not pops:
        problems.append(f"{where}: populations: expected at least one [populations.NAME] table")
        pops = {}
    data["populations"] = {}
    for name, table in pops.items():
        merged = {**defaults, **(table if isinstance(table, dict) else {})}
        data["populations"][name] = _section(where, f"populations.{name}.", merged, POPULATION,
                                             problems)
    edges = raw.get("edges", [])
    if not isinstance(edges, list):
        problems.append(f"{where}: edges: expected a list of [[edges]] tables")
        edges = []
    data["edges"] = [_section(where, f"edges.{j}.", e, EDGE, problems)
                     for j, e in enumerate(edges)]
    _check_references(where, data, problems)
    return data


#: measured memory per synapse and per neuron of each engine (bytes; docs/performance.md),
#: with a margin
BYTES = {"unit": (2500, 2000), "population": (100, 400)}


def estimated_memory(data: dict) -> tuple[int, float]:
    """Synapses and estimated memory (bytes) of a resolved scenario's network."""
    pops = data["populations"]
    n = {name: p["n"] for name, p in pops.items() if isinstance(p.get("n"), int)}
    synapses = sum(2 * n[e["source"]] * n[e["target"]] for e in data["edges"]
                   if e["source"] in n and e["target"] in n)
    per_synapse, per_neuron = BYTES.get(data["run"]["engine"], BYTES["unit"])
    return synapses, synapses * per_synapse + 2 * sum(n.values()) * per_neuron


def _check_size(where: str, data: dict, problems: list[str]) -> None:
    if not isinstance(data["run"].get("max_memory_gb"), float):
        return
    synapses, memory = estimated_memory(data)
    if memory > data["run"]["max_memory_gb"] * 1e9:
        problems.append(
            f"{where}: populations: the network has {synapses:,} synapses, about "
            f"{memory / 1e9:,.1f} GB on the {data['run']['engine']} engine; expected at most "
            f"run.max_memory_gb = {data['run']['max_memory_gb']:g} GB (raise it to build it "
            "anyway, or use the population engine)")


def _check_references(where: str, data: dict, problems: list[str]) -> None:
    names = set(data["populations"])

    def ref(keypath: str, name: Any) -> None:
        if isinstance(name, str) and name and name not in names:
            hint = difflib.get_close_matches(name, sorted(names), n=1)
            problems.append(f"{where}: {keypath}: no population named {name!r}"
                            + (f" (did you mean {hint[0]!r}?)" if hint else "")
                            + f"; populations are: {', '.join(sorted(names))}")

    for name, p in data["populations"].items():
        if any(c in name for c in ".=,*") or "->" in name or name != name.strip() or not name:
            problems.append(f"{where}: populations.{name}: expected a name without '.', '=', "
                            "',', '*', '->' or surrounding spaces (they separate key paths, "
                            f"overrides and edge names), got {name!r}")
        if not all(isinstance(p.get(k), float) for k in ("dt", "tau_x", "variance", "jitter",
                                                          "refresh")):
            continue  # already reported
        if p["refresh"] < p["dt"]:
            problems.append(f"{where}: populations.{name}.refresh: expected a value ≥ dt = "
                            f"{p['dt']:g} (a neuron reads its inputs at most once a step), got "
                            f"{p['refresh']:g}")
        # explicit Euler on x: the neuron's own spring alone, dx/dt = −(x − mu)/(sigma2 tau_x),
        # is stable for steps < 2 sigma2 tau_x; half that leaves room for the coupling to the
        # other populations (a step of 1.5 tau_x with sigma2 = 1 blows up)
        limit = p["variance"] * p["tau_x"]
        if p["dt"] * (1.0 + p["jitter"]) > limit:
            problems.append(
                f"{where}: populations.{name}.dt: expected dt·(1 + jitter) ≤ variance·tau_x = "
                f"{limit:g} for a stable explicit Euler step, got dt = {p['dt']:g} with jitter "
                f"{p['jitter']:g} (lower dt or raise tau_x)")
    _check_size(where, data, problems)
    seen = set()
    for j, e in enumerate(data["edges"]):
        ref(f"edges.{j}.source", e["source"])
        ref(f"edges.{j}.target", e["target"])
        pair = (e["source"], e["target"])
        if e["source"] == e["target"] and e["source"]:
            problems.append(f"{where}: edges.{j}: a population cannot predict itself "
                            f"({e['source']!r})")
        if pair in seen:
            problems.append(f"{where}: edges.{j}: duplicate edge {pair[0]} -> {pair[1]}")
        seen.add(pair)
        pops = data["populations"]
        if e["source"] in pops and e["target"] in pops:
            shape = (pops[e["target"]]["n"], pops[e["source"]]["n"])
            for key, expected in (("w_values", shape), ("b_values", shape[::-1])):
                m = e[key]
                if m is not None and (len(m), len(m[0])) != expected:
                    problems.append(f"{where}: edges.{j}.{key}: expected a {expected[0]}×"
                                    f"{expected[1]} matrix, got {len(m)}×{len(m[0])}")
        if (data["run"]["engine"] == "population" and e["source"] in pops
                and e["target"] in pops):
            step = min(pops[e["source"]]["dt"], pops[e["target"]]["dt"])
            if e["delay_resolution"] > step:
                problems.append(
                    f"{where}: edges.{j}.delay_resolution: expected a value ≤ {step:g} (the "
                    f"step dt of {e['source']!r} and {e['target']!r}): the population engine "
                    "delivers on a grid no coarser than the sender's step")
        if e["rule"] == "tied" and e["b_values"] is not None:
            problems.append(f"{where}: edges.{j}.b_values: a tied edge has B = Wᵀ by definition")
    for section in ("stimulus", "evaluation"):
        clamp = data[section]["clamp"] or []
        for j, name in enumerate(clamp):
            ref(f"{section}.clamp.{j}", name)
            if name in clamp[:j]:
                problems.append(f"{where}: {section}.clamp.{j}: {name!r} is listed twice; "
                                "expected each population once")
    ref("evaluation.read", data["evaluation"]["read"])
    if data["baseline"]["kind"] != "none":
        src, tgt = data["data"]["input"], data["data"]["label"]
        if not data["evaluation"]["read"] or not data["stimulus"]["clamp"]:
            problems.append(f"{where}: baseline.kind: a baseline learns from the stimulus and "
                            "is scored with the network; expected stimulus.clamp and "
                            "evaluation.read")
        elif not _chain_exists(data["edges"], src, tgt):
            problems.append(f"{where}: baseline.kind: expected a chain of edges from "
                            f"data.input {src!r} to data.label {tgt!r}")
        else:
            extra = _off_chain(data["edges"], src, tgt)
            if extra:
                problems.append(f"{where}: baseline.kind: the backprop baseline has the "
                                f"architecture of one chain {src!r} → … → {tgt!r}; expected no "
                                f"other edges into it, got {', '.join(extra)}")
    read = data["populations"].get(data["evaluation"]["read"])
    if read is not None and data["evaluation"]["readout"] == "argmax" and read.get("n") == 1:
        problems.append(f"{where}: evaluation.readout: argmax over the single neuron of "
                        f"{data['evaluation']['read']!r} is always right; expected threshold or "
                        "values for a one-neuron read-out")
    if data["data"]["kind"] not in ("none", "values"):
        ref("data.input", data["data"]["input"])
    for name, idx in (data["record"]["neurons"] or {}).items():
        ref(f"record.neurons.{name}", name)
        n = data["populations"].get(name, {}).get("n")
        if not isinstance(idx, list) or not all(isinstance(i, int) and not isinstance(i, bool)
                                                for i in idx):
            problems.append(f"{where}: record.neurons.{name}: expected a list of indices")
        elif n is not None and any(not 0 <= i < n for i in idx):
            problems.append(f"{where}: record.neurons.{name}: indices must be in [0, {n})")
    for name, values in (data["record"]["expected"] or {}).items():
        ref(f"record.expected.{name}", name)
        recorded = (data["record"]["neurons"] or {}).get(name)
        if not isinstance(values, list) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            problems.append(f"{where}: record.expected.{name}: expected a list of numbers")
        elif not isinstance(recorded, list) or len(recorded) != len(values):
            problems.append(f"{where}: record.expected.{name}: expected one value per neuron of "
                            f"record.neurons.{name} ({recorded!r}), got {len(values)}")
    if data["data"]["kind"] == "values":
        for name, rows in (data["data"]["values"] or {}).items():
            ref(f"data.values.{name}", name)
            if _check(where, f"data.values.{name}", rows, Key("matrix", None, ""),
                      problems) is None:
                continue
            n = data["populations"].get(name, {}).get("n")
            if n is not None and len(rows[0]) != n:
                problems.append(f"{where}: data.values.{name}: expected samples of {n} values, "
                                f"got {len(rows[0])}")
        if not data["data"]["values"]:
            problems.append(f"{where}: data.values: missing; expected population → samples")
        counts = {name: len(rows) for name, rows in (data["data"]["values"] or {}).items()
                  if isinstance(rows, list)}
        if len(set(counts.values())) > 1:
            problems.append(f"{where}: data.values: expected the same number of samples for "
                            "every population, got " + ", ".join(f"{n} for {name!r}"
                                                                 for name, n in counts.items()))
    tasks = data["data"]["tasks"]
    if tasks:
        if data["data"]["kind"] not in ("digits", "mnist1d"):
            problems.append(f"{where}: data.tasks: tasks split classes; expected data.kind "
                            f"digits or mnist1d, got {data['data']['kind']!r}")
        if any(not 0 <= c <= 9 for t in tasks for c in t):
            problems.append(f"{where}: data.tasks: expected classes 0 to 9, got {tasks!r}")
        width = max(len(t) for t in tasks)
        label = data["populations"].get(data["data"]["label"])
        if label is not None and label["n"] != width:
            problems.append(f"{where}: populations.{data['data']['label']}.n: the tasks' label "
                            f"head has {width} units (the largest task); got n = {label['n']}")
    if data["data"]["kind"] == "file" and not data["data"]["path"]:
        problems.append(f"{where}: data.path: missing; expected a .npz or .csv file")
    if data["stimulus"]["epochs"] and data["data"]["kind"] == "none" and data["stimulus"]["clamp"]:
        problems.append(f"{where}: stimulus.clamp: the stimulus clamps populations but "
                        f"data.kind is 'none'")
    for j, e in enumerate(data["edges"]):
        for key in ("w_init", "b_init", "delay", "feedback_delay"):
            d = e[key]
            if isinstance(d, dict) and None in d.values():
                continue  # an entry of it was reported already
            if isinstance(d, dict) and d.get("dist") == "lognormal" and d.get("mean", 0) <= 0:
                problems.append(f"{where}: edges.{j}.{key}.mean: expected a value > 0 for "
                                "a lognormal distribution")
            if (isinstance(d, dict) and d.get("dist") == "uniform"
                    and d.get("high", 0) < d.get("low", 0)):
                problems.append(f"{where}: edges.{j}.{key}: expected low ≤ high")
            if key.endswith("delay") and isinstance(d, dict):
                clipped = _normal_below_zero(d)
                if clipped > 0.001:
                    problems.append(
                        f"{where}: edges.{j}.{key}: a normal delay distribution with mean "
                        f"{d.get('mean', 0):g} and std {d.get('std', 0):g} draws "
                        f"{100 * clipped:.1f} % negative delays, which would be clipped to 0; "
                        "expected mean ≥ 3·std (or a lognormal or uniform distribution)")
                if d.get("dist") == "constant" and d.get("value", 0) < 0:
                    problems.append(f"{where}: edges.{j}.{key}.value: expected a delay ≥ 0")
                if d.get("dist") == "uniform" and d.get("low", 0) < 0:
                    problems.append(f"{where}: edges.{j}.{key}.low: expected a delay ≥ 0")


def _chain_exists(edges: list[dict], source: str, target: str) -> bool:
    graph = nx.DiGraph([(e["source"], e["target"]) for e in edges])
    return source in graph and target in graph and nx.has_path(graph, source, target)


def _off_chain(edges: list[dict], source: str, target: str) -> list[str]:
    """Edges into the populations of the path ``source → target`` other than the path's own
    (skip edges, a second path, inputs from elsewhere), which a chain baseline would ignore."""
    graph = nx.DiGraph([(e["source"], e["target"]) for e in edges])
    path = max(nx.all_simple_paths(graph, source, target), key=len)
    own = set(zip(path, path[1:], strict=False))
    return [f"{a} -> {b}" for a, b in graph.edges if b in path[1:] and (a, b) not in own]


def _normal_below_zero(d: dict) -> float:
    """The probability that a ``normal`` delay distribution draws a negative delay."""
    mean, std = d.get("mean", 0.0), d.get("std", 0.0)
    if d.get("dist") != "normal" or not isinstance(mean, float) or not isinstance(std, float):
        return 0.0
    if std == 0.0:
        return float(mean < 0.0)
    return 0.5 * math.erfc(mean / (std * math.sqrt(2.0)))


# -- resolved scenario → model ------------------------------------------------------------------
def _dist(d: dict | None) -> Distribution | None:
    if d is None or d == "transpose":
        return None
    return Distribution(d["dist"], d["value"], d["low"], d["high"], d["mean"], d["std"])


def build_model(data: dict) -> nx.DiGraph:
    pops = [PopulationSpec(name, **p) for name, p in data["populations"].items()]
    edges = []
    for e in data["edges"]:
        edges.append(EdgeSpec(
            e["source"], e["target"], w_init=_dist(e["w_init"]), b_init=_dist(e["b_init"]),
            w_values=_tuple(e["w_values"]), b_values=_tuple(e["b_values"]),
            delay=_dist(e["delay"]), feedback_delay=_dist(e["feedback_delay"]),
            delay_resolution=e["delay_resolution"], rule=e["rule"],
            eta_w=e["eta_w"], eta_b=e["eta_w"] if e["eta_b"] is None else e["eta_b"],
            lam_w=e["lam"], lam_b=e["lam_b"]))
    return build_graph(pops, edges)


def _tuple(m):
    return None if m is None else tuple(tuple(r) for r in m)


# -- writing -----------------------------------------------------------------------------------
def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_toml_value(x)}" for k, x in v.items()
                                if x is not None) + " }"
    raise TypeError(f"cannot write {v!r} as TOML")


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else _toml_value(k)


def to_toml(data: dict) -> str:
    """The resolved scenario as TOML (``None`` values, meaning "not set", are omitted)."""
    lines = ["# Fully resolved scenario, written by asyncpc: every default filled in.", ""]
    for section in ("run", "data", "stimulus", "evaluation", "record", "baseline"):
        lines.append(f"[{section}]")
        lines += [f"{_key(k)} = {_toml_value(v)}" for k, v in data[section].items()
                  if v is not None]
        lines.append("")
    for name, p in data["populations"].items():
        lines.append(f"[populations.{_key(name)}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in p.items() if v is not None]
        lines.append("")
    for e in data["edges"]:
        lines.append("[[edges]]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in e.items() if v is not None]
        lines.append("")
    return "\n".join(lines)


# -- documentation -----------------------------------------------------------------------------
def reference_markdown() -> str:
    """The scenario-key reference as Markdown tables (embedded in docs/scenario-files.md
    between the ``<!-- keys -->`` markers; ``tests/package/test_docs.py`` keeps the two
    identical)."""
    def fmt(d: Any) -> str:
        if d is None:
            return "—"
        if isinstance(d, dict):
            return "`{" + ", ".join(f"{k} = {v!r}" for k, v in d.items()) + "}`" if d else "`{}`"
        if isinstance(d, bool):
            return "`true`" if d else "`false`"
        return f'`"{d}"`' if isinstance(d, str) else f"`{d!r}`"

    def table(title: str, schema: dict[str, Key]) -> list[str]:
        rows = [title, "", "| key | default | meaning (unit) |", "|---|---|---|"]
        rows += [f"| `{k}` | {fmt(v.default)} | {v.doc} |" for k, v in schema.items()]
        return [*rows, ""]

    out = table("**`[populations.NAME]`** — also allowed in `[defaults]`, which every "
                "population inherits:", POPULATION)
    out += table("**`[[edges]]`** — one table per edge `source → target`:", EDGE)
    out += table("**Distributions** (`w_init`, `b_init`, `delay`, `feedback_delay`; a bare "
                 "number means `constant`):", DIST)
    for name in ("run", "data", "stimulus", "evaluation", "record", "baseline"):
        out += table(f"**`[{name}]`**", SECTIONS[name])
    return "\n".join(out)
