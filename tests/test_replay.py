"""Request keys, the Replayer, replay at the gateway, and replay of an archived evaluation.

Model: the scripted fake OpenAI-compatible server in tests/fakeprovider.py. Recordings are
made by a live gateway and stored in a real SQLite archive before they are replayed. The
last tests run a short evolution on real Docker and replay its evaluation.
"""

import io
import json
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from rich.console import Console

from evolarium.archive import Archive, ModelCall
from evolarium.archive.models import SCHEMA_VERSION
from evolarium.evolve.config import RunConfig
from evolarium.evolve.replay import replay_evaluation
from evolarium.evolve.run import find_run
from evolarium.evolve.session import start_evolution
from evolarium.llm import replay
from evolarium.llm.budget import Budget, BudgetExceededError
from evolarium.llm.gateway import (
    CallContext,
    CallRecord,
    Gateway,
    InvalidRequestError,
    ProviderError,
)
from evolarium.llm.recording import archive_recorder, to_row
from evolarium.llm.replay import (
    KEY_VERSION,
    RecordedError,
    Replayer,
    ReplayMissError,
    request_key,
    router_request_key,
    served_from_recording,
)
from evolarium.llm.router import ModelConfig, Router
from evolarium.sandbox import Limits
from evolarium.tasks import load_suite
from tests.conftest import evolarium_containers
from tests.fakeprovider import FakeError, FakeProvider
from tests.test_archive import make_schema_1_archive
from tests.test_evolution import scripted_model

MODEL = "openai/gpt-4o-mini"
"""A model litellm prices, so that recorded calls have a cost; the fake provider serves it."""
MAX_TOKENS = 64
CONTEXT = CallContext(run_id="run-r", agent_id="agent-r", task_id="task-r", evaluation_id="ev-r")


def body(question: str = "What is two plus two?", **fields: object) -> dict:
    messages = [
        {"role": "system", "content": "You are a coding agent."},
        {"role": "user", "content": question},
    ]
    return {"model": "evolarium-default", "messages": messages, **fields}


TOOL = {
    "type": "function",
    "function": {"name": "run_tests", "parameters": {"type": "object", "properties": {}}},
}


# Request keys


def test_request_key_same_request_same_key() -> None:
    first = request_key(body(temperature=0.5), MODEL, MAX_TOKENS)
    reordered = dict(reversed(list(body(temperature=0.5).items())))

    assert first == request_key(body(temperature=0.5), MODEL, MAX_TOKENS)
    assert first == request_key(reordered, MODEL, MAX_TOKENS)
    assert re.fullmatch(r"[0-9a-f]{64}", first)


CHANGED_REQUESTS = [
    pytest.param(body(temperature=0.7), id="temperature"),
    pytest.param(body(top_p=0.9), id="top-p"),
    pytest.param(body(stop=["\n"]), id="stop"),
    pytest.param(body(seed=7), id="seed"),
    pytest.param(body(presence_penalty=0.5), id="presence-penalty"),
    pytest.param(body(response_format={"type": "json_object"}), id="response-format"),
    pytest.param(body(tools=[TOOL]), id="tools"),
    pytest.param(body(tool_choice="none"), id="tool-choice"),
    pytest.param(body("What is two plus three?"), id="message-content"),
    pytest.param(
        {"messages": [{"role": "assistant", "content": "What is two plus two?"}]},
        id="message-role",
    ),
    pytest.param({"messages": body()["messages"][1:]}, id="message-removed"),
]


@pytest.mark.parametrize("changed", CHANGED_REQUESTS)
def test_request_key_changes_with_request(changed: dict) -> None:
    assert request_key(changed, MODEL, MAX_TOKENS) != request_key(body(), MODEL, MAX_TOKENS)


