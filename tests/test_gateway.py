"""Tests of the model gateway, its unix-socket HTTP endpoint and the router's checks.

Model: the scripted fake OpenAI-compatible server in tests/fakeprovider.py, reached through
litellm's "openai" provider as ModelConfig(model="openai/fake", api_base=fake.url). No
language model runs here; the embedded model is tested in test_local_model.py.
"""

import http.client
import json
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from evolarium.agents.contract import DEFAULT_MODEL_NAME
from evolarium.errors import ConfigError, ModelError
from evolarium.llm.budget import Budget
from evolarium.llm.gateway import (
    CallContext,
    CallRecord,
    Gateway,
    InvalidRequestError,
    ProviderError,
)
from evolarium.llm.router import ModelConfig, Router
from tests.fakeprovider import FakeError, FakeProvider, completion_body

CONTEXT = CallContext(run_id="run-1", agent_id="agent-7", task_id="task-3", evaluation_id="ev-9")
MAX_TOKENS = 64


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def records() -> list[CallRecord]:
    return []


@pytest.fixture
def gateway(fake: FakeProvider, records: list[CallRecord]) -> Gateway:
    config = ModelConfig(
        model="openai/fake", api_base=fake.url, api_key="test", max_tokens=MAX_TOKENS
    )
    # No waiting between retries, so failing calls stay fast; tests/test_faults.py checks waits.
    return Gateway(Router(config), recorder=records.append, sleep=lambda _seconds: None)


@pytest.fixture
def socket_path(tmp_path: Path) -> Path:
    return tmp_path / "sockets" / "llm.sock"


def http_client(path: Path) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(uds=str(path)), base_url="http://gateway")


def openai_client(path: Path) -> openai.OpenAI:
    return openai.OpenAI(
        base_url="http://gateway/v1",
        api_key="unused",
        http_client=http_client(path),
        max_retries=0,
    )


def ask(client: openai.OpenAI, question: str) -> str | None:
    response = client.chat.completions.create(
        model=DEFAULT_MODEL_NAME, messages=[{"role": "user", "content": question}]
    )
    return response.choices[0].message.content


def chat_body(question: str = "What is two plus two?") -> dict:
    return {"model": DEFAULT_MODEL_NAME, "messages": [{"role": "user", "content": question}]}


def test_socket_call_returns_scripted_reply(
    fake: FakeProvider, gateway: Gateway, records: list[CallRecord], socket_path: Path
) -> None:
    fake.add("four, of course")

    with gateway.serve(socket_path, CONTEXT):
        content = ask(openai_client(socket_path), "What is two plus two?")

    assert content == "four, of course"
    assert len(fake.requests) == 1
    assert len(records) == 1
    record = records[0]
    assert record.context == CONTEXT
    assert record.outcome == "ok"
    assert record.error is None
    assert record.model == "openai/fake"
    assert record.requested_model == DEFAULT_MODEL_NAME
    assert record.request["messages"] == [{"role": "user", "content": "What is two plus two?"}]
    assert record.response is not None
    assert record.response["choices"][0]["message"]["content"] == "four, of course"
    assert record.prompt_tokens == 5
    assert record.completion_tokens == 3
    assert record.latency_ms > 0
    assert record.started_at.tzinfo is not None
    assert gateway.calls == 1
    assert gateway.prompt_tokens == 5
    assert gateway.completion_tokens == 3


def test_socket_file_modes_and_removal(gateway: Gateway, socket_path: Path) -> None:
    with gateway.serve(socket_path, CONTEXT) as served:
        assert served.path == socket_path
        assert stat.S_ISSOCK(socket_path.stat().st_mode)
        assert stat.S_IMODE(socket_path.stat().st_mode) == 0o666
        assert stat.S_IMODE(socket_path.parent.stat().st_mode) == 0o755

    assert not socket_path.exists()
    served.close()  # a second close is a no-op


def test_router_forwards_configured_model(
    fake: FakeProvider, gateway: Gateway, records: list[CallRecord]
) -> None:
    fake.add("ok")
    request = chat_body() | {"max_tokens": 10_000, "stream": False, "user": "agent"}

    gateway.complete(request, CONTEXT)

    sent = fake.requests[0]
    assert sent["model"] == "fake"
    assert sent["max_tokens"] == MAX_TOKENS
    assert sent["temperature"] == ModelConfig().temperature
    assert sent["messages"] == request["messages"]
    assert fake.paths == ["/v1/chat/completions"]


