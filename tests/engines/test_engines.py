"""The two engines are two implementations of one model: they converge to each other as the
step shrinks, deliver messages at the same times, and behave the same towards the world outside
(clamps, frozen copies, message counts). The population engine's own delay grid is checked
here too."""

import numpy as np
import pytest
from helpers import all_weights, chain, xor_network

import asyncpc as ap
from asyncpc.engines.base import Counters
from asyncpc.engines.population.synapses import Projection, grid_delays

X_IN = np.array([0.8, -0.5])
Y = np.array([0.3, -0.2])


def ode_network(dt, engine):
    graph, _ = chain([2, 3, 2], acts=["linear", "tanh", "linear"], dt=dt, eta_w=0.05,
                     eta_b=0.05, seed=3)
    net = ap.build_network(graph, engine=engine, seed=11)
    net.clamp("p0", X_IN)
    net.clamp("p2", Y)
    net.run(4.0)
    return np.concatenate([net.x("p1"), *[m.ravel() for e in net.edge_names
                                          for m in net.weights(e)]])


def test_the_engines_converge_to_each_other_as_the_step_shrinks():
    """Both are first-order schemes for the same ODE, so their difference is O(dt)."""
    diffs = [np.max(np.abs(ode_network(dt, "unit") - ode_network(dt, "population")))
             for dt in (0.04, 0.02, 0.01)]
    assert diffs[0] > 1e-4  # they really differ at a coarse step (the check can fail)
    assert diffs[0] / diffs[1] > 1.7 and diffs[1] / diffs[2] > 1.7, diffs


def two_neurons(engine, delay, dt=0.125, resolution=0.0):
    pops = [ap.PopulationSpec("s", 1, dt=dt), ap.PopulationSpec("t", 1, dt=dt)]
    edges = [ap.EdgeSpec("s", "t", w_values=((2.0,),), rule="fixed", delay_resolution=resolution,
                         delay=ap.Distribution("constant", value=delay))]
    return ap.build_network(ap.build_graph(pops, edges), engine=engine, seed=0)


def test_population_engine_delivers_exactly_one_delay_after_the_change():
    net = two_neurons("population", 0.75)
    W, _ = net.edges["s->t"]
    net.run(1.0)
    net.clamp("s", 1.5)
    net.run(1.75)
    assert W.pre[0, 0] == 0.0  # the event at exactly 1.75 has not been processed
    while net.env.peek() == 1.75:
        net.env.step()
    assert W.pre[0, 0] == 1.5
    assert net.counters.delivered >= 1


def test_population_delays_are_rounded_to_the_senders_step_and_never_to_zero():
    assert np.array_equal(grid_delays(np.array([0.0, 0.004, 0.016, 0.024]), 0.01),
                          [0.0, 0.01, 0.02, 0.02])
    net = two_neurons("population", 0.3, dt=0.125)
    assert net.min_delay() == 0.25  # 0.3 on a grid of 0.125
    net = two_neurons("population", 0.3, dt=0.125, resolution=0.05)
    assert net.min_delay() == pytest.approx(0.3)
    with pytest.raises(ValueError, match="coarser than the step"):
        two_neurons("population", 0.3, dt=0.125, resolution=0.25)


def test_mixed_delays_in_one_edge_reach_each_synapse_at_its_own_time():
    """Per-synapse delays: synapse (k, i) sees neuron i's change exactly d_ki later."""
    pops = [ap.PopulationSpec("s", 3, dt=0.125), ap.PopulationSpec("t", 4, dt=0.125)]
    edges = [ap.EdgeSpec("s", "t", rule="fixed", delay_resolution=0.125,
                         delay=ap.Distribution("uniform", low=0.1, high=1.0))]
    net = ap.build_network(ap.build_graph(pops, edges), engine="population", seed=4)
    W, _ = net.edges["s->t"]
    d_w, _ = net.delays("s->t")
    assert len(np.unique(d_w)) > 2  # several groups
    net.run(2.0)
    net.clamp("s", [1.0, 2.0, 3.0])
    for t in np.unique(d_w):
        net.run(2.0 + t + 1e-9)
        arrived = W.pre != 0.0
        assert np.array_equal(arrived, d_w <= t), t
        assert np.array_equal(W.pre[arrived], np.broadcast_to([1.0, 2.0, 3.0], d_w.shape)[arrived])


