"""The phase-free predictive-coding equations of SPEC §1 in one compiled loop (numba).

A layered network ``input → hidden → label`` (input predicts hidden predicts label), stepped
by explicit Euler with one global step ``dt``: no delays, no send-on-delta, no clocks, no
sleeping. Inference and learning run together at every step, as in asyncpc's engines; the
weights integrate ``dw/dt = η post·pre − λ w`` exactly over each step. It is a floor and a
laboratory, not part of the package: it measures what the equations learn, and what a
local onset mechanism changes, in seconds instead of minutes.

Onset mechanisms (issue "Learn what has settled"; all local to a neuron or a synapse):

* ``jump``: a free representation neuron whose own prediction ``μ = x − σ² ε`` has moved by more
  than ``jump`` since its reference (a trace of μ with time constant ``jump_tau``) sets ``x ← μ``
  and its reference to μ;
* ``gate``: a synapse's learning rate is scaled by ``s² / (s² + v²)`` with ``v = τ_x |dε/dt|``
  the rate of change of the error signal at its site (``W``: its postsynaptic error neuron;
  ``B``: the error it receives) and ``s = gate``: the ``W`` and ``B`` of one error neuron see
  the same gate, so Kolen–Pollack's symmetry is kept;
* ``gate`` < 0: as ``gate`` with ``s = |gate|`` but ``v = τ_x |dx/dt|`` of the column's
  representation neuron for every synapse sitting on the column (``W`` on its error neuron,
  ``B`` on its representation neuron): clamped columns learn ungated;
* ``ff_start``: the diagnostic, not local: at each sample's onset every free neuron starts at
  its feed-forward prediction.

Usage: ``python benchmarks/pc_loop.py mnist1d --epochs 20 [--jump 0.01] [--gate -0.05] ...``;
``python benchmarks/pc_loop.py study OUT.json [EPOCHS_DIGITS [EPOCHS_MNIST1D]]`` runs the
grid of the onset study (both data sets at their shipped settings, each mechanism and none,
each feedback rule, three seeds, every signal one step late; two processes) and
``python benchmarks/pc_loop.py table OUT.json FIG.png`` prints its table and draws its figure.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from numba import njit

TIED, HEBBIAN, FIXED = 0, 1, 2
FEEDBACK = {"tied": TIED, "hebbian": HEBBIAN, "fixed": FIXED}


@njit(cache=True)
def _f(x, relu):
    return np.maximum(x, 0.0) if relu else x


@njit(cache=True)
def _fp(x, relu):
    return (x > 0.0) * 1.0 if relu else np.ones_like(x)


@njit(cache=True)
def _learn(w, post, pre, decay):
    """``w ← decay · w + post ⊗ pre`` in place."""
    for k in range(w.shape[0]):
        pk = post[k]
        for i in range(w.shape[1]):
            w[k, i] = decay * w[k, i] + pk * pre[i]


@njit(cache=True)
def _jump(x, ref, mu, eps, jump, trace):
    """The jump (``jump`` > 0) of every free neuron, in place: ``x ← mu`` (and its error 0)
    where ``|mu − ref| > jump``, else the reference follows ``mu`` by the fraction ``trace``."""
    if jump <= 0.0:
        return
    for k in range(len(x)):
        if abs(mu[k] - ref[k]) > jump:
            x[k] = mu[k]
            ref[k] = mu[k]
            eps[k] = 0.0
        else:
            ref[k] += (mu[k] - ref[k]) * trace


@njit(cache=True)
def train(xs, ys, order, W1, B1, W2, B2, b0, b1, b2, dt, tau, steps, eta_w, lam, eta_b0,
          eta_b, feedback, jump, jump_tau, gate, ff_start, relu_hidden, delay):
    """Present ``xs[order[j]]`` / ``ys[order[j]]`` for ``steps`` steps each, learning all the
    time; hidden and label start where the previous sample left them. Every signal between
    populations arrives ``delay`` steps late (at the synapses and in the currents alike).
    Returns the mean fraction of active hidden units in the feed-forward pass, per sample."""
    n_h, n_out = W1.shape[0], W2.shape[0]
    size = delay + 1
    ring_in = np.zeros((size, W1.shape[1]))  # r_in, r_h, eps_h, eps_o as sent, by step
    ring_h = np.zeros((size, n_h))
    ring_eh = np.zeros((size, n_h))
    ring_eo = np.zeros((size, n_out))
    step = 0
    h = np.zeros(n_h)
    ref = np.zeros(n_h)
    eps_h_prev = np.zeros(n_h)
    eps_o_prev = np.zeros(n_out)
    active = np.zeros(len(order))
    decay = np.exp(-lam * dt)
    g = eta_w * (1.0 - decay) / lam if lam > 0 else eta_w * dt
    trace = 1.0 - np.exp(-dt / jump_tau) if jump_tau > 0 else 1.0
    for j in range(len(order)):
        x_in = xs[order[j]]
        y = ys[order[j]]
        r_in = x_in
        ff = b1 + W1 @ r_in
        active[j] = np.mean(ff > 0.0) if relu_hidden else 1.0
        if ff_start:
            h = ff.copy()
        for _ in range(steps):
            now, then = step % size, (step + 1) % size  # then: sent delay steps ago
            step += 1
            ring_in[now] = r_in
            r_in_d = ring_in[then] if delay else r_in
            mu_h = b1 + W1 @ r_in_d
            eps_in = x_in - b0
            eps_h = h - mu_h
            _jump(h, ref, mu_h, eps_h, jump, trace)
            r_h = _f(h, relu_hidden)
            ring_h[now] = r_h
            r_h_d = ring_h[then] if delay else r_h
            mu_o = b2 + W2 @ r_h_d
            eps_o = y - mu_o
            ring_eo[now] = eps_o
            ring_eh[now] = eps_h
            eps_o_d = ring_eo[then] if delay else eps_o
            eps_h_d = ring_eh[then] if delay else eps_h
            drive = W2.T @ eps_o_d if feedback == TIED else B2 @ eps_o_d
            rate_h = _fp(h, relu_hidden) * drive - eps_h
            # gates from each postsynaptic neuron's own rate of change
            if gate < 0.0:  # the column's representation neuron's rate (clamped label: 1)
                s2 = gate * gate
                g_o = np.ones(n_out)
                g_h = s2 / (s2 + rate_h * rate_h)
            elif gate > 0.0:
                v_o = np.abs(eps_o - eps_o_prev) * (tau / dt)
                v_h = np.abs(eps_h - eps_h_prev) * (tau / dt)
                g_o = gate * gate / (gate * gate + v_o * v_o)
                g_h = gate * gate / (gate * gate + v_h * v_h)
            else:
                g_o = np.ones(n_out)
                g_h = np.ones(n_h)
            eps_o_prev = eps_o
            eps_h_prev = eps_h
            # learning over the step (exact for constant factors)
            _learn(W2, g * g_o * eps_o, r_h_d, decay)
            _learn(W1, g * g_h * eps_h, r_in_d, decay)
            if feedback == HEBBIAN:
                if gate < 0.0:  # B2 sits on hidden, B1 on the clamped input
                    _learn(B2, g * g_h * r_h, eps_o_d, decay)
                    _learn(B1, g * r_in, eps_h_d, decay)
                else:
                    _learn(B2, g * r_h, g_o * eps_o_d, decay)
                    _learn(B1, g * r_in, g_h * eps_h_d, decay)
            b0 += eta_b0 * dt * eps_in
            b1 += eta_b * dt * eps_h
            b2 += eta_b * dt * eps_o
            h = h + (dt / tau) * rate_h
    return active


@njit(cache=True)
def infer(xs, W1, B2, W2, b1, b2, dt, tau, steps, feedback, jump, jump_tau, relu_hidden):
    """Each sample on a frozen copy: hidden and label start at 0, input clamped, ``steps``
    steps; the label population's state."""
    n_h, n_out = W1.shape[0], W2.shape[0]
    out = np.zeros((len(xs), n_out))
    trace = 1.0 - np.exp(-dt / jump_tau) if jump_tau > 0 else 1.0
    for j in range(len(xs)):
        r_in = xs[j]
        h = np.zeros(n_h)
        o = np.zeros(n_out)
        ref_h = np.zeros(n_h)
        ref_o = np.zeros(n_out)
        for _ in range(steps):
            mu_h = b1 + W1 @ r_in
            eps_h = h - mu_h
            _jump(h, ref_h, mu_h, eps_h, jump, trace)
            r_h = _f(h, relu_hidden)
            mu_o = b2 + W2 @ r_h
            eps_o = o - mu_o
            _jump(o, ref_o, mu_o, eps_o, jump, trace)
            drive = W2.T @ eps_o if feedback == TIED else B2 @ eps_o
            h = h + (dt / tau) * (_fp(h, relu_hidden) * drive - eps_h)
            o = o + (dt / tau) * (-eps_o)
        out[j] = o
    return out


