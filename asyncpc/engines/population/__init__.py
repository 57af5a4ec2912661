"""The population engine (for scale): one SimPy process per population, vectors for the
neurons, matrices for the synapses, the same equations as the unit engine."""

from .network import PopulationNetwork

__all__ = ["PopulationNetwork"]
