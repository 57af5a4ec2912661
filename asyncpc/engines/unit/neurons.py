"""Representation and error neurons: autonomous SimPy processes on their own clocks.

Symbols (SPEC §1): representation state ``x``, output rate ``r = f(x)``, error ``eps``,
prediction ``mu = b + Σ W r``, variance ``sigma2``, time constants ``tau_x`` and ``tau_eps``.

Integration scheme
------------------
Every clocked neuron steps on its own grid: a random phase in ``[0, dt)``, then steps of
``dt · (1 + jitter · u)``, ``u ~ U(-1, 1)``. Inputs are piecewise constant between message
arrivals, and each step integrates over the time elapsed since the neuron's previous step:

* representation neuron, explicit Euler:
  ``x ← x + Δ/tau_x · (−eps_own + f'(x) · Σ_k B_ik eps_k)``;
* error neuron with ``tau_eps > 0``, exact for inputs held over the step:
  ``eps ← eps* + (eps − eps*) · exp(−sigma2 Δ / tau_eps)``, ``eps* = (x − mu) / sigma2``;
* error neuron with ``tau_eps = 0``: no clock; ``eps = (x − mu) / sigma2`` is recomputed on
  every input change (event-driven).

The local error of this scheme is O(dt); ``tests/engines/test_ode_limit.py`` shows the trajectories
converge to a fine-step integration of the ODE as ``dt`` shrinks.

Sleeping. A clocked neuron whose rate of change, computed from its latest inputs, is at most
``settle`` (per time unit) holds its state, stops its clock and waits for a message: holding
(rather than applying the tiny step) means settled neighbours stop exchanging ever smaller
changes. The state error this leaves is bounded by ``settle`` times the neuron's time scale.
Learning synapses keep their currents up to date themselves (the alarm they share,
:mod:`~asyncpc.engines.unit.synapses`); a re-sent current wakes the neuron like any message.
An error neuron with a learning bias is its own drifting input: asleep, it sets an alarm for
when its bias will have moved by ``drift_theta`` (``|db/dt| = eta_b |eps|``), no sooner than
``dt`` and no later than ``refresh``. ``settle = 0`` never sleeps.

Jump to the prediction (``jump`` > 0, an onset mechanism). A free representation neuron with an
error neuron knows the prediction its error neuron compares it with, ``mu = x_sent − sigma2
eps_own`` (the state it last sent over the column's link and the error that came back), and keeps
a reference: a trace of ``mu`` with time constant ``jump_tau``, advanced at each of its steps
over the time since the previous one (exactly, for ``mu`` held since it was last seen). When
``|mu − ref| > jump`` (its prediction moved faster than the trace follows: a new input), the step
is a jump, ``x ← mu`` and ``ref ← mu``, instead of the Euler step. It reads nothing outside its
column and nothing tells it that a sample changed.

Learning gate (``gate`` > 0, an onset mechanism). At each of its steps a representation neuron
sets the learning gate of every synapse sitting on its column (its error synapses, and the
prediction synapses on its error neuron): ``s² / (s² + v²)``, ``s = gate``, ``v = tau_x
|dx/dt|`` (0 while clamped or asleep). The synapses learn with their postsynaptic factor times
the gate, held until the neuron's next step: a column in a transient learns little, a settled
one fully. The gate is a column's own quantity, like the error it sends to its representation
neuron.

Send-on-delta. A neuron emits a new output only when it differs from the last one emitted by
more than ``theta`` (``theta = 0``: every change).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import simpy
from simpy.events import Event

from ...activations import activation
from .. import events
from ..base import Diverged, clock_step, drift_wait
from .messages import Axon, Counters, DriftAlarm, Link, Site, Trace

if TYPE_CHECKING:
    from ...model import PopulationSpec


class PopulationCounter:
    """Messages emitted by the neurons of one population."""

    __slots__ = ("emitted",)

    def __init__(self) -> None:
        self.emitted = 0


class Neuron:
    """Clock, sleep and wake-up machinery shared by both kinds of neuron."""

    __slots__ = (
        "env", "k", "counters", "pop_counter", "theta", "dt", "jitter", "settle", "refresh",
        "drift_theta", "drifted", "alarmed", "rng", "phase", "t", "wake", "drifts", "event_driven",
        "traces", "alarm", "axon", "link", "process", "population", "gate",
    )

    def __init__(self, env: simpy.Environment, spec: PopulationSpec, k: int, *,
                 rng: np.random.Generator, counters: Counters,
                 pop_counter: PopulationCounter, index: int = 0, count: int = 1) -> None:
        self.env = env
        self.k = k
        self.population = spec.name
        self.counters = counters
        self.pop_counter = pop_counter
        self.theta = spec.theta
        self.dt = spec.dt
        self.jitter = spec.jitter
        self.settle = spec.settle
        self.refresh = spec.refresh
        self.drift_theta = spec.drift_theta
        self.drifted = 0.0  # input change from learning since the neuron last looked
        self.alarmed = False  # a refresh alarm for sub-threshold drift is pending
        self.rng = rng
        self.phase = float(rng.uniform(0.0, spec.dt))
        self.t = 0.0
        self.wake: Event | None = None
        self.drifts = False  # does the neuron's own input drift while asleep (a learning bias)?
        self.event_driven = False
        self.traces: dict[tuple[str, float], Trace] = {}
        self.gate = 1.0  # the learning gate of the synapses sitting here (``gate`` > 0)
        self.alarm: DriftAlarm | None = None  # shared by the learning synapses sitting here
        self.axon = Axon(env, index, count)  # index: place in the canonical order
        self.link: Link | None = None
        self.process: simpy.Process | None = None

    # -- wiring ------------------------------------------------------------------------------
    def set_gate(self, t: float, gate: float) -> None:
        """The synapses sitting here learn from ``t`` on with their postsynaptic factor times
        ``gate`` (their traces are told; module doc, "Learning gate")."""
        self.gate = gate
        for (signal, _), trace in self.traces.items():
            trace.set(t, gate * self.signal(signal))

    def site(self, signal: str, lam: float) -> Site:
        """The postsynaptic site for a synapse whose rule uses ``signal`` with decay ``lam``."""
        key = (signal, lam)
        trace = self.traces.get(key)
        if trace is None:
            trace = self.traces[key] = Trace(lam, self.env.now, self.signal(signal),
                                             self.drift_theta / (2.0 * max(self.refresh,
                                                                           self.dt)))
        if self.alarm is None:
            self.alarm = DriftAlarm(self.env, self.inject, self.counters)
        return Site(trace, self.inject, self.alarm, theta=self.drift_theta, h_min=self.dt,
                    h_max=max(self.refresh, self.dt))

    def signal(self, name: str) -> float:
        raise NotImplementedError

    def inject(self, delta: float, wake: bool) -> None:
        """A synapse changed this neuron's input by ``delta``: an arrival wakes the neuron; a
        change by learning alone (``wake`` False) is added up, and wakes it once the sum since
        the neuron last looked exceeds ``drift_theta`` (one wake-up per threshold of drift,
        however many synapses drift); below that, a sleeping neuron still looks again within
        ``refresh``."""
        if wake:
            self.poke()
        else:
            self.drift_by(delta)

    def drift_by(self, delta: float) -> None:
        """The drift part of :meth:`inject` (subclasses add ``delta`` to their own input, then
        poke or call this, in one frame: it is the path of every synaptic arrival)."""
        self.drifted += delta
        if abs(self.drifted) > self.drift_theta:
            self.poke()
        elif self.wake is not None and not self.alarmed:
            # below threshold: a sleeping neuron still looks again within ``refresh``
            self.alarmed = True
            events.alarm(self.env, max(self.refresh, self.dt), self.wake)

    def start(self) -> None:
        if self.event_driven:
            self.sleep()
        self.process = self.env.process(self.run())

    # -- process -----------------------------------------------------------------------------
    def run(self):
        env = self.env
        if not self.event_driven:
            yield env.timeout(self.phase)
        self.t = env.now
        while True:
            if self.wake is not None:
                yield self.wake
                self.wake = None
                if self.event_driven:
                    self.update(env.now)
                    continue
                self.t = env.now  # the state was held while asleep
            yield env.timeout(self.step())
            self.update(env.now)

    def step(self) -> float:
        return clock_step(self.dt, self.jitter, self.rng)

    def update(self, t: float) -> None:
        raise NotImplementedError

    def poke(self) -> None:
        """An input changed: wake the neuron if it sleeps."""
        wake = self.wake
        if wake is not None and not wake.triggered:
            wake.succeed()

    def sleep(self) -> None:
        self.wake = Event(self.env)


class RepresentationNeuron(Neuron):
    """Representation neuron ``i``: state ``x_i``, rate ``r_i = f(x_i)``.

    Notes
    -----
    ``tau_x dx_i/dt = −eps_i + f'(x_i) Σ_k B_ik eps_k`` while free; ``x_i = s_i(t)`` while
    clamped. ``eps_i`` arrives from the neuron's own error neuron over a local link, the sum
    ``Σ_k B_ik eps_k`` as the current of its error (feedback) synapses. It emits ``r`` to its
    prediction synapses and ``x`` to its own error neuron.
    """

    __slots__ = ("x", "r", "x0", "f", "fprime", "tau", "eps_own", "fb", "r_sent", "x_sent",
                 "clamped", "sigma2", "jump", "jump_tau", "ref", "mu_seen", "gate_s", "error")

    def __init__(self, env: simpy.Environment, spec: PopulationSpec, k: int, **kw) -> None:
        super().__init__(env, spec, k, **kw)
        act = activation(spec.activation)
        self.f = act.f
        self.fprime = act.fprime
        self.tau = spec.tau_x
        self.x = self.x0 = spec.x0
        self.r = self.f(self.x)
        self.eps_own = 0.0
        self.fb = 0.0
        self.r_sent = self.r
        self.x_sent = self.x
        self.clamped = False
        self.sigma2 = spec.variance
        self.jump, self.jump_tau = spec.jump, spec.jump_tau
        self.ref = self.mu_seen = 0.0  # the jump's reference and the last prediction seen
        self.gate_s = spec.gate
        self.error: ErrorNeuron | None = None  # the column's error neuron (wired by the network)

    def signal(self, name: str) -> float:
        return self.x if name == "x" else self.r

    def jumped(self, t: float) -> bool:
        """The onset mechanism (``jump`` > 0; module doc, "Jump to the prediction"): jump to
        the column's prediction when it has moved by more than ``jump`` from the reference."""
        mu = self.x_sent - self.sigma2 * self.eps_own  # what the error neuron compared x with
        self.ref += (self.mu_seen - self.ref) * -math.expm1(-(t - self.t) / self.jump_tau)
        self.mu_seen = mu
        if abs(mu - self.ref) <= self.jump:
            return False
        self.ref = mu
        self.t = t
        self.set_state(t, mu)
        return True

    def receive_error(self, eps: float) -> None:
        self.eps_own = eps
        self.poke()

    def inject(self, delta: float, wake: bool) -> None:
        self.fb += delta
        if wake:
            self.poke()
        else:
            self.drift_by(delta)

    def update(self, t: float) -> None:
        self.counters.neuron_updates += 1
        self.drifted, self.alarmed = 0.0, False
        if self.clamped:
            self.t = t
            self.gate_column(t, 0.0)
            self.sleep()
            return
        if self.jump and self.link is not None and self.jumped(t):
            return
        rate = (-self.eps_own + self.fprime(self.x) * self.fb) / self.tau
        if abs(rate) <= self.settle:
            self.t = t
            self.gate_column(t, 0.0)
            self.sleep()
            return
        self.gate_column(t, self.tau * rate)
        x = self.x + (t - self.t) * rate
        self.t = t
        self.set_state(t, x)

    def gate_column(self, t: float, v: float) -> None:
        """With ``gate`` > 0: the learning gate ``s² / (s² + v²)`` of the synapses sitting on the
        column (here and on its error neuron) from ``t`` on, ``v = tau_x dx/dt`` (0 while the
        state is held)."""
        if not self.gate_s:
            return
        s2 = self.gate_s * self.gate_s
        gate = s2 / (s2 + v * v)
        if gate != self.gate:
            self.set_gate(t, gate)
            if self.error is not None:
                self.error.set_gate(t, gate)

    def set_state(self, t: float, x: float) -> None:
        if not math.isfinite(x):
            raise Diverged.state("state x", x, t=t, population=self.population, index=self.k)
        self.x = x
        self.r = r = self.f(x)
        for (signal, _), trace in self.traces.items():
            trace.set(t, self.gate * (x if signal == "x" else r))
        if abs(r - self.r_sent) > self.theta:
            self.r_sent = r
            self.pop_counter.emitted += 1
            self.axon.send(r)
        if self.link is not None and abs(x - self.x_sent) > self.theta:
            self.x_sent = x
            self.link.send(x)

    # -- used by the stimulus (the world outside the network) -------------------------------
    def clamp(self, value: float) -> None:
        self.clamped = True
        if value != self.x:
            self.set_state(self.env.now, float(value))
        self.poke()

    def release(self) -> None:
        self.clamped = False
        self.t = self.env.now
        self.poke()

    def reset(self) -> None:
        if not self.clamped:
            self.set_state(self.env.now, self.x0)
            self.poke()


