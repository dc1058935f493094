"""Tests of the seed agent, run as a subprocess against a scripted fake gateway.

The fake gateway is a threaded HTTP server on a unix socket in a temporary directory. It
serves POST /v1/chat/completions with scripted replies in the OpenAI chat.completion
format and records each request body, so each test sets exactly what the agent receives.
One test runs the agent against evolarium's real gateway instead, in front of the loopback
fake provider, to check that the agent reads the gateway's own error replies. No real
model is involved.
"""

import json
import os
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from evolarium.agents.contract import (
    ENTRY_POINT,
    MAX_STEPS_ENV,
    MODEL_ENV,
    SOCKET_ENV,
    seed_agent_dir,
)
from evolarium.llm.budget import Budget
from evolarium.llm.calls import CallContext
from evolarium.llm.gateway import Gateway
from evolarium.llm.router import ModelConfig, Router
from tests.fakeprovider import FakeProvider

AGENT = seed_agent_dir() / ENTRY_POINT
AGENT_TIMEOUT_S = 120

CALC_BUGGY = "def add(a, b):\n    return a - b\n"
CALC_FIXED = "def add(a, b):\n    return a + b\n"
CALC_BROKEN = "def add(a, b)\n    return a + b\n"
CALC_WRONG = "def add(a, b):\n    return 0\n"
TEST_CALC = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
CALC_TASK = {"calc.py": CALC_BUGGY, "test_calc.py": TEST_CALC}
CALC_PROMPT = "Fix the function add in calc.py so that test_calc.py passes.\n"


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    gateway: "FakeGateway"


class _ChatHandler(BaseHTTPRequestHandler):
    server: _UnixHTTPServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/v1/chat/completions":
            self._send(404, {"error": {"message": f"unknown path {self.path}"}})
            return

        reply = self.server.gateway.record(body)
        if reply is None:
            self._send(500, {"error": {"message": "no scripted reply left", "type": "server"}})
            return
        self._send(200, chat_completion(reply, body["model"]))

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        # Unix-socket clients have no address, which the default log line needs.
        pass


def chat_completion(content: str, model: str) -> dict[str, Any]:
    completion_tokens = len(content.split())
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 100,
            "completion_tokens": completion_tokens,
            "total_tokens": 100 + completion_tokens,
        },
    }


class FakeGateway:
    """A chat-completions server on a unix socket that returns scripted replies in order."""

    def __init__(self, replies: list[str]) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        # mkdtemp under /tmp keeps the path short: AF_UNIX paths are limited to 108 bytes.
        self._directory = tempfile.mkdtemp(prefix="evolarium-gw-")
        self.socket_path = os.path.join(self._directory, "llm.sock")
        self._server = _UnixHTTPServer(self.socket_path, _ChatHandler)
        self._server.gateway = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def record(self, body: dict[str, Any]) -> str | None:
        with self._lock:
            self.requests.append(body)
            return self.replies.pop(0) if self.replies else None

    def user_message(self, index: int) -> str:
        messages = self.requests[index]["messages"]
        return "\n".join(m["content"] for m in messages if m["role"] == "user")

    def __enter__(self) -> "FakeGateway":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        shutil.rmtree(self._directory, ignore_errors=True)


@dataclass
class AgentRun:
    returncode: int
    output: str
    gateway: FakeGateway
    workspace: Path


def agent_env(
    workspace: Path, prompt_file: Path, socket_path: str | None, max_steps: int
) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("EVOLARIUM_")}
    env["EVOLARIUM_WORKSPACE"] = str(workspace)
    env["EVOLARIUM_PROMPT_FILE"] = str(prompt_file)
    env[MAX_STEPS_ENV] = str(max_steps)
    if socket_path is not None:
        env[SOCKET_ENV] = socket_path
    return env


def run_agent(
    tmp_path: Path,
    files: dict[str, str],
    prompt: str,
    replies: list[str],
    max_steps: int = 3,
    with_socket: bool = True,
    extra_env: dict[str, str] | None = None,
) -> AgentRun:
    """Create the workspace and prompt under tmp_path and run agent.py against a fake gateway."""
    workspace = tmp_path / "workspace"
    workspace.mkdir(exist_ok=True)
    for rel, text in files.items():
        (workspace / rel).parent.mkdir(parents=True, exist_ok=True)
        (workspace / rel).write_text(text)
    prompt_file = tmp_path / "prompt.md"
    prompt_file.write_text(prompt)

    with FakeGateway(replies) as gateway:
        socket_path = gateway.socket_path if with_socket else None
        result = subprocess.run(
            [sys.executable, str(AGENT)],
            env=agent_env(workspace, prompt_file, socket_path, max_steps) | (extra_env or {}),
            capture_output=True,
            text=True,
            timeout=AGENT_TIMEOUT_S,
        )
    print(result.stdout, result.stderr)  # shown by pytest when a test fails
    return AgentRun(result.returncode, result.stdout + result.stderr, gateway, workspace)


