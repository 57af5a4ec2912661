"""How one network is split over processes: the partition by column, needing no MPI.

The unit of partitioning is a *column*: a representation neuron, its error neuron (if any) and
every synapse whose postsynaptic neuron is one of the two (the prediction synapses into the
error neuron, the error synapses into the representation neuron). Columns are taken in the
canonical order (populations in graph order, then by index) and cut into ``ranks`` contiguous
blocks of nearly equal cost (processes: synapses + neurons), so whole populations stay
together where they fit (:func:`partition`, shown by ``asyncpc show --ranks N``). The
lookahead is the shortest delay of any synapse whose two neurons are on different processes
(:mod:`~asyncpc.engines.unit.ranks` runs the windows it allows).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from ...model import NONLOCAL_RULES, EdgeSpec
from ..base import sampled_delays


class PartitionError(ValueError):
    """The network cannot be split as asked (message says why and what to change)."""


@dataclass(frozen=True)
class Partition:
    """Which rank runs each column.

    Attributes
    ----------
    ranks : number of processes.
    owner : ``{population: rank of each column}``.
    synapses, neurons : per rank.
    lookahead : the shortest delay between ranks (the window; ``inf`` if nothing crosses).
    crossing : synapses whose two neurons live on different ranks.
    """

    ranks: int
    owner: dict[str, np.ndarray]
    synapses: np.ndarray
    neurons: np.ndarray
    lookahead: float
    crossing: int = 0
    blocks: list[str] = field(default_factory=list)  # the columns of each rank, for ``show``

    def owned(self, name: str, rank: int) -> np.ndarray:
        return np.flatnonzero(self.owner[name] == rank)

    @property
    def imbalance(self) -> float:
        """Largest share of synapses over the mean share (1 = perfectly balanced)."""
        return float(self.synapses.max() / max(self.synapses.mean(), 1e-300))


def _columns(graph: nx.DiGraph) -> list[tuple[str, int, int, int]]:
    """``(population, index, synapses, neurons)`` of every column, in the canonical order."""
    out = []
    for name, data in graph.nodes(data=True):
        spec = data["spec"]
        has_errors = graph.in_degree(name) > 0 or spec.prior is not None
        into_errors = sum(graph.nodes[s]["spec"].n for s, _ in graph.in_edges(name))
        into_rep = sum(graph.nodes[t]["spec"].n for _, t in graph.out_edges(name))
        for k in range(spec.n):
            out.append((name, k, into_errors + into_rep, 2 if has_errors else 1))
    return out


def partition(graph: nx.DiGraph, ranks: int, seed: int) -> Partition:
    """Cut the columns into ``ranks`` contiguous blocks of nearly equal cost and check that the
    cut leaves a lookahead; raise :class:`PartitionError` when it cannot be done."""
    if ranks < 1:
        raise PartitionError(f"--ranks {ranks}: expected a positive number of processes")
    cols = _columns(graph)
    if ranks > len(cols):
        raise PartitionError(
            f"--ranks {ranks}: the network has {len(cols)} columns (a representation neuron "
            f"and its error neuron, with the synapses into them); it cannot be split over more "
            f"than {len(cols)} processes")
    assign = _cut(np.array([s + n for _, _, s, n in cols], dtype=float), ranks)
    owner = {name: np.zeros(data["spec"].n, dtype=int) for name, data in graph.nodes(data=True)}
    for (name, k, _, _), r in zip(cols, assign, strict=True):
        owner[name][k] = r
    synapses = np.bincount(assign, weights=[s for _, _, s, _ in cols], minlength=ranks)
    neurons = np.bincount(assign, weights=[n for _, _, _, n in cols], minlength=ranks)
    lookahead, crossing = _crossings(graph, owner, seed, ranks)
    blocks = [", ".join(f"{name}[{idx[0]}:{idx[-1] + 1}]" for name, o in owner.items()
                        if (idx := np.flatnonzero(o == r)).size) for r in range(ranks)]
    return Partition(ranks, owner, synapses, neurons, float(lookahead), crossing, blocks)


def _cut(cost: np.ndarray, ranks: int) -> np.ndarray:
    """The rank of each column: cut before the column where the running cost first reaches
    r/ranks of the total, leaving at least one column for every rank."""
    total = cost.sum()
    middle = np.cumsum(cost) - 0.5 * cost  # running cost at the middle of each column
    assign = np.zeros(len(cost), dtype=int)
    start = 0
    for r in range(1, ranks):
        cut = int(np.searchsorted(middle, total * r / ranks))
        cut = int(np.clip(cut, start + 1, len(cost) - (ranks - r)))
        assign[cut:] = r
        start = cut
    return assign


def _crossings(graph: nx.DiGraph, owner: dict[str, np.ndarray], seed: int, ranks: int
               ) -> tuple[float, int]:
    """The lookahead (shortest delay of a synapse between processes) and the number of such
    synapses; a tied edge or a zero delay across processes is a :class:`PartitionError`."""
    lookahead, crossing = np.inf, 0
    for _, _, data in graph.edges(data=True):
        spec: EdgeSpec = data["spec"]
        src, tgt = owner[spec.source], owner[spec.target]
        d_w, d_b = sampled_delays(spec, (tgt.size, src.size), seed)
        cross_w = tgt[:, None] != src[None, :]  # W: target × source
        if not cross_w.any():
            continue
        if spec.rule in NONLOCAL_RULES:
            raise PartitionError(
                f"edge {spec.name}: rule {spec.rule!r} reads the weight of a synapse on "
                f"another process (non-local); it cannot be split over {ranks} processes")
        crossing += 2 * int(cross_w.sum())
        low = min(float(d_w[cross_w].min()), float(d_b[cross_w.T].min()))
        if low <= 0.0:
            k, i = (np.argwhere(cross_w & (d_w <= 0.0)) if (d_w[cross_w] <= 0).any()
                    else np.argwhere(cross_w.T & (d_b <= 0.0))[:, ::-1])[0]
            raise PartitionError(
                f"edge {spec.name}: a zero delay crosses between processes (synapse of target "
                f"{k} and source {i}, ranks {tgt[k]} and {src[i]}): a split network needs "
                f"every delay between processes > 0 (set edges.{spec.name}.delay, or use fewer "
                f"ranks)")
        lookahead = min(lookahead, low)
    return lookahead, crossing
