"""Export lists of row dicts to text formats, chosen by name."""

from exporters import builtin  # noqa: F401  (registers the built-in formats)
from exporters.registry import export, get, names, register

__all__ = ["export", "get", "names", "register"]
