"""A fake OpenAI-compatible chat-completions server for deterministic tests and fault injection.

It is not a model: each POST to ``/v1/chat/completions`` returns the next reply that the
test scripted. The path, headers (names in lower case) and body of every request are kept
for the test to inspect. It listens on 127.0.0.1 with an ephemeral port and runs in a
thread::

    with FakeProvider(["first reply", lambda request: "second reply"]) as fake:
        config = ModelConfig(model="openai/fake", api_base=fake.url, api_key="test")

A scripted reply is one of:

- a ``str``: the assistant message content of a normal completion;
- a ``dict``: sent as the whole JSON response body;
- a :class:`FakeError`: an HTTP error status with an OpenAI-style error body, and
  optional headers such as Retry-After;
- a :class:`RawReply`: exact bytes (malformed JSON, invalid UTF-8) with a status;
- a :class:`Hang`: the server reads the request and sends nothing for a while;
- a callable taking the request body and returning one of the above.

When the script is exhausted, the server returns 500 with an error body that states it.
"""

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class FakeError:
    """A scripted HTTP error reply."""

    status: int
    message: str = "injected failure"
    error_type: str = "server_error"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class RawReply:
    """A scripted reply sent byte for byte, whatever it contains."""

    body: bytes
    status: int = 200


@dataclass(frozen=True)
class Hang:
    """A scripted reply that never comes: the handler sleeps, then closes the connection."""

    seconds: float = 30.0


Reply = str | dict | FakeError | RawReply | Hang | Callable[[dict], Any]


def completion_body(content: str, request: dict, completion_id: int) -> dict:
    """Build a chat.completion body, counting whitespace-separated words as tokens."""
    prompt_words = sum(
        len(str(message.get("content", "")).split()) for message in request.get("messages", [])
    )
    completion_words = len(content.split())
    return {
        "id": f"chatcmpl-fake-{completion_id}",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": request.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_words,
            "completion_tokens": completion_words,
            "total_tokens": prompt_words + completion_words,
        },
    }


class FakeProvider:
    """A scripted OpenAI-compatible server on 127.0.0.1; use it as a context manager."""

    def __init__(self, replies: Iterable[Reply] = ()) -> None:
        self._replies: deque[Reply] = deque(replies)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.requests: list[dict] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    @property
    def url(self) -> str:
        """The api_base to configure, ending in ``/v1``."""
        if self._server is None:
            raise RuntimeError("the fake provider is not started; use it in a with block")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def add(self, *replies: Reply) -> None:
        """Append replies to the script."""
        with self._lock:
            self._replies.extend(replies)

    def start(self) -> "FakeProvider":
        """Start serving in a daemon thread and return self.

        After stop(), start() binds the same port again, so that a test can take the
        provider down and bring it back under the same url.
        """
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), _handler_for(self))
        self._port = self._server.server_address[1]
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-provider",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port, so that later calls get connection refused."""
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._thread = None

    def __enter__(self) -> "FakeProvider":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _reply_to(self, path: str, headers: dict[str, str], request: dict) -> tuple[int, Any]:
        with self._lock:
            self.paths.append(path)
            self.headers.append(headers)
            self.requests.append(request)
            reply = self._replies.popleft() if self._replies else None
            completion_id = next(self._ids)

        if reply is None:
            return 500, FakeError(500, "the fake provider has no scripted reply left")
        if callable(reply):
            reply = reply(request)
        if isinstance(reply, Hang):
            return 0, reply
        if isinstance(reply, FakeError | RawReply):
            return reply.status, reply
        if isinstance(reply, dict):
            return 200, reply
        return 200, completion_body(reply, request, completion_id)


def _error_body(message: str, error_type: str) -> dict:
    return {"error": {"message": message, "type": error_type, "param": None, "code": None}}


def _handler_for(provider: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/v1/chat/completions":
                error = _error_body(f"no route {self.path}", "invalid_request_error")
                self._send(404, json.dumps(error).encode())
                return

            length = int(self.headers.get("Content-Length", "0"))
            request = json.loads(self.rfile.read(length) or b"{}")
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, body = provider._reply_to(self.path, headers, request)
            if isinstance(body, Hang):
                time.sleep(body.seconds)
                self.close_connection = True
                return
            if isinstance(body, FakeError):
                error = _error_body(body.message, body.error_type)
                self._send(status, json.dumps(error).encode(), body.headers)
                return
            if isinstance(body, RawReply):
                self._send(status, body.body)
                return
            self._send(status, json.dumps(body).encode("utf-8"))

        def _send(self, status: int, data: bytes, headers: Iterable = ()) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
