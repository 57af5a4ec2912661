"""Small builders shared by the tests (the networks of the oracles)."""

from __future__ import annotations

import json
import math

import numpy as np

import asyncpc as ap
from asyncpc import runner
from asyncpc import scenario as sc
from asyncpc.stimulus import Stimulus


def chain(sizes, *, acts=None, dt=0.01, delay=0.0, rule="hebbian", eta_w=0.0, eta_b=0.0,
          lam_w=0.0, lam_b=None, seed=0, w_std=0.5, b_values=None, variances=None, theta=0.0,
          settle=0.0, refresh=0.0, x0=0.0, tau_eps=0.0):
    """A feed-forward chain p0 → p1 → … with explicit random initial weights.

    Returns the model graph and the initial ``(W, B)`` matrices of every edge.
    """
    acts = acts or ["linear"] * len(sizes)
    variances = variances or [1.0] * len(sizes)
    rng = np.random.default_rng(seed)
    pops = [ap.PopulationSpec(f"p{j}", n, activation=acts[j], variance=variances[j], dt=dt,
                              theta=theta, settle=settle, refresh=refresh, x0=x0,
                              tau_eps=tau_eps)
            for j, n in enumerate(sizes)]
    edges, mats = [], []
    for j in range(len(sizes) - 1):
        W = rng.normal(0.0, w_std, (sizes[j + 1], sizes[j]))
        B = W.T.copy() if b_values is None else b_values[j]
        delay_dist = delay if isinstance(delay, ap.Distribution) else ap.Distribution(
            "constant", value=delay)
        edges.append(ap.EdgeSpec(f"p{j}", f"p{j + 1}", w_values=tuple(map(tuple, W)),
                                 b_values=tuple(map(tuple, B)), delay=delay_dist, rule=rule,
                                 eta_w=eta_w, eta_b=eta_b, lam=lam_w, lam_b=lam_b))
        mats.append((W, B))
    return ap.build_graph(pops, edges), mats


#: a tiny supervised scenario (xor through one edge), as data; ``to_toml`` writes it
TINY = {
    "run": {"description": "tiny", "seed": 0},
    "populations": {"input": {"n": 2}, "label": {"n": 1, "prior": 0.0}},
    "edges": [{"source": "input", "target": "label", "eta_w": 0.01, "delay": 0.05}],
    "data": {"kind": "xor"},
    "stimulus": {"clamp": ["input", "label"], "presentation": 2.0, "epochs": 2},
    "evaluation": {"every": 4.0, "clamp": ["input"], "read": "label", "readout": "threshold"},
}


def literal(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(literal(x) for x in v) + "]"
    return "{" + ", ".join(f"{k} = {literal(x)}" for k, x in v.items()) + "}"


def to_toml(data: dict) -> str:
    """A scenario as TOML (tables, an array of ``[[edges]]``, inline values)."""
    lines = []
    for name, table in data.items():
        if name == "populations":
            for pop, keys in table.items():
                bare = pop.replace("_", "").replace("-", "").isalnum()
                lines.append(f"[populations.{pop if bare else json.dumps(pop)}]")
                lines += [f"{k} = {literal(v)}" for k, v in keys.items()]
        elif name == "edges":
            for edge in table:
                lines.append("[[edges]]")
                lines += [f"{k} = {literal(v)}" for k, v in edge.items()]
        else:
            lines.append(f"[{name}]")
            lines += [f"{k} = {literal(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def run_shipped(name, *overrides, seed=None, engine="unit"):
    """A shipped scenario with overrides, run on ``engine`` (no figures)."""
    sets = [*overrides, f"run.engine={engine}"] + ([f"run.seed={seed}"] if seed is not None else [])
    return runner.run(sc.load(sc.find(name), sets), plots=False)


def xor_network(engine, seed, *, hidden=3, dt=0.05, jitter=0.0, settle=1e-4, theta=0.0,
                tau_eps=0.0, delay=None, presentation=3.0, epochs=3):
    """The small learning network several tests share: input (2) → hidden (tanh, learning
    bias) → label (1, learning bias), learned feedback with decay, a delay per synapse
    (uniform in [0.05, 0.2] unless given), and a stimulus presenting XOR. Returns the network
    and its stimulus."""
    common = {"dt": dt, "jitter": jitter}
    pops = [ap.PopulationSpec("input", 2, **common),
            ap.PopulationSpec("hidden", hidden, activation="tanh", prior=0.0, eta_bias=0.01,
                              settle=settle, theta=theta, **common),
            ap.PopulationSpec("label", 1, prior=0.0, eta_bias=0.01, tau_eps=tau_eps, **common)]
    d = delay or ap.Distribution("uniform", low=0.05, high=0.2)
    edges = [ap.EdgeSpec("input", "hidden", delay=d, eta_w=0.05, eta_b=0.05, lam=0.01,
                         w_init=ap.Distribution("normal", std=0.5),
                         b_init=ap.Distribution("normal", std=0.5)),
             ap.EdgeSpec("hidden", "label", delay=d, eta_w=0.05, eta_b=0.05, lam=0.01)]
    net = ap.build_network(ap.build_graph(pops, edges), engine=engine, seed=seed)
    stimulus = Stimulus(net, ap.datasets.xor(), clamp=["input", "label"],
                        presentation=presentation, epochs=epochs,
                        rng=ap.rng_for(seed, "stimulus"))
    return net, stimulus


def all_weights(net) -> np.ndarray:
    """Every W and B of the network, flattened, edge by edge."""
    return np.concatenate([m.ravel() for e in net.edge_names for m in net.weights(e)])
