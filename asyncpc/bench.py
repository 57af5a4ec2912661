"""``asyncpc bench``: engine speed on this machine, each engine against its own floor, in one run.

Three tables:

1. **Both engines on a digits-shaped network** (64 → 32 → 10, the xor scenario's settings,
   random digit-like inputs): wall time per simulated time unit for the same simulated time,
   deliveries per second, messages per sample, and the speed-up of the population engine.
2. **The unit engine against SimPy** (below).
3. **The population engine against numpy**: two-layer networks from 10³ to 10⁶ synapses; its
   floor is bare numpy performing the same array work (every step of every population and
   every arrival the engine performed, replayed without SimPy or Python bookkeeping); the
   ratio, cost per synapse-update (flat = linear in synapses) and peak memory per synapse.

Unit engine workload: a two-layer per-synapse network (``n_in → n_hidden``, learned feedback, delays
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
from types import SimpleNamespace

import numpy as np
import simpy
from simpy.events import NORMAL, Event

from .datasets import Dataset
from .engines import Network, PopulationNetwork, build
from .engines.events import send_down
from .model import Distribution, EdgeSpec, PopulationSpec, build_graph, rng_for
from .stimulus import Stimulus


def workload(n_in: int, n_hidden: int, *, resolution: float = 0.0):
    common = {"dt": 0.05, "settle": 1e-3, "refresh": 1.0}
    pops = [PopulationSpec("input", n_in, **common),
            PopulationSpec("hidden", n_hidden, activation="tanh", prior=0.0, **common)]
    edges = [EdgeSpec("input", "hidden", w_init=Distribution("normal", std=1 / np.sqrt(n_in)),
                      b_init=Distribution("normal", std=1 / np.sqrt(n_in)),
                      delay=Distribution("uniform", low=0.05, high=0.2), eta_w=0.01, eta_b=0.01,
                      lam=1e-3, delay_resolution=resolution)]
    return build_graph(pops, edges)


def built(graph, engine: str):
    """The network on the named engine, and the peak memory (bytes) its building took (after
    building a tiny network on the same engine, untraced, so that allocations made once per
    process are not counted: ~1.8 MB on the population engine)."""
    build(workload(2, 2), engine=engine, seed=0)
    tracemalloc.start()
    net = build(graph, engine=engine, seed=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return net, peak


def random_inputs(net, n_in: int, samples: int, presentation: float) -> Stimulus:
    """Present ``samples`` random N(0, 1) input patterns, ``presentation`` time units each."""
    rng = rng_for(0, "bench data")
    data = Dataset("random", {"input": rng.normal(0, 1, (samples, n_in))})
    return Stimulus(net, data, clamp=["input"], presentation=presentation, epochs=1,
                    order="sequential", rng=rng)


def timed(net, until: float) -> float:
    start = time.perf_counter()
    net.run(until)
    return time.perf_counter() - start


def measure_engine(n_in: int, n_hidden: int, samples: int, presentation: float,
                   resolution: float = 0.0) -> dict:
    net, peak = built(workload(n_in, n_hidden, resolution=resolution), "unit")
    stim = random_inputs(net, n_in, samples, presentation)
    counts = _count_emissions(net)
    wall = timed(net, stim.duration)
    c = net.counters
    # the pattern the floor replays: per sending neuron, its emissions and its channels
    senders = [(counts[id(n)],
                [(ch.delay, ch.fan_out) for ch in n.axon.channels.values()])
               for p in net.populations.values() for n in [*p.neurons, *p.errors]
               if n.axon.channels]
    emissions = sum(e for e, _ in senders)
    return {"synapses": net.n_synapses, "neurons": net.n_neurons, "wall": wall,
            "delivered": c.delivered, "neuron_updates": c.neuron_updates,
            "synapse_updates": c.synapse_updates, "synapse_wakes": c.synapse_wakes,
            "drift_rings": c.drift_rings,
            "emissions": emissions,
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
        chans = tuple(SimpleNamespace(head=Event(env), delay=delay) for delay, _ in channels)
        for ch, (_, fan_out) in zip(chans, channels, strict=True):
            for _ in range(fan_out):
                env.process(listener(ch.head))
        step = duration / count
        for _ in range(count):
            yield env.timeout(step)
            send_down(env, chans, None, NORMAL)  # as the engine's Axon.send does

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


def digits_shaped(n_hidden: int = 32):
    """64 → hidden → 10 at the xor scenario's settings (tau_x 0.1, dt 0.01, theta 0.01,
    settle 0.05, refresh 2, delays U[0.005, 0.02], learned feedback with decay)."""
    common = {"tau_x": 0.1, "dt": 0.01, "settle": 0.05, "theta": 0.01, "refresh": 2.0}
    pops = [PopulationSpec("input", 64, **common),
            PopulationSpec("hidden", n_hidden, activation="tanh", prior=0.0, eta_bias=0.01,
                           **common),
            PopulationSpec("label", 10, prior=0.0, eta_bias=0.01, **common)]
    delay = Distribution("uniform", low=0.005, high=0.02)
    edges = [EdgeSpec(s, t, w_init=Distribution("normal", std=std),
                      b_init=Distribution("normal", std=std), delay=delay, eta_w=0.01,
                      eta_b=0.01, lam=2e-4)
             for s, t, std in (("input", "hidden", 0.125), ("hidden", "label", 0.18))]
    return build_graph(pops, edges)


def compare_engines(samples: int, presentation: float) -> dict:
    """Both engines on the digits-shaped network, the same samples and simulated time."""
    rng = rng_for(0, "bench digits")
    x = (rng.random((samples, 64)) < 0.3) * rng.random((samples, 64))
    y = np.eye(10)[rng.integers(0, 10, samples)]
    data = Dataset("digit-like", {"input": x, "label": y})
    out = {}
    for engine in ("unit", "population"):
        net, peak = built(digits_shaped(), engine)
        stim = Stimulus(net, data, clamp=["input", "label"], presentation=presentation,
                        order="sequential", rng=rng_for(0, "bench stimulus"))
        wall = timed(net, stim.duration)
        out[engine] = {"wall": wall, "sim_time": stim.duration, "synapses": net.n_synapses,
                       "wall_per_time_unit": wall / stim.duration,
                       "deliveries_per_s": net.counters.delivered / wall,
                       "messages_per_sample": net.counters.delivered / samples,
                       "bytes_per_synapse": peak / net.n_synapses}
        if engine == "population":
            out[engine]["floor_wall"] = floor = population_floor(net)
            out[engine]["floor_ratio"] = wall / floor
        print(f"{engine:>11} {net.n_synapses:>9} {wall / stim.duration:>12.4f} "
              f"{out[engine]['deliveries_per_s']:>13,.0f} "
              f"{out[engine]['messages_per_sample']:>12,.0f} "
              f"{out[engine]['bytes_per_synapse']:>10,.0f}", flush=True)
    out["speedup"] = out["unit"]["wall_per_time_unit"] / out["population"]["wall_per_time_unit"]
    print(f"population engine speed-up for the same simulated time: {out['speedup']:.1f}×; "
          f"its cost over its numpy floor: {out['population']['floor_ratio']:.2f}")
    return out


def measure_population(n_in: int, n_hidden: int, samples: int, presentation: float) -> dict:
    net, peak = built(workload(n_in, n_hidden), "population")
    stim = random_inputs(net, n_in, samples, presentation)
    wall = timed(net, stim.duration)
    floor = population_floor(net)
    updates = net.counters.synapse_updates
    return {"synapses": net.n_synapses, "wall": wall, "floor_wall": floor,
            "ratio": wall / floor, "sim_time": stim.duration,
            "wall_per_time_unit": wall / stim.duration,
            "ns_per_synapse_update": 1e9 * wall / max(1, updates),
            "deliveries_per_s": net.counters.delivered / wall,
            "messages_per_sample": net.counters.delivered / samples,
            "bytes_per_synapse": peak / net.n_synapses}


def population_floor(net: PopulationNetwork) -> float:
    """Wall time of bare numpy doing the array work the engine did: for every step of every
    population, the exact integration and the currents of each projection on it (factored:
    vector operations) and the vector arithmetic of the neurons; for every arrival, folding
    the integration into the weights and the write into ``pre``; for every re-reading, the
    currents and squares of the new ``pre``."""
    work = []
    for pop in net.populations.values():
        projections = [(p.w.copy(), p.pre.copy(), np.empty_like(p.w), p.uniform,
                        np.ones(p.w.shape[0]), np.zeros(p.w.shape[0]), p.rereads, p.settles)
                       for p in (*pop.incoming, *pop.feedback)]
        arrivals = [(p.pre.copy(), p.groups[0], np.empty(p.w.shape, dtype=bool),
                     p.full_arrivals, p.arrivals - p.full_arrivals,
                     round(p.senders / max(1, p.arrivals - p.full_arrivals)))
                    for p in pop.incoming + pop.feedback]
        work.append((pop.steps, pop.spec.n, pop.f, pop.fprime, projections, arrivals))
    start = time.perf_counter()
    for steps, n, f, fprime, projections, arrivals in work:
        _replay_steps(steps, n, f, fprime, projections)
        _replay_rereads(projections)
        _replay_arrivals(projections, arrivals)
    return time.perf_counter() - start


def _replay_steps(steps: int, n: int, f, fprime, projections: list) -> None:
    """A population's steps: exact integration and currents of each projection (factored:
    vector operations), then the neurons' vector arithmetic and send-on-delta test."""
    x, b = np.zeros(n), np.zeros(n)
    for _ in range(steps):
        total = b.copy()
        for _w, _pre, _buf, _uniform, post, acc, *_ in projections:
            acc *= 1.0
            acc += 1e-6 * post
            cur = 1.0 * post + acc * post
            if len(cur) == n:
                total += cur
        rate = fprime(x) * total - total
        if float(np.max(np.abs(rate))) > 0.0:
            x = x + 1e-3 * rate
        r = f(x)
        sent = np.abs(r - x) > 0.0
        sent.any()