def test_request_key_changes_with_model_and_limit() -> None:
    key = request_key(body(), MODEL, MAX_TOKENS)

    assert request_key(body(), "openai/gpt-4o", MAX_TOKENS) != key
    assert request_key(body(), MODEL, MAX_TOKENS + 1) != key
    assert request_key(body(), MODEL, MAX_TOKENS, temperature=0.2) != key


def test_request_key_ignores_fields_not_forwarded() -> None:
    key = request_key(body(), MODEL, MAX_TOKENS)

    assert request_key(body(stream=False, n=3), MODEL, MAX_TOKENS) == key
    assert request_key(body() | {"model": "another-name"}, MODEL, MAX_TOKENS) == key
    assert request_key(body(seed=None), MODEL, MAX_TOKENS) == key


def test_request_key_includes_key_version(monkeypatch: pytest.MonkeyPatch) -> None:
    key = request_key(body(), MODEL, MAX_TOKENS)

    monkeypatch.setattr(replay, "KEY_VERSION", KEY_VERSION + 1)

    assert request_key(body(), MODEL, MAX_TOKENS) != key


def test_router_key_applies_router_defaults() -> None:
    config = ModelConfig(model=MODEL, api_base="http://127.0.0.1:9/v1", max_tokens=MAX_TOKENS)
    router = Router(config)
    key = router_request_key(router, body())

    # The router sends temperature 0.2 by default and caps max_tokens at 64.
    assert router_request_key(router, body(temperature=config.temperature)) == key
    assert router_request_key(router, body(max_tokens=10_000)) == key
    assert router_request_key(router, body(max_completion_tokens=MAX_TOKENS)) == key
    assert router_request_key(router, body(max_tokens=8)) != key
    assert router_request_key(router, body(temperature=0.9)) != key
    assert key == request_key(body(), MODEL, MAX_TOKENS, temperature=config.temperature)


# Replayer


