"""Terminal views of archived runs and agents: `runs`, `show` and `calls`.

Every view opens archives read-only, so it is safe to run while a run writes.
"""

from pathlib import Path

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from evolarium.archive import Agent, Archive, Evaluation, Run
from evolarium.archive.location import ArchiveTarget, describe_target
from evolarium.archive.reader import locate_agent, open_archive
from evolarium.dashboard import summary
from evolarium.dashboard.layout import Records
from evolarium.dashboard.summary import format_time, format_usd
from evolarium.dashboard.tree import STATUS_STYLES
from evolarium.errors import ArchiveError
from evolarium.paths import runs_dir

OUTCOME_STYLES = {"ok": "green", "tampering": "bold red"}
ERROR_CHARS = 80


def runs_view(paths: list[ArchiveTarget]) -> RenderableType:
    """List the runs stored in ``paths``, SQLite files and PostgreSQL URLs. An archive
    that cannot be read gets an "unreadable" row, and a line below the table with the
    reason."""
    table = Records(
        "run",
        "status",
        "suite",
        "model",
        "best",
        "agents",
        "evals",
        "tokens",
        "cost",
        title=f"runs in {runs_dir()}",
    )
    problems: list[Text] = []
    for path in paths:
        try:
            rows = _run_rows(path)
        except ArchiveError as error:
            name = path.parent.name if isinstance(path, Path) else describe_target(path)
            table.add_row(name, Text("unreadable", style="bold red"))
            problems.append(Text(f"{name} is unreadable: {error}", style="red"))
            continue
        for row in rows:
            table.add_row(*row)
    if not paths:
        table.caption = "no runs yet: start one with `evolarium run`"
    return Group(table, *problems)


def _run_rows(path: ArchiveTarget) -> list[list[str | Text]]:
    archive = open_archive(path)
    try:
        return [_run_row(archive, run) for run in archive.runs()]
    finally:
        archive.close()


def _run_row(archive: Archive, run: Run) -> list[str | Text]:
    rows = summary.evaluations(archive, run.id)
    scores = summary.run_scores(archive, run.id, rows)
    best = scores.best()
    totals = summary.call_totals(archive, run.id)
    return [
        run.id,
        Text(run.status, style=_run_status_style(run.status)),
        run.suite,
        run.model,
        f"{best[1]:.2f}" if best else "-",
        str(len(archive.agents(run.id))),
        str(len(rows)),
        f"{totals.tokens:,}",
        totals.cost.describe(),
    ]


def _run_status_style(status: str) -> str:
    return {"finished": "green", "running": "yellow", "failed": "red", "stopped": "yellow"}.get(
        status, ""
    )


def show_agent(query: str) -> RenderableType:
    """Describe one agent: lineage, status, per-task scores, and the cost of its calls."""
    location = locate_agent(query)
    archive = open_archive(location.path)
    try:
        agents = {agent.id: agent for agent in archive.agents(location.run_id)}
        agent = agents[location.agent_id]
        scores = summary.run_scores(archive, location.run_id)
        own = summary.evaluations(archive, location.run_id, agent.id)
        totals = summary.call_totals(archive, location.run_id, agent.id)
    finally:
        archive.close()

    parts: list[RenderableType] = [_header(agent, agents, scores)]
    parts.append(_lineage_table(agent, agents, scores))
    parts.append(_scores_table(own, scores.task_ids))
    parts.extend(_tampering_lines(own))
    parts.append(_calls_line(totals))
    return Group(*parts)


def _header(agent: Agent, agents: dict[str, Agent], scores: summary.RunScores) -> Text:
    text = Text()
    text.append(f"agent {agent.id}", style="bold")
    text.append(f"  run {agent.run_id}\n")
    text.append(f"generation {agent.generation}, operator {agent.operator}, status ")
    text.append(agent.status, style=STATUS_STYLES.get(agent.status, ""))
    text.append("\n")
    if agent.reason:
        text.append("reason: ")
        text.append(agent.reason, style="red" if agent.status == "invalid" else "")
        text.append("\n")
    text.append(f"created {format_time(agent.created_at)} UTC, code {agent.code_hash[:12]}\n")
    if agent.id in scores.means:
        evaluated = len(scores.table[agent.id])
        text.append(
            f"mean score {scores.means[agent.id]:.2f} over the run's {len(scores.task_ids)} "
            f"tasks ({evaluated} evaluated)"
        )
        if agent.id in scores.frontier:
            text.append("  frontier", style="cyan")
        text.append("\n")
    children = [other.id for other in agents.values() if other.parent_id == agent.id]
    text.append(f"children: {', '.join(children) if children else 'none'}")
    if agent.parent_id:
        text.append(f"\ncode changes: evolarium diff {agent.parent_id} {agent.id}", style="dim")
    return text


