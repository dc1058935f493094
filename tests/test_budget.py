"""Budgets at the gateway: per-run and per-evaluation limits, and models without a price.

The model is a fake OpenAI-compatible server on loopback (tests/fakeprovider.py).
"""

import threading
import time
from pathlib import Path

import httpx
import pytest

from evolarium.errors import ConfigError
from evolarium.llm.budget import Budget, BudgetExceededError, BudgetMeter
from evolarium.llm.calls import CallContext, CallRecord
from evolarium.llm.gateway import Gateway
from evolarium.llm.router import ModelConfig, Router
from tests.fakeprovider import FakeProvider
from tests.test_routing import InFlightGauge

PARALLEL_CALLS = 20


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


def test_parallel_calls_keep_the_run_call_limit(fake):
    """Calls sent at once cannot all pass one check: each reserves its place first.

    The fake provider keeps each request waiting until another one is in flight, so the calls
    that pass the budget overlap there while the others are checked.
    """
    records: list[CallRecord] = []
    fake.add(*[InFlightGauge(hold_s=1.0)] * PARALLEL_CALLS)
    gateway = make_gateway(fake, Budget(calls=3), records)
    start = threading.Barrier(PARALLEL_CALLS)
    refused: list[BudgetExceededError] = []

    def call(index: int) -> None:
        start.wait()
        try:
            gateway.complete(body(), context(f"e{index}"))
        except BudgetExceededError as error:
            refused.append(error)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(PARALLEL_CALLS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(fake.requests) == 3
    assert len(refused) == PARALLEL_CALLS - 3
    assert gateway.meter.run.calls == 3
    outcomes = [record.outcome for record in records]
    assert outcomes.count("ok") == 3
    assert outcomes.count("budget_exceeded") == PARALLEL_CALLS - 3


def test_parallel_sandbox_requests_keep_the_evaluation_call_limit(fake, tmp_path: Path):
    """Requests sent at once through one sandbox's socket: exactly the limit get a completion."""
    records: list[CallRecord] = []
    fake.add(*[InFlightGauge(hold_s=1.0)] * PARALLEL_CALLS)
    gateway = make_gateway(fake, Budget(evaluation_calls=2), records)
    socket_path = tmp_path / "llm.sock"
    start = threading.Barrier(PARALLEL_CALLS)
    statuses: list[int] = []

    def post() -> None:
        transport = httpx.HTTPTransport(uds=str(socket_path))
        with httpx.Client(transport=transport, base_url="http://gateway", timeout=30) as client:
            start.wait()
            statuses.append(client.post("/v1/chat/completions", json=body()).status_code)

    with gateway.serve(socket_path, context("e1")):
        threads = [threading.Thread(target=post) for _ in range(PARALLEL_CALLS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert sorted(statuses) == [200] * 2 + [429] * (PARALLEL_CALLS - 2)
    assert len(fake.requests) == 2
    assert gateway.meter.evaluations["e1"].calls == 2


def test_released_reservation_frees_its_call():
    meter = BudgetMeter(Budget(calls=1, evaluation_calls=1))
    held = meter.reserve(context("e1"))

    with pytest.raises(BudgetExceededError, match="0 model calls and has 1 in flight"):
        meter.reserve(context("e2"))
    meter.release(held)
    second = meter.reserve(context("e2"))
    meter.settle(second, prompt=3, completion=2, cost=None)

    assert not held.open
    assert not second.open
    assert (meter.run.calls, meter.run.tokens, meter.run.unpriced_calls) == (1, 5, 1)
    assert "--max-calls 1" in (meter.exhausted() or "")


def test_lost_reservation_ends_after_its_lease():
    """A reservation of a worker that died ends by itself; a late charge still counts."""
    meter = BudgetMeter(Budget(calls=2), lease_s=0.2)
    lost = meter.reserve(context("e1"))
    meter.reserve(context("e2"))
    with pytest.raises(BudgetExceededError, match="has 2 in flight"):
        meter.reserve(context("e3"))

    time.sleep(0.3)
    meter.reserve(context("e3"))
    meter.settle(lost, prompt=1, completion=1, cost=0.0)

    assert meter.run.calls == 1
    with pytest.raises(BudgetExceededError, match="1 model call and has 1 in flight"):
        meter.reserve(context("e4"))


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


def test_configured_price_reaches_litellm():
    """litellm prices each response itself, and a registered price spares it a slow search."""
    import litellm

    from evolarium.llm.pricing import call_cost, register_price

    model = "openai/budget-test-priced-later"
    assert call_cost(model, 1000, 1000) is None
    assert call_cost(model, 1000, 1000) is None  # the second lookup is served from memory

    register_price(model, 2.0, 4.0)

    assert call_cost(model, 1_000_000, 1_000_000) == 6.0
    prompt_cost, completion_cost = litellm.cost_per_token(
        model=model, prompt_tokens=1_000_000, completion_tokens=1_000_000
    )
    assert (prompt_cost, completion_cost) == pytest.approx((2.0, 4.0))


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
