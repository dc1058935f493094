"""The ``merge`` operator: combine two frontier agents that share an ancestor.

The two parents' code is merged line by line against their nearest common
ancestor (see ``diff3``). When conflicts remain, the rewriter agent runs in a
sandbox on the merged tree, conflict markers included, and is asked to resolve
every conflict while keeping the improvements of both parents.
"""

import logging
import random
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from evolarium.agents.contract import rewriter_agent_dir
from evolarium.archive import Agent
from evolarium.archive.snapshot import hash_dir
from evolarium.evolve.operators.base import (
    OUTCOME_AGENT_FAILED,
    OUTCOME_MERGE_CONFLICT,
    OUTCOME_NO_CHANGE,
    OUTCOME_OK,
    OUTCOME_SANDBOX_ERROR,
    Child,
    OperatorInput,
    Parent,
)
from evolarium.evolve.operators.diff3 import (
    TreeMerge,
    has_conflict_markers,
    merge_trees,
)
from evolarium.evolve.operators.outcome import parse_result_line
from evolarium.evolve.operators.self_edit import unified_diff
from evolarium.evolve.rollout import run_agent
from evolarium.sandbox import ExecResult, SandboxError

log = logging.getLogger(__name__)

TRANSCRIPT_TAIL_CHARS = 4000
MAX_TASKS_IN_PROMPT = 20

MERGE_PROMPT = """\
# Resolve the merge conflicts in this coding agent

The workspace is the source code of a coding agent: `agent.py` is its entry
point. It was made by a three-way merge of two versions of the agent, "ours"
and "theirs", against their common ancestor, "base". Changes that did not
overlap are already merged. Where both versions changed the same lines, the
file contains a conflict region:

```
<<<<<<< ours
(the lines of ours)
||||||| base
(the lines of base)
=======
(the lines of theirs)
>>>>>>> theirs
```

Files with conflicts:
{conflicts}

Ours solved these tasks: {ours_tasks}.
Theirs solved these tasks: {theirs_tasks}.

Resolve every conflict: write each of these files whole, with no conflict
marker left, and keep the improvements of both versions so the agent solves
the tasks of both. Keep it working Python that uses only the standard library
and `openai`, and keep its contract (inputs, outputs, exit code 0 when done).
"""


def common_ancestor(first: Agent, second: Agent, by_id: dict[str, Agent]) -> Agent | None:
    """Find the nearest common ancestor of two agents through their ``parent_id`` links.

    Each agent counts as its own ancestor, so when one agent is an ancestor of the
    other, that agent is returned. A lineage stops at a parent missing from ``by_id``
    or at the first agent seen twice (a cycle), so a broken archive cannot hang it.
    """
    first_lineage = {agent.id for agent in _lineage(first, by_id)}
    for agent in _lineage(second, by_id):
        if agent.id in first_lineage:
            return agent
    return None


def _lineage(agent: Agent, by_id: dict[str, Agent]) -> Iterator[Agent]:
    seen: set[str] = set()
    current: Agent | None = agent
    while current is not None and current.id not in seen:
        yield current
        seen.add(current.id)
        current = by_id.get(current.parent_id) if current.parent_id else None


def merge_partner(
    first: Agent,
    candidates: list[Agent],
    by_id: dict[str, Agent],
    rng: random.Random,
) -> tuple[Agent, Agent] | None:
    """Pick a partner for ``first`` with ``rng``; return (partner, common ancestor) or None.

    A partner shares an ancestor with ``first``, is neither ``first``'s ancestor nor its
    descendant, and has other code than ``first``. Partners whose code equals the common
    ancestor's are left out too, and so is every candidate when ``first``'s code equals
    it, because such a merge only returns one of the parents. Candidates are taken in
    order of id, so the pick depends on ``rng`` alone and not on the order of the list.
    """
    pairs = []
    for candidate in sorted({agent.id: agent for agent in candidates}.values(), key=_by_id):
        ancestor = _mergeable_ancestor(first, candidate, by_id)
        if ancestor is not None:
            pairs.append((candidate, ancestor))
    if not pairs:
        return None
    return rng.choice(pairs)


def _by_id(agent: Agent) -> str:
    return agent.id


def _mergeable_ancestor(first: Agent, candidate: Agent, by_id: dict[str, Agent]) -> Agent | None:
    if candidate.id == first.id or candidate.code_hash == first.code_hash:
        return None
    ancestor = common_ancestor(first, candidate, by_id)
    if ancestor is None or ancestor.id in (first.id, candidate.id):
        return None
    if ancestor.code_hash in (first.code_hash, candidate.code_hash):
        return None
    return ancestor


def merge_child(parents: list[Parent], ancestor: Parent, inputs: OperatorInput) -> Child:
    """Merge ``parents[0]`` (ours) and ``parents[1]`` (theirs) against ``ancestor``.

    The merged code goes to ``inputs.dest``. Conflicts go to the rewriter agent. A
    failure of the sandbox is returned as the outcome ``sandbox_error``, not raised.
    """
    if len(parents) != 2:
        raise ValueError(f"the merge operator expected 2 parents, got {len(parents)}")
    ours, theirs = parents
    tree = merge_trees(ancestor.code_dir, ours.code_dir, theirs.code_dir, inputs.dest)
    summary = _summary(ours, theirs, ancestor, tree)

    if not tree.conflicts:
        outcome = _unless_parent_code(OUTCOME_OK, inputs.dest, parents)
        return _child(inputs.dest, ours, summary, outcome, attempts=0)

    return _resolve(parents, tree, inputs, summary)


