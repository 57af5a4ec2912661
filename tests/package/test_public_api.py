"""The public surface: every name in ``asyncpc.__all__`` imports."""

import importlib

import asyncpc


def test_every_public_name_imports():
    for name in asyncpc.__all__:
        assert getattr(asyncpc, name) is not None


def test_modules_import_without_side_effects():
    for mod in ("activations", "model", "engines", "engines.base", "engines.unit.messages",
                "engines.unit.neurons", "engines.unit.synapses", "engines.unit.network",
                "engines.unit.partition", "engines.unit.ranks", "engines.population.synapses",
                "engines.population.neurons", "engines.population.network"):
        importlib.import_module(f"asyncpc.{mod}")


def test_both_engines_implement_the_whole_interface():
    """Every method the shared code calls is implemented by each engine (none falls through
    to the abstract base)."""
    from asyncpc.engines import ENGINES, Engine
    abstract = [name for name, value in vars(Engine).items()
                if callable(value) and getattr(value, "__code__", None) is not None
                and "NotImplementedError" in value.__code__.co_names]
    assert "clamp" in abstract and "weights" in abstract
    for cls in ENGINES.values():
        for name in abstract:
            assert getattr(cls, name) is not getattr(Engine, name), (cls.__name__, name)


def test_the_wheel_ships_every_subpackage_and_the_scenarios(tmp_path):
    """A non-editable install gets the engines and the shipped scenarios (package data), so
    `asyncpc run xor` works from any directory after `pip install .`."""
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    from asyncpc.scenario import shipped_scenarios
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(tmp_path), str(root)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("asyncpc-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in ("engines/base.py", "engines/unit/neurons.py", "engines/population/network.py"):
        assert f"asyncpc/{module}" in names
    shipped = {f"asyncpc/scenarios/{p.name}" for p in shipped_scenarios()}
    assert {"asyncpc/scenarios/xor.toml", "asyncpc/scenarios/digits.toml"} <= shipped <= names


def package_imports():
    """The package's own import graph: module → the asyncpc modules it imports (at the top or
    inside functions; not those for type annotations only), from the source."""
    import ast
    from pathlib import Path

    import networkx as nx
    root = Path(__file__).resolve().parents[2] / "asyncpc"
    mods = {}
    for p in root.rglob("*.py"):
        parts = list(p.relative_to(root.parent).with_suffix("").parts)
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    graph = nx.DiGraph()
    for name, path in mods.items():
        graph.add_node(name)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text())
        typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and getattr(block.test, "id", "") == "TYPE_CHECKING"
                       for n in ast.walk(block)}  # annotations only: never executed
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level and id(node) not in typing_only:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    graph.add_edge(name, sub if sub in mods else target)
    return graph


def test_the_package_has_no_import_circles():
    """Layers import downwards only (the command line above the run layer above the engines);
    a circle (runner ↔ mpi, sweep ↔ cluster, cli ↔ sweep were ones) makes a layer impossible
    to read, test or replace on its own."""
    import networkx as nx
    graph = package_imports()
    assert graph.has_edge("asyncpc.launch", "asyncpc.mpi")  # the graph sees real imports
    assert list(nx.simple_cycles(graph)) == []


def test_only_the_command_line_uses_argparse():
    from pathlib import Path
    root = Path(__file__).resolve().parents[2] / "asyncpc"
    users = sorted(p.name for p in root.rglob("*.py") if "import argparse" in p.read_text())
    assert users == ["cli.py"]


def test_declarations_do_not_load_the_simulators():
    """Checking a scenario file needs the declarations only: the scenario, its key
    declarations and cross-key rules, the model and the activations reach no engine (and so
    not SimPy) through their imports."""
    import networkx as nx
    graph = package_imports()
    for module in ("asyncpc.scenario", "asyncpc.sections", "asyncpc.checks", "asyncpc.model",
                   "asyncpc.activations"):
        reached = nx.descendants(graph, module)
        assert not any(m.startswith("asyncpc.engines") for m in reached), (module, reached)
    assert "asyncpc.engines.base" in nx.descendants(graph, "asyncpc.evaluation")  # it can fail


def test_imports_inside_functions_are_optional_dependencies_only():
    """Layers are visible from the top of each module: an import inside a function is kept
    only for an optional dependency (scikit-learn, mnist1d, Dask, MPI), imported when used."""
    import ast
    from pathlib import Path
    optional = {"sklearn", "mnist1d", "distributed", "mpi4py"}
    root = Path(__file__).resolve().parents[2] / "asyncpc"
    found = []
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and getattr(block.test, "id", "") == "TYPE_CHECKING"
                       for n in ast.walk(block)}
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in typing_only:
                    names = [a.name for a in node.names] if isinstance(node, ast.Import) else [
                        node.module or ""]
                    if node.__class__ is ast.ImportFrom and node.level:
                        names = ["asyncpc." + (node.module or "")]
                    if not any(n.split(".")[0] in optional for n in names):
                        found.append(f"{path.name}:{node.lineno} {names}")
    assert found == []
