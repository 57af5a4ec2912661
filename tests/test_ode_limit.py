"""Oracle 2: with zero delays, theta = 0 and small steps, the asynchronous engine follows the
SPEC §1 ODE, integrated independently (tests/reference.py); halving the step halves the error."""

import numpy as np
import pytest
from helpers import chain
from reference import DenseModel

import asyncpc as ap

X_IN = np.array([0.8, -0.5])
Y = np.array([0.3, -0.2])
ETA = 0.05
T = 4.0


def engine_run(dt, engine):
    graph, mats = chain([2, 3, 2], acts=["linear", "tanh", "linear"], dt=dt, eta_w=ETA,
                        eta_b=ETA, seed=3)
    # a learnable bias on the hidden population: db/dt = eta_b eps
    spec = graph.nodes["p1"]["spec"]
    graph.nodes["p1"]["spec"] = ap.PopulationSpec(**{**spec.__dict__, "prior": 0.2,
                                                     "eta_bias": 0.3})
    net = ap.build_network(graph, engine=engine, seed=11)
    net.clamp("p0", X_IN)
    net.clamp("p2", Y)
    net.run(T)
    return net, mats


def reference_run(mats):
    pops = {"p0": dict(n=2, act="linear", var=1.0, tau=1.0, clamped=X_IN),
            "p1": dict(n=3, act="tanh", var=1.0, tau=1.0, prior=0.2, eta_bias=0.3),
            "p2": dict(n=2, act="linear", var=1.0, tau=1.0, clamped=Y)}
    edges = [dict(src=f"p{j}", tgt=f"p{j + 1}", W=W, B=B, eta_w=ETA, eta_b=ETA, lam_w=0.0,
                  lam_b=0.0) for j, (W, B) in enumerate(mats)]
    x, W, _, b = DenseModel(pops, edges).integrate(T, h=1e-3)
    return x["p1"], W, b["p1"]


def test_trajectories_converge_to_the_ode_as_the_step_shrinks(engine):
    errors = []
    for dt in (0.04, 0.02, 0.01):
        net, mats = engine_run(dt, engine)
        x_ref, w_ref, b_ref = reference_run(mats)
        err_x = np.max(np.abs(net.x("p1") - x_ref))
        err_w = max(np.max(np.abs(net.weights(f"p{j}->p{j + 1}")[0] - w_ref[j])) for j in (0, 1))
        err_b = np.max(np.abs(net.bias("p1") - b_ref))
        errors.append(max(err_x, err_w, err_b))
    # first-order scheme: each halving of dt should cut the error by about 2
    assert errors[0] > errors[1] > errors[2]
    assert errors[1] / errors[2] > 1.8 and errors[0] / errors[1] > 1.8
    # first order: ≈ 0.09·dt (unit) and 0.15·dt (population: error neurons follow their
    # inputs on the population clock) here; the fast bias (eta 0.3) dominates
    assert errors[2] < 2e-3


def test_hidden_state_moved_away_from_its_start(engine):
    """Guards the test above against passing trivially (nothing moving matches anything)."""
    net, mats = engine_run(0.02, engine)
    x_ref, _, b_ref = reference_run(mats)
    assert np.max(np.abs(b_ref - 0.2)) > 0.01  # the bias learned
    assert np.max(np.abs(x_ref)) > 0.1
    assert np.max(np.abs(net.x("p1"))) > 0.1


def test_a_learning_bias_keeps_drifting_while_its_clocked_error_neuron_sleeps(engine):
    """x clamped at 1, prior 0, db/dt = eta_b (1 − b): b(T) = 1 − e^{−eta_b T} (closed form).
    A clocked error neuron (tau_eps > 0) that sleeps must integrate its bias over the sleep
    too. The residual comes from the settle threshold (eps held within settle·tau_eps = 2e-3)
    and the wake-up interval while asleep (refresh 0.1)."""
    pops = [ap.PopulationSpec("a", 1, prior=0.0, eta_bias=0.05, tau_eps=0.2, settle=0.01,
                              dt=0.01, refresh=0.1)]
    net = ap.build_network(ap.build_graph(pops, []), engine=engine, seed=0)
    net.clamp("a", 1.0)
    net.run(40.0)
    assert net.bias("a")[0] == pytest.approx(1.0 - np.exp(-2.0), abs=5e-3)