@pytest.mark.parametrize("high", [0.3, 1.0])  # 2 delay groups (masked), 8 (indexed)
def test_a_partial_emission_reaches_exactly_the_synapses_of_its_senders(high):
    """Some presynaptic neurons change, then others while the first messages are still in
    flight: at every arrival time, synapse (k, i) holds the value of neuron i's latest change
    that has had d_ki to arrive (independent numpy), never one sent later or to others."""
    pops = [ap.PopulationSpec("s", 6, dt=0.125), ap.PopulationSpec("t", 5, dt=0.125)]
    edges = [ap.EdgeSpec("s", "t", rule="fixed", delay_resolution=0.125,
                         delay=ap.Distribution("uniform", low=0.1, high=high))]
    net = ap.build_network(ap.build_graph(pops, edges), engine="population", seed=4)
    W, _ = net.edges["s->t"]
    d_w, _ = net.delays("s->t")
    assert len(np.unique(d_w)) == (2 if high < 0.5 else 8)
    assert (len(np.unique(d_w)) <= W.groups[0].MASKED) == (W.groups[0].mask is not None)
    values = np.arange(1.0, 7.0)
    net.clamp("s", values)
    net.run(2.0)
    sends = [(2.0, {1: -3.0, 4: 9.0}), (2.125, {2: 7.5, 4: -1.0})]  # 4 twice, in flight
    for t, change in sends:
        if t > net.now:
            net.run(t)
        values = values.copy()
        values[list(change)] = list(change.values())
        net.clamp("s", values)
    for t in sorted({t + d for t, _ in sends for d in np.unique(d_w)}):
        net.run(t + 1e-9)
        expected = np.broadcast_to(np.arange(1.0, 7.0), d_w.shape).copy()
        for sent, change in sends:
            for i, v in change.items():
                expected[d_w[:, i] <= t - sent, i] = v
        assert np.array_equal(W.pre, expected), t
    rng = np.random.default_rng(0)  # each group's count of receiving synapses
    for group in W.groups:
        sent = rng.random(6) < 0.5
        members = d_w == group.delay
        count = int(np.count_nonzero(sent))
        assert W.receive(group, rng.random(6), sent, count) == np.count_nonzero(members & sent)


@pytest.mark.parametrize("lam", [0.0, 0.3])
@pytest.mark.parametrize("uniform", [True, False])
def test_factored_weights_equal_the_stepwise_exact_integration(lam, uniform):
    """A projection keeps decay · W_m + acc ⊗ pre while pre holds still; its weights and
    currents must equal numpy integrating w ← e^{−λΔ} w + η(1 − e^{−λΔ})/λ · post ⊗ pre step by
    step, through steps, arrivals that change pre, and an observer's look ahead."""
    rng = np.random.default_rng(3)
    w0 = rng.normal(size=(4, 5))
    delays = np.full((4, 5), 0.1) if uniform else rng.choice([0.1, 0.2], size=(4, 5))
    counters = Counters()
    proj = Projection(w0, rng.normal(size=5), delays, eta=0.7, lam=lam, post="eps", t=0.0,
                      counters=counters)
    w, pre, t = w0.copy(), np.broadcast_to(proj.pre, (4, 5)).copy(), 0.0
    for step in range(60):
        post = rng.normal(size=4)
        span = rng.uniform(0.01, 0.2)
        t += span
        gain = 0.7 * span if lam == 0.0 else 0.7 * (1.0 - np.exp(-lam * span)) / lam
        w = np.exp(-lam * span) * w + gain * post[:, None] * pre
        proj.advance(t, post)
        assert np.allclose(proj.current(t), (w * pre).sum(axis=1), rtol=0, atol=1e-12)
        if step % 7 == 3:  # an arrival: some presynaptic neurons send
            group = proj.groups[step % len(proj.groups)]
            values, sent = rng.normal(size=5), rng.random(5) < 0.5
            proj.receive(group, values, sent, int(np.count_nonzero(sent)))
            members = np.ones((4, 5), bool) if uniform else delays == group.delay
            pre = np.where(members & sent, values, pre)
            assert np.array_equal(np.broadcast_to(proj.pre, (4, 5)), pre)
    ahead = rng.normal(size=4)
    expected = np.exp(-lam * 0.5) * w + (0.7 * 0.5 if lam == 0.0 else 0.7 * (
        1.0 - np.exp(-lam * 0.5)) / lam) * ahead[:, None] * pre
    assert np.allclose(proj.weight_at(t + 0.5, ahead), expected, rtol=0, atol=1e-12)
    assert np.linalg.norm(w - w0) > 1.0  # it learned


