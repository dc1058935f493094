"""Decide how an operator's agent run ended, from its result line, its model calls and the code.

Evidence, strongest first:

1. the code: a changed ``.py`` file that is not UTF-8 gives ``not_utf8``; code equal to the
   parent's can never be ``ok``;
2. the ``EVOLARIUM_OPERATOR_RESULT`` line that a rewriter agent prints last on stdout;
3. the sandbox run's outcome (timeout, oom, ...) and the model replies seen through the
   gateway socket while the agent ran.

The ``self`` operator runs the parent's own code, which usually prints no result line, so
its outcome comes from the code, the run and the model replies alone.
"""

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from evolarium.archive.snapshot import IGNORED_NAMES, IGNORED_SUFFIXES
from evolarium.evolve.operators.base import (
    OUTCOME_AGENT_FAILED,
    OUTCOME_NO_CHANGE,
    OUTCOME_NO_CODE,
    OUTCOME_NOT_UTF8,
    OUTCOME_OK,
    OUTCOME_TRUNCATED,
    OUTCOMES,
)
from evolarium.llm.gateway import CallContext, Gateway, GatewaySocket

log = logging.getLogger(__name__)

RESULT_MARKER = "EVOLARIUM_OPERATOR_RESULT"
MAX_DETAIL_CHARS = 2000

# Sandbox outcomes of an agent run that did not end normally (see ExecResult.outcome).
FAILED_RUN_OUTCOMES = frozenset({"timeout", "oom", "pids", "disk", "exit_error", "output_limit"})


@dataclass(frozen=True)
class OperatorResult:
    """The parsed ``EVOLARIUM_OPERATOR_RESULT`` line of a rewriter agent."""

    outcome: str
    detail: str
    attempts: int


@dataclass(frozen=True)
class ModelReply:
    """One chat-completions request from an operator's agent, with the gateway's response."""

    content: str
    finish_reason: str | None
    error: str | None = None
    """The gateway's error when the request failed; content is then empty."""


@dataclass(frozen=True)
class Verdict:
    """An operator's outcome and the concrete reason behind it."""

    outcome: str
    detail: str


class WatchedGateway:
    """A gateway wrapper that keeps every reply served through its sockets.

    ``run_agent`` only calls ``serve``; the socket server calls ``complete``, ``reject``
    and ``deferred_recording`` and reads ``router``. Each call still goes
    through the wrapped gateway, so it is routed, budgeted and recorded as usual. Replies
    arrive on server threads, hence the lock.
    """

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._lock = threading.Lock()
        self._replies: list[ModelReply] = []

    @property
    def router(self):
        return self._gateway.router

    @property
    def replies(self) -> list[ModelReply]:
        with self._lock:
            return list(self._replies)

    def serve(self, socket_path: Path, context: CallContext) -> GatewaySocket:
        return GatewaySocket(self, Path(socket_path), context)  # type: ignore[arg-type]

    def reject(self, *args, **kwargs):
        return self._gateway.reject(*args, **kwargs)

    def deferred_recording(self, pending):
        return self._gateway.deferred_recording(pending)

    def complete(self, request: dict, context: CallContext) -> dict:
        try:
            response = self._gateway.complete(request, context)
        except Exception as error:  # recorded here, then handled by the socket server
            self._keep(ModelReply(content="", finish_reason=None, error=str(error)))
            raise
        self._keep(_reply_of(response))
        return response

    def _keep(self, reply: ModelReply) -> None:
        with self._lock:
            self._replies.append(reply)


def _reply_of(response: dict) -> ModelReply:
    choices = response.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    content = message.get("content") if isinstance(message, dict) else None
    return ModelReply(content=str(content or ""), finish_reason=choice.get("finish_reason"))


def parse_result_line(output: str) -> OperatorResult | None:
    """Parse the result line when it is the last non-empty line of ``output``.

    Returns None when the last line is not a result line or is malformed: an unknown
    outcome, a detail that is not a string, or attempts that are not a non-negative integer.
    """
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines or not lines[-1].startswith(RESULT_MARKER):
        return None

    try:
        fields = json.loads(lines[-1][len(RESULT_MARKER) :])
    except json.JSONDecodeError:
        log.warning("operator result line is not valid JSON: %.200s", lines[-1])
        return None
    if not isinstance(fields, dict):
        return None

    outcome = fields.get("outcome")
    detail = fields.get("detail", "")
    attempts = fields.get("attempts", 0)
    if outcome not in OUTCOMES or not isinstance(detail, str):
        log.warning("operator result line has an invalid outcome or detail: %.200s", lines[-1])
        return None
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 0:
        log.warning("operator result line has invalid attempts: %.200s", lines[-1])
        return None
    return OperatorResult(outcome=outcome, detail=detail[:MAX_DETAIL_CHARS], attempts=attempts)


