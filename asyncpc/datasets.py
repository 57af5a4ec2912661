"""Data sets: built-in generators for the standard small tasks, and array files.

A data set is a list of samples; a sample maps population names to value vectors. ``nan`` in a
vector leaves that neuron free (pattern completion: clamp part of a pattern, read the rest).
"""

from __future__ import annotations

import csv
import itertools
import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Dataset:
    """Named arrays of equal length: ``arrays[population]`` has shape ``(samples, n)``."""

    name: str
    arrays: dict[str, np.ndarray]
    #: the task of each sample (0, 1, …) when the classes are split into tasks, else None
    task: np.ndarray | None = None

    def __len__(self) -> int:
        return len(next(iter(self.arrays.values())))

    @property
    def n_tasks(self) -> int:
        return 1 if self.task is None else int(self.task.max()) + 1

    def sample(self, j: int) -> dict[str, np.ndarray]:
        return {pop: a[j] for pop, a in self.arrays.items()}

    def rename(self, mapping: dict[str, str]) -> Dataset:
        return Dataset(self.name, {mapping.get(k, k): v for k, v in self.arrays.items()},
                       self.task)

    def take(self, index: np.ndarray, name: str | None = None) -> Dataset:
        """The samples at ``index``, in that order."""
        return Dataset(name or self.name, {k: v[index] for k, v in self.arrays.items()},
                       None if self.task is None else self.task[index])

    def head(self, n: int) -> Dataset:
        """The first ``n`` samples (all when ``n`` is 0 or larger than the set)."""
        if n <= 0 or n >= len(self):
            return self
        return self.take(np.arange(n))

    def split(self, n_test: int) -> tuple[Dataset, Dataset | None]:
        """The first ``len − n_test`` samples, and the last ``n_test`` (or None)."""
        if n_test <= 0:
            return self, None
        cut = len(self) - n_test
        return (self.take(np.arange(cut)),
                self.take(np.arange(cut, len(self)), f"{self.name} (test)"))

    def of_task(self, k: int) -> Dataset:
        """The samples of task ``k`` (0-based)."""
        return self.take(np.flatnonzero(self.task == k), f"{self.name} (task {k + 1})")


def split_tasks(ds: Dataset, tasks: list[list[int]], label: str = "label", low: float = 0.0,
                high: float = 1.0) -> Dataset:
    """The samples of ``ds`` whose class (argmax of its one-hot ``label``) is in one of
    ``tasks`` (lists of classes), each tagged with its task, and labelled by the class's
    position within its task: one-hot over ``max(len(task))`` units, shared by all tasks
    (``[[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]`` codes digit d as d mod 5)."""
    classes = ds.arrays[label].argmax(axis=1)
    task = np.full(len(classes), -1)
    position = np.zeros(len(classes), dtype=int)
    for k, members in enumerate(tasks):
        for j, c in enumerate(members):
            task[classes == c] = k
            position[classes == c] = j
    keep = np.flatnonzero(task >= 0)
    width = max(len(t) for t in tasks)
    arrays = {k: v[keep] for k, v in ds.arrays.items()}
    arrays[label] = one_hot(position[keep], width, low, high)
    return Dataset(ds.name, arrays, task[keep])


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


#: samples of each real data set held out for testing (a fixed split, the same for every run)
DIGITS_TEST = 540
MNIST1D_SAMPLES, MNIST1D_TEST = 5000, 1000


def one_hot(classes: np.ndarray, n: int, low: float = 0.0, high: float = 1.0) -> np.ndarray:
    """Class indices as one-hot rows of length ``n`` in {low, high}."""
    return np.where(np.eye(n, dtype=bool)[classes], high, low)