def learning_network(engine):
    graph, _ = chain([2, 3, 2], acts=["linear", "tanh", "linear"], dt=0.02, eta_w=0.2,
                     eta_b=0.2, lam_w=0.01, seed=1)
    spec = graph.nodes["p1"]["spec"]  # with a learning bias (prior mean) on the hidden layer
    graph.nodes["p1"]["spec"] = ap.PopulationSpec(**{**spec.__dict__, "prior": 0.1,
                                                     "eta_bias": 0.2})
    net = ap.build_network(graph, engine=engine, seed=0)
    net.clamp("p0", X_IN)
    net.clamp("p2", Y)
    return net


def test_a_frozen_copy_does_not_learn(engine):
    """Evaluation copies have plasticity off: their weights and their biases stay exactly where
    they started, while the network they were copied from (negative control) does learn both."""
    net = learning_network(engine)
    net.run(1.0)
    copy = net.frozen_copy()
    before = [m.copy() for e in copy.edge_names for m in copy.weights(e)]
    bias = copy.bias("p1")
    assert np.array_equal(bias, net.bias("p1"))
    copy.clamp("p0", X_IN)
    copy.clamp("p2", Y)
    copy.run(5.0)
    after = [m for e in copy.edge_names for m in copy.weights(e)]
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    assert np.array_equal(copy.bias("p1"), bias)
    net.run(5.0)
    learned = [m for e in net.edge_names for m in net.weights(e)]
    assert max(np.max(np.abs(a - b)) for a, b in zip(before, learned, strict=True)) > 1e-3
    assert np.max(np.abs(net.bias("p1") - bias)) > 1e-3


def test_both_engines_count_the_same_emissions_for_a_clamp():
    """A clamp that changes every neuron of a population is one emission per neuron, on
    either engine."""
    for engine in ("unit", "population"):
        pops = [ap.PopulationSpec("s", 3), ap.PopulationSpec("t", 2)]
        net = ap.build_network(ap.build_graph(pops, [ap.EdgeSpec("s", "t", rule="fixed")]),
                               engine=engine, seed=0)
        net.clamp("s", [0.5, -0.5, 0.25])
        assert net.emitted("s") == 3, engine


def test_a_quiet_population_sleeps():
    """Settled activity costs (almost) no updates: the population engine's clock stops."""
    graph, _ = chain([2, 3], dt=0.01, settle=1e-3)
    net = ap.build_network(graph, engine="population", seed=0)
    net.clamp("p0", X_IN)
    net.run(20.0)
    busy = net.counters.neuron_updates
    net.run(40.0)
    assert net.counters.neuron_updates == busy  # fixed weights: nothing wakes it again
    assert busy < 0.25 * 2 * 20.0 / 0.01 * 5  # far fewer than one update per step


def test_scenario_rejects_a_delay_grid_coarser_than_the_step_on_the_population_engine(tmp_path):
    from asyncpc.scenario import ScenarioError
    path = tmp_path / "s.toml"
    path.write_text('[run]\nengine = "population"\nduration = 1.0\n'
                    '[populations.a]\nn = 1\ndt = 0.01\n[populations.b]\nn = 1\n'
                    '[[edges]]\nsource = "a"\ntarget = "b"\ndelay_resolution = 0.02\n')
    expected = r"edges\.0\.delay_resolution: expected a value ≤ 0\.01"
    with pytest.raises(ScenarioError, match=expected):
        ap.load_scenario(path)
    ap.load_scenario(path, ["run.engine=unit"])  # the unit engine takes any grid


