"""The dependency graph behind recalculation: the cells that each formula reads."""


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
        """Return the cells to recompute after ``cell`` changes, in a safe order."""
        return sorted(self.dependents(cell))

    def creates_cycle(self, cell: str, refs: set[str]) -> bool:
        """Return True when letting ``cell`` read ``refs`` would make a cell depend on itself."""
        return cell in refs
