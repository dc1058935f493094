"""Rewriter agent of the ``reflect`` operator (standard library, openai and its httpx only).

The workspace is another agent's source code, and /task/prompt.md describes how to change it:
for ``reflect``, traces of the agent's runs with feedback. The rewriter sends both to the model
and requests whole new files in the `FILE: path` format. A reply is written only when it is
complete: it was not cut off at the token limit, it has at least one FILE block, every path
stays inside the workspace, and every Python file compiles. Otherwise the rewriter asks
again, quoting the failure, at most MAX_RETRIES times and never for more than
EVOLARIUM_MAX_STEPS requests in all.

The last line on stdout is `EVOLARIUM_OPERATOR_RESULT {"outcome": ..., "detail": ...,
"attempts": N}`. Exit status 0 means the rewriter ran to the end, whatever the outcome; 1 means
a missing setting, a failed model request or a crash.
"""

import json
import os
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai

PROMPT_FILE = Path(os.environ.get("EVOLARIUM_PROMPT_FILE", "/task/prompt.md"))
WORKSPACE = Path(os.environ.get("EVOLARIUM_WORKSPACE", "/workspace"))
MODEL = os.environ.get("EVOLARIUM_MODEL", "evolarium-default")
SOCKET_ENV = "EVOLARIUM_LLM_SOCKET"
MAX_STEPS_ENV = "EVOLARIUM_MAX_STEPS"
RESULT_MARKER = "EVOLARIUM_OPERATOR_RESULT"

MAX_RETRIES = 2
# The whole agent must fit in the request, because the model rewrites whole files.
MAX_FILES_CHARS = 40_000
MAX_READ_BYTES = 200_000
MAX_QUOTE_CHARS = 600
MAX_PRINT_CHARS = 600
REQUEST_TIMEOUT_S = 600.0
SKIP_DIRS = {"__pycache__", "node_modules", "venv"}

# Outcomes, as named in evolarium/evolve/operators/base.py.
OK = "ok"
NO_CHANGE = "no_change"
NO_CODE = "no_code"
BROKEN_EDIT = "broken_edit"
TRUNCATED = "truncated"
NOT_UTF8 = "not_utf8"
AGENT_FAILED = "agent_failed"

SYSTEM_PROMPT = """You rewrite the source code of a coding agent as the task asks.
For each file you change, write a line `FILE: relative/path` followed by a fenced code
block with the complete new contents of that file. Write whole files, never diffs.
Leave out files you do not change."""

# A `FILE: path` line (markdown decoration allowed) followed by a fenced code block.
FILE_BLOCK = re.compile(
    r"^[#*\s]*FILE:[ \t]*[`*]*(?P<path>[^\s`*]+)[`*]*[ \t]*\n(?:[ \t]*\n)*"
    r"```[^\n]*\n(?P<body>.*?)^[ \t]*```",
    re.MULTILINE | re.DOTALL | re.IGNORECASE,
)
FENCE = re.compile(r"^[ \t]*```", re.MULTILINE)


@dataclass
class Attempt:
    """The verdict on one model reply: an outcome, and the failure to quote when not ok."""

    outcome: str
    detail: str = ""
    edits: dict[str, str] | None = None


