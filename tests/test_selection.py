"""Parent selection strategies on score matrices with a seeded random generator.

No Docker and no model. The Pareto strategy is checked against the sampling code
of the `gepa` package on the same matrices.
"""

import random
from collections import Counter

import numpy as np
import pytest
from gepa.gepa_utils import remove_dominated_programs
from hypothesis import given, settings
from hypothesis import strategies as st

from evolarium.evolve.selection import (
    SELECTIONS,
    BestSelection,
    CmpSelection,
    ParetoSelection,
    RandomSelection,
    ScoreChildSelection,
    ScoreMatrix,
    clade_counts,
    make_selection,
    pareto_weights,
)


def matrix_of(rows: list[list[float]], parents=None, children=None) -> ScoreMatrix:
    scores = np.array(rows, dtype=float).reshape(len(rows), -1)
    count = scores.shape[0]
    return ScoreMatrix(
        agent_ids=tuple(f"a{i}" for i in range(count)),
        task_ids=tuple(f"t{j}" for j in range(scores.shape[1])),
        scores=scores,
        parents=np.array(parents if parents is not None else [-1] * count),
        children=np.array(children if children is not None else [0] * count),
    )


def picks(selection, matrix: ScoreMatrix, draws: int, seed: int = 0) -> Counter:
    rng = random.Random(seed)
    return Counter(selection.pick(matrix, rng) for _ in range(draws))


def test_score_child_prefers_high_scores():
    counts = picks(ScoreChildSelection(), matrix_of([[0.1], [0.9]]), 2000)
    # Weights are sigmoid(-4) = 0.018 and sigmoid(4) = 0.982.
    assert counts[1] > 1900
    assert counts[0] > 0


def test_score_child_penalises_children():
    counts = picks(ScoreChildSelection(), matrix_of([[0.5], [0.5]], children=[9, 0]), 2000)
    # Weights 0.5 / 10 and 0.5 / 1: the agent without children is ten times as likely.
    assert 1700 < counts[1] < 1930


def test_best_breaks_ties_by_creation_order():
    matrix = matrix_of([[0.1, 0.1], [0.6, 0.0], [0.0, 0.6], [0.5, 0.0]])
    assert BestSelection().pick(matrix, random.Random(0)) == 1


def test_random_selection_covers_all():
    assert set(picks(RandomSelection(), matrix_of([[0.0]] * 4), 200)) == {0, 1, 2, 3}


def test_pareto_samples_by_tasks_won():
    # a0 wins t0 and t1, a1 wins t2, a2 wins nothing.
    matrix = matrix_of([[1.0, 0.9, 0.0], [0.0, 0.1, 0.8], [0.5, 0.5, 0.5]])
    assert pareto_weights(matrix).tolist() == [2, 1, 0]
    counts = picks(ParetoSelection(), matrix, 3000)
    assert counts[2] == 0
    assert 1850 < counts[0] < 2150


def test_pareto_removes_dominated_tie():
    # a0 and a1 tie on t0; a1 also wins t1, so a0 is dominated and dropped.
    matrix = matrix_of([[1.0, 0.0], [1.0, 1.0]])
    assert pareto_weights(matrix).tolist() == [0, 2]


def test_cmp_counts_whole_clade():
    # a0 -> a1 -> a2; a3 is a second root.
    matrix = matrix_of([[0.0, 0.0], [0.5, np.nan], [1.0, 1.0], [1.0, 0.0]], parents=[-1, 0, 1, -1])
    passes, failures = clade_counts(matrix)
    assert passes.tolist() == [2.5, 2.5, 2.0, 1.0]
    assert failures.tolist() == [2.5, 0.5, 0.0, 1.0]


def test_cmp_prefers_productive_clade():
    # a0 scores 0 itself but its child a1 solves everything; a2 is a barren root.
    rows = [[0.0] * 5, [1.0] * 5, [0.2] * 5]
    counts = picks(CmpSelection(), matrix_of(rows, parents=[-1, 0, -1]), 1000)
    assert counts[0] + counts[1] > 900


