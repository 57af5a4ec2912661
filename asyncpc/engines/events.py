"""The one place where asyncpc reaches below SimPy's public API, and the ordering rule.

Both engines are ordinary SimPy programs (``env.process``, ``env.timeout``, ``Event``), with
four exceptions, all here:

* a channel must trigger an event that synapses are *already waiting on* at a later time,
  with a value — a ``Timeout`` on an existing event. SimPy's public API has
  ``env.schedule(event, priority, delay)`` for the scheduling but no setter for an event's
  outcome, so :func:`deliver_later` (and :func:`send_down`, its loop over a neuron's
  channels) writes ``event._ok`` and ``event._value`` (what ``Event.succeed`` and
  ``Timeout.__init__`` write) and then schedules it: the fast path (default) pushes onto
  ``env._queue`` exactly as ``env.schedule`` does, without the method call (the unit
  engine's hottest loop); the plain path calls ``env.schedule``. Both produce the same heap
  entries, so runs are bit-identical (``tests/engines/test_engines.py``); :func:`plain_simpy`
  switches to the plain path, e.g. to check a new SimPy release;
* a message that crossed processes (:mod:`asyncpc.engines.unit.ranks`) is scheduled at the
  absolute time it was sent plus its delay (:func:`send_down` with ``sent``), which
  ``env.schedule`` (relative to now) cannot express exactly in floating point;
* the population engine keeps the messages to a population that is awake in its own inboxes
  instead of the heap and applies them at its next step, in the order SimPy would have
  processed them, so it needs each message's and each step's place in the event order
  (``(time, sequence number)``): a message takes a sequence number when sent, a step's
  timeout tells its own (:func:`step_timeout`), and a sleeping population's alarm for a
  message is set at the message's place (:func:`alarm_at`);
* :func:`advance` stops at exactly ``until`` (``env.run(until=t)`` stops at
  ``now + (t − now)``, which can differ from ``t`` in the last bit).

The ordering rule of same-time events
-------------------------------------
SimPy processes events in the order ``(time, priority, scheduling order)``. asyncpc fixes the
priorities so that the order does not depend on when an event was scheduled, only on what it
is — which is what lets one network split over processes give the same result as one process:

1. the world outside the network (stimulus, recorders, evaluations; :func:`world_timeout`)
   acts first (SimPy's ``URGENT``), and the network's processes are initialised when it is
   built (:func:`initialise`), so no network event runs at a time before the world's;
2. then the messages between neurons, ordered by the sending neuron (its index in the
   canonical order, :func:`message_priority`), each neuron's in the order it sent them;
3. then every other event of the network (neuron steps, wake-ups, alarms, local links;
   SimPy's ``NORMAL``), in the order they were scheduled — all of them local to one neuron
   and its synapses, so their relative order is the same however the network is split.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from heapq import heappush
from typing import Any

import simpy
from simpy.events import NORMAL, URGENT, Event

_FAST = True
#: priority of the event that ends :func:`advance`: before anything else at that time
_STOP = -1


def message_priority(index: int, count: int) -> float:
    """The priority of messages sent by neuron ``index`` of ``count`` (rule 2 above): strictly
    between SimPy's ``URGENT`` (0) and ``NORMAL`` (1), increasing with ``index``."""
    return (index + 1.0) / (count + 1.0)


def deliver_later(env: simpy.Environment, event: Event, value: Any, delay: float,
                  priority: float = NORMAL) -> None:
    """Trigger the pending ``event`` with ``value`` at ``env.now + delay``."""
    event._ok = True
    event._value = value
    if _FAST:
        heappush(env._queue, (env._now + delay, priority, next(env._eid), event))
    else:
        env.schedule(event, priority, delay)


def send_down(env: simpy.Environment, channels: tuple, value: float, priority: float,
              sent: float | None = None) -> None:
    """One message down each channel (objects with ``head`` and ``delay``): the channel's
    head event is triggered at ``sent + delay`` (``sent``: now by default) with
    ``(value, next head)``, and a fresh event becomes the head, so the waiting synapses
    receive every message once, in order."""
    queue, eid = env._queue, env._eid
    if sent is None:
        if not _FAST:
            for ch in channels:
                event = ch.head
                ch.head = nxt = Event(env)
                deliver_later(env, event, (value, nxt), ch.delay, priority)
            return
        sent = env._now
    for ch in channels:
        event = ch.head
        ch.head = nxt = Event(env)
        event._ok = True
        event._value = (value, nxt)
        heappush(queue, (sent + ch.delay, priority, next(eid), event))


