"""The gateway's OpenAI-compatible HTTP endpoint on a unix socket, one socket per sandbox.

Routes: ``POST /v1/chat/completions`` and ``GET /v1/models``. Errors use OpenAI's body
shape ``{"error": {"message": ..., "type": ...}}``. Connections are kept alive (HTTP/1.1)
between requests, because a new connection and thread per request cost the client
milliseconds. ``close()`` shuts down the reading side of every open connection, so no
connection outlives it, and a request in flight still gets its response.

A request with ``"stream": true`` gets an OpenAI-style server-sent event stream:
``data: <chat.completion.chunk>`` events, then ``data: [DONE]``. The gateway completes it
like any other request, so retries, budgets, replay and recording are the same, and then
this server splits the completion into chunks. An error raised before the first chunk is
sent as a JSON error with its HTTP status, as for an unstreamed request.
"""

import errno
import json
import logging
import os
import re
import socket
import socketserver
import stat
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from evolarium.agents.contract import DEFAULT_MODEL_NAME
from evolarium.errors import ConfigError
from evolarium.llm.budget import BudgetExceededError
from evolarium.llm.calls import (
    CallContext,
    InvalidRequestError,
    PendingRecords,
    ProviderError,
    includes_usage,
    is_streamed,
    nests_deeper_than,
)
from evolarium.llm.replay import ReplayMissError

if TYPE_CHECKING:
    from evolarium.llm.gateway import Gateway

logger = logging.getLogger(__name__)

CHAT_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"

MAX_BODY_BYTES = 1 << 20
MAX_JSON_DEPTH = 100
"""Nesting of arrays and objects allowed in a request body; tool schemas need a few dozen."""
TOO_DEEP = (
    f"the request body nests arrays or objects more than {MAX_JSON_DEPTH} levels deep; "
    "send a flatter body"
)
# An oversized body is read and discarded up to this size, so that the client, which sends
# the whole body before it reads, gets the 400 instead of a broken pipe.
MAX_DISCARD_BYTES = 16 << 20
# Seconds an open connection may stay silent, while idle or within a request. A client that
# sends a byte now and then keeps its connection, but MAX_CONNECTIONS bounds what it holds.
# The model's reply time is not limited here.
READ_TIMEOUT_S = 60.0
# Linux's sockaddr_un has room for 108 bytes, the trailing NUL included.
MAX_SOCKET_PATH_BYTES = 107
# Open connections of one socket, each with a server thread. One sandbox has one socket.
MAX_CONNECTIONS = 32
# Seconds close() waits for this socket's calls in flight and records not written yet.
RECORD_WAIT_S = 30.0
# Words of the reply's content in each chunk of a streamed response.
WORDS_PER_CHUNK = 16
STREAM_END = b"data: [DONE]\n\n"


def _too_large(length: int) -> str:
    return f"the request body is {length} bytes; the limit is {MAX_BODY_BYTES} bytes (1 MiB)"


