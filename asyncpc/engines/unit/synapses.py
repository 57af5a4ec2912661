"""Prediction and error (feedback) synapses: one SimPy process each.

Symbols (SPEC §1): a prediction synapse ``W_ki`` carries ``W_ki · r_i`` from representation
neuron ``i`` to error neuron ``k``; an error synapse ``B_ik`` carries ``B_ik · eps_k`` back from
error neuron ``k`` to representation neuron ``i``.

Learning rule, for both kinds: ``dw/dt = eta · pre · post − lam · w`` where ``pre`` is the
presynaptic signal *as delivered* (after the delay) and ``post`` the postsynaptic neuron's own
signal (``eps_k`` for ``W``; ``r_i``, or ``x_i`` for ``hebbian_raw``, for ``B``).

Exact integration. ``pre`` is constant between two arrivals; the neuron the synapse sits on
keeps a discounted running integral of ``post`` (:class:`~asyncpc.messages.Trace`, compensated
so that differences stay exact however large the integral grows). Whenever a
synapse wakes at ``b`` after last looking at ``a`` it applies the exact solution

    w(b) = e^{−lam (b−a)} w(a) + eta · pre · ∫_a^b e^{−lam (b−s)} post(s) ds,

so the weight is the same however often the synapse happened to wake, and decay is an exact
exponential in simulation time. With zero delays, equal rates and ``theta = 0`` the ``W_ki``
and ``B_ik`` of one pair integrate the same product ``r_i eps_k``, hence
``d(W − Bᵀ)/dt = −lam (W − Bᵀ)`` holds to rounding (Kolen–Pollack).

A synapse wakes when a presynaptic message arrives; the neuron it sits on also asks it to
re-send its current (``refresh``) while learning changes the weight between arrivals.
"""

from __future__ import annotations

import math

import simpy

from .messages import Channel, Counters, Site


class Synapse:
    """A plastic (or fixed) synapse: weight ``w``, delivered presynaptic value ``pre``."""

    __slots__ = ("env", "w", "pre", "t", "z", "zc", "c", "eta", "lam", "plastic", "site", "channel",
                 "counters", "process")

    def __init__(self, env: simpy.Environment, *, w: float, pre: float, eta: float, lam: float,
                 site: Site, channel: Channel, counters: Counters) -> None:
        self.env = env
        self.w = w
        self.pre = pre
        self.eta = eta
        self.lam = lam
        self.plastic = eta != 0.0 or lam != 0.0
        self.site = site
        self.channel = channel
        self.counters = counters
        self.t = env.now
        self.z, self.zc = site.trace_at(self.t)
        self.c = w * pre
        self.process: simpy.Process | None = None

    @property
    def delay(self) -> float:
        """Transmission delay: that of the presynaptic channel the synapse listens to."""
        return self.channel.delay

    def start(self) -> None:
        """Inject the initial current and start the process."""
        self.site.inject(self.c, False)
        self.process = self.env.process(self.run(self.channel.head))

    def run(self, arrival):
        # ``arrival`` is taken when the synapse starts, so a message sent before the process
        # first runs (e.g. a clamp at t = 0) is not missed.
        while True:
            value, arrival = yield arrival
            self.counters.delivered += 1
            self.advance(self.env.now)
            self.pre = value
            self.transmit(True)

    def advance(self, t: float) -> None:
        """Integrate the weight exactly up to ``t``."""
        if not self.plastic or t == self.t:
            return
        self.counters.synapse_updates += 1
        z, zc = self.site.trace_at(t)
        if self.lam == 0.0:
            self.w += self.eta * self.pre * ((z - self.z) + (zc - self.zc))
        else:
            decay = math.exp(-self.lam * (t - self.t))
            self.w = decay * self.w + self.eta * self.pre * (z - decay * self.z)
        self.z, self.zc = z, zc
        self.t = t

    def weight_at(self, t: float) -> float:
        """The weight at ``t ≥`` the last wake-up, without changing any state (for observers)."""
        if not self.plastic or t == self.t:
            return self.w
        z, zc = self.site.trace_at(t)
        if self.lam == 0.0:
            return self.w + self.eta * self.pre * ((z - self.z) + (zc - self.zc))
        decay = math.exp(-self.lam * (t - self.t))
        return decay * self.w + self.eta * self.pre * (z - decay * self.z)

    def transmit(self, wake: bool) -> None:
        c = self.w * self.pre
        if c != self.c:
            self.site.inject(c - self.c, wake)
            self.c = c

    def refresh(self, t: float) -> None:
        """Called by the neuron the synapse sits on: bring the current up to date."""
        self.advance(t)
        self.transmit(False)


class PredictionSynapse(Synapse):
    """``W_ki``: representation neuron ``i`` of the source → error neuron ``k`` of the target."""

    __slots__ = ()


class ErrorSynapse(Synapse):
    """``B_ik``: error neuron ``k`` of the target → representation neuron ``i`` of the source."""

    __slots__ = ()


class TiedErrorSynapse(ErrorSynapse):
    """``B_ik ≡ W_ki`` at all times. NON-LOCAL: it reads its twin's weight (weight transport).

    A reference baseline only; every report flags edges that use it.
    """

    __slots__ = ("twin",)

    def __init__(self, env: simpy.Environment, *, twin: PredictionSynapse, **kw) -> None:
        super().__init__(env, w=twin.w, eta=0.0, lam=0.0, **kw)
        self.twin = twin
        self.plastic = twin.plastic

    def advance(self, t: float) -> None:
        if self.plastic:
            self.w = self.twin.weight_at(t)
            self.t = t

    def weight_at(self, t: float) -> float:
        return self.twin.weight_at(t)