def _replay_rereads(projections: list) -> None:
    """The currents and squares of each new ``pre``."""
    for w, pre, _buf, uniform, _post, _acc, rereads, _settles in projections:
        for _ in range(rereads):
            w @ pre[0] if uniform else np.einsum("ij,ij->i", w, pre)
            pre[0] @ pre[0] if uniform else np.einsum("ij,ij->i", pre, pre)


def _replay_arrivals(projections: list, arrivals: list) -> None:
    """As Projection.settle and Projection.receive: the folds, the full sends, then the
    partial ones from their mean number of senders."""
    for (pre, group, where, full, partial, senders), projection in zip(
            arrivals, projections, strict=True):
        w, buf, acc, settles = projection[0], projection[2], projection[5], projection[7]
        for _ in range(settles):
            w *= 1.0
            w += np.multiply(acc[:, None], pre, out=buf)
        values = np.ones(pre.shape[1])
        sent = np.zeros(pre.shape[1], dtype=bool)
        sent[np.linspace(0, len(sent) - 1, senders).astype(int)] = True
        for _ in range(full):
            if group.flat is None:
                pre[0] = values
            else:
                np.put(pre, group.flat, values[group.cols])
        for _ in range(partial):
            if group.flat is None:
                pre[0, sent] = values[sent]
            elif group.mask is None:
                m = sent[group.cols]
                np.put(pre, group.flat[m], values[group.cols[m]])
            else:
                np.copyto(pre, values, where=np.logical_and(group.mask, sent, out=where))
                np.count_nonzero(where)


