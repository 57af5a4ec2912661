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

Waking between arrivals. A synapse wakes when a presynaptic message arrives, and, while it
learns, with the alarm the learning synapses of its neuron share: learning changes its current
``c = w · pre`` between arrivals, at the rate ``|dc/dt| = |pre| · |eta · pre · post − lam · w|``.
After every send the synapse predicts from that rate when its current will have drifted by
``theta`` (the ``drift_theta`` of the population it sits on), no sooner than the step ``dt`` of
the neuron it sits on (which reads its inputs no more often) and no later than ``refresh``
(its ``due``, :meth:`Synapse.arm`). The neuron's
:class:`~asyncpc.engines.unit.messages.DriftAlarm` rings at the earliest ``due`` of its
synapses; then every learning synapse on the neuron integrates its weight exactly and re-sends
its current, all at the same moment and summed into one change, so currents whose exact sum
cancels keep cancelling (separate re-sends at separate moments would leave a spurious input of
the order of ``theta``). An arrival in between re-arms the synapse. The neuron adds up the
drift its synapses re-send and re-evaluates itself once that sum exceeds ``drift_theta`` (one
wake-up per threshold; :meth:`~asyncpc.engines.unit.neurons.Neuron.inject`). The current a
neuron sees is thus off by at most ``theta`` per synapse, plus what a change of ``post`` since
the last send adds over at most ``max(dt, refresh)``; with ``theta = 0`` the synapses re-send
at every ``dt`` and the error is O(dt) (``tests/engines/test_ode_limit.py``). The synapse senses its
own neuron's signal (``post``, through the :class:`~asyncpc.engines.unit.messages.Site`): when
``post`` has moved by more than half since the synapse last heard of it, the drift rate it
predicted from may be off by more than 1.5×, so it re-computes its ``due`` and brings the
shared alarm forward if needed (:meth:`Synapse.rearm`).
"""

from __future__ import annotations

import math

import simpy

from ..base import drift_wait
from .messages import Channel, Counters, Site


class Synapse:
    """A plastic (or fixed) synapse: weight ``w``, delivered presynaptic value ``pre``."""

    __slots__ = ("env", "w", "pre", "t", "z", "zc", "c", "eta", "lam", "plastic", "site", "channel",
                 "counters", "process", "due")

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
        self.due = math.inf  # when the current will have drifted by theta

    @property
    def delay(self) -> float:
        """Transmission delay: that of the presynaptic channel the synapse listens to."""
        return self.channel.delay

    #: the class's own weight and drift (not a twin's): its learning arrivals may take the
    #: one-frame path :meth:`learn`
    own_weight = True

    def start(self) -> None:
        """Inject the initial current and start the process."""
        self.site.inject(self.c, False)
        learn = self.plastic and self.own_weight
        self.process = self.env.process((self.learn if learn else self.run)(self.channel.head))
        if self.plastic:
            self.drives().learners.append(self)
            self.site.alarm.synapses.append(self)
            self.site.alarm.request(self.arm(self.env.now))

    def drives(self):
        """The trace of the signal that drives this synapse's learning (``post``)."""
        return self.site.trace

    def run(self, arrival):
        # ``arrival`` is taken when the synapse starts, so a message sent before the process
        # first runs (e.g. a clamp at t = 0) is not missed.
        env, counters, plastic = self.env, self.counters, self.plastic
        while True:
            value, arrival = yield arrival
            counters.delivered += 1
            now = env.now
            if plastic:
                self.advance(now)
                self.pre = value
                self.transmit(True)
                self.site.alarm.request(self.arm(now))
            else:
                self.pre = value
                self.transmit(True)

    def learn(self, arrival):
        """:meth:`run` of a learning synapse with its own weight, in one frame: each arrival
        integrates the weight (:meth:`advance`), sends the new current (:meth:`transmit`) and
        re-arms (:meth:`arm`, then the shared alarm's ``request``), exactly as those methods
        do, without their calls (the engine's hottest path; ``tests/engines/test_numerics_paths.py``
        checks it against them)."""
        env, counters, site = self.env, self.counters, self.site
        trace, inject, trace_at, alarm = site.trace, site.inject, site.trace_at, site.alarm
        eta, lam, theta, h_min, h_max = self.eta, self.lam, site.theta, site.h_min, site.h_max
        ring, exp = alarm.ring, math.exp
        while True:
            value, arrival = yield arrival
            counters.delivered += 1
            now = env.now
            if now != self.t:  # advance(now)
                counters.synapse_updates += 1
                z, zc = trace_at(now)
                if lam == 0.0:
                    self.w += eta * self.pre * ((z - self.z) + (zc - self.zc))
                else:
                    decay = exp(-lam * (now - self.t))
                    self.w = decay * self.w + eta * self.pre * (z - decay * self.z)
                self.z, self.zc = z, zc
                self.t = now
            self.pre = value
            scale = abs(eta * value * value)
            if scale > trace.scale:
                trace.scale = scale
            w = self.w
            c = w * value
            if c != self.c:
                inject(c - self.c, True)
                self.c = c
            rate = abs(value * (eta * value * trace.v - lam * w))  # drift_wait(rate, …)
            if rate * h_max <= theta:
                h = h_max
            else:
                h = theta / rate
                if h < h_min:
                    h = h_min
            self.due = due = now + h
            at = alarm.at  # alarm.request(due)
            if at is None or due < at:
                alarm.at = due
                env.timeout(h, due).callbacks.append(ring)

    def scale(self) -> float:
        """How fast the current changes per unit change of ``post`` (``|eta · pre²|``)."""
        return abs(self.eta * self.pre * self.pre)

    def drift(self) -> float:
        """``dw/dt`` now (the weight integrated to now)."""
        return self.eta * self.pre * self.site.trace.v - self.lam * self.w

    def arm(self, t: float) -> float:
        """Predict (and return) when the current will have drifted by ``theta`` (module doc);
        the neuron's shared alarm rings at the earliest such time of its synapses."""
        site, trace = self.site, self.drives()
        trace.scale = max(trace.scale, self.scale())
        self.due = t + drift_wait(abs(self.pre * self.drift()), site.theta, site.h_min,
                                  site.h_max)
        return self.due

    def rearm(self, t: float) -> None:
        """``post`` moved a lot: bring the alarm forward if the drift now runs faster."""
        site = self.site
        left = site.theta - abs(self.weight_at(t) * self.pre - self.c)  # drift still unsent
        due = t + (drift_wait(abs(self.pre * self.drift()), left, site.h_min, site.h_max)
                   if left > 0.0 else site.h_min)
        if due < self.due:
            self.due = due
            site.alarm.request(due)

    def refresh(self, t: float) -> float:
        """The shared alarm rang: integrate to ``t`` and take the current the weight now
        gives; return its change (the alarm injects the changes of all its synapses as one)."""
        self.advance(t)
        c = self.w * self.pre
        delta = c - self.c
        self.c = c
        return delta

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
    own_weight = False

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

    def drives(self):
        return self.twin.site.trace  # B ≡ Wᵀ moves with the twin's post, eps_k

    def scale(self) -> float:
        return math.inf  # the twin's pre moves unseen by this synapse: always re-arm

    def drift(self) -> float:
        twin = self.twin
        return twin.eta * twin.pre * twin.site.trace.v - twin.lam * twin.weight_at(self.env.now)
