"""The stimulus: the environment that presents samples to the network (not part of it).

It clamps the populations a sample names (``nan`` entries stay free), holds the sample for the
presentation time (optionally jittered), then moves on. It sends nothing else to the network.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import simpy

from .datasets import Dataset
from .engines import Engine


class Stimulus:
    """Presents ``dataset`` to ``net``.

    Parameters
    ----------
    clamp : populations the stimulus clamps (the others in the data set are ignored).
    presentation : time each sample is held (time units).
    jitter : relative jitter of each presentation.
    epochs : passes over the data set.
    order : ``"sequential"`` or ``"shuffle"`` (a new permutation each epoch).
    reset : return free neurons to ``x0`` when a new sample arrives.
    rng : the stimulus's own random stream.
    on_end : called at the end of every presentation, just before the next sample (and after
        the last); the recorder uses it to record converged states.
    """

    def __init__(self, net: Engine, dataset: Dataset, *, clamp: Sequence[str],
                 presentation: float, rng: np.random.Generator, jitter: float = 0.0,
                 epochs: int = 1, order: str = "sequential", reset: bool = False,
                 on_end: Callable[[], None] | None = None) -> None:
        self.net = net
        self.dataset = dataset
        self.clamp = list(clamp)
        self.presentation = presentation
        self.jitter = jitter
        self.epochs = epochs
        self.order = order
        self.reset = reset
        self.rng = rng
        self.on_end = on_end
        self.presented = 0
        self.current: dict[str, np.ndarray] | None = None  # the sample being presented
        self.onsets: list[float] = []
        self.process: simpy.Process = net.env.process(self.run())

    @property
    def duration(self) -> float:
        """Total presentation time when there is no jitter."""
        return duration(self.epochs, len(self.dataset), self.presentation)

    def run(self):
        env = self.net.env
        for _ in range(self.epochs):
            order = np.arange(len(self.dataset))
            if self.order == "shuffle":
                order = self.rng.permutation(order)
            for j in order:
                self.present(self.dataset.sample(int(j)))
                hold = self.presentation
                if self.jitter:
                    hold *= 1.0 + self.jitter * (2.0 * self.rng.random() - 1.0)
                yield env.timeout(hold)
                if self.on_end is not None:
                    self.on_end()

    def present(self, sample: dict[str, np.ndarray]) -> None:
        self.current = sample
        self.onsets.append(self.net.now)
        self.presented += 1
        if self.reset:
            for name in self.clamp:
                self.net.release(name)
            self.net.reset()
        for name in self.clamp:
            present(self.net, name, sample[name])


def duration(epochs: int, samples: int, presentation: float) -> float:
    """Total presentation time of ``epochs`` passes over ``samples``, without jitter."""
    return epochs * samples * presentation


def present(net: Engine, name: str, values: np.ndarray) -> None:
    """Clamp the neurons of ``name`` to ``values``; ``nan`` entries are released (free)."""
    net.clamp(name, values)
