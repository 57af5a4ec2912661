"""A generated bad-input suite: for every key of every section of a scenario file, values of
the wrong type, out of range or not among the choices, and an unknown key per table, each
written into a file and validated. Every case must end in one message naming the file and the
key path, with exit code 2 — never a traceback, never silent acceptance. The cases come from
the one declaration of each key (``asyncpc.scenario``: POPULATION, EDGE, DIST, SECTIONS), so a
key added there is covered here without a line of test."""

import pytest
from helpers import TINY as BASE
from helpers import literal, to_toml

from asyncpc import scenario as sc
from asyncpc.cli import main


def bad_values(key: sc.Key) -> list:
    """Values a key of this declaration must refuse."""
    kind, out = key.kind, []
    if kind == "int":
        out += ["x", 1.5, True]
        if key.min is not None:
            out.append(int(key.min) - 1)
        if key.max is not None:
            out.append(int(key.max) + 1)
    elif kind == "float":
        out += ["x", True, float("nan"), float("inf")]
        if key.min is not None:
            out.append(key.min - 1.0)
            if key.strict_min:
                out.append(float(key.min))
        if key.max is not None:
            out.append(key.max + 1.0)
    elif kind == "bool":
        out += ["yes", 1]
    elif kind == "str":
        out += [1]
        if key.choices:
            out.append("no_such_choice")
    elif kind == "list":
        out += ["x", [1, 2]]
    elif kind == "dist":
        out += ["x", {"dist": "no_such_distribution"}, {"dist": "constant", "bogus": 1.0}]
    elif kind == "matrix":
        out += ["x", [[1.0, 2.0], [3.0]], [["a"]]]
    elif kind == "table":
        out += ["x"]
    elif kind == "tasks":
        out += ["x", [[0], [0]], [[]]]
    return out


def cases():
    """(case id, scenario dict, key path the message must name)."""
    import copy
    out = []

    def add(where: str, path: str, mutate):
        data = copy.deepcopy(BASE)
        mutate(data)
        out.append(pytest.param(data, path, id=f"{path}={where}"))

    for name, key in sc.POPULATION.items():
        for v in bad_values(key):
            add(literal(v), f"populations.input.{name}",
                lambda d, name=name, v=v: d["populations"]["input"].__setitem__(name, v))
    for name, key in sc.EDGE.items():
        for v in bad_values(key):
            add(literal(v), f"edges.0.{name}",
                lambda d, name=name, v=v: d["edges"][0].__setitem__(name, v))
    for name, key in sc.DIST.items():
        for v in bad_values(key):
            add(literal(v), f"edges.0.w_init.{name}",
                lambda d, name=name, v=v: d["edges"][0].__setitem__(
                    "w_init", {"dist": "normal", "std": 0.1, name: v}))
    for section, schema in sc.SECTIONS.items():
        for name, key in schema.items():
            for v in bad_values(key):
                add(literal(v), f"{section}.{name}",
                    lambda d, s=section, name=name, v=v: d.setdefault(s, {}).__setitem__(name, v))
    for section in (*sc.SECTIONS, "populations.input", "edges.0"):
        def unknown(d, s=section):
            if s == "populations.input":
                d["populations"]["input"]["bogus_key"] = 1
            elif s == "edges.0":
                d["edges"][0]["bogus_key"] = 1
            else:
                d.setdefault(s, {})["bogus_key"] = 1
        add("unknown", f"{section}.bogus_key", unknown)
    return out


CASES = cases()


def test_the_suite_is_large_and_its_base_is_good(tmp_path, capsys):
    """At least 200 generated cases, and the base they all start from validates (so each case
    fails because of its one change)."""
    assert len(CASES) >= 200, len(CASES)
    path = tmp_path / "base.toml"
    path.write_text(to_toml(BASE))
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("data, keypath", CASES)
def test_a_bad_value_is_named_by_its_key(tmp_path, capsys, data, keypath):
    path = tmp_path / "s.toml"
    path.write_text(to_toml(data))
    code = main(["validate", str(path)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code == 2, f"accepted: {keypath}"
    assert f"{path}: {keypath}" in err, err
