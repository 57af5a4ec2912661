"""Oracle 1: a message sent at t over delay d arrives at exactly t + d; nothing is lost or
duplicated, and same-delay messages arrive in sending order. Unit tests on a bare environment,
then through a real synapse."""

import numpy as np
import pytest
import simpy

import asyncpc as ap
from asyncpc.engines.unit.messages import Axon, Trace


def listener(env, channel, log):
    def run(arrival):
        while True:
            value, arrival = yield arrival
            log.append((env.now, value))
    return env.process(run(channel.head))


@pytest.mark.parametrize("delay", [0.0, 0.25, 1.5])
def test_message_arrives_at_exactly_send_time_plus_delay(delay):
    env = simpy.Environment()
    axon = Axon(env)
    channel = axon.channel(delay)
    logs = [[], []]
    for log in logs:
        listener(env, channel, log)
    sends = [(0.0, 1.0), (0.5, 2.0), (0.5, 3.0), (0.5, 4.0), (0.75, 5.0)]

    def sender():
        for t, v in sends:
            yield env.timeout(t - env.now)
            axon.send(v)
    env.process(sender())
    env.run()
    expected = [(t + delay, v) for t, v in sends]
    for log in logs:
        assert log == expected  # exact times (dyadic), every message once, FIFO


def test_run_until_does_not_process_events_at_the_horizon():
    env = simpy.Environment()
    axon = Axon(env)
    log = []
    listener(env, axon.channel(0.5), log)
    axon.send(1.0)
    env.run(until=0.5)
    assert log == []
    env.run(until=0.75)
    assert log == [(0.5, 1.0)]


def test_trace_integrates_piecewise_constant_signal_exactly():
    tr = Trace(0.0, 0.0, 2.0)
    tr.set(0.5, -1.0)
    tr.set(1.25, 4.0)
    assert sum(tr.at(2.0)) == 2.0 * 0.5 - 1.0 * 0.75 + 4.0 * 0.75
    lam = 0.5
    tr = Trace(lam, 0.0, 2.0)
    tr.set(1.0, -1.0)
    # ∫_0^2 e^{-λ(2-s)} v(s) ds, closed form
    expected = 2.0 * (np.exp(-lam) - np.exp(-2 * lam)) / lam - (1 - np.exp(-lam)) / lam
    assert tr.at(2.0) == (pytest.approx(expected, rel=1e-14), 0.0)


def test_trace_differences_stay_exact_when_the_integral_is_huge():
    """Compensated summation: after 10⁸ has accumulated, the integral of the next segments is
    still read to the last bits (a plain float total keeps only ~8 digits of it)."""
    tr = Trace(0.0, 0.0, 1e8)
    tr.set(1.0, 0.1)
    z0, c0 = tr.at(1.0)
    for k in range(1, 1001):
        tr.set(1.0 + k * 0.001, 0.1 + 1e-3 * (k % 7))
    z1, c1 = tr.at(2.0)
    exact = sum(0.001 * (0.1 + 1e-3 * (k % 7)) for k in range(1000))
    assert (z1 - z0) + (c1 - c0) == pytest.approx(exact, rel=1e-13)
    assert abs((z1 - z0) - exact) > 1e-10  # the plain total alone would be off


