"""Paths of the integration scheme that the closed-form oracles elsewhere do not reach, each
with a check that fails if the path is broken (the mutation it kills is named in each test)."""

import numpy as np
import pytest

import asyncpc as ap


def chain(engine, *, settle, n_hidden=1, seed=0, **edge):
    pops = [ap.PopulationSpec("input", 1, dt=0.01),
            ap.PopulationSpec("hidden", n_hidden, dt=0.01, settle=settle)]
    edges = [ap.EdgeSpec("input", "hidden", w_values=((1.0,),) * n_hidden, **edge)]
    return ap.build_network(ap.build_graph(pops, edges), engine=engine, seed=seed)


def test_a_neuron_restarts_its_clock_when_it_wakes(engine):
    """After sleeping, the first step integrates from the wake-up, not from before the sleep
    (kills: deleting the clock reset on waking, which jumps x by the whole sleep)."""
    runs = {}
    for settle in (0.0, 1e-3):
        net = chain(engine, settle=settle)
        net.clamp("input", [1.0])
        net.run(30.0)  # hidden settles at 1 and (settle > 0) sleeps
        net.clamp("input", [2.0])
        trace = []
        for t in np.arange(30.05, 36.0, 0.05):
            net.run(t)
            trace.append(net.x("hidden")[0])
        runs[settle] = np.array(trace)
    # the sleeper starts one step later than the always-awake clock (a lag of ≤ dt at a rate
    # of ≈ 1) and held x within settle·tau_x of the fixed point
    assert np.all(np.abs(runs[1e-3] - runs[0.0]) < 2e-2)
    assert abs(runs[1e-3][-1] - runs[0.0][-1]) < 2e-3
    assert runs[0.0][-1] == pytest.approx(2.0, abs=1e-2)  # it did move to the new input


def test_a_clocked_error_relaxes_at_rate_sigma2_over_tau(engine):
    """tau_eps deps/dt = x − mu − sigma2 eps: eps(t) = e* + (e0 − e*) exp(−sigma2 t / tau_eps)
    (kills: relaxing at 1/tau_eps, indistinguishable when sigma2 = 1)."""
    spec = ap.PopulationSpec("a", 1, prior=0.5, variance=2.0, tau_eps=0.5, dt=0.001, settle=0.0)
    net = ap.build_network(ap.build_graph([spec], []), engine=engine, seed=1)
    net.clamp("a", [1.0])
    e0, target = (0.0 - 0.5) / 2.0, (1.0 - 0.5) / 2.0
    for t in (0.05, 0.1, 0.25, 0.5):
        net.run(t)
        exact = target + (e0 - target) * np.exp(-2.0 * t / 0.5)
        wrong = target + (e0 - target) * np.exp(-t / 0.5)
        assert abs(net.eps("a")[0] - exact) < 5e-3 < abs(net.eps("a")[0] - wrong)


@pytest.mark.parametrize("label", [1.0, -1.0])
def test_w_and_b_learn_with_the_sign_of_pre_times_post(engine, label):
    """Input and label clamped, W = B = 0: eps = label − W, so dW/dt = eta eps r gives
    W(t) = label (1 − e^{−eta t}), and dB/dt = eta r eps the same B (kills: a flipped sign on
    either rule, which drives the weight away from the label instead)."""
    pops = [ap.PopulationSpec("input", 1, dt=0.01, refresh=0.0),
            ap.PopulationSpec("label", 1, dt=0.01, refresh=0.0)]
    edges = [ap.EdgeSpec("input", "label", w_values=((0.0,),), b_values=((0.0,),), eta_w=0.1,
                         eta_b=0.1)]
    net = ap.build_network(ap.build_graph(pops, edges), engine=engine, seed=2)
    net.clamp("input", [1.0])
    net.clamp("label", [label])
    net.run(10.0)
    W, B = net.weights("input->label")
    expected = label * (1.0 - np.exp(-1.0))
    assert W[0, 0] == pytest.approx(expected, abs=1e-2)
    assert B[0, 0] == pytest.approx(expected, abs=1e-2)


def test_clock_phases_come_from_independent_named_streams(engine):
    """Each clock's phase comes from its own named stream: phases differ between neurons and
    populations, fill [0, dt) uniformly, and do not depend on what else the network holds
    (kills: one phase for all, i.e. a synchronous network, or streams drawn in creation
    order)."""
    pops = [ap.PopulationSpec(name, 400, dt=0.05, tau_eps=0.1, prior=0.0)
            for name in ("a", "b", "c")]
    # no edges: the clocks are what is tested (each population has error neurons through its
    # prior), and 2 × 160,000 synapses per edge would only slow the test down
    net = ap.build_network(ap.build_graph(pops, []), engine=engine, seed=3)
    phases = {name: net.clock_phases(name) for name in ("a", "b", "c")}
    smaller = ap.build_network(ap.build_graph(pops[1:], []), engine=engine, seed=3)
    assert np.array_equal(smaller.clock_phases("c"), phases["c"])
    every = np.concatenate(list(phases.values()))
    assert np.all((every >= 0.0) & (every < 0.05))
    assert len(np.unique(every)) == len(every)
    if engine == "unit":  # 400 representation and 400 clocked error neurons per population
        for p in phases.values():
            assert len(p) == 800
            assert np.mean(p) == pytest.approx(0.025, abs=0.003)  # uniform: std of mean 0.0005
            assert abs(np.corrcoef(p[:400], p[400:])[0, 1]) < 0.15
        assert abs(np.corrcoef(phases["a"], phases["b"])[0, 1]) < 0.15


def test_the_one_frame_learning_path_equals_the_methods_it_inlines(monkeypatch):
    """A learning synapse's arrivals take :meth:`Synapse.learn`, which inlines ``advance``,
    ``transmit`` and ``arm``; forced through the generic :meth:`Synapse.run` (those methods)
    the same network ends bit-identical, for learned, tied and decaying weights."""
    from asyncpc import runner
    from asyncpc import scenario as sc
    from asyncpc.engines.unit.synapses import Synapse

    def final(*sets):
        net = runner.run(sc.load("xor", ["stimulus.epochs=1", "evaluation.every=0", *sets]),
                         plots=False).network
        return ([np.concatenate([m.ravel() for m in net.weights(e)]) for e in net.edge_names],
                net.counters.delivered)

    for sets in ([], ["edges.*.rule=tied"], ["edges.*.lam=0.0", "defaults.drift_theta=0.01"]):
        fast = final(*sets)
        with monkeypatch.context() as m:
            m.setattr(Synapse, "own_weight", False)
            slow = final(*sets)
        assert fast[1] == slow[1] > 1000
        for a, b in zip(fast[0], slow[0], strict=True):
            assert np.array_equal(a, b), sets
