"""The ``self`` operator (DGM), and the sandboxed agent run it shares with ``reflect``.

``self``: the parent runs in a sandbox with a copy of its own code as the workspace and a
prompt built from transcripts of tasks it failed. The edited workspace is the child.
"""

import difflib
import logging
import random
import shutil
from pathlib import Path

from evolarium.archive import Evaluation
from evolarium.archive.snapshot import IGNORED_NAMES, hash_dir
from evolarium.evolve.operators.base import (
    OUTCOME_OK,
    OUTCOME_SANDBOX_ERROR,
    Child,
    OperatorInput,
    Parent,
)
from evolarium.evolve.operators.outcome import (
    ModelReply,
    OperatorResult,
    Verdict,
    WatchedGateway,
    changed_files,
    classify,
    parse_result_line,
)
from evolarium.evolve.rollout import run_agent
from evolarium.sandbox import ExecResult, SandboxError

log = logging.getLogger(__name__)

FAILURES_IN_PROMPT = 2
TAIL_CHARS = 1200
LOG_REPLY_CHARS = 32_000

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


def pick_failures(evaluations: list[Evaluation], rng: random.Random) -> list[Evaluation]:
    """Return the unresolved evaluations, lowest score first, ties in an order drawn by rng."""
    failures = [evaluation for evaluation in evaluations if not evaluation.resolved]
    rng.shuffle(failures)
    failures.sort(key=lambda evaluation: evaluation.score)  # stable, so ties stay shuffled
    return failures


def self_modify(parents: list[Parent], inputs: OperatorInput) -> Child:
    """Run the first parent on its own code and return the edited copy as the child."""
    parent = parents[0]
    failures = pick_failures(parent.evaluations, inputs.rng)
    return run_operator_agent(
        operator="self",
        agent_dir=parent.code_dir,
        prompt=self_prompt(failures),
        parent=parent,
        inputs=inputs,
    )


def run_operator_agent(
    *, operator: str, agent_dir: Path, prompt: str, parent: Parent, inputs: OperatorInput
) -> Child:
    """Run ``agent_dir`` on a copy of the parent's code and make the child from the result.

    The child's code goes to ``inputs.dest``. A SandboxError becomes a child with outcome
    ``sandbox_error`` and a copy of the parent's code, so ``code_dir`` always exists.
    """
    watched = WatchedGateway(inputs.gateway)
    try:
        with run_agent(
            inputs.client,
            inputs.image,
            watched,  # type: ignore[arg-type]
            agent_dir=agent_dir,
            prompt=prompt,
            workspace=parent.code_dir,
            context=inputs.context,
            limits=inputs.limits,
            max_steps=inputs.max_steps,
            purpose="operator",
        ) as rollout:
            shutil.copytree(rollout.workspace, inputs.dest, symlinks=False)
            run = rollout.result
    except SandboxError as error:
        log.warning(
            "%s operator: sandbox failed for parent %s: %s", operator, parent.agent.id, error
        )
        return _sandbox_failure(operator, parent, inputs, error, watched.replies)

    return _child_from_run(operator, parent, inputs, run, watched.replies)


def _child_from_run(
    operator: str,
    parent: Parent,
    inputs: OperatorInput,
    run: ExecResult,
    replies: list[ModelReply],
) -> Child:
    code_hash = hash_dir(inputs.dest)
    changed = changed_files(parent.code_dir, inputs.dest)
    result = parse_result_line(run.output)
    verdict = classify(
        differs=code_hash != hash_dir(parent.code_dir),
        changed=changed,
        child_dir=inputs.dest,
        run_outcome=run.outcome,
        result=result,
        replies=replies,
    )
    diff = unified_diff(parent.code_dir, inputs.dest)
    log.info(
        "%s operator ended with outcome %s (agent run %s, %d model requests, %d diff lines)",
        operator,
        verdict.outcome,
        run.outcome,
        len(replies),
        diff.count("\n"),
    )
    return Child(
        code_dir=inputs.dest,
        code_hash=code_hash,
        diff=diff,
        log=_operator_log(operator, verdict, run, result, replies),
        outcome=verdict.outcome,
        detail=verdict.detail,
        attempts=len(replies),
        extra={"run_outcome": run.outcome, "changed_files": changed},
    )


def _sandbox_failure(
    operator: str,
    parent: Parent,
    inputs: OperatorInput,
    error: SandboxError,
    replies: list[ModelReply],
) -> Child:
    if inputs.dest.exists():
        shutil.rmtree(inputs.dest)
    shutil.copytree(parent.code_dir, inputs.dest, symlinks=False)
    detail = str(error)
    return Child(
        code_dir=inputs.dest,
        code_hash=hash_dir(inputs.dest),
        diff="",
        log=f"operator {operator}: outcome {OUTCOME_SANDBOX_ERROR}: {detail}",
        outcome=OUTCOME_SANDBOX_ERROR,
        detail=detail,
        attempts=len(replies),
        extra={"run_outcome": None, "changed_files": []},
    )


def _operator_log(
    operator: str,
    verdict: Verdict,
    run: ExecResult,
    result: OperatorResult | None,
    replies: list[ModelReply],
) -> str:
    """Describe the run for people: the verdict, the raw last model reply and the transcript."""
    headline = f"operator {operator}: outcome {verdict.outcome}"
    if verdict.outcome != OUTCOME_OK or verdict.detail:
        headline += f": {verdict.detail}"
    lines = [
        headline,
        f"agent run: {run.outcome} (exit code {run.exit_code}), model requests: {len(replies)}",
        f"result line: {result if result else 'none'}",
    ]
    if replies:
        last = replies[-1]
        lines.append(f"--- last model reply (finish_reason {last.finish_reason}) ---")
        lines.append(last.error or last.content[:LOG_REPLY_CHARS])
    lines.append("--- agent transcript ---")
    lines.append(run.output)
    return "\n".join(lines)


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
