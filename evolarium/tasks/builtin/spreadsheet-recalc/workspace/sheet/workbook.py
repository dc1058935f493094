"""A sheet of cells holding numbers or formulas such as "=A1+B1*2"."""

from numbers import Real

from sheet.formula import evaluate, parse_formula, references
from sheet.graph import DependencyGraph
from sheet.refs import normalize


class CycleError(ValueError):
    """Raised when a formula would make a cell depend on itself."""


class Sheet:
    """Cells by reference. Empty cells count as 0."""

    def __init__(self) -> None:
        self._contents: dict[str, object] = {}
        self._values: dict[str, float] = {}
        self._graph = DependencyGraph()

    def set(self, ref: str, content: float | str) -> None:
        """Store a number or a formula in ``ref`` and recompute the cells that depend on it.

        Raises CycleError, and leaves the sheet unchanged, when the formula would make a
        cell depend on itself.
        """
        cell = normalize(ref)
        tree = None
        refs: set[str] = set()
        if isinstance(content, str):
            if not content.startswith("="):
                raise ValueError(f"{cell}: expected a number or a formula starting with '='")
            tree = parse_formula(content[1:])
            refs = references(tree)
            if self._graph.creates_cycle(cell, refs):
                raise CycleError(f"{cell}: formula {content!r} refers back to {cell}")
        elif not isinstance(content, Real) or isinstance(content, bool):
            raise ValueError(f"{cell}: expected a number or a formula, got {content!r}")

        self._contents[cell] = tree if tree is not None else content
        self._graph.set_precedents(cell, refs)
        self._values[cell] = self._compute(cell)
        for dependent in self._graph.recalc_order(cell):
            self._values[dependent] = self._compute(dependent)

    def get(self, ref: str) -> float:
        """Return the current value of ``ref``."""
        return self._values.get(normalize(ref), 0)

    def _compute(self, cell: str) -> float:
        content = self._contents.get(cell, 0)
        if isinstance(content, tuple):
            return evaluate(content, lambda ref: self._values.get(ref, 0))
        return content
