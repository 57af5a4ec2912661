"""Where each shipped scenario's numerical settings sit on the ODE-limit curve.

The oracle network of ``test_ode_limit.py`` (tau_x = 1) is run at each scenario's settings
relative to its tau_x (dt/tau_x, settle·tau_x, refresh/tau_x; theta, drift_theta and jitter as
they are) and compared with the delay-ODE reference; the mean of 4 clock seeds is printed as
the table of docs/numerics.md:  python benchmarks/ode_points.py
"""

import sys
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "tests" / d) for d in ("", "engines")]
import test_ode_limit as oracle  # noqa: E402

import asyncpc as ap  # noqa: E402


def point(spec: dict) -> dict:
    tau = spec["tau_x"]
    return {"dt": spec["dt"] / tau, "theta": spec["theta"], "drift_theta": spec["drift_theta"],
            "settle": spec["settle"] * tau, "refresh": spec["refresh"] / tau,
            "jitter": spec["jitter"]}


def main() -> None:
    _, mats = oracle.shipped_settings_run(0.04, "unit", 0)
    reference = oracle.delayed_reference(mats)
    print("| scenario | dt/τ_x | θ | drift_θ | settle·τ_x | refresh/τ_x | jitter | "
          "error, unit | error, population |")
    print("|---|---|---|---|---|---|---|---|---|")
    for path in ap.scenario.shipped_scenarios():
        s = ap.load_scenario(path)
        learning = [n for n, p in s.data["populations"].items() if p["eta_bias"]
                    or any(e["target"] == n and e["eta_w"] for e in s.data["edges"])]
        name = (learning or list(s.data["populations"]))[0]
        p = point(s.data["populations"][name])
        errors = []
        for engine in ("unit", "population"):
            errors.append(np.mean([
                max(np.max(np.abs(net.x("p1") - reference[0])),
                    max(np.max(np.abs(net.weights(f"p{j}->p{j + 1}")[0] - reference[1][j]))
                        for j in (0, 1)),
                    np.max(np.abs(net.bias("p1") - reference[2])))
                for net in (oracle.shipped_settings_run(
                    p["dt"], engine, seed, jitter=p["jitter"], refresh=p["refresh"],
                    settle=p["settle"], drift_theta=p["drift_theta"], theta=p["theta"])[0]
                    for seed in range(4))]))
        print(f"| `{s.name}` | {p['dt']:g} | {p['theta']:g} | {p['drift_theta']:g} | "
              f"{p['settle']:g} | {p['refresh']:g} | {p['jitter']:g} | {errors[0]:.1e} | "
              f"{errors[1]:.1e} |", flush=True)


if __name__ == "__main__":
    main()
