"""``asyncpc sweep``: many runs of one scenario in parallel, one table, comparison plots.

The grid is the cross product of every ``--grid key.path=v1,v2,…`` and the seeds
``0 … K−1``. Each run is a normal run directory ``OUT/<condition>/seed<S>``; ``OUT/sweep.csv``
has a row per run (parameters, seed, status, accuracy, final symmetry metrics per edge, wall
time) and ``OUT/plots`` the comparison figures. A run that fails or diverges is recorded as such
and the others go on; running the same sweep into the same directory again resumes it: runs
whose ``summary.json`` exists are read back, not redone.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import re
import sys
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from .scenario import ScenarioError, load


def parse_grid(items: list[str]) -> list[tuple[str, list[str]]]:
    grid = []
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key or not values:
            raise ScenarioError([f"--grid {item!r}: expected key.path=v1,v2,..."])
        grid.append((key.strip(), [v.strip() for v in split_values(values) if v.strip()]))
    return grid


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


def plan(grid, seeds: int) -> list[tuple[dict[str, str], int]]:
    keys = [k for k, _ in grid]
    combos = itertools.product(*[v for _, v in grid]) if grid else [()]
    return [(dict(zip(keys, combo, strict=True)), seed) for combo in combos
            for seed in range(seeds)]


def pin_blas() -> None:
    """One BLAS thread per worker process: several workers each running a multi-threaded BLAS
    on a small machine oversubscribe it (measured here: 40× slower numpy)."""
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)


def _one(path: str, params: dict[str, str], seed: int, out: str, fixed: list[str]) -> dict:
    """Run one grid point (in a worker process); never raises."""
    from .runner import run
    sets = [*fixed, *(f"{k}={v}" for k, v in params.items()), f"run.seed={seed}"]
    try:
        result = run(load(path, sets), out=out, plots=False, force=True)
        return result.summary
    except ScenarioError as exc:
        return {"status": "failed", "message": "; ".join(exc.problems)}
    except Exception as exc:  # a crash in one run must not stop the sweep
        return {"status": "failed", "message": f"{type(exc).__name__}: {exc}"}


def row(params: dict[str, str], seed: int, summary: dict, run_dir: Path) -> dict:
    r = {**params, "seed": seed, "status": summary.get("status"),
         "accuracy": (summary.get("accuracy") or {}).get("train"),
         "energy_final": (summary.get("energy") or {}).get("final"),
         "messages_per_sample": summary.get("messages_per_sample"),
         "wall_seconds": summary.get("wall_seconds"), "run_dir": str(run_dir),
         "message": summary.get("message", "")}
    for edge, m in (summary.get("symmetry") or {}).items():
        for key in ("angle_deg", "rel_diff", "norm_diff", "norm_w", "norm_b"):
            r[f"{edge}:{key}"] = m.get(key)
    return r


def run_sweep(scenario: str | Path, grid_items: list[str], *, seeds: int, workers: int,
              out: str | Path, progress: bool = True, fixed: list[str] | None = None
              ) -> list[dict]:
    """Run the grid; ``fixed`` overrides (``key.path=value``) apply to every run."""
    path = Path(scenario)
    grid = parse_grid(grid_items)
    fixed = list(fixed or [])
    load(path, [*fixed, *(f"{k}={vals[0]}" for k, vals in grid)])  # fail fast on bad keys
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    points = plan(grid, seeds)
    rows: dict[int, dict] = {}
    todo = []
    for j, (params, seed) in enumerate(points):
        run_dir = out / condition_name(params) / f"seed{seed}"
        done = run_dir / "summary.json"
        if done.exists():
            rows[j] = row(params, seed, json.loads(done.read_text()), run_dir)
        else:
            todo.append((j, params, seed, run_dir))
    if progress and rows:
        print(f"resuming: {len(rows)} of {len(points)} runs already done", file=sys.stderr)
    with ProcessPoolExecutor(max_workers=max(1, workers), initializer=pin_blas) as pool:
        futures = {pool.submit(_one, str(path), params, seed, str(run_dir), fixed):
                   (j, params, seed, run_dir) for j, params, seed, run_dir in todo}
        for future in as_completed(futures):
            j, params, seed, run_dir = futures[future]
            summary = future.result()
            if summary.get("status") == "failed":
                run_dir.mkdir(parents=True, exist_ok=True)
            rows[j] = row(params, seed, summary, run_dir)
            if progress:
                print(f"[{len(rows)}/{len(points)}] {condition_name(params)} seed {seed}: "
                      f"{summary.get('status')} {summary.get('message', '')}".rstrip(),
                      file=sys.stderr)
    ordered = [rows[j] for j in range(len(points))]
    write_csv(out / "sweep.csv", ordered)
    from .plotting import plot_sweep
    plot_sweep(out, ordered, [k for k, _ in grid])
    return ordered


def write_csv(path: Path, rows: list[dict]) -> None:
    from .runner import atomic_write
    fields: list[str] = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, buf.getvalue().encode())


def cmd_sweep(args) -> int:
    from .cli import find_scenario
    rows = run_sweep(find_scenario(args.scenario), args.grid or [], seeds=args.seeds,
                     workers=args.workers, out=args.out, progress=not args.quiet,
                     fixed=args.set or [])
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


def add_parser(sub) -> None:
    sp = sub.add_parser("sweep", help="run a grid of parameter values × seeds in parallel")
    sp.add_argument("scenario", help="scenario file, or the name of a shipped scenario")
    sp.add_argument("--grid", action="append", metavar="KEY.PATH=V1,V2,...",
                    help="values of one scenario key (repeatable: cross product)")
    sp.add_argument("--set", action="append", metavar="KEY.PATH=VALUE",
                    help="an override applied to every run (repeatable)")
    sp.add_argument("--seeds", type=positive, default=1, help="seeds 0..K-1 per condition")
    sp.add_argument("--workers", type=positive, default=2, help="parallel worker processes")
    sp.add_argument("--out", required=True, help="sweep directory (resumed if it exists)")
    sp.add_argument("--quiet", action="store_true")
    sp.set_defaults(func=cmd_sweep)