def file_reply(files: dict[str, str]) -> str:
    blocks = [f"FILE: {rel}\n```python\n{text}```" for rel, text in files.items()]
    return "Here are the changes.\n\n" + "\n\n".join(blocks) + "\n"


def test_file_block_fixes_task(tmp_path: Path) -> None:
    run = run_agent(tmp_path, CALC_TASK, CALC_PROMPT, [file_reply({"calc.py": CALC_FIXED})])

    assert run.returncode == 0
    assert (run.workspace / "calc.py").read_text() == CALC_FIXED
    assert len(run.gateway.requests) == 1
    assert run.gateway.requests[0]["model"] == "evolarium-default"
    assert "return a - b" in run.gateway.user_message(0)
    assert CALC_PROMPT.strip() in run.gateway.user_message(0)
    assert "pytest: passed" in run.output
    assert "tokens: 100 prompt" in run.output
    assert "summary: steps 1/3, files changed: calc.py, checks: passed" in run.output


def test_model_name_from_env(tmp_path: Path) -> None:
    reply = file_reply({"calc.py": CALC_FIXED})
    run = run_agent(tmp_path, CALC_TASK, CALC_PROMPT, [reply], extra_env={MODEL_ENV: "other"})

    assert run.returncode == 0
    assert run.gateway.requests[0]["model"] == "other"


def test_syntax_error_sent_back(tmp_path: Path) -> None:
    replies = [file_reply({"calc.py": CALC_BROKEN}), file_reply({"calc.py": CALC_FIXED})]
    run = run_agent(tmp_path, CALC_TASK, CALC_PROMPT, replies)
    try:
        compile(CALC_BROKEN, "calc.py", "exec")
    except SyntaxError as error:
        expected_message = error.msg

    assert run.returncode == 0
    assert len(run.gateway.requests) == 2
    assert expected_message in run.gateway.user_message(1)
    assert "SyntaxError" in run.gateway.user_message(1)
    assert (run.workspace / "calc.py").read_text() == CALC_FIXED


def test_broken_replies_restore_original(tmp_path: Path) -> None:
    reply = file_reply({"calc.py": CALC_BROKEN, "extra.py": "def (:\n"})
    run = run_agent(tmp_path, CALC_TASK, CALC_PROMPT, [reply] * 3, max_steps=3)

    assert run.returncode == 0
    assert len(run.gateway.requests) == 3
    assert (run.workspace / "calc.py").read_text() == CALC_BUGGY
    assert not (run.workspace / "extra.py").exists()
    assert "restored calc.py" in run.output
    assert "files changed: none" in run.output


def test_escaping_paths_write_nothing_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "link").symlink_to(outside, target_is_directory=True)
    absolute = tmp_path / "absolute.py"
    reply = file_reply(
        {
            "../evil.py": "x = 1\n",
            str(absolute): "x = 2\n",
            "link/escape.py": "x = 3\n",
            ".git/config": "x = 4\n",
            "pkg/ok.py": "x = 5\n",
        }
    )
    run = run_agent(tmp_path, {}, "Create pkg/ok.py.\n", [reply])

    assert run.returncode == 0
    assert not (tmp_path / "evil.py").exists()
    assert not absolute.exists()
    assert not (outside / "escape.py").exists()
    assert not (run.workspace / ".git").exists()
    assert (run.workspace / "pkg" / "ok.py").read_text() == "x = 5\n"
    assert run.output.count("rejected") == 4


def test_step_limit_caps_requests(tmp_path: Path) -> None:
    replies = [file_reply({"calc.py": CALC_WRONG})] * 5
    run = run_agent(tmp_path, CALC_TASK, CALC_PROMPT, replies, max_steps=2)

    assert run.returncode == 0
    assert len(run.gateway.requests) == 2
    assert "1 failed" in run.gateway.user_message(1)
    assert "summary: steps 2/2, files changed: calc.py, checks: failed" in run.output


