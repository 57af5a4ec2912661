"""Continual learning: tasks split from a labelled data set, the alternating schedule, the
forgetting measures, and the split_digits pipeline for the PC network and its baseline."""

import json

import numpy as np
import pytest

from asyncpc import runner
from asyncpc import scenario as sc
from asyncpc.datasets import Dataset, one_hot, split_tasks
from asyncpc.metrics import forgetting
from asyncpc.sweep import forgetting_report, parse_axes, plan


def test_tasks_keep_their_classes_and_code_each_by_its_position_in_its_task():
    classes = np.array([0, 5, 9, 3, 7, 2, 8])
    ds = Dataset("d", {"input": classes[:, None].astype(float), "label": one_hot(classes, 10)})
    split = split_tasks(ds, [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]])
    assert split.task.tolist() == [0, 1, 1, 0, 1, 0, 1]
    assert split.arrays["label"].shape == (7, 5)
    assert split.arrays["label"].argmax(axis=1).tolist() == (classes % 5).tolist()
    # any grouping: unlisted classes are dropped, positions follow the lists' order
    other = split_tasks(ds, [[9, 3], [0]], low=-1.0, high=1.0)
    assert other.arrays["input"][:, 0].tolist() == [0.0, 9.0, 3.0]
    assert other.task.tolist() == [1, 0, 0]
    assert other.arrays["label"].tolist() == [[1, -1], [1, -1], [-1, 1]]
    assert other.of_task(0).arrays["input"][:, 0].tolist() == [9.0, 3.0]
    assert other.head(2).task.tolist() == [1, 0]


def test_forgetting_measures_from_a_hand_made_record():
    # tasks A (0) and B (1) alternate at t = 0, 10, 20; evaluations at 0, 5, 10, 15, 20, 25
    t = np.array([0.0, 5.0, 10.0, 15.0, 20.0, 25.0])
    errors = np.array([[0.8, 0.4, 0.2, 0.5, 0.6, 0.3],    # A learns, is disturbed by B
                       [0.8, 0.8, 0.8, 0.3, 0.1, 0.2]])   # B
    f = forgetting(t, errors, np.array([0.0, 10.0, 20.0]), np.array([0, 1, 0]))
    # switch at 10 (A rests): A from 0.2 (t = 10) to 0.5 (t = 15); at 20 (B rests): 0.1 → 0.2
    assert f["interference_per_switch"] == pytest.approx([0.3, 0.1])
    assert f["interference"] == pytest.approx(0.2) and f["interference_max"] == pytest.approx(0.3)
    assert f["mean_error"] == pytest.approx(errors.mean())
    assert f["final_error"] == pytest.approx(0.25)
    assert f["final_error_per_task"] == pytest.approx([0.3, 0.2])
    # negative control: the same task again is not a switch
    same = forgetting(t, errors, np.array([0.0, 10.0]), np.array([0, 0]))
    assert same["interference_per_switch"] == [] and np.isnan(same["interference"])


def small(*extra):
    return sc.load("split_digits", ["data.train_count=240", "data.test_count=120",
                                    "stimulus.rounds=2", "stimulus.presentation=0.2",
                                    "evaluation.every=24", "evaluation.train_count=10",
                                    "evaluation.settle=0.5", "baseline.eta=0.1", *extra])


def test_the_stimulus_alternates_between_the_tasks_one_turn_each():
    s = small()
    exp = runner.build_experiment(s)
    data = exp.dataset
    seen = []
    present = exp.stimulus.present
    exp.stimulus.present = lambda sample: (seen.append(sample), present(sample))[1]
    exp.recorder.evaluate = None  # the schedule only
    exp.stimulus.on_task = None
    exp.net.run(exp.duration)
    rows = {tuple(x): j for j, x in enumerate(data.arrays["input"])}
    index = np.array([rows[tuple(sample["input"])] for sample in seen])
    n = [int((data.task == k).sum()) for k in range(2)]
    assert len(index) == 2 * len(data) and min(n) > 20
    turns = np.split(index, np.cumsum([n[0], n[1], n[0]]))
    for j, turn in enumerate(turns):  # A, B, A, B: each turn every sample of its task once
        assert sorted(turn) == sorted(np.flatnonzero(data.task == j % 2)), j
    assert not np.array_equal(turns[0], turns[2])  # shuffled anew each turn
    presentation = s.sections.stimulus.presentation
    times, tasks = zip(*exp.stimulus.task_onsets, strict=True)
    assert tasks == (0, 1, 0, 1)
    assert times == pytest.approx([0.0, n[0] * presentation, len(data) * presentation,
                                   (len(data) + n[0]) * presentation], abs=1e-9)


