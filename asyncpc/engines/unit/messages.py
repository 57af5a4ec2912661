"""How signals travel: channels, links, traces and the postsynaptic site.

A neuron's output leaves through an :class:`Axon`. The axon owns one :class:`Channel` per
distinct transmission delay; every synapse whose delay equals the channel's waits on that
channel, so one timeout wakes the whole group (SPEC §2). A message sent at ``t`` over a channel
of delay ``d`` is delivered at exactly ``t + d``.

Same-time messages are delivered in the order of their sending neurons (the ordering rule of
:mod:`asyncpc.engines.events`), each neuron's in sending order, and a channel chains its
arrival events (each arrival carries the event of the next one), so a synapse that is resumed
late still sees every message, once, in sending order.

A synapse talks to the neuron it sits on only through a :class:`Site`, which exposes exactly two
things: the running trace of the neuron's own signal (the postsynaptic factor of the learning
rule) and a way to change the synaptic current the neuron receives.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import simpy
from simpy.events import Event

from ..base import Counters
from ..events import message_priority, send_down


class Channel:
    """Carries one neuron's output to the synapses that share one delay.

    Synapse processes wait on :attr:`head`. :meth:`Axon.send` schedules the current head to
    trigger at ``now + delay`` with ``(value, next_head)`` — exactly what a SimPy ``Timeout``
    does (:func:`asyncpc.engines.events.send_down`) — so one heap event per message wakes the
    whole group, and the chain keeps every message in order.
    """

    __slots__ = ("_env", "delay", "head", "fan_out")

    def __init__(self, env: simpy.Environment, delay: float) -> None:
        self._env = env
        self.delay = delay
        self.head: Event = Event(env)
        self.fan_out = 0


class Axon:
    """A neuron's output: the channels (one per delay) of its outgoing synapses.

    ``index`` is the neuron's place in the network's canonical order (of ``count``): its
    messages' priority among same-time events. On a network split over processes
    (:mod:`~asyncpc.engines.unit.ranks`) ``exports`` holds one outbox per other process with
    synapses of this neuron; each emission is appended to them as ``(index, time, value)``.
    """

    __slots__ = ("_env", "channels", "log", "_list", "index", "priority", "exports")

    def __init__(self, env: simpy.Environment, index: int = 0, count: int = 1) -> None:
        self._env = env
        self.channels: dict[float, Channel] = {}
        self._list: tuple[Channel, ...] = ()
        #: an observer called on every emission (the recorder's raster), or None
        self.log: Callable[[], None] | None = None
        self.index = index
        self.priority = message_priority(index, count)
        self.exports: tuple[list, ...] = ()

    def channel(self, delay: float) -> Channel:
        """The channel for ``delay``, created on first use (one per distinct delay)."""
        ch = self.channels.get(delay)
        if ch is None:
            ch = self.channels[delay] = Channel(self._env, delay)
            self._list = tuple(self.channels.values())
        ch.fan_out += 1
        return ch

    def send(self, value: float) -> None:
        """Send ``value`` down every channel (see :class:`Channel`)."""
        if self.log is not None:
            self.log()
        send_down(self._env, self._list, value, self.priority)
        if self.exports:
            record = (self.index, self._env.now, value)
            for box in self.exports:
                box.append(record)

    def receive(self, sent: float, value: float) -> None:
        """A message this neuron sent at ``sent`` in another process, for the synapses here."""
        send_down(self._env, self._list, value, self.priority, sent)


class Link:
    """A local connection between the two neurons of one column (``x`` up, ``eps`` back)."""

    __slots__ = ("_env", "delay", "_deliver", "_counters")

    def __init__(self, env: simpy.Environment, delay: float, deliver: Callable[[float], None],
                 counters: Counters) -> None:
        self._env = env
        self.delay = delay
        self._deliver = deliver
        self._counters = counters

    def send(self, value: float) -> None:
        if self.delay == 0.0:
            self._counters.delivered += 1
            self._deliver(value)
        else:
            self._env.timeout(self.delay, value).callbacks.append(self._arrive)

    def _arrive(self, event: Event) -> None:
        self._counters.delivered += 1
        self._deliver(event.value)


class Trace:
    """Running, exponentially discounted integral of a piecewise-constant signal ``v(t)``.

    Notes
    -----
    ``z(t) = ∫_{-∞}^{t} e^{-λ (t - s)} v(s) ds`` (for ``λ = 0`` the plain integral). A synapse that
    last looked at time ``a`` obtains the exact discounted integral of the signal over ``[a, b]`` as
    ``z(b) - e^{-λ (b - a)} z(a)``, however often ``v`` changed in between.

    A reading is a pair ``(z, c)`` whose sum is the integral. For ``λ = 0`` the integral grows
    without bound, and a plain float would round every new segment to the last bit of an
    ever larger total (at 10⁸ a difference of two readings loses 8 digits); ``c`` keeps the
    low-order bits that rounding drops (compensated, "TwoSum" summation), so a difference
    ``(z_b − z_a) + (c_b − c_a)`` is accurate to the rounding of the difference itself, as if
    the integral were re-anchored at ``a``. For ``λ > 0`` the integral stays bounded and
    ``c = 0``.
    """

    __slots__ = ("lam", "z", "c", "t", "v", "learners", "v_told", "scale", "tolerance")

    def __init__(self, lam: float, t: float, v: float, tolerance: float = 0.0) -> None:
        self.lam = lam
        self.z = 0.0
        self.c = 0.0
        self.t = t
        self.v = v
        #: learning synapses whose drift depends on ``v``; told (``rearm``) whenever ``v`` has
        #: moved by more than half of what it was when they were last told, unless the move
        #: cannot matter: ``scale`` bounds how fast a move of ``v`` by 1 changes a learner's
        #: current (``|eta · pre²|``, raised by the learners as they hear ``pre``), and a move
        #: by ``Δv`` with ``Δv · scale ≤ tolerance`` (``drift_theta / (2 · refresh)``) adds at
        #: most ``drift_theta / 2`` to what any learner leaves unsent before its alarm
        self.learners: list = []
        self.v_told = v
        self.scale = 0.0
        self.tolerance = tolerance

    def at(self, t: float) -> tuple[float, float]:
        dt = t - self.t
        if self.lam == 0.0:
            return self.z, self.c + self.v * dt
        decay = math.exp(-self.lam * dt)
        return decay * self.z + self.v * (1.0 - decay) / self.lam, 0.0

    def set(self, t: float, v: float) -> None:
        """Close the segment with the old value at ``t``; ``v`` holds from ``t`` on."""
        if t != self.t:
            if self.lam == 0.0:
                step = self.v * (t - self.t)
                total = self.z + step
                kept = total - self.z  # TwoSum: what of ``step`` the total really holds
                self.c += (self.z - (total - kept)) + (step - kept)
                self.z = total
            else:
                self.z = self.at(t)[0]
            self.t = t
        self.v = v
        moved = abs(v - self.v_told)
        if self.learners and moved > 0.5 * abs(self.v_told) and moved * self.scale > \
                self.tolerance:
            self.v_told = v
            for synapse in self.learners:
                synapse.rearm(t)


class DriftAlarm:
    """The one alarm that the learning synapses sitting on a neuron share.

    Learning moves a synapse's current between arrivals. Each synapse predicts when its own
    current will have drifted by ``theta`` (its ``due``, :meth:`~asyncpc.engines.unit.synapses.
    Synapse.arm`); the alarm rings at the earliest of these, and then *every* learning synapse
    on the neuron integrates its weight to that moment and re-sends its current, the changes
    summed into one injection. The currents a neuron holds therefore stem from one moment:
    inputs whose exact sum cancels (a decaying row of ``W`` summing to zero against equal
    rates) keep cancelling to rounding, which re-sends at separate moments would not.
    """

    __slots__ = ("_env", "_inject", "_counters", "synapses", "at")

    def __init__(self, env: simpy.Environment, inject: Callable[[float, bool], None],
                 counters: Counters) -> None:
        self._env = env
        self._inject = inject
        self._counters = counters
        self.synapses: list = []  #: the learning synapses sitting on the neuron
        self.at: float | None = None  #: when the pending ring is due (None: none pending)

    def request(self, due: float) -> None:
        """Ring no later than ``due``."""
        at = self.at
        if at is None or due < at:
            self.at = due
            self._env.timeout(due - self._env.now, due).callbacks.append(self.ring)

    def ring(self, alarm: Event) -> None:
        self._counters.drift_rings += 1
        if alarm.value != self.at:
            return  # superseded by an earlier ring
        now = self._env.now
        synapses = self.synapses
        due = min(s.due for s in synapses)
        if now < due:  # arrivals re-armed every synapse for later
            self.at = due
            self._env.timeout(due - now, due).callbacks.append(self.ring)
            return
        self.at = None
        delta = 0.0
        for s in synapses:
            delta += s.refresh(now)
        self._counters.synapse_wakes += len(synapses)
        if delta != 0.0:
            self._inject(delta, False)  # the neuron adds up such drifts (drift_theta)
        self.request(min(s.arm(now) for s in synapses))


class Site:
    """What a synapse may see of the neuron it sits on, and nothing else."""

    __slots__ = ("trace", "trace_at", "inject", "alarm", "theta", "h_min", "h_max")

    def __init__(self, trace: Trace, inject: Callable[[float, bool], None], alarm: DriftAlarm,
                 *, theta: float, h_min: float, h_max: float) -> None:
        #: ``trace_at(t)``: the postsynaptic trace (see :class:`Trace`) at time ``t``, as a pair
        #: ``(z, c)``.
        self.trace_at = trace.at
        #: the trace itself: ``trace.v`` is the postsynaptic signal now (read only)
        self.trace = trace
        #: ``inject(delta, wake)``: change the synaptic current by ``delta``; ``wake`` rouses
        #: a sleeping neuron.
        self.inject = inject
        #: the drift alarm the neuron's learning synapses share (:class:`DriftAlarm`)
        self.alarm = alarm
        #: the synapse's wake-up rule (:meth:`~asyncpc.engines.unit.synapses.Synapse.arm`):
        #: re-send the current when it has drifted by ``theta``, waiting at least ``h_min``
        #: (the neuron's step) and at most ``h_max`` (``refresh``)
        self.theta = theta
        self.h_min = h_min
        self.h_max = h_max
