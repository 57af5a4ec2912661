"""Activation functions ``r = f(x)`` and their derivatives ``f'(x)``.

Scalar, pure-Python versions are used by the neuron processes (one value at a time, where
``math`` is faster than numpy); the vectorised versions by recorders and oracles.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

LEAKY_SLOPE = 0.01


def _sigmoid(x: float) -> float:
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _sigmoid_prime(x: float) -> float:
    s = _sigmoid(x)
    return s * (1.0 - s)


def _tanh_prime(x: float) -> float:
    t = math.tanh(x)
    return 1.0 - t * t


@dataclass(frozen=True)
class Activation:
    """An activation ``f`` with its derivative, in scalar and array form."""

    name: str
    f: Callable[[float], float]
    fprime: Callable[[float], float]
    f_array: Callable[[np.ndarray], np.ndarray]
    fprime_array: Callable[[np.ndarray], np.ndarray]


def _sigmoid_array(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))


ACTIVATIONS: dict[str, Activation] = {
    "linear": Activation(
        "linear", lambda x: x, lambda x: 1.0,
        lambda x: np.asarray(x, dtype=float), lambda x: np.ones_like(x, dtype=float),
    ),
    "tanh": Activation(
        "tanh", math.tanh, _tanh_prime, np.tanh, lambda x: 1.0 - np.tanh(x) ** 2,
    ),
    "sigmoid": Activation(
        "sigmoid", _sigmoid, _sigmoid_prime,
        _sigmoid_array, lambda x: _sigmoid_array(x) * (1.0 - _sigmoid_array(x)),
    ),
    "relu": Activation(
        "relu", lambda x: x if x > 0.0 else 0.0, lambda x: 1.0 if x > 0.0 else 0.0,
        lambda x: np.maximum(x, 0.0), lambda x: (np.asarray(x) > 0.0).astype(float),
    ),
    "leaky_relu": Activation(
        "leaky_relu",
        lambda x: x if x > 0.0 else LEAKY_SLOPE * x,
        lambda x: 1.0 if x > 0.0 else LEAKY_SLOPE,
        lambda x: np.where(np.asarray(x) > 0.0, x, LEAKY_SLOPE * np.asarray(x)),
        lambda x: np.where(np.asarray(x) > 0.0, 1.0, LEAKY_SLOPE),
    ),
    # g(v) = v**2, the nonlinearity of Bogacz's (2017) single-variable tutorial example.
    "square": Activation(
        "square", lambda x: x * x, lambda x: 2.0 * x,
        lambda x: np.asarray(x, dtype=float) ** 2, lambda x: 2.0 * np.asarray(x, dtype=float),
    ),
}


def activation(name: str) -> Activation:
    """Return the activation called ``name`` (one of :data:`ACTIVATIONS`)."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}") from None
