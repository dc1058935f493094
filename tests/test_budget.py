"""Budgets at the gateway: per-run and per-evaluation limits, and models without a price.

The model is a fake OpenAI-compatible server on loopback (tests/fakeprovider.py).
"""

from pathlib import Path

import httpx
import pytest

from evolarium.errors import ConfigError
from evolarium.llm.budget import Budget, BudgetExceededError
from evolarium.llm.calls import CallContext, CallRecord
from evolarium.llm.gateway import Gateway
from evolarium.llm.router import ModelConfig, Router
from tests.fakeprovider import FakeProvider


def body() -> dict:
    return {"messages": [{"role": "user", "content": "one two three"}]}


def context(evaluation: str | None) -> CallContext:
    return CallContext(run_id="run-b", agent_id="a1", evaluation_id=evaluation)


@pytest.fixture()
def fake():
    with FakeProvider() as provider:
        yield provider


def make_gateway(fake: FakeProvider, budget: Budget, records: list) -> Gateway:
    config = ModelConfig(model="openai/fake", api_base=fake.url, api_key="budget-test-key")
    return Gateway(Router(config), recorder=records.append, budget=budget)


def test_evaluation_call_limit(fake):
    records: list[CallRecord] = []
    fake.add("a b", "c d", "e f")
    gateway = make_gateway(fake, Budget(evaluation_calls=2), records)

    gateway.complete(body(), context("e1"))
    gateway.complete(body(), context("e1"))
    with pytest.raises(BudgetExceededError, match="--evaluation-calls 2"):
        gateway.complete(body(), context("e1"))
    gateway.complete(body(), context("e2"))

    assert len(fake.requests) == 3
    assert [record.outcome for record in records] == ["ok", "ok", "budget_exceeded", "ok"]
    assert gateway.meter.exhausted() is None


def test_run_token_limit_stops_every_evaluation(fake):
    records: list[CallRecord] = []
    fake.add("one two three four five six seven eight nine ten")
    gateway = make_gateway(fake, Budget(tokens=10), records)

    gateway.complete(body(), context("e1"))
    assert "--max-total-tokens 10" in (gateway.meter.exhausted() or "")
    with pytest.raises(BudgetExceededError):
        gateway.complete(body(), context("e2"))
    assert len(fake.requests) == 1


def test_failed_attempts_count_as_calls(fake):
    records: list[CallRecord] = []
    gateway = make_gateway(fake, Budget(calls=2), records)
    gateway._sleep = lambda _seconds: None

    # The script is empty, so every attempt gets a 500 and is retried.
    with pytest.raises(BudgetExceededError):
        gateway.complete(body(), context("e1"))
    assert len(fake.requests) == 2
    assert [record.outcome for record in records] == [
        "server_error",
        "server_error",
        "budget_exceeded",
    ]


def test_unpriced_model_rejects_dollar_limit():
    with pytest.raises(ConfigError, match="no price for model 'openai/fake'"):
        Budget(dollars=1.0).check_prices("openai/fake")
    Budget(tokens=1000).check_prices("openai/fake")
    Budget(dollars=1.0).check_prices("gpt-4o-mini")


def test_sandbox_reads_budget_error(fake, tmp_path: Path):
    records: list[CallRecord] = []
    fake.add("a b")
    gateway = make_gateway(fake, Budget(evaluation_calls=1), records)
    socket_path = tmp_path / "llm.sock"
    transport = httpx.HTTPTransport(uds=str(socket_path))

    with (
        gateway.serve(socket_path, context("e1")),
        httpx.Client(transport=transport, base_url="http://gateway") as client,
    ):
        first = client.post("/v1/chat/completions", json=body())
        second = client.post("/v1/chat/completions", json=body())

    assert first.status_code == 200
    assert second.status_code == 429
    error = second.json()["error"]
    assert error["type"] == "insufficient_quota"
    assert "--evaluation-calls 1" in error["message"]


def test_configured_price_counts_dollars(fake):
    """A model litellm cannot price gets its price from the configuration (fake provider)."""
    records: list[CallRecord] = []
    fake.add(*["a b"] * 50)
    config = ModelConfig(
        model="openai/priced-fake",
        api_base=fake.url,
        api_key="budget-test-key",
        input_cost_per_mtok=1_000_000.0,
        output_cost_per_mtok=2_000_000.0,
    )
    router = Router(config)
    budget = Budget(dollars=100.0)
    budget.check_prices(router.model)
    gateway = Gateway(router, recorder=records.append, budget=budget)

    gateway.complete(body(), context("e1"))
    spent = gateway.meter.run.dollars
    usage = records[0]
    assert spent == usage.prompt_tokens * 1.0 + usage.completion_tokens * 2.0
    assert spent > 0
    while gateway.meter.exhausted() is None:
        gateway.complete(body(), context("e1"))
    assert "--max-dollars 100" in gateway.meter.exhausted()
    with pytest.raises(BudgetExceededError):
        gateway.complete(body(), context("e1"))


@pytest.mark.parametrize(
    ("prices", "expected"),
    [
        ({"input_cost_per_mtok": 1.0}, "set both"),
        ({"input_cost_per_mtok": -1.0, "output_cost_per_mtok": 1.0}, "0 or more, got -1.0"),
        ({"input_cost_per_mtok": "cheap", "output_cost_per_mtok": 1.0}, "got 'cheap'"),
    ],
)
def test_configured_price_rejects_bad_values(prices, expected):
    with pytest.raises(ConfigError, match=expected):
        ModelConfig(model="openai/priced-fake", **prices)
