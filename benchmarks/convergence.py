"""Each shipped scenario's claim at its shipped numerics and at converged numerics, on both
engines (docs/numerics.md, "Shipped claims at converged numerics").

Converged numerics divide, in every population, the step ``dt`` and every threshold — ``theta``,
``settle`` and ``drift_theta`` — by ``FACTOR`` (a ``drift_theta`` of 1e9, "never signalled",
becomes the default 1e-3 first). Each claim is the summary-level part of the scenario's test
in ``tests/studies/test_scenarios.py`` (accuracy, angles, generation error, the settled state).

    python benchmarks/convergence.py [SCENARIO ...] [--factor 10] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from asyncpc import runner
from asyncpc import scenario as sc

FACTOR = 10.0
#: keys divided by the factor, per population
REFINED = ("dt", "theta", "settle", "drift_theta")
BOGACZ_ROOT = float(max(np.roots([2.0, 0.0, -3.0, -3.0]).real))


def max_angle(s: dict) -> float:
    return max(m["angle_deg"] for m in s["symmetry"].values())


def interference_holds(tr: dict) -> bool:
    pc, bp = tr["evaluation/outputs"], tr["evaluation/baseline_outputs"]

    def at(trace, o1):  # output 2 where output 1 has fallen to o1
        return np.interp(o1, trace[::-1, 0], trace[::-1, 1])
    return abs(at(pc, 0.85) - 0.975) <= 0.005 and all(
        at(pc, o1) > at(bp, o1) + 0.02 for o1 in (0.85, 0.64, 0.5, 0.3))


#: scenario → (claim in words, check of a finished run's summary and network, extra overrides)
CLAIMS = {
    "relaxation": ("energy never rises; settles", lambda r: bool(
        np.all(np.diff(r.traces["energy"]) <= 1e-12 * r.traces["energy"][0])), ()),
    "bogacz_tutorial": ("φ = 1.5675 to 1e-6", lambda r: abs(
        r.traces["x/v"][-1, 0] - BOGACZ_ROOT) < 1e-6, ()),
    "symmetry_kp": ("‖W−Bᵀ‖ ∝ e^{−λt} to 1e-9", lambda r: all(
        np.max(np.abs(r.traces[f"symmetry/{e}/norm_diff"]
                      / (r.traces[f"symmetry/{e}/norm_diff"][0] * np.exp(-0.01 * r.traces["t"]))
                      - 1.0)) < 1e-9 for e in ("input->hidden", "hidden->output")), ()),
    "xor": ("100 %, every angle < 10° (seed 0)", lambda r: r.summary["accuracy"]["train"] == 1.0
            and max_angle(r.summary) < 10.0, ()),
    "delays": ("100 %, every angle < 15°", lambda r: r.summary["accuracy"]["train"] == 1.0
               and max_angle(r.summary) < 15.0, ()),
    "bars": ("regeneration < 0.1, 100 %, angle < 10°", lambda r: r.summary["generation"][
        "mean_abs_error"] < 0.1 and r.summary["accuracy"]["train"] == 1.0
        and r.summary["symmetry"]["label->image"]["angle_deg"] < 10.0, ()),
    "symmetry_growth": ("W − Bᵀ conserved to 1e-9; output angle < 10°", lambda r: all(
        np.max(np.abs(r.traces[f"symmetry/{e}/norm_diff"]
                      / r.traces[f"symmetry/{e}/norm_diff"][0] - 1.0)) < 1e-9
        for e in ("input->hidden", "hidden->output"))
        and r.traces["symmetry/hidden->output/angle_deg"][-1] < 10.0, ()),
    "interference": ("output 2 at output 1 = 0.85: 0.975 ± 0.005, above backprop's",
                     lambda r: interference_holds(r.traces), ()),
    "feedback_alignment": ("100 %, output angle in (10°, 80°)", lambda r: r.summary["accuracy"][
        "train"] == 1.0 and 10.0 < r.summary["symmetry"]["hidden->label"]["angle_deg"] < 80.0,
        ()),
}


def refined(scenario: sc.Scenario, factor: float) -> list[str]:
    """Overrides dividing dt and the thresholds of every population by ``factor``."""
    sets = []
    for name, data in scenario.graph().nodes(data=True):
        spec = data["spec"]
        for key in REFINED:
            value = getattr(spec, key)
            if key == "drift_theta" and value >= 1e8:
                value = 1e-3
            sets.append(f"populations.{name}.{key}={value / factor!r}")
    return sets


def measure(name: str, engine: str, numerics: str, factor: float) -> dict:
    claim, check, extra = CLAIMS[name]
    scenario = sc.load(sc.find(name), [f"run.engine={engine}", *extra])
    if numerics == "converged":
        scenario = scenario.with_overrides(refined(scenario, factor))
    start = time.perf_counter()
    result = runner.run(scenario, plots=False)
    s = result.summary
    return {"scenario": name, "engine": engine, "numerics": numerics, "claim": claim,
            "holds": bool(s["status"] == "ok" and check(result)),
            "accuracy": (s.get("accuracy") or {}).get("train"),
            "angles": {e: round(m["angle_deg"], 2) for e, m in s.get("symmetry", {}).items()},
            "messages": s["events"]["delivered"], "wall_seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", default=list(CLAIMS))
    parser.add_argument("--factor", type=float, default=FACTOR)
    parser.add_argument("--engines", default="unit,population")
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = []
    print(f"| scenario | claim | engine | shipped | converged (÷{args.factor:g}) |")
    print("|---|---|---|---|---|")
    for name in args.scenarios:
        for engine in args.engines.split(","):
            pair = [measure(name, engine, numerics, args.factor)
                    for numerics in ("shipped", "converged")]
            rows += pair
            cells = []
            for m in pair:
                angles = ", ".join(f"{a:.1f}°" for a in m["angles"].values())
                acc = "" if m["accuracy"] is None else f"{100 * m['accuracy']:.0f} %, "
                cells.append(f"{'✓' if m['holds'] else '✗'} {acc}{angles} "
                             f"({m['wall_seconds']:.0f} s)")
            print(f"| `{name}` | {pair[0]['claim']} | {engine} | {cells[0]} | {cells[1]} |",
                  flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
