"""The two engines behind one interface (:class:`~asyncpc.engines.base.Engine`).

* ``unit`` (:mod:`.unit`, the reference): one SimPy process per neuron and per synapse;
* ``population`` (:mod:`.population`, for scale): one SimPy process per population, vectors
  and matrices inside, the same equations.

Shared code (the interface, counters, initial weights and delays) is in :mod:`.base`.
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from .base import Counters, Diverged, Engine
from .population import PopulationNetwork
from .unit import Network
from .unit.ranks import DistributedNetwork

ENGINES: dict[str, type[Engine]] = {"unit": Network, "population": PopulationNetwork}


def build(graph: nx.DiGraph, *, engine: str = "unit", ranks: int = 1, **kwargs: Any) -> Engine:
    """Build the network of ``graph`` on the named engine (``"unit"`` or ``"population"``);
    keyword arguments as for :class:`~asyncpc.engines.unit.Network`. ``ranks`` > 1 (unit
    engine, on rank 0 of that many MPI processes, the others serving): the network split over
    them (:class:`~asyncpc.engines.unit.ranks.DistributedNetwork`)."""
    try:
        cls = ENGINES[engine]
    except KeyError:
        raise ValueError(f"unknown engine {engine!r}; expected one of {sorted(ENGINES)}") from None
    if ranks > 1:
        if engine != "unit":
            raise ValueError(f"ranks > 1 needs the unit engine, not {engine!r}")
        net = DistributedNetwork(graph, **kwargs)
        if net.ranks != ranks:
            net.close()
            raise ValueError(f"ranks = {ranks}, but MPI has {net.ranks} processes")
        return net
    return cls(graph, **kwargs)


__all__ = ["ENGINES", "Counters", "Diverged", "Engine", "Network", "PopulationNetwork",
           "build"]