def clip(text: str, limit: int = MAX_PRINT_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... [{len(text) - limit} more chars]"


def list_workspace() -> list[str]:
    """Return the workspace's regular files as sorted relative paths, skipping hidden ones."""
    found = []
    for root, dirs, files in os.walk(WORKSPACE):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        for name in sorted(files):
            path = Path(root, name)
            if not name.startswith(".") and path.is_file() and not path.is_symlink():
                found.append(path.relative_to(WORKSPACE).as_posix())
    return found


def read_text(rel: str) -> str | None:
    """Return a workspace file as text, or None for large, binary or non-UTF-8 files."""
    path = WORKSPACE / rel
    if path.stat().st_size > MAX_READ_BYTES:
        return None
    data = path.read_bytes()
    try:
        return None if b"\0" in data else data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def render_files() -> str:
    """Render the text files in FILE format, Python files first, within MAX_FILES_CHARS."""
    files = sorted(list_workspace(), key=lambda rel: (not rel.endswith(".py"), rel))
    parts, left_out, used = [], [], 0
    for rel in files:
        text = read_text(rel)
        if text is None or used + len(text) > MAX_FILES_CHARS:
            left_out.append(rel)
            continue
        used += len(text)
        parts.append(f"FILE: {rel}\n```\n{text.rstrip()}\n```")
    if left_out:
        parts.append("Files not shown (binary or over the size budget): " + ", ".join(left_out))
    return "\n\n".join(parts) if parts else "(the workspace has no text files)"


def first_messages(task: str) -> list[dict[str, str]]:
    user = f"{task}\n\n# The agent's current files\n\n{render_files()}"
    user += "\n\nReply with a FILE line and a code block per changed file."
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def ask_model(client: openai.OpenAI, messages: list[dict[str, str]]) -> tuple[str, str | None]:
    """Return the reply's content and finish_reason."""
    print(f"asking model {MODEL} ({sum(len(m['content']) for m in messages)} chars)")
    response = client.chat.completions.create(model=MODEL, messages=messages, temperature=0.2)
    if usage := response.usage:
        print(f"tokens: {usage.prompt_tokens} prompt, {usage.completion_tokens} completion")
    choice = response.choices[0]
    return choice.message.content or "", choice.finish_reason


def check_path(rel: str) -> str | None:
    """Return why rel may not be written, or None when it is a path inside the workspace."""
    parts = Path(rel).parts
    if not parts or Path(rel).is_absolute() or ".." in parts or ".git" in parts:
        return f"{rel!r} is not a relative path inside the workspace"
    if not (WORKSPACE / rel).resolve().is_relative_to(WORKSPACE.resolve()):
        return f"{rel!r} resolves outside the workspace through a symlink"
    return None


def compile_error(rel: str, body: str) -> str | None:
    """Return the SyntaxError text of a Python body, or None when it compiles."""
    if not rel.endswith(".py"):
        return None
    try:
        compile(body, rel, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as error:
        return "".join(traceback.format_exception_only(error)).strip()
    return None


def not_utf8(body: str) -> bool:
    try:
        body.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def judge_reply(reply: str, finish_reason: str | None) -> Attempt:
    """Check one reply; return its edits when it can be written, or the failure to quote."""
    if finish_reason == "length":
        detail = (
            f"the reply was cut off at the token limit after {len(reply)} characters, "
            f"ending with: {reply[-200:]!r}"
        )
        return Attempt(TRUNCATED, detail)

    edits = {match["path"]: match["body"] for match in FILE_BLOCK.finditer(reply)}
    if not edits:
        return Attempt(NO_CODE, no_code_detail(reply))

    for rel, body in edits.items():
        if problem := check_path(rel):
            return Attempt(BROKEN_EDIT, f"the path {problem}")
        if not_utf8(body):
            return Attempt(NOT_UTF8, f"the contents of {rel} are not valid UTF-8")
        if error := compile_error(rel, body):
            return Attempt(BROKEN_EDIT, f"{rel} does not compile:\n{clip(error, MAX_QUOTE_CHARS)}")
    return Attempt(OK, edits=edits)


def no_code_detail(reply: str) -> str:
    if FENCE.search(reply):
        return "the reply has a code block but no `FILE: path` line right before it"
    if not reply.strip():
        return "the reply was empty"
    return f"the reply has no code block; it began: {reply[:200]!r}"


def retry_message(attempt: Attempt) -> str:
    return (
        f"Your last reply could not be applied: {attempt.detail}\n"
        "Send the complete files again: for each file a line `FILE: relative/path` followed "
        "by a fenced code block with its whole contents."
    )


def write_edits(edits: dict[str, str]) -> list[str]:
    """Write the edits and return the paths whose contents changed."""
    written = []
    for rel, body in edits.items():
        target = WORKSPACE / rel
        if target.is_file() and target.read_bytes() == body.encode("utf-8"):
            print(f"unchanged {rel}")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")
        written.append(rel)
        print(f"wrote {rel} ({len(body)} chars)")
    return written


def rewrite(client: openai.OpenAI, task: str, max_attempts: int) -> tuple[Attempt, int]:
    """Ask the model until a reply can be written or the attempts run out.

    Returns the last verdict and the number of model requests made. A failed request ends
    the rewrite with outcome agent_failed, because the gateway has already retried it.
    """
    messages = first_messages(task)
    attempt = Attempt(AGENT_FAILED, "no model request was made")
    for number in range(1, max_attempts + 1):
        print(f"=== attempt {number}/{max_attempts}")
        try:
            reply, finish_reason = ask_model(client, messages)
        except openai.OpenAIError as error:
            print(f"error: model request failed: {error}")
            return Attempt(AGENT_FAILED, f"model request {number} failed: {error}"), number
        print(f"model reply (finish_reason {finish_reason}): {clip(reply)}")
        attempt = judge_reply(reply, finish_reason)
        if attempt.outcome == OK:
            return apply(attempt), number
        print(f"attempt {number} failed: {attempt.outcome}: {clip(attempt.detail)}")
        messages += [
            {"role": "assistant", "content": reply},
            {"role": "user", "content": retry_message(attempt)},
        ]
    return attempt, max_attempts


def apply(attempt: Attempt) -> Attempt:
    written = write_edits(attempt.edits or {})
    if not written:
        return Attempt(NO_CHANGE, "every file in the reply equals the current one")
    return Attempt(OK, f"wrote {', '.join(written)}")


def print_result(outcome: str, detail: str, attempts: int) -> None:
    fields = {"outcome": outcome, "detail": detail, "attempts": attempts}
    print(f"{RESULT_MARKER} {json.dumps(fields)}", flush=True)


def read_settings() -> tuple[str, int, str]:
    """Return the socket path, the max number of attempts and the task; raise ValueError."""
    socket_path = os.environ.get(SOCKET_ENV, "")
    if not socket_path:
        raise ValueError(f"{SOCKET_ENV} is not set; set it to the model gateway's unix socket")
    steps_text = os.environ.get(MAX_STEPS_ENV, "3")
    if not steps_text.isdigit() or int(steps_text) < 1:
        raise ValueError(f"{MAX_STEPS_ENV} must be a positive integer, got {steps_text!r}")
    if not PROMPT_FILE.is_file():
        raise ValueError(f"task prompt {PROMPT_FILE} not found; set EVOLARIUM_PROMPT_FILE")
    task = PROMPT_FILE.read_text(encoding="utf-8")
    return socket_path, min(int(steps_text), MAX_RETRIES + 1), task


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr = sys.stdout  # one stream, so that nothing prints after the result line
    try:
        socket_path, max_attempts, task = read_settings()
    except ValueError as error:
        print(f"error: {error}")
        print_result(AGENT_FAILED, str(error), 0)
        return 1

    print(f"rewriter: model {MODEL}, workspace {WORKSPACE}, max attempts {max_attempts}")
    transport = httpx.HTTPTransport(uds=socket_path)
    http_client = httpx.Client(transport=transport, timeout=REQUEST_TIMEOUT_S)
    client = openai.OpenAI(
        base_url="http://gateway/v1", api_key="sandbox", http_client=http_client, max_retries=0
    )
    attempt, attempts = rewrite(client, task, max_attempts)
    print_result(attempt.outcome, attempt.detail, attempts)
    return 1 if attempt.outcome == AGENT_FAILED else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as crash:
        traceback.print_exc()
        print_result(AGENT_FAILED, f"the rewriter crashed: {crash!r}", 0)
        sys.exit(1)
