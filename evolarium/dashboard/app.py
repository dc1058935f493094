"""The interactive dashboard of ``evolarium watch``, built with Textual.

The main screen shows the lineage as a tree next to the panels of panels.py,
and refreshes from the archive every interval in a worker thread. Enter on an
agent opens its per-task scores, its diff against its parent and its operator
run. Enter on a score opens that evaluation's transcript and test output.
"""

import json
import logging
from dataclasses import dataclass, field

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane, Tree
from textual.widgets.tree import TreeNode

from evolarium.archive import Evaluation, ModelCall
from evolarium.archive.scores import REPLAY_STAGE
from evolarium.dashboard import panels
from evolarium.dashboard.outline import FULL_TREE_LIMIT, Outline, build_outline
from evolarium.dashboard.state import OPERATOR_CALLS, RunLoader, RunState
from evolarium.errors import ArchiveError

log = logging.getLogger(__name__)

TEXT_LIMIT = 200_000
"""Characters of a diff, transcript or test output shown; the rest is cut."""
EXPANDED_BEST = 5
"""In a run larger than FULL_TREE_LIMIT, the paths to this many best agents start open."""


@dataclass
class NodeData:
    """The agent that a tree node stands for, or the hidden children of ``parent_id``."""

    agent_id: str | None
    parent_id: str | None
    populated: bool = True
    """False for an agent whose children are added when it is first expanded."""
    hidden: list[str] = field(default_factory=list)


