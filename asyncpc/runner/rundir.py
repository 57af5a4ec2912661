"""The run directory: the one list of the files it holds, creating and marking it, and
writing it whole or not at all (a stable contract, documented in docs/cli.md).
"""

from __future__ import annotations

import io
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..engines import Engine
from ..files import GENERATED, MARKER, PLOTS_DIR, RUN_FILES, SCENARIO, SUMMARY, TRACES
from ..plotting import plot_run
from ..scenario import Scenario, ScenarioError, to_toml


@dataclass
class RunResult:
    """What a run produced: the summary, the traces (numpy arrays) and the live network."""

    summary: dict[str, Any]
    traces: dict[str, np.ndarray]
    network: Engine
    out: Path | None = None
    figures: list[Path] = field(default_factory=list)
    generated: dict[str, Any] | None = None  # what each label generates (evaluation.generate)


def is_run_directory(out: Path) -> bool:
    """Finished, interrupted or killed: the marker (written first) or a run's file is there."""
    return any((out / name).exists() for name in (MARKER, *RUN_FILES))


def prepare_out(out: Path, force: bool) -> None:
    """Create the run directory and mark it as one. With ``force`` an existing run directory
    (finished or killed) is replaced whole (nothing of the previous run survives to be
    plotted by mistake); a non-empty directory that is not a run directory is never
    deleted."""
    try:
        if out.exists() and not out.is_dir():
            raise ScenarioError([f"--out {out}: exists and is not a directory"])
        if out.exists() and any(out.iterdir()):
            if not force:
                raise ScenarioError([f"--out {out}: directory is not empty; use --force to "
                                     "replace it, or choose another --out"])
            if not is_run_directory(out):
                raise ScenarioError([f"--out {out}: not a run directory (none of "
                                     f"{', '.join(RUN_FILES)}); --force replaces run "
                                     "directories only"])
            shutil.rmtree(out)
        (out / PLOTS_DIR).mkdir(parents=True, exist_ok=True)
        atomic_write(out / MARKER, (json.dumps({"asyncpc": __version__}) + "\n").encode())
    except OSError as exc:
        raise ScenarioError([f"--out {out}: cannot create the run directory: "
                             f"{exc.strerror}"]) from None


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (a temporary file, renamed; removed
    again if the write fails, e.g. on a full disk)."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class WriteFailed(OSError):
    """The run directory could not be written whole (a full disk, a lost mount): what was
    simulated is intact in memory, but ``missing`` files are not on disk."""

    def __init__(self, out: Path, missing: list[str], reason: str) -> None:
        super().__init__(f"{out}: could not write {', '.join(missing)} ({reason}); "
                         f"everything else of the run is there, and summary.json says what is "
                         "missing if it could be written")
        self.missing = missing


def write(out: Path, scenario: Scenario, result: RunResult, plots: bool = True) -> None:
    """Write the run directory (module docstring) and, with ``plots``, its figures.

    Each file is written whole or not at all. If one cannot be written (a full disk), the
    others are still tried; the summary then lists the ``missing`` files and its status is
    never ``ok`` (``incomplete``), and :class:`WriteFailed` is raised at the end."""
    result.out = out
    missing, reasons = [], []

    def attempt(name: str, make) -> None:
        try:
            make()
        except OSError as exc:
            missing.append(name)
            reasons.append(exc.strerror or str(exc))

    def arrays(name: str, values: dict, compress: bool) -> None:
        buf = io.BytesIO()
        (np.savez_compressed if compress else np.savez)(buf, **values)
        atomic_write(out / name, buf.getvalue())

    attempt(SCENARIO, lambda: atomic_write(out / SCENARIO, to_toml(scenario.data).encode()))
    attempt(TRACES, lambda: arrays(TRACES, result.traces, True))
    if result.generated is not None:
        attempt(GENERATED, lambda: arrays(
            GENERATED, {k: v for k, v in result.generated.items()
                              if k != "mean_abs_error"}, False))
    if plots and missing:
        missing.append(PLOTS_DIR)  # drawn from the traces on disk
    elif plots:

        def figures() -> None:
            result.figures = plot_run(out)
        attempt(PLOTS_DIR, figures)
    summary = result.summary
    if missing:
        summary["missing"] = list(missing)
        if summary["status"] == "ok":
            summary["status"] = "incomplete"
        summary["message"] = "; ".join(filter(None, [
            summary.get("message"), f"could not write {', '.join(missing)}: {reasons[0]}"]))
    attempt(SUMMARY, lambda: atomic_write(
        out / SUMMARY,
        (json.dumps(_jsonable(summary), indent=2, allow_nan=True) + "\n").encode()))
    if missing:
        raise WriteFailed(out, missing, reasons[0])


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj
