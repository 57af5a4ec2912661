"""The weight-transport studies (docs/studies.md, "Studying weight transport"): each claim, on a run
short enough for CI. Expectations come from the Kolen–Pollack algebra (SPEC §1)."""

import numpy as np
import pytest
from helpers import run_shipped as run

from asyncpc.engines import build
from asyncpc.metrics import angle_bound_deg

EDGES = ("input->hidden", "hidden->output")


def test_study1_no_decay_conserves_asymmetry_and_angle_falls_under_the_bound(engine):
    tr = run("symmetry_growth", engine=engine).traces
    for e in EDGES:
        nd, angle = tr[f"symmetry/{e}/norm_diff"], tr[f"symmetry/{e}/angle_deg"]
        assert np.max(np.abs(nd / nd[0] - 1.0)) < 1e-9
        bound = [angle_bound_deg(nd[0], w, b) for w, b in
                 zip(tr[f"symmetry/{e}/norm_w"], tr[f"symmetry/{e}/norm_b"], strict=True)]
        assert np.all(angle <= np.array(bound) + 1e-9)
        assert angle[-1] < angle[0]
    growth = tr["symmetry/hidden->output/norm_w"][-1] / tr["symmetry/hidden->output/norm_w"][0]
    assert growth > 5.0
    assert tr["symmetry/hidden->output/angle_deg"][-1] < 10.0


def test_study2_decay_is_exponential(engine):
    """The claim of symmetry_kp (tests/studies/test_scenarios.py) with a second decay rate."""
    tr = run("symmetry_kp", "edges.*.lam=0.02", "run.duration=100.0", engine=engine).traces
    for e in EDGES:
        nd = tr[f"symmetry/{e}/norm_diff"]
        assert np.max(np.abs(nd / (nd[0] * np.exp(-0.02 * tr["t"])) - 1.0)) < 1e-9


@pytest.mark.slow
def test_study3_feedback_alignment_learns_with_b_fixed(engine):
    result = run("feedback_alignment", engine=engine)
    s = result.summary
    assert s["accuracy"]["train"] == 1.0
    assert 10.0 < s["symmetry"]["hidden->label"]["angle_deg"] < 80.0
    initial = build(result.network.graph, engine=engine, seed=result.network.seed)
    for e in result.network.edge_names:
        assert np.array_equal(result.network.weights(e)[1], initial.weights(e)[1])


def test_study4_delays_raise_the_asymmetry_floor_and_theta_saves_messages(engine):
    angle = {}
    for d in (0.0, 0.2):
        s = run("symmetry_kp", f"edges.*.delay={d}", engine=engine).summary
        angle[d] = s["symmetry"]["hidden->output"]["angle_deg"]
    assert angle[0.2] > 2.0 * angle[0.0]
    quiet = run("symmetry_kp", "populations.*.theta=0.01", engine=engine).summary
    loud = run("symmetry_kp", engine=engine).summary
    assert quiet["events"]["delivered"] < loud["events"]["delivered"] / 3


def test_study5_hebbian_raw_leaves_a_floor_that_decay_does_not_remove(engine):
    final = {}
    for rule in ("hebbian", "hebbian_raw"):
        s = run("symmetry_kp", f"edges.*.rule={rule}", "edges.*.lam=0.03", engine=engine).summary
        final[rule] = s["symmetry"]
    assert final["hebbian"]["hidden->output"]["angle_deg"] < 0.01
    assert final["hebbian_raw"]["hidden->output"]["angle_deg"] > \
        100 * final["hebbian"]["hidden->output"]["angle_deg"]
    # the input population is linear: x = r there, so the raw rule is exact on that edge
    assert final["hebbian_raw"]["input->hidden"]["angle_deg"] < 0.01


def test_study6_tied_feedback_is_the_flagged_nonlocal_reference(engine):
    s = run("symmetry_kp", "edges.*.rule=tied", "run.duration=40.0", engine=engine).summary
    for e in EDGES:
        assert s["symmetry"][e]["angle_deg"] == 0.0
        assert s["symmetry"][e]["nonlocal"] is True


def test_backprop_alignment_is_recorded_over_time_and_favours_transported_feedback(engine):
    """evaluation.backprop: at each evaluation, the angle between the settled PC updates and
    backprop. Exact transport (tied) must sit closer to backprop than fixed random feedback."""
    angle = {}
    for rule in ("tied", "fixed"):
        result = run("xor", f"edges.*.rule={rule}", "stimulus.epochs=10",
                     "evaluation.every=400.0", "evaluation.backprop=true", engine=engine)
        tr = result.traces
        # evaluations at t = 400 and at the end (the one due at t = 800 is the horizon)
        assert tr["evaluation/backprop_angle_deg"].shape == tr["accuracy"].shape == (2,)
        angle[rule] = result.summary["backprop"]["angle_deg"]
    assert angle["tied"] < angle["fixed"]
    assert angle["tied"] < 45.0
