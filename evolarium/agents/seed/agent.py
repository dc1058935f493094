"""Generation-0 coding agent of evolarium (standard library, openai and httpx only).

Each step sends the task and the workspace files to the model, writes the complete files
it returns, compiles the changed Python files and runs pytest when the workspace has tests.
Failures go back to the model until the checks pass or the steps run out. A changed Python
file that fails to compile at the end gets its original content back. Exit status 0 means
the agent ran to the end, solved or not; 1 means a missing setting, a model error or a crash.
"""

import os
import re
import subprocess
import sys
import traceback
from pathlib import Path

import httpx
import openai

PROMPT_FILE = Path(os.environ.get("EVOLARIUM_PROMPT_FILE", "/task/prompt.md"))
WORKSPACE = Path(os.environ.get("EVOLARIUM_WORKSPACE", "/workspace"))
MODEL = os.environ.get("EVOLARIUM_MODEL", "evolarium-default")
SOCKET_ENV = "EVOLARIUM_LLM_SOCKET"
MAX_STEPS_ENV = "EVOLARIUM_MAX_STEPS"

# Character budgets for a model with a ~4k-token context, estimating ~4 characters a token.
MAX_TASK_CHARS = 2000
MAX_FILE_CHARS = 6000
MAX_FILES_CHARS = 8000
MAX_FEEDBACK_CHARS = 1200
MAX_PRINT_CHARS = 600
MAX_READ_BYTES = 200_000
REQUEST_TIMEOUT_S = 600.0
TEST_TIMEOUT_S = 60
SKIP_DIRS = {"__pycache__", "node_modules", "venv"}

SYSTEM_PROMPT = """You are a coding agent. Edit the workspace files to complete the task.
For each file you change, write a line `FILE: relative/path` followed by a fenced code
block with the complete new contents of that file. Write whole files, never diffs.
Leave out files you do not change."""

