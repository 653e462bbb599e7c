"""The package version: one owner, read by pyproject.toml (setuptools dynamic metadata) too."""
__version__ = "0.1.0"