def test_router_keeps_smaller_max_tokens(fake: FakeProvider, gateway: Gateway) -> None:
    fake.add("ok")

    gateway.complete(chat_body() | {"max_tokens": 7, "temperature": 0.9}, CONTEXT)

    assert fake.requests[0]["max_tokens"] == 7
    assert fake.requests[0]["temperature"] == 0.9


def test_in_process_call_recorded(
    fake: FakeProvider, gateway: Gateway, records: list[CallRecord]
) -> None:
    fake.add("child agent source")
    context = CallContext(run_id="run-1", purpose="operator")

    response = gateway.complete(chat_body("Improve this agent."), context)

    assert response["choices"][0]["message"]["content"] == "child agent source"
    assert [record.outcome for record in records] == ["ok"]
    assert records[0].context.purpose == "operator"


def test_in_process_invalid_request_raises(
    fake: FakeProvider, gateway: Gateway, records: list[CallRecord]
) -> None:
    with pytest.raises(InvalidRequestError, match="messages"):
        gateway.complete({"model": DEFAULT_MODEL_NAME}, CONTEXT)

    assert fake.requests == []
    assert [record.outcome for record in records] == ["rejected"]


def test_in_process_provider_error_raises(
    fake: FakeProvider, gateway: Gateway, records: list[CallRecord]
) -> None:
    fake.add(*[FakeError(500, "the fake is overloaded")] * 3)

    with pytest.raises(ProviderError, match="overloaded") as raised:
        gateway.complete(chat_body(), CONTEXT)

    assert isinstance(raised.value, ModelError)
    # One request per gateway attempt: litellm and the OpenAI client must not retry too.
    assert len(fake.requests) == gateway.retry.attempts
    assert [record.outcome for record in records] == ["server_error"] * gateway.retry.attempts
    assert [record.attempt for record in records] == [1, 2, 3]
    assert "overloaded" in (records[0].error or "")


def test_context_overflow_rejected(
    fake: FakeProvider, gateway: Gateway, records: list[CallRecord], socket_path: Path
) -> None:
    overflow = "This model's maximum context length is 8192 tokens. Please reduce the length."
    fake.add(FakeError(400, overflow, "invalid_request_error"))

    with gateway.serve(socket_path, CONTEXT), http_client(socket_path) as client:
        response = client.post("/v1/chat/completions", json=chat_body())

    assert response.status_code == 400
    assert "context window" in response.json()["error"]["message"]
    assert len(fake.requests) == 1
    assert [record.outcome for record in records] == ["context_exceeded"]
    assert gateway.meter.run.calls == 1  # the request reached the provider


def test_context_overflow_counts_against_call_limit(
    fake: FakeProvider, records: list[CallRecord], socket_path: Path
) -> None:
    """Messages too long for the model cannot be sent past --max-calls."""
    overflow = "This model's maximum context length is 8192 tokens. Please reduce the length."
    fake.add(*[FakeError(400, overflow, "invalid_request_error")] * 3)
    config = ModelConfig(model="openai/fake", api_base=fake.url, api_key="test")
    gateway = Gateway(Router(config), recorder=records.append, budget=Budget(calls=1))

    with gateway.serve(socket_path, CONTEXT), http_client(socket_path) as client:
        statuses = [client.post("/v1/chat/completions", json=chat_body()).status_code]
        statuses += [client.post("/v1/chat/completions", json=chat_body()).status_code]

    assert statuses == [400, 429]
    assert len(fake.requests) == 1
    assert [record.outcome for record in records] == ["context_exceeded", "budget_exceeded"]


def test_negative_usage_counts_as_zero(fake: FakeProvider, gateway: Gateway) -> None:
    body = completion_body("fine", chat_body(), 1)
    body["usage"] = {"prompt_tokens": -500, "completion_tokens": -500, "total_tokens": -1000}
    fake.add(body)

    gateway.complete(chat_body(), CONTEXT)

    assert gateway.meter.run.tokens == 0


def test_error_text_hides_api_key(fake: FakeProvider, records: list[CallRecord]) -> None:
    fake.add(FakeError(500, "upstream rejected key sk-secret-123"))
    config = ModelConfig(model="openai/fake", api_base=fake.url, api_key="sk-secret-123")
    gateway = Gateway(Router(config), recorder=records.append)

    with pytest.raises(ProviderError) as raised:
        gateway.complete(chat_body(), CONTEXT)

    assert "sk-secret-123" not in str(raised.value)
    assert records[0].error is not None
    assert "sk-secret-123" not in records[0].error
    assert "***" in records[0].error


