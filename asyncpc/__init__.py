"""asyncpc: asynchronous, event-driven predictive-coding networks.

Every representation neuron, error neuron and synapse is an autonomous SimPy process; they
exchange delayed messages, and inference and learning run at the same time.
"""

from . import datasets  # noqa: E402
from ._version import __version__  # noqa: E402
from .datasets import Dataset  # noqa: E402
from .engines import ENGINES, Diverged, Engine, Network, PopulationNetwork  # noqa: E402
from .engines import build as build_network  # noqa: E402
from .evaluation import evaluate  # noqa: E402
from .launch import run  # noqa: E402
from .metrics import symmetry  # noqa: E402
from .model import Distribution, EdgeSpec, PopulationSpec, build_graph, rng_for  # noqa: E402
from .recording import Recorder  # noqa: E402
from .runner import RunResult  # noqa: E402
from .scenario import Scenario, ScenarioError  # noqa: E402
from .scenario import load as load_scenario  # noqa: E402
from .stimulus import Stimulus  # noqa: E402

__all__ = [
    "Dataset",
    "Distribution",
    "Diverged",
    "ENGINES",
    "EdgeSpec",
    "Engine",
    "Network",
    "PopulationNetwork",
    "PopulationSpec",
    "Recorder",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "Stimulus",
    "__version__",
    "build_graph",
    "build_network",
    "datasets",
    "evaluate",
    "load_scenario",
    "rng_for",
    "run",
    "symmetry",
]
