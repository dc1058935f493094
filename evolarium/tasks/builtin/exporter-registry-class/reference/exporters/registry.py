"""Exporters by format name, kept in Registry objects."""

from collections.abc import Callable

Exporter = Callable[[list[dict]], str]


class Registry:
    """A set of exporters, each under a unique format name."""

    def __init__(self) -> None:
        self._exporters: dict[str, Exporter] = {}

    def register(self, name: str, func: Exporter | None = None):
        """Register ``func`` as the exporter for ``name``; without ``func``, act as a decorator.

        Raises ValueError when ``name`` is taken.
        """

        def add(exporter: Exporter) -> Exporter:
            if name in self._exporters:
                raise ValueError(f"an exporter named {name!r} is already registered")
            self._exporters[name] = exporter
            return exporter

        if func is None:
            return add
        return add(func)

    def unregister(self, name: str) -> None:
        """Remove the exporter for ``name``; raise KeyError when there is none."""
        self.get(name)
        del self._exporters[name]

    def get(self, name: str) -> Exporter:
        """Return the exporter for ``name``; raise KeyError naming the known formats."""
        try:
            return self._exporters[name]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            raise KeyError(f"unknown export format {name!r}; known formats: {known}") from None

    def names(self) -> list[str]:
        """Return the registered format names in alphabetical order."""
        return sorted(self._exporters)

    def export(self, name: str, rows: list[dict]) -> str:
        """Return ``rows`` rendered by the exporter for ``name``."""
        return self.get(name)(rows)


# The registry behind the module-level functions, which older code calls.
default_registry = Registry()
register = default_registry.register
unregister = default_registry.unregister
get = default_registry.get
names = default_registry.names
export = default_registry.export
