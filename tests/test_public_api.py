"""The public surface: every name in ``asyncpc.__all__`` imports."""

import importlib

import asyncpc


def test_every_public_name_imports():
    for name in asyncpc.__all__:
        assert getattr(asyncpc, name) is not None


def test_modules_import_without_side_effects():
    for mod in ("activations", "messages", "neurons", "synapses", "model", "network"):
        importlib.import_module(f"asyncpc.{mod}")
