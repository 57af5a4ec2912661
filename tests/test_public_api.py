"""The public surface: every name in ``asyncpc.__all__`` imports."""

import importlib

import asyncpc


def test_every_public_name_imports():
    for name in asyncpc.__all__:
        assert getattr(asyncpc, name) is not None


def test_modules_import_without_side_effects():
    for mod in ("activations", "model", "engines", "engines.base", "engines.unit.messages",
                "engines.unit.neurons", "engines.unit.synapses", "engines.unit.network",
                "engines.population.network"):
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
