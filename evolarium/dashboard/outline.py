"""The selection of agents that the lineage tree draws: all of a small run, the notable
ones of a large run.

A run of more than FULL_TREE_LIMIT agents shows its frontier, its best and newest
agents, the agents at work, and the ancestors of all of those. The other children
of a shown agent collapse into one summary row that counts them.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from evolarium.dashboard.state import RunState

FULL_TREE_LIMIT = 300
"""Runs with at most this many agents show every agent."""
BEST_SHOWN = 10
NEWEST_SHOWN = 10
MAX_PREFIX = 40
"""Characters of tree guides before a deep lineage is drawn shifted left."""


@dataclass
class Outline:
    """The lineage of a run and the agents that are shown individually."""

    roots: list[str]
    children: dict[str, list[str]]
    """parent id -> child ids in creation order"""
    shown: set[str]
    subtree: dict[str, int]
    """agent id -> number of agents in its subtree, itself included"""

    def shown_children(self, agent_id: str) -> list[str]:
        return [child for child in self.children.get(agent_id, []) if child in self.shown]

    def hidden_children(self, agent_id: str | None) -> list[str]:
        siblings = self.roots if agent_id is None else self.children.get(agent_id, [])
        return [child for child in siblings if child not in self.shown]

    def hidden_count(self, agent_ids: list[str]) -> int:
        """Return how many agents the subtrees of ``agent_ids`` hold."""
        return sum(self.subtree.get(agent_id, 1) for agent_id in agent_ids)


@dataclass
class OutlineRow:
    """One line of the drawn tree: an agent, or a summary of hidden children."""

    prefix: str
    """Tree guides drawn before the label."""
    agent_id: str | None
    parent_id: str | None
    hidden: list[str]
    """For a summary row: the hidden children it stands for."""


def build_outline(
    state: RunState, keep: Iterable[str] = (), *, max_rows: int | None = None
) -> Outline:
    """Build the outline of a run.

    ``keep`` names agents to show whatever the run's size. With ``max_rows``, the
    notable agents are added in order of priority (frontier agents by tasks won,
    agents at work, the best and the newest agents) while the drawn rows fit.
    """
    agents = state.agents
    roots: list[str] = []
    children: dict[str, list[str]] = {}
    for agent in agents.values():
        if agent.parent_id in agents:
            children.setdefault(agent.parent_id, []).append(agent.id)
        else:
            roots.append(agent.id)
    outline = Outline(roots=roots, children=children, shown=set(), subtree={})
    outline.subtree = _subtree_sizes(roots, children)

    if len(agents) <= (FULL_TREE_LIMIT if max_rows is None else min(max_rows, FULL_TREE_LIMIT)):
        outline.shown = set(agents)
        return outline
    outline.shown = set(roots) if max_rows is None else set()
    for agent_id in [*keep, *_notable_agents(state)]:
        added = _unshown_lineage(state, agent_id, outline.shown)
        outline.shown |= added
        if max_rows is not None and row_count(outline) > max_rows:
            outline.shown -= added
            break
    return outline


def row_count(outline: Outline) -> int:
    """Return how many rows outline_rows draws: shown agents and summary rows."""
    summaries = 1 if outline.hidden_children(None) else 0
    for agent_id in outline.shown:
        if any(child not in outline.shown for child in outline.children.get(agent_id, [])):
            summaries += 1
    return len(outline.shown) + summaries


def _notable_agents(state: RunState) -> list[str]:
    """Return the agents worth showing, most important first, without repeats."""
    frontier = sorted(
        state.frontier,
        key=lambda agent: (-state.wins.get(agent, 0), -state.means.get(agent, 0.0)),
    )
    busy = [a.id for a in state.agents.values() if a.status in ("evaluating", "pending")]
    ranked = sorted(state.means, key=lambda agent: state.means[agent], reverse=True)
    newest = list(state.agents)[-NEWEST_SHOWN:]
    ordered = frontier + busy + ranked[:BEST_SHOWN] + newest
    return list(dict.fromkeys(agent for agent in ordered if agent in state.agents))


def _unshown_lineage(state: RunState, agent_id: str, shown: set[str]) -> set[str]:
    """Return the agent and its ancestors up to the first one already shown."""
    lineage: set[str] = set()
    current = state.agents.get(agent_id)
    while current is not None and current.id not in shown and current.id not in lineage:
        lineage.add(current.id)
        current = state.agents.get(current.parent_id) if current.parent_id else None
    return lineage


def _subtree_sizes(roots: list[str], children: dict[str, list[str]]) -> dict[str, int]:
    order: list[str] = []
    pending = list(roots)
    while pending:
        agent_id = pending.pop()
        order.append(agent_id)
        pending.extend(children.get(agent_id, []))
    sizes: dict[str, int] = {}
    for agent_id in reversed(order):
        sizes[agent_id] = 1 + sum(sizes[child] for child in children.get(agent_id, []))
    return sizes


def outline_rows(outline: Outline) -> Iterator[OutlineRow]:
    """Yield the rows of the drawn tree in depth-first order, guides included."""
    top = [root for root in outline.roots if root in outline.shown]
    hidden_roots = outline.hidden_children(None)
    stack: list[tuple[str | None, str | None, str | None, bool, list[str]]] = []
    # Roots get no guides: their prefix is None.
    _push_level(stack, None, top, hidden_roots, None)
    while stack:
        agent_id, parent_id, prefix, last, hidden = stack.pop()
        if prefix is None:
            drawn, below = "", ""
        else:
            drawn = prefix + ("└─ " if last else "├─ ")
            below = prefix + ("   " if last else "│  ")
        yield OutlineRow(_shift(drawn), agent_id, parent_id, hidden)
        if agent_id is None:
            continue
        shown = outline.shown_children(agent_id)
        _push_level(stack, agent_id, shown, outline.hidden_children(agent_id), below)


def _push_level(
    stack: list, parent_id, shown: list[str], hidden: list[str], prefix: str | None
) -> None:
    """Push one level of children in reverse, so they pop in creation order."""
    entries: list[tuple[str | None, list[str]]] = [(child, []) for child in shown]
    if hidden:
        entries.append((None, hidden))
    for index in range(len(entries) - 1, -1, -1):
        agent_id, hidden_ids = entries[index]
        last = index == len(entries) - 1
        stack.append((agent_id, parent_id, prefix, last, hidden_ids))


def _shift(prefix: str) -> str:
    if len(prefix) <= MAX_PREFIX:
        return prefix
    return "…" + prefix[len(prefix) - MAX_PREFIX + 1 :]
