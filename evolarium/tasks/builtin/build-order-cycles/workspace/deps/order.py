"""Orders in which targets can be built."""

from deps.graph import Graph


class CycleError(ValueError):
    """Raised when targets depend on each other in a cycle."""

    def __init__(self, cycle: list[str]) -> None:
        super().__init__("dependency cycle: " + " -> ".join(cycle))
        self.cycle = cycle


def _visit(graph: Graph, target: str, placed: list[str]) -> None:
    for dependency in graph.dependencies(target):
        _visit(graph, dependency, placed)
    if target not in placed:
        placed.append(target)


def build_order(graph: Graph) -> list[str]:
    """Return all targets, each after its dependencies."""
    placed: list[str] = []
    for target in graph.targets():
        _visit(graph, target, placed)
    return placed


def order_for(graph: Graph, target: str) -> list[str]:
    """Return the targets needed to build target, each after its dependencies."""
    placed: list[str] = []
    _visit(graph, target, placed)
    return placed
