"""One network split over processes (MPI ranks), with the result of one process, bit for bit.

Partitioning by column (:mod:`~asyncpc.engines.unit.partition`, which needs no MPI).

Conservative synchronisation (NEST's d_min scheme). A message sent at ``t`` over a synapse of
delay ``d`` arrives at ``t + d``. With ``L`` the shortest delay of any synapse whose two neurons
live on different ranks (the *lookahead*), every rank may run the window ``[t0, t0 + L)`` on
its own: nothing sent by another rank in that window can arrive before ``t0 + L``. At the end of
each window the ranks exchange what their neurons sent to other ranks (``(neuron, time, value)``,
one record per emission and receiving rank, not per synapse; one all-to-all), and each rank
schedules the arrivals at exactly ``time + d`` (:meth:`~asyncpc.engines.unit.messages.Axon.
receive`). A zero delay between ranks leaves no lookahead and is refused.

Bit-identity. Same-time events follow the ordering rule of :mod:`asyncpc.engines.events`, which
depends on what an event is, never on when it was scheduled; a message that crossed ranks is
scheduled later than it would be in one process, but it takes the same place among same-time
events. Every random draw comes from a stream named by what it is for. A run on N ranks is
therefore the run on one, bit for bit (``tests/parallel/test_ranks.py``).

Roles. Rank 0 runs the world (stimulus, recorders, evaluations, the run directory) in its own
SimPy environment and drives the network through :class:`DistributedNetwork`, an
:class:`~asyncpc.engines.base.Engine` like the others; the other ranks :func:`serve`. Between
windows the world acts (clamps, reads states), so windows also end where the world's next event
is. Rank 0 defers Ctrl-C and SIGTERM during a window or a call to the other ranks and raises
``KeyboardInterrupt`` at the next boundary, so an interrupted run ends consistently and writes
its run directory like a single-process run. A :class:`~asyncpc.engines.base.Diverged` raised
on any rank is raised by rank 0 after the window (the earliest one).
"""

from __future__ import annotations

import dataclasses
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import networkx as nx
import numpy as np
import simpy

from .. import events
from ..base import Counters, Diverged, Engine, sampled_delays
from .network import Network
from .partition import Partition, partition


class Part:
    """One rank's share: what :class:`~asyncpc.engines.unit.network.Network` asks of it."""

    def __init__(self, partition: Partition, comm) -> None:
        self.partition = partition
        self.comm = comm
        self.rank = comm.Get_rank()
        self.outbox: list[list] = [[] for _ in range(partition.ranks)]
        self.stand_ins: dict[int, Any] = {}  # neuron index → axon of a neuron of another rank
        self.comm_seconds = 0.0  # wall time in the exchanges (waiting for the others included)
        self.import_seconds = 0.0  # scheduling the arrivals from other ranks

    def owned(self, name: str) -> np.ndarray:
        return self.partition.owned(name, self.rank)

    def mine(self, name: str, k: int) -> bool:
        return bool(self.partition.owner[name][k] == self.rank)

    def share(self, values: dict) -> dict:
        """Everyone's ``values`` (a collective call while the ranks build)."""
        merged: dict = {}
        for part in self.comm.allgather(values):
            merged.update(part)
        return merged

    def wire(self, net: Network) -> None:
        """Give every owned neuron an outbox per other rank with synapses of it, and index the
        stand-ins whose messages arrive from other ranks."""
        owner, graph = self.partition.owner, net.graph
        for name, pop in net.populations.items():
            listeners_rep = [owner[t] for _, t in graph.out_edges(name)]
            listeners_err = [owner[s] for s, _ in graph.in_edges(name)]
            for k in range(pop.spec.n):
                neurons = [(pop.neurons[k], listeners_rep)]
                if pop.has_errors:
                    neurons.append((pop.errors[k], listeners_err))
                for neuron, listeners in neurons:
                    if not self.mine(name, k):
                        if neuron.axon.channels:
                            self.stand_ins[neuron.axon.index] = neuron.axon
                        continue
                    ranks = sorted({int(r) for o in listeners for r in np.unique(o)}
                                   - {self.rank})
                    neuron.axon.exports = tuple(self.outbox[r] for r in ranks)

    def exchange(self, info: Any) -> list:
        """Send every outbox (and ``info`` to rank 0), schedule what arrives; return the
        ``info`` of every rank on rank 0."""
        sending = [(box, info if r == 0 else None) for r, box in enumerate(self.outbox)]
        start = time.perf_counter()
        received = self.comm.alltoall(sending)
        self.comm_seconds += time.perf_counter() - start
        for box in self.outbox:
            box.clear()
        start = time.perf_counter()
        stand_ins = self.stand_ins
        for r, (records, _) in enumerate(received):
            if r != self.rank:
                for index, sent, value in records:
                    stand_ins[index].receive(sent, value)
        self.import_seconds += time.perf_counter() - start
        return [i for _, i in received]


