"""Operators that make a child agent from a parent.

``self`` (DGM): the parent runs in a sandbox with a copy of its own code as
the workspace and a prompt built from transcripts of tasks it failed. The
edited workspace is the child.
"""

import difflib
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import docker

from evolarium.archive import Evaluation
from evolarium.archive.snapshot import IGNORED_NAMES, hash_dir
from evolarium.evolve.rollout import run_agent
from evolarium.llm.gateway import CallContext, Gateway
from evolarium.sandbox import Limits

log = logging.getLogger(__name__)

FAILURES_IN_PROMPT = 2
TAIL_CHARS = 1200

SELF_PROMPT = """\
# Improve this coding agent

The workspace is the source code of a coding agent: `agent.py` is its entry
point. The agent reads a task from /task/prompt.md, requests code from a
language model through the socket named by EVOLARIUM_LLM_SOCKET, edits files in
/workspace and exits. Below are tasks it failed, with the end of its transcript
and of the hidden test output.

Edit `agent.py` so the agent solves such tasks more often: for example better
prompts to the model, more robust parsing of the model's reply, or better use
of test output. Keep it working Python that uses only the standard library and
`openai`, and keep its contract (inputs, outputs, exit code 0 when done).

{failures}
"""

FAILURE_TEMPLATE = """\
## Failed task {task_id} (score {score:.2f}, outcome {outcome})

Agent transcript (end):
```
{transcript}
```

Hidden test output (end):
```
{tests}
```
"""


@dataclass
class Child:
    """Code made by an operator, before validation."""

    code_dir: Path
    code_hash: str
    diff: str
    log: str
    changed: bool
    outcome: str
    """The end state of the operator's agent run (ok, timeout, exit_error, ...)."""


def self_prompt(failures: list[Evaluation]) -> str:
    """Build the prompt of the ``self`` operator from a parent's failed evaluations."""
    parts = [
        FAILURE_TEMPLATE.format(
            task_id=evaluation.task_id,
            score=evaluation.score,
            outcome=evaluation.outcome,
            transcript=evaluation.transcript[-TAIL_CHARS:].strip() or "(empty)",
            # NOTE: pytest's short tracebacks quote failing lines of the hidden tests, so
            # the operator, and through it the child's code, can learn them over generations.
            tests=evaluation.test_output[-TAIL_CHARS:].strip() or "(empty)",
        )
        for evaluation in failures[:FAILURES_IN_PROMPT]
    ]
    if not parts:
        parts = ["No failed tasks were recorded; make the agent more robust in general."]
    return SELF_PROMPT.format(failures="\n".join(parts))


def self_modify(
    client: docker.DockerClient,
    image: str,
    gateway: Gateway,
    *,
    parent_dir: Path,
    failures: list[Evaluation],
    context: CallContext,
    limits: Limits,
    max_steps: int,
    dest: Path,
) -> Child:
    """Run the parent on its own code and return the edited copy as the child."""
    with run_agent(
        client,
        image,
        gateway,
        agent_dir=parent_dir,
        prompt=self_prompt(failures),
        workspace=parent_dir,
        context=context,
        limits=limits,
        max_steps=max_steps,
        purpose="operator",
    ) as rollout:
        shutil.copytree(rollout.workspace, dest, symlinks=False)
        log_text = rollout.result.output
        outcome = rollout.result.outcome

    code_hash = hash_dir(dest)
    diff = unified_diff(parent_dir, dest)
    log.info("self operator ended with outcome %s, %d diff lines", outcome, diff.count("\n"))
    return Child(
        code_dir=dest,
        code_hash=code_hash,
        diff=diff,
        log=f"[outcome: {outcome}]\n{log_text}",
        changed=code_hash != hash_dir(parent_dir),
        outcome=outcome,
    )


def unified_diff(old: Path, new: Path) -> str:
    """Return a unified diff of two directory trees (text files only)."""
    names = sorted(_relative_files(old) | _relative_files(new))
    chunks: list[str] = []
    for name in names:
        before = _read_lines(old / name)
        after = _read_lines(new / name)
        chunks.extend(difflib.unified_diff(before, after, f"a/{name}", f"b/{name}"))
    return "".join(chunks)


def _relative_files(root: Path) -> set[str]:
    found = set()
    for path in root.rglob("*"):
        if any(part in IGNORED_NAMES for part in path.parts) or path.suffix == ".pyc":
            continue
        if path.is_file() and not path.is_symlink():
            found.add(path.relative_to(root).as_posix())
    return found


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        return []
    return path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
