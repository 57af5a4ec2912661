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
from .engines.events import world_timeout


class Stimulus:
    """Presents ``dataset`` to ``net``.

    Parameters
    ----------
    clamp : populations the stimulus clamps (the others in the data set are ignored).
    presentation : time each sample is held (time units).
    jitter : relative jitter of each presentation.
    epochs : passes over the data set; with tasks (``dataset.task``), over one task's samples
        each time that task's turn comes.
    rounds : repeats of the whole schedule; with tasks, each round presents task 1 for
        ``epochs`` passes, then task 2, and so on (the alternating schedule of continual
        learning).
    order : ``"sequential"`` or ``"shuffle"`` (a new permutation each epoch).
    reset : return free neurons to ``x0`` when a new sample arrives.
    rng : the stimulus's own random stream.
    on_end : called at the end of every presentation, just before the next sample (and after
        the last); the recorder uses it to record converged states.
    on_task : called with the task's index when a task's turn starts (with tasks only); the
        runner evaluates the network there, so that every switch has an evaluation.
    """

    def __init__(self, net: Engine, dataset: Dataset, *, clamp: Sequence[str],
                 presentation: float, rng: np.random.Generator, jitter: float = 0.0,
                 epochs: int = 1, rounds: int = 1, order: str = "sequential",
                 reset: bool = False, on_end: Callable[[], None] | None = None,
                 on_task: Callable[[int], None] | None = None) -> None:
        self.net = net
        self.dataset = dataset
        self.clamp = list(clamp)
        self.presentation = presentation
        self.jitter = jitter
        self.epochs = epochs
        self.rounds = rounds
        self.order = order
        self.reset = reset
        self.rng = rng
        self.on_end = on_end
        self.on_task = on_task
        self.presented = 0
        self.current: dict[str, np.ndarray] | None = None  # the sample being presented
        self.onsets: list[float] = []
        self.task_onsets: list[tuple[float, int]] = []  # (time, task) when a task's turn starts
        self.process: simpy.Process = net.env.process(self.run())

    @property
    def duration(self) -> float:
        """Total presentation time when there is no jitter."""
        return duration(self.epochs, len(self.dataset), self.presentation, self.rounds)

    def run(self):
        env = self.net.env
        task = self.dataset.task
        groups = ([np.arange(len(self.dataset))] if task is None else
                  [np.flatnonzero(task == k) for k in range(self.dataset.n_tasks)])
        for _ in range(self.rounds):
            for k, group in enumerate(groups):
                self.task_onsets.append((env.now, k))
                if task is not None and self.on_task is not None:
                    self.on_task(k)
                for _ in range(self.epochs):
                    order = self.rng.permutation(group) if self.order == "shuffle" else group
                    for j in order:
                        self.present(self.dataset.sample(int(j)))
                        hold = self.presentation
                        if self.jitter:
                            hold *= 1.0 + self.jitter * (2.0 * self.rng.random() - 1.0)
                        yield world_timeout(env, hold)
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


def duration(epochs: int, samples: int, presentation: float, rounds: int = 1) -> float:
    """Total presentation time of ``rounds`` × ``epochs`` passes over ``samples``, without
    jitter."""
    return rounds * epochs * samples * presentation


def present(net: Engine, name: str, values: np.ndarray) -> None:
    """Clamp the neurons of ``name`` to ``values``; ``nan`` entries are released (free)."""
    net.clamp(name, values)