def recorded(
    request: dict, content: str, *, call_id: int, outcome: str = "ok", model: str = MODEL
) -> ModelCall:
    response = {
        "id": f"chatcmpl-{call_id}",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    return ModelCall(
        id=call_id,
        purpose="agent",
        model=model,
        request_json=json.dumps(request),
        response_json=json.dumps(response),
        outcome=outcome,
        request_key=request_key(request, model, MAX_TOKENS),
    )


def content_of(response: dict) -> str:
    return response["choices"][0]["message"]["content"]


def serve(replayer: Replayer, request: dict) -> dict:
    return replayer.response_for(request_key(request, MODEL, MAX_TOKENS), request, MODEL)


def test_replayer_serves_recorded_response() -> None:
    replayer = Replayer([recorded(body("first"), "one", call_id=1)])

    assert content_of(serve(replayer, body("first"))) == "one"
    assert len(replayer) == 1
    assert replayer.unserved == 0


def test_replayer_serves_repeated_key_in_order() -> None:
    calls = [
        recorded(body("same"), "second", call_id=5),
        recorded(body("other"), "unrelated", call_id=4),
        recorded(body("same"), "first", call_id=2),
    ]
    replayer = Replayer(calls)

    assert content_of(serve(replayer, body("same"))) == "first"
    assert content_of(serve(replayer, body("same"))) == "second"
    with pytest.raises(ReplayMissError, match="recorded 2 times") as raised:
        serve(replayer, body("same"))
    assert "served already" in str(raised.value)
    assert replayer.unserved == 1


def test_replayer_skips_failed_calls() -> None:
    """Failed attempts are skipped; a budget refusal is raised again in its turn."""
    refused = recorded(body("question"), "refused", call_id=3, outcome="budget_exceeded")
    refused.error = "the run made 1 model call, its limit (--max-calls 1)"
    calls = [
        recorded(body("question"), "failed attempt", call_id=1, outcome="server_error"),
        recorded(body("question"), "cut short", call_id=2, outcome="truncated"),
        refused,
    ]
    replayer = Replayer(calls)

    assert len(replayer) == 2
    assert content_of(serve(replayer, body("question"))) == "cut short"
    with pytest.raises(RecordedError) as raised:
        serve(replayer, body("question"))
    assert raised.value.outcome == "budget_exceeded"
    assert str(raised.value) == refused.error


def test_replayer_miss_names_message_difference() -> None:
    calls = [
        recorded(body("Write a function that adds 1 and 2."), "added", call_id=7),
        recorded({"messages": [{"role": "user", "content": "unrelated"}]}, "no", call_id=8),
    ]
    replayer = Replayer(calls)

    with pytest.raises(ReplayMissError) as raised:
        serve(replayer, body("Write a function that adds 1 and 3."))

    message = str(raised.value)
    assert "closest of 2 recorded requests (call 7)" in message
    assert "messages[1].content at character 33" in message
    assert "recorded ...'ion that adds 1 and 2.'" in message
    assert "the request has ...'ion that adds 1 and 3.'" in message
    assert replayer.unserved == 2


def test_replayer_miss_names_parameter_difference() -> None:
    replayer = Replayer([recorded(body(temperature=0.2), "warm", call_id=3)])

    with pytest.raises(ReplayMissError) as raised:
        serve(replayer, body(temperature=0.9, tools=[TOOL]))

    message = str(raised.value)
    assert "temperature: recorded 0.2, the request has 0.9" in message
    assert "tools: not recorded, the request has" in message
    assert "messages" not in message


def test_replayer_miss_on_settings_outside_body() -> None:
    replayer = Replayer([recorded(body(), "answer", call_id=1)])

    with pytest.raises(ReplayMissError, match="max_tokens limit, default temperature"):
        replayer.response_for(request_key(body(), MODEL, MAX_TOKENS + 1), body(), MODEL)


def test_replayer_miss_without_recording() -> None:
    with pytest.raises(ReplayMissError, match="no successful model call"):
        serve(Replayer([]), body())


# Replay at the gateway


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


def model_config(fake: FakeProvider) -> ModelConfig:
    return ModelConfig(model=MODEL, api_base=fake.url, api_key="test", max_tokens=MAX_TOKENS)


def record_live(fake: FakeProvider, tmp_path: Path, replies: list, requests: list) -> Archive:
    """Send ``requests`` through a live gateway into a new archive; return the archive."""
    fake.add(*replies)
    archive = Archive.create(tmp_path / "recording" / "archive.db")
    gateway = Gateway(
        Router(model_config(fake)), recorder=archive_recorder(archive), sleep=lambda _s: None
    )
    for request in requests:
        gateway.complete(request, CONTEXT)
    return archive


def replay_gateway(fake: FakeProvider, archive: Archive, records: list) -> Gateway:
    replayer = Replayer(archive.calls(CONTEXT.run_id))
    return Gateway(Router(model_config(fake)), recorder=records.append, replayer=replayer)


def test_gateway_stores_request_key_for_every_attempt(fake: FakeProvider, tmp_path: Path) -> None:
    replies = [FakeError(500, "overloaded"), "four"]
    archive = record_live(fake, tmp_path, replies, [body()])
    router = Router(model_config(fake))

    calls = archive.calls(CONTEXT.run_id)

    assert [call.outcome for call in calls] == ["server_error", "ok"]
    assert [call.request_key for call in calls] == [router_request_key(router, body())] * 2
    assert calls[1].cost_usd is not None
    assert calls[1].cost_usd > 0


def test_gateway_rejected_body_has_no_key(fake: FakeProvider) -> None:
    records: list[CallRecord] = []
    gateway = Gateway(Router(model_config(fake)), recorder=records.append)

    with pytest.raises(InvalidRequestError, match="messages"):
        gateway.complete({"messages": []}, CONTEXT)

    assert [record.outcome for record in records] == ["rejected"]
    assert records[0].request_key is None


def test_gateway_replays_without_provider(fake: FakeProvider, tmp_path: Path) -> None:
    archive = record_live(fake, tmp_path, ["four", "five"], [body("2+2?"), body("2+3?")])
    original = archive.calls(CONTEXT.run_id)
    fake.requests.clear()
    records: list[CallRecord] = []
    gateway = replay_gateway(fake, archive, records)

    second = gateway.complete(body("2+3?"), CONTEXT)
    first = gateway.complete(body("2+2?"), CONTEXT)

    assert content_of(first) == "four"
    assert content_of(second) == "five"
    assert fake.requests == []
    assert [record.outcome for record in records] == ["replayed", "replayed"]
    assert [record.request_key for record in records] == [
        original[1].request_key,
        original[0].request_key,
    ]
    rows = [to_row(record) for record in records]
    assert [row.cost_usd for row in rows] == [0.0, 0.0]
    assert [row.request_key for row in rows] == [records[0].request_key, records[1].request_key]
    assert all(call.cost_usd and call.cost_usd > 0 for call in original)
    assert gateway.calls == 2


def test_gateway_replay_miss_calls_no_provider(fake: FakeProvider, tmp_path: Path) -> None:
    archive = record_live(fake, tmp_path, ["four"], [body("2+2?")])
    fake.requests.clear()
    fake.add("a live reply that must not be used")
    records: list[CallRecord] = []
    gateway = replay_gateway(fake, archive, records)

    with pytest.raises(ProviderError, match=r"messages\[1\]\.content") as raised:
        gateway.complete(body("2+5?"), CONTEXT)

    assert isinstance(raised.value, ReplayMissError)
    assert len(fake.requests) == 0
    assert [record.outcome for record in records] == ["replay_miss"]
    assert records[0].request_key == router_request_key(gateway.router, body("2+5?"))
    assert "'2+2?'" in (records[0].error or "")


def test_gateway_socket_sends_replay_miss(fake: FakeProvider, tmp_path: Path) -> None:
    archive = record_live(fake, tmp_path, ["four"], [body("2+2?")])
    fake.requests.clear()
    gateway = replay_gateway(fake, archive, [])
    socket_path = tmp_path / "sockets" / "llm.sock"
    client = openai.OpenAI(
        base_url="http://gateway/v1",
        api_key="unused",
        http_client=httpx.Client(transport=httpx.HTTPTransport(uds=str(socket_path))),
        max_retries=0,
    )

    with gateway.serve(socket_path, CONTEXT):
        replayed = client.chat.completions.create(**body("2+2?"))
        with pytest.raises(openai.NotFoundError) as raised:
            client.chat.completions.create(**body("2+2?"))

    assert replayed.choices[0].message.content == "four"
    error = raised.value.body
    assert isinstance(error, dict)
    assert error["type"] == "replay_miss"
    assert "recorded 1 times" in error["message"]
    assert fake.requests == []


def test_replay_budget_limits_like_recording(fake: FakeProvider, tmp_path: Path) -> None:
    archive = record_live(fake, tmp_path, ["one", "two"], [body("a"), body("b")])
    replayer = Replayer(archive.calls(CONTEXT.run_id))
    records: list[CallRecord] = []
    gateway = Gateway(
        Router(model_config(fake)),
        recorder=records.append,
        budget=Budget(evaluation_calls=1),
        replayer=replayer,
    )

    gateway.complete(body("a"), CONTEXT)
    with pytest.raises(BudgetExceededError, match="--evaluation-calls 1"):
        gateway.complete(body("b"), CONTEXT)

    assert [record.outcome for record in records] == ["replayed", "budget_exceeded"]


def test_replay_miss_uses_no_call_of_the_budget(fake: FakeProvider, tmp_path: Path) -> None:
    """A miss reaches no model, so it leaves the evaluation's one call for a recorded request."""
    archive = record_live(fake, tmp_path, ["one"], [body("a")])
    records: list[CallRecord] = []
    gateway = Gateway(
        Router(model_config(fake)),
        recorder=records.append,
        budget=Budget(evaluation_calls=1),
        replayer=Replayer(archive.calls(CONTEXT.run_id)),
    )

    with pytest.raises(ReplayMissError):
        gateway.complete(body("not recorded"), CONTEXT)
    assert content_of(gateway.complete(body("a"), CONTEXT)) == "one"

    assert [record.outcome for record in records] == ["replay_miss", "replayed"]


def test_replay_raises_recorded_refusal_again(fake: FakeProvider, tmp_path: Path) -> None:
    """A call the run's budget refused in the recording is refused again in replay, even
    though the replay's own budget has room, so the sandbox gets the error it got then."""
    archive = Archive.create(tmp_path / "recording" / "archive.db")
    fake.add("one")
    live = Gateway(
        Router(model_config(fake)), recorder=archive_recorder(archive), budget=Budget(calls=1)
    )
    live.complete(body("a"), CONTEXT)
    with pytest.raises(BudgetExceededError) as refused_live:
        live.complete(body("b"), CONTEXT)
    records: list[CallRecord] = []
    replayer = Replayer(archive.calls(CONTEXT.run_id))
    gateway = Gateway(Router(model_config(fake)), recorder=records.append, replayer=replayer)

    assert content_of(gateway.complete(body("a"), CONTEXT)) == "one"
    with pytest.raises(BudgetExceededError) as refused:
        gateway.complete(body("b"), CONTEXT)

    assert str(refused.value) == str(refused_live.value)
    assert [record.outcome for record in records] == ["replayed", "budget_exceeded"]
    # A resumed replay can tell this refusal, served from the recording, from its own.
    assert served_from_recording(records[1].outcome, records[1].error)
    assert not served_from_recording("budget_exceeded", str(refused_live.value))
    assert replayer.unserved == 0
    assert gateway.meter.run.calls == 1
    assert len(fake.requests) == 1


def test_replay_raises_recorded_overflow_again(fake: FakeProvider, tmp_path: Path) -> None:
    overflow = "This model's maximum context length is 8192 tokens. Please reduce the length."
    archive = record_live(fake, tmp_path, ["one"], [body("a")])
    fake.add(FakeError(400, overflow, "invalid_request_error"))
    live = Gateway(Router(model_config(fake)), recorder=archive_recorder(archive))
    with pytest.raises(InvalidRequestError) as rejected_live:
        live.complete(body("too long"), CONTEXT)
    records: list[CallRecord] = []

    gateway = replay_gateway(fake, archive, records)
    assert content_of(gateway.complete(body("a"), CONTEXT)) == "one"
    with pytest.raises(InvalidRequestError) as rejected:
        gateway.complete(body("too long"), CONTEXT)

    assert str(rejected.value) == str(rejected_live.value)
    assert [record.outcome for record in records] == ["replayed", "context_exceeded"]
    assert gateway.meter.run.calls == 2
    assert gateway.meter.run.dollars == 0.0
    assert len(fake.requests) == 2


# Archive schema


def test_schema_1_archive_gains_request_key(tmp_path: Path) -> None:
    path = make_schema_1_archive(tmp_path)

    archive = Archive.open(path, migrate=True)
    archive.add(
        ModelCall(purpose="agent", model=MODEL, request_json="{}", outcome="ok", request_key="k1")
    )
    archive.close()

    assert Archive.open(path).schema_version() == SCHEMA_VERSION
    connection = sqlite3.connect(path)
    indexes = connection.execute("PRAGMA index_list(modelcall)").fetchall()
    keys = connection.execute("SELECT request_key FROM modelcall").fetchall()
    connection.close()
    assert "ix_modelcall_request_key" in {row[1] for row in indexes}
    assert keys == [("k1",)]


# Replay of an archived evaluation on real Docker


EDITED_REPLY = "FILE: deps/order.py\n```python\ndef broken(:\n    pass\n```\n"
"""A reply whose file does not compile, so the seed agent sends a second request."""


def run_scripted(fake: FakeProvider, task_count: int) -> tuple[str, Path]:
    config = RunConfig(
        suite="builtin",
        tasks=task_count,
        generations=0,
        model=ModelConfig(model="openai/fake", api_base=fake.url, api_key="test"),
        agent_steps=2,
        agent_limits=Limits(timeout_s=120),
    )
    output = io.StringIO()
    assert start_evolution(config, Console(file=output, width=120)) == 0
    match = re.search(r"run (r\S+) finished", output.getvalue())
    assert match, output.getvalue()
    return find_run(match.group(1))


def edit_first_response(path: Path, evaluation_id: str, content: str) -> None:
    connection = sqlite3.connect(path)
    call_id, response_json = connection.execute(
        "SELECT id, response_json FROM modelcall WHERE evaluation_id = ? AND outcome = 'ok' "
        "ORDER BY id LIMIT 1",
        (evaluation_id,),
    ).fetchone()
    response = json.loads(response_json)
    response["choices"][0]["message"]["content"] = content
    connection.execute(
        "UPDATE modelcall SET response_json = ? WHERE id = ?", (json.dumps(response), call_id)
    )
    connection.commit()
    connection.close()


def stored_counts(path: Path) -> tuple[int, int, int]:
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    counts = tuple(
        connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("evaluation", "modelcall", "codesnapshot")
    )
    connection.close()
    return counts


@pytest.mark.docker
def test_replay_recorded_evaluation(docker_client, sandbox_image, tmp_path: Path) -> None:
    task = load_suite("builtin").tasks[0]
    with FakeProvider([scripted_model([task])] * 20) as provider:
        run_id, path = run_scripted(provider, 1)
    requests_during_run = len(provider.requests)
    archive = Archive.open_read_only(path)
    seed = archive.agents(run_id)[0]
    evaluation = archive.evaluations(run_id)[0]
    archive.close()
    assert evaluation.score == 1.0, evaluation.test_output
    before_bytes = path.read_bytes()
    before_counts = stored_counts(path)

    result = replay_evaluation(path, seed.id, task.id, "recorded")

    assert result.identical, result.summary()
    assert result.workspace_hash == evaluation.workspace_hash
    assert result.miss is None
    assert result.score == evaluation.score
    assert result.archived_score == evaluation.score
    assert result.evaluation_id == evaluation.id
    assert result.calls == evaluation.calls
    assert result.recorded_calls == evaluation.calls
    assert result.unused_calls == 0
    assert "identical to" in result.summary()
    # The fake provider was stopped before the replay, and nothing was stored.
    assert len(provider.requests) == requests_during_run
    assert path.read_bytes() == before_bytes
    assert stored_counts(path) == before_counts
    assert evolarium_containers(docker_client, run_id) == []

    # The same through the command line, which finds the agent by a prefix of its id.
    command = [sys.executable, "-m", "evolarium.cli", "replay", seed.id[:6], "--task", task.id]
    printed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert printed.returncode == 0, printed.stdout + printed.stderr
    assert "identical to" in printed.stdout
    assert path.read_bytes() == before_bytes

    edited = tmp_path / "edited" / "archive.db"
    edited.parent.mkdir()
    shutil.copy(path, edited)
    edit_first_response(edited, evaluation.id, EDITED_REPLY)

    changed = replay_evaluation(edited, seed.id, task.id, "recorded")

    assert not changed.identical
    assert changed.workspace_hash != evaluation.workspace_hash
    assert changed.score < evaluation.score
    # The agent gets a compile error and sends a second request, which has no recording.
    assert changed.calls == evaluation.calls + 1
    assert changed.miss is not None
    assert "messages[1].content" in changed.miss
    summary = changed.summary()
    assert "differs from" in summary
    assert "replay miss" in summary
    assert len(provider.requests) == requests_during_run
    assert evolarium_containers(docker_client, run_id) == []
