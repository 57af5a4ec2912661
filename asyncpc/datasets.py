"""Data sets: built-in generators for the standard small tasks, and array files.

A data set is a list of samples; a sample maps population names to value vectors. ``nan`` in a
vector leaves that neuron free (pattern completion: clamp part of a pattern, read the rest).
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Dataset:
    """Named arrays of equal length: ``arrays[population]`` has shape ``(samples, n)``."""

    name: str
    arrays: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(next(iter(self.arrays.values())))

    def sample(self, j: int) -> dict[str, np.ndarray]:
        return {pop: a[j] for pop, a in self.arrays.items()}

    def rename(self, mapping: dict[str, str]) -> Dataset:
        return Dataset(self.name, {mapping.get(k, k): v for k, v in self.arrays.items()})

    def split(self, n_test: int) -> tuple[Dataset, Dataset | None]:
        """The first ``len − n_test`` samples, and the last ``n_test`` (or None)."""
        if n_test <= 0:
            return self, None
        cut = len(self) - n_test
        return (Dataset(self.name, {k: v[:cut] for k, v in self.arrays.items()}),
                Dataset(f"{self.name} (test)", {k: v[cut:] for k, v in self.arrays.items()}))


def xor(low: float = 0.0, high: float = 1.0) -> Dataset:
    """The four XOR patterns; ``input`` (4, 2) and ``label`` (4, 1) in {low, high}."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.logical_xor(x[:, 0], x[:, 1]).astype(float)[:, None]
    scale = high - low
    return Dataset("xor", {"input": low + scale * x, "label": low + scale * y})


def parity(bits: int, low: float = 0.0, high: float = 1.0) -> Dataset:
    """All ``2**bits`` patterns with their parity as the label."""
    x = np.array(list(itertools.product([0, 1], repeat=bits)), dtype=float)
    y = (x.sum(axis=1) % 2)[:, None]
    return Dataset("parity", {"input": low + (high - low) * x, "label": low + (high - low) * y})


def bars(size: int = 4, low: float = 0.0, high: float = 1.0) -> Dataset:
    """Every single horizontal and vertical bar on a ``size × size`` grid, with a one-hot label
    (``2 · size`` classes: rows first, then columns)."""
    images, labels = [], []
    for j in range(2 * size):
        img = np.full((size, size), low)
        if j < size:
            img[j, :] = high
        else:
            img[:, j - size] = high
        images.append(img.ravel())
        lab = np.full(2 * size, low)
        lab[j] = high
        labels.append(lab)
    return Dataset("bars", {"input": np.array(images), "label": np.array(labels)})


def random_patterns(count: int, n: int, *, rng: np.random.Generator, low: float = 0.0,
                    high: float = 1.0) -> Dataset:
    """``count`` random binary patterns of length ``n``, each with a one-hot label."""
    x = np.where(rng.random((count, n)) < 0.5, low, high)
    return Dataset("random", {"input": x, "label": np.where(np.eye(count) > 0, high, low)})


def teacher(count: int, n_in: int, n_hidden: int, n_out: int, *, rng: np.random.Generator,
            noise: float = 0.0) -> Dataset:
    """Inputs ~ N(0, 1) and targets from a random tanh teacher network ``W2 tanh(W1 x)``."""
    W1 = rng.normal(0, 1 / np.sqrt(n_in), (n_hidden, n_in))
    W2 = rng.normal(0, 1 / np.sqrt(n_hidden), (n_out, n_hidden))
    x = rng.normal(0, 1, (count, n_in))
    y = np.tanh(x @ W1.T) @ W2.T + noise * rng.normal(0, 1, (count, n_out))
    return Dataset("teacher", {"input": x, "label": y})


def load(path: Path, keys: dict[str, str]) -> Dataset:
    """Arrays from a ``.npz`` file (``keys``: population → array name, loaded with
    ``allow_pickle=False``) or a ``.csv`` file (``keys``: population → ``"c0:c1"`` column
    slice, header row skipped when it is not numeric)."""
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            arrays = {pop: np.atleast_2d(np.asarray(data[name], dtype=float))
                      for pop, name in keys.items()}
            arrays = {pop: a.T if a.shape[0] == 1 and a.ndim == 2 and len(arrays) > 1 else a
                      for pop, a in arrays.items()}
    elif path.suffix == ".csv":
        with open(path, newline="") as fh:
            rows = [row for row in csv.reader(fh) if row]
        try:
            float(rows[0][0])
        except ValueError:
            rows = rows[1:]
        table = np.array(rows, dtype=float)
        arrays = {}
        for pop, cols in keys.items():
            lo, _, hi = str(cols).partition(":")
            arrays[pop] = table[:, int(lo):int(hi) if hi else int(lo) + 1]
    else:
        raise ValueError(f"{path}: expected a .npz or .csv file")
    lengths = {len(a) for a in arrays.values()}
    if len(lengths) != 1:
        raise ValueError(f"{path}: arrays have different numbers of samples {sorted(lengths)}")
    return Dataset(path.stem, arrays)
