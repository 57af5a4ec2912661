"""Bad input and faults a user meets: each gets one clear message naming the file or flag, the
key and what was expected, and exit code 2 (never a traceback); a run killed at any moment
leaves a directory that --force recognises; a full disk is its own exit code (3) and leaves a
summary saying what is missing, never ``ok``, and no temporary files."""

import errno
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import TINY, to_toml

from asyncpc.cli import main

BASE = to_toml(TINY)

# (case, (text replaced, replacement), what the message must say)
SCENARIO_FAULTS = [
    ("nan delay", ("delay = 0.05", "delay = nan"), "edges.0.delay.value: expected a finite"),
    ("infinite delay bound", ("delay = 0.05", 'delay = {dist = "uniform", low = 0.0, high = inf}'),
     "edges.0.delay.high: expected a finite number"),
    ("a delay no message crosses", ("delay = 0.05", "delay = 1e12"),
     "edges.0.delay: every delay of this distribution exceeds the run's duration 16"),
    ("refresh below the step", ("seed = 0", "seed = 0\n[defaults]\nrefresh = 0.0"),
     "populations.input.refresh: expected a value ≥ dt = 0.05"),
    ("a population clamped twice", ('clamp = ["input", "label"]',
                                    'clamp = ["input", "label", "input"]'),
     "stimulus.clamp.2: 'input' is listed twice"),
    ("a dot in a population name", ("[populations.input]", '[populations."in.put"]'),
     "populations.in.put: expected a name without '.'"),
    ("zero epochs", ("epochs = 2", "epochs = 0"), "stimulus.epochs: 0 presents nothing"),
    ("a label going nowhere", ('kind = "xor"', 'kind = "xor"\nlabel = "nolabel"'),
     "data.label: no population named 'nolabel'"),
    ("years of presentation", ("presentation = 2.0", "presentation = 1e12"),
     "run.max_steps: this run would take up to 4.8e+14 clock steps"),
    ("a billion epochs", ("epochs = 2", "epochs = 1000000000"), "run.max_steps: this run"),
    ("a tiny step", ("seed = 0", "seed = 0\n[defaults]\ndt = 1e-9"), "run.max_steps: this run"),
    ("a 3-d array", ('kind = "xor"', 'kind = "file"\npath = "d3.npz"'),
     "data.keys.input: array 'input' has 3 dimensions; expected samples × values"),
    ("a corrupt archive", ('kind = "xor"', 'kind = "file"\npath = "corrupt.npz"'),
     "data.path: cannot load 'corrupt.npz': not a readable .npz archive"),
    ("a missing array", ('kind = "xor"', 'kind = "file"\npath = "ok.npz"\n'
                                         'keys = { input = "nope", label = "label" }'),
     "data.keys.input: no array 'nope' in ok.npz; it holds input, label"),
    ("csv columns that are not numbers", ('kind = "xor"',
                                          'kind = "file"\npath = "t.csv"\n'
                                          'keys = { input = "x", label = "2" }'),
     "data.keys.input: expected a column 'a' or a column slice 'a:b'"),
    ("fewer label rows than inputs", ('kind = "xor"',
                                      'kind = "values"\nvalues = { input = [[0.0, 1.0], '
                                      '[1.0, 0.0], [1.0, 1.0]], label = [[1.0]] }'),
     "data.values: expected the same number of samples for every population, got 3 for 'input',"
     " 1 for 'label'"),
]


@pytest.fixture
def files(tmp_path):
    np.savez(tmp_path / "d3.npz", input=np.zeros((4, 2, 2)), label=np.zeros((4, 1)))
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04garbage")
    np.savez(tmp_path / "ok.npz", input=np.zeros((4, 2)), label=np.zeros((4, 1)))
    (tmp_path / "t.csv").write_text("a,b,c\n1,2,3\n4,5,6\n")
    return tmp_path


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.mark.parametrize("case, change, expected", SCENARIO_FAULTS,
                         ids=[c[0] for c in SCENARIO_FAULTS])
def test_a_bad_scenario_is_one_clear_message(files, capsys, case, change, expected):
    assert change[0] in BASE
    path = files / "s.toml"
    path.write_text(BASE.replace(change[0], change[1], 1))
    code, _, err = cli(capsys, "validate", path)
    assert code == 2 and f"asyncpc: error: {path}: {expected}" in err, err


def test_the_base_scenario_of_these_cases_is_good(files, capsys):
    """The negative control of the cases above: unchanged, the file validates and runs."""
    path = files / "s.toml"
    path.write_text(BASE)
    assert cli(capsys, "validate", path)[0] == 0
    assert cli(capsys, "run", path, "--out", files / "run", "--quiet", "--no-plots")[0] == 0


def test_a_byte_order_mark_before_toml_is_accepted(tmp_path, capsys):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    assert cli(capsys, "validate", path)[0] == 0


@pytest.mark.parametrize("argv, expected", [
    (["validate", "{tmp}"], "{tmp}: is a directory; expected a scenario file"),
    (["validate", "{tmp}/" + "y" * 300 + ".toml"], "File name too long"),
    (["run", "xor", "--out", ""], "--out '': expected a directory path"),
    (["run", "xor", "--out", "{tmp}/" + "x" * 300], "cannot create the run directory: File name"),
    (["sweep", "xor", "--grid", "edges.*.lam=0,1e-4", "--out", "{tmp}/afile"],
     "--out {tmp}/afile: exists and is not a directory"),
    (["sweep", "xor", "--grid", "edges.*.lam=0,1e-4", "--grid", "edges.*.lam=1,2", "--out",
      "{tmp}/sweep"], "--grid edges.*.lam: given twice"),
    (["sweep", "xor", "--grid", "edges.*.lam=0", "--out", ""], "--out '': expected a directory"),
], ids=["validate a directory", "scenario name too long", "empty --out", "--out too long",
        "sweep --out a file", "one key in two --grid", "sweep empty --out"])