def _resolve(parents: list[Parent], tree: TreeMerge, inputs: OperatorInput, summary: str) -> Child:
    ours, theirs = parents
    prompt = merge_prompt(tree, ours, theirs)
    calls_before = inputs.gateway.calls
    try:
        with run_agent(
            inputs.client,
            inputs.image,
            inputs.gateway,
            agent_dir=rewriter_agent_dir(),
            prompt=prompt,
            workspace=inputs.dest,
            context=inputs.context,
            limits=inputs.limits,
            max_steps=inputs.max_steps,
            purpose="operator",
        ) as rollout:
            shutil.rmtree(inputs.dest)
            shutil.copytree(rollout.workspace, inputs.dest, symlinks=False)
            result = rollout.result
    except SandboxError as error:
        log.warning(
            "merge of %s and %s: the rewriter's sandbox failed: %s",
            ours.agent.id,
            theirs.agent.id,
            error,
        )
        text = f"{summary}\n[rewriter: sandbox error]\n{error}"
        attempts = inputs.gateway.calls - calls_before
        return _child(inputs.dest, ours, text, OUTCOME_SANDBOX_ERROR, str(error), attempts)

    # NOTE: this count includes calls that other threads make through the same gateway
    # while the rewriter runs. It is used only when the rewriter prints no result line.
    calls = inputs.gateway.calls - calls_before
    return _judge_rewrite(parents, inputs.dest, result, summary, calls)


def _judge_rewrite(
    parents: list[Parent], dest: Path, result: ExecResult, summary: str, calls: int
) -> Child:
    ours = parents[0]
    reported = parse_result_line(result.output)
    attempts = reported.attempts if reported is not None else calls
    reported_text = ""
    if reported is not None:
        reported_text = f"; the rewriter reported {reported.outcome}: {reported.detail}"
    text = f"{summary}\n[rewriter outcome: {result.outcome}]\n"
    text += result.output[-TRANSCRIPT_TAIL_CHARS:]

    if result.outcome != "ok":
        detail = f"the rewriter's run ended with outcome {result.outcome}{reported_text}"
        return _child(dest, ours, text, OUTCOME_AGENT_FAILED, detail, attempts)

    left = files_with_markers(dest)
    if left:
        detail = f"conflict markers left in {', '.join(left)}{reported_text}"
        return _child(dest, ours, text, OUTCOME_MERGE_CONFLICT, detail, attempts)

    outcome = _unless_parent_code(OUTCOME_OK, dest, parents)
    return _child(dest, ours, text, outcome, attempts=attempts)


def merge_prompt(tree: TreeMerge, ours: Parent, theirs: Parent) -> str:
    """Build the rewriter's prompt: the files in conflict and the tasks each parent solved."""
    conflicts = "\n".join(
        f"- `{name}` ({count} conflict{'s' if count > 1 else ''})"
        for name, count in sorted(tree.conflicts.items())
    )
    return MERGE_PROMPT.format(
        conflicts=conflicts,
        ours_tasks=_solved_tasks(ours),
        theirs_tasks=_solved_tasks(theirs),
    )


def _solved_tasks(parent: Parent) -> str:
    solved = sorted(
        {evaluation.task_id for evaluation in parent.evaluations if evaluation.resolved}
    )
    if not solved:
        return "none"
    listed = ", ".join(solved[:MAX_TASKS_IN_PROMPT])
    left_out = len(solved) - MAX_TASKS_IN_PROMPT
    return f"{listed} and {left_out} more" if left_out > 0 else listed


def files_with_markers(root: Path) -> list[str]:
    """Return the UTF-8 text files under ``root`` that still contain a conflict marker."""
    # NOTE: a parent whose own code has a line starting with a marker (a merge tool, say)
    # is reported here too, even when the rewriter resolved every conflict.
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if has_conflict_markers(text):
            found.append(path.relative_to(root).as_posix())
    return found


def _unless_parent_code(outcome: str, code_dir: Path, parents: list[Parent]) -> str:
    code_hash = hash_dir(code_dir)
    if any(code_hash == hash_dir(parent.code_dir) for parent in parents):
        return OUTCOME_NO_CHANGE
    return outcome


def _summary(ours: Parent, theirs: Parent, ancestor: Parent, tree: TreeMerge) -> str:
    lines = [
        f"merge of {ours.agent.id} (ours) and {theirs.agent.id} (theirs)"
        f" against {ancestor.agent.id} (base)",
        f"merged line by line without conflict: {_names(tree.merged)}",
        f"taken from one side: {_names(tree.one_sided)}",
        f"conflicts: {_names(f'{n} ({c})' for n, c in sorted(tree.conflicts.items()))}",
    ]
    if tree.kept_ours:
        lines.append(f"changed on both sides, not mergeable, ours kept: {_names(tree.kept_ours)}")
    return "\n".join(lines)


def _names(names: Iterable[str]) -> str:
    listed = list(names)
    return ", ".join(listed) if listed else "none"


def _child(
    code_dir: Path,
    ours: Parent,
    text: str,
    outcome: str,
    detail: str = "",
    attempts: int = 1,
) -> Child:
    log.info("merge operator for ours %s ended with outcome %s", ours.agent.id, outcome)
    return Child(
        code_dir=code_dir,
        code_hash=hash_dir(code_dir),
        diff=unified_diff(ours.code_dir, code_dir),
        log=f"[outcome: {outcome}]\n{text}",
        outcome=outcome,
        detail=detail,
        attempts=attempts,
    )
