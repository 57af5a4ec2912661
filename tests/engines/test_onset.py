"""The onset mechanism ``jump`` (a free neuron jumps to its own prediction when the prediction
moves faster than its reference follows), on both engines: what it does, that it reads only its
own column, and that it leaves equilibria where they are."""

import numpy as np
import pytest

import asyncpc as ap


def _network(engine, w1, *, jump, settle=1e-4, out=None, jump_tau=1.0):
    """``s`` (clamped) → ``h`` (free, with a prior), optionally → ``o``; fixed weights."""
    pops = [ap.PopulationSpec("s", w1.shape[1], dt=0.01, settle=settle),
            ap.PopulationSpec("h", w1.shape[0], dt=0.01, prior=0.0, jump=jump, jump_tau=jump_tau,
                              settle=settle)]
    edges = [ap.EdgeSpec("s", "h", rule="fixed")]
    weights = {"s->h": (w1, w1.T.copy())}
    if out is not None:
        pops.append(ap.PopulationSpec("o", out.shape[0], dt=0.01, prior=0.0, settle=settle))
        edges.append(ap.EdgeSpec("h", "o", rule="fixed"))
        weights["h->o"] = (out, out.T.copy())
    return ap.build_network(ap.build_graph(pops, edges), engine=engine, seed=3,
                            weights=weights)


@pytest.mark.parametrize("jump", [0.05, 0.0])  # 0.0: the negative control
def test_a_neuron_jumps_to_its_prediction_when_its_input_changes(engine, jump):
    """Two changes of the input: within two steps of each, x equals the feed-forward
    prediction W s exactly (the prior is 0); without the mechanism (tau_x = 1) it has gone
    only a few percent of the way."""
    w1 = np.array([[1.0, -2.0, 0.5], [0.3, 0.7, -1.0]])
    net = _network(engine, w1, jump=jump)
    for t, s in [(0.0, [1.0, -1.0, 0.5]), (1.0, [0.2, 0.3, -0.5])]:
        net.clamp("s", s)
        net.run(t + 0.03)
        if jump:
            np.testing.assert_allclose(net.x("h"), w1 @ np.array(s), rtol=0, atol=1e-12)
        else:
            assert np.max(np.abs(net.x("h") - w1 @ np.array(s))) > 0.5
        net.run(t + 1.0)


def test_only_a_neuron_whose_own_prediction_moved_jumps(engine):
    """Locality: two networks that differ only in neuron 0's column (its prediction moves by 1
    in one, by 0.001 in the other, at the same input change). Neuron 0 jumps in the first only;
    neuron 1, whose own prediction moves by 0.01 in both, follows the same trajectory in both,
    bit for bit (settle = 0: no sleep couples the columns). A mechanism that acted on a shared
    signal ("a sample changed") would make neuron 1 jump with neuron 0."""
    runs = []
    for w00 in (1.0, 0.001):
        net = _network(engine, np.array([[w00, 0.0], [0.0, 1.0]]), jump=0.05, settle=0.0)
        net.clamp("s", [0.0, 0.0])
        net.run(1.0)
        net.clamp("s", [1.0, 0.01])
        trace = []
        for t in np.arange(1.01, 1.5, 0.01):
            net.run(t)
            trace.append(net.x("h"))
        runs.append(np.array(trace))
    jumped, quiet = runs
    assert jumped[2, 0] == 1.0  # neuron 0 at its new prediction within two steps
    assert abs(quiet[2, 0] - 0.001) > 1e-6 and quiet[-1, 0] < 0.001  # Euler towards it
    assert np.array_equal(jumped[:, 1], quiet[:, 1])
    assert 0.0 < jumped[-1, 1] < 0.01  # and neuron 1 moved by its Euler steps, no jump


@pytest.mark.parametrize("jump", [0.0, 0.05])
def test_the_equilibrium_does_not_move(engine, jump):
    """A linear chain s → h → o with s and o clamped and B = Wᵀ settles at the minimum of F,
    x_h* = (I + W2ᵀW2)⁻¹ (W1 s + W2ᵀ o), with the mechanism as without it."""
    rng = np.random.default_rng(0)
    w1, w2 = rng.normal(0, 0.7, (3, 4)), rng.normal(0, 0.7, (2, 3))
    s, o = np.array([1.0, -0.5, 0.3, 0.8]), np.array([0.4, -0.6])
    net = _network(engine, w1, jump=jump, out=w2)
    net.clamp("s", s)
    net.clamp("o", o)
    net.run(40.0)
    expected = np.linalg.solve(np.eye(3) + w2.T @ w2, w1 @ s + w2.T @ o)
    np.testing.assert_allclose(net.x("h"), expected, atol=2e-3)


