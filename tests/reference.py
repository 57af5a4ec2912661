"""An independent, dense numpy integration of the SPEC §1 equations (zero delays, theta = 0,
tau_eps = 0), used as the oracle the event-driven engine is compared with.

It shares nothing with the engine but the activation table: all populations are vectors,
all weights matrices, and the ODE is integrated with classical Runge–Kutta (RK4).
"""

from __future__ import annotations

import numpy as np

from asyncpc.activations import activation


class DenseModel:
    """``pops``: name → dict(n, act, var, tau, prior, x0, clamped value or None);
    ``edges``: list of dict(src, tgt, W, B, eta_w, eta_b, lam_w, lam_b, raw)."""

    def __init__(self, pops: dict, edges: list[dict]) -> None:
        self.pops = pops
        self.edges = edges
        self.names = list(pops)

    def errors(self, x: dict, W: list, b: dict) -> dict:
        eps = {}
        for name, p in self.pops.items():
            predicted = [e for e in self.edges if e["tgt"] == name]
            if not predicted and p.get("prior") is None:
                continue
            mu = np.full(p["n"], b.get(name, 0.0)) if p.get("prior") is not None else 0.0
            for e, w in zip(self.edges, W, strict=True):
                if e["tgt"] == name:
                    mu = mu + w @ activation(self.pops[e["src"]]["act"]).f_array(x[e["src"]])
            eps[name] = (x[name] - mu) / p["var"]
        return eps

    def derivative(self, state):
        x, W, B, b = state
        eps = self.errors(x, W, b)
        dx = {}
        for name, p in self.pops.items():
            if p.get("clamped") is not None:
                dx[name] = np.zeros(p["n"])
                continue
            act = activation(p["act"])
            drive = -eps.get(name, 0.0) + np.zeros(p["n"])
            for e, bm in zip(self.edges, B, strict=True):
                if e["src"] == name:
                    drive = drive + act.fprime_array(x[name]) * (bm @ eps[e["tgt"]])
            dx[name] = drive / p["tau"]
        dW, dB = [], []
        for e, w, bm in zip(self.edges, W, B, strict=True):
            r = activation(self.pops[e["src"]]["act"]).f_array(x[e["src"]])
            post_b = x[e["src"]] if e.get("raw") else r
            dW.append(e["eta_w"] * np.outer(eps[e["tgt"]], r) - e["lam_w"] * w)
            dB.append(e["eta_b"] * np.outer(post_b, eps[e["tgt"]]) - e["lam_b"] * bm)
        db = {n: self.pops[n].get("eta_bias", 0.0) * eps[n] for n in b}
        return dx, dW, dB, db

    def integrate(self, T: float, h: float = 1e-3):
        x = {n: np.full(p["n"], float(p.get("x0", 0.0))) if p.get("clamped") is None
             else np.asarray(p["clamped"], dtype=float) for n, p in self.pops.items()}
        W = [np.array(e["W"], dtype=float) for e in self.edges]
        B = [np.array(e["B"], dtype=float) for e in self.edges]
        b = {n: np.full(p["n"], float(p["prior"])) for n, p in self.pops.items()
             if p.get("prior") is not None}
        state = (x, W, B, b)
        for _ in range(int(round(T / h))):
            state = _rk4(self.derivative, state, h)
        return state


def _axpy(state, d, a):
    x, W, B, b = state
    dx, dW, dB, db = d
    return ({n: x[n] + a * dx[n] for n in x}, [w + a * g for w, g in zip(W, dW, strict=True)],
            [m + a * g for m, g in zip(B, dB, strict=True)], {n: b[n] + a * db[n] for n in b})


def _rk4(f, s, h):
    k1 = f(s)
    k2 = f(_axpy(s, k1, h / 2))
    k3 = f(_axpy(s, k2, h / 2))
    k4 = f(_axpy(s, k3, h))
    out = s
    for k, a in ((k1, h / 6), (k2, h / 3), (k3, h / 3), (k4, h / 6)):
        out = _axpy(out, k, a)
    return out
