"""Oracle 2: with zero delays, theta = 0 and small steps, the asynchronous engine follows the
SPEC §1 ODE, integrated independently (tests/reference.py); halving the step halves the error."""

import numpy as np
import pytest
from helpers import chain
from reference import DelayedModel, DenseModel, SynapticDelayModel

import asyncpc as ap

X_IN = np.array([0.8, -0.5])
Y = np.array([0.3, -0.2])
ETA = 0.05
T = 4.0


def engine_run(dt, engine, rule="hebbian"):
    graph, mats = chain([2, 3, 2], acts=["linear", "tanh", "linear"], dt=dt, eta_w=ETA,
                        eta_b=ETA, seed=3, rule=rule)
    # a learnable bias on the hidden population: db/dt = eta_b eps
    spec = graph.nodes["p1"]["spec"]
    graph.nodes["p1"]["spec"] = ap.PopulationSpec(**{**spec.__dict__, "prior": 0.2,
                                                     "eta_bias": 0.3})
    net = ap.build_network(graph, engine=engine, seed=11)
    net.clamp("p0", X_IN)
    net.clamp("p2", Y)
    net.run(T)
    return net, mats


def reference_run(mats, rule="hebbian"):
    pops = {"p0": dict(n=2, act="linear", var=1.0, tau=1.0, clamped=X_IN),
            "p1": dict(n=3, act="tanh", var=1.0, tau=1.0, prior=0.2, eta_bias=0.3),
            "p2": dict(n=2, act="linear", var=1.0, tau=1.0, clamped=Y)}
    edges = [dict(src=f"p{j}", tgt=f"p{j + 1}", W=W, B=B, eta_w=ETA, eta_b=ETA, lam_w=0.0,
                  lam_b=0.0, tied=rule == "tied") for j, (W, B) in enumerate(mats)]
    x, W, _, b = DenseModel(pops, edges).integrate(T, h=1e-3)
    return x["p1"], W, b["p1"]


@pytest.mark.parametrize("rule", ["hebbian", "tied"])
def test_trajectories_converge_to_the_ode_as_the_step_shrinks(engine, rule):
    """Learned (Kolen–Pollack) and tied feedback (B ≡ Wᵀ, read from the live W at every
    moment) against the same equations integrated independently."""
    errors = []
    for dt in (0.04, 0.02, 0.01):
        net, mats = engine_run(dt, engine, rule)
        x_ref, w_ref, b_ref = reference_run(mats, rule)
        err_x = np.max(np.abs(net.x("p1") - x_ref))
        err_w = max(np.max(np.abs(net.weights(f"p{j}->p{j + 1}")[0] - w_ref[j])) for j in (0, 1))
        err_b = np.max(np.abs(net.bias("p1") - b_ref))
        errors.append(max(err_x, err_w, err_b))
    # first-order scheme: each halving of dt should cut the error by about 2
    assert errors[0] > errors[1] > errors[2]
    assert errors[1] / errors[2] > 1.8 and errors[0] / errors[1] > 1.8
    # first order: ≈ 0.09·dt (unit) and 0.15·dt (population: error neurons follow their
    # inputs on the population clock) here; the fast bias (eta 0.3) dominates
    assert errors[2] < 2e-3


def test_hidden_state_moved_away_from_its_start(engine):
    """Guards the test above against passing trivially (nothing moving matches anything)."""
    net, mats = engine_run(0.02, engine)
    x_ref, _, b_ref = reference_run(mats)
    assert np.max(np.abs(b_ref - 0.2)) > 0.01  # the bias learned
    assert np.max(np.abs(x_ref)) > 0.1
    assert np.max(np.abs(net.x("p1"))) > 0.1


def test_a_learning_bias_keeps_drifting_while_its_clocked_error_neuron_sleeps(engine):
    """x clamped at 1, prior 0, db/dt = eta_b (1 − b): b(T) = 1 − e^{−eta_b T} (closed form).
    A clocked error neuron (tau_eps > 0) that sleeps must integrate its bias over the sleep
    too. The residual comes from the settle threshold (eps held within settle·tau_eps = 2e-3)
    and the wake-up interval while asleep (refresh 0.1)."""
    pops = [ap.PopulationSpec("a", 1, prior=0.0, eta_bias=0.05, tau_eps=0.2, settle=0.01,
                              dt=0.01, refresh=0.1)]
    net = ap.build_network(ap.build_graph(pops, []), engine=engine, seed=0)
    net.clamp("a", 1.0)
    net.run(40.0)
    assert net.bias("a")[0] == pytest.approx(1.0 - np.exp(-2.0), abs=5e-3)