def test_a_prediction_that_moves_slowly_is_followed_not_jumped_to(engine):
    """The reference follows a slow prediction: ten input steps of 0.02 (jump = 0.05), 0.5
    apart (jump_tau = 0.1): each moves mu by less than the threshold from a reference that has
    caught up, so the trajectory is the one without the mechanism, bit for bit. A reference
    that did not follow (or followed too slowly) would add the steps up and jump at the
    third."""
    w1 = np.array([[1.0]])
    runs = []
    for jump in (0.05, 0.0):
        net = _network(engine, w1, jump=jump, settle=0.0, jump_tau=0.1)
        trace = []
        for j in range(1, 11):
            net.clamp("s", [0.02 * j])
            net.run(0.5 * j)
            trace.append(net.x("h")[0])
        runs.append(trace)
    assert runs[0] == runs[1]
    assert runs[0][-1] > 0.15  # it did follow mu up to 0.2


@pytest.mark.parametrize("gate", [0.1, 0.0])  # 0.0: the negative control
def test_the_gate_scales_learning_by_the_columns_own_settledness(engine, gate):
    """One free neuron relaxing towards its prediction mu = W s = −1 from x = 0 (tau_x = 1,
    s = 1 clamped, eta tiny so learning does not disturb the relaxation): eps(t) = e^{−t} and
    v = tau_x |dx/dt| = eps, so over [1, 5] the weight learns
    ΔW = eta ∫ s²eps/(s² + eps²) dt = eta s (atan(e^{−1}/s) − atan(e^{−5}/s)) with the gate,
    and eta (e^{−1} − e^{−5}) without (Euler, dt = 1e-3: within 1 %; from t = 1, after the
    engines' first steps, where a column's gate is still 1 until it has stepped once)."""
    eta = 1e-6
    pops = [ap.PopulationSpec("s", 1, dt=1e-3, settle=0.0),
            ap.PopulationSpec("h", 1, dt=1e-3, settle=0.0, prior=0.0, gate=gate)]
    edges = [ap.EdgeSpec("s", "h", rule="fixed", eta_w=eta)]
    net = ap.build_network(ap.build_graph(pops, edges), engine=engine, seed=0,
                           weights={"s->h": (np.array([[-1.0]]), np.array([[0.0]]))})
    net.clamp("s", [1.0])
    net.run(1.0)
    before = net.weights("s->h")[0][0, 0]
    net.run(5.0)
    learned = net.weights("s->h")[0][0, 0] - before
    a, b = np.exp(-1.0), np.exp(-5.0)
    expected = eta * gate * (np.arctan(a / gate) - np.arctan(b / gate)) if gate else eta * (a - b)
    assert learned == pytest.approx(expected, rel=1e-2)


def test_a_columns_gate_reads_only_its_own_column(engine):
    """Locality of the gate: two networks that differ only in column 0 (a large transient in
    one, a small one in the other); the weights learned by the synapses sitting on column 1
    are the same in both, bit for bit (settle = 0: no sleep couples the columns). A gate taken
    from a shared signal (say the population's fastest neuron) would differ."""
    learned = []
    for w00 in (3.0, 0.01):
        pops = [ap.PopulationSpec("s", 2, dt=0.01, settle=0.0),
                ap.PopulationSpec("h", 2, dt=0.01, settle=0.0, prior=0.0, gate=0.1)]
        edges = [ap.EdgeSpec("s", "h", rule="fixed", eta_w=0.01)]
        w = np.array([[w00, 0.0], [0.0, 1.0]])
        net = ap.build_network(ap.build_graph(pops, edges), engine=engine, seed=0,
                               weights={"s->h": (w, np.zeros((2, 2)))})
        net.clamp("s", [1.0, 0.5])
        net.run(3.0)
        learned.append(net.weights("s->h")[0])
    assert np.array_equal(learned[0][1], learned[1][1])
    assert abs(learned[0][0, 0] - 3.0) > 1e-4  # column 0 did learn