def test_cmp_expand_rule():
    selection = CmpSelection(alpha=0.5)
    assert selection.should_expand(agents=3, evaluations=16)
    assert not selection.should_expand(agents=5, evaluations=16)


def test_same_seed_same_picks():
    rows = [[i / 10, (9 - i) / 10] for i in range(10)]
    matrix = matrix_of(rows, parents=[-1] + list(range(9)), children=[i % 3 for i in range(10)])
    for name in SELECTIONS:
        first = [make_selection(name).pick(matrix, random.Random(7)) for _ in range(5)]
        second = [make_selection(name).pick(matrix, random.Random(7)) for _ in range(5)]
        assert first == second, name


# Property tests: any archive shape, for every strategy.

SCORE = st.one_of(st.floats(0.0, 1.0), st.just(0.0), st.just(1.0), st.just(float("nan")))


@st.composite
def matrices(draw, score=SCORE):
    agents = draw(st.integers(1, 12))
    tasks = draw(st.integers(1, 8))
    rows = [[draw(score) for _ in range(tasks)] for _ in range(agents)]
    parents = [-1] + [draw(st.integers(-1, i - 1)) for i in range(1, agents)]
    children = [draw(st.integers(0, 4)) for _ in range(agents)]
    return matrix_of(rows, parents, children)


@settings(max_examples=150, deadline=None)
@given(matrix=matrices(), seed=st.integers(0, 2**32))
def test_every_strategy_picks_a_row_and_changes_nothing(matrix, seed):
    before = matrix.scores.copy()
    for name in SELECTIONS:
        row = make_selection(name).pick(matrix, random.Random(seed))
        assert 0 <= row < len(matrix.agent_ids), name
    pareto_weights(matrix)
    clade_counts(matrix)
    np.testing.assert_array_equal(matrix.scores, before)


@pytest.mark.parametrize("rows", [[[0.0, 0.0]], [[0.0, 0.0]] * 5, [[1.0, 1.0]] * 3])
def test_pareto_all_equal_keeps_one(rows):
    # Every agent is on every front, so GEPA keeps only the last one in its order.
    weights = pareto_weights(matrix_of(rows))
    assert weights.tolist() == [0] * (len(rows) - 1) + [2]


def test_pareto_missing_evaluations():
    matrix = matrix_of([[np.nan, np.nan], [np.nan, 0.3]])
    assert pareto_weights(matrix).tolist() == [0, 1]
    assert ParetoSelection().pick(matrix, random.Random(0)) == 1
    empty = matrix_of([[np.nan], [np.nan]])
    assert pareto_weights(empty).tolist() == [0, 0]
    # With no front at all, every agent can be picked.
    picks = {ParetoSelection().pick(empty, random.Random(seed)) for seed in range(20)}
    assert picks == {0, 1}


def gepa_weights(matrix: ScoreMatrix) -> list[int]:
    """Run GEPA's own dominance removal on the fronts of ``matrix``; count fronts per agent."""
    fronts = {}
    for task in range(matrix.scores.shape[1]):
        column = matrix.scores[:, task]
        if np.isnan(column).all():
            continue
        best = np.nanmax(column)
        fronts[task] = {row for row, value in enumerate(column) if value == best}
    # GEPA orders equal means by first appearance in its fronts; evolarium by creation
    # order. A tiny step per row gives gepa evolarium's order, so that only the
    # dominance removal itself is compared.
    means = (matrix.means() + np.arange(len(matrix.agent_ids)) * 1e-9).tolist()
    reduced = remove_dominated_programs(fronts, scores=dict(enumerate(means)))
    counts = Counter(row for front in reduced.values() for row in front)
    return [counts.get(row, 0) for row in range(len(matrix.agent_ids))]


@settings(max_examples=200, deadline=None)
@given(matrix=matrices(score=st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.just(float("nan")))))
def test_pareto_matches_gepa(matrix):
    assert pareto_weights(matrix).tolist() == gepa_weights(matrix)