# -- the ODE limit at the shipped settings -------------------------------------------------------
# Everything the corner above leaves out: neurons that settle and sleep, synapses and a bias that
# re-send their drifting currents by their own rule (drift_theta, refresh), send-on-delta,
# clock jitter, clocked error neurons (tau_eps > 0) with a column delay, and a sample switch
# after the network has settled. The thresholds shrink with the step (theta = drift_theta =
# settle = dt/10, as in the shipped scenarios relative to their tau_x), so every error should
# fall about linearly with dt. The reference integrates the same equations as a delay ODE.
X_B, Y_B = np.array([-0.4, 0.9]), np.array([-0.5, 0.4])
T_SWITCH, T_END = 12.0, 16.0


def shipped_settings_run(dt, engine, seed, *, k=0.1, jitter=0.3, refresh=1.0, settle=None,
                         drift_theta=None, theta=None, rule="hebbian"):
    graph, mats = chain([2, 3, 2], acts=["linear", "tanh", "linear"], dt=dt, eta_w=ETA,
                        eta_b=ETA, seed=3, rule=rule)
    for name in ("p0", "p1", "p2"):
        extra = dict(jitter=jitter, settle=k * dt if settle is None else settle,
                     theta=k * dt if theta is None else theta,
                     drift_theta=k * dt if drift_theta is None else drift_theta,
                     refresh=refresh)
        if name != "p0":
            extra.update(tau_eps=0.05, local_delay=0.02)
        if name == "p1":
            extra.update(prior=0.2, eta_bias=0.3)
        spec = graph.nodes[name]["spec"]
        graph.nodes[name]["spec"] = ap.PopulationSpec(**{**spec.__dict__, **extra})
    net = ap.build_network(graph, engine=engine, seed=seed)
    net.clamp("p0", X_IN)
    net.clamp("p2", Y)
    net.run(T_SWITCH)
    net.clamp("p0", X_B)
    net.clamp("p2", Y_B)
    net.run(T_END)
    return net, mats


def delayed_reference(mats, rule="hebbian"):
    pops = {"p0": dict(n=2, act="linear", var=1.0, tau=1.0),
            "p1": dict(n=3, act="tanh", var=1.0, tau=1.0, prior=0.2, eta_bias=0.3,
                       tau_eps=0.05, delay=0.02),
            "p2": dict(n=2, act="linear", var=1.0, tau=1.0, tau_eps=0.05, delay=0.02)}
    edges = [dict(src=f"p{j}", tgt=f"p{j + 1}", W=W, B=B, eta_w=ETA, eta_b=ETA, lam_w=0.0,
                  lam_b=0.0, tied=rule == "tied") for j, (W, B) in enumerate(mats)]
    x, W, _, b, _ = DelayedModel(pops, edges).integrate_schedule(
        [(0.0, {"p0": X_IN, "p2": Y}), (T_SWITCH, {"p0": X_B, "p2": Y_B})], T_END, h=2e-3)
    return x["p1"], W, b["p1"]


@pytest.fixture(scope="module")
def delayed_oracle():
    _, mats = shipped_settings_run(0.04, "unit", 0)
    return delayed_reference(mats)


@pytest.fixture(scope="module")
def tied_oracle():
    _, mats = shipped_settings_run(0.04, "unit", 0, rule="tied")
    return delayed_reference(mats, "tied")


def shipped_settings_error(dt, engine, oracle, seeds=4, **kw):
    """Largest error of hidden states, weights and the bias, averaged over clock seeds."""
    x_ref, w_ref, b_ref = oracle
    errors = []
    for seed in range(seeds):
        net, _ = shipped_settings_run(dt, engine, seed, **kw)
        errors.append(max(np.max(np.abs(net.x("p1") - x_ref)),
                          max(np.max(np.abs(net.weights(f"p{j}->p{j + 1}")[0] - w_ref[j]))
                              for j in (0, 1)),
                          np.max(np.abs(net.bias("p1") - b_ref))))
    return float(np.mean(errors))


def test_the_shipped_settings_converge_to_the_ode_first_order(engine, delayed_oracle):
    errors = [shipped_settings_error(dt, engine, delayed_oracle) for dt in (0.04, 0.02, 0.01)]
    # measured (mean of 4 seeds): unit 6.0e-3 / 2.0e-3 / 9.2e-4, population 3.3e-3 / 1.7e-3 /
    # 7.6e-4 — each halving of dt and the thresholds about halves the error
    assert errors[0] / errors[1] > 1.5 and errors[1] / errors[2] > 1.5
    assert errors[2] < 2.5e-3


