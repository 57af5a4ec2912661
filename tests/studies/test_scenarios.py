"""Every shipped scenario runs and meets the claim stated in its header comment."""

from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from helpers import run_shipped as run

from asyncpc import scenario as sc
from asyncpc.cli import shipped_scenarios


def test_every_shipped_scenario_validates_and_says_what_it_shows():
    paths = shipped_scenarios()
    assert {p.stem for p in paths} >= {"relaxation", "bogacz_tutorial", "xor", "bars",
                                       "symmetry_kp", "delays"}
    for path in paths:
        s = sc.load(path)
        assert s.data["run"]["description"]
        assert path.read_text().startswith(f"# {path.stem} — ")
        assert "Claim" in path.read_text()


def test_relaxation_descends_to_the_closed_form_minimum(engine):
    """F never increases; the settled state is the least-squares minimum of F."""
    result = run("relaxation", engine=engine)
    energy = result.traces["energy"]
    assert np.all(np.diff(energy) <= 1e-12 * energy[0])
    data = result.network.graph
    W1 = np.array(data.edges["cause", "hidden"]["spec"].w_values)
    W2 = np.array(data.edges["hidden", "image"]["spec"].w_values)
    image = np.array([1.0, -0.5, 0.25, 0.75])
    # residuals [x_c − 0; x_h − W1 x_c; image − W2 x_h] = A z − c, unknowns z = (x_c, x_h)
    A = np.block([[np.eye(2), np.zeros((2, 3))], [-W1, np.eye(3)], [np.zeros((4, 2)), -W2]])
    c = np.concatenate([np.zeros(5), -image])
    z = np.linalg.lstsq(A, c, rcond=None)[0]
    net = result.network
    assert np.max(np.abs(np.concatenate([net.x("cause"), net.x("hidden")]) - z)) < 1e-4
    assert np.max(np.abs(z)) > 0.1


def test_bogacz_tutorial_settles_at_the_cubic_root(engine):
    result = run("bogacz_tutorial", engine=engine)
    root = max(np.roots([2.0, 0.0, -3.0, -3.0]).real)
    assert result.traces["x/v"][-1, 0] == pytest.approx(root, abs=1e-6)
    assert round(root, 4) == 1.5675


def test_symmetry_kp_asymmetry_decays_exactly_exponentially(engine):
    result = run("symmetry_kp", engine=engine)
    tr = result.traces
    for edge in ("input->hidden", "hidden->output"):
        nd = tr[f"symmetry/{edge}/norm_diff"]
        expected = nd[0] * np.exp(-0.01 * tr["t"])
        assert np.max(np.abs(nd / expected - 1.0)) < 1e-9
        assert tr[f"symmetry/{edge}/angle_deg"][-1] < 10.0
        assert tr[f"symmetry/{edge}/angle_deg"][0] > 45.0


@pytest.mark.slow
def test_delays_learns_xor_through_jittered_lognormal_delays(engine):
    if engine == "population" and not __import__("os").environ.get("ASYNCPC_FULL"):
        pytest.skip("delays on the population engine takes ~3 minutes; set ASYNCPC_FULL=1 "
                    "(measured: 100 %, angles 2.1° and 4.4°)")
    result = run("delays", engine=engine)
    s = result.summary
    assert s["status"] == "ok" and s["accuracy"]["train"] == 1.0
    assert max(m["angle_deg"] for m in s["symmetry"].values()) < 15.0
    assert result.network.min_delay() > 0.0


@pytest.mark.slow
def test_bars_regenerates_patterns_and_recovers_labels(engine):
    result = run("bars", engine=engine)
    s = result.summary
    assert s["status"] == "ok"
    assert s["generation"]["mean_abs_error"] < 0.1
    assert s["accuracy"]["train"] == 1.0
    assert s["symmetry"]["label->image"]["angle_deg"] < 10.0


def _xor_seed(seed, engine):
    result = run("xor", seed=seed, engine=engine)
    tr = result.traces
    t, delivered = tr["t"], tr["delivered"]
    T = result.summary["sim_time"]
    first = delivered[(t > 0) & (t <= 0.1 * T)].sum()
    last = delivered[t > 0.9 * T].sum()
    angles = [m["angle_deg"] for m in result.summary["symmetry"].values()]
    return result.summary["accuracy"]["train"], angles, first, last


@pytest.mark.slow
def test_xor_learns_with_learned_feedback_and_delays(engine):
    """100 % for ≥ 4 of 5 seeds; every edge's angle < 10°; messages fall to ≤ 1/3."""
    with ProcessPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(_xor_seed, range(5), [engine] * 5))
    accuracies = [acc for acc, *_ in outcomes]
    assert sum(acc == 1.0 for acc in accuracies) >= 4, outcomes
    for acc, angles, first, last in outcomes:
        assert max(angles) < 10.0, outcomes
        if acc == 1.0:
            assert last <= first / 3.0, outcomes


@pytest.mark.slow
def test_digits_first_two_epochs_learn_held_out_digits_far_above_chance():
    """The first two of the shipped scenario's twenty epochs (2,514 presentations, ~1 minute):
    on the 540 held-out digits the network is far above chance (10 %; the full run measured
    72.8 % at this point, its first evaluation), with messages delivered and both edges'
    angles already well below their ~90° start."""
    result = run("digits", "stimulus.epochs=2", "evaluation.every=0",
                 "evaluation.generate=false", engine="population")
    s = result.summary
    assert s["status"] == "ok" and s["samples_presented"] == 2 * 1257
    assert s["accuracy"]["test"] > 0.6, s["accuracy"]
    assert max(m["angle_deg"] for m in s["symmetry"].values()) < 60.0, s["symmetry"]


@pytest.mark.skipif(not __import__("os").environ.get("ASYNCPC_FULL"),
                    reason="the full digits run takes ~10 minutes; set ASYNCPC_FULL=1")
def test_digits_meets_its_claims():
    """The shipped scenario as it stands: ≥ 94 % on the 540 held-out digits, every edge's
    angle below 10°, within 15 minutes of wall time."""
    result = run("digits", engine="population")
    s = result.summary
    assert s["accuracy"]["test"] >= 0.94, s["accuracy"]
    assert max(m["angle_deg"] for m in s["symmetry"].values()) < 10.0, s["symmetry"]
    assert s["wall_seconds"] <= 15 * 60


def test_interference_pc_disturbs_the_other_output_less_than_backprop(engine):
    """Song et al.'s toy: at matched progress on output 1, PC's output 2 stays closer to its
    target 1 than the backprop baseline's; at the progress one equilibrium-PC step of rate 0.2
    makes (output 1 = 0.85) the continuous network's output 2 is the published 0.975."""
    result = run("interference", engine=engine)
    pc, bp = (result.traces[f"evaluation/{k}"] for k in ("outputs", "baseline_outputs"))
    assert pc[-1, 0] < 0.2 and bp[-1, 0] < 0.2  # both learned output 1

    def at(trace, o1):  # output 2 where output 1 has fallen to o1 (output 1 decreases)
        return np.interp(o1, trace[::-1, 0], trace[::-1, 1])

    for o1 in (0.85, 0.64, 0.5, 0.3):
        assert at(pc, o1) > at(bp, o1) + 0.02
    assert at(pc, 0.85) == pytest.approx(0.975, abs=0.005)
    assert bp[:, 1].min() < 0.85  # backprop's interference is real here, not a flat line
