"""Dashboard panels as rich renderables, so a terminal, a file and a test render the same.

Each panel takes a RunState and caps the rows it draws, so one frame of a run
with thousands of agents and hundreds of tasks renders quickly.
"""

from datetime import UTC, datetime

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from evolarium.dashboard.outline import Outline, build_outline, outline_rows
from evolarium.dashboard.state import RunState
from evolarium.plural import counted

COMPACT_WIDTH = 80
"""Below this many columns the dashboard uses its one-column compact layout."""
WIDE_WIDTH = 120
"""From this many columns the dashboard puts the tree and the other panels side by side."""
SANDBOX_DETAIL_WIDTH = 90
"""Columns a sandboxes panel needs to show container names too."""
SPARK_CHARS = "▁▂▃▄▅▆▇█"
BAR_CHARS = " ▏▎▍▌▋▊▉█"
STATUS_STYLES = {
    "evaluated": "green",
    "invalid": "red",
    "evaluating": "yellow",
    "pending": "dim",
    "duplicate": "cyan",
}
EVENT_STYLES = {
    "generation_finished": "bold green",
    "generation_started": "bold",
    "agent_invalid": "yellow",
    "stage_failed": "yellow",
    "evaluation_finished": "",
}
BUDGET_KEYS = {
    "dollars": ("usd", "dollars", "cost_usd", "max_usd"),
    "tokens": ("tokens", "max_tokens"),
    "model calls": ("calls", "max_calls"),
    "evaluations": ("evaluations", "max_evaluations"),
    "wall time": ("wall_s", "wall_seconds", "seconds", "max_seconds"),
}
"""Keys of the run configuration's ``budget`` object that set each limit."""


# Text helpers


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"