def digits(low: float = 0.0, high: float = 1.0) -> tuple[Dataset, Dataset]:
    """scikit-learn's bundled 8×8 handwritten digits (1,797 images; no download).

    Inputs are the 64 pixel intensities scaled from 0…16 to 0…1; labels are one-hot over the
    10 classes in {low, high}. The split into 1,257 training and 540 test images is fixed
    (a permutation drawn from a constant seed, independent of the run's seed), so every run
    and every seed is scored on the same held-out digits.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError("data kind 'digits' needs scikit-learn: "
                          "pip install 'asyncpc[data]'") from exc
    raw = load_digits()
    order = np.random.default_rng(1797).permutation(len(raw.target))
    x = raw.data[order] / 16.0
    y = one_hot(raw.target[order], 10, low, high)
    cut = len(x) - DIGITS_TEST
    return (Dataset("digits", {"input": x[:cut], "label": y[:cut]}),
            Dataset("digits (test)", {"input": x[cut:], "label": y[cut:]}))


def mnist1d(low: float = 0.0, high: float = 1.0) -> tuple[Dataset, Dataset]:
    """MNIST-1D (Greydanus 2020): 5,000 one-dimensional digit signals of length 40, generated
    locally by the ``mnist1d`` package's ``make_dataset`` with its published default arguments
    (never its downloader), split as the package does: 4,000 training, 1,000 test. Inputs are
    standardised by the generator (mean 0, std 1); labels one-hot in {low, high}."""
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as exc:
        raise ImportError("data kind 'mnist1d' needs the mnist1d package: "
                          "pip install 'asyncpc[data]'") from exc
    args = get_dataset_args()
    args.num_samples = MNIST1D_SAMPLES
    args.train_split = 1.0 - MNIST1D_TEST / MNIST1D_SAMPLES
    # the generator seeds numpy's and Python's global generators: keep them as they were
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
    return (Dataset("mnist1d", {"input": np.asarray(data["x"], dtype=float),
                                "label": one_hot(np.asarray(data["y"]), 10, low, high)}),
            Dataset("mnist1d (test)", {"input": np.asarray(data["x_test"], dtype=float),
                                       "label": one_hot(np.asarray(data["y_test"]), 10, low,
                                                        high)}))


class KeyProblem(ValueError):
    """A ``data.keys`` entry that does not fit the file (its message starts with the key)."""


def load(path: Path, keys: dict[str, str]) -> Dataset:
    """Arrays from a ``.npz`` file (``keys``: population → array name, loaded with
    ``allow_pickle=False``) or a ``.csv`` file (``keys``: population → ``"c0:c1"`` column
    slice, header row skipped when it is not numeric)."""
    path = Path(path)
    if path.suffix == ".npz":
        with open(path, "rb") as fh:  # closed also when the archive turns out corrupt
            try:
                data = np.load(fh, allow_pickle=False)
            except (zipfile.BadZipFile, EOFError) as exc:
                raise ValueError(f"not a readable .npz archive ({exc})") from None
            with data:
                for pop, name in keys.items():
                    if name not in data.files:
                        raise KeyProblem(f"data.keys.{pop}: no array {name!r} in {path.name}; "
                                         f"it holds {', '.join(data.files) or 'no arrays'}")
                arrays = {pop: np.atleast_2d(np.asarray(data[name], dtype=float))
                          for pop, name in keys.items()}
        for pop, a in arrays.items():
            if a.ndim != 2:
                raise KeyProblem(f"data.keys.{pop}: array {keys[pop]!r} has {a.ndim} "
                                 "dimensions; expected samples × values (2)")
            arrays = {pop: a.T if a.shape[0] == 1 and a.ndim == 2 and len(arrays) > 1 else a
                      for pop, a in arrays.items()}
    elif path.suffix == ".csv":
        with open(path, newline="") as fh:
            rows = [row for row in csv.reader(fh) if row]
        if not rows:
            raise ValueError(f"{path}: no rows")
        try:
            float(rows[0][0])
        except ValueError:
            rows = rows[1:]
        if not rows:
            raise ValueError(f"{path}: a header but no data rows")
        table = np.array(rows, dtype=float)
        arrays = {}
        for pop, cols in keys.items():
            lo, _, hi = str(cols).partition(":")
            try:
                start = int(lo)
                stop = int(hi) if hi else start + 1
            except ValueError:
                raise KeyProblem(f"data.keys.{pop}: expected a column 'a' or a column slice "
                                 f"'a:b' of the csv file, got {cols!r}") from None
            if not 0 <= start < stop <= table.shape[1]:
                raise KeyProblem(f"data.keys.{pop}: expected columns within 0:{table.shape[1]}, "
                                 f"got {cols!r}")
            arrays[pop] = table[:, start:stop]
    else:
        raise ValueError(f"{path}: expected a .npz or .csv file")
    lengths = {len(a) for a in arrays.values()}
    if len(lengths) != 1:
        raise ValueError(f"{path}: arrays have different numbers of samples {sorted(lengths)}")
    return Dataset(path.stem, arrays)