def test_a_trace_tells_its_learners_of_a_move_only_when_it_can_matter():
    """``Trace.set`` re-arms the learning synapses on it when ``post`` moved by more than half
    since they were last told AND the move ``Δv`` could change what one of them leaves unsent
    before its alarm by more than ``drift_theta / 2``: ``Δv · scale > drift_theta / (2 h_max)``
    with ``scale = max |eta · pre²|``."""
    told = []

    class Learner:
        def rearm(self, t):
            told.append(t)

    theta, h_max, scale = 1e-3, 2.0, 0.04  # eta 0.01, pre 2
    trace = Trace(0.0, 0.0, 1.0, theta / (2.0 * h_max))
    trace.learners.append(Learner())
    trace.scale = scale
    threshold = trace.tolerance / scale  # the largest move that cannot matter: 6.25e-3
    trace.v_told = trace.v = 0.001  # near zero every move is "more than half"
    trace.set(1.0, 0.001 + 0.9 * threshold)
    assert told == []  # more than half, but harmless
    trace.set(2.0, 0.001 + 1.1 * threshold)
    assert told == [2.0] and trace.v_told == 0.001 + 1.1 * threshold
    # the relative rule still applies: a large but less-than-half move is not told
    trace.v_told = trace.v = 1.0
    trace.set(3.0, 1.4)
    assert told == [2.0]
    trace.set(4.0, 1.6)
    assert told == [2.0, 4.0]
    # negative control: with scale 0 (no learner has heard pre yet) nothing is ever told
    trace.scale = 0.0
    trace.set(5.0, -100.0)
    assert told == [2.0, 4.0]


def test_prediction_reaches_error_neuron_exactly_one_delay_after_the_change():
    pops = [ap.PopulationSpec("s", 1, dt=0.125), ap.PopulationSpec("t", 1, dt=0.125)]
    edges = [ap.EdgeSpec("s", "t", w_values=((2.0,),), rule="fixed",
                         delay=ap.Distribution("constant", value=0.75))]
    net = ap.Network(ap.build_graph(pops, edges), seed=0)
    err = net.populations["t"].errors[0]
    net.run(1.0)
    net.clamp("s", 1.5)
    net.run(1.75)
    assert err.mu_in == 0.0  # the event at exactly 1.75 has not been processed
    while net.env.peek() == 1.75:
        net.env.step()
    assert err.mu_in == 3.0


@pytest.mark.parametrize(("dist", "mean", "minimum"), [
    (ap.Distribution("constant", value=0.25), 0.25, 0.25),
    (ap.Distribution("uniform", low=0.05, high=0.2), 0.125, 0.05),
    (ap.Distribution("lognormal", mean=0.1, std=0.05), 0.1, 0.0),
])
def test_delay_distributions_have_their_stated_moments(dist, mean, minimum):
    d = dist.sample_delays(np.random.default_rng(0), (200_000,))
    assert d.mean() == pytest.approx(mean, rel=0.01)  # sampling error ~ std/√n < 0.3 %
    assert d.min() >= minimum
    if dist.kind == "lognormal":
        assert d.std() == pytest.approx(0.05, rel=0.02)


def test_normal_delays_are_clipped_at_zero():
    d = ap.Distribution("normal", mean=0.05, std=0.1).sample_delays(np.random.default_rng(0),
                                                                    (100_000,))
    assert d.min() == 0.0
    assert np.mean(d == 0.0) == pytest.approx(0.3085, abs=0.01)  # P(N(0.05, 0.1) < 0)


def test_delay_resolution_rounds_delays_and_groups_synapses_into_shared_channels():
    pops = [ap.PopulationSpec("s", 10), ap.PopulationSpec("t", 40)]
    d = ap.Distribution("uniform", low=0.05, high=0.2)
    exact = ap.Network(ap.build_graph(pops, [ap.EdgeSpec("s", "t", delay=d)]), seed=1)
    grid = ap.Network(ap.build_graph(pops, [ap.EdgeSpec("s", "t", delay=d,
                                                        delay_resolution=0.05)]), seed=1)
    delays = np.concatenate([m.ravel() for m in grid.edges["s->t"].delays()])
    assert np.allclose(delays / 0.05, np.round(delays / 0.05))
    assert set(np.round(delays / 0.05).astype(int)) <= {1, 2, 3, 4}
    channels = [len(n.axon.channels) for n in grid.populations["s"].neurons]
    assert max(channels) <= 4  # at most one channel per grid value
    assert min(len(n.axon.channels) for n in exact.populations["s"].neurons) == 40
