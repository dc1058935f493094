"""The dependency graph behind recalculation: the cells that each formula reads."""

import heapq


class DependencyGraph:
    """For each formula cell, the cells it reads (its precedents)."""

    def __init__(self) -> None:
        self._precedents: dict[str, set[str]] = {}

    def set_precedents(self, cell: str, refs: set[str]) -> None:
        """Record that ``cell`` now reads exactly ``refs``."""
        if refs:
            self._precedents[cell] = set(refs)
        else:
            self._precedents.pop(cell, None)

    def precedents(self, cell: str) -> set[str]:
        return set(self._precedents.get(cell, ()))

    def dependents(self, cell: str) -> set[str]:
        """Return the cells whose formulas read ``cell`` directly."""
        return {other for other, refs in self._precedents.items() if cell in refs}

    def recalc_order(self, cell: str) -> list[str]:
        """Return every cell that depends on ``cell``, directly or not, in a safe order.

        Each cell comes after all the cells it reads, so one pass over the list recomputes
        the sheet. Ties go alphabetically, which keeps the order deterministic.
        """
        affected = self._all_dependents(cell)
        waiting = {other: len(self._precedents[other] & affected) for other in affected}
        ready = [other for other, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            current = heapq.heappop(ready)
            order.append(current)
            for dependent in self.dependents(current) & affected:
                waiting[dependent] -= 1
                if waiting[dependent] == 0:
                    heapq.heappush(ready, dependent)
        return order

    def creates_cycle(self, cell: str, refs: set[str]) -> bool:
        """Return True when letting ``cell`` read ``refs`` would make a cell depend on itself.

        That happens when ``cell`` is one of ``refs`` or when any of them already reads
        ``cell``, directly or through other cells.
        """
        seen: set[str] = set()
        stack = list(refs)
        while stack:
            current = stack.pop()
            if current == cell:
                return True
            if current in seen:
                continue
            seen.add(current)
            stack.extend(self._precedents.get(current, ()))
        return False

    def _all_dependents(self, cell: str) -> set[str]:
        found: set[str] = set()
        stack = [cell]
        while stack:
            for dependent in self.dependents(stack.pop()):
                if dependent not in found:
                    found.add(dependent)
                    stack.append(dependent)
        return found
