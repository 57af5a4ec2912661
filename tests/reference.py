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
    ``edges``: list of dict(src, tgt, W, B, eta_w, eta_b, lam_w, lam_b, raw, tied); a ``tied``
    edge's feedback is ``Wᵀ`` at all times (its ``B`` is carried along unused)."""

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

    def feedback(self, W: list, B: list) -> list:
        """The feedback matrices in force: ``Wᵀ`` for a ``tied`` edge, else ``B``."""
        return [w.T if e.get("tied") else m for e, w, m in zip(self.edges, W, B, strict=True)]

    def derivative(self, state):
        x, W, B, b = state
        B = self.feedback(W, B)
        eps = self.errors(x, W, b)
        dx = {}
        for name, p in self.pops.items():
            if p.get("clamped") is not None:
                dx[name] = np.zeros(p["n"])
                continue
            dx[name] = self.rate_x(name, x, B, eps, eps.get(name, 0.0))
        dW, dB = self.learning(x, W, B, eps)
        db = {n: self.pops[n].get("eta_bias", 0.0) * eps[n] for n in b}
        return dx, dW, dB, db

    def rate_x(self, name: str, x: dict, B: list, eps: dict, own) -> np.ndarray:
        """dx/dt = (−eps_own + f'(x) Σ B eps) / tau of a free population."""
        p = self.pops[name]
        drive = -own + np.zeros(p["n"])
        for e, bm in zip(self.edges, B, strict=True):
            if e["src"] == name:
                drive = drive + activation(p["act"]).fprime_array(x[name]) * (bm @ eps[e["tgt"]])
        return drive / p["tau"]

    def learning(self, x: dict, W: list, B: list, eps: dict) -> tuple[list, list]:
        """dW/dt = eta_w eps rᵀ − lam_w W and dB/dt = eta_b r epsᵀ − lam_b B (x for "raw")."""
        dW, dB = [], []
        for e, w, bm in zip(self.edges, W, B, strict=True):
            r = activation(self.pops[e["src"]]["act"]).f_array(x[e["src"]])
            post_b = x[e["src"]] if e.get("raw") else r
            dW.append(e["eta_w"] * np.outer(eps[e["tgt"]], r) - e["lam_w"] * w)
            dB.append(e["eta_b"] * np.outer(post_b, eps[e["tgt"]]) - e["lam_b"] * bm)
        return dW, dB

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


