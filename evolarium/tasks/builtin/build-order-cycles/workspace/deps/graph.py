"""Targets and the targets they depend on."""

from collections.abc import Iterable


class Graph:
    """Dependency graph in which dependencies never added as targets have none."""

    def __init__(self) -> None:
        self._edges: dict[str, list[str]] = {}

    def add(self, target: str, depends_on: Iterable[str] = ()) -> None:
        edges = self._edges.setdefault(target, [])
        for dependency in depends_on:
            if dependency not in edges:
                edges.append(dependency)
            self._edges.setdefault(dependency, [])

    def targets(self) -> list[str]:
        return list(self._edges)

    def dependencies(self, target: str) -> list[str]:
        return list(self._edges[target])