# -- the other ranks ---------------------------------------------------------------------------
class _Share:
    """What a rank runs: its share of the network, the window and the calls of rank 0."""

    def __init__(self, graph: nx.DiGraph, seed: int, plastic: bool, partition: Partition,
                 comm) -> None:
        self.part = Part(partition, comm)
        self.net = Network(graph, seed=seed, plastic=plastic, part=self.part)
        self.emissions: list[tuple[float, int, int]] | None = None
        self.compute_seconds = 0.0  # wall time running windows (without the exchanges)

    def timings(self) -> tuple[float, float, float]:
        """``(compute, exchange, import)`` wall seconds of this rank so far: running its
        windows, in the all-to-all (waiting for the others included), scheduling arrivals."""
        return self.compute_seconds, self.part.comm_seconds, self.part.import_seconds

    def window(self, end: float) -> list:
        status = None
        start = time.perf_counter()
        try:
            events.advance(self.net.env, end)
        except Diverged as exc:
            status = ("diverged", exc.args)
        except Exception:  # noqa: BLE001 - reported by rank 0, which stops the run
            status = ("error", traceback.format_exc())
        self.compute_seconds += time.perf_counter() - start
        emissions = None
        if self.emissions:
            emissions = list(self.emissions)
            self.emissions.clear()
        return self.part.exchange((status, self._counts(), emissions))

    def call(self, method: str, args: tuple) -> tuple:
        if method == "timings":
            return self.timings(), self._counts()
        if method == "on_emit":
            self.emissions = emissions = [] if args[0] else None
            self.net.on_emit(None if emissions is None else
                             lambda t, code, k: emissions.append((t, code, k)))
            return None, self._counts()
        return getattr(self.net, method)(*args), self._counts()

    def _counts(self) -> tuple[int, ...]:
        return dataclasses.astuple(self.net.counters)