def test_malformed_json_rejected(
    fake: FakeProvider, gateway: Gateway, records: list[CallRecord], socket_path: Path
) -> None:
    with gateway.serve(socket_path, CONTEXT), http_client(socket_path) as client:
        response = client.post(
            "/v1/chat/completions",
            content=b'{"messages": [',
            headers={"Content-Type": "application/json"},
        )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "not valid JSON" in error["message"]
    assert fake.requests == []
    assert len(records) == 1
    assert records[0].outcome == "rejected"
    assert records[0].context == CONTEXT
    assert records[0].response is None
    assert records[0].request == {"invalid_body": '{"messages": ['}


INVALID_BODIES = [
    pytest.param({"model": DEFAULT_MODEL_NAME}, "messages", id="missing-messages"),
    pytest.param({"messages": "hello"}, "messages", id="messages-not-list"),
    pytest.param({"messages": []}, "messages", id="empty-messages"),
    pytest.param({"messages": [{"content": "hi"}]}, "role", id="message-without-role"),
    pytest.param(["not", "an", "object"], "JSON object", id="array-body"),
    pytest.param(chat_body() | {"max_tokens": 0}, "max_tokens", id="zero-max-tokens"),
    pytest.param(chat_body() | {"temperature": "hot"}, "temperature", id="text-temperature"),
    pytest.param(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "http://127.0.0.1:9/a.png"}}
                    ],
                }
            ]
        },  # noqa: E501
        "links to 'http://127.0.0.1:9/a.png'",
        id="image-url-link",
    ),
    pytest.param(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "file", "file": {"file_id": "file:///etc/passwd"}}],
                }
            ]
        },  # noqa: E501
        "send the data inline",
        id="file-link",
    ),
]


def linked_part(url: str) -> dict:
    return {"type": "file", "file": {"file_id": url}}


def test_linked_file_is_not_fetched(
    fake: FakeProvider,
    gateway: Gateway,
    records: list[CallRecord],
    socket_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """litellm downloads a file part's URL on the host, so the gateway refuses the link.

    Host name lookups in this process are recorded and refused, so nothing leaves the
    machine; without the gateway's check litellm looks the name up.
    """
    lookups: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def recorded_getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".invalid"):
            lookups.append(host)
            raise socket.gaierror(socket.EAI_NONAME, "refused by the test")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", recorded_getaddrinfo)
    link = linked_part("http://c2VjcmV0.canary.invalid/x.pdf")
    body = {"messages": [{"role": "user", "content": [link]}]}
    with gateway.serve(socket_path, CONTEXT), http_client(socket_path) as client:
        response = client.post("/v1/chat/completions", json=body)

    assert response.status_code == 400, response.text
    assert "fetches nothing" in response.json()["error"]["message"]
    assert lookups == []
    assert fake.requests == []
    assert [record.outcome for record in records] == ["rejected"]


@pytest.mark.parametrize("depth", [101, 100_000])
def test_deeply_nested_body_rejected(
    fake: FakeProvider,
    gateway: Gateway,
    records: list[CallRecord],
    socket_path: Path,
    depth: int,
) -> None:
    """100,000 levels exhaust json's recursion; 101 levels parse but are refused too."""
    body = '{"messages": ' + "[" * depth + "]" * depth + "}"
    headers = {"Content-Type": "application/json"}
    with gateway.serve(socket_path, CONTEXT), http_client(socket_path) as client:
        response = client.post("/v1/chat/completions", content=body, headers=headers)

    assert response.status_code == 400, response.text
    assert "more than 100 levels deep" in response.json()["error"]["message"]
    assert fake.requests == []
    assert [record.outcome for record in records] == ["rejected"]


def test_inline_data_url_is_forwarded(fake: FakeProvider, gateway: Gateway) -> None:
    fake.add("a picture of nothing")
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    text = {"type": "text", "text": "What is at http://example.invalid/?"}
    body = {"messages": [{"role": "user", "content": [text, image]}]}

    gateway.complete(body, CONTEXT)

    assert len(fake.requests) == 1
    assert fake.requests[0]["messages"][0]["content"][1] == image