def _error_body(message: str, error_type: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": None, "code": None}}


class _UnixHTTPServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    # Connections waiting to be accepted. A client with a timeout, such as httpx, fails at
    # once when this queue is full, and Python's default of 5 was full at 10 parallel connects.
    request_queue_size = 128

    def __init__(self, path: Path, gateway: "Gateway", context: CallContext) -> None:
        self.gateway = gateway
        self.context = context
        self.pending = PendingRecords()
        """This socket's calls in flight and records not yet written."""
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self.stopped = False
        """Set by close(): requests that arrive later, even on an open connection, are not
        served."""
        super().__init__(str(path), _GatewayHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            rejected = self.stopped or len(self._connections) >= MAX_CONNECTIONS
            if not rejected:
                self._connections.add(request)
        if rejected:
            # Each connection uses a thread and a file descriptor of the host process.
            logger.warning(
                "rejected a connection to %s: %d are open, the limit is %d",
                self.server_address,
                len(self._connections),
                MAX_CONNECTIONS,
            )
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that resets its connection is common and harmless, so it gets one log
        # line instead of the base class's traceback on stderr.
        error = sys.exc_info()[1]
        logger.info("connection to %s ended with an error: %r", self.server_address, error)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def stop_reading(self) -> None:
        """Reject new connections, and end each open one after its request in flight."""
        with self._connections_lock:
            self.stopped = True
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RD)
            except OSError:  # the client closed it meanwhile
                continue


class _GatewayHandler(BaseHTTPRequestHandler):
    server: _UnixHTTPServer
    server_version = "evolarium-gateway"
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT_S

    def do_GET(self) -> None:
        has_body = self.headers.get("Content-Length", "0").strip() not in ("", "0")
        if has_body or "Transfer-Encoding" in self.headers:
            self.close_connection = True  # the body is never read
        path = self._route()
        if path == MODELS_PATH:
            model = {
                "id": DEFAULT_MODEL_NAME,
                "object": "model",
                "created": 0,
                "owned_by": "evolarium",
            }
            self._send_json(HTTPStatus.OK, {"object": "list", "data": [model]})
        elif path == CHAT_PATH:
            self._send_error(HTTPStatus.METHOD_NOT_ALLOWED, f"use POST for {CHAT_PATH}")
        else:
            self._send_not_found(path)

    def do_POST(self) -> None:
        path = self._route()
        if path != CHAT_PATH:
            # The body is read and dropped, so that a client still sending it gets the error
            # instead of a broken pipe, and the connection ends after the error.
            self._discard_declared_body()
            self.close_connection = True
            if path == MODELS_PATH:
                self._send_error(HTTPStatus.METHOD_NOT_ALLOWED, f"use GET for {MODELS_PATH}")
            else:
                self._send_not_found(path)
            return

        try:
            request = self._read_json()
        except InvalidRequestError as error:
            if self.server.stopped:  # close() cut the body short, so the client made no error
                self._send_closed()
                return
            self._reject(self._raw_body, error)
            self._send_error(HTTPStatus.BAD_REQUEST, str(error))
            return

        self._complete(request)

    def handle_one_request(self) -> None:
        # Requests that a client sent ahead on a kept-alive connection can still be buffered
        # here after close(), so each one is checked before it is read.
        if self.server.stopped:
            self.close_connection = True
            return
        super().handle_one_request()

    def _complete(self, request: object) -> None:
        if self.server.stopped:
            self._send_closed()
            return
        # The call's record is written after the response is sent, off the client's time.
        # The call counts as pending from here, so that close() waits for it.
        pending = self.server.pending
        pending.add()
        try:
            with self.server.gateway.deferred_recording(pending):
                self._complete_now(request)
        finally:
            pending.done()

    def _complete_now(self, request: object) -> None:
        gateway = self.server.gateway
        try:
            response = gateway.complete(request, self.server.context)  # type: ignore[arg-type]
        except InvalidRequestError as error:
            self._send_error(HTTPStatus.BAD_REQUEST, str(error))
        except ReplayMissError as error:
            # 404 because the recording has no response for this request. The OpenAI
            # client does not retry a 404, and no model is called in replay mode.
            self._send_error(HTTPStatus.NOT_FOUND, f"replay miss: {error}", "replay_miss")
        except ProviderError as error:
            self._send_error(HTTPStatus.BAD_GATEWAY, f"model provider failed: {error}", "api_error")
        except BudgetExceededError as error:
            self._send_error(
                HTTPStatus.TOO_MANY_REQUESTS,
                f"model budget spent: {error}; finish without more model calls",
                "insufficient_quota",
            )
        except Exception:  # a defect in the gateway must not kill the server thread
            logger.exception("gateway failed on %s", self.server.server_address)
            self._send_error(
                HTTPStatus.INTERNAL_SERVER_ERROR, "internal gateway error", "api_error"
            )
        else:
            if is_streamed(request):  # type: ignore[arg-type]
                usage = includes_usage(request)  # type: ignore[arg-type]
                self._send_stream(completion_chunks(response, include_usage=usage))
            else:
                self._send_json(HTTPStatus.OK, response)

    def _route(self) -> str:
        try:
            path = urlsplit(self.path).path
        except ValueError:  # such as an unclosed "[" in the host of an absolute target
            path = self.path.split("?", 1)[0]
        if len(path) > 1:
            path = path.rstrip("/")
        return path

    def _read_json(self) -> object:
        self._raw_body = ""
        body = self._read_body()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidRequestError(f"the request body is not UTF-8: {error}") from None

        self._raw_body = text[:200]
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise InvalidRequestError(f"the request body is not valid JSON: {error}") from None
        except RecursionError:
            raise InvalidRequestError(TOO_DEEP) from None
        if nests_deeper_than(value, MAX_JSON_DEPTH):
            # Deeper values would exhaust the recursion of later steps (hashing, storing).
            raise InvalidRequestError(TOO_DEEP)
        return value

    def _read_body(self) -> bytes:
        # A body that is not read to its end would be parsed as the next request, so every
        # rejection below also ends the connection. parse_request() has already decided
        # from the HTTP version and the Connection header whether the client keeps it.
        self._closes_after_request = self.close_connection
        self.close_connection = True
        self._check_framing()

        length = self._declared_length()
        if length > MAX_BODY_BYTES:
            self._discard(length)
            raise InvalidRequestError(_too_large(length))
        body = self.rfile.read(length)
        if len(body) < length:
            # The client half-closed its connection, or close() cut it, mid-body.
            raise InvalidRequestError(
                f"the request body ended after {len(body)} of its {length} bytes "
                f"(Content-Length); send the whole body"
            )
        self.close_connection = self._closes_after_request
        return body

    def _check_framing(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise InvalidRequestError(
                "chunked request bodies are not supported; send Content-Length"
            )

    def _declared_length(self) -> int:
        """Return the body length of the Content-Length header, which must be one number."""
        values = {value.strip() for value in self.headers.get_all("Content-Length") or []}
        if not values:
            raise InvalidRequestError("the Content-Length header is missing")
        if len(values) > 1:
            listed = ", ".join(sorted(repr(value[:20]) for value in values))
            raise InvalidRequestError(
                f"conflicting Content-Length headers: {listed:.100}; send one Content-Length"
            )
        header = values.pop()
        # int() would also take "+79", " 79" and "7_9", but HTTP allows digits only.
        if not header.isascii() or not header.isdigit():
            raise InvalidRequestError(f"invalid Content-Length {header!r:.40}; send digits only")
        return int(header)

    def handle_expect_100(self) -> bool:
        # A chat request whose body would be rejected is rejected before the client is
        # asked to send that body.
        if self.command != "POST" or self._route() != CHAT_PATH:
            return super().handle_expect_100()
        try:
            self._check_framing()
            length = self._declared_length()
            if length > MAX_BODY_BYTES:
                raise InvalidRequestError(_too_large(length))
        except InvalidRequestError as error:
            self.close_connection = True
            self._reject("", error)
            self._send_error(HTTPStatus.BAD_REQUEST, str(error))
            return False
        return super().handle_expect_100()

    def _discard_declared_body(self) -> None:
        header = self.headers.get("Content-Length", "").strip()
        if header.isascii() and header.isdigit():
            self._discard(int(header))

    def _discard(self, length: int) -> None:
        remaining = min(length, MAX_DISCARD_BYTES)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 65536))
            if not chunk:
                return
            remaining -= len(chunk)

    def _reject(self, body: object, error: InvalidRequestError) -> None:
        """Record a request rejected here, counted as pending so that close() waits."""
        pending = self.server.pending
        pending.add()
        try:
            self.server.gateway.reject(body, error, self.server.context)
        finally:
            pending.done()

    def _send_closed(self) -> None:
        self.close_connection = True
        self._send_error(
            HTTPStatus.SERVICE_UNAVAILABLE, "the gateway is closed", "service_unavailable"
        )

    def _send_not_found(self, path: str) -> None:
        message = f"no route for {path!r:.100}; use POST {CHAT_PATH} or GET {MODELS_PATH}"
        self._send_error(HTTPStatus.NOT_FOUND, message)

    def _send_error(
        self, status: HTTPStatus, message: str, error_type: str = "invalid_request_error"
    ) -> None:
        self._send_json(status, _error_body(message, error_type))

    def _send_json(self, status: HTTPStatus, payload: dict) -> None:
        data = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except OSError as error:  # the client disconnected before the response was sent
            logger.info("client of %s disconnected: %s", self.server.server_address, error)

    def _send_stream(self, chunks: list[dict]) -> None:
        # NOTE: the first chunk is sent only when the whole reply is ready, because the
        # provider is called without streaming. A client sees no earlier first token.
        # Since every event is known, the stream has a Content-Length and the connection
        # stays open for the next request.
        events = [b"data: " + json.dumps(chunk).encode("utf-8") + b"\n\n" for chunk in chunks]
        data = b"".join(events) + STREAM_END
        try:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except OSError as error:  # the client disconnected during the stream
            logger.info("client of %s disconnected: %s", self.server.server_address, error)

    def address_string(self) -> str:
        # Clients of a unix socket have no address, and the base class would index an empty one.
        return str(self.server.server_address)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s: " + format, self.address_string(), *args)