class AgentTree(Tree[NodeData]):
    """The lineage of a run. Enter opens an agent; space opens or closes a branch."""

    BINDINGS = [Binding("space", "toggle_node", "Open/close branch")]

    def __init__(self) -> None:
        super().__init__("agents", id="agents")
        self.border_title = "agents"
        self.show_root = False
        self.auto_expand = False
        self.guide_depth = 3
        self.nodes_by_agent: dict[str, TreeNode[NodeData]] = {}
        self.summaries: dict[str | None, TreeNode[NodeData]] = {}
        self.labels: dict[str, str] = {}

    def build(self, state: RunState, outline: Outline) -> None:
        """Add the outline's agents; open every branch of a small run, the best paths of a
        large one."""
        self.clear()
        self.nodes_by_agent.clear()
        self.summaries.clear()
        self.labels.clear()
        pending = [(self.root, root) for root in outline.roots if root in outline.shown]
        while pending:
            parent_node, agent_id = pending.pop(0)
            node = self._add_agent(parent_node, state, agent_id, populated=True)
            shown = outline.shown_children(agent_id)
            pending.extend((node, child) for child in shown)
        self._sync_summaries(state, outline)
        self._open_interesting(state, outline)
        self.border_title = f"agents ({len(state.agents)})"

    def update(self, state: RunState, outline: Outline) -> None:
        """Relabel the agents shown, and add new agents under branches already filled."""
        for agent_id in state.agents:
            node = self.nodes_by_agent.get(agent_id)
            if node is not None:
                self._relabel(state, agent_id, node)
                continue
            parent_id = state.agents[agent_id].parent_id
            parent = self.root if parent_id is None else self.nodes_by_agent.get(parent_id)
            if parent is None or (parent.data is not None and not parent.data.populated):
                continue
            if parent is self.root or agent_id in outline.shown:
                summary = self.summaries.get(parent_id)
                node = self._add_agent(parent, state, agent_id, populated=True, before=summary)
                if len(state.agents) <= FULL_TREE_LIMIT:
                    node.expand()
        self._sync_summaries(state, outline)
        self.border_title = f"agents ({len(state.agents)})"

    def reveal(self, node: TreeNode[NodeData], state: RunState, outline: Outline) -> None:
        """Replace a summary node by the children it stands for."""
        data = node.data
        parent = node.parent or self.root
        for agent_id in data.hidden:
            if agent_id not in self.nodes_by_agent:
                self._add_agent(parent, state, agent_id, populated=False, before=node)
        self.summaries.pop(data.parent_id, None)
        node.remove()
        self._sync_summaries(state, outline)

    def populate(self, node: TreeNode[NodeData], state: RunState, outline: Outline) -> None:
        """Add the children of an agent that was revealed from a summary."""
        if node.data is None or node.data.populated:
            return
        node.data.populated = True
        for child in outline.children.get(node.data.agent_id, []):
            if child not in self.nodes_by_agent:
                self._add_agent(node, state, child, populated=False)

    def _add_agent(
        self,
        parent: TreeNode[NodeData],
        state: RunState,
        agent_id: str,
        *,
        populated: bool,
        before: TreeNode[NodeData] | None = None,
    ) -> TreeNode[NodeData]:
        label = panels.agent_label(state, agent_id)
        parent_id = state.agents[agent_id].parent_id
        node = parent.add(label, NodeData(agent_id, parent_id, populated), before=before)
        self.nodes_by_agent[agent_id] = node
        self.labels[agent_id] = label.plain
        return node

    def _relabel(self, state: RunState, agent_id: str, node: TreeNode[NodeData]) -> None:
        label = panels.agent_label(state, agent_id)
        if self.labels.get(agent_id) != label.plain:
            node.set_label(label)
            self.labels[agent_id] = label.plain

    def _sync_summaries(self, state: RunState, outline: Outline) -> None:
        """Give every filled branch a summary node for its children not in the tree."""
        parents: list[str | None] = [None]
        parents += [
            agent_id
            for agent_id, node in self.nodes_by_agent.items()
            if node.data is not None and node.data.populated
        ]
        for parent_id in parents:
            siblings = outline.roots if parent_id is None else outline.children.get(parent_id, [])
            hidden = [agent for agent in siblings if agent not in self.nodes_by_agent]
            summary = self.summaries.get(parent_id)
            if not hidden:
                if summary is not None:
                    summary.remove()
                    del self.summaries[parent_id]
                continue
            label = panels.summary_label(outline, hidden, state)
            if summary is None:
                parent = self.root if parent_id is None else self.nodes_by_agent[parent_id]
                data = NodeData(None, parent_id, hidden=hidden)
                self.summaries[parent_id] = parent.add_leaf(label, data)
            else:
                summary.data.hidden = hidden
                summary.set_label(label)

    def _open_interesting(self, state: RunState, outline: Outline) -> None:
        if len(state.agents) <= FULL_TREE_LIMIT:
            for node in self.nodes_by_agent.values():
                node.expand()
            return
        ranked = sorted(state.means, key=lambda agent: state.means[agent], reverse=True)
        busy = [a.id for a in state.agents.values() if a.status in ("evaluating", "pending")]
        for agent_id in ranked[:EXPANDED_BEST] + busy:
            node = self.nodes_by_agent.get(agent_id)
            while node is not None and node is not self.root:
                node.expand()
                node = node.parent


