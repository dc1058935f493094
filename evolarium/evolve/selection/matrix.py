"""The score matrix that every selection strategy reads: agents by tasks, NaN where missing."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ScoreMatrix:
    """Scores of the evaluated agents of a run, in creation order.

    ``scores[i, j]`` is agent i's score on task j in [0, 1], or NaN when agent i
    was not evaluated on task j. ``parents[i]`` is the row of agent i's parent,
    or -1 for a root or a parent that is not in the matrix.
    """

    agent_ids: tuple[str, ...]
    task_ids: tuple[str, ...]
    scores: np.ndarray
    parents: np.ndarray
    children: np.ndarray
    """Children made from each agent so far, valid or not."""

    @classmethod
    def build(
        cls,
        agent_ids: Sequence[str],
        task_ids: Sequence[str],
        scores: dict[str, dict[str, float]],
        parents: dict[str, str | None] | None = None,
        children: dict[str, int] | None = None,
    ) -> "ScoreMatrix":
        """Build a matrix from per-agent score mappings; agents keep the given order."""
        row = {agent: index for index, agent in enumerate(agent_ids)}
        column = {task: index for index, task in enumerate(task_ids)}
        matrix = np.full((len(agent_ids), len(task_ids)), np.nan)
        for agent, by_task in scores.items():
            if agent not in row:
                continue
            for task, score in by_task.items():
                if task in column:
                    matrix[row[agent], column[task]] = score
        parent_rows = np.array(
            [row.get((parents or {}).get(agent) or "", -1) for agent in agent_ids], dtype=np.int64
        )
        child_counts = np.array([(children or {}).get(agent, 0) for agent in agent_ids])
        return cls(tuple(agent_ids), tuple(task_ids), matrix, parent_rows, child_counts)

    def means(self) -> np.ndarray:
        """Mean score of each agent over all tasks; a missing evaluation counts as 0."""
        if not self.task_ids:
            return np.zeros(len(self.agent_ids))
        if np.isnan(self.scores).any():
            return np.nansum(self.scores, axis=1) / len(self.task_ids)
        return self.scores.mean(axis=1)
