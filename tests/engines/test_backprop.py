"""Oracle 6: in a discriminative network with B = Wᵀ and a weak output error (large output
variance σ²), the settled predictive-coding weight updates ε rᵀ align with the backprop
gradients of ½|y − ŷ|², computed independently in numpy; the misalignment shrinks like 1/σ²."""

import numpy as np
import pytest
from helpers import chain

import asyncpc as ap
from asyncpc.metrics import angle_deg

X = np.array([0.9, -0.4, 0.3])
Y = np.array([0.6, -0.8])


def pc_updates(var_out, engine="unit"):
    graph, mats = chain([3, 4, 2], acts=["linear", "tanh", "linear"], rule="tied", seed=4,
                        variances=[1.0, 1.0, var_out], dt=0.02, settle=1e-10)
    net = ap.build_network(graph, engine=engine, seed=0)
    net.clamp("p0", X)
    net.clamp("p2", Y)
    net.run(40.0)
    r_h = np.tanh(net.x("p1"))
    updates = [np.outer(net.eps("p1"), X), np.outer(net.eps("p2"), r_h)]
    return [u * var_out for u in updates], mats


def backprop(mats):
    (W1, _), (W2, _) = mats
    a = W1 @ X
    h = np.tanh(a)
    delta_out = Y - W2 @ h
    delta_h = (1.0 - h ** 2) * (W2.T @ delta_out)
    return [np.outer(delta_h, X), np.outer(delta_out, h)]


def test_pc_updates_approach_backprop_as_output_variance_grows(engine):
    angles, rel = [], []
    for var in (10.0, 100.0, 1000.0):
        pc, mats = pc_updates(var, engine)
        bp = backprop(mats)
        flat_pc = np.concatenate([u.ravel() for u in pc])
        flat_bp = np.concatenate([g.ravel() for g in bp])
        angles.append(angle_deg(flat_pc, flat_bp))
        rel.append(np.linalg.norm(flat_pc - flat_bp) / np.linalg.norm(flat_bp))
    # error O(1/σ²): a tenfold variance gives roughly a tenfold smaller error
    assert rel[0] > 0.01  # at σ² = 10 the two really differ (the check can fail)
    assert rel[1] < rel[0] / 5 and rel[2] < rel[1] / 5
    assert angles[2] < angles[1] < angles[0]
    assert angles[2] < 0.1


def test_random_feedback_does_not_approach_backprop(engine):
    """Negative control: with fixed random B the hidden updates are not backprop's."""
    rng = np.random.default_rng(9)
    b = [rng.normal(0, 0.5, (3, 4)), rng.normal(0, 0.5, (4, 2))]
    graph, mats = chain([3, 4, 2], acts=["linear", "tanh", "linear"], rule="fixed", seed=4,
                        variances=[1.0, 1.0, 1000.0], dt=0.02, settle=1e-10, b_values=b)
    net = ap.build_network(graph, engine=engine, seed=0)
    net.clamp("p0", X)
    net.clamp("p2", Y)
    net.run(40.0)
    bp = backprop(mats)
    assert angle_deg(np.outer(net.eps("p1"), X) * 1000.0, bp[0]) > 10.0


def test_library_metric_agrees_with_the_independent_computation(engine):
    """metrics.pc_vs_backprop (used in studies) against this file's own numpy backprop."""
    from asyncpc.metrics import pc_vs_backprop
    for var in (10.0, 1000.0):
        graph, mats = chain([3, 4, 2], acts=["linear", "tanh", "linear"], rule="tied", seed=4,
                            variances=[1.0, 1.0, var], dt=0.02, settle=1e-10)
        net = ap.build_network(graph, engine=engine, seed=0)
        m = pc_vs_backprop(net, {"p0": X, "p2": Y}, source="p0", target="p2", settle=40.0)
        pc, _ = pc_updates(var, engine)
        flat_pc = np.concatenate([u.ravel() for u in pc]) / var
        flat_bp = np.concatenate([g.ravel() for g in backprop(mats)]) / var
        assert m["angle_deg"] == pytest.approx(angle_deg(flat_pc, flat_bp), rel=1e-6, abs=1e-9)
        assert m["rel_error"] == pytest.approx(
            np.linalg.norm(flat_pc - flat_bp) / np.linalg.norm(flat_bp), rel=1e-6)
