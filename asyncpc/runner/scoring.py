"""Scoring a run: evaluations of frozen copies (and of the baselines) at the times the
scenario asks, confusion matrices, what the network generates, and its alignment with
backprop.
"""

from __future__ import annotations

import numpy as np

from ..activations import activation
from ..baseline import Chain, ChainLearner
from ..datasets import Dataset
from ..engines import Engine
from ..engines.events import world_timeout
from ..evaluation import Evaluation, evaluate, score
from ..metrics import pc_vs_backprop
from ..recording import Recorder
from ..scenario import Scenario
from ..sections import DataSection


class Scorer:
    """Evaluates frozen copies of ``net`` on the training and test sets; keeps the latest
    :class:`Evaluation` of each."""

    def __init__(self, net: Engine, scenario: Scenario, dataset: Dataset,
                 test_set: Dataset | None, baselines: list[ChainLearner] = ()) -> None:
        self.net, self.cfg, self.data_cfg = net, scenario.sections.evaluation, \
            scenario.sections.data
        self.sets = {"train": dataset.head(self.cfg.train_count), "test": test_set}
        self.dataset = dataset
        self.baselines = list(baselines)
        self.last: dict[str, Evaluation] = {}

    def __call__(self) -> dict[str, float]:
        c = self.cfg
        for key, ds in self.sets.items():
            if ds is not None:
                self.last[key] = evaluate(self.net, ds, clamp=c.clamp, read=c.read,
                                          settle=c.settle, readout=c.readout,
                                          threshold=c.threshold)
        out = {"accuracy": self.last["train"].accuracy}
        if "test" in self.last:
            out["test_accuracy"] = self.last["test"].accuracy
            out.update(self.per_task(self.last["test"]))
        if c.backprop:
            out.update(backprop_alignment(self.net, self.sets["train"], self.data_cfg, c.settle))
        if c.readout == "values":  # what the network predicts for the first training sample
            out["outputs"] = self.last["train"].outputs[0]
        out.update(active_fractions(self.net, self.sets["train"], self.data_cfg))
        for learner in self.baselines:  # scored on the same sets, at the same times
            pre = learner.prefix
            for key, ds in self.sets.items():
                if ds is not None:
                    ev = learner.evaluate(ds, c.readout, c.threshold)
                    out[f"{pre}accuracy" if key == "train" else f"{pre}{key}_accuracy"] = \
                        ev.accuracy
                    if key == "test":
                        out.update(self.per_task(ev, pre))
                    if key == "train" and c.readout == "values":
                        out[f"{pre}outputs"] = ev.outputs[0]
        return out

    def per_task(self, ev: Evaluation, prefix: str = "") -> dict[str, float]:
        """Each task's test accuracy (``task<k>_test_accuracy``, k from 1), scored from the
        test evaluation's outputs on that task's samples (data.tasks)."""
        test = self.sets["test"]
        if test.task is None:
            return {}
        return {f"{prefix}task{k + 1}_test_accuracy":
                score(ev.outputs[test.task == k], ev.targets[test.task == k], self.cfg.readout,
                      self.cfg.threshold).accuracy for k in range(test.n_tasks)}


def task_evaluations(net: Engine, recorder: Recorder, every: float):
    """With data.tasks, evaluations follow the schedule: one when each task's turn starts
    (the state the previous task left) and then every ``every`` time units of that turn, so
    that the evaluation "right after a switch" is the same time after every switch."""
    turn = [0]

    def evaluate_once() -> None:
        if not recorder.accuracy_t or recorder.accuracy_t[-1] != net.now:
            recorder.record_accuracy()

    def periodic(mine: int):
        while True:
            yield world_timeout(net.env, every)
            if turn[0] != mine:
                return
            evaluate_once()

    def on_task(_: int) -> None:
        turn[0] += 1
        evaluate_once()
        if every > 0:
            net.env.process(periodic(turn[0]))
    return on_task


def confusion(ev: Evaluation) -> np.ndarray:
    """Counts of (true class, predicted class) of an argmax evaluation."""
    k = ev.targets.shape[1]
    m = np.zeros((k, k), dtype=int)
    np.add.at(m, (ev.targets.argmax(axis=1), ev.outputs.argmax(axis=1)), 1)
    return m


def active_fractions(net: Engine, dataset: Dataset, d: DataSection) -> dict[str, float]:
    """``active/<population>``: for each relu population on the chain data.input → … →
    data.label, the fraction of its units active (prediction > 0) in the feed-forward pass of
    the network's current weights and biases, over ``dataset`` (near 1: the population has
    become linear, the signature of learning onset transients; docs/real-data.md)."""
    try:
        chain = Chain.of(net.graph, d.input, d.label)
    except ValueError:
        return {}
    pops = chain.populations
    if d.input not in dataset.arrays or not any(
            net.spec(p).activation in ("relu", "leaky_relu") for p in pops[1:]):
        return {}
    out, mu = {}, dataset.arrays[d.input]
    for prev, name, edge in zip(pops, pops[1:], chain.edges, strict=False):
        W = net.weights(edge)[0]
        mu = activation(net.spec(prev).activation).f_array(mu) @ W.T + net.bias(name)
        if net.spec(name).activation in ("relu", "leaky_relu") and name != d.label:
            out[f"active/{name}"] = float(np.mean(mu > 0.0))
    return out


def backprop_alignment(net: Engine, dataset: Dataset, d: DataSection, settle: float) -> dict:
    """Mean angle and relative error between PC updates and backprop over the data set."""
    results = [pc_vs_backprop(net, dataset.sample(j), source=d.input, target=d.label,
                              settle=settle) for j in range(len(dataset))]
    return {"backprop_angle_deg": float(np.mean([r["angle_deg"] for r in results])),
            "backprop_rel_error": float(np.mean([r["rel_error"] for r in results]))}


def generate(net: Engine, dataset: Dataset, scenario: Scenario) -> dict:
    """Clamp each distinct label on a frozen copy and read what it generates at the input
    (for each label, its first sample is the target shown beside it)."""
    label, image = scenario.sections.data.label, scenario.sections.data.input
    settle = scenario.sections.evaluation.settle
    _, first = np.unique(dataset.arrays[label], axis=0, return_index=True)
    first = np.sort(first)
    dataset = Dataset(dataset.name, {k: v[first] for k, v in dataset.arrays.items()})
    ev = evaluate(net, dataset, clamp=[label], read=image, settle=settle, readout="values")
    n = ev.outputs.shape[1]
    side = int(round(np.sqrt(n)))
    titles = [f"label {int(np.argmax(dataset.arrays[label][j]))}" for j in range(len(dataset))]
    images = np.concatenate([np.clip(ev.outputs, 0.0, 1.0), ev.targets]) if side * side == n \
        else ev.outputs
    return {"images": images, "titles": np.asarray(titles + [f"target {t[6:]}" for t in titles]),
            "side": np.asarray(side), "generated": ev.outputs, "targets": ev.targets,
            "mean_abs_error": ev.mean_abs_error}