class WatchApp(App):
    """Watch one run: the agent tree, the panels, and views of each agent."""

    TITLE = "evolarium watch"
    CSS = """
    #header { height: auto; padding: 0 1; }
    #main { height: 1fr; }
    #agents { width: 1fr; min-width: 30; border: round $primary; }
    #side { width: 1fr; }
    #side Static { height: auto; }
    #events { height: auto; max-height: 14; }
    Screen.-narrow #main { layout: vertical; }
    Screen.-narrow #agents { height: 1fr; width: 100%; }
    Screen.-narrow #side { height: 1fr; width: 100%; }
    """
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("r", "refresh", "Refresh now"),
    ]

    def __init__(self, loader: RunLoader, *, interval: float = 1.0) -> None:
        super().__init__()
        self.loader = loader
        self.interval = interval
        self.outline: Outline | None = None
        self.refreshing = False
        self.home: Screen | None = None
        """The main screen, where the tree and the panels live."""
        self.width = panels.WIDE_WIDTH
        """Columns of the terminal, from the latest resize event."""

    def compose(self) -> ComposeResult:
        yield Static(id="header")
        with Horizontal(id="main"):
            yield AgentTree()
            with VerticalScroll(id="side"):
                yield Static(id="frontier")
                yield Static(id="sandboxes")
                yield Static(id="budget")
                yield Static(id="generations")
        yield Static(id="events")
        yield Footer()

    def on_mount(self) -> None:
        self.home = self.screen
        with self.loader.lock:
            state = self.loader.state
            self.outline = build_outline(state)
            tree = self.home.query_one(AgentTree)
            tree.build(state, self.outline)
            self.width = self.size.width
            self.home.set_class(self.width < panels.COMPACT_WIDTH, "-narrow")
            self._render_panels(state)
        tree.focus()
        tree.cursor_line = 0
        self.set_interval(self.interval, self.action_refresh)

    def on_resize(self, event: events.Resize) -> None:
        self.width = event.size.width
        if self.home is None:
            return
        self.home.set_class(self.width < panels.COMPACT_WIDTH, "-narrow")
        with self.loader.lock:
            self._render_panels(self.loader.state)

    def action_refresh(self) -> None:
        if self.refreshing:
            return
        self.refreshing = True
        self.run_worker(self._refresh_in_thread, thread=True, exit_on_error=False)

    def _refresh_in_thread(self) -> None:
        try:
            self.loader.refresh()
        except ArchiveError as error:
            log.debug("refresh failed: %s", error)
        self.call_from_thread(self._show_refresh)

    def _show_refresh(self) -> None:
        self.refreshing = False
        with self.loader.lock:
            state = self.loader.state
            tree = self.home.query_one(AgentTree)
            self.outline = build_outline(state, keep=tree.nodes_by_agent)
            tree.update(state, self.outline)
            self._render_panels(state)

    def _render_panels(self, state: RunState) -> None:
        narrow = self.width < panels.COMPACT_WIDTH
        side_width = self.width if narrow else max(40, self.width // 2)
        self.home.query_one("#header", Static).update(panels.header(state))
        self.home.query_one("#frontier", Static).update(
            panels.frontier_panel(state, width=side_width - 4, max_rows=8)
        )
        self.home.query_one("#sandboxes", Static).update(
            panels.sandboxes_panel(state, max_rows=8, compact=narrow)
        )
        self.home.query_one("#budget", Static).update(panels.budget_panel(state))
        self.home.query_one("#generations", Static).update(
            panels.generations_panel(state, width=side_width - 4, max_rows=4)
        )
        events = 3 if narrow else 6
        self.home.query_one("#events", Static).update(
            panels.events_panel(state, max_events=events, max_problems=2)
        )

    def on_tree_node_selected(self, message: Tree.NodeSelected) -> None:
        data = message.node.data
        if data is None:
            return
        tree = self.home.query_one(AgentTree)
        with self.loader.lock:
            if data.agent_id is None:
                tree.reveal(message.node, self.loader.state, self.outline)
                return
            summary = _agent_summary(self.loader.state, data.agent_id)
        self.push_screen(AgentScreen(self.loader, data.agent_id, summary))

    def on_tree_node_expanded(self, message: Tree.NodeExpanded) -> None:
        with self.loader.lock:
            self.home.query_one(AgentTree).populate(message.node, self.loader.state, self.outline)


def _agent_summary(state: RunState, agent_id: str) -> Text:
    label = panels.agent_label(state, agent_id)
    agent = state.agents[agent_id]
    label.append(f"\nparent {agent.parent_id or 'none (seed)'}", style="dim")
    if agent.reason:
        label.append(f"\nreason: {agent.reason}", style="red")
    return label


class AgentScreen(Screen):
    """One agent: per-task scores, its diff against its parent, and its operator run."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("q", "app.quit", "Quit"),
        Binding("s", "show_tab('scores')", "Scores"),
        Binding("d", "show_tab('diff')", "Diff"),
        Binding("o", "show_tab('operator')", "Operator"),
    ]

    def __init__(self, loader: RunLoader, agent_id: str, summary: Text) -> None:
        super().__init__()
        self.loader = loader
        self.agent_id = agent_id
        self.summary = summary
        self.evaluations: dict[str, Evaluation] = {}

    def compose(self) -> ComposeResult:
        yield Static(self.summary, id="agent-header")
        with TabbedContent(initial="scores"):
            with TabPane("per-task scores", id="scores"):
                yield DataTable(id="score-table", cursor_type="row", zebra_stripes=True)
            with TabPane("diff", id="diff"):
                yield VerticalScroll(Static(id="diff-view"))
            with TabPane("operator", id="operator"):
                yield VerticalScroll(Static(id="operator-view"))
        yield Footer()

    def on_mount(self) -> None:
        archive = self.loader.archive
        try:
            agent = archive.agent(self.agent_id)
            evaluations = archive.evaluations(self.loader.run_id, self.agent_id)
            calls = [
                call
                for call in archive.calls(self.loader.run_id, self.agent_id)
                if call.purpose in OPERATOR_CALLS
            ]
        except (ArchiveError, SQLAlchemyError) as error:
            self.query_one("#agent-header", Static).update(Text(str(error), style="bold red"))
            return
        self._fill_scores(evaluations)
        self.query_one("#diff-view", Static).update(diff_view(agent.diff, agent.parent_id))
        self.query_one("#operator-view", Static).update(operator_view(agent.operator_log, calls))
        self.query_one(DataTable).focus()

    def _fill_scores(self, evaluations: list[Evaluation]) -> None:
        table = self.query_one(DataTable)
        columns = ("task", "stage", "score", "best", "outcome", "tests", "seconds", "calls")
        table.add_columns(*columns)
        with self.loader.lock:
            state = self.loader.state
            task_ids = list(state.task_ids)
            winners = {task: set(agents) for task, agents in state.winners.items()}
        latest = {
            evaluation.task_id: evaluation
            for evaluation in evaluations
            if evaluation.stage != REPLAY_STAGE
        }
        for task_id in task_ids + sorted(set(latest) - set(task_ids)):
            evaluation = latest.get(task_id)
            if evaluation is None:
                table.add_row(task_id, "-", "-", "", Text("not evaluated", style="dim"), "", "", "")
                continue
            self.evaluations[evaluation.id] = evaluation
            won = "★" if self.agent_id in winners.get(task_id, set()) else ""
            table.add_row(
                task_id,
                evaluation.stage,
                f"{evaluation.score:.2f}",
                won,
                _outcome_text(evaluation),
                f"{evaluation.tests_passed}/{evaluation.tests_total}",
                f"{evaluation.duration_s:.1f}",
                str(evaluation.calls),
                key=evaluation.id,
            )

    def action_show_tab(self, tab: str) -> None:
        """Switch to a tab and focus its content, so the keys scroll it or pick a row."""
        self.query_one(TabbedContent).active = tab
        pane = self.query_one(f"#{tab}", TabPane)
        pane.query_one("DataTable, VerticalScroll").focus()

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        evaluation = self.evaluations.get(message.row_key.value)
        if evaluation is not None:
            self.app.push_screen(EvaluationScreen(evaluation))


def _outcome_text(evaluation: Evaluation) -> Text:
    style = ""
    if evaluation.resolved:
        style = "green"
    elif evaluation.tampering:
        style = "red"
    return Text(evaluation.outcome, style=style)


class EvaluationScreen(Screen):
    """One evaluation: the agent's transcript and the hidden tests' output."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("q", "app.quit", "Quit"),
        Binding("t", "show_tab('transcript')", "Transcript"),
        Binding("o", "show_tab('tests')", "Test output"),
    ]

    def __init__(self, evaluation: Evaluation) -> None:
        super().__init__()
        self.evaluation = evaluation

    def compose(self) -> ComposeResult:
        evaluation = self.evaluation
        header = Text(f"{evaluation.agent_id} on {evaluation.task_id}", style="bold")
        header.append(
            f"  {evaluation.stage}  score {evaluation.score:.2f}  {evaluation.outcome}  "
            f"tests {evaluation.tests_passed}/{evaluation.tests_total}  "
            f"{evaluation.duration_s:.1f} s  {evaluation.calls} calls  {evaluation.tokens} tokens"
        )
        if evaluation.tampering:
            header.append(f"\ntampering: {evaluation.tampering}", style="bold red")
        yield Static(header, id="evaluation-header")
        with TabbedContent(initial="transcript"):
            with TabPane("transcript", id="transcript"):
                yield VerticalScroll(Static(_plain(evaluation.transcript, "no transcript")))
            with TabPane("test output", id="tests"):
                yield VerticalScroll(Static(_plain(evaluation.test_output, "no test output")))
        yield Footer()

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self.query_one(f"#{tab}", TabPane).query_one(VerticalScroll).focus()


