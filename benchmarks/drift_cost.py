"""Cost at matched accuracy: what keeping learning synapses' currents fresh costs, against
the earlier way of getting the same accuracy (re-reading every ``refresh``).

The digits-shaped network of ``asyncpc bench`` (64 → 32 → 10, learned feedback, delays)
learns two digit-like samples of 10 τ each on one engine. The reference is the same network
with ``drift_theta = 0`` (every learning synapse re-sends its current at every step ``dt``).
Rows: the earlier numerics (``drift_theta = 1e9``: currents re-sent only every ``refresh``)
at shrinking ``refresh``, and the drift rule at shrinking ``drift_theta`` (``refresh`` 2).
Error: the largest difference of any weight from the reference, over the largest weight
change the reference made (relative to what was learned). Wall time of each run, in one
process, one after another; printed as the table of docs/performance.md:
python benchmarks/drift_cost.py [ENGINE [PRESENTATION]]   (e.g. population 10)
"""

import dataclasses
import sys
import time

import numpy as np

from asyncpc.bench import digits_shaped
from asyncpc.datasets import Dataset
from asyncpc.engines import build
from asyncpc.model import rng_for
from asyncpc.stimulus import Stimulus

#: time each sample is held (``python benchmarks/drift_cost.py ENGINE PRESENTATION``)
PRESENTATION = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0


def run(engine: str, drift_theta: float, refresh: float) -> tuple[float, list, int]:
    graph = digits_shaped()
    for name in graph.nodes:
        spec = graph.nodes[name]["spec"]
        graph.nodes[name]["spec"] = dataclasses.replace(spec, drift_theta=drift_theta,
                                                        theta=0.0, refresh=refresh)
    rng = rng_for(0, "bench digits")
    x = (rng.random((2, 64)) < 0.3) * rng.random((2, 64))
    y = np.eye(10)[rng.integers(0, 10, 2)]
    net = build(graph, engine=engine, seed=0)
    stim = Stimulus(net, Dataset("digit-like", {"input": x, "label": y}),
                    clamp=["input", "label"], presentation=PRESENTATION,
                    rng=rng_for(0, "stimulus"))
    start = time.perf_counter()
    net.run(stim.duration)
    wall = time.perf_counter() - start
    return wall, [np.concatenate([m.ravel() for m in net.weights(e)]) for e in net.edge_names], \
        net.counters.delivered


def main(engines=("unit", "population")) -> None:
    print("| engine | numerics | wall (s) | messages | weight error / learned change |")
    print("|---|---|---|---|---|")
    for engine in engines:
        run(engine, 0.0, 2.0)  # warm-up
        graph_w0 = [np.concatenate([m.ravel() for m in build(digits_shaped(), engine=engine,
                                                              seed=0).weights(e)])
                    for e in ("input->hidden", "hidden->label")]
        wall, ref, msgs = run(engine, 0.0, 2.0)
        learned = max(np.max(np.abs(r - a)) for r, a in zip(ref, graph_w0, strict=True))
        rows = [("drift_theta 0 (reference)", wall, msgs, 0.0)]
        settings = [("refresh", r, 1e9, r) for r in (2.0, 0.5, 0.1, 0.02)] + \
            [("drift_theta", d, d, 2.0) for d in (1e-2, 1e-3, 1e-4)]
        for key, value, drift_theta, refresh in settings:
            wall, w, msgs = run(engine, drift_theta, refresh)
            err = max(np.max(np.abs(a - b)) for a, b in zip(w, ref, strict=True)) / learned
            label = (f"earlier (drift_theta 1e9), refresh {value:g}" if key == "refresh"
                     else f"drift rule, drift_theta {value:g}")
            rows.append((label, wall, msgs, err))
        for label, wall, msgs, err in rows:
            print(f"| {engine} | {label} | {wall:.2f} | {msgs:,} | {err:.1e} |", flush=True)


if __name__ == "__main__":
    main(tuple(sys.argv[1:2]) or ("unit", "population"))