class DelayedModel(DenseModel):
    """The same equations with clocked error neurons and local (column) delays, integrated by
    RK4 as a delay differential equation, with a schedule of clamp changes.

    Extra population keys: ``tau_eps`` (> 0: ``tau_eps deps/dt = x(t − d) − mu − var·eps``,
    every error population must have one here) and ``delay`` (``d``, the column's own delay:
    the error neuron sees ``x(t − d)``, the representation neuron ``eps(t − d)``). Delayed
    values are read from the stored history by linear interpolation (error O(h²)).
    """

    def integrate_schedule(self, schedule: list[tuple[float, dict]], T: float, h: float = 1e-3):
        """``schedule``: (time, {population: clamped values}) in time order, the first at 0."""
        pops = self.pops
        x = {n: np.full(p["n"], float(p.get("x0", 0.0))) for n, p in pops.items()}
        for name, value in schedule[0][1].items():
            x[name] = np.asarray(value, dtype=float)
        W = [np.array(e["W"], dtype=float) for e in self.edges]
        B = [np.array(e["B"], dtype=float) for e in self.edges]
        b = {n: np.full(p["n"], float(p["prior"])) for n, p in pops.items()
             if p.get("prior") is not None}
        predicted = {e["tgt"] for e in self.edges} | set(b)
        # before t = 0 every neuron is at x0 and every error neuron at the error of that state,
        # as the engines build them; the clamps at t = 0 reach the error neurons after d
        x_before = {n: np.full(p["n"], float(p.get("x0", 0.0))) for n, p in pops.items()}
        e = self.errors(x_before, W, b)
        e = {n: e[n] for n in predicted}
        self.before = (x_before, {n: v.copy() for n, v in e.items()})
        self.hist_t, self.hist = [0.0], [({n: v.copy() for n, v in x.items()},
                                          {n: v.copy() for n, v in e.items()})]
        self.clamps = dict(schedule[0][1])
        self.h = h
        state = (x, W, B, b, e)
        t, switches = 0.0, list(schedule[1:])
        steps = int(round(T / h))
        for j in range(steps):
            t = j * h
            if switches and t >= switches[0][0] - 1e-12:
                self.clamps = dict(switches.pop(0)[1])
                for name, value in self.clamps.items():
                    state[0][name] = np.asarray(value, dtype=float)
            state = _rk4_5(self.rate, state, h, t)
            xs, es = state[0], state[4]
            self.hist_t.append(t + h)
            self.hist.append(({n: v.copy() for n, v in xs.items()},
                              {n: v.copy() for n, v in es.items()}))
        return state

    def past(self, t: float, which: int, name: str, now_value):
        if t >= self.hist_t[-1]:
            return now_value
        if t < 0.0:
            return self.before[which][name]
        j = min(int(t / self.h), len(self.hist_t) - 2)  # the history is on the grid j·h
        t0, t1 = self.hist_t[j], self.hist_t[j + 1]
        a, c = self.hist[j][which][name], self.hist[j + 1][which][name]
        return a + (c - a) * (t - t0) / (t1 - t0)

    def rate(self, state, t):
        x, W, B, b, e = state
        B = self.feedback(W, B)
        dx, de = {}, {}
        for name, p in self.pops.items():
            if name in e:  # clocked error neuron relaxing towards (x(t − d) − mu)/var
                mu = b.get(name, 0.0)
                for edge, w in zip(self.edges, W, strict=True):
                    if edge["tgt"] == name:
                        mu = mu + w @ activation(self.pops[edge["src"]]["act"]).f_array(
                            x[edge["src"]])
                seen = self.past(t - p.get("delay", 0.0), 0, name, x[name])
                de[name] = (seen - mu - p["var"] * e[name]) / p["tau_eps"]
            if name in self.clamps:
                dx[name] = np.zeros(p["n"])
                continue
            own = self.past(t - p.get("delay", 0.0), 1, name, e[name]) if name in e else 0.0
            dx[name] = self.rate_x(name, x, B, e, own)
        dW, dB = self.learning(x, W, B, e)
        db = {n: self.pops[n].get("eta_bias", 0.0) * e[n] for n in b}
        return dx, dW, dB, db, de


def _axpy5(state, d, a):
    x, W, B, b, e = state
    dx, dW, dB, db, de = d
    return ({n: x[n] + a * dx[n] for n in x}, [w + a * g for w, g in zip(W, dW, strict=True)],
            [m + a * g for m, g in zip(B, dB, strict=True)], {n: b[n] + a * db[n] for n in b},
            {n: e[n] + a * de[n] for n in e})


def _rk4_5(f, s, h, t):
    k1 = f(s, t)
    k2 = f(_axpy5(s, k1, h / 2), t + h / 2)
    k3 = f(_axpy5(s, k2, h / 2), t + h / 2)
    k4 = f(_axpy5(s, k3, h), t + h)
    out = s
    for k, a in ((k1, h / 6), (k2, h / 3), (k3, h / 3), (k4, h / 6)):
        out = _axpy5(out, k, a)
    return out


