"""Oracle 7: same seed ⇒ bit-identical results; a different seed gives different results."""

import numpy as np
from helpers import all_weights, xor_network

import asyncpc as ap


def run(seed, engine):
    """Jittered clocks and lognormal delays: everything a seed draws."""
    net, _ = xor_network(engine, seed, jitter=0.3,
                         delay=ap.Distribution("lognormal", mean=0.1, std=0.05))
    net.run(15.0)
    return all_weights(net), net.counters


def test_same_seed_gives_bit_identical_results(engine):
    a, ca = run(5, engine)
    b, cb = run(5, engine)
    assert np.array_equal(a, b)
    assert ca == cb


def test_different_seeds_differ(engine):
    a, _ = run(5, engine)
    b, _ = run(6, engine)
    assert not np.array_equal(a, b)
