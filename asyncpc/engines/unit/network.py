"""The unit engine's builder: a model graph becomes one SimPy process per neuron and per synapse.

Canonical creation order (it fixes the order of same-time events, see SPEC §2): populations in
graph order, for each its representation neurons then its error neurons (by index); then edges
in graph order, for each its prediction synapses (row-major ``k, i``) then its error synapses
(``i, k``). Every random draw comes from a stream named by what it is for
(:func:`~asyncpc.model.rng_for`), never from creation order.

Observers (recorders, evaluation, the CLI) read states through :class:`Network`'s methods,
which never change the simulation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import networkx as nx
import numpy as np
import simpy

from ...model import EdgeSpec, PopulationSpec, rng_for
from .. import events
from ..base import Counters, Engine, sampled_delays
from .messages import Link
from .neurons import ErrorNeuron, PopulationCounter, RepresentationNeuron
from .synapses import ErrorSynapse, PredictionSynapse, TiedErrorSynapse


class Population:
    """The columns of one population: representation neurons and (if predicted) error neurons."""

    def __init__(self, env: simpy.Environment, spec: PopulationSpec, *, has_errors: bool,
                 seed: int, counters: Counters, bias: np.ndarray | None = None,
                 first: int = 0, count: int = 1) -> None:
        self.spec = spec
        self.name = spec.name
        self.counter = PopulationCounter()
        common = {"counters": counters, "pop_counter": self.counter, "count": count}
        n = spec.n
        self.neurons = [
            RepresentationNeuron(env, spec, k, rng=rng_for(seed, "x", spec.name, k),
                                 index=first + k, **common)
            for k in range(n)
        ]
        self.errors: list[ErrorNeuron] = []
        if has_errors:
            self.errors = [
                ErrorNeuron(env, spec, k, rng=rng_for(seed, "eps", spec.name, k),
                            index=first + n + k, **common)
                for k in range(n)
            ]
            if bias is not None:
                for err, b in zip(self.errors, bias, strict=True):
                    err.b = float(b)
            for rep, err in zip(self.neurons, self.errors, strict=True):
                rep.link = Link(env, spec.local_delay, err.receive_x, counters)
                err.link = Link(env, spec.local_delay, rep.receive_error, counters)
                rep.error = err

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)

    def x(self) -> np.ndarray:
        return np.array([n.x for n in self.neurons])

    def eps(self) -> np.ndarray:
        return np.array([e.eps for e in self.errors])

    def bias(self, t: float) -> np.ndarray:
        return np.array([e.bias_at(t) for e in self.errors])


class Edge:
    """The prediction synapses ``W`` (target × source) and error synapses ``B`` of one edge.

    On one process of a split network (:mod:`~asyncpc.engines.unit.ranks`) only the rows whose
    postsynaptic neuron lives here exist: ``W`` holds the rows ``w_rows`` (target indices) and
    ``B`` the rows ``b_rows`` (source indices); the matrices observers read are these rows.
    """

    def __init__(self, spec: EdgeSpec, W: list[list[PredictionSynapse]],
                 B: list[list[ErrorSynapse]], w_rows: list[int], b_rows: list[int],
                 shape: tuple[int, int]) -> None:
        self.spec = spec
        self.shape = shape  # of W: target × source
        self.name = spec.name
        self.W = W
        self.B = B
        self.w_rows = w_rows
        self.b_rows = b_rows

    def w(self, t: float) -> np.ndarray:
        return _matrix([[s.weight_at(t) for s in row] for row in self.W], self.shape[1])

    def b(self, t: float) -> np.ndarray:
        return _matrix([[s.weight_at(t) for s in row] for row in self.B], self.shape[0])

    def delays(self) -> tuple[np.ndarray, np.ndarray]:
        return (_matrix([[s.delay for s in row] for row in self.W], self.shape[1]),
                _matrix([[s.delay for s in row] for row in self.B], self.shape[0]))


def _matrix(rows: list[list[float]], columns: int) -> np.ndarray:
    """The rows as a matrix, also when there are none (0 × ``columns``)."""
    return np.array(rows) if rows else np.zeros((0, columns))


class Network(Engine):
    """The unit engine: every neuron and every synapse its own SimPy process.

    Parameters
    ----------
    graph : model graph (see :mod:`asyncpc.model`).
    seed : the seed every random stream derives from.
    plastic : ``False`` builds a frozen network (no learning at all), e.g. for evaluation.
    weights : ``{edge name: (W, B)}`` initial matrices overriding the specs.
    biases : ``{population name: b}`` initial biases overriding the specs.
    env : the SimPy environment (a new one by default).
    part : this process's share of a network split over processes
        (:class:`~asyncpc.engines.unit.ranks.Part`); ``None``: the whole network.

    Notes
    -----
    A share holds the columns (a representation neuron and its error neuron) its process owns
    and every synapse whose postsynaptic neuron is one of them. The other neurons exist as
    stand-ins that never run: their axons receive the messages their originals send from
    other processes (:meth:`~asyncpc.engines.unit.messages.Axon.receive`). Observers of a share
    (``x``, ``weights``, …) return the owned entries (rows) only.
    """

    kind = "unit"

    def __init__(self, graph: nx.DiGraph, *, seed: int = 0, plastic: bool = True,
                 weights: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
                 biases: Mapping[str, np.ndarray] | None = None,
                 env: simpy.Environment | None = None, part=None) -> None:
        super().__init__(graph, seed=seed, plastic=plastic, env=env)
        self.part = part
        biases = biases or {}
        declared = list(self.declared_populations())
        count = sum(spec.n * (2 if has_errors else 1) for _, spec, has_errors in declared)
        self.populations: dict[str, Population] = {}
        first = 0
        for name, spec, has_errors in declared:
            self.populations[name] = Population(
                self.env, spec, has_errors=has_errors, seed=seed, counters=self.counters,
                bias=biases.get(name), first=first, count=count)
            first += spec.n * (2 if has_errors else 1)
        self.edges: dict[str, Edge] = {
            spec.name: self._build_edge(spec, (weights or {}).get(spec.name))
            for spec in self.declared_edges()}
        self._start()

    def owned(self, name: str) -> np.ndarray:
        """Indices of the columns of ``name`` this network runs (all, unless it is a share)."""
        if self.part is None:
            return np.arange(self.spec(name).n)
        return self.part.owned(name)

    # -- building ----------------------------------------------------------------------------
    def _build_edge(self, spec: EdgeSpec, override) -> Edge:
        src, tgt = self.populations[spec.source], self.populations[spec.target]
        w0, b0 = self.start_weights(spec, override)
        d_w, d_b = sampled_delays(spec, w0.shape, self.seed)
        eta_w, lam_w, eta_b, lam_b = self.learning_rates(spec)
        env, counters = self.env, self.counters
        w_rows = [int(k) for k in self.owned(spec.target)]
        b_rows = [int(i) for i in self.owned(spec.source)]
        W, twins = [], {}
        for k in w_rows:
            err, row = tgt.errors[k], []
            for i, rep in enumerate(src.neurons):
                syn = PredictionSynapse(
                    env, w=float(w0[k, i]), pre=rep.r, eta=eta_w, lam=lam_w,
                    site=err.site("eps", lam_w), channel=rep.axon.channel(float(d_w[k, i])),
                    counters=counters)
                row.append(syn)
                twins[k, i] = syn
            W.append(row)
        post_signal = "x" if spec.rule == "hebbian_raw" else "r"
        B = []
        for i in b_rows:
            rep, row = src.neurons[i], []
            for k, err in enumerate(tgt.errors):
                common = {"pre": 0.0, "site": rep.site(post_signal, lam_b),
                          "channel": err.axon.channel(float(d_b[i, k])), "counters": counters}
                if spec.rule == "tied":  # a split network keeps tied twins together (ranks.py)
                    syn = TiedErrorSynapse(env, twin=twins[k, i], **common)
                else:
                    syn = ErrorSynapse(env, w=float(b0[i, k]), eta=eta_b, lam=lam_b, **common)
                row.append(syn)
            B.append(row)
        return Edge(spec, W, B, w_rows, b_rows, w0.shape)

    def _start(self) -> None:
        """Make the initial state consistent (no messages needed at t = 0), then start."""
        for edge in self.edges.values():
            for row in edge.W:
                for syn in row:
                    syn.start()
        local = [(name, int(k)) for name, pop in self.populations.items() if pop.has_errors
                 for k in self.owned(name)]
        for name, k in local:
            self.populations[name].errors[k].prime()
        if self.part is not None:  # the stand-ins start at their originals' initial error
            shared = self.part.share({(name, k): self.populations[name].errors[k].eps
                                      for name, k in local})
            for (name, k), eps in shared.items():
                self.populations[name].errors[k].eps = eps
            self.part.wire(self)
        for edge in self.edges.values():
            tgt = self.populations[edge.spec.target]
            for row in edge.B:
                for k, syn in enumerate(row):
                    syn.pre = tgt.errors[k].eps
                    syn.c = syn.w * syn.pre
                    syn.start()
        for name, pop in self.populations.items():
            for k in self.owned(name):
                rep = pop.neurons[k]
                neurons = [rep]
                if pop.has_errors:
                    rep.eps_own = pop.errors[k].eps
                    neurons.append(pop.errors[k])
                for neuron in neurons:
                    for (signal, _), trace in neuron.traces.items():
                        trace.v = neuron.signal(signal)
            # representation neurons, then error neurons: the canonical order
            for neuron in [*pop.neurons, *pop.errors]:
                if self.part is None or self.part.mine(name, neuron.k):
                    neuron.start()
        events.initialise(self.env)

    # -- running and the world outside -------------------------------------------------------
    def run(self, until: float) -> None:
        """Advance the simulation to ``until`` (events at exactly ``until`` are not processed)."""
        events.advance(self.env, until)

    def clamp(self, name: str, values) -> None:
        pop = self.populations[name]
        values = np.broadcast_to(np.asarray(values, dtype=float), (pop.spec.n,))
        for k in self.owned(name):
            neuron, v = pop.neurons[k], values[k]
            if np.isnan(v):
                if neuron.clamped:
                    neuron.release()
            else:
                neuron.clamp(float(v))

    def release(self, name: str) -> None:
        pop = self.populations[name]
        for k in self.owned(name):
            pop.neurons[k].release()

    def reset(self) -> None:
        for name, pop in self.populations.items():
            for k in self.owned(name):
                pop.neurons[k].reset()

    # -- observers ---------------------------------------------------------------------------
    def x(self, name: str) -> np.ndarray:
        return self.populations[name].x()[self.owned(name)]

    def eps(self, name: str) -> np.ndarray:
        pop = self.populations[name]
        return pop.eps()[self.owned(name)] if pop.has_errors else np.zeros(0)

    def bias(self, name: str) -> np.ndarray:
        pop = self.populations[name]
        b = pop.bias(self.env.now) if pop.has_errors else np.zeros(pop.spec.n)
        return b[self.owned(name)]

    def has_errors(self, name: str) -> bool:
        return self.populations[name].has_errors

    def emitted(self, name: str) -> int:
        return self.populations[name].counter.emitted

    def clock_phases(self, name: str) -> np.ndarray:
        pop = self.populations[name]
        return np.array([n.phase for n in pop.neurons + pop.errors if not n.event_driven])

    def weights(self, edge: str) -> tuple[np.ndarray, np.ndarray]:
        e = self.edges[edge]
        return e.w(self.env.now), e.b(self.env.now)

    def delays(self, edge: str) -> tuple[np.ndarray, np.ndarray]:
        return self.edges[edge].delays()

    def frozen_copy(self, env: simpy.Environment | None = None) -> Network:
        t = self.env.now
        return Network(self.graph, seed=self.seed, plastic=False, env=env,
                       weights={n: (e.w(t), e.b(t)) for n, e in self.edges.items()},
                       biases={n: p.bias(t) for n, p in self.populations.items()
                               if p.has_errors})

    def on_emit(self, log: Callable[[float, int, int], None] | None) -> None:
        env = self.env
        for code, pop in enumerate(self.populations.values()):
            for neuron in [*pop.neurons, *pop.errors]:
                neuron.axon.log = None if log is None else _logger(env, log, code, neuron.k)

    @property
    def n_processes(self) -> int:
        return self.n_neurons + self.n_synapses


def _logger(env: simpy.Environment, log: Callable[[float, int, int], None], code: int, k: int
            ) -> Callable[[], None]:
    def emitted() -> None:
        log(env.now, code, k)
    return emitted
