"""Speed-up of one network split over MPI processes (``run --ranks N``), and a model of it.

    python benchmarks/ranks_speedup.py                  # 10³, 10⁴, 10⁵ synapses on 1 and 2 ranks
    python benchmarks/ranks_speedup.py --sizes 16 --time 2   # one size, 2 τ

Workload: a chain input(n) → hidden(n) → top(n), 4 n² synapses, learning W and B, delays
U[0.05, 0.2] τ (the lookahead is the shortest delay between ranks, ≈ 0.05), neurons stepping
every 0.05 (error neurons too: τ_ε 0.1), random input patterns presented by the stimulus for
2 τ each. Each size runs on
one process (the unit engine) and on ``--ranks`` processes (``mpiexec``); the final states
must be equal bit for bit (checked), and the wall time of the simulation alone (not the
building) is compared. The exchange's cost is measured apart (an all-to-all of empty and of
full outboxes), and a model of the speed-up at 8–64 ranks is drawn from the measured costs:

    T(P) = (W · m + I · (P − 1) / P) / P  +  windows · (α · (P − 1) + γ)
           +  records · β · (P − 1) / P

W the work as split at 2 ranks (their compute added up), m the largest rank's compute over the
mean, I the cost of scheduling every delivery that arrives from another rank if all did
(measured: the ranks' import time, scaled up from the crossing fraction), α the all-to-all's
cost per peer and window, γ rank 0's remaining cost per window (the world, the broadcast;
measured), β the cost of one emission record sent to one peer;
records = emissions whose neuron has synapses on another rank (all of them, dense edges). The
costs are this machine's (shared memory, 2 cores); across a network α grows by its latency,
and T(P) assumes the work divides evenly (it ignores that a smaller heap per process makes
each event cheaper, which is why 2 ranks can beat 2×).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asyncpc.datasets import Dataset  # noqa: E402
from asyncpc.model import Distribution, EdgeSpec, PopulationSpec, build_graph, rng_for  # noqa: E402
from asyncpc.stimulus import Stimulus  # noqa: E402

PRESENTATION = 2.0


def chain(n: int):
    # clocked error neurons (tau_eps > 0): each neuron emits at most once per step, so the
    # work grows with the synapses (instantaneous error neurons re-emit at every arrival,
    # and with exact delays the work grows as n³)
    common = {"dt": 0.05, "settle": 1e-3, "refresh": 1.0, "theta": 1e-3, "tau_eps": 0.1}
    pops = [PopulationSpec("input", n, **common),
            PopulationSpec("hidden", n, activation="tanh", prior=0.0, **common),
            PopulationSpec("top", n, activation="tanh", prior=0.0, **common)]
    std = Distribution("normal", std=1 / np.sqrt(n))
    edges = [EdgeSpec(s, t, w_init=std, b_init=std,
                      delay=Distribution("uniform", low=0.05, high=0.2), eta_w=0.01, eta_b=0.01,
                      lam=1e-3) for s, t in (("input", "hidden"), ("hidden", "top"))]
    return build_graph(pops, edges)


def simulate(net, n: int, duration: float) -> tuple[float, list]:
    rng = rng_for(0, "ranks bench data")
    samples = max(1, int(np.ceil(duration / PRESENTATION)))
    data = Dataset("random", {"input": rng.normal(0, 1, (samples, n))})
    Stimulus(net, data, clamp=["input"], presentation=PRESENTATION, epochs=1,
             order="sequential", rng=rng)
    start = time.perf_counter()
    net.run(duration)
    wall = time.perf_counter() - start
    state = [net.x(p).tolist() for p in net.population_names]
    state += [w.tolist() for e in net.edge_names for w in net.weights(e)]
    return wall, state


def exchange_costs(comm, records: int = 200, repeat: int = 2000) -> dict:
    """Per all-to-all: with empty outboxes (α, one peer) and with ``records`` per peer."""
    out = {}
    for k in (0, records):
        box = [(7, 1.2345, 0.5)] * k
        comm.Barrier()
        start = time.perf_counter()
        for _ in range(repeat):
            comm.alltoall([(box, None)] * comm.Get_size())
        out[k] = (time.perf_counter() - start) / repeat
    peers = comm.Get_size() - 1
    return {"alpha": out[0] / peers, "beta": (out[records] - out[0]) / (records * peers)}


def worker(n: int, duration: float) -> None:
    """One size on the MPI processes of this launch (rank 0 prints the JSON)."""
    from mpi4py import MPI

    from asyncpc.engines.unit.ranks import DistributedNetwork, serve
    comm = MPI.COMM_WORLD
    costs = exchange_costs(comm)
    if comm.Get_rank() > 0:
        serve(comm)
        return
    net = DistributedNetwork(chain(n), seed=0)
    wall, state = simulate(net, n, duration)
    m = net.mpi_summary()
    print(json.dumps({"wall": wall, "state": state, "windows": net.windows,
                      "window_seconds": net.wall_seconds,
                      "exchange_seconds": m["exchange_seconds_per_rank"][0],
                      "compute_seconds": m["compute_seconds_per_rank"],
                      "import_seconds": m["import_seconds_per_rank"],
                      "imbalance": net.partition.imbalance, "costs": costs,
                      "lookahead": net.partition.lookahead}))
    net.close()


def measure(n: int, duration: float, ranks: int) -> dict:
    from asyncpc.engines import Network
    from asyncpc.mpi import mpiexec
    net = Network(chain(n), seed=0)
    wall1, state1 = simulate(net, n, duration)
    emissions = sum(net.emitted(p) for p in net.population_names)
    done = subprocess.run(
        [mpiexec(), "-n", str(ranks), sys.executable, "-m", "mpi4py", __file__, "--worker",
         str(n), str(duration)], capture_output=True, text=True, check=True)
    par = json.loads(done.stdout.strip().splitlines()[-1])
    assert par.pop("state") == state1, "the split run differs from the single-process run"
    return {"n": n, "synapses": net.n_synapses, "duration": duration,
            "delivered": net.counters.delivered, "emissions": emissions,
            "wall_1": wall1, "ranks": ranks, "wall_p": par["wall"],
            "speedup": wall1 / par["wall"], **{k: v for k, v in par.items() if k != "wall"}}


def model(row: dict, P: np.ndarray) -> np.ndarray:
    """Speed-up over one process at P processes, from the costs measured at ``row["ranks"]``:
    the work W (the ranks' compute added up, as split: smaller event heaps make it less than
    the single process's time), shared evenly but for the measured imbalance m (largest rank's
    compute over the mean), plus per window the all-to-all (α per peer) and rank 0's own
    overhead γ (the world, the broadcast, scheduling what arrived; measured), plus β per
    record and peer."""
    c, ranks = row["costs"], row["ranks"]
    compute = np.asarray(row["compute_seconds"])
    work, m = compute.sum(), compute.max() / compute.mean()
    # scheduling arrivals from other ranks: all ranks' import time covers the crossing
    # fraction (ranks − 1) / ranks of the deliveries; at P it is (P − 1) / P, shared by P
    imports = np.sum(row["import_seconds"]) * ranks / (ranks - 1)
    gamma = max(row["wall_p"] - compute[0] - row["exchange_seconds"]
                - row["import_seconds"][0], 0.0) / row["windows"]
    return row["wall_1"] / ((work * m + imports * (P - 1) / P) / P
                            + row["windows"] * (c["alpha"] * (P - 1) + gamma)
                            + row["emissions"] * c["beta"] * (P - 1) / P)


def figure(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    P = np.array([1, 2, 4, 8, 16, 32, 64], dtype=float)
    for row in rows:  # the model starts at the measured split (its work W is the split's)
        line, = ax.plot(P[1:], model(row, P[1:]), "-", marker=".",
                        label=f"{row['synapses']:,} synapses: model")
        ax.plot([row["ranks"]], [row["speedup"]], "o", ms=9, mfc="none",
                color=line.get_color(), label=f"{row['synapses']:,} synapses: measured")
    ax.plot(P, P, ":", color="grey", label="P (ideal without cache effects)")
    ax.set(xscale="log", yscale="log", xlabel="MPI processes P", ylabel="speed-up T₁ / T(P)",
           title="One network split over processes (unit engine)")
    ax.set_xticks(P, [str(int(p)) for p in P])
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--worker", nargs=2, metavar=("N", "TIME"), help=argparse.SUPPRESS)
    p.add_argument("--sizes", default="16,50,158", help="n of the chain (4 n² synapses)")
    p.add_argument("--time", default="8,4,2", help="simulated time (τ) of each size")
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--json", default="runs/ranks_speedup.json")
    p.add_argument("--figure", default="plots/ranks_speedup.png")
    p.add_argument("--plot-only", action="store_true", help="redraw the figure from --json")
    args = p.parse_args()
    if args.worker:
        worker(int(args.worker[0]), float(args.worker[1]))
        return
    if args.plot_only:
        figure(json.loads(Path(args.json).read_text()), Path(args.figure))
        return
    rows = []
    sizes = [int(s) for s in args.sizes.split(",")]
    times = [float(t) for t in args.time.split(",")]
    for n, duration in zip(sizes, times + times[-1:] * len(sizes), strict=False):
        row = measure(n, duration, args.ranks)
        rows.append(row)
        print(f"{row['synapses']:>7} synapses: 1 rank {row['wall_1']:7.2f} s, {args.ranks} "
              f"ranks {row['wall_p']:7.2f} s, speed-up {row['speedup']:.2f}×; "
              f"{row['windows']} windows, exchange {row['exchange_seconds']:.2f} s "
              f"({100 * row['exchange_seconds'] / row['wall_p']:.0f} % of the wall time, "
              f"{1e6 * row['exchange_seconds'] / row['windows']:.0f} µs per window), "
              f"{row['delivered'] / row['windows']:.0f} deliveries per window, compute per "
              f"rank {', '.join(f'{c:.2f}' for c in row['compute_seconds'])} s, import "
              f"{', '.join(f'{c:.2f}' for c in row['import_seconds'])} s; "
              f"α {1e6 * row['costs']['alpha']:.1f} µs, β {1e6 * row['costs']['beta']:.2f} µs; "
              f"model at 8/64 ranks {model(row, np.array([8.0]))[0]:.1f}× / "
              f"{model(row, np.array([64.0]))[0]:.1f}×", flush=True)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(rows, indent=1))
    figure(rows, Path(args.figure))
    print(f"written {args.json} and {args.figure}")


if __name__ == "__main__":
    main()
