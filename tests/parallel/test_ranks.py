"""One network over MPI processes (``run --ranks N``): the same run, bit for bit.

Each comparison runs a scenario through the whole pipeline (stimulus, recorder, evaluations,
run directory) on one process and on two (``mpiexec -n 2``), and requires every trace and
every summary entry except the wall time and the split's own report to be equal.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import asyncpc as ap
from asyncpc.engines import events
from asyncpc.engines.unit.partition import PartitionError, partition
from asyncpc.launch import run

pytest.importorskip("mpi4py")

CYCLE = """
[run]
name = "cycle"
description = "a learning cycle a -> b -> c -> a, constant delays, one observation"
seed = 5
duration = 30.0

[defaults]
tau_x = 0.1
dt = 0.01
theta = 0.001
settle = 0.01
jitter = 0.2

[populations.a]
n = 3
prior = 0.0
eta_bias = 0.02

[populations.b]
n = 4
activation = "tanh"

[populations.c]
n = 3

[[edges]]
source = "a"
target = "b"
eta_w = 0.05
eta_b = 0.05
delay = 0.05

[[edges]]
source = "b"
target = "c"
eta_w = 0.05
eta_b = 0.05
delay = 0.05

[[edges]]
source = "c"
target = "a"
eta_w = 0.05
eta_b = 0.05
delay = { dist = "uniform", low = 0.02, high = 0.1 }

[data]
kind = "values"
values = { c = [[1.0, -0.5, 0.25], [0.2, 0.4, -0.8]] }

[stimulus]
clamp = ["c"]
presentation = 5.0
epochs = 3

[record]
every = 0.5
raster = 100000
neurons = { a = [0, 1, 2], b = [0, 3] }
"""

# entries that describe how the run was made, not what it computed
HOW = {"wall_seconds", "mpi"}


def traces(run_dir: Path) -> dict[str, np.ndarray]:
    """Every array of a run directory's traces.npz (the file closed again)."""
    with np.load(run_dir / "traces.npz") as npz:
        return dict(npz)


def compare(one: Path, two: Path, ranks: int = 2) -> None:
    a, b = traces(one), traces(two)
    assert set(a) == set(b)
    for key in a:
        x, y = a[key], b[key]
        same = (np.array_equal(x, y, equal_nan=True) if x.dtype.kind in "fc"
                else np.array_equal(x, y))
        assert same, f"trace {key} differs between 1 and 2 processes"
    s1, s2 = (json.loads((d / "summary.json").read_text()) for d in (one, two))
    assert s2["network"].pop("ranks") == ranks and s1["network"].pop("ranks") == 1
    for key in (set(s1) | set(s2)) - HOW:
        assert s1.get(key) == s2.get(key), key
    assert s2["mpi"]["ranks"] == ranks
    assert s2["mpi"]["windows"] > 10 and s2["mpi"]["crossing_synapses"] > 0


@pytest.mark.parametrize(("name", "overrides"), [
    ("xor", ["stimulus.epochs=2", "evaluation.every=40"]),
    ("delays", ["stimulus.epochs=2", "evaluation.every=40"]),
    # constant delays: messages of many neurons arrive at the same instant, so the result
    # depends on the same-time ordering rule (a scheduling-order rule fails here)
    ("xor", ["stimulus.epochs=1", "edges.*.delay=0.01", "defaults.jitter=0",
             "record.raster=20000"]),
])
def test_two_ranks_equal_one(tmp_path, name, overrides):
    scenario = ap.load_scenario(name, overrides)
    run(scenario, out=tmp_path / "one", plots=False)
    result = run(scenario, out=tmp_path / "two", plots=False, ranks=2)
    assert result.network is None and result.summary["status"] == "ok"
    compare(tmp_path / "one", tmp_path / "two")


