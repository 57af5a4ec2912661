"""Baselines, trained beside the PC network on the same stream of samples.

Each is a plain numpy network with the PC network's architecture on the chain
``data.input → … → data.label``: the same initial weights and biases, the same activations,
and the same energy at the output layer. Its forward pass is the chain of predictions
``μ_0 = x_in``, ``μ_k = b_k + W_k f_{k−1}(μ_{k−1})``, which is also how it answers (for
synchronous PC too: with the output free, the equilibrium of inference is the forward pass).
Each presentation the stimulus ends makes one update on that presentation's sample (biases
too, where the PC population learns its bias). It never touches the PC network.

* :class:`Backprop`: one step of plain gradient descent ``W ← W − eta ∂L/∂W`` on the loss
  ``L = Σ (y − μ_L)² / (2 σ²_L)``;
* :class:`SyncPC`: synchronous predictive coding, the phased algorithm the network does
  without: the hidden states start at the forward pass, input and output are clamped, ``steps``
  Euler steps of inference ``x_l ← x_l + rate (−ε_l + f'(x_l) ∘ B_l ε_{l+1})`` with
  ``ε_l = (x_l − μ_l)/σ²_l``, then one weight update ``W_l ← W_l + eta ε_{l+1} f(x_l)ᵀ``,
  with feedback ``B_l = W_lᵀ`` (``tied``) or learned by Kolen–Pollack's rule
  ``B_l ← B_l + eta f(x_l) ε_{l+1}ᵀ`` (``hebbian``); both ``W`` and ``B`` decay by the factor
  ``1 − eta lam`` at each update.
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


class ChainLearner:
    """What every baseline shares: the chain ``source → … → target`` of ``net`` with its initial
    weights and biases, learning rate ``eta`` per presentation, and the forward pass as its
    answer."""

    #: the name of the baseline in traces (``evaluation/<prefix>accuracy``) and summaries
    prefix = ""

    def __init__(self, net: Engine, source: str, target: str, eta: float) -> None:
        self.chain = Chain.of(net.graph, source, target)
        pops = self.chain.populations
        self.source, self.target, self.eta = source, target, eta
        self.acts = [activation(net.spec(p).activation) for p in pops]
        self.W = [net.weights(name)[0].copy() for name in self.chain.edges]
        self.b = [net.bias(p).copy() if net.has_errors(p) else np.zeros(net.spec(p).n)
                  for p in pops[1:]]
        self.learns_bias = [net.spec(p).eta_bias > 0.0 for p in pops[1:]]
        self.variances = [net.spec(p).variance for p in pops]
        self.updates = 0

    @property
    def variance(self) -> float:
        """σ² of the output population (the energy's)."""
        return self.variances[-1]

    def update(self, sample: dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        return np.array([forward(x, self.W, self.b, self.acts)[-1] for x in inputs])

    def evaluate(self, dataset: Dataset, readout: str, threshold: float) -> Evaluation:
        return score(self.predict(dataset.arrays[self.source]), dataset.arrays[self.target],
                     readout, threshold)


class Backprop(ChainLearner):
    """Gradient descent on the output energy (module doc)."""

    kind = "backprop"
    prefix = "baseline_"

    def update(self, sample: dict[str, np.ndarray]) -> None:
        """One gradient step on ``sample`` (what the stimulus presented)."""
        mus = forward(sample[self.source], self.W, self.b, self.acts)
        dW, db = descent(mus, sample[self.target], self.W, self.acts, self.variance)
        for k, (g, gb) in enumerate(zip(dW, db, strict=True)):
            self.W[k] += self.eta * g
            if self.learns_bias[k]:
                self.b[k] += self.eta * gb
        self.updates += 1


class SyncPC(ChainLearner):
    """Synchronous predictive coding (module doc): ``steps`` inference steps of size ``rate``
    from the forward pass, then one update; ``feedback`` ``tied`` or ``hebbian``."""

    kind = "sync_pc"
    prefix = "sync_pc_"

    def __init__(self, net: Engine, source: str, target: str, eta: float, *, steps: int,
                 rate: float, feedback: str, lam: float = 0.0) -> None:
        super().__init__(net, source, target, eta)
        self.steps, self.rate, self.feedback, self.lam = steps, rate, feedback, lam
        self.B = [net.weights(name)[1].copy() for name in self.chain.edges]

    def errors(self, x: list[np.ndarray]) -> list[np.ndarray | None]:
        """``ε_l = (x_l − μ_l)/σ²_l`` for ``l ≥ 1`` (``None`` for the input)."""
        return [None] + [(x[k + 1] - self.b[k] - w @ self.acts[k].f_array(x[k]))
                         / self.variances[k + 1] for k, w in enumerate(self.W)]

    def relax(self, sample: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The states after inference: from the forward pass, output clamped to the label."""
        x = forward(sample[self.source], self.W, self.b, self.acts)
        x[-1] = np.asarray(sample[self.target], dtype=float)
        for _ in range(self.steps):
            eps = self.errors(x)
            for k in range(1, len(x) - 1):  # the hidden populations
                fb = (self.W[k].T if self.feedback == "tied" else self.B[k]) @ eps[k + 1]
                x[k] = x[k] + self.rate * (-eps[k] + self.acts[k].fprime_array(x[k]) * fb)
        return x

    def update(self, sample: dict[str, np.ndarray]) -> None:
        x = self.relax(sample)
        eps = self.errors(x)
        keep = 1.0 - self.eta * self.lam
        for k in range(len(self.W)):
            r = self.acts[k].f_array(x[k])
            self.W[k] = keep * self.W[k] + self.eta * np.outer(eps[k + 1], r)
            if self.feedback == "hebbian":
                self.B[k] = keep * self.B[k] + self.eta * np.outer(r, eps[k + 1])
            if self.learns_bias[k]:
                self.b[k] = self.b[k] + self.eta * eps[k + 1]
        self.updates += 1