def main(quick: bool = False) -> dict:
    report: dict = {}
    samples, presentation = (1, 10.0) if quick else (2, 20.0)
    print(f"1. both engines, digits-shaped network 64-32-10 (xor settings), {samples} samples × "
          f"{presentation:g} time units")
    print(f"{'engine':>11} {'synapses':>9} {'wall/τ (s)':>12} {'deliveries/s':>13} "
          f"{'msg/sample':>12} {'B/synapse':>10}")
    report["engines"] = compare_engines(samples, presentation)

    sizes = [(25, 100), (50, 100)] if quick else [(25, 100), (50, 100), (100, 100)]
    samples, presentation = (3, 2.5) if quick else (2, 5.0)
    print(f"\n2. unit engine against SimPy: {samples} random samples, {presentation:g} τ each, "
          "delays U[0.05, 0.2] (exact, then rounded to a 0.01 grid: equal delays share one "
          "event)")
    print(f"{'synapses':>9} {'delays':>7} {'deliveries/s':>13} {'floor/s':>10} {'ratio':>6} "
          f"{'msg/sample':>11} {'wall/τ (s)':>10} {'µs/delivery':>11} {'B/synapse':>10}")
    rows = []
    for resolution in (0.0, 0.01):
        for n_in, n_hidden in sizes:
            rows.append(_row(n_in, n_hidden, samples, presentation, resolution))
    report["rows"] = rows

    sizes = [(5, 100), (50, 100), (250, 200)] if quick else \
        [(5, 100), (50, 100), (250, 200), (500, 500), (1000, 500)]
    samples, presentation = (2, 2.5)
    print(f"\n3. population engine against numpy: {samples} random samples, {presentation:g} τ "
          "each, delays U[0.05, 0.2] on the senders' step grid")
    print(f"{'synapses':>9} {'wall/τ (s)':>11} {'floor (s)':>10} {'ratio':>6} "
          f"{'ns/syn-update':>14} {'deliveries/s':>13} {'B/synapse':>10}")
    pop_rows = []
    for n_in, n_hidden in sizes:
        r = measure_population(n_in, n_hidden, samples, presentation)
        pop_rows.append(r)
        print(f"{r['synapses']:>9,} {r['wall_per_time_unit']:>11.4f} {r['floor_wall']:>10.3f} "
              f"{r['ratio']:>6.2f} {r['ns_per_synapse_update']:>14.2f} "
              f"{r['deliveries_per_s']:>13,.0f} {r['bytes_per_synapse']:>10,.0f}", flush=True)
    report["population"] = pop_rows
    return report


def _row(n_in: int, n_hidden: int, samples: int, presentation: float,
         resolution: float) -> dict:
    e = measure_engine(n_in, n_hidden, samples, presentation, resolution)
    # plain timeouts: the neuron updates that sent nothing, and the neurons' drift alarms
    floor, resumed = measure_floor(e.pop("senders"), e["sim_time"],
                                   max(0, e["neuron_updates"] - e["emissions"])
                                   + e["drift_rings"])
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