def _lineage_table(agent: Agent, agents: dict[str, Agent], scores: summary.RunScores) -> Table:
    table = Table("gen", "agent", "operator", "status", "score", title="lineage, seed first")
    for ancestor in summary.lineage(agents, agent.id):
        score = scores.means.get(ancestor.id)
        marker = Text(ancestor.id, style="bold" if ancestor.id == agent.id else "")
        table.add_row(
            str(ancestor.generation),
            marker,
            ancestor.operator,
            Text(ancestor.status, style=STATUS_STYLES.get(ancestor.status, "")),
            "-" if score is None else f"{score:.2f}",
        )
    return table


def _scores_table(own: list[Evaluation], task_ids: list[str]) -> Records | Text:
    if not own:
        return Text("no evaluations", style="dim")
    table = Records(
        "task",
        "stage",
        "score",
        "tests",
        "outcome",
        "seconds",
        "calls",
        "tokens",
        title=f"scores on {len({e.task_id for e in own})} of {len(task_ids)} tasks",
    )
    for evaluation in own:
        outcome = Text(evaluation.outcome, style=OUTCOME_STYLES.get(evaluation.outcome, "yellow"))
        if evaluation.tampering and evaluation.outcome != "tampering":
            outcome = Text(f"{evaluation.outcome}, tampering", style="bold red")
        table.add_row(
            evaluation.task_id,
            evaluation.stage,
            f"{evaluation.score:.2f}",
            f"{evaluation.tests_passed}/{evaluation.tests_total}",
            outcome,
            f"{evaluation.duration_s:.1f}",
            str(evaluation.calls),
            f"{evaluation.tokens:,}",
        )
    return table


def _tampering_lines(own: list[Evaluation]) -> list[Text]:
    lines = []
    for evaluation in own:
        if evaluation.tampering:
            line = Text(f"tampering on {evaluation.task_id}: ", style="bold red")
            line.append(evaluation.tampering, style="red")
            lines.append(line)
    return lines


def _calls_line(totals: summary.CallTotals) -> Text:
    text = Text(
        f"model calls: {totals.calls}, tokens {totals.tokens:,} ({totals.prompt_tokens:,} "
        f"prompt + {totals.completion_tokens:,} completion), cost {totals.cost.describe()}"
    )
    unknown = totals.cost.unknown_calls
    if unknown:
        verb = "call has" if unknown == 1 else "calls have"
        text.append(f" ({unknown} {verb} no known price)", style="yellow")
    return text


def calls_table(query: str) -> RenderableType:
    """List the model calls of one agent: the operator calls that made it, its validation,
    and its evaluations."""
    location = locate_agent(query)
    archive = open_archive(location.path)
    try:
        rows = summary.calls(archive, location.run_id, location.agent_id)
    finally:
        archive.close()
    if not rows:
        return Text(f"agent {location.agent_id} made no model calls")

    table = Records(
        "id",
        "time",
        "purpose",
        "task",
        "model",
        "tokens in/out",
        "latency",
        "cost",
        "outcome",
        title=f"model calls of agent {location.agent_id} (run {location.run_id})",
    )
    for call in rows:
        table.add_row(
            str(call.id),
            call.started_at.strftime("%H:%M:%S") if call.started_at else "-",
            call.purpose,
            call.task_id or "-",
            call.model,
            f"{call.prompt_tokens:,}/{call.completion_tokens:,}",
            f"{call.latency_ms / 1000:.1f}s",
            "?" if call.cost_usd is None else format_usd(call.cost_usd),
            _call_outcome(call.outcome, call.error),
        )
    totals = summary.totals_of(rows)
    table.caption = (
        f"{totals.calls} calls, {totals.tokens:,} tokens, cost {totals.cost.describe()}"
        + ("; ? is a model with no known price" if totals.cost.unknown_calls else "")
    )
    return table


def _call_outcome(outcome: str, error: str | None) -> Text:
    if outcome in ("ok", "replayed"):
        return Text(outcome, style="green")
    if outcome == "truncated":
        return Text(outcome, style="yellow")
    text = Text(outcome, style="red")
    if error:
        first_line = error.strip().splitlines()[0] if error.strip() else ""
        text.append(f": {first_line[:ERROR_CHARS]}", style="dim")
    return text
