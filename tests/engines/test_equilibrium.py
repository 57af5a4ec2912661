"""Oracles 3 and 4: with fixed weights the activities settle at the minimum of F.

For a linear network the minimum is a linear least-squares problem, solved here independently
with numpy; for Bogacz's nonlinear tutorial example (prior mean 3, variances 1, observation 2,
g(v) = v²) the fixed point is the root of 2φ³ − 3φ − 3 = 0, φ = 1.5675. A fixed point does not
depend on transmission delays, so the linear case is also run with delays."""

import numpy as np
import pytest

import asyncpc as ap


def linear_model(delay: ap.Distribution, tau_eps: float = 0.0, cycle: bool = False,
                 local_delay: float = 0.0):
    rng = np.random.default_rng(7)
    sizes = {"a": 2, "b": 3, "c": 4}
    common = {"dt": 0.02, "settle": 1e-7, "tau_eps": tau_eps, "local_delay": local_delay}
    pops = [ap.PopulationSpec("a", 2, prior=0.5, variance=2.0, **common),
            ap.PopulationSpec("b", 3, variance=0.5, **common),
            ap.PopulationSpec("c", 4, **common)]
    mats = {}
    edges = []
    # a skip edge (c has two predictors) and, optionally, a cycle a → b → c → a
    pairs = [("a", "b"), ("b", "c"), ("a", "c")] + ([("c", "a")] if cycle else [])
    for s, t in pairs:
        W = rng.normal(0, 0.6, (sizes[t], sizes[s]))
        mats[(s, t)] = W
        edges.append(ap.EdgeSpec(s, t, w_values=tuple(map(tuple, W)), rule="tied", delay=delay))
    return ap.build_graph(pops, edges), mats, sizes


def closed_form(mats, sizes, clamped_c):
    """argmin over (x_a, x_b) of Σ_t |x_t − b_t − Σ_s W_ts x_s|² / (2 σ²_t), x_c fixed."""
    var = {"a": 2.0, "b": 0.5, "c": 1.0}
    off = {"a": 0, "b": 2}
    rows, rhs = [], []
    for t in ("a", "b", "c"):
        n = sizes[t]
        A = np.zeros((n, 5))
        c = np.zeros(n)
        if t in off:
            A[:, off[t]:off[t] + n] += np.eye(n)
        else:
            c -= clamped_c
        if t == "a":
            c += 0.5
        for (s, tt), W in mats.items():
            if tt == t and s in off:
                A[:, off[s]:off[s] + sizes[s]] -= W
            elif tt == t:  # a clamped predictor contributes a constant
                c += W @ clamped_c
        rows.append(A / np.sqrt(var[t]))
        rhs.append(c / np.sqrt(var[t]))
    z = np.linalg.lstsq(np.vstack(rows), np.concatenate(rhs), rcond=None)[0]
    return z[:2], z[2:]


@pytest.mark.parametrize(("delay", "tau_eps", "cycle", "local_delay"), [
    (ap.Distribution("constant", value=0.0), 0.0, False, 0.0),
    (ap.Distribution("uniform", low=0.05, high=0.2), 0.0, False, 0.0),
    (ap.Distribution("constant", value=0.0), 0.2, False, 0.0),   # clocked error neurons
    (ap.Distribution("uniform", low=0.05, high=0.2), 0.0, True, 0.0),  # a cyclic graph
    (ap.Distribution("uniform", low=0.05, high=0.2), 0.0, False, 0.06),  # delays in columns
])
def test_linear_network_settles_at_the_closed_form_minimum(delay, tau_eps, cycle, local_delay,
                                                           engine):
    graph, mats, sizes = linear_model(delay, tau_eps, cycle, local_delay)
    net = ap.build_network(graph, engine=engine, seed=2)
    xc = np.array([1.0, -0.5, 0.25, 0.75])
    net.clamp("c", xc)
    net.run(60.0)
    xa, xb = closed_form(mats, sizes, xc)
    assert np.max(np.abs(net.x("a") - xa)) < 1e-4  # residual: settle threshold 1e-7 per unit t
    assert np.max(np.abs(net.x("b") - xb)) < 1e-4
    assert np.max(np.abs(xa)) > 0.1  # the answer is not the trivial start


def test_wrong_feedback_settles_elsewhere(engine):
    """Negative control: random fixed feedback is not gradient descent on F."""
    graph, mats, sizes = linear_model(ap.Distribution())
    for s, t, data in graph.edges(data=True):
        spec = data["spec"]
        rng = np.random.default_rng(1)
        B = rng.normal(0, 0.6, (sizes[s], sizes[t]))
        data["spec"] = ap.EdgeSpec(s, t, w_values=spec.w_values, b_values=tuple(map(tuple, B)),
                                   rule="fixed")
    net = ap.build_network(graph, engine=engine, seed=2)
    xc = np.array([1.0, -0.5, 0.25, 0.75])
    net.clamp("c", xc)
    net.run(60.0)
    xa, _ = closed_form(mats, sizes, xc)
    assert np.max(np.abs(net.x("a") - xa)) > 1e-2


def bogacz(delay: float, engine: str):
    pops = [ap.PopulationSpec("v", 1, activation="square", prior=3.0, x0=3.0, dt=0.01,
                              settle=1e-9),
            ap.PopulationSpec("u", 1, dt=0.01)]
    edges = [ap.EdgeSpec("v", "u", w_values=((1.0,),), rule="fixed",
                         delay=ap.Distribution("constant", value=delay))]
    net = ap.build_network(ap.build_graph(pops, edges), engine=engine, seed=0)
    net.clamp("u", 2.0)
    net.run(40.0)
    return float(net.x("v")[0])


# the delay must stay inside the loop's stability range: at φ = 3 the gain (2φ)² is 36 per τ
@pytest.mark.parametrize("delay", [0.0, 0.03125])
def test_bogacz_tutorial_example_settles_at_the_cubic_root(delay, engine):
    root = max(np.roots([2.0, 0.0, -3.0, -3.0]).real)
    assert root == pytest.approx(1.5675, abs=5e-5)
    assert bogacz(delay, engine) == pytest.approx(root, abs=1e-6)


def test_energy_decreases_during_inference(engine):
    """Oracle 4: with B = Wᵀ, zero delays and small steps, inference is descent on F."""
    rng = np.random.default_rng(0)
    pops = [ap.PopulationSpec("y", 3, dt=0.01, settle=0.0),
            ap.PopulationSpec("h", 4, activation="tanh", dt=0.01, settle=0.0),
            ap.PopulationSpec("x", 5, dt=0.01)]
    W1, W2 = rng.normal(0, 0.8, (4, 3)), rng.normal(0, 0.8, (5, 4))
    edges = [ap.EdgeSpec("y", "h", w_values=tuple(map(tuple, W1)), rule="tied"),
             ap.EdgeSpec("h", "x", w_values=tuple(map(tuple, W2)), rule="tied")]
    net = ap.build_network(ap.build_graph(pops, edges), engine=engine, seed=0)
    # an observation the model can explain exactly, so the minimum of F is 0
    net.clamp("x", W2 @ np.tanh(W1 @ rng.normal(0, 1, 3)))
    energies = [net.energy()[0]]
    for j in range(1, 200):
        net.run(0.05 * j)
        energies.append(net.energy()[0])
    diffs = np.diff(energies)
    assert energies[-1] < 0.05 * energies[0]
    assert np.all(diffs <= 1e-12 * energies[0])