def completion_chunks(completion: dict, *, include_usage: bool) -> list[dict]:
    """Split a ``chat.completion`` into the ``chat.completion.chunk`` objects of a stream.

    Each choice gets a chunk with the role, its content in pieces of WORDS_PER_CHUNK words,
    a chunk with any refusal, tool calls or function call, and a last chunk with its
    finish_reason and logprobs. With ``include_usage``, every chunk has ``"usage": null``
    and one more chunk with no choices carries the usage, as in OpenAI's streams.
    """
    base: dict[str, Any] = {
        "id": completion.get("id"),
        "object": "chat.completion.chunk",
        "created": completion.get("created"),
        "model": completion.get("model"),
        "system_fingerprint": completion.get("system_fingerprint"),
    }
    if include_usage:
        base["usage"] = None

    chunks = []
    for position, choice in enumerate(completion.get("choices") or []):
        chunks.extend(_choice_chunks(base, choice, position))

    if include_usage:
        chunks.append(base | {"choices": [], "usage": completion.get("usage")})
    return chunks


def _choice_chunks(base: dict[str, Any], choice: dict, position: int) -> list[dict]:
    index = choice.get("index", position)
    message = choice.get("message") or {}
    deltas: list[dict[str, Any]] = [{"role": message.get("role") or "assistant", "content": ""}]
    deltas.extend({"content": piece} for piece in split_content(message.get("content")))

    if message.get("refusal"):
        deltas.append({"refusal": message["refusal"]})
    tool_calls = message.get("tool_calls")
    if tool_calls:
        calls = [_tool_call_delta(number, call) for number, call in enumerate(tool_calls)]
        deltas.append({"tool_calls": calls})
    if message.get("function_call"):
        deltas.append({"function_call": message["function_call"]})

    chunks = [_chunk(base, index, delta) for delta in deltas]
    last = _chunk(base, index, {}, finish_reason=choice.get("finish_reason"))
    last["choices"][0]["logprobs"] = choice.get("logprobs")
    chunks.append(last)
    return chunks


