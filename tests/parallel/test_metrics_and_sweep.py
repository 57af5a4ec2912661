"""Symmetry metrics against closed forms, and the sweep's table, failure handling and resume."""

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from asyncpc.metrics import angle_bound_deg, angle_deg, feedback_angle, symmetry
from asyncpc.sweep import condition_name, plan, run_sweep


def test_symmetry_metrics_match_closed_forms():
    W = np.array([[1.0, 0.0], [0.0, 1.0]])
    rot = np.radians(30.0)
    B = np.array([[np.cos(rot), -np.sin(rot)], [np.sin(rot), np.cos(rot)]]).T
    m = symmetry(W, B)
    # <W, Bᵀ> = 2 cos 30°, |W| = |B| = √2  ⇒  angle 30°
    assert m["angle_deg"] == pytest.approx(30.0, abs=1e-12)
    assert m["norm_w"] == pytest.approx(math.sqrt(2)) and m["norm_b"] == pytest.approx(
        math.sqrt(2))
    # ‖W − Bᵀ‖² = 2 · 2 (1 − cos 30°)
    assert m["norm_diff"] == pytest.approx(math.sqrt(4 * (1 - math.cos(rot))), rel=1e-12)
    assert m["rel_diff"] == pytest.approx(m["norm_diff"] / math.sqrt(2), rel=1e-12)
    same = symmetry(W * 3.0, 2.0 * W.T)
    assert same["angle_deg"] < 1e-12 and same["corr"] == pytest.approx(1.0)  # rounding of scaling
    assert symmetry(W, -W.T)["angle_deg"] == pytest.approx(180.0)


def test_feedback_angle_and_kolen_pollack_bound():
    W = np.array([[1.0, 2.0], [0.0, 1.0]])
    eps = np.array([1.0, -1.0])
    assert feedback_angle(W, W.T, eps) == 0.0
    assert feedback_angle(W, -W.T, eps) == pytest.approx(180.0)
    # orthogonal delivered error: Wᵀε = (1, 1), Bε = (1, −1)
    assert feedback_angle(W, np.array([[1.0, 0.0], [0.0, 1.0]]), eps) == pytest.approx(90.0)
    assert angle_bound_deg(0.5, 1.0, 0.2) == pytest.approx(30.0)
    assert angle_bound_deg(2.0, 1.0, 1.0) == 180.0
    assert math.isnan(angle_deg(np.zeros(3), np.ones(3)))


def test_sweep_plan_is_the_cross_product_times_seeds():
    grid = [("a.x", ["1", "2"]), ("b", ["p", "q", "r"])]
    points = plan(grid, 2)
    assert len(points) == 12
    assert points[0] == ({"a.x": "1", "b": "p"}, 0)
    assert condition_name({"a.x": "1", "b": "pq"}) == "a.x=1,b=pq"  # readable when it can be
    # values that differ only in characters a file name cannot keep still get their own
    # directories (they collided before)
    names = {condition_name({"b": v}) for v in ("p/q", "p_q", "p?q", "p q")}
    assert len(names) == 4 and all(n.startswith("b=p_q") for n in names)


def test_grid_values_keep_their_commas_inside_lists_tables_and_strings():
    from asyncpc.sweep import parse_grid
    grid = parse_grid(['record.neurons.h=[0, 1],[2]', 'edges.0.delay={dist = "uniform", '
                       'low = 0.1, high = 0.2},0.3', 'run.description="a, b",c'])
    assert grid[0][1] == ["[0, 1]", "[2]"]
    assert grid[1][1] == ['{dist = "uniform", low = 0.1, high = 0.2}', "0.3"]
    assert grid[2][1] == ['"a, b"', "c"]


SCEN = """
[run]
duration = 2.0
[populations.a]
n = 1
prior = 0.0
[populations.b]
n = 2
[[edges]]
source = "a"
target = "b"
eta_w = 0.1
b_init = { dist = "normal", std = 0.5 }
"""


def test_sweep_records_failures_and_resumes(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(SCEN)
    out = tmp_path / "sweep"
    # activation "nope" is invalid: those runs fail, the others still run
    rows = run_sweep(path, ["populations.b.activation=tanh,nope"], seeds=2, workers=2, out=out,
                     progress=False)
    status = [(r["populations.b.activation"], r["status"]) for r in rows]
    assert status == [("tanh", "ok"), ("tanh", "ok"), ("nope", "failed"), ("nope", "failed")]
    assert "activation" in rows[2]["message"]
    with open(out / "sweep.csv") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 4 and float(table[0]["a->b:angle_deg"]) > 0
    assert (out / "plots" / "over_time.png").exists()
    stamp = (out / "populations.b.activation=tanh" / "seed0" / "summary.json").stat().st_mtime
    run_sweep(path, ["populations.b.activation=tanh,nope"], seeds=2, workers=1, out=out,
              progress=False)
    assert (out / "populations.b.activation=tanh" / "seed0" / "summary.json").stat().st_mtime \
        == stamp


def test_correlation_of_entries_matches_its_definition():
    W = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 7.0]])
    B = np.array([[2.0, 1.0], [1.0, 3.0], [0.0, 9.0]])
    w, b = W.ravel(), B.T.ravel()
    expected = np.sum((w - w.mean()) * (b - b.mean())) / np.sqrt(
        np.sum((w - w.mean()) ** 2) * np.sum((b - b.mean()) ** 2))
    assert symmetry(W, B)["corr"] == pytest.approx(expected, rel=1e-12)


