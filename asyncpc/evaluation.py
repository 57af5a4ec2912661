"""Evaluation on a frozen copy: the learning network never pauses.

For each sample a copy of the network (current weights and biases, plasticity off) is built in
its own SimPy environment, the given populations are clamped, the copy settles for ``settle``
time units, and the read-out population's state is the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .datasets import Dataset
from .engines import Engine
from .engines.events import collector_on
from .sections import READOUTS
from .stimulus import present


@dataclass
class Evaluation:
    """Outputs of the read-out population for each sample, and the score."""

    outputs: np.ndarray
    targets: np.ndarray
    accuracy: float
    mean_abs_error: float


def evaluate(net: Engine, dataset: Dataset, *, clamp: Sequence[str], read: str,
             settle: float, readout: str = "argmax", threshold: float = 0.5) -> Evaluation:
    """Score ``net`` on ``dataset`` without touching it.

    ``readout``: ``argmax`` (the most active neuron is the class), ``threshold`` (each neuron's
    state above ``threshold`` is a 1; a sample is correct when all bits are) or ``values``
    (accuracy counts samples whose every output is within 0.5 of its target's half-range).
    """
    outputs = []
    with collector_on():  # each copy is a network of reference cycles once dropped
        for j in range(len(dataset)):
            copy = net.frozen_copy()
            sample = dataset.sample(j)
            for name in clamp:
                present(copy, name, sample[name])
            copy.run(copy.now + settle)
            outputs.append(copy.x(read))
    return score(np.array(outputs), dataset.arrays[read], readout, threshold)


def score(outputs: np.ndarray, targets: np.ndarray, readout: str = "argmax",
          threshold: float = 0.5) -> Evaluation:
    """Score read-out ``outputs`` (samples × neurons) against ``targets`` (see
    :func:`evaluate`); shared by the PC network and the backprop baseline."""
    if readout == "argmax":
        correct = outputs.argmax(axis=1) == targets.argmax(axis=1)
    elif readout == "threshold":
        correct = np.all((outputs > threshold) == (targets > threshold), axis=1)
    elif readout == "values":
        span = max(float(np.ptp(targets)), 1e-12)
        correct = np.all(np.abs(outputs - targets) < 0.25 * span, axis=1)
    else:
        raise ValueError(f"unknown readout {readout!r}; expected one of {READOUTS}")
    return Evaluation(outputs, targets, float(np.mean(correct)),
                      float(np.mean(np.abs(outputs - targets))))
