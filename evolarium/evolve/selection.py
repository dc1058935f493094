"""Parent selection strategies, each chosen by a short name."""

import math
import random
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Candidate:
    """An evaluated agent that may become a parent."""

    agent_id: str
    score: float
    """Mean score over the run's tasks, in [0, 1]."""
    children: int


class Selection(Protocol):
    def pick(self, candidates: list[Candidate], rng: random.Random) -> Candidate: ...


class ScoreChildSelection:
    """DGM: weight sigmoid(10 x (score - 0.5)) x 1 / (1 + number of children)."""

    def pick(self, candidates: list[Candidate], rng: random.Random) -> Candidate:
        weights = [
            1.0 / (1.0 + math.exp(-10.0 * (c.score - 0.5))) / (1.0 + c.children) for c in candidates
        ]
        return rng.choices(candidates, weights=weights, k=1)[0]


class RandomSelection:
    """Uniform over all evaluated agents."""

    def pick(self, candidates: list[Candidate], rng: random.Random) -> Candidate:
        return rng.choice(candidates)


SELECTIONS: dict[str, type] = {"score-child": ScoreChildSelection, "random": RandomSelection}


def make_selection(name: str) -> Selection:
    return SELECTIONS[name]()
