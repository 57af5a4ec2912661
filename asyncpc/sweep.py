"""``asyncpc sweep``: many runs of one scenario in parallel, one table, comparison plots.

The grid is the cross product of every ``--grid key.path=v1,v2,…`` and the seeds
``0 … K−1``; a ``--with key.path=w1,w2,…`` right after a ``--grid`` varies together with it,
value for value, instead of multiplying the grid (e.g. each learner's own learning rate in a
run that trains the network and its backprop baseline side by side). Each run is a normal run
directory ``OUT/<condition>/seed<S>``; ``OUT/sweep.csv`` has a row per run (parameters, seed,
status, accuracy, final symmetry metrics per edge, forgetting measures of task runs, wall
time) and ``OUT/plots`` the comparison figures; task runs (data.tasks) add
``OUT/forgetting.json``, each learner's measures per setting over seeds and its best setting.
A run that fails or diverges is recorded as such and the others go on. Running the same sweep
into the same directory again resumes it: runs that finished (ok or diverged) are read back,
interrupted and failed runs are run again (``--skip-failed`` keeps failed ones). Ctrl-C or
SIGTERM stops the sweep and its worker processes within seconds, keeps every finished run and
marks the others ``interrupted``. Worker processes use one BLAS thread each.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import multiprocessing
import re
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .cluster import run_on_cluster
from .files import SUMMARY
from .plotting import plot_forgetting, plot_sweep
from .runner import atomic_write, prepare_out
from .scenario import ScenarioError, load
from .workers import run_task, worker_init


def parse_grid(items: list[str]) -> list[tuple[str, list[str]]]:
    grid = []
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key or not values:
            raise ScenarioError([f"--grid {item!r}: expected key.path=v1,v2,..."])
        grid.append((key.strip(), [v.strip() for v in split_values(values) if v.strip()]))
    return grid


def parse_axes(items: list[str | list[str]]) -> list[list[tuple[str, list[str]]]]:
    """The axes of the grid: each item is one ``--grid`` (a string) or a ``--grid`` followed
    by its ``--with`` keys (a list of strings, all with the same number of values)."""
    axes, seen = [], set()
    for item in items:
        axis = parse_grid([item] if isinstance(item, str) else list(item))
        for key, _ in axis:
            if key in seen:
                raise ScenarioError([f"--grid {key}: given twice; expected each key once (list "
                                     "all its values in one --grid)"])
            seen.add(key)
        counts = {len(values) for _, values in axis}
        if len(counts) > 1:
            raise ScenarioError([f"--with: {' and '.join(k for k, _ in axis)} vary together "
                                 "and need the same number of values; got "
                                 + ", ".join(str(len(v)) for _, v in axis)])
        axes.append(axis)
    return axes


def split_values(text: str) -> list[str]:
    """Split on commas that are not inside brackets, braces or quotes, so that TOML values
    such as ``[0.1, 0.2]`` or ``{dist = "uniform", low = 0, high = 1}`` stay whole."""
    parts, depth, quote, current = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def condition_name(params: dict[str, str]) -> str:
    """A directory name for a grid point: readable, and unique even when two values differ
    only in characters a file name cannot keep (then a checksum of the exact text follows)."""
    text = ",".join(f"{k}={v}" for k, v in params.items()) or "base"
    safe = re.sub(r"[^A-Za-z0-9_.,=+-]", "_", text)
    if safe != text:
        safe += f"-{zlib.crc32(text.encode()):08x}"
    return safe


def plan(axes, seeds: int) -> list[tuple[dict[str, str], int]]:
    """Every grid point × seed. ``axes``: a list of (key, values) pairs (crossed) or of lists
    of such pairs (the keys of one list vary together, value for value)."""
    axes = [[a] if isinstance(a, tuple) else a for a in axes]
    points = []
    for combo in itertools.product(*[range(len(axis[0][1])) for axis in axes]):
        params = {key: values[i] for axis, i in zip(axes, combo, strict=True)
                  for key, values in axis}
        points += [(params, seed) for seed in range(seeds)]
    return points


def run_locally(todo: list[tuple], workers: int) -> Iterator[tuple[int, dict, dict]]:
    """Run ``todo`` in local worker processes; yield ``(j, summary, {})`` as runs finish (each
    worker writes its run directory itself). Closing the generator (Ctrl-C) stops the
    workers at once, whatever they were doing."""
    with multiprocessing.Pool(max(1, workers), initializer=worker_init) as pool:
        for j, summary in pool.imap_unordered(run_task, todo):
            yield j, summary, {}


def row(params: dict[str, str], seed: int, summary: dict, run_dir: Path) -> dict:
    r = {**params, "seed": seed, "status": summary.get("status"),
         "accuracy": (summary.get("accuracy") or {}).get("train"),
         "test_accuracy": (summary.get("accuracy") or {}).get("test"),
         "energy_final": (summary.get("energy") or {}).get("final"),
         "messages_per_sample": summary.get("messages_per_sample"),
         "wall_seconds": summary.get("wall_seconds"), "run_dir": str(run_dir),
         "message": summary.get("message", "")}
    for edge, m in (summary.get("symmetry") or {}).items():
        for key in ("angle_deg", "rel_diff", "norm_diff", "norm_w", "norm_b"):
            r[f"{edge}:{key}"] = m.get(key)
    for learner in ("pc", "baseline"):  # the forgetting measures of data.tasks runs
        for key, value in ((summary.get("tasks") or {}).get(learner) or {}).items():
            if not isinstance(value, list):
                r[f"{learner}:{key}"] = value
    return r


#: the forgetting measures that :func:`forgetting_report` summarises over seeds
FORGETTING = ("mean_error", "interference", "interference_max", "final_error")


def forgetting_report(rows: list[dict], keys: list[str]) -> dict:
    """For each learner (the PC network, ``pc``, and its ``baseline``): the forgetting
    measures of every setting of its own keys (``baseline.*`` keys for the baseline, the others
    for the network) as mean, min and max over the finished runs, and its best setting, the one
    with the lowest mean test error over training."""
    report = {}
    for learner in ("pc", "baseline"):
        own = [k for k in keys if k.startswith("baseline.") == (learner == "baseline")]
        settings: dict[str, dict] = {}
        for r in rows:
            if r.get("status") != "ok" or r.get(f"{learner}:mean_error") in (None, ""):
                continue
            name = ",".join(f"{k}={r[k]}" for k in own) or "base"
            entry = settings.setdefault(name, {"params": {k: r[k] for k in own},
                                               "runs": []})
            entry["runs"].append(r["run_dir"])
            for m in FORGETTING:
                entry.setdefault(m, []).append(float(r[f"{learner}:{m}"]))
        for entry in settings.values():
            for m in FORGETTING:
                v = np.asarray(entry[m])
                entry[m] = {"mean": float(np.mean(v)), "min": float(np.min(v)),
                            "max": float(np.max(v)), "seeds": len(v)}
        if settings:
            best = min(settings, key=lambda n: settings[n]["mean_error"]["mean"])
            report[learner] = {"best": best, "settings": settings}
    return report


#: statuses of runs that a rerun of the sweep keeps (interrupted and failed runs are retried)
FINISHED = ("ok", "diverged")


def run_sweep(scenario: str | Path, grid_items: list[str], *, seeds: int, workers: int,
              out: str | Path, progress: bool = True, fixed: list[str] | None = None,
              skip_failed: bool = False, scheduler: str | None = None) -> list[dict]:
    """Run the grid; ``fixed`` overrides (``key.path=value``) apply to every run. With
    ``scheduler`` (a Dask scheduler's address) the runs are tasks on that cluster
    (:mod:`asyncpc.cluster`), otherwise ``workers`` local processes run them.

    A rerun into the same ``out`` keeps the runs that finished (ok or diverged) and retries
    the interrupted and failed ones (``skip_failed`` keeps failed ones too). Ctrl-C or
    SIGTERM stops the sweep and its workers at once: finished runs stay intact, the others are
    marked ``interrupted`` in ``sweep.csv``, and :class:`KeyboardInterrupt` is raised after
    the table is written."""
    path = Path(scenario)
    axes = parse_axes(grid_items)
    grid = [pair for axis in axes for pair in axis]
    fixed = list(fixed or [])
    load(path, [*fixed, *(f"{k}={vals[0]}" for k, vals in grid)])  # fail fast on bad keys
    out = sweep_directory(out)
    if scheduler:
        require_cluster_extra(scheduler)
    points = plan(axes, seeds)
    rows, todo = resume(points, out, path, fixed, skip_failed)
    if progress and rows:
        print(f"resuming: {len(rows)} of {len(points)} runs already done", file=sys.stderr)
    results = run_on_cluster(todo, scheduler) if scheduler else run_locally(todo, workers)
    interrupted = gather(results, points, out, rows, progress)
    for j, (params, seed) in enumerate(points):
        if j not in rows:
            rows[j] = row(params, seed, {"status": "interrupted",
                                         "message": "the sweep was interrupted"},
                          out / condition_name(params) / f"seed{seed}")
    ordered = [rows[j] for j in range(len(points))]
    report(out, ordered, axes)
    if interrupted:
        raise KeyboardInterrupt
    return ordered


def sweep_directory(out: str | Path) -> Path:
    """The sweep's directory, created (a rerun finds it and resumes)."""
    if not str(out).strip():
        raise ScenarioError([f"--out {str(out)!r}: expected a directory for the sweep"])
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ScenarioError([f"--out {out}: exists and is not a directory; expected a "
                             "directory for the sweep"]) from None
    except OSError as exc:
        raise ScenarioError([f"--out {out}: cannot create the sweep directory: "
                             f"{exc.strerror}"]) from None
    return out


def require_cluster_extra(scheduler: str) -> None:
    try:
        import distributed  # noqa: F401  (the cluster extra)
    except ImportError:
        raise ScenarioError([f"--scheduler {scheduler}: running on a Dask cluster needs the "
                             "cluster extra; expected it installed: pip install "
                             "'asyncpc[cluster]'"]) from None


def resume(points: list, out: Path, path: Path, fixed: list[str], skip_failed: bool
           ) -> tuple[dict[int, dict], list[tuple]]:
    """The rows of runs a previous sweep finished (ok or diverged; failed too with
    ``skip_failed``), and the tasks of the others."""
    rows: dict[int, dict] = {}
    todo = []
    keep = FINISHED + (("failed",) if skip_failed else ())
    for j, (params, seed) in enumerate(points):
        run_dir = out / condition_name(params) / f"seed{seed}"
        done = run_dir / SUMMARY
        previous = json.loads(done.read_text()) if done.exists() else {}
        if previous.get("status") in keep:
            rows[j] = row(params, seed, previous, run_dir)
        else:
            todo.append((j, str(path), params, seed, str(run_dir), fixed))
    return rows, todo


def gather(results: Iterator[tuple[int, dict, dict]], points: list, out: Path,
           rows: dict[int, dict], progress: bool) -> bool:
    """Record each run as it finishes (into ``rows``); return whether Ctrl-C or SIGTERM
    stopped the sweep first (its workers are stopped at once either way)."""
    try:
        for j, summary, files in results:
            params, seed = points[j]
            run_dir = out / condition_name(params) / f"seed{seed}"
            if files:  # a run made elsewhere: its directory comes back as files
                write_run_dir(run_dir, files)
            elif summary.get("status") in ("failed", "interrupted"):  # so that a rerun knows
                run_dir.mkdir(parents=True, exist_ok=True)
                atomic_write(run_dir / SUMMARY, json.dumps(summary).encode())
            rows[j] = row(params, seed, summary, run_dir)
            if progress:
                print(f"[{len(rows)}/{len(points)}] {condition_name(params)} seed {seed}: "
                      f"{summary.get('status')} {summary.get('message', '')}".rstrip(),
                      file=sys.stderr)
    except KeyboardInterrupt:
        return True
    finally:
        results.close()  # local workers are terminated, cluster tasks cancelled
    return False


def report(out: Path, ordered: list[dict], axes: list) -> None:
    """``sweep.csv``, the comparison figures and, for task runs, the forgetting report."""
    write_csv(out / "sweep.csv", ordered)
    plot_sweep(out, ordered, [axis[0][0] for axis in axes])  # a --with key goes with its --grid
    if any("pc:mean_error" in r for r in ordered):
        learners = forgetting_report(ordered, [k for axis in axes for k, _ in axis])
        atomic_write(out / "forgetting.json", (json.dumps(learners, indent=2) + "\n").encode())
        plot_forgetting(out, ordered, learners)


def write_run_dir(run_dir: Path, files: dict[str, bytes]) -> None:
    """Write a run directory that came back as files (replacing an earlier run there)."""
    prepare_out(run_dir, force=True)
    for name, data in files.items():
        (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(run_dir / name, data)


def write_csv(path: Path, rows: list[dict]) -> None:
    fields: list[str] = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, buf.getvalue().encode())