def test_missing_socket_env_exits_1(tmp_path: Path) -> None:
    run = run_agent(tmp_path, CALC_TASK, CALC_PROMPT, [], with_socket=False)

    assert run.returncode == 1
    assert SOCKET_ENV in run.output
    assert run.gateway.requests == []


def test_model_error_exits_1(tmp_path: Path) -> None:
    run = run_agent(tmp_path, CALC_TASK, CALC_PROMPT, [])

    assert run.returncode == 1
    assert "model request failed" in run.output
    assert len(run.gateway.requests) == 1


def test_invalid_max_steps_exits_1(tmp_path: Path) -> None:
    run = run_agent(tmp_path, CALC_TASK, CALC_PROMPT, [], max_steps=0)

    assert run.returncode == 1
    assert MAX_STEPS_ENV in run.output


def test_lone_code_block_applied(tmp_path: Path) -> None:
    reply = f"Here is the fix:\n\n```python\n{CALC_FIXED}```\n"
    run = run_agent(tmp_path, CALC_TASK, CALC_PROMPT, [reply])

    assert run.returncode == 0
    assert (run.workspace / "calc.py").read_text() == CALC_FIXED
    assert (run.workspace / "test_calc.py").read_text() == TEST_CALC
    assert len(run.gateway.requests) == 1


def test_lone_code_block_ignored_when_ambiguous(tmp_path: Path) -> None:
    files = {"calc.py": CALC_BUGGY, "util.py": "X = 1\n"}
    reply = f"```python\n{CALC_FIXED}```\n"
    run = run_agent(tmp_path, files, "Fix calc.py, using util.py.\n", [reply], max_steps=1)

    assert run.returncode == 0
    assert (run.workspace / "calc.py").read_text() == CALC_BUGGY
    assert (run.workspace / "util.py").read_text() == "X = 1\n"
    assert "no edits applied" in run.output


def test_request_skips_hidden_binary_and_over_budget(tmp_path: Path) -> None:
    files = {
        "calc.py": CALC_BUGGY,
        "notes_a.txt": "a" * 5000,
        "notes_b.txt": "b" * 5000,
        ".hidden/secret.txt": "hidden-secret",
        "__pycache__/calc.txt": "cached-text",
    }
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "data.bin").write_bytes(b"binary\0data")
    run = run_agent(tmp_path, files, CALC_PROMPT, [file_reply({"calc.py": CALC_FIXED})])
    request = run.gateway.user_message(0)

    assert "FILE: calc.py" in request
    assert "a" * 5000 in request
    assert "b" * 5000 not in request
    assert "Files not shown (over the size budget): notes_b.txt" in request
    assert "hidden-secret" not in request
    assert "cached-text" not in request
    assert "data.bin" not in request


def test_real_gateway_budget_refusal_ends_agent(tmp_path: Path) -> None:
    """The real gateway, with --max-calls 1, rejects the agent's second request with a 429.

    The 429 names the limit, and the agent prints it and exits 1 (loopback fake provider).
    """
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    for rel, text in CALC_TASK.items():
        (workspace / rel).write_text(text)
    prompt_file = tmp_path / "prompt.md"
    prompt_file.write_text(CALC_PROMPT)
    socket_path = Path(tempfile.mkdtemp(prefix="evolarium-gw-")) / "llm.sock"
    context = CallContext(run_id="seed-test", agent_id="seed", evaluation_id="ev-1")

    with FakeProvider([file_reply({"calc.py": CALC_BROKEN})] * 3) as fake:
        config = ModelConfig(model="openai/fake", api_base=fake.url, api_key="test")
        gateway = Gateway(Router(config), budget=Budget(calls=1))
        with gateway.serve(socket_path, context):
            result = subprocess.run(
                [sys.executable, str(AGENT)],
                env=agent_env(workspace, prompt_file, str(socket_path), 3),
                capture_output=True,
                text=True,
                timeout=AGENT_TIMEOUT_S,
            )
        provider_requests = len(fake.requests)
    shutil.rmtree(socket_path.parent, ignore_errors=True)
    output = result.stdout + result.stderr
    print(output)

    assert result.returncode == 1
    assert "model request failed" in output
    assert "429" in output
    assert "--max-calls 1" in output
    assert provider_requests == 1
