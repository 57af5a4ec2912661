"""The benchmark's own machinery (timings are reported by `asyncpc bench`, never asserted):
its floors replay the work the engines did, and the population engine's memory per synapse
is what its arrays need."""

import numpy as np

from asyncpc import bench


def test_population_floor_replays_the_engines_steps_and_arrivals():
    r = bench.measure_population(20, 30, samples=1, presentation=1.0)
    assert r["synapses"] == 2 * 20 * 30
    assert r["floor_wall"] > 0.0 and r["ratio"] > 0.0
    assert r["messages_per_sample"] > 0


def test_population_engine_memory_per_synapse_is_that_of_its_arrays():
    """W, the delivered values, a scratch matrix and the group indices: a few float64 and
    int64 entries per synapse, nowhere near the unit engine's object per synapse."""
    small = bench.measure_population(50, 100, samples=1, presentation=0.5)
    assert small["bytes_per_synapse"] < 100
    unit = bench.measure_engine(10, 20, samples=1, presentation=0.5)
    assert unit["bytes_per_synapse"] > 10 * small["bytes_per_synapse"]


def test_digits_shaped_network_is_the_one_the_issue_names():
    g = bench.digits_shaped()
    sizes = [g.nodes[n]["spec"].n for n in g.nodes]
    assert sizes == [64, 32, 10]
    assert sum(2 * g.nodes[s]["spec"].n * g.nodes[t]["spec"].n for s, t in g.edges) == 4736
    assert np.isclose(g.edges["input", "hidden"]["spec"].delay.low, 0.005)