class ErrorNeuron(Neuron):
    """Error neuron ``k``: compares ``x_k`` with the prediction ``mu_k``.

    Notes
    -----
    ``tau_eps deps_k/dt = x_k − mu_k − sigma2 eps_k`` with ``mu_k = b_k + Σ_i W_ki r_i``
    (``tau_eps = 0``: ``eps_k = (x_k − mu_k)/sigma2``). The optional learnable bias obeys
    ``db_k/dt = eta_b eps_k``, integrated exactly between updates. The neuron sends ``eps`` to its
    own representation neuron and to its error (feedback) synapses.
    """

    __slots__ = ("eps", "x_in", "mu_in", "b", "t_b", "eta_bias", "sigma2", "tau", "eps_sent")

    def __init__(self, env: simpy.Environment, spec: PopulationSpec, k: int, **kw) -> None:
        super().__init__(env, spec, k, **kw)
        self.sigma2 = spec.variance
        self.tau = spec.tau_eps
        self.event_driven = spec.tau_eps == 0.0
        self.b = spec.prior if spec.prior is not None else 0.0
        self.t_b = env.now  # the bias is integrated up to here (it drifts while asleep)
        self.eta_bias = spec.eta_bias
        self.drifts = spec.eta_bias != 0.0
        self.x_in = spec.x0
        self.mu_in = 0.0
        self.eps = 0.0
        self.eps_sent = 0.0

    def signal(self, name: str) -> float:
        return self.eps

    def prime(self) -> None:
        """Start at the error of the initial state (called once, after wiring)."""
        self.eps = self.eps_sent = (self.x_in - self.b - self.mu_in) / self.sigma2

    def receive_x(self, x: float) -> None:
        self.x_in = x
        self.poke()

    def inject(self, delta: float, wake: bool) -> None:
        self.mu_in += delta
        if wake:
            self.poke()
        else:
            self.drift_by(delta)

    def bias_at(self, t: float) -> float:
        return self.b + self.eta_bias * self.eps * (t - self.t_b)

    def sleep(self) -> None:
        super().sleep()
        if self.drifts:  # the bias drifts while the neuron sleeps: wake by the drift rule
            h = drift_wait(abs(self.eta_bias * self.eps), self.drift_theta, self.dt,
                           max(self.refresh, self.dt))
            if math.isfinite(h):
                events.alarm(self.env, h, self.wake)

    def update(self, t: float) -> None:
        self.counters.neuron_updates += 1
        self.drifted, self.alarmed = 0.0, False
        dt = t - self.t
        if self.eta_bias != 0.0:
            self.b += self.eta_bias * self.eps * (t - self.t_b)
        self.t_b = t
        target = (self.x_in - self.b - self.mu_in) / self.sigma2
        if self.event_driven:
            eps = target
        else:
            eps = target + (self.eps - target) * math.exp(-self.sigma2 * dt / self.tau)
        if not self.event_driven and abs(target - self.eps) * self.sigma2 <= self.settle * self.tau:
            self.t = t  # settled: |deps/dt| <= settle
            self.sleep()
            return
        self.t = t
        self.set_state(t, eps)
        if self.event_driven:
            self.sleep()

    def set_state(self, t: float, eps: float) -> None:
        if not math.isfinite(eps):
            raise Diverged.state("error eps", eps, t=t, population=self.population,
                                 index=self.k)
        self.eps = eps
        for trace in self.traces.values():
            trace.set(t, self.gate * eps)
        if abs(eps - self.eps_sent) > self.theta:
            self.eps_sent = eps
            self.pop_counter.emitted += 1
            self.axon.send(eps)
            if self.link is not None:
                self.link.send(eps)