def test_the_python_api_chooses_the_engine_by_keyword():
    """``ap.run(scenario, engine=...)`` overrides ``run.engine``; both reach Bogacz's root."""
    from asyncpc.cli import SCENARIO_DIR
    scenario = ap.load_scenario(SCENARIO_DIR / "bogacz_tutorial.toml")
    root = max(np.roots([2.0, 0.0, -3.0, -3.0]).real)
    for engine in ("unit", "population"):
        result = ap.run(scenario, engine=engine)
        assert result.summary["engine"] == result.network.kind == engine
        assert result.network.x("v")[0] == pytest.approx(root, abs=1e-6)
    with pytest.raises(ap.ScenarioError, match="run.engine: expected one of unit, population"):
        ap.run(scenario, engine="gpu")


def test_a_blow_up_is_reported_where_and_when_it_happens(engine):
    """An explicit Euler step far above tau_x makes the free neurons oscillate with growing
    amplitude; the engine raises Diverged at the step where a state stops being finite,
    naming the population, the neuron and the time, instead of running on with inf/nan."""
    pops = [ap.PopulationSpec("top", 2, prior=0.0, tau_x=0.1, dt=0.5, settle=0.0),
            ap.PopulationSpec("low", 3, tau_x=0.1, dt=0.5, settle=0.0)]
    net = ap.build_network(ap.build_graph(pops, [ap.EdgeSpec("top", "low", rule="tied")]),
                           engine=engine, seed=0)
    net.clamp("low", [1.0, -1.0, 0.5])
    with pytest.raises(ap.Diverged) as info:
        net.run(10_000.0)
    err = info.value
    assert err.population == "top" and err.index in (0, 1)
    assert 0.0 < err.t < 10_000.0 and f"t = {err.t:g}" in str(err)
    assert "population 'top'" in str(err)


@pytest.mark.parametrize("local_delay", [0.0, 0.5])
def test_a_columns_own_delay_holds_back_its_error(engine, local_delay):
    """One neuron with prior 1 starting at 0 (tau_x = 1): without a local delay x relaxes as
    1 − e^{−t}; with a local delay of 0.5 its error neuron sees x, and x sees its error, only
    0.5 later, so until then the drive stays at its initial value and x(t) = t."""
    pops = [ap.PopulationSpec("a", 1, prior=1.0, dt=0.001, settle=0.0,
                              local_delay=local_delay)]
    net = ap.build_network(ap.build_graph(pops, []), engine=engine, seed=0)
    net.run(0.25)
    expected = 0.25 if local_delay else 1.0 - np.exp(-0.25)
    assert net.x("a")[0] == pytest.approx(expected, abs=2e-3)  # first order in dt = 0.001


def test_the_fast_path_and_plain_simpy_give_bit_identical_runs():
    """The one shortcut below SimPy's public API (asyncpc.engines.events, used by the unit
    engine's channels; the population engine uses env.timeout only) changes nothing: with
    scheduling through env.schedule only, a learning run with delays, jitter, sleeping and
    sample switches is the same to the last bit. (Checked by hand that the comparison can
    fail: a plain path scheduling 1e-12 relative later changes the run.)"""
    engine = "unit"
    from asyncpc.engines.events import plain_simpy
    def run():
        net, _ = xor_network(engine, 5, hidden=4, dt=0.02, jitter=0.3, settle=1e-3, theta=1e-3,
                             tau_eps=0.05, delay=ap.Distribution("uniform", low=0.02, high=0.2),
                             presentation=4.0, epochs=4)
        net.run(64.0)
        return all_weights(net), net.x("hidden"), net.counters

    fast = run()
    with plain_simpy():
        plain = run()
    assert np.array_equal(fast[0], plain[0]) and np.array_equal(fast[1], plain[1])
    assert fast[2] == plain[2] and fast[2].delivered > 1000
