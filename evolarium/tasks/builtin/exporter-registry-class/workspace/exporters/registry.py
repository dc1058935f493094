"""The exporters by format name."""

from collections.abc import Callable

Exporter = Callable[[list[dict]], str]

_EXPORTERS: dict[str, Exporter] = {}


def register(name: str, func: Exporter | None = None):
    """Register ``func`` as the exporter for ``name``; without ``func``, act as a decorator.

    Raises ValueError when ``name`` is taken.
    """

    def add(exporter: Exporter) -> Exporter:
        if name in _EXPORTERS:
            raise ValueError(f"an exporter named {name!r} is already registered")
        _EXPORTERS[name] = exporter
        return exporter

    if func is None:
        return add
    return add(func)


def get(name: str) -> Exporter:
    """Return the exporter for ``name``; raise KeyError naming the known formats."""
    try:
        return _EXPORTERS[name]
    except KeyError:
        known = ", ".join(names()) or "none"
        raise KeyError(f"unknown export format {name!r}; known formats: {known}") from None


def names() -> list[str]:
    """Return the registered format names in alphabetical order."""
    return sorted(_EXPORTERS)


def export(name: str, rows: list[dict]) -> str:
    """Return ``rows`` rendered by the exporter for ``name``."""
    return get(name)(rows)
