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
