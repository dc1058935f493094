"""Export lists of row dicts to text formats, chosen by name."""

from exporters.builtin import register_builtins
from exporters.registry import (
    Registry,
    default_registry,
    export,
    get,
    names,
    register,
    unregister,
)

register_builtins(default_registry)

__all__ = [
    "Registry",
    "default_registry",
    "export",
    "get",
    "names",
    "register",
    "register_builtins",
    "unregister",
]
