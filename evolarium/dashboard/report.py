"""The HTML export: one self-contained page with inline CSS and inline SVG charts.

The page loads nothing: no script, font, image or style sheet from elsewhere.
Every value from the archive is HTML-escaped, because agent reasons, task ids and
tampering notes can contain text that a model wrote.
"""

from datetime import UTC, datetime
from html import escape

from evolarium import __version__
from evolarium.archive import Agent
from evolarium.dashboard import summary
from evolarium.dashboard.charts import (
    CostSeries,
    ScoreSeries,
    cost_series,
    elapsed_axis,
    nice_ticks,
    score_series,
)
from evolarium.dashboard.export import RunData
from evolarium.dashboard.summary import format_time
from evolarium.plural import counted

STATUS_COLORS = {
    "evaluated": "#2e7d32",
    "invalid": "#c62828",
    "evaluating": "#f9a825",
    "pending": "#9e9e9e",
    "duplicate": "#00838f",
}
FRONTIER_COLOR = "#1565c0"
AGENT_COLOR = "#9fa8da"
ALARM_COLOR = "#c62828"
REASON_CHARS = 90

ROW_HEIGHT = 24
GENERATION_WIDTH = 120
TREE_LABEL_WIDTH = 560

CHART_WIDTH = 680
CHART_HEIGHT = 300
MARGIN_LEFT = 84
MARGIN_RIGHT = 20
MARGIN_TOP = 16
MARGIN_BOTTOM = 48

STYLE = """
body { margin: 0; background: #f5f6f8; color: #1c2230;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 20px 24px 40px; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 17px; margin: 0 0 10px; }
p.note { color: #5b6475; margin: 6px 0 0; font-size: 13px; }
section { background: #fff; border: 1px solid #dcdfe6; border-radius: 8px;
  padding: 16px 20px; margin: 16px 0; }
.scroll { overflow-x: auto; }
.mono, td.id { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 18px; margin: 0; }
dl.facts dt { color: #5b6475; }
dl.facts dd { margin: 0; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #eceef2; text-align: left;
  white-space: nowrap; }
th { background: #f0f2f5; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.wrap { white-space: normal; min-width: 240px; }
.tampering { color: #c62828; font-weight: 700; }
.invalid { color: #c62828; }
.evaluated { color: #2e7d32; }
.frontier { color: #1565c0; font-weight: 600; }
td.cell { text-align: center; font-variant-numeric: tabular-nums; min-width: 64px; }
td.win { font-weight: 700; outline: 2px solid #1b5e20; outline-offset: -2px; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 12px; color: #5b6475;
  margin-top: 6px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 50%;
  margin-right: 5px; vertical-align: -1px; }
svg text { font-family: system-ui, "DejaVu Sans", sans-serif; font-size: 12px; fill: #1c2230; }
svg text.mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
svg .axis { stroke: #9aa1ad; stroke-width: 1; }
svg .grid { stroke: #eceef2; stroke-width: 1; }
svg .muted { fill: #5b6475; }
"""


def render_html(data: RunData) -> str:
    """Render the whole page for one run."""
    run = data.run
    sections = [
        _facts(data),
        _section("Lineage", _lineage_svg(data), _tree_legend()),
        _section("Score over generations", *_score_chart(score_series(data.agents, data.scores))),
        _section("Cost over time", *_cost_chart(cost_series(data.calls, run.created_at))),
        _section("Pareto frontier", *_frontier_matrix(data)),
        _section("Agents", _agents_table(data)),
    ]
    exported = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>evolarium run {escape(run.id)}</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n<main>\n"
        f'<h1>Run <span class="mono">{escape(run.id)}</span></h1>\n'
        + "\n".join(sections)
        + f'\n<p class="note">Exported by evolarium {escape(__version__)} at {exported}.</p>\n'
        "</main>\n</body>\n</html>\n"
    )


def _section(title: str, *parts: str) -> str:
    body = "\n".join(part for part in parts if part)
    return f"<section>\n<h2>{escape(title)}</h2>\n{body}\n</section>"


