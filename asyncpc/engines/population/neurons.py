"""The population engine's neurons: the vectors ``x``, ``r = f(x)``, ``eps`` and ``b`` of one
population, stepped by one SimPy process on the population's own clock.

Integration scheme
------------------
Each population steps on its own clock: a random phase in ``[0, dt)``, then steps of
``dt · (1 + jitter · u)``, ``u ~ U(−1, 1)``. Nothing steps the whole network. At a step at time
``t``, ``Δ`` after the previous one, the population

1. integrates the synapses sitting on it and its bias (``db/dt = eta_b eps``) up to ``t``;
2. computes the prediction ``mu = b + Σ_edges Σ_i W_ki pre_ki`` and the error target
   ``(x − mu)/sigma2`` (error neurons with ``tau_eps > 0`` relax towards it exactly over ``Δ``);
3. advances the free representation neurons by explicit Euler,
   ``x ← x + Δ/tau_x · (−eps + f'(x) · Σ_k B_ik pre_ik)``;
4. instantaneous error neurons (``tau_eps = 0``) then follow the new ``x`` (as the unit
   engine's event-driven error neurons do);
5. emits, per neuron, only the outputs that moved by more than ``theta`` (send-on-delta).

The onset mechanisms are the unit engine's (:mod:`asyncpc.engines.unit.neurons`). With
``jump`` > 0, step 2 is preceded by the jump: a free neuron whose prediction ``mu`` moved by
more than ``jump`` from its reference (a trace of ``mu``) takes ``x ← mu`` instead of its Euler
step. With ``gate`` > 0, after step 3 each column sets the learning gate of the synapses sitting
on it (its ``W`` and its ``B``) from its rate ``v = tau_x |dx/dt|``: ``s² / (s² + v²)``,
``s = gate`` (1 while the population sleeps), held until its next step, which integrates the
synapses with it first.

Error neurons are thus recomputed on their population's clock, not at every arrival: the two
engines differ by O(dt) and converge to the same ODE (``tests/engines/test_engines.py``).

Sleeping. When every free neuron's rate of change is at most ``settle`` (and clocked errors
are settled too), the population holds its state and stops its clock until an arrival, a
clamp or a reset wakes it (arrivals do not wake a population whose neurons are all clamped and
that has no error neurons: it has nothing to compute). Learning keeps changing its input
currents meanwhile, so with plastic synapses or a learning bias it also sets its own alarm, by
the rule the unit engine's synapses follow one by one (:mod:`~asyncpc.engines.unit.synapses`):
for when the fastest-moving input current of any of its neurons (``Σ_i pre_i · dw_i/dt`` over
each projection, or ``db/dt``) will have drifted by ``drift_theta``, no sooner than ``dt`` and
no later than ``refresh``. Awake, it reads every current afresh at each step. Synapses and
biases are integrated exactly over the sleep when it ends.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import simpy
from simpy.events import Event

from ...activations import activation
from ...model import PopulationSpec, rng_for
from ..base import Diverged, clock_step, drift_wait
from ..events import alarm, alarm_at, step_timeout
from .synapses import NEVER, Projection

#: the sequence number of the world outside's actions: before every network event at equal
#: times (the ordering rule of :mod:`~asyncpc.engines.events`)
WORLD = -1

if TYPE_CHECKING:
    from .network import PopulationNetwork


class PopulationState:
    """The neurons of one population: vectors ``x``, ``r``, ``eps``, ``b`` and their clock."""

    def __init__(self, net: PopulationNetwork, spec: PopulationSpec, *, has_errors: bool,
                 code: int, bias: np.ndarray | None = None) -> None:
        self.net = net
        self.env = net.env
        self.spec = spec
        self.name = spec.name
        self.code = code
        self.has_errors = has_errors
        n = spec.n
        act = activation(spec.activation)
        self.f, self.fprime = act.f_array, act.fprime_array
        self.x = np.full(n, float(spec.x0))
        self.r = self.f(self.x)
        self.b = np.zeros(n) if bias is None else np.array(bias, dtype=float)
        if bias is None and spec.prior is not None:
            self.b[:] = spec.prior
        self.eta_bias = spec.eta_bias if has_errors else 0.0
        self.eps = np.zeros(n)
        self.clamped = np.zeros(n, dtype=bool)
        self.any_free = True  # is any neuron free? (kept with ``clamped``; n ≥ 1)
        self.partly = False  # are some, not all, neurons clamped?
        self.x_in = self.x.copy()  # x as seen by the column's error neuron (local link)
        self.eps_own = np.zeros(n)  # eps as seen by the column's representation neuron
        self.r_sent = self.r.copy()
        self.x_sent = self.x.copy()
        self.eps_sent = np.zeros(n)
        self.incoming: list[Projection] = []  # W of the edges into this population
        self.feedback: list[Projection] = []  # B of the edges out of it
        self.out_r: list[Projection] = []  # projections elsewhere that receive r
        self.out_eps: list[Projection] = []  # projections elsewhere that receive eps
        self.rng = rng_for(net.seed, "population clock", spec.name)
        self.phase = float(self.rng.uniform(0.0, spec.dt))
        self.t = 0.0  # time of the last step (the state's time)
        self.t_b = 0.0  # time up to which the bias is integrated
        self.wake: Event | None = None
        self.wake_at = NEVER  # asleep: the earliest alarm set for a message in flight
        self.rings: dict[tuple[float, int], Event] = {}  # the alarms set for messages
        self.seq = WORLD  # the sequence number of the event it is acting in (steps: its own)
        self.step_seq = WORLD  # ... of its next step
        self.drifts = False  # do plastic synapses or a learning bias change its inputs asleep?
        self.learning: list[Projection] = []  # the plastic projections sitting on it
        self.learning_in: list[Projection] = []  # ... of them, the incoming ones
        self.jumps = spec.jump > 0.0 and has_errors  # the onset mechanisms (module doc)
        self.gated = spec.gate > 0.0
        self.gate = np.ones(n)  # each column's learning gate, from its last step on
        self.ref = np.zeros(n)  # the jump's reference, and the last prediction seen
        self.mu_seen = np.zeros(n)
        self.emitted = 0
        self.steps = 0  # clock steps taken (the bench's floor replays them)
        self.log: Callable[[float, int, int], None] | None = None
        self.process: simpy.Process | None = None

    # -- signals -----------------------------------------------------------------------------
    def signal(self, name: str) -> np.ndarray:
        return self.eps if name == "eps" else self.x if name == "x" else self.r

    def post_of(self, p: Projection) -> np.ndarray:
        """The postsynaptic factor of the synapses of ``p`` (which sit on this population):
        its signal, times the learning gate of each column when ``gate`` > 0."""
        v = self.signal(p.post)
        return v * self.gate if self.gated else v

    def bias_at(self, t: float) -> np.ndarray:
        return self.b + self.eta_bias * self.eps * (t - self.t_b)


    def integrate(self, t: float) -> None:
        """Bring every synapse sitting on this population and its bias up to ``t``, applying
        the messages in flight that arrived before the event it is acting in."""
        seq = self.seq
        for p in self.incoming:
            p.flush(t, seq)
            p.advance(t, self.post_of(p))
        for p in self.feedback:
            p.flush(t, seq)
            p.advance(t, self.post_of(p))
        if self.eta_bias != 0.0 and t != self.t_b:
            self.b += self.eta_bias * self.eps * (t - self.t_b)
        self.t_b = t

    # -- process -----------------------------------------------------------------------------
    def start(self) -> None:
        self.process = self.env.process(self.run())

    def run(self):
        env = self.env
        yield env.timeout(self.phase)
        self.t = env.now
        while True:
            if self.wake is not None:
                yield self.wake
                self.wake = None
                self.t = env.now  # the state was held while asleep
            event, self.step_seq = step_timeout(env, self.step())
            yield event
            self.seq = self.step_seq
            self.update(env.now)

    def step(self) -> float:
        return clock_step(self.spec.dt, self.spec.jitter, self.rng)

    def poke(self) -> None:
        """Wake the population (an arrival, a clamp, a release, a reset) — unless every neuron
        is clamped and it has no error neurons: then a step has nothing to compute (its
        synapses integrate exactly at their next arrival)."""
        wake = self.wake
        if wake is not None and not wake.triggered and (self.any_free or self.has_errors):
            wake.succeed()

    def expect(self, arrival: tuple[float, int]) -> None:
        """A message will arrive at ``arrival`` (its place in the event order): asleep, the
        population sets an alarm there (where the message's own event would be) that applies
        it and pokes, unless an earlier one is set."""
        wake = self.wake
        if wake is None or wake.triggered or not arrival < self.wake_at:
            return
        self.wake_at = arrival
        ring = self.rings.get(arrival)
        if ring is not None:  # set in an earlier sleep: now for this one
            ring._value = (self, wake, arrival)
        else:
            self.rings[arrival] = alarm_at(self.env, arrival, (self, wake, arrival),
                                           _arrival_ring)

    def sleep(self) -> None:
        self.wake = Event(self.env)
        self.wake_at = NEVER
        due = min((p.due for p in self.incoming), default=NEVER)
        due = min((p.due for p in self.feedback), default=due)
        if due < NEVER:  # messages already in flight to it
            self.expect(due)
        wake = self.wake
        if not self.drifts:
            return
        spec, t = self.spec, self.env.now
        rate = float(np.abs(self.eps).max()) * abs(self.eta_bias) if self.eta_bias else 0.0
        # the feedback currents of clamped neurons move nothing: scan them only if one is free
        scanned = self.learning if self.any_free else self.learning_in
        for p in scanned:
            rate = max(rate, float(p.drift(t).max()))
        if not scanned and not self.eta_bias:
            return  # nothing it reads drifts: no alarm (a clamp, a release or a message wakes it)
        h = drift_wait(rate, spec.drift_theta, spec.dt, max(spec.refresh, spec.dt))
        if math.isfinite(h):
            alarm(self.env, h, wake)

    def update(self, t: float) -> None:
        """One step at ``t`` (module doc, "Integration scheme"): synapses and bias integrated
        to ``t``, the error neurons' next values, the representation neurons' Euler step, and
        sleep when neither moves."""
        spec = self.spec
        span = t - self.t
        self.t = t
        self.steps += 1
        self.net.counters.neuron_updates += spec.n * (2 if self.has_errors else 1)
        self.integrate(t)
        jumped = self.jump(t, span) if self.jumps and self.any_free else None
        mu = eps_next = None
        eps_settled = True
        if self.has_errors:
            mu, eps_next, eps_settled = self.next_errors(t, span)
        rate = self.rate(t, eps_next) if self.any_free else None
        # (max |v|) / tau_x is max (|v| / tau_x) exactly: division rounds monotonically
        moving = rate is not None and float(np.abs(rate).max()) / spec.tau_x > spec.settle
        if jumped is not None:  # a jump was this step's move
            moving = True
            rate[jumped] = 0.0
        if self.gated:  # the gates from this step on (x held while asleep: 1)
            self.set_gate(rate if moving else None)
        if not moving and eps_settled:
            if self.has_errors and spec.tau_eps == 0.0:
                self.set_eps(t, eps_next)
            self.sleep()
            return
        if moving:
            rate /= spec.tau_x
            x = self.x + span * rate
            if self.partly:
                x[self.clamped] = self.x[self.clamped]
            self.set_x(t, x)
        if self.has_errors:
            if spec.tau_eps == 0.0 and spec.local_delay == 0.0:  # they follow the new x
                eps_next = self.x - mu
                if spec.variance != 1.0:
                    eps_next /= spec.variance
            self.set_eps(t, eps_next)

    def set_gate(self, rate: np.ndarray | None) -> None:
        """Each column's learning gate ``s² / (s² + v²)``, ``v = tau_x |dx/dt|`` (``rate``;
        ``None``: the state is held, 1). Called after the synapses are integrated to now."""
        if rate is None:
            self.gate = np.ones(self.spec.n)
            return
        s2 = self.spec.gate * self.spec.gate
        self.gate = s2 / (s2 + rate * rate)

    def jump(self, t: float, span: float) -> np.ndarray | None:
        """The onset mechanism (``jump`` > 0): each free neuron whose prediction has moved by
        more than ``jump`` from its reference (a trace of ``mu``, time constant ``jump_tau``,
        advanced over ``span`` for ``mu`` held since it was last seen) jumps, ``x ← mu``,
        ``ref ← mu``. Which neurons jumped (``None``: none)."""
        spec = self.spec
        mu = self.prediction(t)
        self.ref += (self.mu_seen - self.ref) * -math.expm1(-span / spec.jump_tau)
        self.mu_seen = mu.copy()
        jumped = np.abs(mu - self.ref) > spec.jump
        if self.partly:
            jumped &= ~self.clamped
        if not jumped.any():
            return None
        self.ref[jumped] = mu[jumped]
        x = self.x.copy()
        x[jumped] = mu[jumped]
        self.set_x(t, x)
        return jumped

    def next_errors(self, t: float, span: float) -> tuple[np.ndarray, np.ndarray, bool]:
        """``(mu, eps_next, settled)``: the prediction, the error neurons' value after this
        step (their target, or the exact relaxation towards it over ``span`` when clocked),
        and whether clocked error neurons have settled."""
        spec = self.spec
        mu = self.prediction(t)
        target = (self.x_in if spec.local_delay != 0.0 else self.x) - mu
        if spec.variance != 1.0:
            target /= spec.variance
        if spec.tau_eps == 0.0:
            return mu, target, True
        eps_next = target + (self.eps - target) * math.exp(-spec.variance * span / spec.tau_eps)
        settled = (float(np.max(np.abs(target - self.eps))) * spec.variance
                   <= spec.settle * spec.tau_eps)
        return mu, eps_next, settled

    def rate(self, t: float, eps_next: np.ndarray | None) -> np.ndarray:
        """``tau_x dx/dt`` of every neuron (0 for clamped ones): ``f'(x) Σ B eps − eps_own``,
        with the column's own error as it arrives (now, without a local delay)."""
        spec = self.spec
        drive = self.feedback[0].current(t) if self.feedback else np.zeros(spec.n)
        for p in self.feedback[1:]:
            drive = drive + p.current(t)
        eps_own = (self.eps_own if spec.local_delay != 0.0
                   else eps_next if self.has_errors else 0.0)
        rate = self.fprime(self.x) * drive - eps_own
        if self.partly:
            rate[self.clamped] = 0.0
        return rate

    def prediction(self, t: float) -> np.ndarray:
        """``mu = b + Σ W pre`` as the error neurons see it (synapses integrated to ``t``)."""
        mu = self.b + self.incoming[0].current(t) if self.incoming else self.b.copy()
        for p in self.incoming[1:]:
            mu += p.current(t)
        return mu

    def follow(self, t: float) -> None:
        """Instantaneous error neurons of a column without local delay follow a change of
        ``x`` at once (the unit engine's event-driven error neurons do the same)."""
        spec = self.spec
        if self.has_errors and spec.tau_eps == 0.0 and spec.local_delay == 0.0:
            self.set_eps(t, (self.x - self.prediction(t)) / spec.variance)

    # -- state changes and emissions -----------------------------------------------------------
    def _finite(self, what: str, values: np.ndarray, t: float) -> None:
        """Raise :class:`Diverged` naming the first non-finite entry of ``values``, if any."""
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            k = int(bad[0])
            raise Diverged.state(what, values[k], t=t, population=self.name, index=k)

    def set_x(self, t: float, x: np.ndarray) -> None:
        theta = self.spec.theta
        if self.has_errors:  # the change since x was last sent is needed anyway
            moves = np.abs(x - self.x_sent)  # x_sent is finite: NaN or inf iff x is not
            top = moves.max()
            if not top < math.inf:
                self._finite("state x", x, t)  # or only the difference overflowed
        elif not np.isfinite(x).all():
            self._finite("state x", x, t)
        self.x = x
        self.r = r = self.f(x)
        sent = np.abs(r - self.r_sent) > theta
        if sent.any():
            self.r_sent[sent] = r[sent]
            self._emit(t, sent, self.r_sent.copy(), self.out_r)
        if self.has_errors and top > theta:
            moved = moves > theta
            self.x_sent[moved] = x[moved]
            self.net.counters.delivered += int(np.count_nonzero(moved))  # the local link
            if self.spec.local_delay > 0.0:
                self._local(self.x_in, self.x_sent.copy(), moved)

    def set_eps(self, t: float, eps: np.ndarray) -> None:
        moves = np.abs(eps - self.eps_sent)  # eps_sent is finite: NaN or inf iff eps is not
        top = moves.max()
        if not top < math.inf:
            self._finite("error eps", eps, t)  # or only the difference overflowed
        self.eps = eps
        if top > self.spec.theta:
            sent = moves > self.spec.theta
            self.eps_sent[sent] = eps[sent]
            values = self.eps_sent.copy()
            self._emit(t, sent, values, self.out_eps)
            self.net.counters.delivered += int(np.count_nonzero(sent))  # the local link
            if self.spec.local_delay > 0.0:
                self._local(self.eps_own, values, sent)

    def _emit(self, t: float, sent: np.ndarray, values: np.ndarray,
              targets: list[Projection]) -> None:
        count = int(np.count_nonzero(sent))
        self.emitted += count
        if self.log is not None:
            for k in np.flatnonzero(sent):
                if self.log is None:
                    break  # the observer stopped listening
                self.log(t, self.code, int(k))
        full = count == len(sent)
        seq, eid = self.seq, self.env._eid
        for proj in targets:
            owner = proj.owner
            proj.flush(t, seq)  # what arrived before this event; only messages in flight stay
            for group in proj.groups:
                present = group.present
                if present is not None and not full and not present[sent].any():
                    continue  # no sending neuron has a synapse with this delay
                if group.delay == 0.0:
                    proj.deliver(group, values, sent, count, t)
                    owner.poke()
                else:  # its place in the event order: as a timeout scheduled now would have
                    arrival = (t + group.delay, next(eid))
                    proj.put(group, arrival, values, sent, count)
                    owner.expect(arrival)

    def _local(self, dest: np.ndarray, values: np.ndarray, sent: np.ndarray) -> None:
        """Send over the column's own link (delay ``local_delay``) into ``dest``."""
        self.env.timeout(self.spec.local_delay, (self, dest, values, sent)).callbacks.append(
            _arrive_local)

    # -- the world outside ------------------------------------------------------------------
    def clamp(self, values: np.ndarray) -> None:
        now = self.env.now
        self.seq = WORLD
        free = np.isnan(values)
        self.clamped = ~free
        self.any_free = bool(free.any())
        self.partly = self.any_free and not free.all()
        x = np.where(free, self.x, values)
        if not np.array_equal(x, self.x):
            self.integrate(now)
            self.set_x(now, x)
            self.follow(now)
        self.poke()

    def release(self) -> None:
        self.clamped[:] = False
        self.any_free, self.partly = True, False
        self.t = self.env.now
        self.poke()

    def reset(self) -> None:
        now = self.env.now
        self.seq = WORLD
        x = np.where(self.clamped, self.x, self.spec.x0)
        if not np.array_equal(x, self.x):
            self.integrate(now)
            self.set_x(now, x)
            self.follow(now)
            self.poke()


def _arrive_local(event: Event) -> None:
    pop, dest, values, sent = event.value
    dest[sent] = values[sent]
    pop.poke()


def _arrival_ring(event: Event) -> None:
    """A message's alarm: apply what has arrived up to it, and poke if still asleep."""
    pop, wake, (t, seq) = event.value
    del pop.rings[(t, seq)]
    if wake is pop.wake:  # still the same sleep
        for p in pop.incoming + pop.feedback:
            p.flush(t, seq + 1)
        pop.poke()