def test_tied_feedback_reads_the_live_weights_at_the_shipped_settings(engine, tied_oracle):
    """B ≡ Wᵀ while neurons sleep and W drifts between arrivals: the feedback current must
    follow W as it learns, not W as of its last arrival (kills: a tied synapse reading its
    twin's weight without integrating it to now)."""
    errors = [shipped_settings_error(dt, engine, tied_oracle, seeds=2, rule="tied")
              for dt in (0.02, 0.01)]
    assert errors[0] / errors[1] > 1.5 and errors[1] < 2.5e-3


def test_the_unit_engine_slept_and_the_comparison_can_fail(delayed_oracle):
    """At these settings the unit engine's neurons do sleep (fewer updates than with settle =
    0; the population engine, whose populations sleep only when all their neurons are still,
    hardly sleeps here while learning), and the comparison catches stale currents: synapses
    that wait out a 4-unit refresh however far their current drifts (drift_theta = ∞) make
    the error grow."""
    net, _ = shipped_settings_run(0.02, "unit", 0)
    awake, _ = shipped_settings_run(0.02, "unit", 0, settle=0.0)
    assert net.counters.neuron_updates < 0.95 * awake.counters.neuron_updates
    assert net.counters.synapse_wakes > 0
    good = shipped_settings_error(0.02, "unit", delayed_oracle, seeds=2)
    stale = shipped_settings_error(0.02, "unit", delayed_oracle, seeds=2, drift_theta=1e9,
                                   refresh=4.0)
    assert stale > 10 * good


def drift_run(engine, *, dt, drift_theta, refresh):
    """A sleeping network whose inputs only drift: input and label clamped, W and B learn
    (W(t) = B(t) = 1 − e^{−eta t} from 0), and a clamped population with a learning bias
    (b(t) = 1 − e^{−eta_b t})."""
    common = dict(dt=dt, drift_theta=drift_theta, refresh=refresh)
    pops = [ap.PopulationSpec("input", 1, **common), ap.PopulationSpec("label", 1, **common),
            ap.PopulationSpec("a", 1, prior=0.0, eta_bias=0.05, **common)]
    edges = [ap.EdgeSpec("input", "label", w_values=((0.0,),), b_values=((0.0,),),
                         eta_w=0.1, eta_b=0.1)]
    net = ap.build_network(ap.build_graph(pops, edges), engine=engine, seed=0)
    for name in ("input", "label", "a"):
        net.clamp(name, [1.0])
    net.run(20.0)
    W, B = net.weights("input->label")
    exact_w, exact_b = 1.0 - np.exp(-0.1 * 20.0), 1.0 - np.exp(-0.05 * 20.0)
    return max(abs(W[0, 0] - exact_w), abs(B[0, 0] - exact_w)), abs(net.bias("a")[0] - exact_b)


@pytest.mark.parametrize("which", [0, 1], ids=["synapses", "bias"])
def test_drifting_inputs_are_resent_by_their_own_rule(engine, which):
    """Nothing moves here but learning, so every neuron sleeps and only the drift rule keeps
    the currents fresh: its error is first order in dt with drift_theta = 0, bounded by the
    threshold otherwise, and large when the rule is switched off (drift_theta = ∞: one
    re-send per refresh = 4 time units, the old polling's floor)."""
    err = [drift_run(engine, dt=dt, drift_theta=0.0, refresh=4.0)[which] for dt in (0.02, 0.01)]
    assert err[0] / err[1] > 1.8 and err[1] < 1e-3
    bounded = drift_run(engine, dt=0.01, drift_theta=1e-3, refresh=4.0)[which]
    assert bounded < 3e-3
    stale = drift_run(engine, dt=0.01, drift_theta=1e9, refresh=4.0)[which]
    assert stale > 10 * err[1] and stale > 5e-3


# -- a delay per synapse ----------------------------------------------------------------------
# The delays scenario's ingredients at converged numerics (theta = settle = drift_theta = 0):
# lognormal delays drawn per synapse (W and B each their own), 30 % clock jitter, learned
# feedback, a learning bias and a sample switch, against SynapticDelayModel. Every delay sits
# on a grid of 1/128 that both engines deliver on exactly (delay_resolution), so the engines'
# only error is their step.
GRID = 1 / 128
LOGNORMAL = ap.Distribution("lognormal", mean=0.15, std=0.1)


