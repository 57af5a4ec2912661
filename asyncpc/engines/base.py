"""The engine interface: what the runner, stimulus, recorders and evaluation may use.

Both engines (:mod:`~asyncpc.engines.unit`, one SimPy process per neuron and per synapse, and
:mod:`~asyncpc.engines.population`, one SimPy process per population) run the model of SPEC §1
from the same model graph and subclass :class:`Engine`. An engine implements the few methods
that touch its own state (``run``, ``clamp``, ``release``, ``reset``, ``x``, ``eps``, ``bias``,
``weights``, ``emitted``, ``frozen_copy``, ``on_emit`` and the sizes); the observers derived from
them (rates, predictions, energy) are written once, here.

Observers never change the simulation: a run with recorders is bit-identical to one without.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import networkx as nx
import numpy as np
import simpy

from ..activations import activation
from ..model import NONLOCAL_RULES, EdgeSpec, PopulationSpec, rng_for


class Diverged(ArithmeticError):
    """A numerical blow-up: a state became NaN or infinite (raised by the engines at the step
    where it happens), or the energy ran away (raised by the recorder). The message names the
    time, the population and, for a state, the neuron.

    Attributes
    ----------
    t : simulation time of the blow-up.
    population : the population concerned (or None).
    index : the neuron concerned (or None).
    """

    # SimPy re-creates an exception raised in a process from its args: keep everything there
    def __init__(self, message: str, t: float = float("nan"), population: str | None = None,
                 index: int | None = None) -> None:
        super().__init__(message, t, population, index)
        self.t = t
        self.population = population
        self.index = index

    def __str__(self) -> str:
        return str(self.args[0])

    @classmethod
    def state(cls, kind: str, value: float, *, t: float, population: str, index: int
              ) -> Diverged:
        return cls(f"{kind} of neuron {index} of population {population!r} became {value} at "
                   f"t = {t:g}", t=t, population=population, index=index)


@dataclass
class Counters:
    """Event counts of one network (observers read them; the engine only increments)."""

    delivered: int = 0  #: messages delivered to synapses and over local links
    neuron_updates: int = 0  #: integration steps and event-driven updates of neurons
    synapse_updates: int = 0  #: weight integrations performed by synapses
    synapse_wakes: int = 0  #: unit engine: learning synapses woken by their neuron's drift alarm
    drift_rings: int = 0  #: unit engine: drift alarms that rang (one heap event each)


class Engine:
    """A running predictive-coding network (the part common to both engines).

    Attributes
    ----------
    graph : the model graph (:mod:`asyncpc.model`).
    seed : the seed every random stream derives from.
    plastic : ``False`` for a frozen network (no learning at all, e.g. for evaluation).
    env : the SimPy environment the network's processes live in.
    counters : event counts (:class:`Counters`).
    """

    kind = "abstract"
    #: processes the network runs on (:mod:`asyncpc.engines.unit.ranks` splits one over MPI)
    ranks = 1

    def __init__(self, graph: nx.DiGraph, *, seed: int = 0, plastic: bool = True,
                 env: simpy.Environment | None = None) -> None:
        self.graph = graph
        self.seed = seed
        self.plastic = plastic
        self.env = env if env is not None else simpy.Environment()
        self.counters = Counters()

    # -- what the builders of both engines share ---------------------------------------------
    def declared_populations(self) -> Iterator[tuple[str, PopulationSpec, bool]]:
        """``(name, spec, has_errors)`` in graph order (the canonical order). A population has
        error neurons when something predicts it or it has a prior; a frozen network's biases
        do not learn."""
        for name, data in self.graph.nodes(data=True):
            spec: PopulationSpec = data["spec"]
            if not self.plastic:
                spec = dataclasses.replace(spec, eta_bias=0.0)
            yield name, spec, self.graph.in_degree(name) > 0 or spec.prior is not None

    def declared_edges(self) -> Iterator[EdgeSpec]:
        for _, _, data in self.graph.edges(data=True):
            yield data["spec"]

    def start_weights(self, spec: EdgeSpec, override) -> tuple[np.ndarray, np.ndarray]:
        """``(W0, B0)``: the given matrices (a frozen copy's), else the declared ones."""
        if override is not None:
            return tuple(np.asarray(m, dtype=float) for m in override)
        shape = (self.spec(spec.target).n, self.spec(spec.source).n)
        return initial_weights(spec, shape, self.seed)

    def learning_rates(self, spec: EdgeSpec) -> tuple[float, float, float, float]:
        """``(eta_w, lam_w, eta_b, lam_b)``; all zero in a frozen network."""
        if not self.plastic:
            return 0.0, 0.0, 0.0, 0.0
        return spec.eta_w, spec.lam, spec.feedback_eta, spec.feedback_lam

    # -- what each engine implements --------------------------------------------------------
    def run(self, until: float) -> None:
        """Advance to ``until`` (events at exactly ``until`` are not processed).

        Raises :class:`Diverged` as soon as a state becomes NaN or infinite."""
        raise NotImplementedError

    def clamp(self, name: str, values) -> None:
        """Clamp population ``name`` to ``values`` (broadcast); ``nan`` entries are released."""
        raise NotImplementedError

    def release(self, name: str) -> None:
        """Free every neuron of ``name``."""
        raise NotImplementedError

    def reset(self) -> None:
        """Return every free representation neuron to its initial state ``x0``."""
        raise NotImplementedError

    def x(self, name: str) -> np.ndarray:
        """States of the representation neurons of ``name``."""
        raise NotImplementedError

    def eps(self, name: str) -> np.ndarray:
        """States of the error neurons of ``name`` (empty if it has none)."""
        raise NotImplementedError

    def bias(self, name: str) -> np.ndarray:
        """The biases (prior means) of ``name`` now (zeros if it has no error neurons)."""
        raise NotImplementedError

    def weights(self, edge: str) -> tuple[np.ndarray, np.ndarray]:
        """``(W, B)`` of ``edge`` now (W: target × source, B: source × target)."""
        raise NotImplementedError

    def emitted(self, name: str) -> int:
        """Messages emitted so far by the neurons of population ``name``."""
        raise NotImplementedError

    def has_errors(self, name: str) -> bool:
        raise NotImplementedError

    def clock_phases(self, name: str) -> np.ndarray:
        """The phase in ``[0, dt)`` of each clock of population ``name`` (representation
        neurons, then clocked error neurons; one for the whole population on the population
        engine), drawn from the random stream named by the neuron or population."""
        raise NotImplementedError

    def frozen_copy(self, env: simpy.Environment | None = None) -> Engine:
        """A copy with the current weights and biases and no plasticity, in its own SimPy
        environment (same seed, hence the same delays and clocks); it starts at ``x0``."""
        raise NotImplementedError

    def on_emit(self, log: Callable[[float, int, int], None] | None) -> None:
        """Call ``log(t, population code, neuron index)`` on every emission (the raster);
        ``None`` stops the calls."""
        raise NotImplementedError

    def min_delay(self) -> float:
        """The shortest transmission delay of any synapse (0 for a network without edges)."""
        delays = [d.min() for e in self.edge_names for d in self.delays(e) if d.size]
        return float(min(delays)) if delays else 0.0

    def delays(self, edge: str) -> tuple[np.ndarray, np.ndarray]:
        """Transmission delays of the ``W`` and ``B`` synapses of ``edge`` as the engine uses
        them (after any rounding)."""
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.env.now

    @property
    def population_names(self) -> list[str]:
        return list(self.graph.nodes)

    @property
    def edge_names(self) -> list[str]:
        return [data["spec"].name for _, _, data in self.graph.edges(data=True)]

    def spec(self, name: str) -> PopulationSpec:
        return self.graph.nodes[name]["spec"]

    def edge_spec(self, edge: str) -> EdgeSpec:
        source, _, target = edge.partition("->")
        return self.graph.edges[source, target]["spec"]

    def nonlocal_feedback(self, edge: str) -> bool:
        """Does ``edge`` use non-local weight transport (rule ``tied``)?"""
        return self.edge_spec(edge).rule in NONLOCAL_RULES

    @property
    def n_neurons(self) -> int:
        return sum(self.spec(n).n * (2 if self.has_errors(n) else 1)
                   for n in self.population_names)

    @property
    def n_processes(self) -> int:
        """SimPy processes of the network (one per population; the unit engine overrides)."""
        return len(self.population_names)

    @property
    def n_synapses(self) -> int:
        return sum(2 * self.spec(s).n * self.spec(t).n for s, t in self.graph.edges)

    def rates(self, name: str) -> np.ndarray:
        return activation(self.spec(name).activation).f_array(self.x(name))

    def mu(self, name: str) -> np.ndarray:
        """Prediction ``b + Σ W r`` from the current weights and the current (undelayed)
        rates: the textbook prediction of the current state, not what an error neuron sees."""
        mu = self.bias(name)
        for s, _ in self.graph.in_edges(name):
            mu = mu + self.weights(f"{s}->{name}")[0] @ self.rates(s)
        return mu

    def energy(self) -> tuple[float, dict[str, float]]:
        """``F = Σ_t Σ_k (x_k − mu_k)² / (2 sigma2_t)``, total and per population."""
        per = {}
        for name in self.population_names:
            if self.has_errors(name):
                d = self.x(name) - self.mu(name)
                per[name] = float(d @ d / (2.0 * self.spec(name).variance))
        return float(sum(per.values())), per

    def neuron_graph(self) -> nx.DiGraph:
        """The neuron-level network: one node per neuron, one edge per synapse or local link."""
        g = nx.DiGraph()
        for name in self.population_names:
            spec = self.spec(name)
            for k in range(spec.n):
                g.add_node(f"{name}.x{k}", population=name, kind="representation", index=k)
                if self.has_errors(name):
                    g.add_node(f"{name}.e{k}", population=name, kind="error", index=k)
                    delay = spec.local_delay
                    g.add_edge(f"{name}.x{k}", f"{name}.e{k}", kind="local", delay=delay)
                    g.add_edge(f"{name}.e{k}", f"{name}.x{k}", kind="local", delay=delay)
        for edge in self.edge_names:
            spec = self.edge_spec(edge)
            s, tg = spec.source, spec.target
            W, B = self.weights(edge)
            d_w, d_b = self.delays(edge)
            for (k, i), w in np.ndenumerate(W):
                g.add_edge(f"{s}.x{i}", f"{tg}.e{k}", kind="prediction", weight=float(w),
                           delay=float(d_w[k, i]), rule="hebbian")
            for (i, k), b in np.ndenumerate(B):
                g.add_edge(f"{tg}.e{k}", f"{s}.x{i}", kind="error", weight=float(b),
                           delay=float(d_b[i, k]), rule=spec.rule)
        return g


def clock_step(dt: float, jitter: float, rng: np.random.Generator) -> float:
    """The next step of a clock (a neuron's or a population's): ``dt · (1 + jitter · u)``,
    ``u ~ U(−1, 1)`` drawn from ``rng`` (no draw without jitter)."""
    if jitter == 0.0:
        return dt
    return dt * (1.0 + jitter * (2.0 * rng.random() - 1.0))


def drift_wait(rate: float, theta: float, h_min: float, h_max: float) -> float:
    """How long an input drifting at ``rate`` (per time unit) may go unsent: until it has
    moved by ``theta``, but no sooner than ``h_min`` (the step of the neuron reading it) and no
    later than ``h_max`` (``refresh``). The one wake-up rule of learning synapses, learning
    biases and sleeping populations (docs/engines.md, "Synapses learn between arrivals")."""
    if rate * h_max <= theta:
        return h_max
    return max(theta / rate, h_min)


def initial_matrix(values, dist, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Explicit initial values if given, else a draw from ``dist``."""
    if values is not None:
        m = np.asarray(values, dtype=float)
        if m.shape != shape:
            raise ValueError(f"initial weights have shape {m.shape}, expected {shape}")
        return m
    return dist.sample(rng, shape)


def initial_weights(spec: EdgeSpec, shape: tuple[int, int], seed: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``(W0, B0)`` of an edge (``shape`` = target × source), from its own named streams."""
    w0 = initial_matrix(spec.w_values, spec.w_init, rng_for(seed, "W", spec.name), shape)
    if spec.b_values is None and spec.b_init is None:
        return w0, w0.T.copy()
    return w0, initial_matrix(spec.b_values, spec.b_init, rng_for(seed, "B", spec.name),
                              shape[::-1])


def sampled_delays(spec: EdgeSpec, shape: tuple[int, int], seed: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Delays of the ``W`` (target × source) and ``B`` (source × target) synapses of an edge,
    from their own named streams, rounded to ``spec.delay_resolution`` when it is > 0."""
    d_w = spec.delay.sample_delays(rng_for(seed, "delay W", spec.name), shape)
    d_b = (spec.feedback_delay or spec.delay).sample_delays(rng_for(seed, "delay B", spec.name),
                                                            shape[::-1])
    if spec.delay_resolution > 0.0:
        d_w, d_b = (np.round(d / spec.delay_resolution) * spec.delay_resolution
                    for d in (d_w, d_b))
    return d_w, d_b