class SynapticDelayModel(DenseModel):
    """The same equations with a delay per synapse, integrated by explicit Euler on a grid
    ``h`` of which every delay is a multiple (so delayed values are read off the stored grid
    exactly; the error is O(h)).

    Extra edge keys: ``dW`` (delays of the ``W`` synapses, target × source) and ``dB`` (of the
    ``B`` synapses, source × target). Synapse ``W_ki`` sees ``r_i(t − dW_ki)``, ``B_ik`` sees
    ``eps_k(t − dB_ik)``; each learns from that delivered value and its own neuron's signal
    now. Error neurons are instantaneous. Before ``t = 0`` every neuron is at ``x0`` and every
    error at the error of that state (as the engines build them).
    """

    def integrate_schedule(self, schedule: list[tuple[float, dict]], T: float, h: float):
        """``schedule``: (time, {population: clamped values}) in time order, the first at 0."""
        pops, edges = self.pops, self.edges
        f = {n: activation(p["act"]).f_array for n, p in pops.items()}
        fp = {n: activation(p["act"]).fprime_array for n, p in pops.items()}
        x = {n: np.full(p["n"], float(p.get("x0", 0.0))) for n, p in pops.items()}
        W = [np.array(e["W"], dtype=float) for e in edges]
        B = [np.array(e["B"], dtype=float) for e in edges]
        b = {n: np.full(p["n"], float(p["prior"])) for n, p in pops.items()
             if p.get("prior") is not None}
        predicted = [n for n in pops if n in b or any(e["tgt"] == n for e in edges)]

        def steps(d):
            k = np.rint(np.asarray(d, dtype=float) / h).astype(int)
            assert np.allclose(k * h, d, rtol=0.0, atol=1e-12), "delays must be multiples of h"
            return k

        lag_w, lag_b = [steps(e["dW"]) for e in edges], [steps(e["dB"]) for e in edges]
        col_w = [np.broadcast_to(np.arange(w.shape[1]), w.shape) for w in W]
        col_b = [np.broadcast_to(np.arange(m.shape[1]), m.shape) for m in B]
        n_steps = int(round(T / h))
        rates = {n: np.empty((n_steps, p["n"])) for n, p in pops.items()}
        errors = {n: np.empty((n_steps, pops[n]["n"])) for n in predicted}

        def error_of(pre_r):
            eps = {}
            for n in predicted:
                mu = b.get(n, 0.0) + np.zeros(pops[n]["n"])
                for q, e in enumerate(edges):
                    if e["tgt"] == n:
                        mu = mu + (W[q] * pre_r[q]).sum(axis=1)
                eps[n] = (x[n] - mu) / pops[n]["var"]
            return eps

        def delayed(history, before, j, lag, col):
            i = j - lag
            return np.where(i >= 0, history[np.maximum(i, 0), col], before[col])

        r_before = {n: f[n](x[n]) for n in pops}
        e_before = error_of([np.broadcast_to(r_before[e["src"]], W[q].shape)
                             for q, e in enumerate(edges)])
        clamps, switches = dict(schedule[0][1]), list(schedule[1:])
        for n, v in clamps.items():
            x[n] = np.asarray(v, dtype=float).copy()
        for j in range(n_steps):
            if switches and j * h >= switches[0][0] - 1e-12:
                clamps = dict(switches.pop(0)[1])
                for n, v in clamps.items():
                    x[n] = np.asarray(v, dtype=float).copy()
            for n in pops:
                rates[n][j] = f[n](x[n])
            pre_r = [delayed(rates[e["src"]], r_before[e["src"]], j, lag_w[q], col_w[q])
                     for q, e in enumerate(edges)]
            eps = error_of(pre_r)
            for n in predicted:
                errors[n][j] = eps[n]
            pre_e = [delayed(errors[e["tgt"]], e_before[e["tgt"]], j, lag_b[q], col_b[q])
                     for q, e in enumerate(edges)]
            dx = {}
            for n, p in pops.items():
                if n in clamps:
                    continue
                drive = np.zeros(p["n"])
                for q, e in enumerate(edges):
                    if e["src"] == n:
                        drive = drive + (B[q] * pre_e[q]).sum(axis=1)
                dx[n] = (-eps.get(n, 0.0) + fp[n](x[n]) * drive) / p["tau"]
            for q, e in enumerate(edges):
                post_b = x[e["src"]] if e.get("raw") else rates[e["src"]][j]
                W[q] = W[q] + h * (e["eta_w"] * eps[e["tgt"]][:, None] * pre_r[q]
                                   - e["lam_w"] * W[q])
                B[q] = B[q] + h * (e["eta_b"] * post_b[:, None] * pre_e[q] - e["lam_b"] * B[q])
            for n in b:
                b[n] = b[n] + h * pops[n].get("eta_bias", 0.0) * eps[n]
            for n, d in dx.items():
                x[n] = x[n] + h * d
        return x, W, B, b
