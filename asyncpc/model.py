"""Declarations: what a network is made of, before anything runs (declare → build → simulate).

A model is a networkx ``DiGraph`` whose nodes carry a :class:`PopulationSpec` under the
attribute ``"spec"`` and whose edges ``s → t`` ("s predicts t") carry an :class:`EdgeSpec`.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from .activations import ACTIVATIONS
from .sections import NONNEG, POS, Key, key

DISTRIBUTIONS = ("constant", "uniform", "normal", "lognormal")
#: feedback rules of the error synapses (SPEC §1); "tied" is non-local weight transport
RULES = ("hebbian", "hebbian_raw", "fixed", "tied")
NONLOCAL_RULES = frozenset({"tied"})


@dataclass(frozen=True)
class Distribution:
    """A scalar distribution: ``constant(value)``, ``uniform(low, high)``,
    ``normal(mean, std)`` (delays: clipped at 0) or ``lognormal(mean, std)`` (of the value
    itself, not of its logarithm)."""

    kind: str = "constant"
    value: float = 0.0
    low: float = 0.0
    high: float = 0.0
    mean: float = 0.0
    std: float = 0.0

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        if self.kind == "constant":
            return np.full(shape, float(self.value))
        if self.kind == "uniform":
            return rng.uniform(self.low, self.high, size=shape)
        if self.kind == "normal":
            return rng.normal(self.mean, self.std, size=shape)
        if self.kind == "lognormal":
            if self.mean <= 0.0:
                raise ValueError("lognormal needs mean > 0")
            s2 = math.log1p((self.std / self.mean) ** 2)
            return rng.lognormal(math.log(self.mean) - s2 / 2.0, math.sqrt(s2), size=shape)
        raise ValueError(f"unknown distribution {self.kind!r}; expected one of {DISTRIBUTIONS}")

    def sample_delays(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return np.maximum(self.sample(rng, shape), 0.0)


@dataclass(frozen=True)
class PopulationSpec:
    """A population of ``n`` columns (a representation neuron and, if predicted, an error neuron).

    Each field is declared once, here, with its :class:`~asyncpc.sections.Key` (type, default,
    range, meaning with its unit): scenario files are checked against these declarations
    (``[populations.NAME]`` and ``[defaults]``), and the key reference of
    docs/scenario-files.md is generated from them. Symbols as in SPEC §1: ``sigma2`` is
    ``variance``; ``prior`` is the initial bias ``b`` (``None``: no bias and, without
    predictors, no error neurons).
    """

    name: str
    n: int = field(metadata={"key": Key("int", None, "number of neurons (required)", min=1)})
    activation: str = key("str", "linear", "f: " + ", ".join(ACTIVATIONS), tuple(ACTIVATIONS))
    variance: float = key("float", 1.0, "sigma² of the error neurons", **POS)
    prior: float | None = key("float", None, "initial prior mean / bias b (absent: no bias)")
    eta_bias: float = key("float", 0.0, "learning rate of the bias (1/time)", **NONNEG)
    tau_x: float = key("float", 1.0, "representation time constant (time)", **POS)
    tau_eps: float = key("float", 0.0, "error time constant (time; 0 = instantaneous)", **NONNEG)
    dt: float = key("float", 0.05, "integration step of each neuron's clock (time)", **POS)
    jitter: float = key("float", 0.0, "relative jitter of each step", min=0.0, max=0.99)
    theta: float = key("float", 0.0, "send-on-delta threshold (0 = every change)", **NONNEG)
    settle: float = key("float", 1e-4, "rate of change (abs dx/dt) below which a neuron sleeps "
                        "(1/time; 0 = never)", **NONNEG)
    drift_theta: float = key("float", 1e-3, "a learning synapse sitting on this population (or "
                             "its learning bias) re-sends its current when learning has moved it "
                             "by this much (0 = every step dt: exact, costly)", **NONNEG)
    refresh: float = key("float", 1.0, "longest wait between those re-sends (time)", **NONNEG)
    local_delay: float = key("float", 0.0, "delay inside a column, x → eps → x (time)",
                             **NONNEG)
    x0: float = key("float", 0.0, "initial and reset state of free neurons")
    jump: float = key("float", 0.0, "onset mechanism: a free neuron whose own prediction mu has "
                      "moved by more than this from its reference jumps to it, x <- mu "
                      "(0 = off)", **NONNEG)
    jump_tau: float = key("float", 1.0, "time constant of that reference, a trace of mu (time)",
                          **POS)
    gate: float = key("float", 0.0, "onset mechanism: the learning synapses sitting on a column "
                      "learn at their rate times s²/(s² + v²), s = gate, v = tau_x |dx/dt| of "
                      "its representation neuron (0 = off)", **NONNEG)

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {self.activation!r}")
        if self.n < 1 or self.variance <= 0 or self.tau_x <= 0 or self.dt <= 0:
            raise ValueError(f"population {self.name!r}: n, variance, tau_x and dt must be > 0")


def _table(d: dict) -> Distribution:
    """A distribution from its scenario-file table (defaults for the keys it leaves out)."""
    return Distribution(d.get("dist", "constant"), d.get("value", 0.0), d.get("low", 0.0),
                        d.get("high", 0.0), d.get("mean", 0.0), d.get("std", 0.0))


def _dist_key(default: dict | str | None, doc: str) -> Any:
    """A distribution field: its key declares the file's table (``default``), the field holds
    the :class:`Distribution` (``None`` for a table that is not given, or ``"transpose"``)."""
    spec = Key("dist", default, doc)
    if isinstance(default, dict):
        return field(default_factory=lambda: _table(default), metadata={"key": spec})
    return field(default=None, metadata={"key": spec})


def _matrix_key(doc: str) -> Any:
    return field(default=None, metadata={"key": Key("matrix", None, doc)})


@dataclass(frozen=True)
class EdgeSpec:
    """The synapses of one edge ``source → target`` (``source`` predicts ``target``).

    Each field is declared once, here, with its :class:`~asyncpc.sections.Key` (type, default,
    range, meaning with its unit), as a scenario file's ``[[edges]]`` table names it; the
    file's distribution tables become :class:`Distribution` objects and its matrices tuples
    (:func:`asyncpc.scenario.build_model`). ``eta_b`` and ``lam_b`` left at ``None`` take the
    values of ``eta_w`` and ``lam`` (Kolen–Pollack: the pair learns alike).
    """

    source: str = field(metadata={"key": Key("str", None, "predicting population (required)")})
    target: str = field(metadata={"key": Key("str", None, "predicted population (required)")})
    rule: str = key("str", "hebbian", "feedback rule: " + ", ".join(RULES), RULES)
    eta_w: float = key("float", 0.0, "learning rate of W (1/time)", **NONNEG)
    eta_b: float | None = key("float", None, "learning rate of B (1/time; default eta_w)",
                              **NONNEG)
    lam: float = key("float", 0.0, "weight decay of W (1/time)", **NONNEG)
    lam_b: float | None = key("float", None, "weight decay of B (1/time; default lam)",
                              **NONNEG)
    w_init: Distribution = _dist_key({"dist": "normal", "std": 0.1}, "initial W distribution")
    b_init: Distribution | None = _dist_key("transpose",
                                            'initial B distribution, or "transpose" (B = Wᵀ)')
    w_values: tuple[tuple[float, ...], ...] | None = _matrix_key(
        "explicit initial W (target × source)")
    b_values: tuple[tuple[float, ...], ...] | None = _matrix_key(
        "explicit initial B (source × target)")
    delay: Distribution = _dist_key({"dist": "constant", "value": 0.0},
                                    "delays of W synapses (time)")
    feedback_delay: Distribution | None = _dist_key(None, "delays of B synapses (time; "
                                                    "default: as delay)")
    delay_resolution: float = key("float", 0.0, "round delays to multiples of this; equal "
                                  "delays share one event (time; 0 = exact on the unit engine, "
                                  "the sender's dt on the population engine)", **NONNEG)

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown feedback rule {self.rule!r}; expected one of {RULES}")

    @property
    def name(self) -> str:
        return f"{self.source}->{self.target}"

    @property
    def feedback_eta(self) -> float:
        if self.rule in ("fixed", "tied"):
            return 0.0
        return self.eta_w if self.eta_b is None else self.eta_b

    @property
    def feedback_lam(self) -> float:
        if self.rule in ("fixed", "tied"):
            return 0.0
        return self.lam if self.lam_b is None else self.lam_b


def build_graph(populations: list[PopulationSpec], edges: list[EdgeSpec]) -> nx.DiGraph:
    """Assemble a model graph; node and edge order is the order given (the canonical order)."""
    graph = nx.DiGraph()
    for pop in populations:
        graph.add_node(pop.name, spec=pop)
    for edge in edges:
        for end in (edge.source, edge.target):
            if end not in graph:
                raise ValueError(f"edge {edge.name} names unknown population {end!r}")
        graph.add_edge(edge.source, edge.target, spec=edge)
    return graph


def rng_for(seed: int, *key: object) -> np.random.Generator:
    """An independent random stream named by ``key``: stable across runs and creation order."""
    words = [zlib.crc32(str(part).encode()) for part in key]
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, *words])
