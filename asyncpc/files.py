"""The files of a run directory, each named once (the contract of docs/cli.md).

A run directory holds the resolved scenario, the summary, the traces, what the network
generated (when evaluated), the figures in ``plots/``, and a marker written when the directory
is created (so that a run killed at any moment leaves a directory that ``--force`` and sweep
reruns recognise).
"""

SCENARIO = "scenario.toml"
SUMMARY = "summary.json"
TRACES = "traces.npz"
GENERATED = "generated.npz"
PLOTS_DIR = "plots"
MARKER = ".asyncpc-run"

#: the files whose presence makes a directory a finished (or interrupted) run's
RUN_FILES = (SUMMARY, TRACES, SCENARIO)
