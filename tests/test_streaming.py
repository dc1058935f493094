"""Streamed chat completions through the gateway's unix socket.

Model: the scripted fake OpenAI-compatible server in tests/fakeprovider.py, reached through
litellm's "openai" provider. Clients are the openai SDK and httpx on a unix socket under
tmp_path, as an agent in a sandbox reaches the gateway.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from evolarium.agents.contract import DEFAULT_MODEL_NAME
from evolarium.archive import Archive
from evolarium.llm.budget import Budget
from evolarium.llm.gateway import CallContext, CallRecord, Gateway
from evolarium.llm.recording import archive_recorder
from evolarium.llm.replay import Replayer, router_request_key
from evolarium.llm.router import ModelConfig, Router
from evolarium.llm.server import WORDS_PER_CHUNK
from tests.fakeprovider import FakeProvider

CONTEXT = CallContext(run_id="run-s", agent_id="agent-s", task_id="task-s", evaluation_id="ev-s")
QUESTION = "Write a function that adds two numbers."
# More than two chunks of words, with runs of spaces and newlines that must survive the split.
REPLY = (
    "Here is the function:\n\n```python\ndef add(a, b):\n    return a + b\n```\n\n"
    "It returns the sum of  a and b, and works for ints, floats and anything else that "
    "defines the plus operator, such as strings and lists. Call it as add(1, 2)."
)
TOOL_CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "run_tests", "arguments": '{"path": "tests"}'},
}


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def records() -> list[CallRecord]:
    return []


@pytest.fixture
def socket_path(tmp_path: Path) -> Path:
    return tmp_path / "sockets" / "llm.sock"


def make_gateway(fake: FakeProvider, records: list, **options: object) -> Gateway:
    config = ModelConfig(model="openai/fake", api_base=fake.url, api_key="test", max_tokens=64)
    return Gateway(Router(config), recorder=records.append, sleep=lambda _s: None, **options)


def http_client(path: Path) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(uds=str(path)), base_url="http://gateway")


def openai_client(path: Path) -> openai.OpenAI:
    return openai.OpenAI(
        base_url="http://gateway/v1",
        api_key="unused",
        http_client=http_client(path),
        max_retries=0,
    )


def chat_body(question: str = QUESTION, **fields: object) -> dict:
    return {
        "model": DEFAULT_MODEL_NAME,
        "messages": [{"role": "user", "content": question}],
        **fields,
    }


def stream_chunks(path: Path, **fields: object) -> list:
    """Return every chunk of one streamed request sent with the openai SDK."""
    client = openai_client(path)
    stream = client.chat.completions.create(**chat_body(**fields), stream=True)
    return list(stream)


def joined_content(chunks: list) -> str:
    return "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)


def test_sdk_stream_joins_full_reply(
    fake: FakeProvider, records: list[CallRecord], socket_path: Path
) -> None:
    """The openai SDK streams the fake provider's reply in chunks that join to the reply."""
    fake.add(REPLY)
    gateway = make_gateway(fake, records)

    with gateway.serve(socket_path, CONTEXT):
        chunks = stream_chunks(socket_path)

    content_chunks = [chunk for chunk in chunks if chunk.choices and chunk.choices[0].delta.content]
    assert joined_content(chunks) == REPLY
    assert len(content_chunks) == -(-len(REPLY.split()) // WORDS_PER_CHUNK)
    assert len(content_chunks) > 2
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert len({chunk.id for chunk in chunks}) == 1
    assert [chunk.choices[0].finish_reason for chunk in chunks][-1] == "stop"
    assert all(chunk.choices[0].finish_reason is None for chunk in chunks[:-1])
    assert all(chunk.usage is None for chunk in chunks)


def test_stream_wire_format_is_sse(
    fake: FakeProvider, records: list[CallRecord], socket_path: Path
) -> None:
    """The fake provider's reply is sent as server-sent events ending in data: [DONE]."""
    fake.add("four")
    gateway = make_gateway(fake, records)

    with gateway.serve(socket_path, CONTEXT), http_client(socket_path) as client:
        response = client.post("/v1/chat/completions", json=chat_body(stream=True))

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    events = [event for event in response.text.split("\n\n") if event]
    assert all(event.startswith("data: ") for event in events)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(event.removeprefix("data: ")) for event in events[:-1]]
    assert [chunk["choices"][0]["delta"] for chunk in chunks] == [
        {"role": "assistant", "content": ""},
        {"content": "four"},
        {},
    ]
    assert response.text.endswith("data: [DONE]\n\n")


