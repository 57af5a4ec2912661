"""Recorders only observe: a run with recorders (energy, neurons, symmetry, raster,
evaluations on frozen copies) is bit-identical to one without."""

import numpy as np
from helpers import all_weights, xor_network

import asyncpc as ap
from asyncpc.datasets import Dataset, xor
from asyncpc.evaluation import evaluate
from asyncpc.recording import Recorder
from asyncpc.runner.scoring import active_fractions
from asyncpc.sections import DataSection


def build(engine, seed=3, stimulus=None):
    net, stim = xor_network(engine, seed)
    if stimulus is not None:
        stimulus.append(stim)
    return net


def test_recording_does_not_change_the_simulation(engine):
    plain = build(engine)
    plain.run(36.0)
    stim = []
    observed = build(engine, stimulus=stim)
    rec = Recorder(observed, every=0.37, neurons={"hidden": [0, 2], "label": [0]}, raster=500,
                   evaluate=lambda: evaluate(observed, xor(), clamp=["input"], read="label",
                                             settle=5.0, readout="threshold").accuracy,
                   eval_every=10.0, zoom_from=20.0, zoom_every=0.1)
    stim[0].on_end = rec.presentation_end
    observed.run(36.0)
    assert np.array_equal(all_weights(plain), all_weights(observed))
    assert plain.counters == observed.counters
    arrays = rec.arrays()
    assert arrays["x/hidden"].shape == (len(arrays["t"]), 2)
    assert 0 < arrays["raster/t"].size <= 500
    assert arrays["accuracy"].size == 3
    assert np.allclose(arrays["end/t"], 3.0 * np.arange(1, 12))  # the 12th ends at 36
    assert arrays["zoom/t"][0] == 20.0 and arrays["zoom/x/hidden"].shape == (160, 2)


def test_recorded_energy_matches_an_independent_computation(engine):
    net = build(engine)
    rec = Recorder(net, every=1.0)
    net.run(5.5)
    W1, _ = net.weights("input->hidden")
    W2, _ = net.weights("hidden->label")
    rec.sample()
    x_in, x_h, x_l = net.x("input"), net.x("hidden"), net.x("label")
    b_h = net.bias("hidden")
    b_l = net.bias("label")
    F = 0.5 * np.sum((x_h - b_h - W1 @ x_in) ** 2) + 0.5 * np.sum((x_l - b_l - W2 @ np.tanh(x_h))
                                                                 ** 2)
    assert rec.series["energy"][-1] == F or abs(rec.series["energy"][-1] - F) < 1e-12 * F


def test_the_active_fraction_of_relu_units_is_the_feed_forward_pass_s():
    """active/<population> at an evaluation: the fraction of the hidden relu units whose
    feed-forward prediction b + W f(input) is > 0, over the scored samples (independent numpy);
    the read-out population and non-relu populations are not reported."""
    pops = [ap.PopulationSpec("input", 5), ap.PopulationSpec("hidden", 7, activation="relu",
                                                             prior=0.3),
            ap.PopulationSpec("label", 3, activation="relu", prior=0.0)]
    normal = ap.Distribution("normal", std=1.0)
    edges = [ap.EdgeSpec("input", "hidden", w_init=normal),
             ap.EdgeSpec("hidden", "label", w_init=normal)]
    net = ap.build_network(ap.build_graph(pops, edges), engine="population", seed=5)
    rng = np.random.default_rng(0)
    data = Dataset("d", {"input": rng.normal(0, 1, (40, 5)), "label": np.eye(3)[rng.integers(
        0, 3, 40)]})
    got = active_fractions(net, data, DataSection(input="input", label="label"))
    W = net.weights("input->hidden")[0]
    expected = np.mean(data.arrays["input"] @ W.T + 0.3 > 0)
    assert got == {"active/hidden": expected} and 0.2 < expected < 0.8
    linear = ap.build_network(ap.build_graph(
        [ap.PopulationSpec("input", 5), ap.PopulationSpec("hidden", 7, prior=0.3),
         ap.PopulationSpec("label", 3, prior=0.0)], edges), engine="population", seed=5)
    assert active_fractions(linear, data, DataSection(input="input", label="label")) == {}
