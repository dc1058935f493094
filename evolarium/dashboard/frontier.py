"""The Pareto frontier of a run: agents that win at least one task, and a task-by-agent matrix."""

from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from evolarium.archive import Agent
from evolarium.archive.reader import locate_run, open_archive
from evolarium.dashboard import summary
from evolarium.dashboard.layout import Records
from evolarium.plural import counted

WIN_MARK = "*"


@dataclass(frozen=True)
class FrontierMatrix:
    """Scores of the frontier agents on each task, and which agents win each task."""

    run_id: str
    agents: list[Agent]
    """The frontier agents, oldest first."""
    scores: summary.RunScores

    def cell(self, agent_id: str, task_id: str) -> tuple[float | None, bool]:
        """Return (score or None when not evaluated, whether the agent wins the task)."""
        score = self.scores.table.get(agent_id, {}).get(task_id)
        return score, agent_id in self.scores.winners(task_id)

    def wins(self, agent_id: str) -> int:
        return sum(1 for task in self.scores.task_ids if agent_id in self.scores.winners(task))


def load_frontier(run_query: str) -> FrontierMatrix:
    """Read a run's scores and its frontier agents from the archive."""
    run_id, path = locate_run(run_query)
    archive = open_archive(path)
    try:
        archive.run(run_id)
        agents = archive.agents(run_id)
        scores = summary.run_scores(archive, run_id)
    finally:
        archive.close()
    on_frontier = set(scores.frontier)
    return FrontierMatrix(
        run_id=run_id, agents=[a for a in agents if a.id in on_frontier], scores=scores
    )


def frontier_view(run_query: str) -> RenderableType:
    """Render the frontier agents and the matrix of their wins."""
    matrix = load_frontier(run_query)
    if not matrix.scores.task_ids:
        return Text(f"run {matrix.run_id} has no evaluations yet, so it has no frontier")
    if not matrix.agents:
        return Text(f"run {matrix.run_id} has no frontier: no agent scores above 0 on any task")
    return Group(_agents_table(matrix), _matrix_table(matrix))


def _agents_table(matrix: FrontierMatrix) -> Records:
    table = Records(
        "agent",
        "gen",
        "operator",
        "mean",
        "wins",
        title=f"frontier of run {matrix.run_id}: {counted(len(matrix.agents), 'agent')}",
    )
    total = len(matrix.scores.task_ids)
    for agent in matrix.agents:
        table.add_row(
            agent.id,
            str(agent.generation),
            agent.operator,
            f"{matrix.scores.means.get(agent.id, 0.0):.2f}",
            f"{matrix.wins(agent.id)} of {total}",
        )
    return table


def _matrix_table(matrix: FrontierMatrix) -> Table:
    headers = summary.short_ids([agent.id for agent in matrix.agents])
    table = Table(
        "task",
        *(headers[agent.id] for agent in matrix.agents),
        title="scores on each task",
        caption=f"{WIN_MARK} marks the top score on a task; - is not evaluated",
    )
    for task in matrix.scores.task_ids:
        row: list[str | Text] = [task]
        for agent in matrix.agents:
            row.append(_matrix_cell(*matrix.cell(agent.id, task)))
        table.add_row(*row)
    return table


def _matrix_cell(score: float | None, wins: bool) -> Text:
    if score is None:
        return Text("-", style="dim")
    if wins:
        return Text(f"{score:.2f}{WIN_MARK}", style="bold green")
    return Text(f"{score:.2f} ", style="dim")
