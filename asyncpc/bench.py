"""``asyncpc bench``: engine speed on this machine, against SimPy's own floor, in one process.

Workload: a two-layer per-synapse network (``n_in → n_hidden``, learned feedback, delays
uniform in [0.05, 0.2], send-on-delta off) shown random input patterns. For each size it
reports synaptic deliveries per second, the wall time of a bare SimPy program that performs the
*same* pattern of events with empty bodies (the same number of heap events for messages, the
same number of process resumptions by shared events, the same number of clock timeouts), the
ratio of the two per delivery, messages per presented sample, wall time per simulated time
unit, and peak memory per synapse (tracemalloc, while building the network).
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import simpy
from simpy.events import NORMAL, Event

from .datasets import Dataset
from .model import Distribution, EdgeSpec, PopulationSpec, build_graph, rng_for
from .engines import Network
from .stimulus import Stimulus


def workload(n_in: int, n_hidden: int, *, resolution: float = 0.0):
    common = {"dt": 0.05, "settle": 1e-3, "refresh": 1.0}
    pops = [PopulationSpec("input", n_in, **common),
            PopulationSpec("hidden", n_hidden, activation="tanh", prior=0.0, **common)]
    edges = [EdgeSpec("input", "hidden", w_init=Distribution("normal", std=1 / np.sqrt(n_in)),
                      b_init=Distribution("normal", std=1 / np.sqrt(n_in)),
                      delay=Distribution("uniform", low=0.05, high=0.2), eta_w=0.01, eta_b=0.01,
                      lam_w=1e-3, delay_resolution=resolution)]
    return build_graph(pops, edges)


def measure_engine(n_in: int, n_hidden: int, samples: int, presentation: float,
                   resolution: float = 0.0) -> dict:
    graph = workload(n_in, n_hidden, resolution=resolution)
    tracemalloc.start()
    net = Network(graph, seed=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rng = rng_for(0, "bench data")
    data = Dataset("random", {"input": rng.normal(0, 1, (samples, n_in))})
    stim = Stimulus(net, data, clamp=["input"], presentation=presentation, epochs=1,
                    order="sequential", rng=rng)
    counts = _count_emissions(net)
    start = time.perf_counter()
    net.run(stim.duration)
    wall = time.perf_counter() - start
    c = net.counters
    # the pattern the floor replays: per sending neuron, its emissions and its channels
    senders = [(counts[id(n)],
                [(ch.delay, ch.fan_out) for ch in n.axon.channels.values()])
               for p in net.populations.values() for n in [*p.neurons, *p.errors]
               if n.axon.channels]
    emissions = sum(e for e, _ in senders)
    return {"synapses": net.n_synapses, "neurons": net.n_neurons, "wall": wall,
            "delivered": c.delivered, "neuron_updates": c.neuron_updates,
            "synapse_updates": c.synapse_updates, "emissions": emissions,
            "senders": senders, "sim_time": stim.duration, "samples": samples,
            "bytes_per_synapse": peak / net.n_synapses}


def _count_emissions(net: Network) -> dict[int, int]:
    """Count each neuron's emissions through the raster hook (an observer)."""
    counts: dict[int, int] = {}
    for p in net.populations.values():
        for n in [*p.neurons, *p.errors]:
            counts[id(n)] = 0
            n.axon.log = _counter(counts, id(n))
    return counts


def _counter(counts: dict[int, int], key: int):
    def log() -> None:
        counts[key] += 1
    return log


def measure_floor(senders: list[tuple[int, list[tuple[float, int]]]], duration: float,
                  extra_timeouts: int) -> tuple[float, int]:
    """Wall time of bare SimPy replaying the engine's pattern with empty bodies.

    Each sending neuron is a process that emits its measured number of messages, evenly over
    ``duration``, through channels with the engine's delays and fan-outs (one scheduled event
    per channel send, one resumption per synapse); ``extra_timeouts`` plain clock timeouts stand
    for the neuron updates that sent nothing. Returns the wall time and resumptions done.
    """
    env = simpy.Environment()
    resumed = [0]

    def listener(arrival):
        while True:
            _, arrival = yield arrival
            resumed[0] += 1

    def sender(count, channels):
        heads = []
        for _, fan_out in channels:
            head = Event(env)
            heads.append(head)
            for _ in range(fan_out):
                env.process(listener(head))
        step = duration / count
        for _ in range(count):
            yield env.timeout(step)
            for j, (delay, _) in enumerate(channels):
                event = heads[j]
                heads[j] = nxt = Event(env)
                event._ok = True
                event._value = (None, nxt)
                env.schedule(event, NORMAL, delay)

    def clock(count, step):
        for _ in range(count):
            yield env.timeout(step)

    for count, channels in senders:
        if count:
            env.process(sender(count, channels))
    n_clocks = max(1, len(senders))
    per_clock = extra_timeouts // n_clocks
    if per_clock:
        for _ in range(n_clocks):
            env.process(clock(per_clock, duration / per_clock))
    start = time.perf_counter()
    env.run()
    return time.perf_counter() - start, resumed[0]


def main(quick: bool = False) -> dict:
    sizes = [(25, 100), (50, 100)] if quick else [(25, 100), (50, 100), (100, 100)]
    samples, presentation = (3, 2.5) if quick else (2, 5.0)
    print(f"asyncpc bench: {samples} random samples, {presentation:g} τ each, delays U[0.05, 0.2]"
          " (exact, then rounded to a 0.01 grid: equal delays share one event)")
    print(f"{'synapses':>9} {'delays':>7} {'deliveries/s':>13} {'floor/s':>10} {'ratio':>6} "
          f"{'msg/sample':>11} {'wall/τ (s)':>10} {'µs/delivery':>11} {'B/synapse':>10}")
    rows = []
    for resolution in (0.0, 0.01):
        for n_in, n_hidden in sizes:
            rows.append(_row(n_in, n_hidden, samples, presentation, resolution))
    return {"rows": rows}


def _row(n_in: int, n_hidden: int, samples: int, presentation: float,
         resolution: float) -> dict:
    e = measure_engine(n_in, n_hidden, samples, presentation, resolution)
    floor, resumed = measure_floor(e.pop("senders"), e["sim_time"],
                                   max(0, e["neuron_updates"] - e["emissions"]))
    row = {**e, "resolution": resolution, "floor_wall": floor,
           # cost per delivery, engine over floor
           "ratio": (e["wall"] / e["delivered"]) / (floor / max(1, resumed)),
           "deliveries_per_s": e["delivered"] / e["wall"],
           "floor_deliveries_per_s": resumed / floor, "floor_resumptions": resumed,
           "messages_per_sample": e["delivered"] / samples,
           "wall_per_time_unit": e["wall"] / e["sim_time"],
           "us_per_delivery": 1e6 * e["wall"] / e["delivered"]}
    print(f"{row['synapses']:>9} {'0.01' if resolution else 'exact':>7} "
          f"{row['deliveries_per_s']:>13,.0f} {row['floor_deliveries_per_s']:>10,.0f} "
          f"{row['ratio']:>6.2f} {row['messages_per_sample']:>11,.0f} "
          f"{row['wall_per_time_unit']:>10.3f} {row['us_per_delivery']:>11.2f} "
          f"{row['bytes_per_synapse']:>10,.0f}", flush=True)
    return row