def angle(W, B):
    a, b = W.ravel(), B.T.ravel()
    c = a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-300)
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


def run(data="mnist1d", epochs=5, seed=0, feedback="hebbian", jump=0.0, jump_tau=1.0,
        gate=0.0, ff_start=False, eta=None, lam=None, std=0.005, presentation=2.0,
        hidden=None, dt=0.01, tau=0.1, settle=1.0, delay=0):
    from asyncpc import datasets
    train_set, test_set = datasets.digits() if data == "digits" else datasets.mnist1d()
    xs, ys = train_set.arrays["input"], train_set.arrays["label"]
    xt, yt = test_set.arrays["input"], test_set.arrays["label"]
    n_in, n_out = xs.shape[1], ys.shape[1]
    n_h = hidden or (32 if data == "digits" else 100)
    eta = eta if eta is not None else (0.005 if data == "digits" else 0.0015)
    lam = lam if lam is not None else (2e-5 if data == "digits" else 6e-6)
    eta_b = eta
    rng = np.random.default_rng(seed)
    def init(shape, fan_in):  # std > 0: normal(0, std); std = 0: uniform ±1/√fan-in
        if std > 0:
            return rng.normal(0, std, shape)
        return rng.uniform(-1, 1, shape) / np.sqrt(fan_in)
    W1, B1 = init((n_h, n_in), n_in), init((n_in, n_h), n_in)
    W2, B2 = init((n_out, n_h), n_h), init((n_h, n_out), n_h)
    b0, b1, b2 = np.zeros(n_in), np.zeros(n_h), np.zeros(n_out)
    fb = FEEDBACK[feedback]
    steps = int(round(presentation / dt))
    start = time.perf_counter()
    actives = []
    for _ in range(epochs):
        order = rng.permutation(len(xs))
        actives.append(float(np.mean(train(
            xs, ys, order, W1, B1, W2, B2, b0, b1, b2, dt, tau, steps, eta, lam, 0.01, eta_b,
            fb, jump, jump_tau, gate, ff_start, True, delay))))
    wall = time.perf_counter() - start
    out = infer(xt, W1, B2, W2, b1, b2, dt, tau, int(round(settle / dt)), fb, jump, jump_tau,
                True)
    acc = float(np.mean(out.argmax(1) == yt.argmax(1)))
    return {"data": data, "epochs": epochs, "seed": seed, "feedback": feedback, "jump": jump,
            "jump_tau": jump_tau, "gate": gate, "ff_start": ff_start, "delay": delay,
            "eta": eta, "lam": lam, "test": acc,
            "angle_in": angle(W1, B1), "angle_out": angle(W2, B2),
            "active": actives, "train_wall_s": wall}


