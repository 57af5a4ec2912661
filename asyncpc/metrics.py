"""Weight-transport symmetry metrics (pure numpy; observers only).

For an edge with prediction weights ``W`` (target × source) and feedback weights ``B``
(source × target), exact weight transport would be ``B = Wᵀ``.
"""

from __future__ import annotations

import numpy as np

from .activations import activation
from .baseline import Chain, descent, forward
from .stimulus import present

SYMMETRY_KEYS = ("angle_deg", "norm_diff", "rel_diff", "norm_w", "norm_b", "corr")


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle between two arrays seen as vectors (degrees; nan if either is zero).

    Kahan's formula ``2 atan2(‖a‖b‖ − b‖a‖‖, ‖a‖b‖ + b‖a‖‖)`` stays accurate for tiny angles,
    where ``arccos`` of the cosine loses half the digits (1e-6° instead of 0).
    """
    a, b = np.ravel(a).astype(float), np.ravel(b).astype(float)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0.0 or nb == 0.0:
        return float("nan")
    u, v = a * nb, b * na
    return float(np.degrees(2.0 * np.arctan2(np.linalg.norm(u - v), np.linalg.norm(u + v))))


def symmetry(W: np.ndarray, B: np.ndarray) -> dict[str, float]:
    """``angle_deg`` between W and Bᵀ, ``norm_diff`` ‖W − Bᵀ‖, ``rel_diff`` ‖W − Bᵀ‖/‖W‖,
    the norms ``norm_w``, ``norm_b``, and the Pearson correlation ``corr`` of the entries."""
    Bt = B.T
    diff = float(np.linalg.norm(W - Bt))
    norm_w, norm_b = float(np.linalg.norm(W)), float(np.linalg.norm(B))
    w, b = W.ravel(), Bt.ravel()
    corr = float(np.corrcoef(w, b)[0, 1]) if w.size > 1 and w.std() > 0 and b.std() > 0 \
        else float("nan")
    return {"angle_deg": angle_deg(W, Bt), "norm_diff": diff,
            "rel_diff": diff / norm_w if norm_w > 0 else float("nan"),
            "norm_w": norm_w, "norm_b": norm_b, "corr": corr}


def feedback_angle(W: np.ndarray, B: np.ndarray, eps: np.ndarray) -> float:
    """Angle between the error the source neurons receive (``B ε``) and the one exact weight
    transport would deliver (``Wᵀ ε``), for the target's current errors ``ε``."""
    return angle_deg(B @ eps, W.T @ eps)


def angle_bound_deg(diff0: float, norm_w: float, norm_b: float) -> float:
    """Kolen–Pollack bound without decay, as an angle (degrees).

    ``‖W‖ sin θ`` and ``‖B‖ sin θ`` are distances from one matrix to the line through the other,
    so ``sin θ ≤ ‖W − Bᵀ‖ / max(‖W‖, ‖B‖) = s`` with ``‖W − Bᵀ‖ = ‖W₀ − B₀ᵀ‖`` conserved. When
    ``s < 1`` the angle is also acute (an obtuse angle makes ‖W − Bᵀ‖ ≥ max(‖W‖, ‖B‖)), so
    ``θ ≤ arcsin s``; when ``s ≥ 1`` the bound says nothing (180).
    """
    s = diff0 / max(norm_w, norm_b)
    return float(np.degrees(np.arcsin(s))) if s < 1.0 else 180.0


def pc_vs_backprop(net, sample: dict[str, np.ndarray], *, source: str, target: str,
                   settle: float) -> dict[str, float]:
    """Compare the settled predictive-coding weight updates with backprop, on the same weights.

    A frozen copy of ``net`` (its own feedback weights B, whatever they are) is clamped to the
    sample at ``source`` (input) and ``target`` (output) and settles for ``settle`` time units;
    the PC update of each edge on the chain ``source → … → target`` is ``ε_t r_sᵀ``. Backprop
    runs in numpy on the same W and biases: the forward pass ``μ_k = b_k + W_k f(μ_{k−1})``,
    the loss ``Σ (y − μ_L)² / (2 σ²_L)``, and its negative gradient. Returns ``angle_deg``
    between the two (all edges concatenated) and ``rel_error`` ‖PC − BP‖/‖BP‖.
    """

    chain = Chain.of(net.graph, source, target)
    path, names = chain.populations, chain.edges
    copy = net.frozen_copy()
    present(copy, source, sample[source])
    present(copy, target, sample[target])
    copy.run(copy.now + settle)
    pc = [np.outer(copy.eps(b), copy.rates(a)) for a, b in zip(path, path[1:], strict=False)]
    acts = [activation(net.spec(p).activation) for p in path]
    W = [net.weights(name)[0] for name in names]
    mus = forward(sample[source], W, [net.bias(p) for p in path[1:]], acts)
    bp, _ = descent(mus, sample[target], W, acts, net.spec(target).variance)
    a = np.concatenate([u.ravel() for u in pc])
    b = np.concatenate([g.ravel() for g in bp])
    return {"angle_deg": angle_deg(a, b), "rel_error": float(np.linalg.norm(a - b)
                                                            / np.linalg.norm(b))}


def forgetting(t: np.ndarray, errors: np.ndarray, onsets: np.ndarray,
               tasks: np.ndarray) -> dict:
    """Continual-learning measures from test errors recorded at evaluation times.

    ``errors[k, i]`` is task ``k``'s test error at time ``t[i]``; task ``tasks[j]``'s turn
    starts at ``onsets[j]``. Returns ``mean_error`` (mean over the evaluations of the mean
    over tasks: "mean test error over training"), ``final_error`` (mean over tasks
    at the last evaluation) and ``final_error_per_task``, and ``interference``: at each switch
    (an onset after 0 where the task changes), the rise in the error of the task trained just
    before it, from the last evaluation at or before the switch to the first after it
    (``interference_per_switch``; their mean and maximum).
    """
    t, errors = np.asarray(t, float), np.atleast_2d(np.asarray(errors, float))
    rises = []
    for j in range(1, len(onsets)):
        s, resting = onsets[j], int(tasks[j - 1])
        if tasks[j] == resting:
            continue
        before, after = np.flatnonzero(t <= s), np.flatnonzero(t > s)
        if len(before) and len(after):
            rises.append(float(errors[resting, after[0]] - errors[resting, before[-1]]))
    return {"mean_error": float(errors.mean()),
            "final_error": float(errors[:, -1].mean()),
            "final_error_per_task": [float(e) for e in errors[:, -1]],
            "interference": float(np.mean(rises)) if rises else float("nan"),
            "interference_max": float(np.max(rises)) if rises else float("nan"),
            "interference_per_switch": rises}