def per_synapse_delay_run(engine, dt, seed):
    rng = np.random.default_rng(3)
    mats = [(rng.normal(0, 0.7, (3, 2)), rng.normal(0, 0.7, (2, 3))),
            (rng.normal(0, 0.7, (2, 3)), rng.normal(0, 0.7, (3, 2)))]
    common = dict(dt=dt, jitter=0.3, theta=0.0, settle=0.0, drift_theta=0.0, refresh=dt)
    pops = [ap.PopulationSpec("p0", 2, **common),
            ap.PopulationSpec("p1", 3, activation="tanh", prior=0.2, eta_bias=0.3, **common),
            ap.PopulationSpec("p2", 2, **common)]
    edges = [ap.EdgeSpec(f"p{j}", f"p{j + 1}", w_values=tuple(map(tuple, W)),
                         b_values=tuple(map(tuple, B)), delay=LOGNORMAL, feedback_delay=LOGNORMAL,
                         delay_resolution=GRID, eta_w=0.3, eta_b=0.3)
             for j, (W, B) in enumerate(mats)]
    net = ap.build_network(ap.build_graph(pops, edges), engine=engine, seed=seed)
    net.clamp("p0", X_IN)
    net.clamp("p2", Y)
    net.run(6.0)
    net.clamp("p0", X_B)
    net.clamp("p2", Y_B)
    net.run(10.0)
    return net, mats


def per_synapse_delay_reference(net, mats, *, mean_delays=False):
    """The reference for ``net``'s own delays (they depend on its seed); ``mean_delays``
    replaces each edge's delays by their mean on the grid (the negative control)."""
    pops = {"p0": dict(n=2, act="linear", var=1.0, tau=1.0),
            "p1": dict(n=3, act="tanh", var=1.0, tau=1.0, prior=0.2, eta_bias=0.3),
            "p2": dict(n=2, act="linear", var=1.0, tau=1.0)}
    edges = []
    for j, (W, B) in enumerate(mats):
        d_w, d_b = net.delays(f"p{j}->p{j + 1}")
        if mean_delays:
            d_w, d_b = (np.full_like(d, np.round(d.mean() / GRID) * GRID) for d in (d_w, d_b))
        edges.append(dict(src=f"p{j}", tgt=f"p{j + 1}", W=W, B=B, dW=d_w, dB=d_b, eta_w=0.3,
                          eta_b=0.3, lam_w=0.0, lam_b=0.0))
    return SynapticDelayModel(pops, edges).integrate_schedule(
        [(0.0, {"p0": X_IN, "p2": Y}), (6.0, {"p0": X_B, "p2": Y_B})], 10.0, h=GRID / 8)


def largest_error(net, reference):
    x, W, B, b = reference
    return max(np.max(np.abs(net.x("p1") - x["p1"])), np.max(np.abs(net.bias("p1") - b["p1"])),
               *(np.max(np.abs(m - ref)) for j in (0, 1)
                 for m, ref in zip(net.weights(f"p{j}->p{j + 1}"), (W[j], B[j]), strict=True)))


def test_per_synapse_delays_converge_to_the_delay_ode(engine):
    """Both engines deliver every synapse's signal after its own delay and learn from it, so
    at converged numerics they follow the delay ODE with one delay per synapse; the error
    shrinks with the step (mean of 2 clock seeds over a 4× smaller step: the unit engine's
    error carries event-timing noise of about its own size, seed by seed 5.7e-3 / 6.8e-3 /
    3.3e-3 / 1.5e-3 at dt = 1/32 … 1/256). Negative control: the same reference with each
    edge's delays replaced by their mean is far off, so the comparison sees the delay of
    every synapse."""
    errors, controls = {1 / 32: [], 1 / 128: []}, []
    for seed in (0, 1):
        for dt in errors:
            net, mats = per_synapse_delay_run(engine, dt, seed)
            assert len(np.unique(net.delays("p1->p2")[0])) > 3  # really one delay per synapse
            errors[dt].append(largest_error(net, per_synapse_delay_reference(net, mats)))
        controls.append(largest_error(net, per_synapse_delay_reference(net, mats,
                                                                      mean_delays=True)))
    coarse, fine = (float(np.mean(e)) for e in errors.values())
    assert coarse / fine > 1.5 and fine < 6e-3, (coarse, fine)
    assert min(controls) > 5 * fine, controls
