"""The figures show what a scientist needs to read a run: converged values per presentation,
a zoom on the last presentations, the raster's window, sweeps from finished runs only."""

import matplotlib
import numpy as np
import pytest

from asyncpc import plotting, runner
from asyncpc import scenario as sc


@pytest.fixture(scope="module")
def xor_run():
    s = sc.load("xor", ["stimulus.epochs=3", "record.every=20.0", "stimulus.order=sequential"])
    return s, runner.run(s, plots=False)


def test_every_presentation_end_is_recorded_at_its_switch(xor_run):
    s, result = xor_run
    tr = result.traces
    presentation = s.sections.stimulus.presentation
    n = result.summary["samples_presented"]
    assert n == 12
    # one record per presentation, taken at its end (the next sample's onset)
    assert np.allclose(tr["end/t"], presentation * np.arange(1, n + 1))
    assert tr["end/x/hidden"].shape == (n, 2)
    # the zoom: the last record.zoom presentations, 50 samples each, with their onsets
    zoom = s.sections.record.zoom
    assert tr["zoom/t"][0] == pytest.approx((n - zoom) * presentation)
    assert np.allclose(np.diff(tr["zoom/t"]), presentation / 50)
    assert np.allclose(tr["zoom/onsets"], presentation * np.arange(n - zoom, n))


def test_presentation_ends_reveal_convergence_that_fixed_sampling_hides(xor_run):
    """Sampling every 20 time units in step with 20-unit presentations catches each sample
    just after its switch; the end-of-presentation energy is the converged one, lower."""
    _, result = xor_run
    tr = result.traces
    just_after = np.interp(tr["zoom/onsets"] + 0.5, tr["zoom/t"], tr["zoom/energy"])
    at_end = np.interp(tr["zoom/onsets"] + 19.5, tr["zoom/t"], tr["zoom/energy"])
    assert np.all(at_end < just_after)
    assert np.median(tr["end/energy"]) < np.median(tr["energy"][1:])


def test_energy_and_activity_figures_zoom_on_the_last_presentations(xor_run):
    tr = xor_run[1].traces
    fig = plotting.plot_energy(tr)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("At the end of each presentation (12)")
    assert titles[1].startswith("Last 3 presentations")
    fig = plotting.plot_activity(tr)
    assert len(fig.axes) == 4  # hidden and label, each zoomed and per presentation
    assert "error at each presentation's end" in fig.axes[1].get_title()
    matplotlib.pyplot.close("all")


def test_the_raster_states_its_window(xor_run):
    tr = xor_run[1].traces
    title = plotting.plot_raster(tr).axes[0].get_title()
    t0, t1 = tr["raster/t"].min(), tr["raster/t"].max()
    assert f"t = {t0:.4g} to {t1:.4g}" in title
    assert f"of a run of {tr['t'][-1]:g}" in title and "record.raster_from" in title
    matplotlib.pyplot.close("all")


def test_generated_images_have_a_colour_bar():
    images = np.random.default_rng(0).random((4, 16))
    fig = plotting.image_grid(images, ["a", "b", "c", "d"], 4)
    assert any(ax.get_label() == "<colorbar>" for ax in fig.axes)
    matplotlib.pyplot.close("all")


def test_sweep_figures_leave_out_unfinished_runs_and_empty_metrics(tmp_path, xor_run):
    s, result = xor_run
    runner.prepare_out(tmp_path / "a", force=False)
    runner.write(tmp_path / "a", s, result, plots=False)
    rows = [{"status": "ok", "run_dir": str(tmp_path / "a"), "seed": "0",
             "hidden->label:angle_deg": "3.0"},
            {"status": "interrupted", "run_dir": str(tmp_path / "a"), "seed": "1"},
            {"status": "failed", "run_dir": str(tmp_path / "missing"), "seed": "2"}]
    ok, note = plotting.finished_runs(rows)
    assert ok == rows[:1]
    assert note == "; left out: 1 failed, 1 interrupted"
    metrics = plotting.sweep_metrics(rows, [result.traces])
    keys = [m[0] for m in metrics]
    assert keys == ["symmetry/hidden->label/angle_deg", "accuracy"]  # no held-out set: no panel
    assert dict((m[0], m[3]) for m in metrics)["accuracy"] == 100.0  # in % as in run figures


def test_raster_labels_sit_at_the_centre_of_their_rows():
    """Population a's neurons occupy rows 0–3 and b's rows 5–6 (one blank row between): the
    labels belong at 1.5 and 5.5; the percentage of the run reads as a plain number."""
    tr = {"raster/t": np.array([0.0, 1.0, 2.0, 40.0]), "raster/pop": np.array([0, 0, 1, 1]),
          "raster/index": np.array([0, 3, 0, 1]), "raster/populations": np.array(["a", "b"]),
          "t": np.array([0.0, 40.0])}
    fig = plotting.plot_raster(tr)
    ax = fig.axes[0]
    assert list(ax.get_yticks()) == [1.5, 5.5]
    assert "(100 % of a run of 40)" in ax.get_title()
    matplotlib.pyplot.close(fig)


def test_the_kolen_pollack_line_is_drawn_only_where_the_identity_holds():
    """The identity W − Bᵀ = e^{−λt}(W₀ − B₀ᵀ) needs rule hebbian, equal rates, zero delays
    and θ = 0 (SPEC §1); with a delay or send-on-delta the figure draws no theory line."""
    zero = {"dist": "constant", "value": 0.0}
    edge = {"source": "a", "target": "b", "rule": "hebbian", "lam": 0.01, "lam_b": None,
            "eta_w": 0.1, "eta_b": None, "delay": zero, "feedback_delay": None}
    scenario = {"populations": {"a": {"theta": 0.0}, "b": {"theta": 0.0}}, "edges": [edge]}
    assert plotting.kolen_pollack_holds(edge, scenario)
    assert not plotting.kolen_pollack_holds({**edge, "delay": {"dist": "constant",
                                                               "value": 0.05}}, scenario)
    assert not plotting.kolen_pollack_holds({**edge, "rule": "hebbian_raw"}, scenario)
    assert not plotting.kolen_pollack_holds(edge, {**scenario, "populations": {
        "a": {"theta": 0.01}, "b": {"theta": 0.0}}})


def test_the_activity_figure_draws_the_expected_value(tmp_path):
    """bogacz_tutorial declares record.expected (the closed-form root 1.5675): the activity
    figure carries it as a reference line."""
    result = runner.run(sc.load("bogacz_tutorial"), out=tmp_path / "b", plots=False)
    scenario = sc.load("bogacz_tutorial").data
    fig = plotting.plot_activity(result.traces, scenario)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert "expected x0 = 1.56747" in labels
    matplotlib.pyplot.close(fig)
