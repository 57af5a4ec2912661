"""Scenario validation: every problem reported at once, naming file, key path and expectation;
the CLI turns them into exit code 2 and never a traceback; the resolved scenario round-trips."""

import json
import subprocess
import sys

import numpy as np
import pytest

from asyncpc import scenario as sc
from asyncpc.cli import main

GOOD = """
[run]
seed = 1
duration = 2.0

[populations.a]
n = 2
prior = 0.0

[populations.b]
n = 3

[[edges]]
source = "a"
target = "b"
eta_w = 0.01
delay = { dist = "uniform", low = 0.25, high = 0.5 }
"""


def write(tmp_path, text, name="s.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_scenario_resolves_with_defaults(tmp_path):
    s = sc.load(write(tmp_path, GOOD))
    assert s.data["populations"]["b"]["activation"] == "linear"
    assert s.data["edges"][0]["rule"] == "hebbian"
    assert s.data["edges"][0]["w_init"] == {"dist": "normal", "value": 0.0, "low": 0.0,
                                            "high": 0.0, "mean": 0.0, "std": 0.1}
    graph = s.graph()
    assert list(graph.nodes) == ["a", "b"]


def test_resolved_scenario_round_trips(tmp_path):
    s = sc.load(write(tmp_path, GOOD))
    again = sc.load(write(tmp_path, sc.to_toml(s.data), "resolved.toml"))
    again.data["run"]["name"] = s.data["run"]["name"]
    assert again.data == s.data


def test_all_problems_are_reported_at_once_with_key_paths(tmp_path):
    bad = GOOD.replace("n = 3", "n = 0\nactivaton = \"tanh\"").replace(
        'target = "b"', 'target = "c"\nrule = "hebian"').replace("seed = 1", 'seed = "x"')
    with pytest.raises(sc.ScenarioError) as err:
        sc.load(write(tmp_path, bad))
    text = str(err.value)
    assert "populations.b.n: expected a value ≥ 1, got 0" in text
    assert "populations.b.activaton: unknown key (did you mean 'activation'?)" in text
    assert "edges.0.rule: expected one of hebbian, hebbian_raw, fixed, tied " \
           "(did you mean 'hebbian'?)" in text
    assert "edges.0.target: no population named 'c'" in text
    assert "run.seed: expected an integer, got 'x'" in text
    assert all(line.startswith(str(tmp_path / "s.toml")) for line in err.value.problems)
    assert len(err.value.problems) == 5


def test_overrides_apply_and_are_validated(tmp_path):
    s = sc.load(write(tmp_path, GOOD), ["edges.0.eta_w=0.5", "populations.a.activation=tanh"])
    assert s.data["edges"][0]["eta_w"] == 0.5
    assert s.data["populations"]["a"]["activation"] == "tanh"
    with pytest.raises(sc.ScenarioError) as err:
        sc.load(write(tmp_path, GOOD), ["edges.0.eta_w=-1", "nonsense"])
    assert any("edges.0.eta_w: expected a value ≥ 0" in p for p in err.value.problems)
    assert any("expected key.path=value" in p for p in err.value.problems)


def test_wildcard_overrides_reach_every_edge_and_population(tmp_path):
    text = GOOD + '\n[[edges]]\nsource = "b"\ntarget = "a"\n'
    s = sc.load(write(tmp_path, text), ["edges.*.rule=tied", "populations.*.theta=0.5"])
    assert [e["rule"] for e in s.data["edges"]] == ["tied", "tied"]
    assert {p["theta"] for p in s.data["populations"].values()} == {0.5}
    with pytest.raises(sc.ScenarioError) as err:
        sc.load(write(tmp_path, text), ["edges.7.rule=tied"])
    assert "not an index of a list of 2" in str(err.value)


def test_cli_reports_bad_scenario_with_exit_code_2(tmp_path, capsys):
    path = write(tmp_path, GOOD.replace("n = 3", "n = -3"))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "populations.b.n" in err and "Traceback" not in err
    assert main(["validate", str(tmp_path / "missing.toml")]) == 2
    assert main(["validate", "no_such_scenario"]) == 2
    assert "no shipped scenario of that name" in capsys.readouterr().err
    assert main(["validate", str(write(tmp_path, "this is = = not toml"))]) == 2


def test_run_directory_contract_and_no_overwrite(tmp_path):
    path = write(tmp_path, GOOD)
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    for name in ("scenario.toml", "summary.json", "traces.npz", "plots/energy.png"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    for key in ("scenario", "seed", "status", "sim_time", "wall_seconds", "events", "energy",
                "accuracy", "symmetry", "version"):
        assert key in summary
    assert summary["status"] == "ok" and summary["sim_time"] == 2.0
    assert set(summary["symmetry"]["a->b"]) >= {"angle_deg", "rel_diff", "norm_w", "norm_b"}
    with np.load(out / "traces.npz", allow_pickle=False) as tr:
        assert tr["t"][0] == 0.0 and "energy/b" in tr.files
    # a second run into the same directory is refused and nothing is lost
    before = (out / "summary.json").read_text()
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 2
    assert (out / "summary.json").read_text() == before
    assert main(["run", str(path), "--out", str(out), "--quiet", "--force", "--seed", "3"]) == 0
    assert json.loads((out / "summary.json").read_text())["seed"] == 3


def test_divergence_ends_the_run_cleanly(tmp_path, capsys):
    text = GOOD.replace("duration = 2.0", "duration = 50.0\nmax_energy = 1e3").replace(
        "eta_w = 0.01", "eta_w = 50.0\nw_init = { dist = \"normal\", std = 3.0 }")
    text += '\n[data]\nkind = "values"\nvalues = { b = [[5.0, -5.0, 5.0]] }\n' \
            '[stimulus]\nclamp = ["b"]\npresentation = 50.0\n'
    out = tmp_path / "run"
    code = main(["run", str(write(tmp_path, text)), "--out", str(out), "--quiet"])
    assert code == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "diverged"
    assert "at t =" in summary["message"] and "population" in summary["message"]
    assert "diverged" in capsys.readouterr().err


def test_python_m_and_console_script_agree():
    out = subprocess.run([sys.executable, "-m", "asyncpc", "list"], capture_output=True,
                         text=True, check=True).stdout
    assert "bogacz_tutorial" in out and "relaxation" in out


def test_data_files_load_from_npz_and_csv_without_pickles(tmp_path):
    from asyncpc import runner
    x = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([[1.0], [1.0], [0.0]])
    np.savez(tmp_path / "d.npz", inputs=x, targets=y)
    (tmp_path / "d.csv").write_text("a,b,y\n" + "\n".join(
        f"{r[0]},{r[1]},{t[0]}" for r, t in zip(x, y, strict=True)))
    base = GOOD.replace("n = 3", "n = 1").replace("n = 2\nprior", "n = 2\nprior")
    for data in ('kind = "file"\npath = "d.npz"\nkeys = { input = "inputs", label = "targets" }',
                 'kind = "file"\npath = "d.csv"\nkeys = { input = "0:2", label = "2:3" }'):
        text = base + f'\n[data]\n{data}\ninput = "a"\nlabel = "b"\n'
        s = sc.load(write(tmp_path, text))
        ds = runner.make_dataset(s)
        assert np.array_equal(ds.arrays["a"], x) and np.array_equal(ds.arrays["b"], y)
    np.savez(tmp_path / "p.npz", inputs=np.array([{"a": 1}] * 3, dtype=object), targets=y)
    text = base + '\n[data]\nkind = "file"\npath = "p.npz"\n' \
                  'keys = { input = "inputs", label = "targets" }\ninput = "a"\nlabel = "b"\n'
    with pytest.raises(sc.ScenarioError) as err:
        runner.make_dataset(sc.load(write(tmp_path, text)))
    assert "data.path" in str(err.value) and "pickle" in str(err.value).lower()


def test_clamping_a_population_the_data_does_not_provide_is_a_clear_error(tmp_path, capsys):
    text = GOOD + '\n[data]\nkind = "xor"\ninput = "a"\nlabel = "b"\n' \
        '[stimulus]\nclamp = ["a", "b"]\n[evaluation]\nclamp = ["a"]\nread = "a"\n'
    text = text.replace("n = 3", "n = 1")
    assert main(["run", str(write(tmp_path, text.replace('clamp = ["a", "b"]', 'clamp = ["b"]')
                                  .replace('input = "a"', 'input = "x"'))),
                 "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "data.input: no population named 'x'" in err
    path = write(tmp_path, text.replace('label = "b"', 'label = "label"'))
    assert main(["run", str(path), "--out", str(tmp_path / "r2"), "--quiet"]) == 2
    err = capsys.readouterr().err
    # the labels go to no population: the cause is named, not its consequence (b is missing)
    assert "data.label: no population named 'label'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("verb", ["run", "plot", "validate", "show", "list", "bench", "sweep"])
def test_every_verb_has_help(verb, capsys):
    with pytest.raises(SystemExit) as exc:
        main([verb, "--help"])
    assert exc.value.code == 0
    assert "usage: asyncpc" in capsys.readouterr().out


def test_teacher_task_reports_held_out_test_accuracy(tmp_path):
    """data.test_count samples come from the same teacher, are never presented, and are scored
    as accuracy.test; a network that has not learned scores no better on them."""
    text = """
[run]
seed = 0
[populations.input]
n = 3
[populations.output]
n = 1
prior = 0.0
eta_bias = 0.05
[[edges]]
source = "input"
target = "output"
eta_w = 0.05
[data]
kind = "teacher"
count = 12
test_count = 6
n_in = 3
n_hidden = 1
n_out = 1
label = "output"
[stimulus]
clamp = ["input", "output"]
presentation = 10.0
epochs = 20
[evaluation]
every = 600.0
clamp = ["input"]
read = "output"
readout = "values"
"""
    from asyncpc import runner
    result = runner.run(sc.load(write(tmp_path, text)))
    s = result.summary
    assert s["samples_presented"] == 12 * 20
    assert s["accuracy"]["test"] is not None and s["accuracy"]["test"] >= 0.5
    assert result.traces["evaluation/test_accuracy"].shape == result.traces["accuracy"].shape
    untrained = runner.run(sc.load(write(tmp_path, text.replace("epochs = 20", "epochs = 0")
                                         .replace("[run]", "[run]\nduration = 1.0"))))
    assert untrained.summary["accuracy"]["test"] < s["accuracy"]["test"]


def test_an_unstable_integration_step_is_rejected_before_running(tmp_path, capsys):
    """dt above variance·tau_x (here 0.15 against tau_x 0.1) is bad input, not a blow-up."""
    text = GOOD.replace("n = 3", "n = 3\ntau_x = 0.1\ndt = 0.15")
    code = main(["validate", str(write(tmp_path, text))])
    err = capsys.readouterr().err
    assert code == 2
    assert "populations.b.dt: expected dt·(1 + jitter) ≤ variance·tau_x = 0.1" in err
    assert main(["validate", str(write(tmp_path, text.replace("dt = 0.15", "dt = 0.05")))]) == 0
    # jitter stretches the longest step
    jittered = text.replace("dt = 0.15", "dt = 0.08\njitter = 0.5")
    assert main(["validate", str(write(tmp_path, jittered))]) == 2


@pytest.mark.parametrize("argv", [
    ["run", "bogacz_tutorial", "--out", "/proc/asyncpc-run", "--quiet"],
    ["show", "bogacz_tutorial", "--graphml", "/proc/asyncpc.graphml"],
    ["bench", "--quick", "--json", "/nonexistent-dir/bench.json"],
])
def test_unwritable_output_paths_are_bad_input_not_tracebacks(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("asyncpc: error: --") and "Traceback" not in err


def test_sweep_rejects_zero_seeds_and_workers(capsys):
    for flag in ("--seeds", "--workers"):
        with pytest.raises(SystemExit) as info:
            main(["sweep", "bogacz_tutorial", flag, "0", "--out", "unused"])
        assert info.value.code == 2
        assert f"argument {flag}: expected a whole number ≥ 1, got '0'" in capsys.readouterr().err


def test_force_replaces_the_whole_previous_run_directory_and_nothing_else(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "bogacz_tutorial", "--out", str(out), "--quiet", "--no-plots"]) == 0
    (out / "generated.npz").write_bytes(b"left over from an earlier run")
    assert main(["run", "bogacz_tutorial", "--out", str(out), "--quiet", "--no-plots",
                 "--force"]) == 0
    assert not (out / "generated.npz").exists() and (out / "summary.json").exists()
    # a directory that is not a run directory is never deleted, even with --force
    other = tmp_path / "papers"
    other.mkdir()
    (other / "draft.tex").write_text("keep me")
    assert main(["run", "bogacz_tutorial", "--out", str(other), "--quiet", "--force"]) == 2
    assert (other / "draft.tex").read_text() == "keep me"
    assert "not a run directory" in capsys.readouterr().err


def test_argmax_over_a_single_neuron_is_rejected(tmp_path):
    """argmax of one neuron is always index 0: it would report 100 % with no learning."""
    text = GOOD + ('\n[data]\nkind = "values"\nvalues = { a = [[1.0, 0.0]], b = [[1.0, 0.0, 1.0]] }'
                   '\n[evaluation]\nclamp = ["b"]\nread = "a"\nreadout = "argmax"\n')
    sc.load(write(tmp_path, text))  # two neurons: fine
    one = text.replace("[populations.a]\nn = 2", "[populations.a]\nn = 1").replace(
        "a = [[1.0, 0.0]]", "a = [[1.0]]")
    with pytest.raises(sc.ScenarioError, match="evaluation.readout: argmax over the single"):
        sc.load(write(tmp_path, one))


def test_sigterm_ends_a_run_cleanly_with_everything_recorded(tmp_path):
    """What a batch scheduler sends at its time limit: status interrupted, files written."""
    import contextlib
    import os
    import signal
    import time
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "asyncpc", "run", "xor", "--out", str(out),
                             "--quiet", "--no-plots", "--set", "stimulus.epochs=2000"],
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        time.sleep(4.0)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:  # never leave a run going if the check fails
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["sim_time"] > 0
    assert (out / "traces.npz").exists()


def test_set_cannot_invent_a_population_by_a_typo(tmp_path, capsys):
    """A typo in --set used to add an unconnected population; a sweep over it varied nothing."""
    path = write(tmp_path, GOOD)
    with pytest.raises(sc.ScenarioError, match=r"--set populations\.bb\.n: no population "
                                               r"named 'bb' \(did you mean 'b'\?\)"):
        sc.load(path, ["populations.bb.n=16"])
    assert sc.load(path, ["populations.b.n=16"]).data["populations"]["b"]["n"] == 16
    assert sc.load(path, ["populations.*.theta=0.1"]).data["populations"]["a"]["theta"] == 0.1


@pytest.mark.parametrize(("data", "message"), [
    ('kind = "file"\ninput = "b"\npath = "missing.npz"', "data.path: cannot load"),
    ('kind = "file"\ninput = "b"\npath = "empty.csv"\nkeys = { b = "0:3" }', "no rows"),
    ('kind = "file"\ninput = "b"\npath = "inf.csv"\nkeys = { b = "0:3" }', "infinities"),
    ('kind = "values"\nvalues = { b = [[1.0, 2.0, 3.0]] }', "stimulus.epochs: 0 presents nothing"),
])
def test_validate_checks_what_run_checks_including_data_files(tmp_path, capsys, data, message):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "inf.csv").write_text("1,2,inf\n")
    text = GOOD.replace("duration = 2.0\n", "") + f"\n[data]\n{data}\n" \
        '[stimulus]\nclamp = ["b"]\nepochs = 0\n'
    path = write(tmp_path, text)
    for verb in (["validate", str(path)], ["run", str(path), "--out", str(tmp_path / "r")]):
        assert main(verb) == 2, verb
        assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # nothing was created for a run that cannot start


def test_a_network_too_large_for_the_machine_is_refused_before_building(tmp_path, capsys):
    """n = 10⁹ used to validate and then hang `show` and `run`; now every verb refuses it at
    once with the estimate, and run.max_memory_gb raises the limit knowingly."""
    huge = write(tmp_path, GOOD.replace("[populations.b]\nn = 3",
                                        "[populations.b]\nn = 1000000000"))
    for verb in ("validate", "show", "run"):
        assert main([verb, str(huge)] + (["--out", str(tmp_path / "r")] if verb == "run"
                                          else [])) == 2
        err = capsys.readouterr().err
        assert "populations: the network has 4,000,000,000 synapses" in err
        assert "run.max_memory_gb = 8 GB" in err
    medium = GOOD.replace("[populations.b]\nn = 3", "[populations.b]\nn = 2000000")
    with pytest.raises(sc.ScenarioError, match="max_memory_gb"):
        sc.load(write(tmp_path, medium))  # 8 million synapses: ~28 GB on the unit engine
    sc.load(write(tmp_path, medium), ["run.engine=population"])  # ~2 GB: fine
    sc.load(write(tmp_path, medium), ["run.max_memory_gb=30"])  # raised knowingly


def test_normal_delays_that_would_be_clipped_are_rejected(tmp_path):
    text = GOOD.replace('delay = { dist = "uniform", low = 0.25, high = 0.5 }',
                        'delay = { dist = "normal", mean = 0.05, std = 0.1 }')
    with pytest.raises(sc.ScenarioError, match=r"edges\.0\.delay: a normal delay distribution "
                                               r"with mean 0\.05 and std 0\.1 draws 30\.9 %"):
        sc.load(write(tmp_path, text))
    sc.load(write(tmp_path, text.replace("std = 0.1", "std = 0.015")))  # 0.04 % below 0


def test_a_blow_up_prints_one_clean_message_and_no_numpy_warnings(tmp_path):
    """dt at the stability limit with a strong coupling: the run diverges; stderr holds the
    clean message only (no RuntimeWarning with file paths before it)."""
    text = GOOD.replace("duration = 2.0", "duration = 200.0").replace(
        "eta_w = 0.01", "eta_w = 0.0\nw_values = [[40.0, -40.0], [40.0, 40.0], [-40.0, 40.0]]")
    text = text.replace("[populations.a]\nn = 2", "[populations.a]\nn = 2\ndt = 0.9")
    text += '\n[data]\nkind = "values"\nvalues = { b = [[5.0, -5.0, 5.0]] }\n' \
            '[stimulus]\nclamp = ["b"]\npresentation = 200.0\n'
    proc = subprocess.run([sys.executable, "-W", "default", "-m", "asyncpc", "run",
                           str(write(tmp_path, text)), "--out", str(tmp_path / "r"), "--quiet",
                           "--no-plots"], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert "Warning" not in proc.stderr and "Traceback" not in proc.stderr
    assert "diverged: " in proc.stderr and "at t = " in proc.stderr
    assert "in population '" in proc.stderr or "of population '" in proc.stderr


def test_the_printed_report_shows_each_scenarios_headline_number(tmp_path, capsys):
    """bogacz_tutorial promises φ = 1.5675: the report prints the settled state."""
    assert main(["run", "bogacz_tutorial", "--out", str(tmp_path / "b"), "--no-plots"]) == 0
    assert "final states: v[0] = 1.567468" in capsys.readouterr().out
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["final_states"]["v"]["0"] == pytest.approx(1.5674684, abs=1e-6)


def test_world_sections_are_typed_frozen_declarations():
    """[run], [data], [stimulus], [evaluation] and [record] resolve to frozen dataclasses whose
    fields are the schema's keys, filled with the file's values and the defaults."""
    import dataclasses

    from asyncpc import sections
    s = sc.load("xor", ["stimulus.presentation=7.5", "record.zoom=2"])
    sec = s.sections
    assert isinstance(sec.stimulus, sections.StimulusSection)
    assert sec.stimulus.presentation == 7.5 and sec.record.zoom == 2
    assert sec.run.seed == s.seed and sec.data.kind == "xor"
    assert sec.evaluation.readout == s.data["evaluation"]["readout"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        sec.stimulus.presentation = 1.0
    for name, section in sections.SECTION_TYPES.items():
        assert list(sc.SECTIONS[name]) == [f.name for f in dataclasses.fields(section)]
        assert dataclasses.asdict(getattr(sec, name)) == s.data[name]
