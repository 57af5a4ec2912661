"""Oracle 5 (SPEC §1): with rule "hebbian", zero delays, theta = 0 and equal rates, the
prediction synapse W_ki and the error synapse B_ik integrate the same product r_i eps_k, so

    d(W − Bᵀ)/dt = −lam (W − Bᵀ)   ⇒   W(t) − B(t)ᵀ = e^{−lam t} (W₀ − B₀ᵀ),

for any activation f, edge by edge. Delays, send-on-delta, "hebbian_raw" with a nonlinear f and
unequal rates must break it (negative controls)."""

import numpy as np
import pytest
from helpers import chain

import asyncpc as ap

SAMPLES = [(np.array([1.0, -0.5, 0.3]), np.array([0.5, -1.0])),
           (np.array([-0.7, 0.2, 0.9]), np.array([-0.4, 0.8])),
           (np.array([0.1, 0.9, -0.6]), np.array([1.0, 0.2]))]
T_SAMPLE = 4.0


def run_kp(*, lam=0.0, delay=0.0, rule="hebbian", eta_b=0.2, theta=0.0, settle=1e-4,
           refresh=1.0, seed=0, engine="unit"):
    rng = np.random.default_rng(seed)
    b0 = [rng.normal(0, 0.5, (3, 4)), rng.normal(0, 0.5, (4, 2))]
    graph, mats = chain([3, 4, 2], acts=["linear", "tanh", "tanh"], dt=0.05, delay=delay,
                        rule=rule, eta_w=0.2, eta_b=eta_b, lam_w=lam, b_values=b0, seed=seed,
                        theta=theta, settle=settle, refresh=refresh)
    net = ap.build_network(graph, engine=engine, seed=seed)
    for epoch in range(2):
        for j, (x, y) in enumerate(SAMPLES):
            net.clamp("p0", x)
            net.clamp("p2", y)
            net.run((3 * epoch + j + 1) * T_SAMPLE)
    return net, mats


def violation(net, mats, lam):
    """Largest relative deviation from the closed form, over the edges."""
    worst = 0.0
    for j, (W0, B0) in enumerate(mats):
        W, B = net.weights(f"p{j}->p{j + 1}")
        expected = np.exp(-lam * net.now) * (W0 - B0.T)
        worst = max(worst, np.linalg.norm(W - B.T - expected) / np.linalg.norm(W0 - B0.T))
    return worst


def learned(net, mats):
    return min(np.linalg.norm(net.weights(f"p{j}->p{j + 1}")[0] - W0) / np.linalg.norm(W0)
               for j, (W0, _) in enumerate(mats))


def test_asymmetry_is_conserved_without_decay(engine):
    net, mats = run_kp(lam=0.0, engine=engine)
    assert learned(net, mats) > 0.05  # the weights really moved
    assert violation(net, mats, 0.0) < 1e-9


@pytest.mark.parametrize("lam", [0.05, 0.3])
def test_decay_shrinks_asymmetry_exponentially(lam, engine):
    net, mats = run_kp(lam=lam, engine=engine)
    assert learned(net, mats) > 0.05
    assert violation(net, mats, lam) < 1e-9
    # and the asymmetry really has decayed by the predicted factor
    W, B = net.weights("p0->p1")
    W0, B0 = mats[0]
    ratio = np.linalg.norm(W - B.T) / np.linalg.norm(W0 - B0.T)
    assert ratio == pytest.approx(np.exp(-lam * net.now), rel=1e-9)


def test_identity_holds_with_clock_jitter_free_sleeping_and_no_refresh(engine):
    """How often synapses wake must not matter: exact integration between wake-ups."""
    net, mats = run_kp(lam=0.1, settle=0.0, refresh=0.0, engine=engine)
    assert violation(net, mats, 0.1) < 1e-9


@pytest.mark.parametrize(("label", "kwargs"), [
    ("transmission delays", {"delay": 0.25}),
    ("hebbian_raw with tanh", {"rule": "hebbian_raw"}),
    ("unequal learning rates", {"eta_b": 0.1}),
    ("send-on-delta threshold", {"theta": 0.02}),
])
def test_identity_breaks_when_it_should(label, kwargs, engine):
    net, mats = run_kp(lam=0.1, engine=engine, **kwargs)
    assert violation(net, mats, 0.1) > 1e-4, label