def format_clock(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%H:%M:%S")


def format_count(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1_000:.0f}k"
    return f"{value:,.0f}"


def sparkline(values: list[float | None], width: int) -> str:
    """Draw the last ``width`` values in [0, 1] as block characters; None draws a space."""
    cells = []
    for value in values[-width:]:
        if value is None:
            cells.append(" ")
        else:
            level = round(min(max(value, 0.0), 1.0) * (len(SPARK_CHARS) - 1))
            cells.append(SPARK_CHARS[level])
    return "".join(cells)


def bar(value: float, width: int) -> str:
    """Draw a value in [0, 1] as a horizontal bar of ``width`` cells, in eighths."""
    eighths = round(min(max(value, 0.0), 1.0) * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (BAR_CHARS[part] if part else "")
    return text.ljust(width)


# Agents


def agent_label(state: RunState, agent_id: str, *, compact: bool = False) -> Text:
    """Build an agent's one-line label: id, generation, operator, score, wins and status."""
    agent = state.agents[agent_id]
    label = Text(agent.id, style="bold")
    label.append(f" g{agent.generation}")
    if not compact:
        label.append(f" {agent.operator}", style="dim")
    mean = state.means.get(agent_id)
    if mean is not None:
        label.append(f" {mean:.2f}")
    wins = state.wins.get(agent_id, 0)
    if wins:
        label.append(f" won {wins}", style="cyan")
    label.append(f" {agent.status}", style=STATUS_STYLES.get(agent.status, ""))
    if agent_id in state.on_frontier:
        label.append(" frontier", style="bold cyan")
    if agent_id in state.tampered:
        label.append(" tampering", style="bold red")
    if agent.status == "invalid" and agent.reason and not compact:
        label.append(f" ({agent.reason.splitlines()[0][:60]})", style="dim")
    return label


def summary_label(outline: Outline, hidden: list[str], state: RunState) -> Text:
    """Build the label of a row that stands for collapsed children."""
    total = outline.hidden_count(hidden)
    best = max((state.means.get(agent, 0.0) for agent in hidden), default=0.0)
    text = Text(f"… {len(hidden)} more children", style="dim")
    if total > len(hidden):
        text.append(f", {total} agents in their subtrees", style="dim")
    text.append(f", best child {best:.2f}", style="dim")
    return text


def tree_panel(
    state: RunState, *, max_rows: int = 30, outline: Outline | None = None, compact: bool = False
) -> Panel:
    """Draw the lineage, capped at ``max_rows`` rows."""
    outline = outline or build_outline(state, max_rows=max_rows)
    lines = Text(no_wrap=True, overflow="ellipsis")
    shown = 0
    rows = outline_rows(outline)
    for row in rows:
        if shown == max_rows:
            remaining = 1 + sum(1 for _ in rows)
            lines.append(f"… {remaining} more rows", style="dim")
            break
        if shown:
            lines.append("\n")
        lines.append(row.prefix, style="dim")
        if row.agent_id is None:
            lines.append_text(summary_label(outline, row.hidden, state))
        else:
            lines.append_text(agent_label(state, row.agent_id, compact=compact))
        shown += 1
    if not state.agents:
        lines.append("no agents yet", style="dim")
    title = f"agents ({len(state.agents)}, {len(outline.shown)} shown)"
    return Panel(lines, title=title, title_align="left", border_style="blue")


# Pareto frontier


def frontier_panel(state: RunState, *, max_rows: int = 12, width: int = 80) -> Panel:
    """Draw which frontier agents win which tasks as a matrix, one column per task."""
    tasks = [task for task in state.task_ids if state.winners.get(task)]
    unsolved = len(state.task_ids) - len(tasks)
    label_width = 22
    columns = max(1, width - label_width - 6)
    shown_tasks = tasks[:columns]
    agents = sorted(state.frontier, key=lambda a: (-state.wins.get(a, 0), -state.means.get(a, 0)))

    body = Text(no_wrap=True, overflow="crop")
    if not agents:
        body.append("no frontier yet: no agent has a score above 0 on any task", style="dim")
        return Panel(body, title="Pareto frontier", title_align="left", border_style="cyan")
    body.append(" " * label_width + _column_ruler(len(shown_tasks)), style="dim")
    for agent_id in agents[:max_rows]:
        wins = state.wins.get(agent_id, 0)
        mean = state.means.get(agent_id, 0.0)
        body.append(f"\n{agent_id[:10]:<10} {wins:>4} {mean:>5.2f} ")
        body.append_text(_win_cells(state, agent_id, shown_tasks))
    notes = []
    if len(agents) > max_rows:
        notes.append(f"+{len(agents) - max_rows} more agents")
    if len(tasks) > len(shown_tasks):
        notes.append(f"+{len(tasks) - len(shown_tasks)} more tasks")
    if unsolved:
        notes.append(f"{unsolved} tasks with no score above 0")
    notes.append("columns: solved tasks in run order; █ best, ▒ above 0, · 0")
    legend = Text("; ".join(notes), style="dim")
    title = f"Pareto frontier ({counted(len(agents), 'agent')}, wins, mean)"
    return Panel(Group(body, legend), title=title, title_align="left", border_style="cyan")


def _column_ruler(count: int) -> str:
    """Mark every tenth column with its number, counting from 1."""
    cells = [" "] * count
    for start in range(0, count, 10):
        label = str(start + 1)
        for offset, char in enumerate(label):
            if start + offset < count:
                cells[start + offset] = char
    return "".join(cells)


def _win_cells(state: RunState, agent_id: str, tasks: list[str]) -> Text:
    scores = state.scores.get(agent_id, {})
    cells = Text()
    for task in tasks:
        if agent_id in state.winners[task]:
            cells.append("█", style="cyan")
        elif scores.get(task, 0.0) > 0.0:
            cells.append("▒", style="dim")
        else:
            cells.append("·", style="dim")
    return cells


# Sandboxes


def sandboxes_panel(state: RunState, *, max_rows: int = 10, compact: bool = False) -> Panel:
    """List what runs now: containers from Docker labels, or evaluations inferred from rows."""
    table = Table(box=None, padding=(0, 1), expand=True, show_edge=False)
    table.add_column("sandbox", no_wrap=True, min_width=5)
    table.add_column("agent", no_wrap=True, min_width=9)
    table.add_column("task", no_wrap=True, overflow="ellipsis", ratio=1)
    table.add_column("elapsed", justify="right", no_wrap=True, min_width=7)
    if not compact:
        table.add_column("container", no_wrap=True, overflow="ellipsis", style="dim")

    for row in state.sandboxes[:max_rows]:
        cells = [
            row.purpose,
            row.agent_id or "-",
            row.task_id or "-",
            format_duration(state.now - row.started),
        ]
        if not compact:
            cells.append(row.name or "-")
        table.add_row(*cells)

    if not state.running:
        caption = f"none: the run is {state.status}" + (
            " (its process has ended)" if state.owner_gone else ""
        )
    elif state.sandbox_source == "docker":
        caption = f"{len(state.sandboxes)} containers, from Docker labels"
    else:
        caption = f"{len(state.sandboxes)} in flight, inferred from the archive (no Docker)"
    if len(state.sandboxes) > max_rows:
        caption += f"; +{len(state.sandboxes) - max_rows} more"
    body = Group(table, Text(caption, style="dim")) if state.sandboxes else Text(caption, "dim")
    return Panel(body, title="running sandboxes", title_align="left", border_style="magenta")


# Budget


def budget_limits(config: dict) -> dict[str, float]:
    """Read limits from the run configuration's ``budget`` (an object, or a dollar number)."""
    budget = config.get("budget")
    if isinstance(budget, int | float) and not isinstance(budget, bool):
        return {"dollars": float(budget)}
    if not isinstance(budget, dict):
        return {}
    limits = {}
    for metric, keys in BUDGET_KEYS.items():
        for key in keys:
            value = budget.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
                limits[metric] = float(value)
                break
    return limits


def budget_panel(state: RunState, *, bar_width: int = 20) -> Panel:
    """Show dollars, tokens, calls, evaluations and wall time against their limits, and the
    rates of evaluations and model calls."""
    limits = budget_limits(state.config)

    dollars = f"${state.cost_usd:.4f}"
    if state.unpriced_calls:
        dollars += f" +{state.unpriced_calls} unpriced"
    # As the budget counts them: calls refused or rejected before a model are left out.
    charged_calls = state.call_count - state.uncharged_calls
    calls = format_count(charged_calls)
    if state.uncharged_calls:
        calls += f" +{format_count(state.uncharged_calls)} refused or rejected"
    used = {
        "dollars": (state.cost_usd, dollars),
        "tokens": (state.tokens, format_count(state.tokens)),
        "model calls": (charged_calls, calls),
        "evaluations": (state.evaluation_count, format_count(state.evaluation_count)),
        "wall time": (state.wall_seconds(), format_duration(state.wall_seconds())),
    }

    table = Table(box=None, padding=(0, 1), show_header=False, expand=False)
    table.add_column("metric", style="bold", no_wrap=True)
    table.add_column("used", justify="right", no_wrap=True)
    table.add_column("bar", no_wrap=True)
    table.add_column("limit", no_wrap=True)
    for metric, (value, shown) in used.items():
        limit = limits.get(metric)
        if limit is None:
            table.add_row(metric, shown, Text("no limit", style="dim"), "")
            continue
        fraction = value / limit
        style = "green"
        if fraction >= 1:
            style = "red"
        elif fraction >= 0.8:
            style = "yellow"
        meter = Text("[", style="dim").append(bar(fraction, bar_width), style=style)
        meter.append("]", style="dim")
        table.add_row(metric, shown, meter, f"of {limit:g} ({fraction:.0%})")

    rates = Text(
        f"{state.rate_per_minute(state.evaluation_times):.1f} evaluations/min, "
        f"{state.rate_per_minute(state.call_times):.1f} model calls/min "
        + ("(last 5 min)" if state.running else "(whole run)"),
        style="dim",
    )
    return Panel(Group(table, rates), title="budget", title_align="left", border_style="green")


# Generations


def generations_panel(state: RunState, *, width: int = 60, max_rows: int = 6) -> Panel:
    """Chart the best and mean score of each generation, with the latest ones as bars."""
    stats = state.generations
    if not stats:
        body: RenderableType = Text("no agents yet", style="dim")
        return Panel(body, title="scores by generation", title_align="left")
    spark_width = max(8, width - 16)
    best = [row.best for row in stats]
    mean = [row.mean for row in stats]
    lines = Text(no_wrap=True)
    lines.append("best ", style="bold")
    lines.append(sparkline(best, spark_width), style="green")
    lines.append(f" {_score(best[-1])}\n")
    lines.append("mean ", style="bold")
    lines.append(sparkline(mean, spark_width), style="yellow")
    lines.append(f" {_score(mean[-1])}")
    if len(stats) > spark_width:
        lines.append(f"\nthe last {spark_width} of {len(stats)} generations", style="dim")

    table = Table(box=None, padding=(0, 1), expand=False)
    for name in ("gen", "agents", "best", "mean"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("best score", no_wrap=True)
    bar_width = max(4, min(24, width - 34))
    for row in stats[-max_rows:]:
        table.add_row(
            str(row.generation),
            f"{row.evaluated}/{row.agents}",
            _score(row.best),
            _score(row.mean),
            Text(bar(row.best or 0.0, bar_width), style="green"),
        )
    return Panel(Group(lines, table), title="scores by generation", title_align="left")


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


# Events and errors


def events_panel(state: RunState, *, max_events: int = 8, max_problems: int = 4) -> Panel:
    """Show the latest events and the latest errors."""
    events = Table(box=None, padding=(0, 1), show_header=False, expand=True)
    events.add_column("time", style="dim", no_wrap=True, width=8)
    events.add_column("message", overflow="ellipsis", no_wrap=True, ratio=1)
    for event in list(state.events)[-max_events:]:
        message = Text(event.message, style=EVENT_STYLES.get(event.kind, "dim"))
        events.add_row(format_clock(event.time), message)
    if not state.events:
        events.add_row("", Text("no events yet", style="dim"))

    problems = Table(box=None, padding=(0, 1), show_header=False, expand=True)
    problems.add_column("time", style="dim", no_wrap=True, width=8)
    problems.add_column("source", style="red", no_wrap=True, width=10)
    problems.add_column("message", overflow="ellipsis", no_wrap=True, ratio=1)
    for problem in list(state.problems)[-max_problems:]:
        problems.add_row(format_clock(problem.time), problem.source, problem.message)
    parts: list[RenderableType] = [events]
    if state.problems:
        parts += [Text(f"errors ({len(state.problems)})", style="bold red"), problems]
    if state.notice:
        parts.append(Text(state.notice, style="bold red"))
    return Panel(Group(*parts), title="events", title_align="left", border_style="white")


# Whole views


def header(state: RunState) -> Text:
    """Describe the run in one line: id, status, suite, model, counts and age."""
    status_style = "bold green" if state.running else "bold"
    text = Text(f"run {state.run_id} ", style="bold")
    text.append(state.status, style=status_style)
    if state.owner_gone:
        text.append(f" (process {state.pid} has ended)", style="bold red")
    text.append(f"  suite {state.suite}  model {state.model}  ")
    text.append(
        f"{counted(len(state.agents), 'agent')}, {counted(len(state.task_ids), 'task')}, "
        f"{counted(state.evaluation_count, 'evaluation')}, {format_duration(state.wall_seconds())}"
    )
    return text


def dashboard(
    state: RunState,
    *,
    width: int = 160,
    tree_rows: int = 30,
    outline: Outline | None = None,
) -> RenderableType:
    """Lay out every panel for a console ``width`` columns wide."""
    if width < COMPACT_WIDTH:
        return compact_dashboard(state, width=width, tree_rows=tree_rows, outline=outline)
    tree = tree_panel(state, max_rows=tree_rows, outline=outline)
    side_width = width // 2 if width >= WIDE_WIDTH else width
    side = Group(
        frontier_panel(state, width=side_width - 4),
        sandboxes_panel(state, compact=side_width < SANDBOX_DETAIL_WIDTH),
        budget_panel(state),
        generations_panel(state, width=side_width - 4),
    )
    if width < WIDE_WIDTH:
        return Group(header(state), tree, side, events_panel(state))
    grid = Table.grid(expand=True)
    grid.add_column(ratio=1)
    grid.add_column(ratio=1)
    grid.add_row(tree, side)
    return Group(header(state), grid, events_panel(state))


def compact_dashboard(
    state: RunState, *, width: int = 60, tree_rows: int = 15, outline: Outline | None = None
) -> RenderableType:
    """Lay out the panels in one column for a console narrower than COMPACT_WIDTH."""
    return Group(
        header(state),
        tree_panel(state, max_rows=tree_rows, outline=outline, compact=True),
        sandboxes_panel(state, max_rows=5, compact=True),
        budget_panel(state, bar_width=max(4, width // 5)),
        generations_panel(state, width=max(20, width - 4), max_rows=3),
        events_panel(state, max_events=5, max_problems=2),
    )


def live_view(state: RunState, *, width: int, height: int) -> RenderableType:
    """Lay out a short view that fits under a running ``evolarium run``'s progress lines."""
    if width < COMPACT_WIDTH:
        return Group(
            header(state),
            sandboxes_panel(state, max_rows=3, compact=True),
            generations_panel(state, width=max(20, width - 4), max_rows=2),
        )
    tree_rows = max(3, min(12, height - 26))
    grid = Table.grid(expand=True)
    grid.add_column(ratio=1)
    grid.add_column(ratio=1)
    grid.add_row(
        generations_panel(state, width=width // 2 - 4, max_rows=3),
        budget_panel(state),
    )
    return Group(
        header(state),
        grid,
        sandboxes_panel(state, max_rows=4),
        tree_panel(state, max_rows=tree_rows),
    )