#: the study's settings per data set: the shipped scenarios' (weights' initial scale, learning
#: rate and decay; 2 time units per sample, every signal one step late)
STUDY_DATA = {"digits": {"eta": 0.005, "std": 0.005, "lam": 2e-5},
              "mnist1d": {"eta": 0.003, "std": 0.0, "lam": 3e-5}}
#: the study's mechanisms: none, each alone, and the combination
STUDY_MECHANISMS = {"none": {}, "jump": {"jump": 0.01}, "gate": {"gate": -0.05},
                    "jump+gate": {"jump": 0.01, "gate": -0.05}}


def _study_one(job):
    data, mechanism, feedback, seed, epochs = job
    result = run(data, epochs, seed, feedback, delay=1, **STUDY_MECHANISMS[mechanism],
                 **STUDY_DATA[data])
    result["mechanism"] = mechanism
    print(json.dumps(result), flush=True)
    return result


def study(out: str, epochs: dict[str, int]) -> None:
    from multiprocessing import Pool
    jobs = [(d, m, f, s, epochs[d]) for d in STUDY_DATA for m in STUDY_MECHANISMS
            for f in ("tied", "hebbian", "fixed") for s in (0, 1, 2)]
    with Pool(2) as pool:
        results = pool.map(_study_one, jobs, chunksize=1)
    with open(out, "w") as fh:
        json.dump(results, fh, indent=1)


