"""asyncpc: asynchronous, event-driven predictive-coding networks.

Every representation neuron, error neuron and synapse is an autonomous SimPy process; they
exchange delayed messages, and inference and learning run at the same time.
"""

from .model import Distribution, EdgeSpec, PopulationSpec, build_graph, rng_for
from .network import Network

__version__ = "0.1.0"

__all__ = [
    "Distribution",
    "EdgeSpec",
    "Network",
    "PopulationSpec",
    "__version__",
    "build_graph",
    "rng_for",
]
