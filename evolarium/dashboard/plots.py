"""The PNG export: score over generations, cost over time, and the frontier matrix.

Figures are drawn on matplotlib's Agg canvas directly, without pyplot, so no
display and no global figure state are involved.
"""

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from evolarium.dashboard import summary
from evolarium.dashboard.charts import (
    CostSeries,
    ScoreSeries,
    cost_series,
    elapsed_axis,
    score_series,
)
from evolarium.dashboard.export import RunData

DPI = 110
AGENT_COLOR = "#9fa8da"
FRONTIER_COLOR = "#1565c0"
ALARM_COLOR = "#c62828"
BEST_COLOR = "#2e7d32"
COST_COLOR = "#6a1b9a"
INVALID_LANE = -0.12
"""The y value of the lane below score 0 where invalid agents, which have no score, are drawn."""


def write_plots(data: RunData, folder: Path) -> list[Path]:
    """Write score.png, cost.png and frontier.png into ``folder``; return their paths."""
    run_id = data.run.id
    figures = {
        "score.png": score_figure(score_series(data.agents, data.scores), run_id),
        "cost.png": cost_figure(cost_series(data.calls, data.run.created_at), run_id),
        "frontier.png": frontier_figure(data),
    }
    written = []
    for name, figure in figures.items():
        path = folder / name
        FigureCanvasAgg(figure).print_png(str(path))
        written.append(path)
    return written


def _message_figure(title: str, message: str) -> Figure:
    figure = Figure(figsize=(7, 2.2), dpi=DPI)
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.set_title(title, loc="left", fontsize=11)
    axes.text(0.5, 0.45, message, ha="center", va="center", fontsize=10, color="#5b6475")
    return figure


def score_figure(series: ScoreSeries, run_id: str) -> Figure:
    title = f"Mean score over generations, run {run_id}"
    if not series.points and not series.invalid:
        return _message_figure(title, "No agent has been evaluated yet.")
    figure = Figure(figsize=(8, 4.2), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    offsets = _offsets([(point.generation, point.agent_id) for point in series.points])
    plain = [p for p in series.points if not p.frontier and not p.tampering]
    frontier = [p for p in series.points if p.frontier and not p.tampering]
    tampered = [p for p in series.points if p.tampering]
    for points, color, size, label in (
        (plain, AGENT_COLOR, 28, "agent"),
        (frontier, FRONTIER_COLOR, 48, "on the frontier"),
        (tampered, ALARM_COLOR, 36, "tampering found"),
    ):
        if points:
            axes.scatter(
                [p.generation + offsets[p.agent_id] for p in points],
                [p.score for p in points],
                s=size,
                color=color,
                alpha=0.85,
                label=label,
                zorder=3,
            )
    if series.invalid:
        axes.scatter(
            [generation for generation, _ in series.invalid],
            [INVALID_LANE] * len(series.invalid),
            marker="x",
            color=ALARM_COLOR,
            label="invalid (no score)",
            zorder=3,
        )
    if series.best:
        generations = [g for g, _ in series.best] + [series.generations + 0.5]
        best = [s for _, s in series.best] + [series.best[-1][1]]
        axes.step(generations, best, where="post", color=BEST_COLOR, lw=2, label="best so far")

    axes.set_ylim(INVALID_LANE - 0.08, 1.05)
    axes.set_yticks([INVALID_LANE, 0, 0.25, 0.5, 0.75, 1.0])
    axes.set_yticklabels(["invalid", "0.00", "0.25", "0.50", "0.75", "1.00"])
    axes.set_xlim(-0.5, max(series.generations, 1) + 0.5)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_xlabel("generation")
    axes.set_ylabel("mean score over the run's tasks")
    axes.set_title(title, loc="left", fontsize=11)
    axes.grid(axis="y", color="#e6e8ec")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return figure


def _offsets(items: list[tuple[int, str]]) -> dict[str, float]:
    """Spread the agents of one generation a little along x so equal scores stay visible."""
    by_generation: dict[int, list[str]] = {}
    for generation, agent_id in items:
        by_generation.setdefault(generation, []).append(agent_id)
    offsets = {}
    for agent_ids in by_generation.values():
        gap = min(0.06, 0.5 / len(agent_ids))
        for index, agent_id in enumerate(agent_ids):
            offsets[agent_id] = (index - (len(agent_ids) - 1) / 2) * gap
    return offsets


def cost_figure(series: CostSeries, run_id: str) -> Figure:
    if not series.minutes:
        return _message_figure(f"Cost over time, run {run_id}", "The run has made no model calls.")
    figure = Figure(figsize=(8, 4.2), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()

    elapsed, x_label = elapsed_axis(series.minutes)
    times = [0.0, *elapsed]
    if series.priced:
        values = [0.0, *series.dollars]
        title = f"Known cost over time, run {run_id}"
        axes.set_ylabel("cumulative cost (USD)")
        note = (
            f"{series.unpriced_calls} of {len(series.minutes)} calls have no known price "
            "and are left out: the real cost is higher."
            if series.unpriced_calls
            else ""
        )
    else:
        values = [0, *series.tokens]
        title = f"Tokens over time, run {run_id}"
        axes.set_ylabel("cumulative tokens")
        note = "No call has a known price, so the cost is unknown: tokens are shown instead."

    axes.step(times, values, where="post", color=COST_COLOR, lw=2)
    axes.set_xlabel(x_label)
    axes.set_xlim(left=0)
    axes.set_ylim(bottom=0)
    axes.set_title(title, loc="left", fontsize=11)
    axes.grid(color="#e6e8ec")
    if note:
        figure.text(0.01, 0.005, note, fontsize=8, color="#5b6475", ha="left", va="bottom")
        figure.get_layout_engine().set(rect=(0, 0.05, 1, 0.95))
    return figure


def frontier_figure(data: RunData) -> Figure:
    scores = data.scores
    agents = [agent for agent in data.agents if agent.id in scores.frontier]
    title = f"Frontier agents' scores by task, run {data.run.id}"
    if not agents:
        return _message_figure(title, "No agent scores above 0 on any task, so no frontier yet.")
    tasks = scores.task_ids
    headers = summary.short_ids([agent.id for agent in agents])
    matrix = [
        [scores.table[agent.id].get(task, float("nan")) for agent in agents] for task in tasks
    ]

    width = min(16.0, 3.2 + 0.9 * len(agents))
    height = min(30.0, 1.6 + 0.32 * len(tasks))
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Greens", vmin=0, vmax=1, aspect="auto")
    for row, task in enumerate(tasks):
        winners = scores.winners(task)
        for column, agent in enumerate(agents):
            score = matrix[row][column]
            if score != score:  # NaN: not evaluated
                text = "–"
            else:
                text = f"{score:.2f}" + ("*" if agent.id in winners else "")
            color = "white" if score == score and score > 0.6 else "#1c2230"
            weight = "bold" if agent.id in winners else "normal"
            axes.text(
                column,
                row,
                text,
                ha="center",
                va="center",
                fontsize=8,
                color=color,
                fontweight=weight,
            )
    axes.set_xticks(
        range(len(agents)), [headers[agent.id] for agent in agents], fontsize=8, family="monospace"
    )
    axes.set_yticks(range(len(tasks)), tasks, fontsize=8)
    axes.xaxis.tick_top()
    axes.set_xlabel("* marks the top score on a task", fontsize=8)
    axes.set_title(title, loc="left", fontsize=10)
    figure.colorbar(image, ax=axes, label="score", shrink=0.8)
    return figure