@contextmanager
def plain_simpy() -> Iterator[None]:
    """Within the block, schedule through ``env.schedule`` only (networks built or run)."""
    global _FAST
    saved, _FAST = _FAST, False
    try:
        yield
    finally:
        _FAST = saved


def alarm(env: simpy.Environment, delay: float, wake: Event) -> None:
    """Trigger ``wake`` after ``delay`` unless something else triggered it first."""
    env.timeout(delay, wake).callbacks.append(_ring)


def alarm_at(env: simpy.Environment, where: tuple[float, int], value: Any, ring) -> Event:
    """An event at ``where = (time, sequence number)`` in the event order (a network event,
    ``NORMAL``) that calls ``ring(event)``; ``event.value`` is ``value``. A population sets it
    where a message's own event would have been, had the message been scheduled as one."""
    event = Event(env)
    event._ok = True
    event._value = value
    event.callbacks.append(ring)
    heappush(env._queue, (where[0], NORMAL, where[1], event))
    return event


def step_timeout(env: simpy.Environment, delay: float) -> tuple[Event, int]:
    """``env.timeout(delay)`` (the same heap entry), and its sequence number."""
    event = Event(env)
    event._ok = True
    event._value = None
    seq = next(env._eid)
    heappush(env._queue, (env._now + delay, NORMAL, seq, event))
    return event, seq


def _ring(timeout: Event) -> None:
    wake = timeout.value
    if not wake.triggered:
        wake.succeed()


def world_timeout(env: simpy.Environment, delay: float) -> Event:
    """A timeout for the world outside the network (stimulus, recorders, evaluations): at
    equal times it fires before any event of the network (rule 1 of the ordering rule)."""
    event = Event(env)
    event._ok = True
    event._value = None
    env.schedule(event, URGENT, delay)
    return event


def initialise(env: simpy.Environment) -> None:
    """Run the initialisation of the processes just started (SimPy's ``URGENT`` events at
    now), so that a network built at ``t`` has no event left at ``t`` before the world's."""
    queue, now = env._queue, env.now
    while queue and queue[0][0] == now and queue[0][1] == URGENT:
        env.step()


def advance(env: simpy.Environment, until: float) -> None:
    """Process every event before ``until`` and stop with the clock at exactly ``until``.

    Python's cyclic garbage collector is paused meanwhile (if it was on). A running network
    holds millions of live objects (pending events, synapses) and the collector traverses them
    again and again, though the engines create no reference cycles while running
    (``gc.collect()`` after a run finds nothing): with it on, a 10⁴-synapse unit network ran
    2.9× slower (27 vs 9.5 µs per delivery). Garbage is still freed by reference counting,
    and the collector resumes after the run. Code that makes cyclic garbage during a run (an
    evaluation's frozen copies) runs in :func:`collector_on`."""
    if until <= env.now:
        raise ValueError(f"until ({until}) must be greater than the current time {env.now}")
    paused = pause_collector()
    try:
        stop = Event(env)
        stop._ok = True
        stop._value = None
        heappush(env._queue, (until, _STOP, next(env._eid), stop))
        env.run(until=stop)
    finally:
        resume_collector(paused)


def pause_collector() -> bool:
    """Pause the cyclic garbage collector (see :func:`advance`); whether it was on. Nothing
    is allocated before the pause, as any allocation with the collector on may set off a
    collection of everything the last run left alive."""
    if gc.isenabled():
        gc.disable()
        return True
    return False


def resume_collector(paused: bool) -> None:
    """Undo :func:`pause_collector` (``paused``: what it returned)."""
    if paused:
        gc.enable()


@contextmanager
def collector_on() -> Iterator[None]:
    """Within the block the cyclic garbage collector runs (e.g. an evaluation's frozen copies,
    built and dropped during a run of the learning network, are networks of cycles)."""
    if gc.isenabled():
        yield
        return
    gc.enable()
    try:
        yield
    finally:
        gc.disable()
