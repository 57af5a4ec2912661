"""The synchronous-PC baseline: inference settles at the minimum of the energy (closed form),
one update without inference is backprop's at the output, Kolen–Pollack's identity holds, and a
run trains and reports it beside the network and the backprop baseline."""

import numpy as np
import pytest

import asyncpc as ap
from asyncpc import baseline as bl
from asyncpc import runner
from asyncpc import scenario as sc
from asyncpc.cli import _report


def _chain(acts=("linear", "linear", "linear"), variances=(1.0, 0.7, 1.3), rule="hebbian"):
    """s (3) → h (4) → o (2), every population with a learning bias, random weights."""
    pops = [ap.PopulationSpec(name, n, activation=a, variance=v, prior=0.0, eta_bias=0.1)
            for name, n, a, v in zip("sho", (3, 4, 2), acts, variances, strict=True)]
    normal = ap.Distribution("normal", std=0.6)
    edges = [ap.EdgeSpec("s", "h", rule=rule, w_init=normal, b_init=normal),
             ap.EdgeSpec("h", "o", rule=rule, w_init=normal, b_init=normal)]
    return ap.build_network(ap.build_graph(pops, edges), engine="population", seed=2)


SAMPLE = {"s": np.array([1.0, -0.5, 0.3]), "o": np.array([0.4, -0.6])}


@pytest.mark.parametrize("feedback", ["tied", "hebbian"])
def test_inference_settles_at_the_minimum_of_the_energy(feedback):
    """Linear chain, input and output clamped: the hidden state solves ∂F/∂x_h = 0,
    (x_h − W1 s)/σ²_h = W2ᵀ (y − W2 x_h)/σ²_o (biases 0), an independent linear solve — with
    B = W2ᵀ (tied), and with learned feedback only if B happens to be W2ᵀ (negative control:
    random B settles elsewhere)."""
    net = _chain()
    learner = bl.SyncPC(net, "s", "o", 0.1, steps=4000, rate=0.05, feedback=feedback)
    W1, W2 = learner.W
    A = np.eye(4) / 0.7 + W2.T @ W2 / 1.3
    expected = np.linalg.solve(A, W1 @ SAMPLE["s"] / 0.7 + W2.T @ SAMPLE["o"] / 1.3)
    x = learner.relax(SAMPLE)
    if feedback == "tied":
        np.testing.assert_allclose(x[1], expected, atol=1e-10)
    else:
        assert np.max(np.abs(x[1] - expected)) > 1e-3
        learner.B[1] = W2.T.copy()
        np.testing.assert_allclose(learner.relax(SAMPLE)[1], expected, atol=1e-10)


def test_an_update_without_inference_is_backprops_at_the_output():
    """steps = 0: hidden at the forward pass, so its error is 0 and only the output layer
    learns, by exactly backprop's gradient of Σ (y − μ)²/(2σ²); one inference step already
    teaches the hidden layer (negative control)."""
    net = _chain(acts=("linear", "tanh", "linear"))
    sync = bl.SyncPC(net, "s", "o", 0.1, steps=0, rate=0.1, feedback="tied")
    back = bl.Backprop(net, "s", "o", 0.1)
    W0 = [w.copy() for w in sync.W]
    sync.update(SAMPLE)
    back.update(SAMPLE)
    np.testing.assert_allclose(sync.W[1], back.W[1], atol=1e-15)
    np.testing.assert_array_equal(sync.W[0], W0[0])
    one = bl.SyncPC(net, "s", "o", 0.1, steps=1, rate=0.1, feedback="tied")
    one.update(SAMPLE)
    assert np.max(np.abs(one.W[0] - W0[0])) > 1e-4


@pytest.mark.parametrize("lam", [0.0, 0.05])
def test_learned_feedback_keeps_kolen_pollacks_identity(lam):
    """W − Bᵀ changes only by the decay: after n updates it is (1 − eta lam)ⁿ (W₀ − B₀ᵀ),
    however the states moved."""
    net = _chain(acts=("linear", "relu", "linear"))
    learner = bl.SyncPC(net, "s", "o", 0.05, steps=10, rate=0.1, feedback="hebbian", lam=lam)
    start = [w - b.T for w, b in zip(learner.W, learner.B, strict=True)]
    rng = np.random.default_rng(0)
    for _ in range(30):
        learner.update({"s": rng.normal(0, 1, 3), "o": rng.normal(0, 1, 2)})
    for k in range(2):
        np.testing.assert_allclose(learner.W[k] - learner.B[k].T,
                                   (1 - 0.05 * lam) ** 30 * start[k], atol=1e-12)
        assert np.max(np.abs(learner.W[k] - net.weights(learner.chain.edges[k])[0])) > 1e-3


def test_a_run_trains_both_baselines_beside_the_network_and_reports_them(tmp_path):
    s = sc.load("xor", ["stimulus.epochs=10", 'baseline.kind=["backprop", "sync_pc"]',
                        "baseline.pc_eta=0.2", "evaluation.every=200.0"])
    result = runner.run(s, out=tmp_path / "run")
    tr, summary = result.traces, result.summary
    for entry, prefix in (("baseline", "baseline_"), ("sync_pc", "sync_pc_")):
        assert summary[entry]["updates"] == summary["samples_presented"] == 40
        assert len(tr[f"evaluation/{prefix}accuracy"]) == len(tr["accuracy/t"])
    assert summary["sync_pc"]["kind"] == "sync_pc" and summary["sync_pc"]["eta"] == 0.2
    assert (tmp_path / "run" / "plots" / "accuracy.png").exists()
    text = _report(summary, tmp_path / "run")
    assert "synchronous PC (eta 0.2, 40 updates)" in text and "backprop baseline" in text


@pytest.mark.parametrize("value, message", [
    ('"sync"', "one of backprop, sync_pc, none, or a list of them without repeats"),
    ('["sync_pc", "sync_pc"]', "without repeats")])
def test_a_wrong_baseline_kind_is_named(value, message):
    with pytest.raises(sc.ScenarioError, match=f"baseline.kind: expected .*{message}"):
        sc.load("xor", [f"baseline.kind={value}"])
