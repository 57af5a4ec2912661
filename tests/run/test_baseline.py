"""The backprop baseline: exact gradients (finite differences), the same sample stream as the
PC network, scored with it, and reported beside it."""

import numpy as np
import pytest

from asyncpc import baseline as bl
from asyncpc import runner
from asyncpc import scenario as sc
from asyncpc.activations import activation


@pytest.mark.parametrize("acts", [("linear", "tanh", "linear"), ("linear", "relu", "sigmoid"),
                                  ("linear", "sigmoid", "tanh")])
def test_backprop_gradients_match_finite_differences(acts):
    rng = np.random.default_rng(0)
    sizes = [3, 4, 2]
    a = [activation(name) for name in acts]
    W = [rng.normal(0, 0.8, (sizes[k + 1], sizes[k])) for k in range(2)]
    b = [rng.normal(0, 0.3, n) for n in sizes[1:]]
    x, y, var = rng.normal(0, 1, 3), rng.normal(0, 1, 2), 0.7
    dW, db = bl.descent(bl.forward(x, W, b, a), y, W, a, var)

    def numeric(which, k, idx, h=1e-6):
        """Central difference of the loss in entry ``idx`` of W[k] (which = 0) or b[k]."""
        values = []
        for step in (h, -h):
            params = [[m.copy() for m in W], [v.copy() for v in b]]
            params[which][k][idx] += step
            values.append(bl.loss(bl.forward(x, *params, a), y, var))
        return (values[0] - values[1]) / (2 * h)

    for k in range(2):
        for idx in np.ndindex(W[k].shape):
            assert -dW[k][idx] == pytest.approx(numeric(0, k, idx), abs=1e-7)
        for idx in np.ndindex(b[k].shape):
            assert -db[k][idx] == pytest.approx(numeric(1, k, idx), abs=1e-7)


def test_a_descent_step_lowers_the_loss_and_a_wrong_sign_raises_it():
    rng = np.random.default_rng(1)
    a = [activation("linear"), activation("tanh"), activation("linear")]
    W = [rng.normal(0, 0.5, (4, 3)), rng.normal(0, 0.5, (2, 4))]
    b = [np.zeros(4), np.zeros(2)]
    x, y = rng.normal(0, 1, 3), np.array([0.5, -0.5])
    before = bl.loss(bl.forward(x, W, b, a), y, 1.0)
    dW, _ = bl.descent(bl.forward(x, W, b, a), y, W, a, 1.0)
    down = [w + 0.01 * g for w, g in zip(W, dW, strict=True)]
    up = [w - 0.01 * g for w, g in zip(W, dW, strict=True)]
    assert bl.loss(bl.forward(x, down, b, a), y, 1.0) < before
    assert bl.loss(bl.forward(x, up, b, a), y, 1.0) > before


def test_the_baseline_trains_on_the_presented_samples_and_is_reported_beside_the_network():
    s = sc.load("xor", ["stimulus.epochs=10", "baseline.kind=backprop", "baseline.eta=0.5",
                        "evaluation.every=200.0", "stimulus.order=sequential"])
    result = runner.run(s, plots=False)
    tr, summary = result.traces, result.summary
    # one step per presentation, on the same samples, scored at every evaluation
    assert summary["baseline"]["updates"] == summary["samples_presented"] == 40
    assert len(tr["evaluation/baseline_accuracy"]) == len(tr["accuracy"]) >= 4
    assert summary["baseline"]["accuracy"]["train"] == tr["evaluation/baseline_accuracy"][-1]
    # the same steps by hand, from the network's initial weights, reproduce its accuracy
    net0 = runner.build_experiment(s).net
    manual = bl.Backprop(net0, "input", "label", 0.5)
    data = runner.make_datasets(s)[0]
    for _ in range(10):
        for j in range(len(data)):
            manual.update(data.sample(j))
    ev = manual.evaluate(data, "threshold", s.sections.evaluation.threshold)
    assert ev.accuracy == summary["baseline"]["accuracy"]["train"]
    assert not np.allclose(manual.W[0], net0.weights("input->hidden")[0])  # it learned


def test_a_baseline_needs_a_chain_from_input_to_label(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[populations.input]\nn = 2\n[populations.label]\nn = 1\n'
                    '[populations.other]\nn = 1\n[[edges]]\nsource = "other"\n'
                    'target = "label"\n[data]\nkind = "xor"\n[stimulus]\n'
                    'clamp = ["input", "label"]\n[evaluation]\nread = "label"\n'
                    'readout = "threshold"\n[baseline]\nkind = "backprop"\n')
    with pytest.raises(sc.ScenarioError, match="baseline.kind: expected a chain of edges"):
        sc.load(path)


def test_a_baseline_refuses_edges_its_chain_would_ignore(tmp_path):
    base = ('[populations.input]\nn = 2\n[populations.hidden]\nn = 2\n'
            '[populations.label]\nn = 1\n[[edges]]\nsource = "input"\ntarget = "hidden"\n'
            '[[edges]]\nsource = "hidden"\ntarget = "label"\n[data]\nkind = "xor"\n'
            '[stimulus]\nclamp = ["input", "label"]\n[evaluation]\nread = "label"\n'
            'readout = "threshold"\n[baseline]\nkind = "backprop"\n')
    path = tmp_path / "s.toml"
    path.write_text(base)
    sc.load(path)  # the plain chain is accepted
    path.write_text(base + '[[edges]]\nsource = "input"\ntarget = "label"\n')
    with pytest.raises(sc.ScenarioError, match="expected no other edges into it, got "
                                               "input -> label"):
        sc.load(path)
