"""Recorders: observers that sample the network on their own clock and never change it.

A :class:`Recorder` is a SimPy process in the network's environment. Every ``every`` time units
it reads energies, chosen neurons' ``x``, ``mu`` and ``eps``, per-edge symmetry metrics and
message counts. It only reads (weights through ``weight_at``), so a run with recorders gives
bit-identical results to one without (``tests/run/test_recording.py``). It also watches for a
numerical blow-up and stops the run with :class:`Diverged`, naming when and where.

Names in ``traces.npz`` (time in simulation units):

=============================  ==============================================================
``t``                          sampling times
``energy``                     total energy F
``energy/POP``                 energy of population POP
``neurons/POP``                indices of the recorded neurons of POP
``x/POP``, ``mu/POP``,         states, predictions and errors of those neurons
``eps/POP``                    (samples × neurons)
``messages/POP``               messages emitted by POP since the previous sample
``delivered``                  messages delivered since the previous sample
``symmetry/EDGE/KEY``          KEY in angle_deg, norm_diff, rel_diff, norm_w, norm_b, corr,
                               feedback_angle_deg (angle between Bε and Wᵀε)
``presented``                  samples presented by the stimulus so far (when there is one)
``end/t``, ``end/energy``,     at the end of each presentation (just before the next sample):
``end/energy/POP``,            time, energies, recorded neurons' states and predictions — the
``end/x/POP``, ``end/mu/POP``  converged values, free of the transient after each switch
``zoom/t``, ``zoom/energy``,   dense samples (``zoom_every``) from ``zoom_from`` on, normally the
``zoom/x/POP``, ``zoom/mu/POP`` last few presentations: how each presentation converges
``zoom/onsets``                presentation onsets inside the zoom window
``accuracy/t``, ``accuracy``   evaluation times and accuracies (frozen copies)
``confusion``                  (true class × predicted class) counts of the last argmax
                               evaluation: the test set when there is one, else training
``evaluation/KEY``             further results of each evaluation, e.g.
                               ``evaluation/backprop_angle_deg``, ``…/backprop_rel_error``
``raster/t``, ``raster/pop``,  emission times, population codes (index into
``raster/index``,              ``raster/populations``) and neuron indices, capped
``raster/populations``
=============================  ==============================================================
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np

from .engines import Engine
from .engines.base import Diverged
from .engines.events import world_timeout
from .metrics import feedback_angle, symmetry


class Recorder:
    """Samples ``net`` every ``every`` time units (first sample at the current time).

    Parameters
    ----------
    neurons : population → indices whose ``x``, ``mu``, ``eps`` are recorded.
    raster : maximum number of emissions kept (0 = no raster).
    raster_from : time from which emissions are kept.
    max_energy : energy above which the run is declared diverged.
    evaluate : called every ``eval_every`` time units; returns an accuracy, or a dict with
        ``accuracy`` and further scalars recorded as ``evaluation/KEY``.
    presented : returns how many samples the stimulus has presented (recorded as
        ``presented``, for messages per sample over time).
    zoom_from, zoom_every : sample energies and the recorded neurons every ``zoom_every``
        from ``zoom_from`` on (``zoom/*``; ``zoom_every = 0``: no zoom).

    :meth:`presentation_end` records the ``end/*`` series; the stimulus calls it.
    """

    def __init__(self, net: Engine, *, every: float, neurons: dict[str, list[int]] | None = None,
                 raster: int = 0, raster_from: float = 0.0, max_energy: float = 1e8,
                 evaluate: Callable[[], float] | None = None, eval_every: float = 0.0,
                 presented: Callable[[], int] | None = None, zoom_from: float = 0.0,
                 zoom_every: float = 0.0) -> None:
        self.net = net
        self.every = every
        self.neurons = {k: list(v) for k, v in (neurons or {}).items()}
        self.max_energy = max_energy
        self.evaluate = evaluate
        self.eval_every = eval_every
        self.presented = presented
        self.series: dict[str, list] = defaultdict(list)
        self.accuracy_t: list[float] = []
        self.accuracy: list[float] = []
        self.raster_cap = raster
        self.raster_from = raster_from
        self.raster: list[tuple[float, int, int]] = []
        self.pop_names = net.population_names
        self.last_emitted = {n: 0 for n in self.pop_names}
        self.last_delivered = 0
        self.edges_with_feedback = net.edge_names
        if raster:
            self._attach_raster()
        net.env.process(self.run())
        if evaluate is not None and eval_every > 0:
            net.env.process(self.run_evaluations())
        self.zoom_every = zoom_every
        self.ends = 0  # presentations whose end was recorded
        if zoom_every > 0:
            net.env.process(self.run_zoom(zoom_from))

    def _attach_raster(self) -> None:
        raster = self.raster

        def log(t: float, code: int, k: int) -> None:
            if t >= self.raster_from:
                raster.append((t, code, k))
                if len(raster) >= self.raster_cap:
                    self.net.on_emit(None)  # full: stop listening
        self.net.on_emit(log)

    def run(self):
        while True:
            self.sample()
            yield world_timeout(self.net.env, self.every)

    def run_evaluations(self):
        while True:
            yield world_timeout(self.net.env, self.eval_every)
            self.record_accuracy()

    def run_zoom(self, start: float):
        env = self.net.env
        if start > env.now:
            yield world_timeout(env, start - env.now)
        while True:
            self.snapshot("zoom")
            yield world_timeout(env, self.zoom_every)

    def presentation_end(self) -> None:
        """Record the converged state of the presentation that is ending."""
        self.ends += 1
        self.snapshot("end")

    def snapshot(self, prefix: str) -> None:
        """Time, energies and the recorded neurons' x and mu, as ``PREFIX/...`` series."""
        net, s = self.net, self.series
        total, per = net.energy()
        s[f"{prefix}/t"].append(net.now)
        s[f"{prefix}/energy"].append(total)
        for name, value in per.items():
            s[f"{prefix}/energy/{name}"].append(value)
        for name, idx in self.neurons.items():
            s[f"{prefix}/x/{name}"].append(net.x(name)[idx])
            s[f"{prefix}/mu/{name}"].append(net.mu(name)[idx] if net.has_errors(name)
                                            else np.full(len(idx), np.nan))

    def record_accuracy(self) -> float:
        result = self.evaluate()
        extra = result if isinstance(result, dict) else {"accuracy": result}
        self.accuracy_t.append(self.net.now)
        self.accuracy.append(extra["accuracy"])
        for key, value in extra.items():
            if key != "accuracy":
                self.series[f"evaluation/{key}"].append(value)
        return extra["accuracy"]

    def sample(self) -> None:
        net, s = self.net, self.series
        t = net.now
        total, per = net.energy()
        s["t"].append(t)
        s["energy"].append(total)
        for name, value in per.items():
            s[f"energy/{name}"].append(value)
        for name, idx in self.neurons.items():
            errors = net.has_errors(name)
            s[f"x/{name}"].append(net.x(name)[idx])
            s[f"mu/{name}"].append(net.mu(name)[idx] if errors else np.zeros(len(idx)))
            s[f"eps/{name}"].append(net.eps(name)[idx] if errors else np.zeros(len(idx)))
        for name in self.edges_with_feedback:
            W, B = net.weights(name)
            for key, value in symmetry(W, B).items():
                s[f"symmetry/{name}/{key}"].append(value)
            eps = net.eps(net.edge_spec(name).target)
            s[f"symmetry/{name}/feedback_angle_deg"].append(feedback_angle(W, B, eps))
        for name in self.pop_names:
            emitted = net.emitted(name)
            s[f"messages/{name}"].append(emitted - self.last_emitted[name])
            self.last_emitted[name] = emitted
        if self.presented is not None:
            s["presented"].append(self.presented())
        s["delivered"].append(net.counters.delivered - self.last_delivered)
        self.last_delivered = net.counters.delivered
        if not np.isfinite(total) or total > self.max_energy:
            worst = max(per, key=lambda n: per[n] if np.isfinite(per[n]) else np.inf)
            raise Diverged(f"energy {total:.3g} at t = {t:g} (largest in population "
                           f"{worst!r}: {per[worst]:.3g}; limit {self.max_energy:g})",
                           t=t, population=worst)

    def arrays(self) -> dict[str, np.ndarray]:
        """All recorded series as numpy arrays, named as in the module docstring."""
        out = {k: np.asarray(v, dtype=float) for k, v in self.series.items()}
        for name, idx in self.neurons.items():
            out[f"neurons/{name}"] = np.asarray(idx, dtype=int)
        out["accuracy/t"] = np.asarray(self.accuracy_t, dtype=float)
        out["accuracy"] = np.asarray(self.accuracy, dtype=float)
        r = np.asarray(self.raster, dtype=float).reshape(-1, 3)
        r = r[np.lexsort((r[:, 2], r[:, 1], r[:, 0]))]  # same-time emissions by neuron
        out["raster/t"] = r[:, 0]
        out["raster/pop"] = r[:, 1].astype(int)
        out["raster/index"] = r[:, 2].astype(int)
        out["raster/populations"] = np.asarray(self.pop_names, dtype=str)
        return out

