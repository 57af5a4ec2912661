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

from . import checks
from .model import DISTRIBUTIONS, Distribution, EdgeSpec, PopulationSpec, build_graph
from .sections import NONNEG, SECTION_TYPES, Key, RunSection, Sections, schema

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


#: the keys of a population, declared once on :class:`~asyncpc.model.PopulationSpec`
POPULATION = schema(PopulationSpec)

#: the keys of an edge, declared once on :class:`~asyncpc.model.EdgeSpec`
EDGE = schema(EdgeSpec)

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
    """``value`` checked against its declaration and converted (floats, matrices), or ``None``
    with the problem reported: ``FILE: KEY.PATH: expected …, got …``."""
    if key.kind == "dist":
        return _check_dist(where, keypath, value, problems)
    checked, expected = KINDS[key.kind](value, key)
    if expected is None:
        expected = _out_of_range(checked, key)
        value = checked  # a range is reported on the number as read
    if expected is not None:
        problems.append(f"{where}: {keypath}: expected {expected}, got {value!r}")
        return None
    return checked


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _as_int(v: Any, key: Key) -> tuple[Any, str | None]:
    return (v, None) if _is_number(v) and isinstance(v, int) else (None, "an integer")


def _as_float(v: Any, key: Key) -> tuple[Any, str | None]:
    if not _is_number(v):
        return None, "a number"
    return (float(v), None) if math.isfinite(v) else (None, "a finite number")


def _as_bool(v: Any, key: Key) -> tuple[Any, str | None]:
    return (v, None) if isinstance(v, bool) else (None, "true or false")


def _as_str(v: Any, key: Key) -> tuple[Any, str | None]:
    if not isinstance(v, str):
        return None, "a string"
    if key.choices and v not in key.choices:
        hint = difflib.get_close_matches(v, key.choices, n=1)
        return None, (f"one of {', '.join(key.choices)}"
                      + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    return v, None


def _as_choices(v: Any, key: Key) -> tuple[Any, str | None]:
    """One of the choices or a list of them, as a list (``"none"`` alone: the empty list)."""
    names = [v] if isinstance(v, str) else v
    ok = (isinstance(names, list) and all(isinstance(n, str) and n in key.choices for n in names)
          and len(set(names)) == len(names))
    if not ok:
        return None, f"one of {', '.join(key.choices)}, or a list of them without repeats"
    return [n for n in names if n != "none"], None


def _as_names(v: Any, key: Key) -> tuple[Any, str | None]:
    ok = isinstance(v, list) and all(isinstance(n, str) for n in v)
    return (v, None) if ok else (None, "a list of population names")


def _as_tasks(v: Any, key: Key) -> tuple[Any, str | None]:
    if not isinstance(v, list) or not all(
            isinstance(t, list) and t and all(isinstance(c, int) and not isinstance(c, bool)
                                              for c in t) for t in v):
        return None, "a list of tasks, each a non-empty list of class numbers"
    flat = [c for t in v for c in t]
    return (v, None) if len(set(flat)) == len(flat) else (None, "tasks that share no class")


def _as_table(v: Any, key: Key) -> tuple[Any, str | None]:
    return (v, None) if isinstance(v, dict) else (None, "a table")


def _as_matrix(v: Any, key: Key) -> tuple[Any, str | None]:
    ok = (isinstance(v, list) and v and all(isinstance(r, list) and r for r in v)
          and len({len(r) for r in v}) == 1 and all(_is_number(x) for r in v for x in r))
    if not ok:
        return None, "a rectangular list of lists of numbers"
    return [[float(x) for x in r] for r in v], None


#: how a value of each declared kind is checked and converted
KINDS = {"int": _as_int, "float": _as_float, "bool": _as_bool, "str": _as_str,
         "choices": _as_choices, "list": _as_names, "tasks": _as_tasks, "table": _as_table,
         "matrix": _as_matrix}


def _out_of_range(value: Any, key: Key) -> str | None:
    if not _is_number(value):
        return None
    if key.min is not None and (value < key.min or (key.strict_min and value == key.min)):
        return f"a value {'>' if key.strict_min else '≥'} {key.min:g}"
    if key.max is not None and value > key.max:
        return f"a value ≤ {key.max:g}"
    return None


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
    checks.check(where, data, problems, value=lambda keypath, v, kind: _check(
        where, keypath, v, Key(kind, None, ""), problems))
    return data


# -- resolved scenario → model ------------------------------------------------------------------
def _dist(d: dict | None) -> Distribution | None:
    if d is None or d == "transpose":
        return None
    return Distribution(d["dist"], d["value"], d["low"], d["high"], d["mean"], d["std"])


def build_model(data: dict) -> nx.DiGraph:
    """The model graph of a resolved scenario: file tables become the declared objects."""
    pops = [PopulationSpec(name, **p) for name, p in data["populations"].items()]
    edges = []
    for e in data["edges"]:
        values = {k: v for k, v in e.items()}
        for k in ("w_init", "b_init", "delay", "feedback_delay"):
            values[k] = _dist(values[k])
        for k in ("w_values", "b_values"):
            values[k] = _tuple(values[k])
        edges.append(EdgeSpec(**values))
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