def test_cyclic_graph_on_two_and_three_ranks(tmp_path):
    path = tmp_path / "cycle.toml"
    path.write_text(CYCLE)
    scenario = ap.load_scenario(path)
    run(scenario, out=tmp_path / "one", plots=False)
    for ranks in (2, 3):
        run(scenario, out=tmp_path / f"r{ranks}", plots=False, ranks=ranks)
        compare(tmp_path / "one", tmp_path / f"r{ranks}", ranks)
    # negative control: the comparison sees a difference as small as another seed's
    run(ap.load_scenario(path, ["run.seed=6"]), out=tmp_path / "other", plots=False)
    with pytest.raises(AssertionError, match="differs"):
        compare(tmp_path / "one", tmp_path / "other", 1)


def test_partition_balances_synapses_and_keeps_populations_whole():
    graph = ap.load_scenario("digits", ["run.engine=unit"]).graph()
    p = partition(graph, 2, seed=0)
    # 64-32-10: columns of 'hidden' carry 64 + 10 synapses, of 'label' 32, of 'input' 32
    assert p.synapses.sum() == 2 * (64 * 32 + 32 * 10)
    assert p.imbalance < 1 + 74 / p.synapses.mean()  # within one column of the even split
    for name, owner in p.owner.items():
        assert np.all(np.diff(owner) >= 0), name  # contiguous blocks in canonical order
    # the lookahead is the shortest delay of a synapse whose two neurons are on different
    # ranks, here from the unit engine's own delays (W: target × source, B: source × target)
    net = ap.build_network(graph, engine="unit", seed=0)
    crossing = []
    for e in ("input->hidden", "hidden->label"):
        src, tgt = e.split("->")
        d_w, d_b = net.delays(e)
        cross = p.owner[tgt][:, None] != p.owner[src][None, :]
        crossing += [d_w[cross], d_b[cross.T]]
    assert p.lookahead == min(d.min() for d in crossing)
    assert p.crossing == sum(d.size for d in crossing)
    assert 0 < p.crossing < p.synapses.sum()  # the mask matters: some synapses stay local
    p4 = partition(graph, 4, seed=0)
    assert p4.imbalance < 1.1 and sorted(set(np.concatenate(list(p4.owner.values())))) == \
        [0, 1, 2, 3]


def test_partition_refuses_what_it_cannot_split():
    with pytest.raises(PartitionError, match="zero delay crosses"):
        partition(ap.load_scenario("bogacz_tutorial").graph(), 2, seed=0)
    with pytest.raises(PartitionError, match="cannot be split over more than 11"):
        partition(ap.load_scenario("xor").graph(), 12, seed=0)
    with pytest.raises(PartitionError, match="non-local"):
        partition(ap.load_scenario("xor", ["edges.*.rule=tied"]).graph(), 2, seed=0)
    # one rank has nothing to cross: any delay will do
    assert partition(ap.load_scenario("bogacz_tutorial").graph(), 1, seed=0).lookahead == np.inf


def cli(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "asyncpc", *args], capture_output=True,
                          text=True, **kw)


def test_cli_show_and_errors(tmp_path):
    shown = cli("show", "xor", "--ranks", "2")
    assert shown.returncode == 0
    # by hand: rank 0 holds input (2 columns, each with 8 B synapses from hidden) and hidden
    # 0-2 (each 2 W from input + 1 B from label): 16 + 9 = 25 of 48; crossing: 2 × 5 W and
    # 2 × 5 B between input and hidden 3-7, 3 W and 3 B between hidden 0-2 and label: 26
    assert ("split over 2 processes: window (lookahead) 0.00695989, 26 of 48 synapses"
            in shown.stdout)
    assert "rank 0: 25 synapses, 8 neurons (input[0:2], hidden[0:3])" in shown.stdout
    for args, message in [
        (("show", "bogacz_tutorial", "--ranks", "2"), "zero delay crosses"),
        (("run", "xor", "--ranks", "40", "--out", str(tmp_path / "x")), "more than 11"),
        (("run", "digits", "--ranks", "2", "--out", str(tmp_path / "d")),
         "run.engine = 'population'"),
        (("run", "xor", "--ranks", "0"), "expected a whole number ≥ 1"),
    ]:
        done = cli(*args)
        assert done.returncode == 2, args
        assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "x").exists()  # refused before anything was written


