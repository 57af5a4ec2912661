"""``asyncpc bench``: engine speed on this machine, against SimPy's own floor, in one process.

Workload: a two-layer per-synapse network (``n_in → n_hidden``, learned feedback, delays
uniform in [0.05, 0.2], send-on-delta off) shown random input patterns. For each size it
reports synaptic deliveries per second, the wall time of a bare SimPy program that performs the
*same* pattern of events with empty bodies (the same number of heap events for messages, the
same number of process resumptions by shared events, the same number of clock timeouts), the
ratio of the two, messages per presented sample, wall time per simulated time unit, and peak
memory per synapse (tracemalloc, while building the network).
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import simpy
from simpy.events import NORMAL, Event

from .datasets import Dataset
from .model import Distribution, EdgeSpec, PopulationSpec, build_graph, rng_for
from .network import Network
from .stimulus import Stimulus


def workload(n_in: int, n_hidden: int, *, seed: int = 0):
    common = {"dt": 0.05, "settle": 1e-3, "refresh": 1.0}
    pops = [PopulationSpec("input", n_in, **common),
            PopulationSpec("hidden", n_hidden, activation="tanh", prior=0.0, **common)]
    edges = [EdgeSpec("input", "hidden", w_init=Distribution("normal", std=1 / np.sqrt(n_in)),
                      b_init=Distribution("normal", std=1 / np.sqrt(n_in)),
                      delay=Distribution("uniform", low=0.05, high=0.2), eta_w=0.01, eta_b=0.01,
                      lam_w=1e-3)]
    return build_graph(pops, edges)


def measure_engine(n_in: int, n_hidden: int, samples: int, presentation: float) -> dict:
    graph = workload(n_in, n_hidden)
    tracemalloc.start()
    net = Network(graph, seed=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rng = rng_for(0, "bench data")
    data = Dataset("random", {"input": rng.normal(0, 1, (samples, n_in))})
    stim = Stimulus(net, data, clamp=["input"], presentation=presentation, epochs=1,
                    order="sequential", rng=rng)
    start = time.perf_counter()
    net.run(stim.duration)
    wall = time.perf_counter() - start
    c = net.counters
    senders = [n for p in net.populations.values() for n in [*p.neurons, *p.errors]
               if n.axon.channels]
    channels = sum(len(n.axon.channels) for n in senders)
    # messages leave through every channel of the emitting neuron
    sends = sum(p.counter.emitted * np.mean([len(n.axon.channels) for n in
                                             [*p.neurons, *p.errors]])
                for p in net.populations.values())
    return {"synapses": net.n_synapses, "neurons": net.n_neurons, "wall": wall,
            "delivered": c.delivered, "neuron_updates": c.neuron_updates,
            "synapse_updates": c.synapse_updates,
            "channels": channels, "channel_sends": int(round(sends)),
            "sim_time": stim.duration, "samples": samples,
            "bytes_per_synapse": peak / net.n_synapses}


def measure_floor(n_groups: int, sends: int, resumptions: int, timeouts: int) -> float:
    """Wall time of bare SimPy doing the same events: ``sends`` scheduled events on
    ``n_groups`` chained shared events that resume ``resumptions`` waiting processes in total,
    and ``timeouts`` clock timeouts, all with empty bodies."""
    env = simpy.Environment()
    fan_out = max(1, round(resumptions / max(1, sends)))
    heads = [Event(env) for _ in range(n_groups)]

    def listener(arrival):
        while True:
            _, arrival = yield arrival

    for h in heads:
        for _ in range(fan_out):
            env.process(listener(h))
    n_clocks = 64

    def clock(n):
        for _ in range(n):
            yield env.timeout(0.05)

    for _ in range(n_clocks):
        env.process(clock(timeouts // n_clocks))

    def sender():
        for j in range(sends):
            g = j % n_groups
            event = heads[g]
            heads[g] = nxt = Event(env)
            event._ok = True
            event._value = (None, nxt)
            env.schedule(event, NORMAL, 0.1)
            if g == n_groups - 1:
                yield env.timeout(0.01)

    env.process(sender())
    start = time.perf_counter()
    env.run()
    return time.perf_counter() - start


def main(quick: bool = False) -> dict:
    sizes = [(25, 100), (50, 100)] if quick else [(25, 100), (50, 100), (100, 100)]
    samples, presentation = (4, 5.0) if quick else (10, 10.0)
    print(f"asyncpc bench: {samples} random samples, {presentation:g} τ each, delays U[0.05, 0.2]")
    header = (f"{'synapses':>9} {'deliveries/s':>13} {'floor/s':>10} {'ratio':>6} "
              f"{'msg/sample':>11} {'wall/τ (s)':>10} {'µs/delivery':>11} {'B/synapse':>10}")
    print(header)
    rows = []
    for n_in, n_hidden in sizes:
        e = measure_engine(n_in, n_hidden, samples, presentation)
        floor = measure_floor(n_groups=e["channels"], sends=e["channel_sends"],
                              resumptions=e["delivered"],
                              timeouts=e["neuron_updates"])
        row = {**e, "floor_wall": floor, "ratio": e["wall"] / floor,
               "deliveries_per_s": e["delivered"] / e["wall"],
               "floor_deliveries_per_s": e["delivered"] / floor,
               "messages_per_sample": e["delivered"] / samples,
               "wall_per_time_unit": e["wall"] / e["sim_time"],
               "us_per_delivery": 1e6 * e["wall"] / e["delivered"]}
        rows.append(row)
        print(f"{row['synapses']:>9} {row['deliveries_per_s']:>13,.0f} "
              f"{row['floor_deliveries_per_s']:>10,.0f} {row['ratio']:>6.2f} "
              f"{row['messages_per_sample']:>11,.0f} {row['wall_per_time_unit']:>10.3f} "
              f"{row['us_per_delivery']:>11.2f} {row['bytes_per_synapse']:>10,.0f}")
    return {"rows": rows}