def test_stream_usage_chunk_with_include_usage(
    fake: FakeProvider, records: list[CallRecord], socket_path: Path
) -> None:
    """With include_usage, the last chunk carries the fake provider's usage and no choices."""
    fake.add(REPLY)
    gateway = make_gateway(fake, records)

    with gateway.serve(socket_path, CONTEXT):
        chunks = stream_chunks(socket_path, stream_options={"include_usage": True})

    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert usage_chunk.usage.prompt_tokens == len(QUESTION.split())
    assert usage_chunk.usage.completion_tokens == len(REPLY.split())
    assert usage_chunk.usage.total_tokens == len(QUESTION.split()) + len(REPLY.split())
    assert all(chunk.usage is None for chunk in chunks[:-1])
    assert joined_content(chunks) == REPLY


def test_streamed_call_recorded_once(
    fake: FakeProvider, records: list[CallRecord], socket_path: Path
) -> None:
    """A streamed call to the fake provider is sent unstreamed and recorded once with tokens."""
    fake.add(REPLY)
    gateway = make_gateway(fake, records)

    with gateway.serve(socket_path, CONTEXT):
        stream_chunks(socket_path, stream_options={"include_usage": True})

    assert len(fake.requests) == 1
    assert not fake.requests[0].get("stream")
    assert "stream_options" not in fake.requests[0]
    assert len(records) == 1
    record = records[0]
    assert record.outcome == "ok"
    assert record.context == CONTEXT
    assert record.request["stream"] is True
    assert record.request["stream_options"] == {"include_usage": True}
    assert record.prompt_tokens == len(QUESTION.split())
    assert record.completion_tokens == len(REPLY.split())
    assert record.response is not None
    assert record.response["choices"][0]["message"]["content"] == REPLY
    assert gateway.calls == 1
    assert gateway.completion_tokens == len(REPLY.split())
    assert gateway.meter.run.calls == 1
    assert gateway.meter.run.tokens == len(QUESTION.split()) + len(REPLY.split())


def test_streamed_and_plain_same_key(
    fake: FakeProvider, records: list[CallRecord], socket_path: Path
) -> None:
    """A streamed and an unstreamed request to the fake provider share one request key."""
    fake.add("first", "second")
    gateway = make_gateway(fake, records)

    with gateway.serve(socket_path, CONTEXT):
        stream_chunks(socket_path)
        openai_client(socket_path).chat.completions.create(**chat_body())

    assert [record.request.get("stream") for record in records] == [True, None]
    assert records[0].request_key is not None
    assert records[0].request_key == records[1].request_key
    assert records[0].request_key == router_request_key(gateway.router, chat_body())
    assert fake.requests[0] == fake.requests[1]


