"""The one place where asyncpc reaches below SimPy's public API.

Both engines are ordinary SimPy programs (``env.process``, ``env.timeout``, ``Event``), with
one exception: a channel must trigger an event that synapses are *already waiting on* at a
later time, with a value — a ``Timeout`` on an existing event. SimPy's public API has
``env.schedule(event, priority, delay)`` for the scheduling but no setter for an event's
outcome, so :func:`deliver_later` (and :func:`send_down`, its loop over a neuron's channels)
writes ``event._ok`` and ``event._value`` (what
``Event.succeed`` and ``Timeout.__init__`` write) and then schedules it:

* the fast path (default) pushes onto ``env._queue`` exactly as ``env.schedule`` does, without
  the method call (this is the unit engine's hottest loop);
* the plain path calls ``env.schedule``.

Both produce the same heap entries ``(time, NORMAL, next id, event)``, so runs are
bit-identical (``tests/test_engines.py``); :func:`plain_simpy` switches to the plain path, e.g.
to check a new SimPy release. Same-time events run in the order they were scheduled (SimPy's
FIFO rule for equal time and priority), which is the ordering rule of both engines.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from heapq import heappush
from typing import Any

import simpy
from simpy.events import NORMAL, Event

_FAST = True


def deliver_later(env: simpy.Environment, event: Event, value: Any, delay: float) -> None:
    """Trigger the pending ``event`` with ``value`` at ``env.now + delay``."""
    event._ok = True
    event._value = value
    if _FAST:
        heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), event))
    else:
        env.schedule(event, NORMAL, delay)


def send_down(env: simpy.Environment, channels: tuple, value: float) -> None:
    """One message down each channel (objects with ``head`` and ``delay``): the channel's
    head event is triggered at ``now + delay`` with ``(value, next head)``, and a fresh event
    becomes the head, so the waiting synapses receive every message once, in order."""
    if not _FAST:
        for ch in channels:
            event = ch.head
            ch.head = nxt = Event(env)
            deliver_later(env, event, (value, nxt), ch.delay)
        return
    queue, now, eid = env._queue, env._now, env._eid
    for ch in channels:
        event = ch.head
        ch.head = nxt = Event(env)
        event._ok = True
        event._value = (value, nxt)
        heappush(queue, (now + ch.delay, NORMAL, next(eid), event))


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


def _ring(timeout: Event) -> None:
    wake = timeout.value
    if not wake.triggered:
        wake.succeed()