def _chunk(base: dict[str, Any], index: int, delta: dict, finish_reason: str | None = None) -> dict:
    choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    return base | {"choices": [choice]}


def _tool_call_delta(number: int, call: dict) -> dict:
    # In a stream, "index" identifies the tool call that a delta extends.
    return {
        "index": number,
        "id": call.get("id"),
        "type": call.get("type") or "function",
        "function": call.get("function"),
    }


def split_content(content: object) -> list[object]:
    """Split message content into pieces of WORDS_PER_CHUNK words that join back to it.

    Whitespace stays with the word before it, so ``"".join(pieces) == content``. Content
    that is not a string is one piece, and empty content gives no pieces.
    """
    if content is None or content == "":
        return []
    if not isinstance(content, str):
        return [content]

    words = re.split(r"(?<=\s)(?=\S)", content)
    return [
        "".join(words[start : start + WORDS_PER_CHUNK])
        for start in range(0, len(words), WORDS_PER_CHUNK)
    ]


def _prepare_path(path: Path) -> None:
    if len(os.fsencode(path)) > MAX_SOCKET_PATH_BYTES:
        raise ConfigError(
            f"socket path {str(path)!r} is longer than {MAX_SOCKET_PATH_BYTES} bytes; "
            "use a shorter runs directory"
        )

    parent = path.parent
    if not parent.exists():
        parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        # mkdir's mode is reduced by the umask, but the container user must be able to enter.
        parent.chmod(0o755)

    if not path.exists() and not path.is_symlink():
        return
    if not stat.S_ISSOCK(path.lstat().st_mode):
        raise ConfigError(f"{path} exists and is not a socket; remove it or choose another path")
    if _socket_answers(path):
        raise ConfigError(f"socket {path} is in use by another server; choose another path")

    logger.info("removing stale socket %s", path)
    path.unlink()