def table(path: str, figure: str | None = None) -> None:
    """The study's markdown table (mean ± spread over seeds) and figure."""
    with open(path) as fh:
        results = json.load(fh)
    groups: dict = {}
    for r in results:
        groups.setdefault((r["data"], r["mechanism"], r["feedback"]), []).append(r)
    print("| data | mechanism | feedback | held-out % (seeds 0, 1, 2) | mean | angle in / out (°) "
          "| active relu % (last epoch) | loop s |")
    print("|---|---|---|---|---|---|---|---|")
    for (data, mech, fb), rs in groups.items():
        accs = [100 * r["test"] for r in rs]
        angles = ("— (B ≡ Wᵀ)" if fb == "tied" else
                  f"{np.mean([r['angle_in'] for r in rs]):.0f} / "
                  f"{np.mean([r['angle_out'] for r in rs]):.1f}")
        print(f"| {data} | {mech} | {fb} | {', '.join(f'{a:.1f}' for a in accs)} | "
              f"{np.mean(accs):.1f} | {angles} | "
              f"{100 * np.mean([r['active'][-1] for r in rs]):.0f} | "
              f"{np.mean([r['train_wall_s'] for r in rs]):.0f} |")
    if figure:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
        mechs = list(STUDY_MECHANISMS)
        for ax, data in zip(axes, STUDY_DATA, strict=True):
            floor = min(100 * r["test"] for r in results if r["data"] == data)
            for j, fb in enumerate(("tied", "hebbian", "fixed")):
                means = [np.mean([100 * r["test"] for r in groups[(data, m, fb)]]) for m in mechs]
                lows = [min(100 * r["test"] for r in groups[(data, m, fb)]) for m in mechs]
                highs = [max(100 * r["test"] for r in groups[(data, m, fb)]) for m in mechs]
                xs = np.arange(len(mechs)) + (j - 1) * 0.27
                ax.bar(xs, means, 0.27, label=fb)
                ax.errorbar(xs, means, [np.subtract(means, lows), np.subtract(highs, means)],
                            fmt="none", ecolor="k", lw=1)
            ax.set_xticks(np.arange(len(mechs)), mechs)
            epochs = groups[(data, "none", "tied")][0]["epochs"]
            ax.set(title=f"{data}: held-out accuracy after {epochs} epochs (3 seeds)",
                   ylabel="accuracy (%)", ylim=(max(0.0, floor - 5.0), None))
            ax.legend(title="feedback", fontsize=7, loc="lower right")
        fig.tight_layout()
        fig.savefig(figure, dpi=110)


def main() -> None:
    import sys
    if len(sys.argv) > 1 and sys.argv[1] == "study":
        counts = [int(a) for a in sys.argv[3:5]] or [20, 20]
        return study(sys.argv[2], dict(zip(STUDY_DATA, counts + counts[-1:], strict=False)))
    if len(sys.argv) > 1 and sys.argv[1] == "table":
        return table(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("data", choices=["digits", "mnist1d"])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--feedback", choices=list(FEEDBACK), default="hebbian")
    p.add_argument("--jump", type=float, default=0.0)
    p.add_argument("--jump-tau", type=float, default=1.0)
    p.add_argument("--gate", type=float, default=0.0)
    p.add_argument("--ff-start", action="store_true")
    p.add_argument("--eta", type=float)
    p.add_argument("--lam", type=float)
    p.add_argument("--std", type=float, default=0.005)
    p.add_argument("--delay", type=int, default=0, help="steps every signal is late")
    a = p.parse_args()
    print(json.dumps(run(a.data, a.epochs, a.seed, a.feedback, a.jump, a.jump_tau, a.gate,
                         a.ff_start, a.eta, a.lam, a.std, delay=a.delay)))


if __name__ == "__main__":
    main()