def test_stream_tool_calls_reach_sdk(
    fake: FakeProvider, records: list[CallRecord], socket_path: Path
) -> None:
    """Tool calls in the fake provider's reply arrive as tool-call deltas with their index."""
    message = {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]}
    fake.add(
        {
            "id": "chatcmpl-tools",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "fake",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12},
        }
    )
    gateway = make_gateway(fake, records)

    with gateway.serve(socket_path, CONTEXT):
        chunks = stream_chunks(socket_path)

    deltas = [chunk.choices[0].delta for chunk in chunks if chunk.choices[0].delta.tool_calls]
    assert len(deltas) == 1
    tool_calls = deltas[0].tool_calls
    assert tool_calls is not None
    assert tool_calls[0].index == 0
    assert tool_calls[0].id == "call_1"
    assert tool_calls[0].function is not None
    assert tool_calls[0].function.name == "run_tests"
    assert json.loads(tool_calls[0].function.arguments or "") == {"path": "tests"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert joined_content(chunks) == ""


def test_budget_refusal_streamed_is_429(
    fake: FakeProvider, records: list[CallRecord], socket_path: Path
) -> None:
    """A streamed call over budget gets a 429 JSON error and never reaches the fake provider."""
    fake.add("one", "two")
    gateway = make_gateway(fake, records, budget=Budget(evaluation_calls=1))

    with gateway.serve(socket_path, CONTEXT), http_client(socket_path) as client:
        stream_chunks(socket_path)
        with pytest.raises(openai.RateLimitError) as raised:
            stream_chunks(socket_path)
        response = client.post("/v1/chat/completions", json=chat_body(stream=True))

    assert raised.value.status_code == 429
    error = raised.value.body
    assert isinstance(error, dict)
    assert error["type"] == "insufficient_quota"
    assert "--evaluation-calls 1" in error["message"]
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["type"] == "insufficient_quota"
    assert len(fake.requests) == 1
    assert [record.outcome for record in records] == ["ok", "budget_exceeded", "budget_exceeded"]


INVALID_STREAM_FIELDS = [
    pytest.param({"stream": "yes"}, "'stream' must be true or false", id="text-stream"),
    pytest.param({"stream": 1}, "'stream' must be true or false", id="integer-stream"),
    pytest.param(
        {"stream_options": {"include_usage": True}},
        "only allowed when 'stream' is true",
        id="options-without-stream",
    ),
    pytest.param(
        {"stream": True, "stream_options": ["include_usage"]},
        "'stream_options' must be an object",
        id="options-not-object",
    ),
    pytest.param(
        {"stream": True, "stream_options": {"include_usage": "yes"}},
        "'stream_options.include_usage' must be true or false",
        id="text-include-usage",
    ),
]


@pytest.mark.parametrize(("fields", "expected"), INVALID_STREAM_FIELDS)
def test_invalid_stream_fields_rejected(
    fake: FakeProvider,
    records: list[CallRecord],
    socket_path: Path,
    fields: dict,
    expected: str,
) -> None:
    """Invalid stream fields get a 400 JSON error and never reach the fake provider."""
    gateway = make_gateway(fake, records)

    with gateway.serve(socket_path, CONTEXT), http_client(socket_path) as client:
        response = client.post("/v1/chat/completions", json=chat_body(**fields))

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert expected in error["message"]
    assert fake.requests == []
    assert [record.outcome for record in records] == ["rejected"]


def test_replay_serves_streamed_request(
    fake: FakeProvider, tmp_path: Path, socket_path: Path
) -> None:
    """A streamed request replays a call recorded unstreamed from the fake provider."""
    fake.add(REPLY)
    archive = Archive.create(tmp_path / "recording" / "archive.db")
    config = ModelConfig(model="openai/fake", api_base=fake.url, api_key="test", max_tokens=64)
    Gateway(Router(config), recorder=archive_recorder(archive)).complete(chat_body(), CONTEXT)
    fake.requests.clear()
    records: list[CallRecord] = []
    gateway = make_gateway(fake, records, replayer=Replayer(archive.calls(CONTEXT.run_id)))

    with gateway.serve(socket_path, CONTEXT):
        chunks = stream_chunks(socket_path, stream_options={"include_usage": True})
        with pytest.raises(openai.NotFoundError) as raised:
            stream_chunks(socket_path)

    assert joined_content(chunks) == REPLY
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == len(REPLY.split())
    assert fake.requests == []
    assert [record.outcome for record in records] == ["replayed", "replay_miss"]
    assert records[0].request["stream"] is True
    assert isinstance(raised.value.body, dict)
    assert raised.value.body["type"] == "replay_miss"