def _facts(data: RunData) -> str:
    run = data.run
    best = data.scores.best()
    invalid = sum(1 for agent in data.agents if agent.status == "invalid")
    totals = data.totals
    cost = totals.cost.describe()
    if totals.cost.unknown_calls:
        cost += f" ({totals.cost.unknown_calls} of {totals.calls} calls have no known price)"
    facts = [
        ("status", run.status),
        ("suite", run.suite),
        ("model", run.model),
        ("selection", run.selection),
        ("created", f"{format_time(run.created_at)} UTC"),
        ("tasks", str(len(data.scores.task_ids))),
        ("agents", f"{len(data.agents)} ({invalid} invalid)"),
        ("evaluations", str(len(data.evaluations))),
        ("best mean score", f"{best[1]:.2f} by {best[0]}" if best else "none yet"),
        ("frontier", counted(len(data.scores.frontier), "agent")),
        ("model calls", f"{totals.calls:,}"),
        (
            "tokens",
            f"{totals.tokens:,} ({totals.prompt_tokens:,} prompt, "
            f"{totals.completion_tokens:,} completion)",
        ),
        ("cost", cost),
    ]
    rows = "".join(f"<dt>{escape(name)}</dt><dd>{escape(value)}</dd>" for name, value in facts)
    return f'<section>\n<h2>Summary</h2>\n<dl class="facts">{rows}</dl>\n</section>'


# Lineage


def _tree_order(agents: list[Agent]) -> list[Agent]:
    """Return the agents depth first, each parent before its children, oldest child first."""
    known = {agent.id for agent in agents}
    children: dict[str | None, list[Agent]] = {}
    for agent in agents:
        parent = agent.parent_id if agent.parent_id in known else None
        children.setdefault(parent, []).append(agent)

    ordered: list[Agent] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        agent = stack.pop()
        ordered.append(agent)
        stack.extend(reversed(children.get(agent.id, [])))
    return ordered


def _lineage_svg(data: RunData) -> str:
    ordered = _tree_order(data.agents)
    if not ordered:
        return '<p class="note">The run has no agents yet.</p>'
    depth = max(agent.generation for agent in ordered)
    width = 24 + depth * GENERATION_WIDTH + TREE_LABEL_WIDTH
    height = len(ordered) * ROW_HEIGHT + 12
    positions = {
        agent.id: (16 + agent.generation * GENERATION_WIDTH, 16 + index * ROW_HEIGHT)
        for index, agent in enumerate(ordered)
    }

    edges = []
    nodes = []
    for agent in ordered:
        x, y = positions[agent.id]
        if agent.parent_id in positions:
            parent_x, parent_y = positions[agent.parent_id]
            edges.append(
                f'<path d="M{parent_x},{parent_y} V{y} H{x}" fill="none" stroke="#b5bcc8"/>'
            )
        nodes.append(_tree_node(agent, x, y, data))
    return (
        f'<div class="scroll"><svg width="{width}" '
        f'height="{height}" role="img" aria-label="lineage tree">'
        + "".join(edges)
        + "".join(nodes)
        + "</svg></div>"
    )


def _tree_node(agent: Agent, x: float, y: float, data: RunData) -> str:
    scores = data.scores
    color = STATUS_COLORS.get(agent.status, "#9e9e9e")
    on_frontier = agent.id in scores.frontier
    ring = f' stroke="{FRONTIER_COLOR}" stroke-width="3"' if on_frontier else ""
    tooltip = f"{agent.id}: generation {agent.generation}, {agent.operator}, {agent.status}"
    if agent.reason:
        tooltip += f"\n{agent.reason}"

    label = [f'<tspan class="mono">{escape(agent.id)}</tspan>']
    if agent.id in scores.means:
        label.append(f'<tspan dx="8">{scores.means[agent.id]:.2f}</tspan>')
    else:
        label.append(f'<tspan dx="8" fill="{color}">{escape(agent.status)}</tspan>')
    if on_frontier:
        label.append(f'<tspan dx="8" fill="{FRONTIER_COLOR}" font-weight="600">frontier</tspan>')
    if agent.id in scores.tampered:
        label.append('<tspan dx="8" fill="#c62828" font-weight="700">tampering</tspan>')
    if agent.status == "invalid" and agent.reason:
        reason = _shorten(agent.reason, REASON_CHARS)
        label.append(f'<tspan dx="8" class="muted">{escape(reason)}</tspan>')
    return (
        f"<g><title>{escape(tooltip)}</title>"
        f'<circle cx="{x}" cy="{y}" r="6" fill="{color}"{ring}/>'
        f'<text x="{x + 14}" y="{y + 4}">{"".join(label)}</text></g>'
    )