def test_fixed_feedback_keeps_b_and_tied_feedback_equals_w_transpose(engine):
    net, mats = run_kp(rule="fixed", engine=engine)
    for j, (_, B0) in enumerate(mats):
        assert np.array_equal(net.weights(f"p{j}->p{j + 1}")[1], B0)
    net, mats = run_kp(rule="tied", engine=engine)
    for j in range(2):
        W, B = net.weights(f"p{j}->p{j + 1}")
        assert np.array_equal(B, W.T)


def test_the_identity_survives_an_integral_past_1e8(engine):
    """With lam = 0 the running integrals grow without bound; their differences stay exact
    (compensated summation in the unit engine's traces; direct integration in the population
    engine), so W − Bᵀ is conserved to ~1e-14 after the error neurons' integral has passed
    10⁸ — a plain running sum loses 1e-11 here (measured). The input alternates in sign, so W moves
    by O(1) and back while the error's integral keeps growing."""
    rng = np.random.default_rng(0)
    W0, B0 = rng.normal(0, 0.5, (2, 2)), rng.normal(0, 0.5, (2, 2))
    pops = [ap.PopulationSpec("a", 2), ap.PopulationSpec("b", 2)]
    edges = [ap.EdgeSpec("a", "b", w_values=tuple(map(tuple, W0)),
                         b_values=tuple(map(tuple, B0)), eta_w=1e-5, eta_b=1e-5)]
    net = ap.build_network(ap.build_graph(pops, edges), engine=engine, seed=0)
    integral = 0.0
    for j in range(1000):
        net.clamp("a", (-1.0) ** j * (1.0 + 0.1 * rng.random(2)))
        net.clamp("b", 1e4 + 10.0 * rng.random(2))
        net.run(10.0 * (j + 1))
        integral += 10.0 * net.eps("b").min()
    assert integral > 1e8
    W, B = net.weights("a->b")
    assert np.linalg.norm(W - W0) > 0.5  # it learned
    assert np.linalg.norm(W - B.T - (W0 - B0.T)) < 1e-12 * np.linalg.norm(W0 - B0.T)


def angle_deg(W, B):
    a, b = W.ravel(), B.T.ravel()
    return np.degrees(np.arccos(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1)))


def decay_only(engine, *, zero_rows=True, T=500.0, lam=0.01):
    """Sigmoid populations at rest (x = 0, r = 1/2) and rows of W summing to zero: mu = W r = 0
    = x, so eps = 0 and nothing but decay moves the weights (plasticity on, eta = 0.5)."""
    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, 4))
    if zero_rows:
        W -= W.mean(axis=1, keepdims=True)
    B = rng.normal(size=(4, 3))
    pops = [ap.PopulationSpec("a", 4, activation="sigmoid", dt=0.01),
            ap.PopulationSpec("b", 3, activation="sigmoid", prior=0.0, dt=0.01)]
    edges = [ap.EdgeSpec("a", "b", w_values=tuple(map(tuple, W)), b_values=tuple(map(tuple, B)),
                         eta_w=0.5, eta_b=0.5, lam=lam)]
    net = ap.build_network(ap.build_graph(pops, edges), engine=engine, seed=0)
    net.run(T)
    return (W, B), net.weights("a->b")


def test_decay_alone_leaves_the_angle_unchanged(engine):
    """SPEC §1: decay without a common drive shrinks W and B alike, W(t) = e^{−lam t} W₀ and
    B(t) = e^{−lam t} B₀, so the angle between W and Bᵀ stays where it started. The exact
    cancellation Σ_i W_ki r_i = 0 must survive the synapses' re-sends of their decaying
    currents: on the unit engine the learning synapses of a neuron re-send together (a
    re-send at separate moments left a spurious error that drifted the angle by ~1° here)."""
    (W0, B0), (W, B) = decay_only(engine)
    assert abs(angle_deg(W, B) - angle_deg(W0, B0)) <= 1e-9
    decay = np.exp(-0.01 * 500.0)
    assert np.allclose(W, decay * W0, rtol=1e-12, atol=0) and np.allclose(B, decay * B0,
                                                                          rtol=1e-12, atol=0)
    # negative control: rows that do not cancel leave a real error, which drives learning
    (W0, B0), (W, B) = decay_only(engine, zero_rows=False)
    assert abs(angle_deg(W, B) - angle_deg(W0, B0)) > 1e-2
