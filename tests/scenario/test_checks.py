"""Each cross-key rule of asyncpc/checks.py, with a case that breaks it: the message names the
key path and what was expected. A rule added without a case here fails the first test."""

import copy

import pytest
from helpers import TINY, to_toml

from asyncpc import checks
from asyncpc.cli import main


def case(**changes):
    """TINY with nested changes: ``{"populations.input.n": 3}``-style keys (a list index as a
    number), ``None`` deletes."""
    data = copy.deepcopy(TINY)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = data
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        if value is None:
            del node[last]
        else:
            node[last] = value
    return data


TWO_EDGES = [{"source": "input", "target": "label", "eta_w": 0.01},
             {"source": "input", "target": "label"}]

#: rule → (scenario, key path: expected text)
CASES = {
    "population_names": (case(populations={"in.put": {"n": 2}, "label": {"n": 1}}),
                         "populations.in.put: expected a name without '.'"),
    "refresh_at_least_a_step": (case(populations__input__refresh=0.01),
                                "populations.input.refresh: expected a value ≥ dt = 0.05"),
    "stable_euler_step": (case(populations__input__dt=1.5),
                          "populations.input.dt: expected dt·(1 + jitter) ≤ variance·tau_x"),
    "network_fits_in_memory": (case(populations__input__n=10**6, populations__label__n=10**4),
                               "populations: the network has 20,000,000,000 synapses"),
    "edges_join_two_populations": (case(edges=TWO_EDGES),
                                   "edges.1: duplicate edge input -> label"),
    "explicit_weights_fit_the_edge": (case(edges__0__w_values=[[1.0, 2.0, 3.0]]),
                                      "edges.0.w_values: expected a 1×2 matrix, got 1×3"),
    "delay_grid_within_the_step": (case(run__engine="population",
                                        edges__0__delay_resolution=0.1),
                                   "edges.0.delay_resolution: expected a value ≤ 0.05"),
    "tied_edges_have_no_feedback_values": (case(edges__0__rule="tied",
                                                edges__0__b_values=[[1.0], [1.0]]),
                                           "edges.0.b_values: a tied edge has B = Wᵀ"),
    "clamps_name_populations_once": (case(evaluation__clamp=["input", "input"]),
                                     "evaluation.clamp.1: 'input' is listed twice"),
    "read_out_exists": (case(evaluation__readout="argmax"),
                        "evaluation.readout: argmax over the single neuron of 'label'"),
    "baseline_has_a_chain": (case(baseline={"kind": "backprop"}, data__input="label",
                                  data__label="input"),
                             "baseline.kind: expected a chain of edges from data.input 'label'"),
    "data_input_exists": (case(data__input="nowhere"),
                          "data.input: no population named 'nowhere'"),
    "recorded_neurons_exist": (case(record={"neurons": {"label": [3]}}),
                               "record.neurons.label: indices must be in [0, 1)"),
    "expected_values_match_recorded_neurons": (
        case(record={"neurons": {"label": [0]}, "expected": {"label": [1.0, 2.0]}}),
        "record.expected.label: expected one value per neuron"),
    "values_fit_their_populations": (
        case(data={"kind": "values", "values": {"input": [[1.0, 2.0, 3.0]], "label": [[1.0]]}}),
        "data.values.input: expected samples of 2 values, got 3"),
    "tasks_fit_the_label_head": (case(data__tasks=[[0, 1], [2, 3]]),
                                 "data.tasks: tasks split classes; expected data.kind digits"),
    "file_data_has_a_path": (case(data={"kind": "file"}), "data.path: missing"),
    "clamped_data_exists": (case(data={"kind": "none"}),
                            "stimulus.clamp: the stimulus clamps populations but data.kind"),
    "distributions_are_proper": (case(edges__0__w_init={"dist": "uniform", "low": 1.0,
                                                        "high": 0.0}),
                                 "edges.0.w_init: expected low ≤ high"),
    "delays_are_not_negative": (case(edges__0__delay={"dist": "normal", "mean": 0.01,
                                                      "std": 0.05}),
                                "edges.0.delay: a normal delay distribution with mean 0.01"),
}


def test_every_rule_has_a_case():
    assert [rule.__name__ for rule in checks.RULES] == list(CASES)


def test_the_base_of_the_cases_is_good(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(to_toml(TINY))
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("rule", list(CASES))
def test_each_rule_reports_its_case(tmp_path, capsys, rule):
    data, expected = CASES[rule]
    path = tmp_path / "s.toml"
    path.write_text(to_toml(data))
    code = main(["validate", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and f"{path}: {expected}" in err, err
