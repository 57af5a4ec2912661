"""The unit engine (the reference): one SimPy process per neuron and per synapse.

Where to find what: the neurons in :mod:`.neurons`, the synapses in :mod:`.synapses`, the
messages (channels, axons, local links, traces, and the site a synapse sees of its neuron) in
:mod:`.messages`, and the builder in :mod:`.network`.
"""

from .network import Network

__all__ = ["Network"]