def test_bad_flags_are_one_clear_message(tmp_path, capsys, argv, expected):
    (tmp_path / "afile").write_text("")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, _, err = cli(capsys, *argv)
    assert code == 2 and expected.replace("{tmp}", str(tmp_path)) in err, err


def test_a_scheduler_without_the_cluster_extra_is_bad_input(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    code, _, err = cli(capsys, "sweep", "xor", "--grid", "edges.*.lam=0", "--out",
                       tmp_path / "s", "--scheduler", "tcp://127.0.0.1:1")
    assert code == 2 and "needs the cluster extra" in err, err


@pytest.mark.parametrize("broken", ["summary.json", "traces.npz"])
def test_plot_reports_a_corrupt_run_file(tmp_path, capsys, broken):
    out = tmp_path / "run"
    cli(capsys, "run", "xor", "--set", "stimulus.epochs=1", "--out", out, "--quiet",
        "--no-plots")
    (out / broken).write_text("{broken")
    code, _, err = cli(capsys, "plot", out)
    assert code == 2 and f"{out / broken}: cannot be read" in err, err


def test_a_killed_run_is_replaced_by_force(tmp_path):
    """SIGKILL (an out-of-memory killer, a cluster's hard limit) leaves the directory as it
    was at that moment; it is recognisable as a run directory from its first moment, so
    --force replaces it (it used to hold only an empty plots/, which --force refused)."""
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "asyncpc", "run", "xor", "--out", str(out),
                             "--quiet", "--no-plots"], start_new_session=True)
    deadline = time.time() + 60
    while not (out / ".asyncpc-run").exists() and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "summary.json").exists()  # killed before it finished
    again = subprocess.run([sys.executable, "-m", "asyncpc", "run", "xor", "--out", str(out),
                            "--quiet", "--no-plots", "--set", "stimulus.epochs=1"],
                           capture_output=True, text=True)
    assert again.returncode == 2 and "use --force" in again.stderr
    again = subprocess.run([sys.executable, "-m", "asyncpc", "run", "xor", "--out", str(out),
                            "--quiet", "--no-plots", "--force", "--set", "stimulus.epochs=1"],
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert json.loads((out / "summary.json").read_text())["status"] == "ok"


def test_a_full_disk_is_its_own_exit_code_and_leaves_no_temporary_file(tmp_path, capsys,
                                                                        monkeypatch):
    from asyncpc.runner import rundir
    original = rundir.atomic_write

    def full_for_traces(path, data):
        if path.name == "traces.npz":  # the disk fills while the traces are written
            with open(path.with_name(f".{path.name}.tmp"), "wb") as fh:
                fh.write(data[:10])
            try:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            finally:
                path.with_name(f".{path.name}.tmp").unlink()  # as atomic_write cleans up
        return original(path, data)

    monkeypatch.setattr(rundir, "atomic_write", full_for_traces)
    out = tmp_path / "run"
    code, _, err = cli(capsys, "run", "xor", "--set", "stimulus.epochs=1", "--out", out,
                       "--quiet")
    assert code == 3 and "could not write traces.npz" in err and "No space left" in err, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "incomplete" and summary["missing"] == ["traces.npz", "plots"]
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]


def test_a_failed_write_removes_its_temporary_file(tmp_path, monkeypatch):
    """atomic_write itself: the write fails half-way (a full disk), nothing is left behind
    and the earlier file is untouched."""
    from asyncpc.runner import atomic_write
    target = tmp_path / "summary.json"
    target.write_text("earlier")

    real_open = open

    def failing_open(path, mode="r", *a, **kw):
        fh = real_open(path, mode, *a, **kw)
        if "w" in mode:
            def write(_):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            fh.write = write
        return fh

    monkeypatch.setattr("builtins.open", failing_open)
    with pytest.raises(OSError):
        atomic_write(target, b"new")
    monkeypatch.undo()
    assert target.read_text() == "earlier"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_max_steps_refuses_and_yes_goes_on(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(BASE)
    code, _, err = cli(capsys, "run", path, "--set", "run.max_steps=100", "--out",
                       tmp_path / "a", "--quiet", "--no-plots")
    assert code == 2 and "run.max_steps: this run would take up to 960 clock steps" in err
    code, _, err = cli(capsys, "run", path, "--set", "run.max_steps=100", "--yes", "--out",
                       tmp_path / "b", "--no-plots")
    assert code == 0 and "estimate: up to 960 clock steps" in err, err


def test_the_top_level_help_is_plain_text(capsys):
    """--help is read in a terminal: no reStructuredText markup, and the exit codes listed."""
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "``" not in out and ":func:" not in out
    assert "3 results not written" in out and "2 bad input" in out


def test_expected_values_must_match_the_recorded_neurons(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(BASE + "[record]\nneurons = { label = [0] }\n"
                    "expected = { label = [1.0, 2.0] }\n")
    code, _, err = cli(capsys, "validate", path)
    assert code == 2 and "record.expected.label: expected one value per neuron" in err, err