def test_divergence_is_reported_as_on_one_process(tmp_path):
    scenario = ap.load_scenario("xor", ["stimulus.epochs=1", "edges.*.eta_w=5e3",
                                        "edges.*.eta_b=5e3", "record.every=1"])
    one = run(scenario, out=tmp_path / "one", plots=False)
    two = run(scenario, out=tmp_path / "two", plots=False, ranks=2)
    assert one.summary["status"] == two.summary["status"] == "diverged"
    assert one.summary["message"] == two.summary["message"]
    assert one.summary["sim_time"] == two.summary["sim_time"]
    assert "population" in two.summary["message"]
    # what was recorded before the blow-up is the same; the other rank ran on to the end of
    # its window, so the states after it are not compared
    a, b = traces(tmp_path / "one"), traces(tmp_path / "two")
    for key in a:
        if not key.startswith("raster/"):
            assert np.array_equal(a[key], b[key], equal_nan=True), key
    assert np.array_equal(a["raster/t"], b["raster/t"][:a["raster/t"].size])
    done = cli("run", "xor", "--set", "stimulus.epochs=1", "--set", "edges.*.eta_w=5e3",
               "--set", "edges.*.eta_b=5e3", "--ranks", "2", "--out", str(tmp_path / "cli"),
               "--no-plots")
    assert done.returncode == 1 and "diverged: " in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "Abort" not in done.stderr


def test_interrupt_ends_at_a_window_and_writes_the_run(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "asyncpc", "run", "xor", "--ranks", "2",
                             "--out", str(out), "--quiet"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (out / "plots").exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(4.0)  # well into the run
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    s = json.loads((out / "summary.json").read_text())
    assert s["status"] == "interrupted" and 0 < s["sim_time"] < 24000
    t = traces(out)["t"]
    assert t[-1] <= s["sim_time"] and t.size > 1
    assert "interrupted by the user" in err


def test_messages_are_ordered_by_sender_not_by_scheduling():
    import simpy
    from simpy.events import Event
    env = simpy.Environment()
    seen = []
    chans = []
    for sender in (3, 1, 2):  # scheduled in this order, all for t = 1
        ch = type("Ch", (), {})()
        ch.head, ch.delay = Event(env), 1.0
        ch.head.callbacks.append(lambda ev, s=sender: seen.append(s))
        events.send_down(env, (ch,), 0.0, events.message_priority(sender, 10))
        chans.append(ch)
    local = env.timeout(1.0)  # a neuron's own event at the same time: after the messages
    local.callbacks.append(lambda ev: seen.append("local"))
    world = events.world_timeout(env, 1.0)  # the world: first
    world.callbacks.append(lambda ev: seen.append("world"))
    env.run()
    assert seen == ["world", 1, 2, 3, "local"]


def test_advance_stops_exactly_and_before_the_world():
    import simpy
    env = simpy.Environment()
    env.run(until=0.1)
    hits = []
    events.world_timeout(env, 1000.2 - 0.1).callbacks.append(lambda ev: hits.append(env.now))
    events.advance(env, 1000.2)
    assert env.now == 1000.2 and hits == []  # exactly until; nothing at until processed
    events.advance(env, 1000.3)
    assert len(hits) == 1


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_api_runs_without_an_out_directory():
    result = run(ap.load_scenario("xor", ["stimulus.epochs=1"]), ranks=2, plots=False)
    assert result.summary["status"] == "ok" and result.out is None and "t" in result.traces


def test_ranks_that_die_without_a_run_directory_are_an_error(tmp_path, monkeypatch, capsys):
    import asyncpc.mpi
    from asyncpc.cli import main
    monkeypatch.setattr(asyncpc.mpi, "mpiexec", lambda: "/bin/false")  # dies at once
    code = main(["run", "xor", "--ranks", "2", "--out", str(tmp_path / "x"), "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert "the run on 2 MPI processes failed (mpiexec exit code 1)" in err