def test_fixed_overrides_apply_to_every_run_of_a_sweep(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(SCEN)
    rows = run_sweep(path, ["edges.0.eta_w=0.1,0.2"], seeds=1, workers=1, out=tmp_path / "sw",
                     progress=False, fixed=["run.duration=0.5", "edges.*.rule=tied"])
    for r in rows:
        s = json.loads((Path(r["run_dir"]) / "summary.json").read_text())
        assert s["sim_time"] == 0.5 and s["symmetry"]["a->b"]["rule"] == "tied"


def test_sweep_workers_pin_blas_to_one_thread():
    """pin_blas (the workers' initializer) really limits numpy's BLAS to one thread."""
    from concurrent.futures import ProcessPoolExecutor

    from asyncpc.workers import pin_blas
    with ProcessPoolExecutor(max_workers=1, initializer=pin_blas) as pool:
        threads = pool.submit(_blas_threads).result()
    assert threads and set(threads) == {1}


def _blas_threads():
    from threadpoolctl import threadpool_info
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


def test_a_rerun_retries_interrupted_and_failed_runs_and_keeps_finished_ones(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(SCEN)
    out = tmp_path / "sweep"
    marks = {0: "ok", 1: "interrupted", 2: "failed", 3: "diverged"}
    for seed, status in marks.items():
        d = out / "base" / f"seed{seed}"
        d.mkdir(parents=True)
        (d / "summary.json").write_text(json.dumps({"status": status, "marker": seed}))
    rows = run_sweep(path, [], seeds=4, workers=2, out=out, progress=False, skip_failed=True)
    kept = {s: json.loads((out / "base" / f"seed{s}" / "summary.json").read_text())
            for s in marks}
    assert [kept[s].get("marker") for s in range(4)] == [0, None, 2, 3]  # only seed 1 redone
    assert [r["status"] for r in rows] == ["ok", "ok", "failed", "diverged"]
    rows = run_sweep(path, [], seeds=4, workers=2, out=out, progress=False)  # failed: retried
    assert json.loads((out / "base" / "seed2" / "summary.json").read_text())["status"] == "ok"
    assert json.loads((out / "base" / "seed0" / "summary.json").read_text())["marker"] == 0


def test_one_rerun_finishes_runs_whose_workers_were_killed(tmp_path):
    """A worker killed mid-run (Ctrl-C on the sweep, an out-of-memory kill) leaves a run
    directory with only its marker and an empty plots/; one rerun of the sweep replaces it
    and finishes the run (it used to fail with "not a run directory")."""
    path = tmp_path / "s.toml"
    path.write_text(SCEN)
    out = tmp_path / "sweep"
    killed = out / "base" / "seed1"
    (killed / "plots").mkdir(parents=True)
    (killed / ".asyncpc-run").write_text("{}")
    rows = run_sweep(path, [], seeds=2, workers=1, out=out, progress=False)
    assert [r["status"] for r in rows] == ["ok", "ok"], rows
    assert json.loads((killed / "summary.json").read_text())["status"] == "ok"


def test_sigterm_stops_a_sweep_and_its_workers_within_seconds(tmp_path):
    import contextlib
    import os
    import signal
    import subprocess
    import sys
    import time
    out = tmp_path / "sweep-under-test"
    proc = subprocess.Popen([sys.executable, "-m", "asyncpc", "sweep", "xor", "--seeds", "3",
                             "--workers", "2", "--set", "stimulus.epochs=5000", "--out",
                             str(out), "--quiet"], stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        time.sleep(4.0)
        proc.send_signal(signal.SIGTERM)
        start = time.perf_counter()
        _, err = proc.communicate(timeout=60)
    finally:  # never leave a sweep running if the check fails
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert time.perf_counter() - start < 15.0
    assert proc.returncode == 130, err
    with open(out / "sweep.csv") as fh:
        assert [r["status"] for r in csv.DictReader(fh)] == ["interrupted"] * 3
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", str(out)], capture_output=True, text=True).stdout
    assert left == "", f"worker processes left behind: {left}"
