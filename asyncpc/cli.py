"""Command line: ``asyncpc VERB …`` (``python -m asyncpc`` is the same).

Bad input (a scenario that does not validate, a missing file, a non-empty output directory)
prints what is wrong, naming the file and key, and exits with code 2.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tomllib
import zipfile
from pathlib import Path

import networkx as nx
import numpy as np

from ._version import __version__
from .bench import main as bench_main
from .engines import build
from .files import SUMMARY, TRACES
from .launch import run
from .mpi import RanksFailed, check_split
from .plotting import PLOTS, plot_run
from .runner import WriteFailed, check
from .scenario import SCENARIO_DIR, ScenarioError, load, shipped_scenarios
from .scenario import find as find_scenario
from .sweep import run_sweep

__all__ = ["SCENARIO_DIR", "find_scenario", "main", "parser", "shipped_scenarios"]


#: exit code of a run or sweep whose results could not be written (a full disk); 2 is bad
#: input, 1 a diverged or failed run, 130 an interruption
WRITE_FAILED = 3


def writable(path: str, flag: str) -> Path:
    """``path`` if a file can be written there, else a :class:`ScenarioError` naming ``flag``
    (checked before any long computation)."""
    p = Path(path)
    existed = p.exists()
    try:
        with open(p, "a"):
            pass
    except OSError as exc:
        raise ScenarioError([f"{flag} {path}: cannot write there ({exc.strerror}); expected "
                             "a writable file path"]) from None
    if not existed:
        p.unlink()
    return p


def _terminate(signum, frame):
    """SIGTERM (a batch scheduler's time limit) ends a run like Ctrl-C: cleanly, with
    everything recorded so far written."""
    raise KeyboardInterrupt


def cmd_run(args) -> int:
    scenario = load(find_scenario(args.scenario), _overrides(args))
    if args.out is not None and not args.out.strip():
        raise ScenarioError(["--out '': expected a directory path"])
    out = Path(args.out) if args.out is not None else Path("runs") / scenario.name
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        result = run(scenario, out=out, progress=not args.quiet, plots=not args.no_plots,
                     force=args.force, ranks=args.ranks)
    except RanksFailed as exc:
        print(f"asyncpc: error: {exc}", file=sys.stderr)
        return 1
    except WriteFailed as exc:
        print(f"asyncpc: error: {exc}", file=sys.stderr)
        return WRITE_FAILED
    finally:
        signal.signal(signal.SIGTERM, previous)
    s = result.summary
    if not args.quiet:
        print(_report(s, out))
    if s["status"] != "ok":
        print(f"asyncpc: {s['message']}; everything recorded until then is in {out}",
              file=sys.stderr)
        return 130 if s["status"] == "interrupted" else 1
    return 0


def _overrides(args) -> list[str]:
    sets = list(args.set or [])
    if getattr(args, "seed", None) is not None:
        sets.append(f"run.seed={args.seed}")
    if getattr(args, "yes", False):
        sets.append("run.max_steps=1e308")  # recorded in the run's scenario.toml
    return sets


def _report(s: dict, out: Path) -> str:
    def g(v, spec=".4g"):  # JSON has no inf or NaN: a diverged run's numbers may be null
        return "inf/NaN" if v is None else format(v, spec)
    lines = [f"{s['scenario']} (seed {s['seed']}): {s['status']} at t = {s['sim_time']:g} "
             f"in {s['wall_seconds']:.1f} s",
             f"  energy {g(s['energy']['initial'])} -> {g(s['energy']['final'])}; "
             f"{s['events']['delivered']} messages delivered"
             + (f" ({s['messages_per_sample']:.0f} per sample)" if s["messages_per_sample"]
                else "")]
    if s["accuracy"]["train"] is not None:
        test = s["accuracy"]["test"]
        lines.append(f"  accuracy {100 * s['accuracy']['train']:.1f} % (training samples)"
                     + (f", {100 * test:.1f} % (held-out test samples)" if test is not None
                        else ""))
    for entry, name in (("baseline", "backprop baseline"), ("sync_pc", "synchronous PC")):
        if s.get(entry) and s[entry]["accuracy"]["train"] is not None:
            acc = s[entry]["accuracy"]
            lines.append(f"  {name} (eta {s[entry]['eta']:g}, {s[entry]['updates']} updates): "
                         f"{100 * acc['train']:.1f} % (training)"
                         + (f", {100 * acc['test']:.1f} % (held-out)" if acc["test"] is not None
                            else ""))
    if "generation" in s:
        lines.append(f"  generated from each label: mean absolute error "
                     f"{s['generation']['mean_abs_error']:.3g} against its pattern")
    states = [f"{name}[{k}] = {g(v, '.7g')}" for name, values in s.get("final_states", {}).items()
              for k, v in values.items()]
    if 0 < len(states) <= 4:
        lines.append("  final states: " + ", ".join(states))
    for name, m in s["symmetry"].items():
        flag = "  [non-local weight transport]" if m["nonlocal"] else ""
        lines.append(f"  {name} ({m['rule']}): angle(W, Bᵀ) {g(m['angle_deg'], '.2f')}°, "
                     f"‖W−Bᵀ‖/‖W‖ {g(m['rel_diff'], '.3g')}{flag}")
    lines.append(f"  run directory: {out}")
    return "\n".join(lines)


def cmd_plot(args) -> int:
    run_dir = Path(args.run_dir)
    if not (run_dir / TRACES).exists():
        raise ScenarioError([f"{run_dir}: not a run directory (no traces.npz)"])
    _readable_run(run_dir)
    for path in plot_run(run_dir, args.kind):
        print(path)
    return 0


def _readable_run(run_dir: Path) -> None:
    """The run directory's traces (and summary, if any) can be read, else a
    :class:`ScenarioError` naming the file."""
    try:
        with open(run_dir / TRACES, "rb") as fh, np.load(fh, allow_pickle=False) as npz:
            npz.files  # noqa: B018  (reads the archive's directory)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ScenarioError([f"{run_dir / 'traces.npz'}: cannot be read ({exc}); expected the "
                             "traces a run wrote (rerun it, or plot another run)"]) from None
    summary = run_dir / SUMMARY
    if summary.exists():
        try:
            json.loads(summary.read_text())
        except (OSError, ValueError) as exc:
            raise ScenarioError([f"{summary}: cannot be read ({exc}); expected the summary a "
                                 "run wrote"]) from None


def cmd_validate(args) -> int:
    scenario = load(find_scenario(args.scenario), args.set)
    check(scenario)  # everything run checks before simulating, data files included
    graph = scenario.graph()
    print(f"{scenario.path}: ok ({graph.number_of_nodes()} populations, "
          f"{graph.number_of_edges()} edges)")
    return 0


def cmd_show(args) -> int:
    scenario = load(find_scenario(args.scenario), args.set)
    split = _split_report(scenario, args.ranks) if args.ranks is not None else None
    net = build(scenario.graph(), engine=scenario.engine, seed=scenario.seed)
    print(f"{scenario.name}: {scenario.sections.run.description}")
    print(f"{'population':<12}{'n':>6}  {'activation':<11}{'σ²':>6}  errors  clamped by stimulus")
    clamped = set(scenario.sections.stimulus.clamp)
    for name in net.population_names:
        spec = net.spec(name)
        print(f"{name:<12}{spec.n:>6}  {spec.activation:<11}{spec.variance:>6g}  "
              f"{'yes' if net.has_errors(name) else 'no':<7} "
              f"{'yes' if name in clamped else 'no'}")
    for name in net.edge_names:
        flag = " (NON-LOCAL)" if net.nonlocal_feedback(name) else ""
        s = net.edge_spec(name)
        n_syn = 2 * net.spec(s.source).n * net.spec(s.target).n
        print(f"edge {name}: rule {s.rule}{flag}, eta_w {s.eta_w:g}, eta_b {s.feedback_eta:g}, "
              f"lam {s.lam:g}, synapses {n_syn}")
    print(f"engine {net.kind}: neurons {net.n_neurons}, synapses {net.n_synapses}, processes "
          f"{net.n_processes}, minimum delay {net.min_delay():g}")
    if args.graphml:
        nx.write_graphml(net.neuron_graph(), writable(args.graphml, "--graphml"))
        print(f"neuron-level graph written to {args.graphml}")
    if split is not None:
        print(split)
    return 0


def _split_report(scenario, ranks: int) -> str:
    """How ``run --ranks`` would split the network (or why it cannot)."""
    p = check_split(scenario, ranks)
    lines = [f"split over {ranks} processes: window (lookahead) {p.lookahead:g}, "
             f"{p.crossing} of {int(p.synapses.sum())} synapses cross between processes, "
             f"largest share {p.imbalance:.3f}× the mean"]
    for r in range(ranks):
        lines.append(f"  rank {r}: {int(p.synapses[r])} synapses, {int(p.neurons[r])} neurons "
                     f"({p.blocks[r]})")
    return "\n".join(lines)


def cmd_list(args) -> int:
    for path in shipped_scenarios():
        with open(path, "rb") as fh:
            desc = tomllib.load(fh).get("run", {}).get("description", "")
        print(f"{path.stem:<18} {desc}")
    return 0


def cmd_bench(args) -> int:
    target = writable(args.json, "--json") if args.json else None
    report = bench_main(quick=args.quick)
    if target is not None:
        target.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def cmd_sweep(args) -> int:
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        rows = run_sweep(find_scenario(args.scenario), args.grid or [], seeds=args.seeds,
                         workers=args.workers, out=args.out, progress=not args.quiet,
                         fixed=args.set or [], skip_failed=args.skip_failed,
                         scheduler=args.scheduler)
    except KeyboardInterrupt:
        print(f"asyncpc: sweep interrupted; finished runs are kept, the others are marked "
              f"interrupted in {Path(args.out) / 'sweep.csv'} and rerun next time",
              file=sys.stderr)
        return 130
    except OSError as exc:  # the sweep's own table or figures (each run's are its own)
        print(f"asyncpc: error: {args.out}: could not write the sweep's results "
              f"({exc.strerror or exc}); finished runs are kept and a rerun resumes",
              file=sys.stderr)
        return WRITE_FAILED
    finally:
        signal.signal(signal.SIGTERM, previous)
    ok = sum(r["status"] == "ok" for r in rows)
    print(f"{ok} of {len(rows)} runs ok; table: {Path(args.out) / 'sweep.csv'}")
    return 0 if ok == len(rows) else 1


def positive(text: str) -> int:
    """An argparse type: a whole number ≥ 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {text!r}")
    return value


class _Grid(argparse.Action):
    """``--grid``: a new axis of the grid (a list, so that ``--with`` can join it)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest) or []), [values]])


class _With(argparse.Action):
    """``--with``: joins the axis of the preceding ``--grid``."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        axes = getattr(namespace, self.dest) or []
        if not axes:
            parser.error("--with: expected a --grid before it to vary together with")
        axes[-1].append(values)


def sweep_parser(sub) -> None:
    sp = sub.add_parser("sweep", help="run a grid of parameter values × seeds in parallel")
    sp.add_argument("scenario", help="scenario file, or the name of a shipped scenario")
    sp.add_argument("--grid", action=_Grid, metavar="KEY.PATH=V1,V2,...",
                    help="values of one scenario key (repeatable: cross product)")
    sp.add_argument("--with", action=_With, dest="grid", metavar="KEY.PATH=W1,W2,...",
                    help="values that vary together with the preceding --grid, one for one "
                    "(not crossed)")
    sp.add_argument("--set", action="append", metavar="KEY.PATH=VALUE",
                    help="an override applied to every run (repeatable)")
    sp.add_argument("--seeds", type=positive, default=1, help="seeds 0..K-1 per condition")
    sp.add_argument("--workers", type=positive, default=2, help="parallel worker processes")
    sp.add_argument("--scheduler", metavar="ADDRESS",
                    help="run every run as a task on the Dask cluster whose scheduler is at "
                    "ADDRESS (e.g. tcp://host:8786; pip install 'asyncpc[cluster]'); "
                    "default: local worker processes (--workers)")
    sp.add_argument("--out", required=True, help="sweep directory (resumed if it exists)")
    sp.add_argument("--skip-failed", action="store_true",
                    help="on a rerun, keep failed runs as they are (default: retry them)")
    sp.add_argument("--quiet", action="store_true")
    sp.set_defaults(func=cmd_sweep)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="asyncpc", description="Asynchronous, event-driven predictive-coding networks. "
        "'python -m asyncpc' is the same command; 'asyncpc VERB --help' explains each verb.",
        epilog="exit codes: 0 ok, 1 diverged or failed, 2 bad input, 3 results not written "
               "(a full disk), 130 interrupted")
    p.add_argument("--version", action="version", version=f"asyncpc {__version__}")
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    def scenario_args(sp):
        sp.add_argument("scenario", help="scenario file, or the name of a shipped scenario")
        sp.add_argument("--set", action="append", metavar="KEY.PATH=VALUE",
                        help="override a scenario value (TOML syntax; repeatable)")

    sp = sub.add_parser("run", help="run a scenario and write a run directory")
    scenario_args(sp)
    sp.add_argument("--out", help="run directory (default: runs/NAME)")
    sp.add_argument("--seed", type=int, help="override run.seed")
    sp.add_argument("--force", action="store_true", help="overwrite a non-empty --out")
    sp.add_argument("--quiet", action="store_true", help="no progress display or report")
    sp.add_argument("--no-plots", action="store_true", help="do not draw the figures")
    sp.add_argument("--yes", action="store_true",
                    help="run even beyond run.max_steps (the work estimate's limit)")
    sp.add_argument("--ranks", type=positive, default=1, metavar="N",
                    help="split the network over N MPI processes (unit engine; needs "
                         "asyncpc[mpi]); the result equals the run on one, bit for bit")
    sp.set_defaults(func=cmd_run)

    sp = sub.add_parser("plot", help="draw the figures of a run directory")
    sp.add_argument("run_dir")
    sp.add_argument("--kind", action="append", choices=[*PLOTS, "generated"],
                    help="only these figures (repeatable)")
    sp.set_defaults(func=cmd_plot)

    sp = sub.add_parser("validate", help="check a scenario file and report every problem")
    scenario_args(sp)
    sp.set_defaults(func=cmd_validate)

    sp = sub.add_parser("show", help="populations, neuron and synapse counts, minimum delay")
    scenario_args(sp)
    sp.add_argument("--graphml", metavar="FILE", help="export the neuron-level graph")
    sp.add_argument("--ranks", type=positive, metavar="N",
                    help="also show how run --ranks N would split the network")
    sp.set_defaults(func=cmd_show)

    sp = sub.add_parser("list", help="the shipped scenarios, one line each")
    sp.set_defaults(func=cmd_list)

    sp = sub.add_parser("bench", help="engine speed against the SimPy floor on this machine")
    sp.add_argument("--quick", action="store_true", help="smaller workloads")
    sp.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    sp.set_defaults(func=cmd_bench)

    sweep_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except ScenarioError as exc:
        for line in exc.problems:
            print(f"asyncpc: error: {line}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
