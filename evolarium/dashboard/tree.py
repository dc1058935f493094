"""The lineage of a run as a rich tree."""

from rich.text import Text
from rich.tree import Tree

from evolarium.archive import Agent, Archive
from evolarium.archive.scores import frontier, mean_scores, score_table
from evolarium.plural import counted

STATUS_STYLES = {
    "evaluated": "green",
    "invalid": "red",
    "evaluating": "yellow",
    "pending": "dim",
    "duplicate": "cyan",
}


def lineage_tree(archive: Archive, run_id: str) -> Tree:
    """Build a tree of every agent in a run with its mean score and status."""
    run = archive.run(run_id)
    agents = archive.agents(run_id)
    table = score_table(archive.evaluations(run_id))
    task_ids = sorted({task for scores in table.values() for task in scores})
    means = mean_scores(table, task_ids)
    on_frontier = set(frontier(table, task_ids))
    tampered = {
        evaluation.agent_id for evaluation in archive.evaluations(run_id) if evaluation.tampering
    }

    root = Tree(Text(f"run {run.id}  suite {run.suite}  model {run.model}", style="bold"))
    children: dict[str | None, list[Agent]] = {}
    for agent in agents:
        children.setdefault(agent.parent_id, []).append(agent)

    def add(node: Tree, agent: Agent) -> None:
        branch = node.add(_label(agent, means, table, on_frontier, tampered))
        for child in children.get(agent.id, []):
            add(branch, child)

    for agent in children.get(None, []):
        add(root, agent)
    return root


def _label(
    agent: Agent, means: dict, table: dict, on_frontier: set[str], tampered: set[str]
) -> Text:
    label = Text(f"{agent.id}", style="bold")
    label.append(f"  gen {agent.generation}  {agent.operator}  ")
    label.append(agent.status, style=STATUS_STYLES.get(agent.status, ""))
    if agent.id in means:
        evaluated = len(table.get(agent.id, {}))
        label.append(f"  score {means[agent.id]:.2f} on {counted(evaluated, 'task')}")
    if agent.id in on_frontier:
        label.append("  frontier", style="cyan")
    if agent.id in tampered:
        label.append("  tampering", style="bold red")
    if agent.status == "invalid" and agent.reason:
        label.append(f"  ({agent.reason[:200]})", style="dim")
    return label
