"""A backprop baseline, trained beside the PC network on the same stream of samples.

The baseline is a plain numpy network with the PC network's architecture on the chain
``data.input → … → data.label``: the same initial weights ``W`` and biases, the same
activations, and the same loss, the Gaussian energy of the output layer. Its forward pass is
the chain of predictions ``μ_0 = x_in``, ``μ_k = b_k + W_k f_{k−1}(μ_{k−1})``, the loss
``L = Σ (y − μ_L)² / (2 σ²_L)``, and each presentation the stimulus ends makes one step of plain
gradient descent ``W ← W − eta ∂L/∂W`` on that presentation's sample (biases too, where the PC
population learns its bias). It never touches the PC network.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from .activations import activation
from .datasets import Dataset
from .engines import Engine
from .evaluation import Evaluation, score


def forward(x: np.ndarray, W: list[np.ndarray], b: list[np.ndarray], acts: list) -> list:
    """``[μ_0 = x, μ_1, …, μ_L]`` with ``μ_k = b_k + W_k f_{k−1}(μ_{k−1})``."""
    mus = [np.asarray(x, dtype=float)]
    for k, (w, bias) in enumerate(zip(W, b, strict=True)):
        mus.append(bias + w @ acts[k].f_array(mus[-1]))
    return mus


def loss(mus: list, y: np.ndarray, variance: float) -> float:
    return float(np.sum((np.asarray(y) - mus[-1]) ** 2) / (2.0 * variance))


def descent(mus: list, y: np.ndarray, W: list[np.ndarray], acts: list,
            variance: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The negative gradients ``−∂L/∂W_k`` and ``−∂L/∂b_k`` of :func:`loss` (backprop)."""
    delta = (np.asarray(y, dtype=float) - mus[-1]) / variance
    dW, db = [None] * len(W), [None] * len(W)
    for k in range(len(W), 0, -1):
        dW[k - 1] = np.outer(delta, acts[k - 1].f_array(mus[k - 1]))
        db[k - 1] = delta
        if k > 1:
            delta = acts[k - 1].fprime_array(mus[k - 1]) * (W[k - 1].T @ delta)
    return dW, db


@dataclass
class Chain:
    """The populations ``source → … → target`` and the edges between them."""

    populations: list[str]

    @classmethod
    def of(cls, graph: nx.DiGraph, source: str, target: str) -> Chain:
        try:
            return cls(max(nx.all_simple_paths(graph, source, target), key=len))
        except (nx.NetworkXNoPath, ValueError):  # max() of no paths
            raise ValueError(f"no chain of edges from {source!r} to {target!r}") from None

    @property
    def edges(self) -> list[str]:
        return [f"{a}->{b}" for a, b in zip(self.populations, self.populations[1:],
                                            strict=False)]


class Backprop:
    """The baseline for ``net`` on the chain ``source → … → target``, learning rate ``eta``
    per presentation."""

    def __init__(self, net: Engine, source: str, target: str, eta: float) -> None:
        self.chain = Chain.of(net.graph, source, target)
        pops = self.chain.populations
        self.source, self.target, self.eta = source, target, eta
        self.acts = [activation(net.spec(p).activation) for p in pops]
        self.W = [net.weights(name)[0].copy() for name in self.chain.edges]
        self.b = [net.bias(p).copy() if net.has_errors(p) else np.zeros(net.spec(p).n)
                  for p in pops[1:]]
        self.learns_bias = [net.spec(p).eta_bias > 0.0 for p in pops[1:]]
        self.variance = net.spec(target).variance
        self.updates = 0

    def update(self, sample: dict[str, np.ndarray]) -> None:
        """One gradient step on ``sample`` (what the stimulus presented)."""
        mus = forward(sample[self.source], self.W, self.b, self.acts)
        dW, db = descent(mus, sample[self.target], self.W, self.acts, self.variance)
        for k, (g, gb) in enumerate(zip(dW, db, strict=True)):
            self.W[k] += self.eta * g
            if self.learns_bias[k]:
                self.b[k] += self.eta * gb
        self.updates += 1

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        return np.array([forward(x, self.W, self.b, self.acts)[-1] for x in inputs])

    def evaluate(self, dataset: Dataset, readout: str, threshold: float) -> Evaluation:
        return score(self.predict(dataset.arrays[self.source]), dataset.arrays[self.target],
                     readout, threshold)