def test_split_digits_records_each_tasks_error_for_both_learners_and_the_switches_show():
    result = runner.run(small(), plots=False)
    tr, s = result.traces, result.summary
    assert s["status"] == "ok"
    t, onsets = tr["accuracy/t"], tr["stimulus/task_onsets"]
    assert tr["stimulus/task"].tolist() == [0, 1, 0, 1]
    assert set(onsets) <= set(t)  # an evaluation at every switch ...
    starts = np.searchsorted(t, onsets)
    after = np.minimum(onsets + 24.0, np.append(onsets[1:], s["sim_time"]))
    assert t[starts + 1] == pytest.approx(after)  # ... and `every` after it (or the next one)
    for learner in ("", "baseline_"):
        for k in (1, 2):
            assert len(tr[f"evaluation/{learner}task{k}_test_accuracy"]) == len(t)
    # the per-task scores are the test score split by task (the halves weigh by their sizes)
    test = runner.make_datasets(small())[1]
    share = np.mean(test.task == 0)
    both = share * tr["evaluation/task1_test_accuracy"] + \
        (1 - share) * tr["evaluation/task2_test_accuracy"]
    assert both == pytest.approx(tr["evaluation/test_accuracy"])
    # once it has learned (the first turn starts from small weights), the baseline loses in
    # each turn what it learned in the one before: the interference (measured +0.22, +0.56)
    for j in (2, 3):
        resting = int(tr["stimulus/task"][j - 1]) + 1
        err = 1 - tr[f"evaluation/baseline_task{resting}_test_accuracy"]
        assert err[starts[j] + 1] > err[starts[j]] + 0.1, (j, err)
    for learner in ("pc", "baseline"):
        f = s["tasks"][learner]
        assert len(f["interference_per_switch"]) == 3
        assert 0.0 <= f["mean_error"] <= 1.0
    assert s["tasks"]["baseline"]["interference"] > 0.05
    assert s["tasks"]["switches"] == onsets[1:].tolist()
    # the run's figure: each task's error for both learners, the switches marked
    from asyncpc.plotting import plot_tasks
    fig = plot_tasks(tr)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert labels == ["task 1, PC network", "task 2, PC network", "task 1, backprop",
                      "task 2, backprop"]
    assert ax.get_lines()[0].get_ydata() == pytest.approx(
        100 * (1 - tr["evaluation/task1_test_accuracy"]))


def test_data_tasks_are_checked():
    problems = {
        "data.kind=xor": "data.tasks: tasks split classes",
        "data.tasks=[[0, 1], [1, 2]]": "data.tasks: expected tasks that share no class",
        "data.tasks=[[0, 12]]": "data.tasks: expected classes 0 to 9",
        "data.tasks=[[0, 1, 2], [3]]": "populations.label.n: the tasks' label head has 3",
        "data.tasks=[[]]": "a list of tasks, each a non-empty list",
    }
    for override, message in problems.items():
        with pytest.raises(sc.ScenarioError, match=message.replace("[", r"\[")):
            sc.load("split_digits", [override])


def test_with_pairs_values_instead_of_crossing_them():
    axes = parse_axes([["a=1,2,3", "b=x,y,z"], "c=p,q"])
    points = plan(axes, 2)
    assert len(points) == 3 * 2 * 2
    assert {tuple(sorted(p.items())) for p, _ in points} == {
        (("a", a), ("b", b), ("c", c)) for a, b in zip("123", "xyz", strict=True) for c in "pq"}
    with pytest.raises(sc.ScenarioError, match="same number of values"):
        parse_axes([["a=1,2", "b=x"]])


def test_the_forgetting_report_picks_each_learners_own_best_setting(tmp_path):
    rows = []
    for lr, blr, pc, bp in (("0.1", "1", 0.5, 0.2), ("0.2", "2", 0.3, 0.4)):
        for seed, d in ((0, -0.01), (1, 0.01)):
            rows.append({"edges.*.eta_w": lr, "baseline.eta": blr, "seed": seed,
                         "status": "ok", "run_dir": f"r{lr}{seed}",
                         **{f"pc:{m}": pc + d for m in ("mean_error", "interference",
                                                         "interference_max", "final_error")},
                         **{f"baseline:{m}": bp + d for m in ("mean_error", "interference",
                                                               "interference_max",
                                                               "final_error")}})
    rows.append({**rows[0], "status": "interrupted", "pc:mean_error": 0.0})  # left out
    report = forgetting_report(rows, ["edges.*.eta_w", "baseline.eta"])
    assert report["pc"]["best"] == "edges.*.eta_w=0.2"
    assert report["baseline"]["best"] == "baseline.eta=1"
    best = report["pc"]["settings"]["edges.*.eta_w=0.2"]["mean_error"]
    assert best == pytest.approx({"mean": 0.3, "min": 0.29, "max": 0.31, "seeds": 2})
    json.dumps(report)  # written as forgetting.json