def serve(comm) -> None:
    """The loop of ranks 1…N−1: do what rank 0 asks until it says stop. Ctrl-C and SIGTERM
    are left to rank 0 (which ends the run at a window boundary)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    paused = events.pause_collector()  # a share makes no reference cycles (events.advance)
    try:
        share: _Share | None = None
        while True:
            command, args = comm.bcast(None, root=0)
            if command == "stop":
                return
            if command == "build":
                share = _Share(*args, comm)
                comm.gather(None, root=0)
            elif command == "window":
                share.window(*args)
            else:
                comm.gather(share.call(command, args), root=0)
    finally:
        events.resume_collector(paused)


# -- rank 0 ------------------------------------------------------------------------------------
class DistributedNetwork(Engine):
    """The unit engine over the ranks of ``comm`` (run on rank 0; the others :func:`serve`).

    ``env`` is the world's environment (stimulus, recorders); the network runs in one
    environment per rank. Everything else is the :class:`~asyncpc.engines.base.Engine`
    interface, each observer assembled from the ranks' shares.
    """

    kind = "unit"

    def __init__(self, graph: nx.DiGraph, *, seed: int = 0, plastic: bool = True, comm=None,
                 split: Partition | None = None) -> None:
        super().__init__(graph, seed=seed, plastic=plastic)
        if comm is None:
            from mpi4py import MPI
            comm = MPI.COMM_WORLD
        self.comm = comm
        self.ranks = comm.Get_size()
        self.partition = split or partition(graph, self.ranks, seed)
        self._interrupted = False
        self._deferring = False
        self._log: Callable[[float, int, int], None] | None = None
        self._emitted: list[tuple[float, int, int]] = []
        self._counts = [dataclasses.astuple(Counters())] * self.ranks
        comm.bcast(("build", (graph, seed, plastic, self.partition)), root=0)
        self.share = _Share(graph, seed, plastic, self.partition, comm)
        comm.gather(None, root=0)
        self.windows = 0
        self.wall_seconds = 0.0  # in windows (rank 0)

    # -- running ---------------------------------------------------------------------------
    def run(self, until: float) -> None:
        paused = events.pause_collector()  # for the windows and the exchanges, as in advance()
        try:
            self._run(until)
        finally:
            events.resume_collector(paused)

    def _run(self, until: float) -> None:
        world = self.env
        # Ctrl-C / SIGTERM: noted, and the run ends at the next window boundary
        with self._deferred_signals():
            while world.now < until and not self._interrupted:
                while world.peek() <= world.now:  # the world acts first at equal times
                    world.step()
                end = min(until, world.peek(), world.now + self.partition.lookahead)
                start = time.perf_counter()
                self.comm.bcast(("window", (end,)), root=0)
                infos = self.share.window(end)
                self.wall_seconds += time.perf_counter() - start
                self.windows += 1
                failures = []
                for r, (status, counts, emissions) in enumerate(infos):
                    self._counts[r] = counts
                    if status is not None:
                        failures.append((r, status))
                    if emissions and self._log is not None:
                        self._emitted.extend(emissions)
                self._sum_counts()
                if failures:
                    self._fail(failures)
                self._flush_emissions()
                events.advance(world, end)

    def _fail(self, failures: list) -> None:
        errors = [f"rank {r}:\n{s[1]}" for r, s in failures if s[0] == "error"]
        if errors:
            raise RuntimeError("a rank failed:\n" + "\n".join(errors))
        exc = min((Diverged(*s[1]) for _, s in failures), key=lambda e: e.t)
        # the other ranks ran on to the window's end; what they sent after the blow-up is
        # not shown (their states are up to one window later than on one process)
        self._emitted = [e for e in self._emitted if e[0] <= exc.t]
        self._flush_emissions()
        if exc.t > self.env.now:
            events.advance(self.env, exc.t)
        raise exc

    @contextmanager
    def _deferred_signals(self) -> Iterator[None]:
        """Ctrl-C / SIGTERM within the block (a run, a call to the ranks) set a flag and raise
        ``KeyboardInterrupt`` when the outermost such block ends, so every rank stops at the
        same consistent point. Handlers are installed once per block, not per window."""
        if self._deferring or threading.current_thread() is not threading.main_thread():
            yield
            return

        def later(signum, frame):
            self._interrupted = True
        saved = {sig: signal.signal(sig, later) for sig in (signal.SIGINT, signal.SIGTERM)}
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
            for sig, handler in saved.items():
                signal.signal(sig, handler)
            if self._interrupted:
                self._interrupted = False
                raise KeyboardInterrupt

    def _call(self, method: str, *args) -> list:
        """Call ``method`` of every rank's share; the replies, by rank."""
        with self._deferred_signals():
            self.comm.bcast((method, args), root=0)
            mine = self.share.call(method, args)
            replies = self.comm.gather(mine, root=0)
        for r, (_, counts) in enumerate(replies):
            self._counts[r] = counts
        self._sum_counts()
        return [reply for reply, _ in replies]

    def _sum_counts(self) -> None:
        self.counters = Counters(*map(sum, zip(*self._counts, strict=True)))

    def _flush_emissions(self) -> None:
        """Hand the window's emissions to the observer in time order (it may stop listening
        on the way, e.g. a full raster)."""
        emitted, self._emitted = self._emitted, []
        emitted.sort()  # by time, then population and neuron (as the recorder keeps them)
        for t, code, k in emitted:
            if self._log is None:
                break
            self._log(t, code, k)

    def mpi_summary(self) -> dict:
        """The split and its costs as measured on rank 0 (summary.json's ``mpi``)."""
        p = self.partition
        timings = self._call("timings")
        return {"ranks": self.ranks, "lookahead": p.lookahead, "windows": self.windows,
                "synapses_per_rank": [int(v) for v in p.synapses],
                "crossing_synapses": p.crossing, "window_seconds": self.wall_seconds,
                "compute_seconds_per_rank": [t[0] for t in timings],
                "exchange_seconds_per_rank": [t[1] for t in timings],
                "import_seconds_per_rank": [t[2] for t in timings]}

    def close(self) -> None:
        """Let the other ranks go (call once, at the end)."""
        self.comm.bcast(("stop", ()), root=0)

    # -- the world outside -----------------------------------------------------------------
    def clamp(self, name: str, values) -> None:
        self._call("clamp", name, np.asarray(values, dtype=float))

    def release(self, name: str) -> None:
        self._call("release", name)

    def reset(self) -> None:
        self._call("reset")

    # -- observers ---------------------------------------------------------------------------
    def _assemble(self, name: str, parts: list[np.ndarray]) -> np.ndarray:
        """Entries owned by each rank → the population's vector."""
        out = np.empty(self.spec(name).n)
        for r, part in enumerate(parts):
            out[self.partition.owned(name, r)] = part
        return out

    def x(self, name: str) -> np.ndarray:
        return self._assemble(name, self._call("x", name))

    def eps(self, name: str) -> np.ndarray:
        if not self.has_errors(name):
            return np.zeros(0)
        return self._assemble(name, self._call("eps", name))

    def bias(self, name: str) -> np.ndarray:
        return self._assemble(name, self._call("bias", name))

    def has_errors(self, name: str) -> bool:
        return self.share.net.has_errors(name)

    def emitted(self, name: str) -> int:
        return int(sum(self._call("emitted", name)))

    def clock_phases(self, name: str) -> np.ndarray:
        return self.share.net.clock_phases(name)  # every rank knows every neuron's clock

    def weights(self, edge: str) -> tuple[np.ndarray, np.ndarray]:
        spec = self.edge_spec(edge)
        W = np.empty((self.spec(spec.target).n, self.spec(spec.source).n))
        B = np.empty(W.shape[::-1])
        for r, (w, b) in enumerate(self._call("weights", edge)):
            W[self.partition.owned(spec.target, r)] = w
            B[self.partition.owned(spec.source, r)] = b
        return W, B

    def delays(self, edge: str) -> tuple[np.ndarray, np.ndarray]:
        spec = self.edge_spec(edge)
        return sampled_delays(spec, (self.spec(spec.target).n, self.spec(spec.source).n),
                              self.seed)

    def frozen_copy(self, env: simpy.Environment | None = None) -> Network:
        """A single-process frozen copy (evaluation runs on rank 0)."""
        return Network(self.graph, seed=self.seed, plastic=False, env=env,
                       weights={e: self.weights(e) for e in self.edge_names},
                       biases={n: self.bias(n) for n in self.population_names
                               if self.has_errors(n)})

    def on_emit(self, log: Callable[[float, int, int], None] | None) -> None:
        self._log, self._emitted = log, []
        self._call("on_emit", log is not None)

    @property
    def n_processes(self) -> int:
        return self.n_neurons + self.n_synapses
