"""The population engine: the model of SPEC §1 with one SimPy process per population.

The same file-per-concept layout as the unit engine: the synapse matrices and their delivery
on the delay grid are in :mod:`~asyncpc.engines.population.synapses`, the populations (their
clocks, integration scheme, sleep and send-on-delta) in
:mod:`~asyncpc.engines.population.neurons`; this module builds a network of them from the
model graph and implements the engine interface.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import networkx as nx
import numpy as np
import simpy

from ...model import EdgeSpec
from .. import events
from ..base import Engine, sampled_delays
from .neurons import WORLD, PopulationState
from .synapses import Projection, grid_delays


class PopulationNetwork(Engine):
    """The population engine: one SimPy process per population (same parameters as
    :class:`~asyncpc.engines.unit.Network`)."""

    kind = "population"

    def __init__(self, graph: nx.DiGraph, *, seed: int = 0, plastic: bool = True,
                 weights: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
                 biases: Mapping[str, np.ndarray] | None = None,
                 env: simpy.Environment | None = None) -> None:
        super().__init__(graph, seed=seed, plastic=plastic, env=env)
        biases = biases or {}
        self.populations: dict[str, PopulationState] = {
            name: PopulationState(self, spec, has_errors=has_errors, code=code,
                                  bias=biases.get(name))
            for code, (name, spec, has_errors) in enumerate(self.declared_populations())}
        self.edges: dict[str, tuple[Projection, Projection]] = {
            spec.name: self._build_edge(spec, (weights or {}).get(spec.name))
            for spec in self.declared_edges()}
        self._start()

    def _grid(self, spec: EdgeSpec, sender: str) -> float:
        step = self.spec(sender).dt
        if spec.delay_resolution > step:
            raise ValueError(f"edge {spec.name}: delay_resolution {spec.delay_resolution:g} is "
                             f"coarser than the step dt = {step:g} of population {sender!r}")
        return spec.delay_resolution or step

    def edge_delays(self, spec: EdgeSpec) -> tuple[np.ndarray, np.ndarray]:
        shape = (self.spec(spec.target).n, self.spec(spec.source).n)
        d_w, d_b = sampled_delays(spec, shape, self.seed)
        return (grid_delays(d_w, self._grid(spec, spec.source)),
                grid_delays(d_b, self._grid(spec, spec.target)))

    def _build_edge(self, spec: EdgeSpec, override) -> tuple[Projection, Projection]:
        src, tgt = self.populations[spec.source], self.populations[spec.target]
        w0, b0 = self.start_weights(spec, override)
        d_w, d_b = self.edge_delays(spec)
        eta_w, lam_w, eta_b, lam_b = self.learning_rates(spec)
        t0 = self.env.now
        W = Projection(w0, src.r, d_w, eta=eta_w, lam=lam_w, post="eps", t=t0,
                       counters=self.counters)
        post = "x" if spec.rule == "hebbian_raw" else "r"
        B = Projection(b0 if spec.rule != "tied" else w0.T, np.zeros(tgt.spec.n), d_b,
                       eta=eta_b, lam=lam_b, post=post, t=t0, counters=self.counters)
        if spec.rule == "tied":
            B.twin = W
            B.plastic = False
        W.owner, B.owner = tgt, src
        tgt.incoming.append(W)
        src.feedback.append(B)
        src.out_r.append(W)
        tgt.out_eps.append(B)
        return W, B

    def _start(self) -> None:
        """Make the initial state consistent (no messages needed at t = 0), then start."""
        t = self.env.now
        for pop in self.populations.values():
            if pop.has_errors:
                mu = pop.b + sum((p.current(t) for p in pop.incoming), np.zeros(pop.spec.n))
                pop.eps = (pop.x - mu) / pop.spec.variance
                pop.eps_sent = pop.eps.copy()
                pop.eps_own = pop.eps.copy()
        for pop in self.populations.values():
            for p in pop.out_eps:
                p.set_pre(pop.eps)
        for pop in self.populations.values():
            pop.learning_in = [p for p in pop.incoming if p.plastic]
            pop.learning = pop.learning_in + [p for p in pop.feedback if p.plastic]
            pop.drifts = pop.eta_bias != 0.0 or bool(pop.learning)
            pop.t = pop.t_b = t
            pop.start()
        events.initialise(self.env)  # the ordering rule of engines/events.py

    # -- the interface -------------------------------------------------------------------------
    def run(self, until: float) -> None:
        # overflow is detected where it happens (Diverged), not reported as numpy warnings
        with np.errstate(over="ignore", invalid="ignore"):
            events.advance(self.env, until)
            for W, B in self.edges.values():  # what has arrived, as if each had its own event
                W.flush(until, WORLD)
                B.flush(until, WORLD)

    def clamp(self, name: str, values) -> None:
        pop = self.populations[name]
        pop.clamp(np.array(np.broadcast_to(np.asarray(values, dtype=float), (pop.spec.n,))))

    def release(self, name: str) -> None:
        self.populations[name].release()

    def reset(self) -> None:
        for pop in self.populations.values():
            pop.reset()

    def x(self, name: str) -> np.ndarray:
        return self.populations[name].x.copy()

    def eps(self, name: str) -> np.ndarray:
        pop = self.populations[name]
        return pop.eps.copy() if pop.has_errors else np.zeros(0)

    def bias(self, name: str) -> np.ndarray:
        pop = self.populations[name]
        return pop.bias_at(self.env.now) if pop.has_errors else np.zeros(pop.spec.n)

    def has_errors(self, name: str) -> bool:
        return self.populations[name].has_errors

    def emitted(self, name: str) -> int:
        return self.populations[name].emitted

    def clock_phases(self, name: str) -> np.ndarray:
        return np.array([self.populations[name].phase])

    def weights(self, edge: str) -> tuple[np.ndarray, np.ndarray]:
        W, B = self.edges[edge]
        t = self.env.now
        W.flush(t, WORLD)  # the messages that arrived before now (the world acts first)
        B.flush(t, WORLD)
        return W.weight_at(t, W.owner.post_of(W)), B.weight_at(t, B.owner.post_of(B))

    def delays(self, edge: str) -> tuple[np.ndarray, np.ndarray]:
        return self.edge_delays(self.edge_spec(edge))

    def frozen_copy(self, env: simpy.Environment | None = None) -> PopulationNetwork:
        return PopulationNetwork(
            self.graph, seed=self.seed, plastic=False, env=env,
            weights={n: self.weights(n) for n in self.edges},
            biases={n: self.bias(n) for n, p in self.populations.items() if p.has_errors})

    def on_emit(self, log: Callable[[float, int, int], None] | None) -> None:
        for pop in self.populations.values():
            pop.log = log