def _socket_answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError as error:
            if error.errno in (errno.ECONNREFUSED, errno.ENOENT):
                return False
            raise
    return True


class GatewaySocket:
    """A gateway served on a unix socket by a background thread until close().

    The socket file is mode 0o666 so that a non-root container user can connect through a
    read-only bind mount. Use as a context manager, or call close(), which is idempotent.
    """

    def __init__(self, gateway: "Gateway", path: Path, context: CallContext) -> None:
        self.path = path
        self.context = context
        self._closed = False
        self._close_lock = threading.Lock()

        _prepare_path(path)
        self._server = _UnixHTTPServer(path, gateway, context)
        os.chmod(path, 0o666)

        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"llm-gateway:{path.name}",
            daemon=True,
        )
        self._thread.start()
        logger.info(
            "gateway serving %s on %s (run %s, agent %s, task %s)",
            gateway.router.model,
            path,
            context.run_id,
            context.agent_id,
            context.task_id,
        )

    def close(self) -> None:
        """Stop the server thread and remove the socket file.

        Open connections end after their request in flight, which still gets its response.
        close() waits, up to RECORD_WAIT_S, for the calls in flight and for the records of
        every call, so that a caller reading the archive after close() finds every call
        of the socket, even one whose client was killed while it waited for the reply.
        """
        # The lock is held to the end, so that a second caller also returns only then.
        with self._close_lock:
            if self._closed:
                return
            self._closed = True

            self._server.shutdown()
            self._server.stop_reading()
            self._server.server_close()
            self._thread.join()
            self.path.unlink(missing_ok=True)
            if not self.wait_written(RECORD_WAIT_S):
                # NOTE: such a call, slower than RECORD_WAIT_S or blocked sending its reply,
                # is charged and recorded after close() has returned.
                logger.warning(
                    "calls on %s did not end or were not recorded within %.0f s",
                    self.path,
                    RECORD_WAIT_S,
                )
            logger.info("gateway stopped on %s", self.path)

    def wait_written(self, timeout_s: float) -> bool:
        """Wait until this socket's calls have ended and their records are written.

        Return False on timeout.
        """
        return self._server.pending.wait(timeout_s)

    def __enter__(self) -> "GatewaySocket":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
