"""Figures from a run directory (the only module that imports matplotlib).

Each ``plot_*`` function takes the traces (``traces.npz`` as a dict) and returns a Figure;
:func:`plot_run` writes the standard set to ``RUN_DIR/plots/*.png``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .files import GENERATED, PLOTS_DIR, SCENARIO, TRACES  # noqa: E402

STYLE = {"figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
         "axes.spines.right": False, "legend.frameon": False, "font.size": 9}
TIME = "simulated time (time units)"


def load_traces(run_dir: str | Path) -> dict[str, np.ndarray]:
    with np.load(Path(run_dir) / TRACES, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _names(traces: dict, prefix: str) -> list[str]:
    return sorted({k[len(prefix):].split("/")[0] for k in traces if k.startswith(prefix)})


#: a log axis spans at most this many decades below its largest value: energies that settle to
#: rounding (1e-30 and below) would otherwise stretch it over hundreds of decades
DECADES = 12


def log_floor(*series: np.ndarray) -> float:
    """The lower limit of a log axis showing ``series``: their smallest positive value, but no
    more than :data:`DECADES` decades below their largest."""
    values = np.concatenate([np.ravel(s) for s in series])
    positive = values[np.isfinite(values) & (values > 0)]
    if positive.size == 0:
        return 1e-12
    return max(float(positive.min()), float(positive.max()) * 10.0 ** -DECADES)


def _smooth(y: np.ndarray, n: int) -> np.ndarray:
    """A running mean over ``n`` points (shorter at the ends), nan-aware."""
    if n <= 1 or len(y) < 3:
        return y
    ok = np.isfinite(y)
    kernel = np.ones(n)
    total = np.convolve(np.where(ok, y, 0.0), kernel, mode="same")
    count = np.convolve(ok.astype(float), kernel, mode="same")
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _has(tr: dict, key: str, n: int = 2) -> bool:
    return key in tr and tr[key].size >= n


def _mark_onsets(ax: plt.Axes, tr: dict) -> None:
    for t in tr.get("zoom/onsets", ()):
        ax.axvline(t, color="0.6", lw=0.8, ls=":")


def _energy_panel(ax: plt.Axes, t: np.ndarray, tr: dict, prefix: str, smooth: int = 1) -> None:
    names = _names(tr, f"{prefix}energy/")
    series = [tr[f"{prefix}energy"], *[tr[f"{prefix}energy/{n}"] for n in names]]
    floor = log_floor(*series)
    colours = ["k", *[f"C{j}" for j in range(len(names))]]
    for y, name, colour in zip(series, ["total F", *names], colours, strict=True):
        if np.any(y <= 0.0):  # a log axis cannot show 0: leave those points out, and say so
            name += " (gaps: F = 0)"
        y = np.where(y > 0.0, np.maximum(y, floor), np.nan)
        if smooth > 1:
            ax.semilogy(t, y, lw=0.5, alpha=0.25, color=colour)
        ax.semilogy(t, _smooth(y, smooth), lw=1.5 if name == "total F" else 1, color=colour,
                    label=name)
    ax.set_ylim(bottom=floor / 2.0)  # the smallest value sits above the axis, not on it


def plot_energy(tr: dict) -> plt.Figure:
    """Energy over the run. With a stimulus, the energy is a saw-tooth (every new sample
    raises it), so the left panel shows it at the end of each presentation — the converged
    value — and the right panel zooms on the last presentations, where each one's relaxation
    is visible."""
    if not (_has(tr, "end/t") and _has(tr, "zoom/t")):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        _energy_panel(ax, tr["t"], tr, "")
        ax.set(xlabel=TIME, ylabel="energy F (log)", title="Energy per population")
        ax.legend()
        fig.tight_layout()
        return fig
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.6))
    n = len(tr["end/t"])
    window = max(1, n // 50)
    _energy_panel(a1, tr["end/t"], tr, "end/", smooth=window)
    a1.set(xlabel=TIME, ylabel="energy F (log)",
           title=f"At the end of each presentation ({n})"
                 + (f"; running mean over {window}" if window > 1 else ""))
    a1.legend(fontsize=7)
    _energy_panel(a2, tr["zoom/t"], tr, "zoom/")
    _mark_onsets(a2, tr)
    a2.set(xlabel=TIME, ylabel="energy F (log)",
           title=f"Last {len(tr.get('zoom/onsets', ())) or 'few'} presentations "
                 "(dotted: a new sample)")
    a2.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_activity(tr: dict, scenario: dict | None = None) -> plt.Figure | None:
    """The recorded neurons' states x and predictions μ. With a stimulus: within the last
    presentations (left) and, over the whole run, the prediction error |x − μ| each presentation
    ends with (right; it falls as the network learns). Without one: over the whole run. The
    scenario's ``record.expected`` values (a closed form) are drawn as dotted lines."""
    expected = ((scenario or {}).get("record") or {}).get("expected") or {}
    pops = _names(tr, "x/")
    if not pops:
        return None
    zoomed = _has(tr, "zoom/t") and _has(tr, "end/t")
    cols = 2 if zoomed else 1
    fig, axes = plt.subplots(len(pops), cols, figsize=(6 * cols, 2.3 * len(pops)),
                             squeeze=False)
    prefix = "zoom/" if zoomed else ""
    t = tr[f"{prefix}t"]
    for row, name in zip(axes, pops, strict=True):
        ax = row[0]
        x, mu = tr[f"{prefix}x/{name}"], tr[f"{prefix}mu/{name}"]
        for j, k in enumerate(tr[f"neurons/{name}"]):
            line, = ax.plot(t, x[:, j], lw=1.2, label=f"x{k}")
            if np.any(np.isfinite(mu[:, j])):
                ax.plot(t, mu[:, j], lw=1, ls="--", color=line.get_color(), label=f"μ{k}")
            if name in expected and j < len(expected[name]):
                value = expected[name][j]
                ax.axhline(value, ls=":", lw=1.2, color="k", label=f"expected x{k} = {value:g}")
        if zoomed:
            _mark_onsets(ax, tr)
        ax.set(ylabel=name, title=f"{name}: x (solid), μ (dashed)"
               + (", last presentations" if zoomed else ""))
        ax.legend(ncol=4, fontsize=7)
        if zoomed:
            ax = row[1]
            err = np.abs(tr[f"end/x/{name}"] - tr[f"end/mu/{name}"]).mean(axis=1)
            if not np.any(np.isfinite(err)):
                ax.text(0.5, 0.5, f"{name} is not predicted (no μ)", ha="center",
                        va="center", transform=ax.transAxes)
                ax.set_axis_off()
                continue
            window = max(1, len(err) // 50)
            ax.plot(tr["end/t"], err, lw=0.5, alpha=0.3, color="k", label="each presentation")
            if window > 1:
                ax.plot(tr["end/t"], _smooth(err, window), lw=1.3, color="k",
                        label=f"running mean over {window}")
            ax.legend(fontsize=7)
            ax.set(ylabel="mean |x − μ|", title=f"{name}: error at each presentation's end")
    for ax in axes[-1]:
        ax.set_xlabel(TIME)
    fig.tight_layout()
    return fig


def plot_accuracy(tr: dict) -> plt.Figure | None:
    if tr["accuracy"].size == 0:
        return None
    bp = "evaluation/backprop_angle_deg" in tr
    active = sorted(k for k in tr if k.startswith("evaluation/active/"))
    panels = 1 + bp + bool(active)
    fig, axes = plt.subplots(1, panels, figsize=(4 + 4 * panels, 3), squeeze=False)
    ax = axes[0, 0]
    ax.plot(tr["accuracy/t"], 100 * tr["accuracy"], "o-", ms=3, label="PC network, training")
    if "evaluation/test_accuracy" in tr:
        ax.plot(tr["accuracy/t"], 100 * tr["evaluation/test_accuracy"], "s-", ms=3,
                label="PC network, held-out")
    for key, label, marker in (("baseline_accuracy", "backprop, training", "o--"),
                               ("baseline_test_accuracy", "backprop, held-out", "s--"),
                               ("sync_pc_accuracy", "synchronous PC, training", "^--"),
                               ("sync_pc_test_accuracy", "synchronous PC, held-out", "v--")):
        if f"evaluation/{key}" in tr:
            ax.plot(tr["accuracy/t"], 100 * tr[f"evaluation/{key}"], marker, ms=3, lw=1,
                    label=label)
    if len(ax.get_legend_handles_labels()[0]) > 1:
        ax.legend(fontsize=7)
    ax.set(xlabel=TIME, ylabel="accuracy (%)", ylim=(-5, 105),
           title="Accuracy of frozen copies over time")
    if bp:
        ax = axes[0, 1]
        ax.plot(tr["accuracy/t"], tr["evaluation/backprop_angle_deg"], "o-", ms=3)
        ax.set(xlabel=TIME, ylabel="angle (degrees)",
               title="Settled PC weight updates vs backprop")
    if active:
        ax = axes[0, -1]
        for key in active:
            ax.plot(tr["accuracy/t"], 100 * tr[key], "o-", ms=3, label=key.split("/")[-1])
        ax.legend(fontsize=7)
        ax.set(xlabel=TIME, ylabel="active units (%)", ylim=(-5, 105),
               title="relu units active in the feed-forward pass")
    fig.tight_layout()
    return fig


def plot_outputs(tr: dict) -> plt.Figure | None:
    """With ``readout = "values"``: what the network (and the backprop baseline) predicts for the
    first training sample over time, and — for two outputs — output 2 against output 1, which
    compares the learners at matched progress on output 1 (interference: learning one output
    disturbs the other)."""
    if "evaluation/outputs" not in tr or tr["evaluation/outputs"].ndim != 2 \
            or tr["evaluation/outputs"].shape[1] > 4:
        return None
    out, t = tr["evaluation/outputs"], tr["accuracy/t"]
    base = tr.get("evaluation/baseline_outputs")
    two = out.shape[1] == 2
    fig, axes = plt.subplots(1, 2 if two else 1, figsize=(10 if two else 6, 3.6), squeeze=False)
    ax = axes[0, 0]
    for k in range(out.shape[1]):
        line, = ax.plot(t, out[:, k], lw=1.4, label=f"output {k + 1}, PC network")
        if base is not None:
            ax.plot(t, base[:, k], ls="--", lw=1.2, color=line.get_color(),
                    label=f"output {k + 1}, backprop")
    ax.set(xlabel=TIME, ylabel="predicted value", title="Predictions for the first sample")
    ax.legend(fontsize=7)
    if two:
        ax = axes[0, 1]
        ax.plot(out[:, 0], out[:, 1], lw=1.4, label="PC network")
        if base is not None:
            ax.plot(base[:, 0], base[:, 1], ls="--", lw=1.2, label="backprop")
        ax.set(xlabel="output 1", ylabel="output 2",
               title="Output 2 at matched progress on output 1")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _rate(t: np.ndarray, counts: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts per time unit, averaged over ``window`` recording intervals."""
    if len(t) < 2:
        return t, counts.astype(float)
    c = np.convolve(counts[1:], np.ones(window), mode="valid")
    span = t[window:] - t[:-window] if window < len(t) else np.array([t[-1] - t[0]])
    return t[window:][: len(c)], c[: len(span)] / span[: len(c)]


def plot_messages(tr: dict) -> plt.Figure:
    # messages per sample need at least two samples to draw a line (one sample: one number,
    # given in the title)
    per_sample = "presented" in tr and tr["presented"].size > 1 and tr["presented"][-1] >= 2
    fig, axes = plt.subplots(1, 2 if per_sample else 1, figsize=(11 if per_sample else 6, 3.2),
                             squeeze=False)
    ax = axes[0, 0]
    t = tr["t"]
    window = max(1, len(t) // 100)
    for name in _names(tr, "messages/"):
        ax.plot(*_rate(t, tr[f"messages/{name}"], window), lw=1, label=f"{name} emitted")
    ax.plot(*_rate(t, tr["delivered"], window), color="k", lw=1.2, label="delivered (all)")
    if np.any(tr["delivered"] > 0):
        ax.set_yscale("log")
    single = ("presented" in tr and tr["presented"].size and tr["presented"][-1] == 1)
    ax.set(xlabel=TIME, ylabel="messages per time unit",
           title=f"Message rate (mean over {window} recording intervals)"
           + (f"\n{int(tr['delivered'].sum()):,} messages for its one sample" if single else ""))
    ax.legend(fontsize=7)
    if per_sample:
        ax = axes[0, 1]
        presented = tr["presented"]
        # windows of about 2 % of the samples: delivered messages over samples presented
        step = max(1, int(presented[-1] // 50))
        edges = np.searchsorted(presented, np.arange(step, presented[-1] + 1, step))
        edges = np.unique(np.concatenate([[0], edges[edges < len(t)]]))
        delivered = np.cumsum(tr["delivered"])
        per = np.diff(delivered[edges]) / np.maximum(np.diff(presented[edges]), 1)
        ax.plot(presented[edges[1:]], per, "o-", ms=2.5, color="k")
        if np.any(per > 0):
            ax.set_yscale("log")
        ax.set(xlabel="samples presented", ylabel="messages delivered per sample",
               title="Messages per presented sample")
    fig.tight_layout()
    return fig


def plot_confusion(tr: dict) -> plt.Figure | None:
    if "confusion" not in tr:
        return None
    m = tr["confusion"]
    fig, ax = plt.subplots(figsize=(4.6, 4))
    im = ax.imshow(m, cmap="Blues")
    for (i, j), v in np.ndenumerate(m):
        if v:
            ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                    color="white" if v > m.max() / 2 else "black")
    ax.set(xlabel="predicted class", ylabel="true class", xticks=range(m.shape[1]),
           yticks=range(m.shape[0]),
           title=f"Confusion matrix, last evaluation\n({m.sum()} samples, "
                 f"{100 * np.trace(m) / max(1, m.sum()):.1f} % correct)")
    ax.grid(False)
    fig.colorbar(im, ax=ax, shrink=0.8, label="samples")
    fig.tight_layout()
    return fig


def kolen_pollack_holds(edge: dict, scenario: dict) -> bool:
    """Does ``W − Bᵀ = e^{−λt}(W₀ − B₀ᵀ)`` hold exactly for this edge (SPEC §1): rule
    "hebbian", equal rates and decays, zero delays both ways, send-on-delta off (θ = 0) in
    both populations?"""
    def zero(d) -> bool:
        return d is None or (d.get("dist") == "constant" and d.get("value", 0.0) == 0.0)
    pops = scenario.get("populations", {})
    return (edge["rule"] == "hebbian" and edge.get("lam_b") in (None, edge["lam"])
            and edge.get("eta_b") in (None, edge["eta_w"]) and zero(edge.get("delay"))
            and zero(edge.get("feedback_delay"))
            and all(pops.get(p, {}).get("theta", 0.0) == 0.0
                    for p in (edge["source"], edge["target"])))


def plot_symmetry(tr: dict, scenario: dict | None = None) -> plt.Figure | None:
    """Angle and distance between W and Bᵀ per edge; for edges where the Kolen–Pollack
    identity holds exactly (:func:`kolen_pollack_holds`), its prediction ‖W₀ − B₀ᵀ‖ e^{−λt}
    dashed; elsewhere (delays, send-on-delta) no line is drawn, as the theory does not
    apply."""
    edges = _names(tr, "symmetry/")
    if not edges:
        return None
    specs = {f"{e['source']}->{e['target']}": e for e in (scenario or {}).get("edges", [])}
    if specs and not any(e.get("eta_w") or e.get("eta_b") or e.get("lam") or e.get("lam_b")
                         for e in specs.values()):
        return None  # no edge learns: W and B never change, there is nothing to show
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.5))
    t = tr["t"]
    theory = False
    for e in edges:
        spec = specs.get(e)
        label = f"{e} (tied: NON-LOCAL)" if spec and spec["rule"] == "tied" else e
        line, = a1.plot(t, tr[f"symmetry/{e}/angle_deg"], lw=1.2, label=label)
        nd = tr[f"symmetry/{e}/norm_diff"]
        if not np.any(nd > 0):
            continue  # W = Bᵀ throughout (e.g. tied): no distance to draw on a log axis
        if spec and nd.size and kolen_pollack_holds(spec, scenario):
            theory = True  # a wide pale band under the measured line: visible where they agree
            a2.semilogy(t, nd[0] * np.exp(-spec["lam"] * (t - t[0])), lw=5, alpha=0.3,
                        color=line.get_color(), label=f"{e}: theory ‖W₀ − B₀ᵀ‖ e^(−λt)")
        a2.semilogy(t, np.maximum(nd, log_floor(nd)), lw=1.2, color=line.get_color(),
                    label=label)
    a1.set(xlabel=TIME, ylabel="angle(W, Bᵀ) (degrees)", title="Weight symmetry: angle")
    a2.set(xlabel=TIME, ylabel="‖W − Bᵀ‖", title="Weight symmetry: distance" + (
        "\n(theory exact here: Kolen–Pollack, no delays, θ = 0)" if theory else ""))
    a1.legend()
    if a2.get_legend_handles_labels()[0]:
        a2.legend(fontsize=7, loc="lower left")
    else:
        a2.text(0.5, 0.5, "W = Bᵀ throughout", ha="center", va="center",
                transform=a2.transAxes)
        a2.set_xticks([])
        a2.set_yticks([])  # an empty panel: no scale to read
    fig.tight_layout()
    return fig


def plot_raster(tr: dict) -> plt.Figure | None:
    if tr["raster/t"].size == 0:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.5))
    names = list(tr["raster/populations"])
    offset, ticks = 0, []
    sizes = {c: int(tr["raster/index"][tr["raster/pop"] == c].max(initial=-1)) + 1
             for c in range(len(names))}
    for code, name in enumerate(names):
        sel = tr["raster/pop"] == code
        if sel.any():
            ax.scatter(tr["raster/t"][sel], offset + tr["raster/index"][sel], s=1.5,
                       marker="|", label=name)
            ticks.append((offset + (sizes[code] - 1) / 2, name))  # rows offset … offset+size−1
            offset += sizes[code] + 1
    ax.set_yticks([p for p, _ in ticks], [n for _, n in ticks])
    t0, t1, end = tr["raster/t"].min(), tr["raster/t"].max(), tr["t"][-1]
    ax.set(xlabel=TIME,
           title=f"Message raster: {tr['raster/t'].size} emissions, t = {t0:.4g} to {t1:.4g} "
                 f"({100 * (t1 - t0) / max(end, 1e-300):.3g} % of a run of {end:g})\n"
                 "window: record.raster_from (start) and record.raster (emissions kept)")
    fig.tight_layout()
    return fig


def image_grid(images: np.ndarray, titles: list[str], side: int, rows: int = 2) -> plt.Figure:
    """Images in ``rows`` rows (generated above, targets below), on one grey scale with its
    colour bar."""
    cols = int(np.ceil(len(images) / rows))
    fig, axes = plt.subplots(rows, cols, figsize=(1.2 * cols + 1.0, 1.5 * rows + 0.4),
                             squeeze=False, layout="constrained")
    for ax in axes.ravel():
        ax.set_axis_off()
    im = None
    for ax, img, title in zip(axes.ravel(), images, titles, strict=False):
        im = ax.imshow(np.reshape(img, (side, side)), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(title, fontsize=8)
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8,
                     label="state x (generated: clipped to [0, 1])")
    fig.suptitle("Generated from each label (top) and the target patterns (bottom)", fontsize=9)
    return fig


def task_errors(traces: list[dict], prefix: str) -> dict[str, np.ndarray]:
    """Held-out error (%) of each task over the evaluations, one row per run: the
    ``{prefix}task<k>_test_accuracy`` traces of runs with data.tasks, by task name."""
    names = sorted({k[len(prefix):] for tr in traces for k in tr
                    if k.startswith(prefix + "task") and k.endswith("_test_accuracy")})
    out = {}
    for name in names:
        n = min(len(tr[prefix + name]) for tr in traces)
        out[name.split("_")[0].replace("task", "task ")] = \
            100 * (1 - np.array([tr[prefix + name][:n] for tr in traces]))
    return out


def draw_task_errors(ax: plt.Axes, t: np.ndarray, errors: dict[str, np.ndarray],
                     onsets, ls: str = "-", suffix: str = "") -> None:
    """Each task's held-out error over time (mean over runs, band = min to max) with the task
    switches dotted."""
    for j, (name, err) in enumerate(errors.items()):
        x = t[:err.shape[1]]
        line, = ax.plot(x, err.mean(axis=0), lw=1.2, ls=ls, color=f"C{j}",
                        label=f"{name}{suffix}")
        if len(err) > 1:
            ax.fill_between(x, err.min(axis=0), err.max(axis=0), alpha=0.2,
                            color=line.get_color())
    for s in onsets[1:]:
        ax.axvline(s, color="0.6", lw=0.6, ls=":")
    ax.set(xlabel=TIME, ylabel="held-out error (%)", ylim=(0, 100))


def plot_tasks(tr: dict) -> plt.Figure | None:
    """With data.tasks: each task's held-out error over training, for the PC network (solid)
    and the backprop baseline (dashed); dotted lines are the task switches."""
    pc = task_errors([tr], "evaluation/")
    if not pc:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.8))
    onsets = tr.get("stimulus/task_onsets", np.zeros(1))
    draw_task_errors(ax, tr["accuracy/t"], pc, onsets, suffix=", PC network")
    base = task_errors([tr], "evaluation/baseline_")
    if base:
        draw_task_errors(ax, tr["accuracy/t"], base, onsets, ls="--", suffix=", backprop")
    ax.set(title="Each task's held-out error; dotted: task switches")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


PLOTS: dict[str, Callable[[dict], plt.Figure | None]] = {
    "energy": plot_energy, "activity": plot_activity, "accuracy": plot_accuracy,
    "messages": plot_messages, "symmetry": plot_symmetry, "raster": plot_raster,
    "confusion": plot_confusion, "outputs": plot_outputs, "tasks": plot_tasks,
}


def plot_run(run_dir: str | Path, kinds: list[str] | None = None) -> list[Path]:
    """Write the figures of ``run_dir`` to ``run_dir/plots``; return the files written."""
    run_dir = Path(run_dir)
    traces = load_traces(run_dir)
    out = run_dir / PLOTS_DIR
    out.mkdir(exist_ok=True)
    written = []
    with plt.rc_context(STYLE):
        scenario = None
        if (run_dir / SCENARIO).exists():
            with open(run_dir / SCENARIO, "rb") as fh:
                scenario = tomllib.load(fh)
        for kind in [k for k in kinds or list(PLOTS) if k in PLOTS]:
            fig = (PLOTS[kind](traces, scenario) if kind in ("symmetry", "activity")
                   else PLOTS[kind](traces))
            if fig is None:
                continue
            path = out / f"{kind}.png"
            _save(fig, path)
            written.append(path)
        gen = run_dir / GENERATED
        if gen.exists() and (kinds is None or "generated" in kinds):
            with np.load(gen, allow_pickle=False) as g:
                images, titles, side = g["images"], list(g["titles"]), int(g["side"])
            fig = image_grid(images, titles, side)
            _save(fig, out / "generated.png")
            written.append(out / "generated.png")
    return written


def finished_runs(rows: list[dict]) -> tuple[list[dict], str]:
    """The sweep rows a figure may draw (finished ok, with traces), and a note counting the
    others by status (empty when none is left out)."""
    ok = [r for r in rows if r["status"] == "ok" and (Path(r["run_dir"]) / TRACES).exists()]
    left_out: dict[str, int] = {}
    for r in rows:
        if r not in ok:
            left_out[r["status"]] = left_out.get(r["status"], 0) + 1
    note = ("; left out: " + ", ".join(f"{n} {st}" for st, n in sorted(left_out.items()))
            if left_out else "")
    return ok, note


def sweep_metrics(rows: list[dict], traces: list[dict]) -> list[tuple[str, str, str, float]]:
    """(trace key, sweep.csv column, title, scale) of every metric some run recorded:
    each edge's angle, and the accuracies in %."""
    edges = sorted({k.split(":")[0] for r in rows for k in r if k.endswith(":angle_deg")})
    metrics = [(f"symmetry/{e}/angle_deg", f"{e}:angle_deg", f"angle(W, Bᵀ) {e} (°)", 1.0)
               for e in edges]
    metrics += [("accuracy", "accuracy", "accuracy, training samples (%)", 100.0),
                ("evaluation/test_accuracy", "test_accuracy", "accuracy, held-out (%)", 100.0)]
    return [m for m in metrics if any(_has(tr, m[0], 1) for tr in traces)]


LINESTYLES = ("-", "--", ":", "-.")


def plot_sweep(out: str | Path, rows: list[dict], keys: list[str]) -> list[Path]:
    """Comparison figures of a sweep, from its finished runs only (interrupted, diverged and
    failed runs are left out and counted in the title): each metric over time per condition
    (mean, with a band from the smallest to the largest seed), and its final value against
    each swept parameter (mean, bars from the smallest to the largest seed). Accuracy is in %
    throughout; a metric no run recorded gets no panel."""
    out = Path(out)
    (out / PLOTS_DIR).mkdir(exist_ok=True)
    ok, note = finished_runs(rows)
    traces = {r["run_dir"]: load_traces(r["run_dir"]) for r in ok}
    metrics = sweep_metrics(rows, list(traces.values()))
    if not metrics:
        return []
    with plt.rc_context(STYLE):
        written = [_save(sweep_over_time(ok, traces, metrics, keys, note),
                         out / PLOTS_DIR / "over_time.png")]
        for key in keys:
            name = re.sub(r"[^A-Za-z0-9]+", "_", key).strip("_")
            written.append(_save(sweep_final_values(ok, metrics, keys, key, note),
                                 out / PLOTS_DIR / f"final_vs_{name}.png"))
    return written


def _condition(r: dict, over: list[str]) -> str:
    """A run's condition as a legend reads it: the swept keys ``over`` and their values."""
    return ", ".join(f"{k.split('.')[-1]}={r[k]}" for k in over) or "all"


def sweep_over_time(ok: list[dict], traces: dict, metrics: list, keys: list[str],
                    note: str) -> plt.Figure:
    """Each metric over time per condition: mean over seeds, band from min to max."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.4), squeeze=False)
    for ax, (key, _, title, scale) in zip(axes[0], metrics, strict=True):
        groups: dict[str, list[dict]] = {}
        for r in ok:
            if _has(traces[r["run_dir"]], key, 1):
                groups.setdefault(_condition(r, keys), []).append(traces[r["run_dir"]])
        for j, (name, trs) in enumerate(groups.items()):
            tkey = "t" if key.startswith("symmetry/") else "accuracy/t"
            n = min(len(tr[key]) for tr in trs)
            stack = scale * np.array([tr[key][:n] for tr in trs])
            # line styles differ, so conditions with equal curves stay visible
            line, = ax.plot(trs[0][tkey][:n], stack.mean(axis=0), lw=1.3,
                            ls=LINESTYLES[j % len(LINESTYLES)],
                            marker="o" if n < 30 else None, ms=3,
                            label=f"{name} ({len(trs)} seed{'s' * (len(trs) > 1)})")
            ax.fill_between(trs[0][tkey][:n], stack.min(axis=0), stack.max(axis=0),
                            alpha=0.2, color=line.get_color())
        ax.set(xlabel=TIME, title=title)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"Over time: mean over seeds, band = min to max{note}", fontsize=9)
    fig.tight_layout()
    return fig


def sweep_final_values(ok: list[dict], metrics: list, keys: list[str], key: str,
                       note: str) -> plt.Figure:
    """Each metric's final value against the swept ``key`` (one line per setting of the
    other keys): mean over seeds, bars from min to max."""
    others = [k for k in keys if k != key]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.4), squeeze=False)
    for ax, (_, col, title, scale) in zip(axes[0], metrics, strict=True):
        by_group: dict[str, dict] = {}
        for r in ok:
            if r.get(col) not in (None, ""):
                by_group.setdefault(_condition(r, others), {}).setdefault(
                    _number(r[key]), []).append(scale * float(r[col]))
        for name, points in by_group.items():
            xs = sorted(points, key=lambda v: (isinstance(v, str), v))
            mean = np.array([np.mean(points[x]) for x in xs])
            lo = mean - [min(points[x]) for x in xs]
            hi = [max(points[x]) for x in xs] - mean
            categorical = any(isinstance(x, str) for x in xs)
            ax.errorbar([str(x) for x in xs] if categorical else xs, mean,
                        yerr=[lo, hi], fmt="o-", ms=4, capsize=3, label=name)
            if not categorical:  # the swept values themselves, each readable
                ax.set_xticks(xs, [f"{x:g}" for x in xs], rotation=30, ha="right")
        ax.set(xlabel=key, ylabel="final value", title=title)
    if len(axes[0, 0].get_legend_handles_labels()[0]) > 1:
        axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"Final values: mean over seeds, bars = min to max{note}", fontsize=9)
    fig.tight_layout()
    return fig


def plot_forgetting(out: str | Path, rows: list[dict], report: dict) -> Path | None:
    """``plots/forgetting.png`` of a sweep over runs with data.tasks: each task's held-out
    error over training for each learner at its best setting (mean over seeds, band = min to
    max; dotted lines: task switches), and the mean test error over training of every
    setting of each learner (bars = min to max over seeds)."""
    learners = [(name, report[name]) for name in ("pc", "baseline") if name in report]
    if not learners:
        return None
    titles = {"pc": "PC network", "baseline": "backprop baseline"}
    prefixes = {"pc": "evaluation/", "baseline": "evaluation/baseline_"}
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(learners) + 1, figsize=(4.6 * (len(learners) + 1), 3.6),
                                 squeeze=False)
        for ax, (name, rep) in zip(axes[0], learners, strict=False):
            best = rep["settings"][rep["best"]]
            trs = [load_traces(d) for d in best["runs"]]
            draw_task_errors(ax, trs[0]["accuracy/t"], task_errors(trs, prefixes[name]),
                             trs[0].get("stimulus/task_onsets", np.zeros(1)))
            me = best["mean_error"]
            ax.set(title=f"{titles[name]}, {rep['best']}\nmean error {100 * me['mean']:.1f} % "
                         f"({len(trs)} seeds)")
            ax.title.set_fontsize(8)
            ax.legend(fontsize=7)
        ax = axes[0, -1]
        numeric = True
        for name, rep in learners:
            names = list(rep["settings"])
            values = [next(iter(rep["settings"][n]["params"].values()), n) for n in names]
            xs = [_number(v) for v in values]
            numeric = numeric and all(isinstance(x, float) for x in xs)
            xs = xs if numeric else list(range(len(names)))
            mean = np.array([100 * rep["settings"][n]["mean_error"]["mean"] for n in names])
            lo = mean - [100 * rep["settings"][n]["mean_error"]["min"] for n in names]
            hi = [100 * rep["settings"][n]["mean_error"]["max"] for n in names] - mean
            order = np.argsort(xs)
            ax.errorbar(np.asarray(xs)[order], mean[order], yerr=[lo[order], hi[order]],
                        fmt="o-", ms=4, capsize=3, label=titles[name])
        if numeric:
            ax.set_xscale("log")
        ax.set(xlabel="learning rate (each learner its own)",
               ylabel="mean held-out error over training (%)",
               title="every setting: mean over seeds, bars = min to max")
        ax.title.set_fontsize(8)
        ax.legend(fontsize=7)
        fig.tight_layout()
        return _save(fig, Path(out) / "plots" / "forgetting.png")


def _save(fig: plt.Figure, path: Path) -> Path:
    """Write to a temporary name, then rename: an interrupted write leaves no broken PNG."""
    tmp = path.with_name(f".{path.stem}.tmp.png")
    try:
        fig.savefig(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        plt.close(fig)
    return path


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return text

