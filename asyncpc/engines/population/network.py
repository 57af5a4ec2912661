"""The population engine: the model of SPEC §1 with one SimPy process per population.

Symbols (SPEC §1): per population the vectors ``x``, ``r = f(x)``, ``eps`` and the bias ``b``;
per edge ``s → t`` the prediction weights ``W`` (``n_t × n_s``), which sit on ``t``'s error
neurons, and the feedback weights ``B`` (``n_s × n_t``), which sit on ``s``'s representation
neurons.

Synapses as matrices
--------------------
A :class:`Projection` holds the synapses of one edge in one direction, kept by the population
they sit on (the postsynaptic one): ``W`` by the target, ``B`` by the source. Beside the
weights it keeps ``pre``, the presynaptic values *as delivered*: entry ``(k, i)`` is the last
signal of presynaptic neuron ``i`` that has reached synapse ``(k, i)``. Every synapse has its
own delay, rounded to a grid: ``delay_resolution`` when it is set, otherwise the step ``dt`` of
the population that sends the signal (a positive delay never rounds to 0). The synapses of a
projection that share a delay form a group; an emission schedules one SimPy timeout per group
and, on arrival, writes the sent values into that group's entries of ``pre``. When all synapses
of a projection share one delay, ``pre`` is stored as a single row (all rows are equal) and the
currents are matrix-vector products.

Exact plasticity. ``dw/dt = eta · pre · post − lam · w`` with ``post`` the owner's own signal
(``eps`` for ``W``; ``r``, or ``x`` for ``hebbian_raw``, for ``B``). A projection is integrated
whenever either factor is about to change (the owner's step, clamp or reset; an arrival), so
both are constant over every interval it integrates and the solution
``w ← e^{−lam Δ} w + (eta/lam)(1 − e^{−lam Δ}) pre·post`` is exact. While ``pre`` holds
still, the sum of such steps keeps the form ``decay · w_m + acc ⊗ pre`` (a scalar and a
vector over the postsynaptic neurons), and so do the currents (``decay · Σ w_m pre + acc ·
Σ pre²``): a step costs vector operations, and the matrix is updated only when ``pre``
changes (an arrival). With zero delays, equal rates and ``theta = 0`` the ``W`` and ``B`` of an
edge integrate the same product ``r_i eps_k``, so the Kolen–Pollack identity
``W − Bᵀ = e^{−lam t}(W₀ − B₀ᵀ)`` holds to rounding, as in the unit engine.

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
from collections.abc import Callable, Mapping

import networkx as nx
import numpy as np
import simpy
from simpy.events import Event

from ...activations import activation
from ...model import EdgeSpec, PopulationSpec, rng_for
from .. import events
from ..base import Counters, Diverged, Engine, drift_wait, sampled_delays
from ..events import alarm


def grid_delays(delays: np.ndarray, grid: float) -> np.ndarray:
    """Round ``delays`` to multiples of ``grid``; a positive delay becomes at least ``grid``."""
    rounded = np.round(delays / grid) * grid
    return np.where((delays > 0.0) & (rounded == 0.0), grid, rounded)


class Group:
    """The synapses of a projection that share one delay: one SimPy timeout per emission.

    ``flat`` are their indices into the projection's ``pre`` (``None``: every synapse, stored
    as one row), ``cols`` the presynaptic neuron of each, ``present`` which presynaptic
    neurons have a synapse here (``None``: all). A partial emission is written through a
    boolean ``mask`` of the group when the projection has at most :data:`MASKED` groups (one
    vectorised pass, cheaper than gathering indices when few neurons send), else through
    ``flat``; a full one always through ``flat``.
    """

    __slots__ = ("delay", "flat", "cols", "present", "mask")

    #: up to this many groups a projection keeps a boolean mask per group (1 byte per synapse
    #: each)
    MASKED = 4

    def __init__(self, delay: float, members: np.ndarray | None = None, *,
                 masked: bool = True) -> None:
        self.delay = delay
        self.flat = self.cols = self.present = self.mask = None
        if members is None:
            return
        self.flat = np.flatnonzero(members)
        self.cols = self.flat % members.shape[1]
        present = members.any(axis=0)
        self.present = None if present.all() else present
        self.mask = members if masked else None


class Projection:
    """The synapses of one edge in one direction, held by the population they sit on.

    Parameters
    ----------
    w : initial weights (postsynaptic × presynaptic).
    pre : initial delivered presynaptic values (presynaptic vector).
    delays : per-synapse delays (postsynaptic × presynaptic), already on the grid.
    eta, lam : learning rate and decay (per time unit).
    post : which signal of the owner is the postsynaptic factor: ``"eps"``, ``"r"`` or ``"x"``.

    The weights are kept factored while ``pre`` holds still (module doc, "Exact plasticity"):
    ``w(t) = decay · w_m + acc ⊗ pre`` (entry ``(k, i)``: ``decay · w_m[k, i] + acc[k] ·
    pre[k, i]``), with ``w_m`` the weights when ``pre`` last changed; integrating and reading
    the currents then cost vector operations only, and ``w_m`` is brought up to date
    (:meth:`settle`) just before ``pre`` changes or when someone asks for the weights.
    """

    __slots__ = ("w", "pre", "eta", "lam", "plastic", "post", "t", "groups", "uniform", "twin",
                 "owner", "counters", "arrivals", "full_arrivals", "senders", "rereads", "settles",
                 "_buf", "_where", "_decay", "_acc", "_pending", "_base", "_squares", "_memo_t",
                 "_memo")

    def __init__(self, w: np.ndarray, pre: np.ndarray, delays: np.ndarray, *, eta: float,
                 lam: float, post: str, t: float, counters: Counters) -> None:
        self.w = np.array(w, dtype=float)  # w_m: the weights when pre last changed
        self.eta = eta
        self.lam = lam
        self.plastic = eta != 0.0 or lam != 0.0
        self.post = post
        self.t = t
        self.counters = counters
        self.twin: Projection | None = None  # rule "tied": B ≡ twinᵀ (non-local)
        # for the bench's floor: messages (group deliveries) received, those from every
        # presynaptic neuron at once, the sending neurons of the others (summed), the
        # re-readings of Σ_i w_m pre after a change of pre, and the settles that did work
        self.arrivals = self.full_arrivals = self.senders = self.rereads = self.settles = 0
        self.owner: PopulationState | None = None
        values = np.unique(delays)
        self.uniform = len(values) == 1
        n_post = self.w.shape[0]
        self.pre = np.tile(np.asarray(pre, dtype=float), (1 if self.uniform else n_post, 1))
        self._buf = np.empty_like(self.w)
        self._decay = 1.0  # w(t) = decay · w_m + acc ⊗ pre
        self._acc = np.zeros(n_post)
        self._pending = False  # decay ≠ 1 or acc ≠ 0
        self._base: np.ndarray | None = None  # Σ_i w_m[k, i] pre_ki, until w_m or pre change
        self._squares: np.ndarray | float | None = None  # Σ_i pre_ki², until pre changes
        self._memo_t: float | None = None  # current() at this time, until w or pre change
        self._memo: np.ndarray | None = None
        masked = not self.uniform and len(values) <= Group.MASKED
        self._where = np.empty(self.w.shape, dtype=bool) if masked else None
        self.groups = ([Group(float(values[0]))] if self.uniform else
                       [Group(float(d), delays == d, masked=masked) for d in values])

    def advance(self, t: float, post: np.ndarray) -> None:
        """Integrate the weights exactly up to ``t`` (both factors constant since ``self.t``):
        over ``Δ``, ``w ← e^{−lam Δ} w + g(Δ) post ⊗ pre`` with ``g = eta Δ`` (``lam = 0``) or
        ``eta (1 − e^{−lam Δ}) / lam``, i.e. ``decay ← e^{−lam Δ} decay`` and
        ``acc ← e^{−lam Δ} acc + g(Δ) post``."""
        span = t - self.t
        self.t = t
        if span <= 0.0 or not self.plastic:
            return
        self._memo_t = None
        self._pending = True
        self.counters.synapse_updates += self.w.size
        acc = self._acc
        if self.lam == 0.0:
            acc += (self.eta * span) * post
        else:
            decay = math.exp(-self.lam * span)
            self._decay *= decay
            acc *= decay
            acc += (self.eta * (1.0 - decay) / self.lam) * post

    def settle(self) -> None:
        """Fold the factored integration into ``w_m`` (before ``pre`` changes)."""
        if not self._pending:
            return
        self.settles += 1
        w = self.w
        if self._decay != 1.0:
            w *= self._decay
        w += np.multiply(self._acc[:, None], self.pre, out=self._buf)
        self._decay = 1.0
        self._acc.fill(0.0)
        self._pending = False
        self._base = None

    def weight_at(self, t: float, post: np.ndarray) -> np.ndarray:
        """The weights at ``t ≥ self.t`` without changing any state (for observers)."""
        if self.twin is not None:
            return self.twin.weight_at(t, self.twin.owner.signal("eps")).T
        span = t - self.t
        decay, acc = self._decay, self._acc
        if span > 0.0 and self.plastic:
            if self.lam == 0.0:
                acc = acc + self.eta * span * post
            else:
                step = math.exp(-self.lam * span)
                decay, acc = decay * step, step * acc + self.eta * (1.0 - step) / self.lam * post
        elif not self._pending:
            return self.w.copy()
        return decay * self.w + acc[:, None] * self.pre

    def squares(self) -> np.ndarray | float:
        """``Σ_i pre_ki²`` for every postsynaptic neuron ``k`` (kept until ``pre`` changes)."""
        squares = self._squares
        if squares is None:
            pre = self.pre
            squares = pre[0] @ pre[0] if self.uniform else np.einsum("ij,ij->i", pre, pre)
            self._squares = squares
        return squares

    def drift(self, t: float) -> np.ndarray:
        """``|d/dt Σ_i w_ki pre_ki|`` for every postsynaptic neuron ``k``: how fast learning
        moves each current (weights integrated to ``t``)."""
        if self.twin is not None:  # B ≡ twinᵀ moves as the twin does
            tw = self.twin
            eps = tw.owner.signal("eps")
            dw = (tw.eta * eps[:, None] * tw.pre - tw.lam * tw.weight_at(t, eps)).T
            return np.abs((dw * self.pre).sum(axis=1))
        # Σ_i (eta post_k pre_ki − lam w_ki) pre_ki = eta post_k Σ_i pre_ki² − lam current_k
        d = self.eta * self.owner.signal(self.post) * self.squares()
        if self.lam != 0.0:
            d -= self.lam * self.current(t)
        return np.abs(d, out=d)

    def current(self, t: float) -> np.ndarray:
        """``Σ_i w_ki pre_ki`` for every postsynaptic neuron ``k`` (weights as of ``t``):
        ``decay · Σ_i w_m[k, i] pre_ki + acc_k · Σ_i pre_ki²``. Kept until the weights or
        ``pre`` change (an update and the drift scan before sleeping ask at the same time)."""
        if self.twin is not None:
            w = self.twin.weight_at(t, self.twin.owner.signal("eps")).T
            return w @ self.pre[0] if self.uniform else np.einsum("ij,ij->i", w, self.pre)
        if self._memo_t == t:
            return self._memo
        base = self._base
        if base is None:
            self.rereads += 1
            w, pre = self.w, self.pre
            base = self._base = w @ pre[0] if self.uniform else np.einsum("ij,ij->i", w, pre)
        c = self._decay * base + self._acc * self.squares() if self._pending else base
        self._memo_t, self._memo = t, c
        return c

    def set_pre(self, values: np.ndarray) -> None:
        """Every synapse now holds ``values`` (a presynaptic vector)."""
        self.settle()
        self.pre[:] = values[None, :]
        self._base = self._squares = self._memo_t = None

    def receive(self, group: Group, values: np.ndarray, sent: np.ndarray, count: int) -> int:
        """Write the sent presynaptic ``values`` into one group's entries (``count``: how many
        presynaptic neurons sent); return how many synapses received a message."""
        self.arrivals += 1
        self.settle()
        self._base = self._squares = self._memo_t = None
        if count == len(sent):
            self.full_arrivals += 1
            if group.flat is None:
                self.pre[0] = values
                return count * self.w.shape[0]
            np.put(self.pre, group.flat, values[group.cols])
            return len(group.flat)
        self.senders += count
        if group.flat is None:
            self.pre[0, sent] = values[sent]
            return count * self.w.shape[0]
        if group.mask is None:
            m = sent[group.cols]
            sel = group.flat[m]
            np.put(self.pre, sel, values[group.cols[m]])
            return len(sel)
        where = np.logical_and(group.mask, sent, out=self._where)
        np.copyto(self.pre, values, where=where)
        return int(np.count_nonzero(where))


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
        self.drifts = False  # do plastic synapses or a learning bias change its inputs asleep?
        self.learning: list[Projection] = []  # the plastic projections sitting on it
        self.learning_in: list[Projection] = []  # ... of them, the incoming ones
        self.emitted = 0
        self.steps = 0  # clock steps taken (the bench's floor replays them)
        self.log: Callable[[float, int, int], None] | None = None
        self.process: simpy.Process | None = None

    # -- signals -----------------------------------------------------------------------------
    def signal(self, name: str) -> np.ndarray:
        return self.eps if name == "eps" else self.x if name == "x" else self.r

    def bias_at(self, t: float) -> np.ndarray:
        return self.b + self.eta_bias * self.eps * (t - self.t_b)


    def integrate(self, t: float) -> None:
        """Bring every synapse sitting on this population and its bias up to ``t``."""
        for p in self.incoming:
            p.advance(t, self.eps)
        for p in self.feedback:
            p.advance(t, self.signal(p.post))
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
            yield env.timeout(self.step())
            self.update(env.now)

    def step(self) -> float:
        spec = self.spec
        if spec.jitter == 0.0:
            return spec.dt
        return spec.dt * (1.0 + spec.jitter * (2.0 * self.rng.random() - 1.0))

    def poke(self) -> None:
        """Wake the population (an arrival, a clamp, a release, a reset) — unless every neuron
        is clamped and it has no error neurons: then a step has nothing to compute (its
        synapses integrate exactly at their next arrival)."""
        wake = self.wake
        if wake is not None and not wake.triggered and (self.any_free or self.has_errors):
            wake.succeed()

    def sleep(self) -> None:
        self.wake = wake = Event(self.env)
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
        spec = self.spec
        span = t - self.t
        self.t = t
        self.steps += 1
        self.net.counters.neuron_updates += spec.n * (2 if self.has_errors else 1)
        self.integrate(t)
        instant = spec.tau_eps == 0.0
        local = spec.local_delay == 0.0
        eps_settled = True
        if self.has_errors:
            mu = self.prediction(t)
            target = (self.x_in if not local else self.x) - mu
            if spec.variance != 1.0:
                target /= spec.variance
            if instant:
                eps_next = target
            else:
                eps_next = target + (self.eps - target) * math.exp(
                    -spec.variance * span / spec.tau_eps)
                eps_settled = (float(np.max(np.abs(target - self.eps))) * spec.variance
                               <= spec.settle * spec.tau_eps)
        moving = self.any_free
        if moving:
            drive = self.feedback[0].current(t) if self.feedback else np.zeros(spec.n)
            for p in self.feedback[1:]:
                drive = drive + p.current(t)
            eps_own = self.eps_own if not local else (eps_next if self.has_errors else 0.0)
            rate = self.fprime(self.x) * drive - eps_own  # times tau_x, until it moves
            if self.partly:
                rate[self.clamped] = 0.0
            # (max |v|) / tau_x is max (|v| / tau_x) exactly: division rounds monotonically
            moving = float(np.abs(rate).max()) / spec.tau_x > spec.settle
        if not moving and eps_settled:
            if self.has_errors and instant:
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
            if instant and local:
                eps_next = self.x - mu
                if spec.variance != 1.0:
                    eps_next /= spec.variance
            self.set_eps(t, eps_next)

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
        env = self.env
        for proj in targets:
            for group in proj.groups:
                present = group.present
                if present is not None and not full and not present[sent].any():
                    continue  # no sending neuron has a synapse with this delay
                if group.delay == 0.0:
                    _deliver(proj, group, values, sent, count)
                else:
                    env.timeout(group.delay, (proj, group, values, sent, count)).callbacks.append(
                        _arrive)

    def _local(self, dest: np.ndarray, values: np.ndarray, sent: np.ndarray) -> None:
        """Send over the column's own link (delay ``local_delay``) into ``dest``."""
        self.env.timeout(self.spec.local_delay, (self, dest, values, sent)).callbacks.append(
            _arrive_local)

    # -- the world outside ------------------------------------------------------------------
    def clamp(self, values: np.ndarray) -> None:
        now = self.env.now
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
        x = np.where(self.clamped, self.x, self.spec.x0)
        if not np.array_equal(x, self.x):
            self.integrate(now)
            self.set_x(now, x)
            self.follow(now)
            self.poke()


