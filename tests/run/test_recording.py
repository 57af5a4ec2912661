"""Recorders only observe: a run with recorders (energy, neurons, symmetry, raster,
evaluations on frozen copies) is bit-identical to one without."""

import numpy as np

import asyncpc as ap
from asyncpc.datasets import xor
from asyncpc.evaluation import evaluate
from asyncpc.recording import Recorder
from asyncpc.stimulus import Stimulus


def build(engine, seed=3, stimulus=None):
    pops = [ap.PopulationSpec("input", 2), ap.PopulationSpec("hidden", 3, activation="tanh",
                                                             prior=0.0, eta_bias=0.01),
            ap.PopulationSpec("label", 1, prior=0.0, eta_bias=0.01)]
    d = ap.Distribution("uniform", low=0.05, high=0.2)
    edges = [ap.EdgeSpec("input", "hidden", delay=d, eta_w=0.05, eta_b=0.05, lam=0.01,
                         w_init=ap.Distribution("normal", std=0.5),
                         b_init=ap.Distribution("normal", std=0.5)),
             ap.EdgeSpec("hidden", "label", delay=d, eta_w=0.05, eta_b=0.05, lam=0.01)]
    net = ap.build_network(ap.build_graph(pops, edges), engine=engine, seed=seed)
    stim = Stimulus(net, xor(), clamp=["input", "label"], presentation=3.0, epochs=3,
                    rng=ap.rng_for(seed, "stim"))
    if stimulus is not None:
        stimulus.append(stim)
    return net


def weights(net):
    return np.concatenate([m.ravel() for e in net.edge_names for m in net.weights(e)])


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
    assert np.array_equal(weights(plain), weights(observed))
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