def _tree_legend() -> str:
    items = [
        _swatch(STATUS_COLORS["evaluated"], "evaluated"),
        _swatch(STATUS_COLORS["invalid"], "invalid"),
        _swatch(STATUS_COLORS["evaluating"], "evaluating"),
        _swatch(STATUS_COLORS["pending"], "pending"),
        f'<span><span class="swatch" style="border:3px solid {FRONTIER_COLOR};'
        'width:6px;height:6px"></span>on the Pareto frontier</span>',
        "<span>numbers are mean scores over the run's tasks</span>",
    ]
    return f'<div class="legend">{"".join(items)}</div>'


def _swatch(color: str, text: str) -> str:
    return f'<span><span class="swatch" style="background:{color}"></span>{escape(text)}</span>'


def _shorten(text: str, limit: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


# Charts


class _Frame:
    """Axes of one chart: maps data values to SVG coordinates and draws the ticks."""

    def __init__(self, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range
        self.left = MARGIN_LEFT
        self.right = CHART_WIDTH - MARGIN_RIGHT
        self.top = MARGIN_TOP
        self.bottom = CHART_HEIGHT - MARGIN_BOTTOM

    def x(self, value: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return round(self.left + (value - self.x0) / span * (self.right - self.left), 1)

    def y(self, value: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return round(self.bottom - (value - self.y0) / span * (self.bottom - self.top), 1)

    def axes(
        self,
        x_ticks: list[tuple[float, str]],
        y_ticks: list[tuple[float, str]],
        x_label: str,
        y_label: str,
    ) -> str:
        parts = []
        for value, text in y_ticks:
            y = self.y(value)
            parts.append(
                f'<line class="grid" x1="{self.left}" x2="{self.right}" y1="{y}" y2="{y}"/>'
            )
            parts.append(
                f'<text x="{self.left - 8}" y="{y + 4}" text-anchor="end">{escape(text)}</text>'
            )
        for value, text in x_ticks:
            x = self.x(value)
            parts.append(
                f'<line class="axis" x1="{x}" x2="{x}" y1="{self.bottom}" y2="{self.bottom + 5}"/>'
            )
            parts.append(
                f'<text x="{x}" y="{self.bottom + 18}" text-anchor="middle">{escape(text)}</text>'
            )
        parts.append(
            f'<line class="axis" x1="{self.left}" x2="{self.right}" '
            f'y1="{self.bottom}" y2="{self.bottom}"/>'
        )
        parts.append(
            f'<line class="axis" x1="{self.left}" x2="{self.left}" '
            f'y1="{self.top}" y2="{self.bottom}"/>'
        )
        middle_x = (self.left + self.right) / 2
        middle_y = (self.top + self.bottom) / 2
        parts.append(
            f'<text x="{middle_x}" y="{CHART_HEIGHT - 8}" text-anchor="middle" '
            f'class="muted">{escape(x_label)}</text>'
        )
        parts.append(
            f'<text transform="translate(14,{middle_y}) rotate(-90)" text-anchor="middle" '
            f'class="muted">{escape(y_label)}</text>'
        )
        return "".join(parts)


def _svg(body: str, label: str) -> str:
    return (
        f'<svg viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" width="{CHART_WIDTH}" '
        f'height="{CHART_HEIGHT}" style="max-width:100%;height:auto" role="img" '
        f'aria-label="{escape(label)}">{body}</svg>'
    )


INVALID_LANE = -0.12
"""The y value of the lane below score 0 where invalid agents, which have no score, are drawn."""


def _score_chart(series: ScoreSeries) -> tuple[str, str]:
    if not series.points and not series.invalid:
        return '<p class="note">No agent has been evaluated yet.</p>', ""
    last = max(series.generations, 1)
    frame = _Frame((-0.5, last + 0.5), (INVALID_LANE - 0.06, 1.05))
    y_ticks = [(value, f"{value:.2f}") for value in (0.0, 0.25, 0.5, 0.75, 1.0)]
    y_ticks.append((INVALID_LANE, "invalid"))
    step = max(1, round(last / 12))
    x_ticks = [(gen, str(gen)) for gen in range(0, series.generations + 1, step)]
    parts = [frame.axes(x_ticks, y_ticks, "generation", "mean score")]

    if series.best:
        path = _step_path([(frame.x(g), frame.y(s)) for g, s in series.best], frame.x(last + 0.5))
        parts.append(f'<path d="{path}" fill="none" stroke="#2e7d32" stroke-width="2"/>')
    parts.extend(_score_points(series, frame))
    for generation, agent_id, offset in _spread([(g, a) for g, a in series.invalid]):
        x = frame.x(generation) + offset
        y = frame.y(INVALID_LANE)
        parts.append(
            f"<g><title>{escape(agent_id)}: invalid</title>"
            f'<path d="M{x - 4},{y - 4} L{x + 4},{y + 4} M{x - 4},{y + 4} L{x + 4},{y - 4}" '
            'stroke="#c62828" stroke-width="2"/></g>'
        )
    legend = (
        '<div class="legend">'
        + _swatch(AGENT_COLOR, "agent's mean score")
        + _swatch(FRONTIER_COLOR, "on the frontier")
        + _swatch("#c62828", "tampering found, or invalid (x)")
        + '<span><span class="swatch" style="background:#2e7d32;border-radius:0;height:3px">'
        "</span>best mean so far</span></div>"
    )
    return _svg("".join(parts), "score over generations"), legend


def _score_points(series: ScoreSeries, frame: _Frame) -> list[str]:
    by_id = {point.agent_id: point for point in series.points}
    parts = []
    for generation, agent_id, offset in _spread(
        [(p.generation, p.agent_id) for p in series.points]
    ):
        point = by_id[agent_id]
        color = AGENT_COLOR
        if point.frontier:
            color = FRONTIER_COLOR
        if point.tampering:
            color = ALARM_COLOR
        radius = 5 if point.frontier else 4
        parts.append(
            f"<g><title>{escape(agent_id)}: {point.score:.2f}</title>"
            f'<circle cx="{frame.x(generation) + offset}" cy="{frame.y(point.score)}" '
            f'r="{radius}" fill="{color}" fill-opacity="0.85"/></g>'
        )
    return parts


def _spread(items: list[tuple[int, str]]) -> list[tuple[int, str, float]]:
    """Give the agents of one generation small horizontal offsets so equal scores stay visible."""
    by_generation: dict[int, list[str]] = {}
    for generation, agent_id in items:
        by_generation.setdefault(generation, []).append(agent_id)
    spread = []
    for generation, agent_ids in by_generation.items():
        gap = min(8.0, 60.0 / len(agent_ids))
        for index, agent_id in enumerate(agent_ids):
            spread.append((generation, agent_id, (index - (len(agent_ids) - 1) / 2) * gap))
    return spread


def _step_path(points: list[tuple[float, float]], end_x: float) -> str:
    """Draw a step line that keeps each value until the next point, then to ``end_x``."""
    first_x, first_y = points[0]
    commands = [f"M{first_x},{first_y}"]
    for x, y in points[1:]:
        commands.append(f"H{x} V{y}")
    commands.append(f"H{end_x}")
    return " ".join(commands)


def _cost_chart(series: CostSeries) -> tuple[str, str]:
    if not series.minutes:
        return '<p class="note">The run has made no model calls yet.</p>', ""
    if series.priced:
        values = series.dollars
        y_label = "known cost (USD), cumulative"
        note = (
            f"{series.unpriced_calls} of {len(series.minutes)} calls use a model with no known "
            "price, so the curve leaves them out: the real cost is higher."
            if series.unpriced_calls
            else f"All {len(series.minutes)} calls are priced."
        )
    else:
        values = [float(tokens) for tokens in series.tokens]
        y_label = "tokens, cumulative"
        note = (
            "No call uses a model with a known price, so the cost is unknown; "
            "the chart shows tokens instead."
        )

    elapsed, x_label = elapsed_axis(series.minutes)
    y_values, decimals = nice_ticks(values[-1])
    x_values, _ = nice_ticks(elapsed[-1])
    frame = _Frame((0.0, x_values[-1]), (0.0, y_values[-1]))
    if series.priced:
        y_ticks = [(value, f"${value:.{decimals}f}") for value in y_values]
    else:
        y_ticks = [(value, _format_count(value, y_values[-1])) for value in y_values]
    x_ticks = [(value, f"{value:g}") for value in x_values]
    parts = [frame.axes(x_ticks, y_ticks, x_label, y_label)]
    points = [(frame.x(0.0), frame.y(0.0))]
    points += [(frame.x(t), frame.y(v)) for t, v in zip(elapsed, values, strict=True)]
    path = _step_path(points, frame.x(elapsed[-1]))
    parts.append(f'<path d="{path}" fill="none" stroke="#6a1b9a" stroke-width="2"/>')
    return _svg("".join(parts), y_label), f'<p class="note">{escape(note)}</p>'


def _format_count(value: float, top: float) -> str:
    if value == 0:
        return "0"
    if top >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if top >= 1_000:
        return f"{value / 1_000:g}k"
    return f"{value:g}"


# Tables


def _frontier_matrix(data: RunData) -> tuple[str, str]:
    scores = data.scores
    agents = [agent for agent in data.agents if agent.id in scores.frontier]
    if not agents:
        return '<p class="note">No agent scores above 0 on any task, so no frontier yet.</p>', ""
    headers = summary.short_ids([agent.id for agent in agents])
    head = "".join(
        f'<th class="mono" title="{escape(agent.id)}">{escape(headers[agent.id])}</th>'
        for agent in agents
    )
    rows = []
    for task in scores.task_ids:
        winners = scores.winners(task)
        cells = "".join(_matrix_cell(scores.table[a.id].get(task), a.id in winners) for a in agents)
        rows.append(f'<tr><td class="mono">{escape(task)}</td>{cells}</tr>')
    wins = "".join(
        f'<td class="cell">{sum(1 for t in scores.task_ids if a.id in scores.winners(t))}</td>'
        for a in agents
    )
    rows.append(f"<tr><th>tasks won</th>{wins}</tr>")
    table = f'<div class="scroll"><table><tr><th>task</th>{head}</tr>{"".join(rows)}</table></div>'
    note = (
        '<p class="note">Each column is a frontier agent: no other agent scores at least as '
        "high on every task. A framed cell with ★ is the top score on that task; "
        "the shade grows with the score; – means not evaluated.</p>"
    )
    return table, note


def _matrix_cell(score: float | None, wins: bool) -> str:
    if score is None:
        return '<td class="cell" style="color:#9aa1ad">–</td>'
    shade = f"background:rgba(46,125,50,{0.08 + 0.6 * score:.2f})"
    text = f"{score:.2f}" + (" ★" if wins else "")
    css = "cell win" if wins else "cell"
    return f'<td class="{css}" style="{shade}">{text}</td>'


def _agents_table(data: RunData) -> str:
    scores = data.scores
    rows = []
    for agent in _tree_order(data.agents):
        totals = data.agent_totals.get(agent.id, summary.CallTotals())
        mean = scores.means.get(agent.id)
        notes = []
        if agent.id in scores.frontier:
            notes.append('<span class="frontier">frontier</span>')
        for evaluation in scores.tampered.get(agent.id, []):
            notes.append(
                f'<span class="tampering">tampering on {escape(evaluation.task_id)}: '
                f"{escape(_shorten(evaluation.tampering or '', REASON_CHARS))}</span>"
            )
        if agent.reason:
            notes.append(escape(_shorten(agent.reason, REASON_CHARS)))
        rows.append(
            "<tr>"
            f'<td class="id">{escape(agent.id)}</td>'
            f'<td class="num">{agent.generation}</td>'
            f'<td class="id">{escape(agent.parent_id or "–")}</td>'
            f"<td>{escape(agent.operator)}</td>"
            f'<td class="{escape(agent.status)}">{escape(agent.status)}</td>'
            f'<td class="num">{"–" if mean is None else f"{mean:.2f}"}</td>'
            f'<td class="num">{len(scores.table.get(agent.id, {}))}</td>'
            f'<td class="num">{totals.calls}</td>'
            f'<td class="num">{totals.tokens:,}</td>'
            f'<td class="num">{escape(totals.cost.describe())}</td>'
            f'<td class="wrap">{"<br>".join(notes)}</td>'
            "</tr>"
        )
    head = (
        "<tr><th>agent</th><th>gen</th><th>parent</th><th>operator</th><th>status</th>"
        "<th>mean</th><th>tasks</th><th>calls</th><th>tokens</th><th>cost</th><th>notes</th></tr>"
    )
    return f'<div class="scroll"><table>{head}{"".join(rows)}</table></div>'
