"""Parent selection strategies, one small class each, chosen by name.

Each strategy reads a ScoreMatrix of the run's evaluated agents and a seeded
random generator, and returns the row of the parent it picks.
"""

import random
from typing import Protocol

from evolarium.evolve.selection.cmp import CmpSelection, clade_counts
from evolarium.evolve.selection.matrix import ScoreMatrix
from evolarium.evolve.selection.pareto import ParetoSelection, pareto_weights
from evolarium.evolve.selection.simple import BestSelection, RandomSelection, ScoreChildSelection


class Selection(Protocol):
    name: str

    def pick(self, matrix: ScoreMatrix, rng: random.Random) -> int: ...


SELECTIONS: dict[str, type] = {
    selection.name: selection
    for selection in (
        ScoreChildSelection,
        ParetoSelection,
        CmpSelection,
        BestSelection,
        RandomSelection,
    )
}


def make_selection(name: str) -> Selection:
    return SELECTIONS[name]()


__all__ = [
    "SELECTIONS",
    "BestSelection",
    "CmpSelection",
    "ParetoSelection",
    "RandomSelection",
    "ScoreChildSelection",
    "ScoreMatrix",
    "Selection",
    "clade_counts",
    "make_selection",
    "pareto_weights",
]