def changed_files(parent_dir: Path, child_dir: Path) -> list[str]:
    """Return the relative paths of files the child added or changed, sorted."""
    changed = []
    for path in sorted(child_dir.rglob("*")):
        if path.is_symlink() or not path.is_file() or _ignored(path.relative_to(child_dir)):
            continue
        relative = path.relative_to(child_dir)
        before = parent_dir / relative
        if not before.is_file() or before.read_bytes() != path.read_bytes():
            changed.append(relative.as_posix())
    return changed


def _ignored(relative: Path) -> bool:
    return any(part in IGNORED_NAMES for part in relative.parts) or relative.suffix in (
        IGNORED_SUFFIXES
    )


def first_not_utf8(child_dir: Path, changed: list[str]) -> str | None:
    """Return the first changed ``.py`` file that is not valid UTF-8, or None."""
    for name in changed:
        if not name.endswith(".py"):
            continue
        try:
            (child_dir / name).read_bytes().decode("utf-8")
        except UnicodeDecodeError as error:
            return f"{name}: {error}"
    return None


def first_compile_error(child_dir: Path, changed: list[str]) -> str | None:
    """Return the first changed ``.py`` file that does not compile, with the error, or None.

    ``compile`` parses and compiles but runs nothing, so the untrusted code stays inert.
    """
    for name in changed:
        if not name.endswith(".py"):
            continue
        try:
            compile((child_dir / name).read_bytes(), name, "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
            return f"{name}: {type(error).__name__}: {error}"
    return None


def classify(
    *,
    differs: bool,
    changed: list[str],
    child_dir: Path,
    run_outcome: str,
    result: OperatorResult | None,
    replies: list[ModelReply],
) -> Verdict:
    """Decide the outcome of an operator's agent run from the evidence the module docstring lists.

    ``differs`` is whether the child's code hash differs from the parent's, which also
    covers deleted files. ``changed`` lists the files the child added or changed.
    """
    bad_encoding = first_not_utf8(child_dir, changed)
    if bad_encoding:
        return Verdict(OUTCOME_NOT_UTF8, f"a changed Python file is not UTF-8: {bad_encoding}")

    if differs:
        return _classify_change(changed, child_dir, run_outcome)

    if result is not None and result.outcome != OUTCOME_OK:
        return Verdict(result.outcome, result.detail)
    if run_outcome in FAILED_RUN_OUTCOMES:
        return Verdict(OUTCOME_AGENT_FAILED, _failed_run_detail(run_outcome, replies))
    return _classify_no_change(result, replies)


def _classify_change(changed: list[str], child_dir: Path, run_outcome: str) -> Verdict:
    if run_outcome not in FAILED_RUN_OUTCOMES:
        return Verdict(OUTCOME_OK, "")

    # An agent killed mid-write can leave half a file; keep its edit only if it compiles.
    broken = first_compile_error(child_dir, changed)
    if broken:
        detail = f"the agent run ended with {run_outcome} and left a broken file: {broken}"
        return Verdict(OUTCOME_AGENT_FAILED, detail)
    return Verdict(OUTCOME_OK, f"the agent run ended with {run_outcome} after a usable edit")


def _failed_run_detail(run_outcome: str, replies: list[ModelReply]) -> str:
    errors = [reply.error for reply in replies if reply.error]
    detail = f"the agent run ended with {run_outcome} and changed no file"
    if errors:
        detail += f"; last model error: {errors[-1][:MAX_DETAIL_CHARS]}"
    return detail


def _classify_no_change(result: OperatorResult | None, replies: list[ModelReply]) -> Verdict:
    answered = [reply for reply in replies if reply.error is None]
    if result is not None:
        detail = "the agent reported ok, but the code equals the parent's"
        return Verdict(OUTCOME_NO_CHANGE, detail)
    if not answered:
        return Verdict(OUTCOME_NO_CHANGE, "the agent made no model call and changed no file")

    last = answered[-1]
    if last.finish_reason == "length":
        detail = f"the last of {len(answered)} model replies was cut off at the token limit"
        return Verdict(OUTCOME_TRUNCATED, detail)
    if not any("```" in reply.content for reply in answered):
        detail = f"none of the {len(answered)} model replies contained a code block"
        return Verdict(OUTCOME_NO_CODE, detail)
    return Verdict(OUTCOME_NO_CHANGE, "the code equals the parent's")
