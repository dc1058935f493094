"""Orders in which targets can be built."""

import heapq

from deps.graph import Graph


class CycleError(ValueError):
    """Raised when targets depend on each other in a cycle.

    cycle starts and ends with the same target, and each target depends on the next.
    """

    def __init__(self, cycle: list[str]) -> None:
        super().__init__("dependency cycle: " + " -> ".join(cycle))
        self.cycle = cycle


def _required(graph: Graph, target: str) -> set[str]:
    required = set()
    pending = [target]
    while pending:
        current = pending.pop()
        if current not in required:
            required.add(current)
            pending.extend(graph.dependencies(current))
    return required


def _find_cycle(graph: Graph, targets: set[str]) -> list[str]:
    # Every target left over by Kahn's algorithm has a dependency that is also left over,
    # so following the first such dependency must revisit a target.
    current = min(targets)
    path: list[str] = []
    while current not in path:
        path.append(current)
        current = min(d for d in graph.dependencies(current) if d in targets)
    return path[path.index(current):] + [current]


def _ordered(graph: Graph, targets: set[str]) -> list[str]:
    """Order targets by Kahn's algorithm, taking the alphabetically first ready target."""
    waiting_on = {target: set(graph.dependencies(target)) for target in targets}
    dependents: dict[str, list[str]] = {target: [] for target in targets}
    for target, dependencies in waiting_on.items():
        for dependency in dependencies:
            dependents[dependency].append(target)

    ready = [target for target, dependencies in waiting_on.items() if not dependencies]
    heapq.heapify(ready)
    placed: list[str] = []
    while ready:
        target = heapq.heappop(ready)
        placed.append(target)
        for dependent in dependents[target]:
            waiting_on[dependent].discard(target)
            if not waiting_on[dependent]:
                heapq.heappush(ready, dependent)

    if len(placed) < len(targets):
        raise CycleError(_find_cycle(graph, targets - set(placed)))
    return placed


def build_order(graph: Graph) -> list[str]:
    """Return all targets, each after its dependencies, or raise CycleError on a cycle."""
    return _ordered(graph, set(graph.targets()))


def order_for(graph: Graph, target: str) -> list[str]:
    """Return the targets needed to build target, each after its dependencies.

    Raises KeyError for an unknown target and CycleError on a cycle.
    """
    if target not in graph.targets():
        raise KeyError(f"unknown target {target!r}")
    return _ordered(graph, _required(graph, target))