# Views of stored text


def diff_view(diff: str | None, parent_id: str | None) -> RenderableType:
    """Highlight an agent's diff against its parent."""
    if parent_id is None:
        return Text("the seed agent has no parent, so it has no diff", style="dim")
    if not diff:
        return Text("empty diff: the child has its parent's code", style="dim")
    return Syntax(_cut(diff), "diff", theme="ansi_dark", word_wrap=False)


def operator_view(operator_log: str | None, calls: list[ModelCall]) -> RenderableType:
    """Show the operator run's log, then each operator model call's prompt and reply."""
    parts: list[RenderableType] = [Text("operator log", style="bold underline")]
    parts.append(_plain(operator_log, "no operator log (the seed, or the operator failed)"))
    for number, call in enumerate(calls, start=1):
        title = (
            f"\ncall {number}: {call.model}, {call.prompt_tokens}+{call.completion_tokens} "
            f"tokens, {call.latency_ms:.0f} ms, {call.outcome}"
        )
        parts.append(Text(title, style="bold underline"))
        for role, content in _request_messages(call.request_json):
            parts.append(Text(f"[{role}]", style="cyan"))
            parts.append(_plain(content, "(empty)"))
        parts.append(Text("[reply]", style="green"))
        parts.append(_plain(_reply_content(call.response_json), call.error or "(no reply)"))
    if not calls:
        parts.append(Text("\nno operator model calls are stored for this agent", style="dim"))
    return Group(*parts)


