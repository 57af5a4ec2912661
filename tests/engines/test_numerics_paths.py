"""Paths of the integration scheme that the closed-form oracles elsewhere do not reach, each
with a check that fails if the path is broken (the mutation it kills is named in each test)."""

import numpy as np
import pytest

import asyncpc as ap


def one_edge(engine, *, settle, n_hidden=1, seed=0, **edge):
    pops = [ap.PopulationSpec("input", 1, dt=0.01),
            ap.PopulationSpec("hidden", n_hidden, dt=0.01, settle=settle)]
    edges = [ap.EdgeSpec("input", "hidden", w_values=((1.0,),) * n_hidden, **edge)]
    return ap.build_network(ap.build_graph(pops, edges), engine=engine, seed=seed)


def test_a_neuron_restarts_its_clock_when_it_wakes(engine):
    """After sleeping, the first step integrates from the wake-up, not from before the sleep
    (kills: deleting the clock reset on waking, which jumps x by the whole sleep)."""
    runs = {}
    for settle in (0.0, 1e-3):
        net = one_edge(engine, settle=settle)
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


# -- paths that a planted one-line bug got through before these tests ----------------------------

@pytest.mark.parametrize("local_delay", [0.5])
def test_a_columns_round_trip_takes_two_local_delays(engine, local_delay):
    """One neuron with prior 1 starting at 0 (tau_x = 1) and a column delay d: its error neuron
    sees x(t − d) and x sees that error d later, so dx/dt = 1 − x(t − 2d) with x = 0 before
    t = 0 (the initial error −1 is what x sees until the first round trip). With d = 0.5:
    x = t on [0, 1]; x = 1 + s − s²/2 (s = t − 1) on [1, 2]; x = 3/2 − s²/2 + s³/6
    (s = t − 2) on [2, 3] (method of steps). Kills: the local delay applied twice (a round
    trip of 4d, x = t up to 2)."""
    pops = [ap.PopulationSpec("a", 1, prior=1.0, dt=0.001, settle=0.0,
                              local_delay=local_delay)]
    net = ap.build_network(ap.build_graph(pops, []), engine=engine, seed=0)
    for t, exact in ((0.75, 0.75), (1.5, 1.375), (2.5, 1.5 - 0.125 + 0.125 / 6)):
        net.run(t)
        assert net.x("a")[0] == pytest.approx(exact, abs=3e-3)  # first order in dt = 0.001


def test_a_clocked_error_relaxes_over_the_time_that_really_elapsed(engine):
    """With a jittered clock every step has its own length; the error neuron's relaxation is
    exact for inputs held over a step, so after any sequence of steps it sits exactly on
    eps(t) = 1 − e^{−sigma2 (t − phase)/tau_eps} at its last step t (x clamped to 1 at 0,
    prior 0; the clock starts at its phase). Kills: relaxing over the nominal dt instead of
    the elapsed time (off by the accumulated jitter, ≈ 1e-3 here)."""
    spec = ap.PopulationSpec("a", 1, prior=0.0, variance=2.0, tau_eps=0.5, dt=0.01,
                             jitter=0.3, settle=0.0)
    net = ap.build_network(ap.build_graph([spec], []), engine=engine, seed=4)
    net.clamp("a", [1.0])
    phase = net.clock_phases("a")[-1]  # the error neuron's clock (the last listed)
    net.run(0.6)
    pop = net.populations["a"]
    last = pop.errors[0].t if engine == "unit" else pop.t  # the error clock's last step
    target = 1.0 / 2.0
    exact = target - target * np.exp(-2.0 * (last - phase) / 0.5)
    assert net.eps("a")[0] == pytest.approx(exact, rel=1e-12, abs=1e-14)


def test_feedback_travels_with_the_feedback_delay(engine):
    """An error synapse carries its error neuron's signal with ``feedback_delay``, not with the
    delay of its prediction twin: s (free, linear, no error neurons) is driven only by
    B · eps_t, so it stays at 0 until eps_t, switched on at t = 1 by a clamp, has crossed the
    feedback delay 0.5, then moves at rate B · eps = 1. Kills: B synapses delivering with the
    W delay (0.25), which moves s from t = 1.25."""
    pops = [ap.PopulationSpec("s", 1, dt=1 / 64, settle=0.0),
            ap.PopulationSpec("t", 1, dt=1 / 64, settle=0.0)]
    edges = [ap.EdgeSpec("s", "t", w_values=((0.0,),), b_values=((1.0,),), rule="fixed",
                         delay=ap.Distribution("constant", value=0.25),
                         feedback_delay=ap.Distribution("constant", value=0.5))]
    net = ap.build_network(ap.build_graph(pops, edges), engine=engine, seed=0)
    net.clamp("t", [0.0])
    net.run(1.0)
    net.clamp("t", [1.0])
    net.run(1.5)  # the arrival at exactly 1.5 is not processed yet
    assert net.x("s")[0] == 0.0
    net.run(2.0)
    assert net.x("s")[0] == pytest.approx(0.5, abs=1 / 64)  # within one step of the clock


@pytest.mark.parametrize("how", ["release", "nan clamp"])
def test_a_released_neuron_relaxes_again(engine, how):
    """Neurons with prior 1 held at 3 and then freed at t = 2 relax as x = 1 + 2 e^{−(t − 2)}
    (tau_x = 1), by either way of freeing them; a nan clamp frees only its own entry, so the
    other neuron stays at 3. Kills: a released neuron that keeps its clamp flag, or whose
    population does not count it as free."""
    pops = [ap.PopulationSpec("a", 2, prior=1.0, dt=0.001, settle=1e-3)]
    net = ap.build_network(ap.build_graph(pops, []), engine=engine, seed=0)
    net.clamp("a", [3.0, 3.0])
    net.run(2.0)
    assert np.array_equal(net.x("a"), [3.0, 3.0])
    if how == "release":
        net.release("a")
    else:
        net.clamp("a", [np.nan, 3.0])
    for t in (2.5, 3.0, 5.0):
        net.run(t)
        x = net.x("a")
        assert x[0] == pytest.approx(1.0 + 2.0 * np.exp(-(t - 2.0)), abs=3e-3)
        assert x[1] == (3.0 if how == "nan clamp" else pytest.approx(x[0], abs=1e-12))
