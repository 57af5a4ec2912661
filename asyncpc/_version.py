"""The package version, stated once (pyproject.toml reads it too)."""

__version__ = "0.1.0"
