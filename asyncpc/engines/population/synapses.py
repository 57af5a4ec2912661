"""The population engine's synapses: the matrices of one edge in one direction, and delivery.

Symbols (SPEC §1): per edge ``s → t`` the prediction weights ``W`` (``n_t × n_s``), which sit on
``t``'s error neurons, and the feedback weights ``B`` (``n_s × n_t``), which sit on ``s``'s
representation neurons.

Synapses as matrices
--------------------
A :class:`Projection` holds the synapses of one edge in one direction, kept by the population
they sit on (the postsynaptic one): ``W`` by the target, ``B`` by the source. Beside the
weights it keeps ``pre``, the presynaptic values *as delivered*: entry ``(k, i)`` is the last
signal of presynaptic neuron ``i`` that has reached synapse ``(k, i)``. Every synapse has its
own delay, rounded to a grid: ``delay_resolution`` when it is set, otherwise the step ``dt`` of
the population that sends the signal (a positive delay never rounds to 0). The synapses of a
projection that share a delay form a group; an emission sends one message per group, which on
arrival writes the sent values into that group's entries of ``pre``. When all synapses of a
projection share one delay, ``pre`` is stored as a single row (all rows are equal) and the
currents are matrix-vector products.

Messages in flight. A message is not a SimPy event: it waits in its group's inbox with its place
in the event order, ``(arrival time, sequence number)``, the one a timeout scheduled when it was
sent would have had (:mod:`~asyncpc.engines.events`). Whoever is about to read or change the
projection first applies, in order, the messages placed before the event it acts in
(:meth:`Projection.flush`): the owner at each step, clamp and reset, a sender before it sends,
an observer. Only a sleeping owner needs an event, an alarm at its first message's place
(:meth:`~asyncpc.engines.population.neurons.PopulationState.expect`). The result is the
one-event-per-message program's, bit for bit, with a population awake through the messages
that reach it costing no event at all.

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
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from ..base import Counters

if TYPE_CHECKING:
    from .neurons import PopulationState


def grid_delays(delays: np.ndarray, grid: float) -> np.ndarray:
    """Round ``delays`` to multiples of ``grid``; a positive delay becomes at least ``grid``."""
    rounded = np.round(delays / grid) * grid
    return np.where((delays > 0.0) & (rounded == 0.0), grid, rounded)


#: the place in the event order of no message: later than every event
NEVER = (math.inf, 0)


class Group:
    """The synapses of a projection that share one delay: one SimPy timeout per emission.

    ``flat`` are their indices into the projection's ``pre`` (``None``: every synapse, stored
    as one row), ``cols`` the presynaptic neuron of each, ``present`` which presynaptic
    neurons have a synapse here (``None``: all). A partial emission is written through a
    boolean ``mask`` of the group when the projection has at most :data:`MASKED` groups (one
    vectorised pass, cheaper than gathering indices when few neurons send), else through
    ``flat``; a full one always through ``flat``.
    """

    __slots__ = ("delay", "flat", "cols", "present", "mask", "inbox")

    #: up to this many groups a projection keeps a boolean mask per group (1 byte per synapse
    #: each)
    MASKED = 4

    def __init__(self, delay: float, members: np.ndarray | None = None, *,
                 masked: bool = True) -> None:
        self.delay = delay
        #: the messages in flight to this group, in the order they arrive:
        #: ``((arrival time, sequence number), values, sent, count)``
        self.inbox: deque = deque()
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
                 "due", "_buf", "_where", "_decay", "_acc", "_pending", "_base", "_squares",
                 "_memo_t", "_memo")

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
        self.due = NEVER  # the place in the event order of the first message in flight to it
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
            return self.twin.weight_at(t, self.twin.owner.post_of(self.twin)).T
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
            tw.flush(t, self.owner.seq)
            eps = tw.owner.post_of(tw)
            dw = (tw.eta * eps[:, None] * tw.pre - tw.lam * tw.weight_at(t, eps)).T
            return np.abs((dw * self.pre).sum(axis=1))
        # Σ_i (eta post_k pre_ki − lam w_ki) pre_ki = eta post_k Σ_i pre_ki² − lam current_k
        d = self.eta * self.owner.post_of(self) * self.squares()
        if self.lam != 0.0:
            d -= self.lam * self.current(t)
        return np.abs(d, out=d)

    def current(self, t: float) -> np.ndarray:
        """``Σ_i w_ki pre_ki`` for every postsynaptic neuron ``k`` (weights as of ``t``):
        ``decay · Σ_i w_m[k, i] pre_ki + acc_k · Σ_i pre_ki²``. Kept until the weights or
        ``pre`` change (an update and the drift scan before sleeping ask at the same time)."""
        if self.twin is not None:
            self.twin.flush(t, self.owner.seq)
            w = self.twin.weight_at(t, self.twin.owner.post_of(self.twin)).T
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

    def put(self, group: Group, arrival: tuple[float, int], values: np.ndarray,
            sent: np.ndarray, count: int) -> None:
        """Put a message in flight to ``group``; ``arrival`` is its place in the event order,
        ``(time, sequence number)``, and :meth:`flush` applies it there."""
        group.inbox.append((arrival, values, sent, count))
        if arrival < self.due:
            self.due = arrival

    def flush(self, t: float, seq: int) -> None:
        """Apply, in their order, the messages in flight placed before ``(t, seq)`` in the event
        order (module doc, "Messages in flight"). Each is applied as at its arrival: the
        weights are integrated up to it with the old ``pre`` (the owner's signal has held
        still since its last step), then ``pre`` changes."""
        groups = self.groups
        key = (t, seq)
        while self.due < key:
            first = groups[0] if len(groups) == 1 else min(
                (g for g in groups if g.inbox), key=lambda g: g.inbox[0][0])
            arrival, values, sent, count = first.inbox.popleft()
            self.deliver(first, values, sent, count, arrival[0])
            self.due = min((g.inbox[0][0] for g in groups if g.inbox), default=NEVER)

    def deliver(self, group: Group, values: np.ndarray, sent: np.ndarray, count: int,
                t: float) -> None:
        """Apply one message to ``group`` at ``t`` (its arrival)."""
        self.advance(t, self.owner.post_of(self))
        self.counters.delivered += self.receive(group, values, sent, count)

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
