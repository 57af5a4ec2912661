"""The world around the network, declared: the ``[run]``, ``[data]``, ``[stimulus]``,
``[evaluation]``, ``[record]`` and ``[baseline]`` sections of a scenario as typed, frozen
dataclasses.

Each field carries its :class:`Key` (type, default, range, meaning with unit), so one
declaration serves validation (:mod:`asyncpc.scenario`), the key tables of
docs/scenario-files.md and the runner, which reads
``scenario.sections.stimulus.presentation`` rather than nested dicts.
Populations and edges are declared the same way in :mod:`asyncpc.model`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class Key:
    """One scenario key: its type, default, allowed range and meaning (with unit)."""

    kind: str  # int, float, bool, str, choices, list, dist, matrix, table
    default: Any
    doc: str
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    strict_min: bool = False


POS = {"min": 0.0, "strict_min": True}
NONNEG = {"min": 0.0}


def key(kind: str, default: Any, doc: str, choices: tuple[str, ...] = (), **limits: Any) -> Any:
    """A dataclass field declared by its :class:`Key`."""
    spec = Key(kind, default, doc, choices, **limits)
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata={"key": spec})
    return field(default=default, metadata={"key": spec})


def schema(section: type) -> dict[str, Key]:
    """The declared keys of a dataclass (fields without a :class:`Key`, such as a population's
    name, are not keys), in declaration order."""
    return {f.name: f.metadata["key"] for f in fields(section) if "key" in f.metadata}


#: how an evaluation reads the answer off the read-out population (asyncpc.evaluation.score)
READOUTS = ("argmax", "threshold", "values")

DATA_KINDS = ("xor", "parity", "bars", "random", "teacher", "digits", "mnist1d", "file", "values",
              "none")


@dataclass(frozen=True)
class RunSection:
    name: str = key("str", "", "scenario name (default: file name)")
    description: str = key("str", "", "one line: what the scenario shows")
    seed: int = key("int", 0, "seed of every random stream", min=0)
    engine: str = key("str", "unit", "unit (one process per neuron and synapse, the reference) "
                      "or population (one process per population, for scale)",
                      ("unit", "population"))
    duration: float | None = key("float", None, "simulated time (default: the stimulus's "
                                 "duration)", **POS)
    max_energy: float = key("float", 1e8, "energy above which the run counts as diverged", **POS)
    max_memory_gb: float = key("float", 8.0, "refuse a network whose estimated memory exceeds "
                               "this (GB; raise it knowingly)", **POS)
    max_steps: float = key("float", 1e10, "refuse a run whose clock steps (every clock awake for "
                           "the whole run) would exceed this (raise it knowingly, or run with "
                           "--yes)", **POS)


@dataclass(frozen=True)
class DataSection:
    kind: str = key("str", "none", "data set: " + ", ".join(DATA_KINDS), DATA_KINDS)
    bits: int = key("int", 3, "parity: number of input bits (2^bits samples)", min=1, max=20)
    size: int = key("int", 4, "bars: grid side", min=2)
    count: int = key("int", 8, "random / teacher: number of samples", min=1)
    n: int = key("int", 16, "random: pattern length", min=1)
    n_in: int = key("int", 4, "teacher: inputs", min=1)
    n_hidden: int = key("int", 8, "teacher: hidden units", min=1)
    n_out: int = key("int", 2, "teacher: outputs", min=1)
    noise: float = key("float", 0.0, "teacher: output noise std", **NONNEG)
    test_count: int = key("int", 0, "teacher: held-out samples from the same teacher, scored "
                          "as accuracy.test (never presented); digits, mnist1d: how many of "
                          "the fixed test split to score (0 = all)", min=0)
    train_count: int = key("int", 0, "digits, mnist1d: how many of the fixed training split "
                           "to present (0 = all)", min=0)
    tasks: list = key("tasks", [], "digits, mnist1d: split the classes into tasks, e.g. "
                      "[[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]: only the listed classes are used, the "
                      "label head has one unit per position in the largest task and a class is "
                      "coded by its position in its task (here digit mod 5); the stimulus "
                      "alternates between the tasks (stimulus.rounds) and every evaluation also "
                      "scores each task's test samples")
    low: float = key("float", 0.0, "value of a binary 0")
    high: float = key("float", 1.0, "value of a binary 1")
    path: str = key("str", "", "file: .npz or .csv (relative to the scenario file)")
    keys: dict = key("table", {}, "file: array name (npz) or column slice 'a:b' (csv) per role")
    values: dict = key("table", {}, "values: population → list of samples (lists of numbers)")
    input: str = key("str", "input", "population receiving the data set's inputs")
    label: str = key("str", "label", "population receiving the data set's labels")


@dataclass(frozen=True)
class StimulusSection:
    clamp: list = key("list", [], "populations clamped while training")
    presentation: float = key("float", 40.0, "time each sample is held (time)", **POS)
    jitter: float = key("float", 0.0, "relative jitter of each presentation", min=0.0, max=0.99)
    epochs: int = key("int", 1, "passes over the data set (with data.tasks: over one task's "
                      "samples each time that task's turn comes)", min=0)
    rounds: int = key("int", 1, "repeats of the whole schedule; with data.tasks each round "
                      "presents task 1 for stimulus.epochs passes, then task 2, …", min=1)
    order: str = key("str", "shuffle", "sequential or shuffle", ("sequential", "shuffle"))
    reset: bool = key("bool", False, "reset free neurons to x0 at each new sample")


@dataclass(frozen=True)
class EvaluationSection:
    every: float = key("float", 0.0, "time between evaluations (0 = only at the end)", **NONNEG)
    clamp: list = key("list", [], "populations clamped when evaluating")
    read: str = key("str", "", "population read out (empty: no evaluation)")
    settle: float = key("float", 30.0, "settling time of the frozen copy (time)", **POS)
    train_count: int = key("int", 0, "how many training samples each evaluation scores as "
                           "accuracy.train: the first N of the training set (0 = all)", min=0)
    readout: str = key("str", "argmax", "argmax, threshold or values", READOUTS)
    threshold: float = key("float", 0.5, "threshold of the threshold read-out")
    generate: bool = key("bool", False, "also clamp each label and record what the network "
                         "generates at data.input (generated.npz, mean absolute error)")
    backprop: bool = key("bool", False, "at each evaluation also compare the settled PC weight "
                         "updates with backprop (feed-forward graphs: data.input → data.label), "
                         "averaged over the samples scored as accuracy.train")


@dataclass(frozen=True)
class RecordSection:
    every: float = key("float", 1.0, "sampling period of the recorders (time)", **POS)
    neurons: dict = key("table", {}, "population → list of neuron indices to record x, mu, eps")
    raster: int = key("int", 20000, "maximum number of emissions kept for the raster", min=0)
    raster_from: float = key("float", 0.0, "start recording the raster at this time (the "
                             "raster figure states the window it covers)", **NONNEG)
    zoom: int = key("int", 3, "with a stimulus: record the last N presentations densely "
                    "(energy, recorded neurons) for the zoomed figures (0 = none)", min=0)
    zoom_every: float = key("float", 0.0, "sampling period inside the zoom (time; 0 = "
                            "presentation / 50)", **NONNEG)
    expected: dict = key("table", {}, "population → the values its recorded neurons should "
                         "settle at (a closed form), drawn as reference lines in the activity "
                         "figure")


#: the baselines a run can train beside the network (asyncpc/baseline.py)
BASELINES = ("backprop", "sync_pc")


@dataclass(frozen=True)
class BaselineSection:
    kind: list = key("choices", [], "the baselines trained beside the network on the same "
                     "presented samples (chain data.input → data.label, same architecture, "
                     "initial weights and output energy, one update per presentation, scored "
                     "whenever the network is; asyncpc/baseline.py): backprop (gradient "
                     "descent), sync_pc (synchronous predictive coding: clamp, relax from the "
                     "forward pass, update), a list of both, or none", BASELINES + ("none",))
    eta: float = key("float", 0.1, "backprop's learning rate (per presentation)", **POS)
    pc_eta: float = key("float", 0.1, "sync_pc's learning rate (per presentation)", **POS)
    pc_steps: int = key("int", 20, "sync_pc's inference steps per presentation", min=0)
    pc_rate: float = key("float", 0.1, "sync_pc's inference step size (a fraction of tau_x)",
                         **POS)
    pc_feedback: str = key("str", "hebbian", "sync_pc's feedback weights: tied (B = Wᵀ, "
                           "non-local) or hebbian (learned, Kolen–Pollack)",
                           ("tied", "hebbian"))
    pc_lam: float = key("float", 0.0, "sync_pc's weight decay (per unit of eta, per "
                        "presentation)", **NONNEG)


#: the sections of a scenario that declare the world around the network, by TOML name
SECTION_TYPES: dict[str, type] = {"run": RunSection, "data": DataSection,
                                  "stimulus": StimulusSection, "evaluation": EvaluationSection,
                                  "record": RecordSection, "baseline": BaselineSection}


@dataclass(frozen=True)
class Sections:
    """The typed world sections of one resolved scenario."""

    run: RunSection
    data: DataSection
    stimulus: StimulusSection
    evaluation: EvaluationSection
    record: RecordSection
    baseline: BaselineSection

    @classmethod
    def from_resolved(cls, data: dict[str, Any]) -> Sections:
        return cls(**{name: section(**data[name]) for name, section in SECTION_TYPES.items()})