@pytest.mark.parametrize(("body", "expected"), INVALID_BODIES)
def test_invalid_body_rejected(
    fake: FakeProvider,
    gateway: Gateway,
    records: list[CallRecord],
    socket_path: Path,
    body: object,
    expected: str,
) -> None:
    with gateway.serve(socket_path, CONTEXT), http_client(socket_path) as client:
        response = client.post("/v1/chat/completions", json=body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert expected in error["message"]
    assert fake.requests == []
    assert [record.outcome for record in records] == ["rejected"]


def test_oversized_body_rejected(
    fake: FakeProvider, gateway: Gateway, records: list[CallRecord], socket_path: Path
) -> None:
    body = chat_body("x" * (1 << 20))

    with gateway.serve(socket_path, CONTEXT), http_client(socket_path) as client:
        response = client.post("/v1/chat/completions", json=body)

    assert response.status_code == 400
    assert "1 MiB" in response.json()["error"]["message"]
    assert fake.requests == []
    assert [record.outcome for record in records] == ["rejected"]


def test_provider_down_returns_502(
    fake: FakeProvider, gateway: Gateway, records: list[CallRecord], socket_path: Path
) -> None:
    with gateway.serve(socket_path, CONTEXT), http_client(socket_path) as client:
        fake.stop()
        failed = client.post("/v1/chat/completions", json=chat_body())

        fake.start()
        fake.add("back again")
        recovered = client.post("/v1/chat/completions", json=chat_body())

    assert failed.status_code == 502
    error = failed.json()["error"]
    assert error["type"] == "api_error"
    assert "model provider failed" in error["message"]
    assert recovered.status_code == 200
    assert recovered.json()["choices"][0]["message"]["content"] == "back again"
    attempts = gateway.retry.attempts
    assert [record.outcome for record in records] == ["connection_error"] * attempts + ["ok"]
    assert records[0].error
    assert records[0].response is None
    assert gateway.calls == attempts + 1


def test_recorder_failure_still_answers(fake: FakeProvider, socket_path: Path) -> None:
    def broken_recorder(record: CallRecord) -> None:
        raise RuntimeError("archive is locked")

    fake.add("still answered")
    config = ModelConfig(model="openai/fake", api_base=fake.url, api_key="test")
    gateway = Gateway(Router(config), recorder=broken_recorder)

    with gateway.serve(socket_path, CONTEXT):
        content = ask(openai_client(socket_path), "hello?")

    assert content == "still answered"
    assert gateway.calls == 1


class UnixConnection(http.client.HTTPConnection):
    """An HTTP/1.1 connection to a unix socket, to see when the server keeps or ends it."""

    def __init__(self, path: Path) -> None:
        super().__init__("gateway", timeout=30)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(self.path))


def post(connection: UnixConnection, path: str, body: dict) -> http.client.HTTPResponse:
    data = json.dumps(body).encode("utf-8")
    connection.request("POST", path, body=data, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    return response


def test_connection_kept_alive_between_requests(
    fake: FakeProvider, gateway: Gateway, records: list[CallRecord], socket_path: Path
) -> None:
    fake.add("first", "second")

    with gateway.serve(socket_path, CONTEXT):
        connection = UnixConnection(socket_path)
        first = post(connection, "/v1/chat/completions", chat_body("one"))
        first_socket = connection.sock
        second = post(connection, "/v1/chat/completions", chat_body("two"))
        second_socket = connection.sock
        connection.close()

    assert (first.status, second.status) == (200, 200)
    assert first_socket is not None
    assert second_socket is first_socket
    assert [record.outcome for record in records] == ["ok", "ok"]


def test_stream_keeps_connection_alive(
    fake: FakeProvider, gateway: Gateway, socket_path: Path
) -> None:
    fake.add("streamed reply", "plain reply")

    with gateway.serve(socket_path, CONTEXT):
        connection = UnixConnection(socket_path)
        streamed = post(connection, "/v1/chat/completions", chat_body("one") | {"stream": True})
        first_socket = connection.sock
        plain = post(connection, "/v1/chat/completions", chat_body("two"))
        second_socket = connection.sock
        connection.close()

    assert streamed.getheader("Content-Type") == "text/event-stream"
    assert (streamed.status, plain.status) == (200, 200)
    assert first_socket is not None
    assert second_socket is first_socket


def test_close_ends_idle_connection(
    fake: FakeProvider, gateway: Gateway, records: list[CallRecord], socket_path: Path
) -> None:
    fake.add("before close", "after close")
    served = gateway.serve(socket_path, CONTEXT)
    connection = UnixConnection(socket_path)
    assert post(connection, "/v1/chat/completions", chat_body("one")).status == 200

    served.close()

    with pytest.raises((http.client.HTTPException, OSError)):
        post(connection, "/v1/chat/completions", chat_body("two"))
    connection.close()
    assert len(fake.requests) == 1
    assert [record.outcome for record in records] == ["ok"]


def test_close_skips_pipelined_requests(
    fake: FakeProvider, gateway: Gateway, records: list[CallRecord], socket_path: Path
) -> None:
    """Requests sent ahead on a connection are not served once close() has returned."""
    arrived = threading.Event()
    release = threading.Event()

    def held_reply(request: dict) -> str:
        arrived.set()
        assert release.wait(timeout=30), "the test never released the reply"
        return "in flight"

    fake.add(held_reply, "pipelined", "pipelined")
    served = gateway.serve(socket_path, CONTEXT)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(30)
    client.connect(str(socket_path))
    data = json.dumps(chat_body("one")).encode("utf-8")
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\n"
        + f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
        + data
    )
    client.sendall(request * 3)
    assert arrived.wait(timeout=30)

    closer = threading.Thread(target=served.close)
    closer.start()
    closer.join(timeout=0.5)
    assert closer.is_alive(), "close() returned while a call was in flight"
    release.set()
    closer.join(timeout=30)
    reply = b""
    while chunk := client.recv(65536):
        reply += chunk
    client.close()

    assert reply.startswith(b"HTTP/1.0 200") or reply.startswith(b"HTTP/1.1 200")
    assert reply.count(b"HTTP/1.") == 1
    assert len(fake.requests) == 1
    # close() returned after the call in flight had ended and was recorded.
    assert not closer.is_alive()
    assert [record.outcome for record in records] == ["ok"]