def _request_messages(request_json: str) -> list[tuple[str, str]]:
    try:
        request = json.loads(request_json)
    except (json.JSONDecodeError, TypeError):
        return [("request", request_json or "")]
    messages = request.get("messages") if isinstance(request, dict) else None
    if not isinstance(messages, list):
        return [("request", request_json)]
    return [
        (str(message.get("role", "?")), _content_text(message.get("content")))
        for message in messages
        if isinstance(message, dict)
    ]


def _reply_content(response_json: str | None) -> str:
    if not response_json:
        return ""
    try:
        response = json.loads(response_json)
        return _content_text(response["choices"][0]["message"]["content"])
    except (json.JSONDecodeError, KeyError, IndexError, TypeError):
        return response_json


def _content_text(content: object) -> str:
    """Return a message's text; a list of content parts is joined."""
    if isinstance(content, list):
        return "\n".join(str(part.get("text", part)) for part in content if part)
    return "" if content is None else str(content)


def _plain(text: str | None, empty: str) -> Text:
    if not text:
        return Text(empty, style="dim")
    return Text(_cut(text))


def _cut(text: str) -> str:
    if len(text) <= TEXT_LIMIT:
        return text
    return text[:TEXT_LIMIT] + f"\n… {len(text) - TEXT_LIMIT} more characters not shown"
