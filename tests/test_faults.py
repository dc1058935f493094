"""Provider faults at the gateway: one retry layer, typed outcomes, every attempt recorded.

Every test scripts a fake OpenAI-compatible server on loopback (tests/fakeprovider.py).
Waits between attempts go to a list instead of the clock, so the tests check the delays
the retry layer chose without sleeping.
"""

import pytest

from evolarium.llm.calls import CallContext, CallRecord, ProviderError
from evolarium.llm.gateway import Gateway
from evolarium.llm.retry import RetryPolicy
from evolarium.llm.router import ModelConfig, Router
from tests.fakeprovider import FakeError, FakeProvider, Hang, RawReply

CONTEXT = CallContext(run_id="run-f", agent_id="agent-f", task_id="task-f", purpose="agent")
POLICY = RetryPolicy(attempts=3, base_delay_s=0.5, max_delay_s=10.0)


def body() -> dict:
    return {"messages": [{"role": "user", "content": "say hi"}]}


@pytest.fixture()
def fake():
    with FakeProvider() as provider:
        yield provider


@pytest.fixture()
def records() -> list[CallRecord]:
    return []


@pytest.fixture()
def delays() -> list[float]:
    return []


def make_gateway(fake, records, delays, timeout_s: float = 30.0) -> Gateway:
    config = ModelConfig(
        model="openai/fake", api_base=fake.url, api_key="fault-test-key", timeout_s=timeout_s
    )
    return Gateway(Router(config), recorder=records.append, retry=POLICY, sleep=delays.append)


def test_server_error_twice_then_ok(fake, records, delays):
    fake.add(FakeError(500), FakeError(500), "third time lucky")

    reply = make_gateway(fake, records, delays).complete(body(), CONTEXT)

    assert reply["choices"][0]["message"]["content"] == "third time lucky"
    assert len(fake.requests) == 3
    assert [record.outcome for record in records] == ["server_error", "server_error", "ok"]
    assert [record.attempt for record in records] == [1, 2, 3]
    assert delays == [0.5, 1.0]


def test_rate_limit_waits_retry_after(fake, records, delays):
    fake.add(FakeError(429, "slow down", "rate_limit_error", (("Retry-After", "3"),)), "ok now")

    make_gateway(fake, records, delays).complete(body(), CONTEXT)

    assert [record.outcome for record in records] == ["rate_limited", "ok"]
    assert delays == [3.0]


def test_retry_after_capped(fake, records, delays):
    fake.add(FakeError(429, "much later", "rate_limit_error", (("Retry-After", "3600"),)), "ok")

    make_gateway(fake, records, delays).complete(body(), CONTEXT)

    assert delays == [POLICY.max_delay_s]


def test_hanging_provider_times_out(fake, records, delays):
    fake.add(Hang(5), Hang(5), Hang(5))

    with pytest.raises(ProviderError):
        make_gateway(fake, records, delays, timeout_s=1).complete(body(), CONTEXT)

    assert [record.outcome for record in records] == ["timeout"] * 3
    assert all(record.response is None for record in records)
    assert len(delays) == 2


def test_malformed_json_retried(fake, records, delays):
    fake.add(RawReply(b'{"id": "x", "choices": [ not json'), "fine")

    reply = make_gateway(fake, records, delays).complete(body(), CONTEXT)

    assert reply["choices"][0]["message"]["content"] == "fine"
    assert [record.outcome for record in records] == ["malformed_response", "ok"]
    assert records[0].error


def test_non_utf8_reply_retried(fake, records, delays):
    fake.add(RawReply(b'{"id": "x", "object": "chat.completion", "choices": "\xff\xfe"}'), "fine")

    make_gateway(fake, records, delays).complete(body(), CONTEXT)

    assert [record.outcome for record in records] == ["malformed_response", "ok"]


def test_reply_cut_at_token_limit(fake, records, delays):
    def cut(request: dict) -> dict:
        return {
            "id": "chatcmpl-cut",
            "object": "chat.completion",
            "created": 1,
            "model": "fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "def f():\n    return ("},
                    "finish_reason": "length",
                }
            ],
            "usage": {"prompt_tokens": 7, "completion_tokens": 512, "total_tokens": 519},
        }

    fake.add(cut)

    reply = make_gateway(fake, records, delays).complete(body(), CONTEXT)

    assert reply["choices"][0]["finish_reason"] == "length"
    assert [record.outcome for record in records] == ["truncated"]
    assert (records[0].prompt_tokens, records[0].completion_tokens) == (7, 512)
    assert delays == []


def test_client_error_not_retried(fake, records, delays):
    fake.add(FakeError(401, "bad key", "authentication_error"))

    with pytest.raises(ProviderError):
        make_gateway(fake, records, delays).complete(body(), CONTEXT)

    assert len(fake.requests) == 1
    assert [record.outcome for record in records] == ["provider_error"]
    assert delays == []


def test_tokens_counted_per_attempt(fake, records, delays):
    fake.add(FakeError(503), "two words")
    gateway = make_gateway(fake, records, delays)

    gateway.complete(body(), CONTEXT)

    assert gateway.calls == 2
    assert [record.completion_tokens for record in records] == [0, 2]
    assert gateway.completion_tokens == 2