def raw_post(version: str, body: dict) -> bytes:
    data = json.dumps(body).encode("utf-8")
    head = f"POST /v1/chat/completions {version}\r\nHost: gateway\r\n"
    return head.encode() + f"Content-Length: {len(data)}\r\n\r\n".encode() + data


def test_http10_request_ends_connection(
    fake: FakeProvider, gateway: Gateway, socket_path: Path
) -> None:
    fake.add("old client")
    with gateway.serve(socket_path, CONTEXT):
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.settimeout(30)
        client.connect(str(socket_path))
        client.sendall(raw_post("HTTP/1.0", chat_body("one")))
        reply = b""
        while chunk := client.recv(65536):  # times out if the server keeps the connection
            reply += chunk
        client.close()

    assert b" 200 " in reply.split(b"\r\n", 1)[0]
    assert b"Connection: close" in reply


def test_connections_per_socket_limited(gateway: Gateway, socket_path: Path) -> None:
    from evolarium.llm.server import MAX_CONNECTIONS

    with gateway.serve(socket_path, CONTEXT):
        idle = []
        for _ in range(MAX_CONNECTIONS):
            connection = UnixConnection(socket_path)
            connection.request("GET", "/v1/models")
            assert connection.getresponse().read()
            idle.append(connection)

        extra = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        extra.settimeout(30)
        extra.connect(str(socket_path))
        try:
            extra.sendall(b"GET /v1/models HTTP/1.1\r\nHost: gateway\r\n\r\n")
            rejected = extra.recv(65536)
        except (BrokenPipeError, ConnectionResetError):  # closed before or after the send
            rejected = b""
        extra.close()

        # Once a connection ends, its server thread frees the place for a new one.
        idle.pop().close()
        status = None
        deadline = time.monotonic() + 30
        while status is None and time.monotonic() < deadline:
            later = UnixConnection(socket_path)
            try:
                later.request("GET", "/v1/models")
                status = later.getresponse().status
            except (http.client.HTTPException, OSError):
                time.sleep(0.05)
            later.close()
        for connection in idle:
            connection.close()

    assert rejected == b""
    assert status == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [("/v1/chat/completions", {"model": "m", "messages": "x" * (1 << 20)}), ("/v1/other", {})],
)
def test_unread_body_ends_connection(
    gateway: Gateway, socket_path: Path, path: str, body: dict
) -> None:
    with gateway.serve(socket_path, CONTEXT):
        connection = UnixConnection(socket_path)
        response = post(connection, path, body)
        connection.close()

    assert response.status in (400, 404)
    assert response.getheader("Connection") == "close"


def send_raw(socket_path: Path, data: bytes, *, half_close: bool = False) -> bytes:
    """Send ``data`` on a new connection and return all that the server sends back."""
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(30)
    client.connect(str(socket_path))
    client.sendall(data)
    if half_close:
        client.shutdown(socket.SHUT_WR)
    reply = b""
    while chunk := client.recv(65536):
        reply += chunk
    client.close()
    return reply


