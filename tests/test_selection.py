"""Parent selection strategies with a seeded random generator. No Docker, no model."""

import random
from collections import Counter

from evolarium.evolve.selection import Candidate, RandomSelection, ScoreChildSelection


def test_score_child_prefers_high_scores():
    candidates = [Candidate("low", 0.1, 0), Candidate("high", 0.9, 0)]
    rng = random.Random(0)
    picks = Counter(ScoreChildSelection().pick(candidates, rng).agent_id for _ in range(2000))
    # Weights are sigmoid(-4) = 0.018 and sigmoid(4) = 0.982.
    assert picks["high"] > 1900
    assert picks["low"] > 0


def test_score_child_penalises_children():
    candidates = [Candidate("parent", 0.5, 9), Candidate("fresh", 0.5, 0)]
    rng = random.Random(1)
    picks = Counter(ScoreChildSelection().pick(candidates, rng).agent_id for _ in range(2000))
    # Weights 0.5 / 10 and 0.5 / 1: "fresh" is ten times as likely.
    assert 1700 < picks["fresh"] < 1930


def test_score_child_single_candidate_all_zero():
    candidates = [Candidate("only", 0.0, 5)]
    assert ScoreChildSelection().pick(candidates, random.Random(2)).agent_id == "only"


def test_selection_same_seed_same_picks():
    candidates = [Candidate(str(i), i / 10, i % 3) for i in range(10)]
    for selection in (ScoreChildSelection(), RandomSelection()):
        first = [selection.pick(candidates, random.Random(7)).agent_id for _ in range(5)]
        second = [selection.pick(candidates, random.Random(7)).agent_id for _ in range(5)]
        assert first == second


def test_random_selection_covers_all():
    candidates = [Candidate(str(i), 0.0, 0) for i in range(4)]
    rng = random.Random(3)
    picks = {RandomSelection().pick(candidates, rng).agent_id for _ in range(200)}
    assert picks == {"0", "1", "2", "3"}
