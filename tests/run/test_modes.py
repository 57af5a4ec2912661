"""The four ways users drive a network (SPEC §3): supervised and generative use are covered by
the scenario tests; here pattern completion and free relaxation, and the CLI's handling of an
interrupted run and of the neuron-level graph export."""

import json

import networkx as nx
import numpy as np

import asyncpc as ap
from asyncpc.cli import SCENARIO_DIR, main
from asyncpc.evaluation import evaluate
from asyncpc.stimulus import present

CHECKER = (np.add.outer(np.arange(4), np.arange(4)) % 2 == 0).ravel()  # every row/column: 2 + 2


def test_pattern_completion_fills_in_the_missing_half_of_a_bar():
    """Train bars, then clamp only the checkerboard's black pixels of each image (the white ones
    nan = free) with the label free. The label is inferred from half the evidence and the free
    pixels settle at the model's (linear, least-squares) completion: in every image each missing
    bar pixel is brighter than every free pixel off the bar. (The completion is graded, not
    binary — missing bar pixels settle near 0.5 — so the claim is the ranking.)"""
    result = ap.run(ap.load_scenario(SCENARIO_DIR / "bars.toml", ["evaluation.every=0.0"]))
    net = result.network
    data = ap.datasets.bars()
    for j in range(len(data)):
        image = data.arrays["input"][j].copy()
        partial = np.where(CHECKER, image, np.nan)
        copy = net.frozen_copy()
        present(copy, "image", partial)
        copy.run(10.0)
        free, truth = copy.x("image")[~CHECKER], image[~CHECKER]
        assert free[truth > 0.5].min() > free[truth < 0.5].max() + 0.1, j
    # negative control: an untrained network does not rank the missing pixels right
    untrained = ap.Network(net.graph, seed=net.seed, plastic=False)
    present(untrained, "image", np.where(CHECKER, data.arrays["input"][4], np.nan))
    untrained.run(10.0)
    free, truth = untrained.x("image")[~CHECKER], data.arrays["input"][4][~CHECKER]
    assert free[truth > 0.5].min() <= free[truth < 0.5].max() + 0.1


def test_free_relaxation_settles_at_the_prior(engine):
    """No clamp at all: every population relaxes to its prior, where F = 0."""
    pops = [ap.PopulationSpec("top", 2, prior=0.5, x0=-1.0, dt=0.02, settle=1e-8),
            ap.PopulationSpec("low", 3, x0=2.0, dt=0.02, settle=1e-8)]
    W = np.array([[1.0, 0.5], [-0.5, 1.0], [0.2, 0.3]])
    g = ap.build_graph(pops, [ap.EdgeSpec("top", "low", w_values=tuple(map(tuple, W)),
                                          rule="tied")])
    net = ap.build_network(g, engine=engine, seed=0)
    f0 = net.energy()[0]
    net.run(60.0)
    assert np.allclose(net.x("top"), 0.5, atol=1e-5)
    assert np.allclose(net.x("low"), W @ net.x("top"), atol=1e-5)
    assert net.energy()[0] < 1e-9 * f0


def test_evaluate_reads_from_a_frozen_copy_and_leaves_the_network_alone():
    result = ap.run(ap.load_scenario(SCENARIO_DIR / "bars.toml",
                                     ["stimulus.epochs=2", "evaluation.every=0.0"]))
    net = result.network
    before = (net.now, net.weights("label->image"), net.counters.delivered)
    evaluate(net, ap.datasets.bars().rename({"input": "image"}), clamp=["image"], read="label",
             settle=5.0)
    after = (net.now, net.weights("label->image"), net.counters.delivered)
    assert before[0] == after[0] and before[2] == after[2]
    assert all(np.array_equal(a, b) for a, b in zip(before[1], after[1], strict=True))


def test_interrupted_run_keeps_everything_recorded(tmp_path, monkeypatch, capsys):
    calls = {"n": 0}
    original = ap.Network.run

    def interrupt_after_a_while(self, until):
        calls["n"] += 1
        if calls["n"] == 20:
            raise KeyboardInterrupt
        original(self, until)

    monkeypatch.setattr(ap.Network, "run", interrupt_after_a_while)
    out = tmp_path / "run"
    code = main(["run", str(SCENARIO_DIR / "symmetry_kp.toml"), "--out", str(out), "--quiet"])
    assert code == 130
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted" and 0 < summary["sim_time"] < 400.0
    with np.load(out / "traces.npz", allow_pickle=False) as tr:
        assert tr["t"].size > 5
    assert "interrupted" in capsys.readouterr().err


def test_an_interrupted_run_stops_without_a_final_evaluation(tmp_path, monkeypatch):
    """Ctrl-C must end a run at once: the evaluation of every scored sample (and what the
    network generates) at the end of a finished run is skipped, so stopping costs writing
    the files only (a digits run took ~50 s to stop while it evaluated 1,797 digits)."""
    from asyncpc.recording import Recorder
    calls = {"run": 0, "evaluations": 0}
    original_run, original_eval = ap.Network.run, Recorder.record_accuracy

    def interrupt_after_a_while(self, until):
        calls["run"] += 1
        if calls["run"] == 120:
            raise KeyboardInterrupt
        original_run(self, until)

    def counted(self):
        calls["evaluations"] += 1
        return original_eval(self)

    monkeypatch.setattr(ap.Network, "run", interrupt_after_a_while)
    monkeypatch.setattr(Recorder, "record_accuracy", counted)
    out = tmp_path / "run"
    code = main(["run", str(SCENARIO_DIR / "bars.toml"), "--out", str(out), "--quiet",
                 "--no-plots"])
    assert code == 130
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted" and "generation" not in summary
    with np.load(out / "traces.npz", allow_pickle=False) as tr:
        recorded = tr["accuracy/t"]
    # every evaluation made was one of the periodic ones before the interruption
    assert calls["evaluations"] == recorded.size >= 1
    assert recorded[-1] < summary["sim_time"]


def test_show_exports_the_neuron_level_graph(tmp_path, capsys):
    path = tmp_path / "bogacz.graphml"
    assert main(["show", "bogacz_tutorial", "--graphml", str(path)]) == 0
    text = capsys.readouterr().out
    # v (prior) and u (predicted) both have error neurons: 2 × (x, ε); one W and one B synapse
    assert "neurons 4, synapses 2" in text
    g = nx.read_graphml(path)
    kinds = sorted(d["kind"] for _, _, d in g.edges(data=True))
    assert kinds == ["error", "local", "local", "local", "local", "prediction"]
