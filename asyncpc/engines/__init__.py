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

ENGINES: dict[str, type[Engine]] = {"unit": Network, "population": PopulationNetwork}


def build(graph: nx.DiGraph, *, engine: str = "unit", **kwargs: Any) -> Engine:
    """Build the network of ``graph`` on the named engine (``"unit"`` or ``"population"``);
    keyword arguments as for :class:`~asyncpc.engines.unit.Network`."""
    try:
        cls = ENGINES[engine]
    except KeyError:
        raise ValueError(f"unknown engine {engine!r}; expected one of {sorted(ENGINES)}") from None
    return cls(graph, **kwargs)


__all__ = ["ENGINES", "Counters", "Diverged", "Engine", "Network", "PopulationNetwork",
           "build"]
