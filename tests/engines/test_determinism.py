"""Oracle 7: same seed ⇒ bit-identical results; a different seed gives different results."""

import numpy as np

import asyncpc as ap


def run(seed, engine):
    pops = [ap.PopulationSpec("i", 2, jitter=0.3), ap.PopulationSpec("h", 4, activation="tanh",
                                                                      jitter=0.3),
            ap.PopulationSpec("o", 1, activation="sigmoid", jitter=0.3)]
    delay = ap.Distribution("lognormal", mean=0.1, std=0.05)
    edges = [ap.EdgeSpec("i", "h", delay=delay, eta_w=0.05, eta_b=0.05, lam=1e-3,
                         b_init=ap.Distribution("uniform", low=-0.3, high=0.3)),
             ap.EdgeSpec("h", "o", delay=delay, eta_w=0.05, eta_b=0.05, lam=1e-3)]
    net = ap.build_network(ap.build_graph(pops, edges), engine=engine, seed=seed)
    for j, (x, y) in enumerate([([0, 1], 1), ([1, 1], 0), ([1, 0], 1)]):
        net.clamp("i", x)
        net.clamp("o", y)
        net.run(5.0 * (j + 1))
    return (np.concatenate([m.ravel() for e in net.edge_names for m in net.weights(e)]),
            net.counters)


def test_same_seed_gives_bit_identical_results(engine):
    a, ca = run(5, engine)
    b, cb = run(5, engine)
    assert np.array_equal(a, b)
    assert ca == cb


def test_different_seeds_differ(engine):
    a, _ = run(5, engine)
    b, _ = run(6, engine)
    assert not np.array_equal(a, b)