def status_of(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


def test_rejected_records_are_capped(
    gateway: Gateway, records: list[CallRecord], socket_path: Path
) -> None:
    """A sandbox that sends invalid bodies without end stores a bounded number of records."""
    from evolarium.llm.gateway import MAX_UNCHARGED_RECORDS

    with gateway.serve(socket_path, CONTEXT), http_client(socket_path) as client:
        statuses = {
            client.post("/v1/chat/completions", content=b"{not json").status_code
            for _ in range(MAX_UNCHARGED_RECORDS + 5)
        }

    assert statuses == {400}
    assert len(records) == MAX_UNCHARGED_RECORDS
    assert gateway.calls == MAX_UNCHARGED_RECORDS + 5


def test_requests_past_evaluation_cap_stored_shortened(
    fake: FakeProvider,
    gateway: Gateway,
    records: list[CallRecord],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past the cap of request characters per evaluation, requests are stored shortened and
    their responses in full, under the key of the whole request."""
    from evolarium.llm import gateway as gateway_module

    monkeypatch.setattr(gateway_module, "MAX_EVALUATION_REQUEST_CHARS", 10_000)
    fake.add(*["an answer"] * 4)
    large = chat_body("word " * 800)  # about 4,000 characters

    for _ in range(4):
        gateway.complete(large, CONTEXT)

    assert [record.outcome for record in records] == ["ok"] * 4
    assert [record.request["messages"] for record in records[:2]] == [large["messages"]] * 2
    for record in records[2:]:
        assert record.request["request_chars"] > 4000
        assert record.request["request_start"].startswith('{"model"')
    assert len({record.request_key for record in records}) == 1
    assert all(record.response is not None for record in records)
    assert fake.requests[3]["messages"] == large["messages"]


def test_refused_large_requests_are_capped(
    fake: FakeProvider, records: list[CallRecord], socket_path: Path
) -> None:
    """A sandbox over its budget cannot store a large request per refusal without end."""
    from evolarium.llm.gateway import MAX_UNCHARGED_RECORDS, MAX_UNCHARGED_REQUEST_CHARS

    fake.add("the one call")
    config = ModelConfig(model="openai/fake", api_base=fake.url, api_key="test")
    gateway = Gateway(Router(config), recorder=records.append, budget=Budget(calls=1))
    large = chat_body("word " * MAX_UNCHARGED_REQUEST_CHARS)

    with gateway.serve(socket_path, CONTEXT), http_client(socket_path) as client:
        statuses = [client.post("/v1/chat/completions", json=large).status_code]
        statuses += [
            client.post("/v1/chat/completions", json=large).status_code
            for _ in range(MAX_UNCHARGED_RECORDS + 5)
        ]

    assert statuses == [200] + [429] * (MAX_UNCHARGED_RECORDS + 5)
    assert len(records) == 1 + MAX_UNCHARGED_RECORDS
    assert records[0].request["messages"] == large["messages"]  # a charged call is whole
    refused = records[1]
    assert refused.outcome == "budget_exceeded"
    assert refused.request["request_chars"] > MAX_UNCHARGED_REQUEST_CHARS
    assert len(refused.request["request_start"]) == 200


def test_short_body_is_not_forwarded(
    fake: FakeProvider, gateway: Gateway, records: list[CallRecord], socket_path: Path
) -> None:
    """A client that half-closes before its declared length gets a 400, even when the
    bytes it sent are valid JSON."""
    data = json.dumps(chat_body("cut")).encode("utf-8")
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\n"
        f"Content-Length: {len(data) + 10}\r\n\r\n"
    )
    with gateway.serve(socket_path, CONTEXT):
        reply = send_raw(socket_path, head.encode() + data, half_close=True)

    assert status_of(reply) == 400
    assert b"ended after" in reply
    assert fake.requests == []
    assert [record.outcome for record in records] == ["rejected"]


@pytest.mark.parametrize(
    ("lengths", "expected"),
    [(["+{n}"], b"digits only"), ([" {n}_0"], b"digits only"), (["{n}", "9"], b"conflicting")],
)
def test_content_length_must_be_one_number(
    fake: FakeProvider, gateway: Gateway, socket_path: Path, lengths: list[str], expected: bytes
) -> None:
    data = json.dumps(chat_body("length")).encode("utf-8")
    headers = "".join(f"Content-Length: {value.format(n=len(data))}\r\n" for value in lengths)
    head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\n{headers}\r\n"
    with gateway.serve(socket_path, CONTEXT):
        reply = send_raw(socket_path, head.encode() + data)

    assert status_of(reply) == 400
    assert expected in reply
    assert fake.requests == []


@pytest.mark.parametrize("length", [str((1 << 20) + 1), "+120", "120, 130"])
def test_invalid_length_refused_before_continue(
    gateway: Gateway, records: list[CallRecord], socket_path: Path, length: str
) -> None:
    """With Expect: 100-continue, a body over the limit or with an invalid length is
    rejected before the client sends it."""
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nExpect: 100-continue\r\n"
        f"Content-Length: {length}\r\n\r\n"
    )
    with gateway.serve(socket_path, CONTEXT):
        reply = send_raw(socket_path, head.encode())

    assert status_of(reply) == 400
    assert b"100 Continue" not in reply
    assert b"Connection: close" in reply
    assert [record.outcome for record in records] == ["rejected"]


def test_get_with_chunked_body_ends_connection(
    fake: FakeProvider, gateway: Gateway, socket_path: Path
) -> None:
    """The body of a GET is never read, so it cannot be served as a next request."""
    hidden = json.dumps(chat_body("hidden in a GET body")).encode("utf-8")
    smuggled = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\n"
        + f"Content-Length: {len(hidden)}\r\n\r\n".encode()
        + hidden
    )
    chunk = f"{len(smuggled):x}\r\n".encode() + smuggled + b"\r\n0\r\n\r\n"
    head = b"GET /v1/models HTTP/1.1\r\nHost: gateway\r\nTransfer-Encoding: chunked\r\n\r\n"
    with gateway.serve(socket_path, CONTEXT):
        reply = send_raw(socket_path, head + chunk)

    assert status_of(reply) == 200
    assert reply.count(b"HTTP/1.1 ") == 1
    assert fake.requests == []


def test_unparsable_target_gets_not_found(gateway: Gateway, socket_path: Path) -> None:
    with gateway.serve(socket_path, CONTEXT):
        request = b"GET http://[/v1/models HTTP/1.1\r\nHost: gateway\r\n\r\n"
        reply = send_raw(socket_path, request, half_close=True)

    assert status_of(reply) == 404
    assert b"no route" in reply


def test_body_cut_by_close_gets_503(
    fake: FakeProvider, gateway: Gateway, records: list[CallRecord], socket_path: Path
) -> None:
    """A request whose body close() cut short gets a 503 and leaves no rejected record."""
    data = json.dumps(chat_body("slow sender")).encode("utf-8")
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    served = gateway.serve(socket_path, CONTEXT)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(30)
    client.connect(str(socket_path))
    client.sendall(head.encode() + data[:10])
    deadline = time.monotonic() + 30
    while not served._server._connections and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)  # the handler thread parses the headers and waits for the body

    served.close()
    reply = b""
    while chunk := client.recv(65536):
        reply += chunk
    client.close()

    assert status_of(reply) == 503
    assert fake.requests == []
    assert records == []


def test_close_waits_for_slow_record(fake: FakeProvider, socket_path: Path) -> None:
    """The client gets its response while the recorder still works; close() waits for it."""
    recording = threading.Event()
    release = threading.Event()
    records: list[CallRecord] = []

    def slow_recorder(record: CallRecord) -> None:
        recording.set()
        assert release.wait(timeout=30), "the test never released the recorder"
        records.append(record)

    fake.add("answered first")
    config = ModelConfig(model="openai/fake", api_base=fake.url, api_key="test")
    gateway = Gateway(Router(config), recorder=slow_recorder)
    served = gateway.serve(socket_path, CONTEXT)

    assert ask(openai_client(socket_path), "hello?") == "answered first"
    assert recording.wait(timeout=30)
    assert records == []
    assert gateway.calls == 1  # totals and budgets are charged before the response
    assert not served.wait_written(0.05)

    closer = threading.Thread(target=served.close)
    closer.start()
    closer.join(timeout=0.3)
    assert closer.is_alive(), "close() returned before the answered call was recorded"

    release.set()
    closer.join(timeout=30)
    assert not closer.is_alive()
    assert [record.outcome for record in records] == ["ok"]
    assert served.wait_written(0)


def test_stalled_client_does_not_delay_other_socket(
    fake: FakeProvider, gateway: Gateway, records: list[CallRecord], tmp_path: Path
) -> None:
    """A client that never reads its large reply holds back only its own socket's close()."""
    fake.add("x " * 600_000, "small")
    stalled = gateway.serve(tmp_path / "a" / "llm.sock", CONTEXT)
    other = gateway.serve(tmp_path / "b" / "llm.sock", CONTEXT)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(str(stalled.path))
    client.sendall(raw_post("HTTP/1.1", chat_body("big")))
    deadline = time.monotonic() + 30
    while not fake.requests and time.monotonic() < deadline:
        time.sleep(0.05)

    assert ask(openai_client(other.path), "small?") == "small"
    other.close()

    assert other.wait_written(0)
    assert not stalled.wait_written(0)  # its reply is still being sent
    client.close()  # the send fails, and the record is queued
    assert stalled.wait_written(30)
    stalled.close()
    assert sorted(record.outcome for record in records) == ["ok", "ok"]


def test_concurrent_calls_recorded_once(
    fake: FakeProvider, gateway: Gateway, records: list[CallRecord], socket_path: Path
) -> None:
    def echo(request: dict) -> str:
        return "answer to " + request["messages"][-1]["content"]

    questions = [f"question {index}" for index in range(8)]
    fake.add(*[echo] * len(questions))
    answers: dict[str, str | None] = {}
    errors: list[BaseException] = []

    def worker(client: openai.OpenAI, question: str) -> None:
        try:
            answers[question] = ask(client, question)
        except BaseException as error:  # reported by the assert below
            errors.append(error)

    with gateway.serve(socket_path, CONTEXT):
        client = openai_client(socket_path)
        threads = [threading.Thread(target=worker, args=(client, q)) for q in questions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert errors == []
    assert answers == {question: f"answer to {question}" for question in questions}
    assert len(records) == len(questions)
    recorded_questions = sorted(record.request["messages"][-1]["content"] for record in records)
    assert recorded_questions == sorted(questions)
    for record in records:
        question = record.request["messages"][-1]["content"]
        assert record.response is not None
        assert record.response["choices"][0]["message"]["content"] == f"answer to {question}"
    assert gateway.calls == len(questions)


def test_models_route_lists_default_name(gateway: Gateway, socket_path: Path) -> None:
    with gateway.serve(socket_path, CONTEXT), http_client(socket_path) as client:
        response = client.get("/v1/models")

    assert response.status_code == 200
    models = response.json()["data"]
    assert [model["id"] for model in models] == [DEFAULT_MODEL_NAME]


def test_unknown_path_returns_404(
    gateway: Gateway, records: list[CallRecord], socket_path: Path
) -> None:
    with gateway.serve(socket_path, CONTEXT), http_client(socket_path) as client:
        get_response = client.get("/v1/embeddings")
        post_response = client.post("/v1/completions", json=chat_body())

    assert get_response.status_code == 404
    assert post_response.status_code == 404
    assert post_response.json()["error"]["type"] == "invalid_request_error"
    assert records == []


def test_socket_in_use_raises(gateway: Gateway, socket_path: Path) -> None:
    with gateway.serve(socket_path, CONTEXT):
        with pytest.raises(ConfigError, match="in use"):
            gateway.serve(socket_path, CONTEXT)


def test_stale_socket_replaced(fake: FakeProvider, gateway: Gateway, socket_path: Path) -> None:
    socket_path.parent.mkdir()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(socket_path))
    stale.close()
    fake.add("fresh")

    with gateway.serve(socket_path, CONTEXT):
        content = ask(openai_client(socket_path), "hello?")

    assert content == "fresh"


def test_regular_file_path_raises(gateway: Gateway, socket_path: Path) -> None:
    socket_path.parent.mkdir()
    socket_path.write_text("not a socket")

    with pytest.raises(ConfigError, match="not a socket"):
        gateway.serve(socket_path, CONTEXT)


def test_check_unknown_provider_names_value() -> None:
    router = Router(ModelConfig(model="nosuchprovider/x"))

    with pytest.raises(ModelError, match="nosuchprovider/x"):
        router.check()


def test_check_missing_key_names_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    router = Router(ModelConfig(model="openai/gpt-4o-mini"))

    with pytest.raises(ModelError, match="OPENAI_API_KEY") as raised:
        router.check()

    assert "openai/gpt-4o-mini" in str(raised.value)


def test_check_key_in_environment_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")

    Router(ModelConfig(model="openai/gpt-4o-mini")).check()


def test_check_api_base_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    config = ModelConfig(model="qwen2.5-coder", api_base="http://127.0.0.1:9/v1")

    Router(config).check()

    assert config.litellm_model() == "openai/qwen2.5-coder"


def test_check_local_model_passes() -> None:
    Router(ModelConfig()).check()


def test_check_unknown_local_model_raises() -> None:
    with pytest.raises(ModelError, match="local/nosuchmodel"):
        Router(ModelConfig(model="local/nosuchmodel")).check()


def test_api_base_without_key_hides_env_key(
    fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak")
    fake.add("ok")
    gateway = Gateway(Router(ModelConfig(model="fake", api_base=fake.url)))

    gateway.complete(chat_body(), CONTEXT)

    assert fake.requests[0]["model"] == "fake"
    authorization = fake.headers[0].get("authorization", "")
    assert authorization.startswith("Bearer ")
    assert "sk-must-not-leak" not in authorization


def test_call_cost_known_unknown_and_local():
    from evolarium.llm.pricing import call_cost

    assert call_cost("gpt-4o-mini", 1000, 1000) > 0
    assert call_cost("openai/fake", 10, 10) is None
    assert call_cost("local/smollm2", 10, 10) == 0.0