# A `FILE: path` line (markdown decoration allowed) followed by a fenced code block.
FILE_BLOCK = re.compile(
    r"^[#*\s]*FILE:[ \t]*[`*]*(?P<path>[^\s`*]+)[`*]*[ \t]*\n(?:[ \t]*\n)*"
    r"```[^\n]*\n(?P<body>.*?)^[ \t]*```",
    re.MULTILINE | re.DOTALL | re.IGNORECASE,
)
FENCED_BLOCK = re.compile(r"^[ \t]*```[^\n]*\n(?P<body>.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)


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
    data = path.read_bytes() if path.stat().st_size <= MAX_READ_BYTES else b"\0"
    try:
        return None if b"\0" in data else data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def is_test_file(rel: str) -> bool:
    name = Path(rel).name
    return rel.startswith("tests/") or name.startswith("test_") or name.endswith("_test.py")


def render_files(task: str) -> str:
    """Render the text files in FILE format, files named in the task first, within budget."""
    files = sorted(list_workspace(), key=lambda rel: (Path(rel).name not in task, rel))
    parts, left_out, used = [], [], 0
    for rel in files:
        text = read_text(rel)
        if text is None:
            continue
        if len(text) > MAX_FILE_CHARS:
            # NOTE: a model that rewrites a truncated file loses its tail.
            text = text[:MAX_FILE_CHARS] + f"\n... [truncated: {len(text)} chars in all]\n"
        if used + len(text) > MAX_FILES_CHARS:
            left_out.append(rel)
            continue
        used += len(text)
        parts.append(f"FILE: {rel}\n```\n{text.rstrip()}\n```")
    if left_out:
        parts.append("Files not shown (over the size budget): " + ", ".join(left_out[:20]))
    return "\n\n".join(parts) if parts else "(the workspace has no text files)"


def build_messages(task: str, feedback: str) -> list[dict[str, str]]:
    user = f"Task:\n{clip(task, MAX_TASK_CHARS)}\n\nWorkspace files:\n\n{render_files(task)}"
    user += "\n\n" + (feedback or "Reply with a FILE line and a code block per changed file.")
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def ask_model(client: openai.OpenAI, messages: list[dict[str, str]]) -> str:
    print(f"asking model {MODEL} ({sum(len(m['content']) for m in messages)} chars)")
    response = client.chat.completions.create(model=MODEL, messages=messages, temperature=0.2)
    if usage := response.usage:
        print(f"tokens: {usage.prompt_tokens} prompt, {usage.completion_tokens} completion")
    return response.choices[0].message.content or ""


def parse_edits(reply: str, task: str) -> dict[str, str]:
    """Map relative paths to new file contents found in the model's reply."""
    edits = {m["path"]: m["body"] for m in FILE_BLOCK.finditer(reply)}
    if edits:
        return edits

    # Small models often send one code block without the FILE line. It is applied only
    # when exactly one non-test Python file of the workspace is named in the task.
    blocks = FENCED_BLOCK.findall(reply)
    named = [rel for rel in list_workspace() if rel.endswith(".py") and Path(rel).name in task]
    named = [rel for rel in named if not is_test_file(rel)]
    if len(blocks) == 1 and len(named) == 1:
        print(f"reply has one code block and no FILE line; applying it to {named[0]}")
        return {named[0]: blocks[0]}
    return {}


def resolve_in_workspace(rel: str) -> Path:
    """Return the path for rel, raising ValueError when it could leave the workspace."""
    parts = Path(rel).parts
    if Path(rel).is_absolute() or ".." in parts or ".git" in parts or not parts:
        raise ValueError("only relative paths inside the workspace are allowed")
    target = WORKSPACE / rel
    if not target.resolve().is_relative_to(WORKSPACE.resolve()):
        raise ValueError("the path resolves outside the workspace through a symlink")
    return target


def apply_edits(edits: dict[str, str], originals: dict[str, bytes | None]) -> list[str]:
    """Write the edits, recording each file's first-seen content in originals."""
    written = []
    for rel, body in edits.items():
        try:
            target = resolve_in_workspace(rel)
        except ValueError as error:
            print(f"rejected {rel!r}: {error}")
            continue
        key = Path(rel).as_posix()
        if key not in originals:
            originals[key] = target.read_bytes() if target.is_file() else None
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")
        written.append(key)
        print(f"wrote {key} ({len(body)} chars)")
    return written


def compile_error(rel: str) -> str | None:
    """Return the SyntaxError text for a Python file, or None when it compiles."""
    path = WORKSPACE / rel
    if not rel.endswith(".py") or not path.is_file():
        return None
    try:
        compile(path.read_bytes(), rel, "exec")  # unlike py_compile, writes no .pyc file
    except (SyntaxError, ValueError) as error:
        return "".join(traceback.format_exception_only(error))
    return None


def run_tests() -> tuple[bool, str]:
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        result = subprocess.run(
            command, cwd=WORKSPACE, env=env, capture_output=True, text=True, timeout=TEST_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        print(f"pytest: timed out after {TEST_TIMEOUT_S} s")
        return False, f"pytest timed out after {TEST_TIMEOUT_S} s"
    output = (result.stdout + result.stderr)[-MAX_FEEDBACK_CHARS:]
    passed = result.returncode in (0, 5)  # pytest exits with 5 when it collects no tests
    print(f"pytest: {'passed' if passed else 'failed'} (exit code {result.returncode})")
    print(output[-MAX_PRINT_CHARS:])
    return passed, output


def run_checks(changed: list[str]) -> tuple[bool, str]:
    errors = [error for rel in changed if (error := compile_error(rel))]
    if errors:
        output = clip("\n".join(errors), MAX_FEEDBACK_CHARS)
        print(f"compile: failed\n{clip(output)}")
        return False, output
    print(f"compile: ok: {', '.join(rel for rel in changed if rel.endswith('.py')) or 'none'}")

    if not any(is_test_file(rel) and rel.endswith(".py") for rel in list_workspace()):
        print("pytest: skipped, the workspace has no tests")
        return True, ""
    return run_tests()


def restore_broken(originals: dict[str, bytes | None]) -> None:
    """Undo each edit that left a Python file failing to compile, dropping it from originals."""
    for rel, original in list(originals.items()):
        if compile_error(rel) is None:
            continue
        path = WORKSPACE / rel
        del originals[rel]
        if original is None:
            path.unlink()
            print(f"removed {rel}: it was new and fails to compile")
        else:
            path.write_bytes(original)
            print(f"restored {rel}: it fails to compile")


def run(client: openai.OpenAI, task: str, max_steps: int) -> None:
    originals: dict[str, bytes | None] = {}
    feedback, status, step = "", "not run", 0
    try:
        for step in range(1, max_steps + 1):
            print(f"=== step {step}/{max_steps}")
            reply = ask_model(client, build_messages(task, feedback))
            print(f"model reply: {clip(reply)}")
            if not apply_edits(parse_edits(reply, task), originals):
                print("no edits applied")
                feedback = "Your last reply changed no files. Use the FILE format."
                continue
            passed, output = run_checks(sorted(originals))
            status = "passed" if passed else "failed"
            if passed:
                break
            feedback = (
                f"The checks failed after your last edit:\n```\n{output}\n```\n"
                "Fix the problem. Reply with the complete corrected files in the FILE format."
            )
    finally:
        restore_broken(originals)

    changed = ", ".join(originals) or "none"
    print(f"summary: steps {step}/{max_steps}, files changed: {changed}, checks: {status}")


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)
    socket_path = os.environ.get(SOCKET_ENV, "")
    if not socket_path:
        print(f"error: {SOCKET_ENV} is not set; set it to the model gateway's unix socket path")
        return 1
    steps_text = os.environ.get(MAX_STEPS_ENV, "3")
    if not steps_text.isdigit() or int(steps_text) < 1:
        print(f"error: {MAX_STEPS_ENV} must be a positive integer, got {steps_text!r}")
        return 1
    if not PROMPT_FILE.is_file():
        print(f"error: task prompt {PROMPT_FILE} not found; set EVOLARIUM_PROMPT_FILE")
        return 1

    task = PROMPT_FILE.read_text(encoding="utf-8")
    print(f"agent: model {MODEL}, workspace {WORKSPACE}, max steps {steps_text}")
    transport = httpx.HTTPTransport(uds=socket_path)
    http_client = httpx.Client(transport=transport, timeout=REQUEST_TIMEOUT_S)
    client = openai.OpenAI(
        base_url="http://gateway/v1", api_key="sandbox", http_client=http_client, max_retries=0
    )
    try:
        run(client, task, int(steps_text))
    except openai.OpenAIError as error:
        print(f"error: model request failed: {error}")
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:
        traceback.print_exc()
        sys.exit(1)