def _deliver(proj: Projection, group: Group, values: np.ndarray, sent: np.ndarray,
             count: int) -> None:
    owner = proj.owner
    proj.advance(owner.env.now, owner.signal(proj.post))
    owner.net.counters.delivered += proj.receive(group, values, sent, count)
    owner.poke()


def _arrive(event: Event) -> None:
    _deliver(*event.value)


def _arrive_local(event: Event) -> None:
    pop, dest, values, sent = event.value
    dest[sent] = values[sent]
    pop.poke()


class PopulationNetwork(Engine):
    """The population engine: one SimPy process per population (same parameters as
    :class:`~asyncpc.engines.unit.Network`)."""

    kind = "population"

    def __init__(self, graph: nx.DiGraph, *, seed: int = 0, plastic: bool = True,
                 weights: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
                 biases: Mapping[str, np.ndarray] | None = None,
                 env: simpy.Environment | None = None) -> None:
        super().__init__(graph, seed=seed, plastic=plastic, env=env)
        biases = biases or {}
        self.populations: dict[str, PopulationState] = {
            name: PopulationState(self, spec, has_errors=has_errors, code=code,
                                  bias=biases.get(name))
            for code, (name, spec, has_errors) in enumerate(self.declared_populations())}
        self.edges: dict[str, tuple[Projection, Projection]] = {
            spec.name: self._build_edge(spec, (weights or {}).get(spec.name))
            for spec in self.declared_edges()}
        self._start()

    def _grid(self, spec: EdgeSpec, sender: str) -> float:
        step = self.spec(sender).dt
        if spec.delay_resolution > step:
            raise ValueError(f"edge {spec.name}: delay_resolution {spec.delay_resolution:g} is "
                             f"coarser than the step dt = {step:g} of population {sender!r}")
        return spec.delay_resolution or step

    def edge_delays(self, spec: EdgeSpec) -> tuple[np.ndarray, np.ndarray]:
        shape = (self.spec(spec.target).n, self.spec(spec.source).n)
        d_w, d_b = sampled_delays(spec, shape, self.seed)
        return (grid_delays(d_w, self._grid(spec, spec.source)),
                grid_delays(d_b, self._grid(spec, spec.target)))

    def _build_edge(self, spec: EdgeSpec, override) -> tuple[Projection, Projection]:
        src, tgt = self.populations[spec.source], self.populations[spec.target]
        w0, b0 = self.start_weights(spec, override)
        d_w, d_b = self.edge_delays(spec)
        eta_w, lam_w, eta_b, lam_b = self.learning_rates(spec)
        t0 = self.env.now
        W = Projection(w0, src.r, d_w, eta=eta_w, lam=lam_w, post="eps", t=t0,
                       counters=self.counters)
        post = "x" if spec.rule == "hebbian_raw" else "r"
        B = Projection(b0 if spec.rule != "tied" else w0.T, np.zeros(tgt.spec.n), d_b,
                       eta=eta_b, lam=lam_b, post=post, t=t0, counters=self.counters)
        if spec.rule == "tied":
            B.twin = W
            B.plastic = False
        W.owner, B.owner = tgt, src
        tgt.incoming.append(W)
        src.feedback.append(B)
        src.out_r.append(W)
        tgt.out_eps.append(B)
        return W, B

    def _start(self) -> None:
        """Make the initial state consistent (no messages needed at t = 0), then start."""
        t = self.env.now
        for pop in self.populations.values():
            if pop.has_errors:
                mu = pop.b + sum((p.current(t) for p in pop.incoming), np.zeros(pop.spec.n))
                pop.eps = (pop.x - mu) / pop.spec.variance
                pop.eps_sent = pop.eps.copy()
                pop.eps_own = pop.eps.copy()
        for pop in self.populations.values():
            for p in pop.out_eps:
                p.set_pre(pop.eps)
        for pop in self.populations.values():
            pop.learning_in = [p for p in pop.incoming if p.plastic]
            pop.learning = pop.learning_in + [p for p in pop.feedback if p.plastic]
            pop.drifts = pop.eta_bias != 0.0 or bool(pop.learning)
            pop.t = pop.t_b = t
            pop.start()
        events.initialise(self.env)  # the ordering rule of engines/events.py

    # -- the interface -------------------------------------------------------------------------
    def run(self, until: float) -> None:
        # overflow is detected where it happens (Diverged), not reported as numpy warnings
        with np.errstate(over="ignore", invalid="ignore"):
            events.advance(self.env, until)

    def clamp(self, name: str, values) -> None:
        pop = self.populations[name]
        pop.clamp(np.array(np.broadcast_to(np.asarray(values, dtype=float), (pop.spec.n,))))

    def release(self, name: str) -> None:
        self.populations[name].release()

    def reset(self) -> None:
        for pop in self.populations.values():
            pop.reset()

    def x(self, name: str) -> np.ndarray:
        return self.populations[name].x.copy()

    def eps(self, name: str) -> np.ndarray:
        pop = self.populations[name]
        return pop.eps.copy() if pop.has_errors else np.zeros(0)

    def bias(self, name: str) -> np.ndarray:
        pop = self.populations[name]
        return pop.bias_at(self.env.now) if pop.has_errors else np.zeros(pop.spec.n)

    def has_errors(self, name: str) -> bool:
        return self.populations[name].has_errors

    def emitted(self, name: str) -> int:
        return self.populations[name].emitted

    def clock_phases(self, name: str) -> np.ndarray:
        return np.array([self.populations[name].phase])

    def weights(self, edge: str) -> tuple[np.ndarray, np.ndarray]:
        W, B = self.edges[edge]
        t = self.env.now
        return W.weight_at(t, W.owner.eps), B.weight_at(t, B.owner.signal(B.post))

    def delays(self, edge: str) -> tuple[np.ndarray, np.ndarray]:
        return self.edge_delays(self.edge_spec(edge))

    def frozen_copy(self, env: simpy.Environment | None = None) -> PopulationNetwork:
        return PopulationNetwork(
            self.graph, seed=self.seed, plastic=False, env=env,
            weights={n: self.weights(n) for n in self.edges},
            biases={n: self.bias(n) for n, p in self.populations.items() if p.has_errors})

    def on_emit(self, log: Callable[[float, int, int], None] | None) -> None:
        for pop in self.populations.values():
            pop.log = log
