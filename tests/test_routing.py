"""Tests of model routing: a model per purpose, aliases, fallbacks and concurrency limits.

Models: several scripted fake OpenAI-compatible servers from tests/fakeprovider.py, each on
its own 127.0.0.1 port, stand for different models. ``fast`` serves "openai/fast" and
``strong`` serves "openai/strong", both reached through litellm's "openai" provider. No
language model runs here.
"""

import asyncio
import json
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from evolarium.archive import Archive
from evolarium.errors import ConfigError, ModelError
from evolarium.evolve.config import RunConfig, apply_overrides, config_differences, load_config
from evolarium.evolve.session import _check_model
from evolarium.llm.budget import Budget, BudgetExceededError
from evolarium.llm.calls import CallContext, CallRecord, InvalidRequestError, ProviderError
from evolarium.llm.gateway import Gateway
from evolarium.llm.recording import archive_recorder
from evolarium.llm.replay import Replayer, router_request_key
from evolarium.llm.retry import RetryPolicy
from evolarium.llm.router import ModelConfig, Router
from evolarium.llm.routing import Routes, purpose_config
from tests.fakeprovider import FakeError, FakeProvider

RUN = "run-routes"


def context(purpose: str = "agent") -> CallContext:
    return CallContext(run_id=RUN, agent_id="agent-1", task_id="task-1", purpose=purpose)


def body(question: str = "What is two plus two?", model: str | None = None) -> dict:
    request: dict = {"messages": [{"role": "user", "content": question}]}
    if model is not None:
        request["model"] = model
    return request


def content(response: dict) -> str:
    return response["choices"][0]["message"]["content"]


@pytest.fixture
def fast() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def strong() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


def routed_config(fast: FakeProvider, strong: FakeProvider, **changes: object) -> RunConfig:
    """A run whose default model is ``fast`` and whose rewriter uses ``strong``."""
    data = {
        "model": {"model": "openai/fast", "api_base": fast.url, "api_key": "fast-key"},
        "models": {
            "rewriter": {"model": "openai/strong", "api_base": strong.url, "api_key": "strong-key"}
        },
    }
    data.update(changes)
    return RunConfig.from_dict(data)


def gateway_for(config: RunConfig, records: list[CallRecord], **options) -> Gateway:
    # No waiting between retries; tests/test_faults.py checks the waits.
    return Gateway(config.routes(), recorder=records.append, sleep=lambda _s: None, **options)


# Purposes


def test_purpose_routes_reach_their_provider(fast: FakeProvider, strong: FakeProvider) -> None:
    fast.add("from fast", "from fast again")
    strong.add("from strong")
    records: list[CallRecord] = []
    gateway = gateway_for(routed_config(fast, strong), records)

    agent_reply = gateway.complete(body(), context("agent"))
    rewriter_reply = gateway.complete(body(), context("rewriter"))
    merger_reply = gateway.complete(body(), context("merger"))

    assert content(agent_reply) == "from fast"
    assert content(rewriter_reply) == "from strong"
    assert content(merger_reply) == "from fast again"
    assert len(fast.requests) == 2
    assert len(strong.requests) == 1
    assert [record.model for record in records] == ["openai/fast", "openai/strong", "openai/fast"]
    assert [record.context.purpose for record in records] == ["agent", "rewriter", "merger"]
    assert fast.requests[0]["model"] == "fast"
    assert strong.requests[0]["model"] == "strong"


def test_purpose_route_sends_its_own_key(fast: FakeProvider, strong: FakeProvider) -> None:
    fast.add("a")
    strong.add("b")
    gateway = gateway_for(routed_config(fast, strong), [])

    gateway.complete(body(), context("agent"))
    gateway.complete(body(), context("rewriter"))

    assert fast.headers[0]["authorization"] == "Bearer fast-key"
    assert strong.headers[0]["authorization"] == "Bearer strong-key"


def test_purpose_table_inherits_unset_fields(fast: FakeProvider, strong: FakeProvider) -> None:
    config = routed_config(
        fast,
        strong,
        model={
            "model": "openai/fast",
            "api_base": fast.url,
            "api_key": "fast-key",
            "max_tokens": 77,
            "max_concurrent": 2,
        },
        models={"agent": {"temperature": 0.9}, "rewriter": {"model": "openai/strong"}},
    )

    agent = config.purpose_models()["agent"]
    rewriter = config.purpose_models()["rewriter"]

    assert agent.model == "openai/fast"
    assert agent.api_base == fast.url
    assert agent.api_key == "fast-key"
    assert agent.max_tokens == 77
    assert agent.temperature == 0.9
    assert agent.max_concurrent == 2
    # Another model keeps the request settings but not the default's server, key or limit.
    assert rewriter.max_tokens == 77
    assert rewriter.api_base is None
    assert rewriter.api_key is None
    assert rewriter.max_concurrent is None


# Aliases


def test_alias_selects_route_by_requested_model(fast: FakeProvider, strong: FakeProvider) -> None:
    fast.add("fast 1", "fast 2")
    strong.add("strong 1", "strong 2")
    records: list[CallRecord] = []
    config = routed_config(
        fast, strong, aliases={"smart": "rewriter", "direct": "openai/strong", "quick": "agent"}
    )
    gateway = gateway_for(config, records)

    by_purpose = gateway.complete(body(model="smart"), context("agent"))
    by_model = gateway.complete(body(model="direct"), context("agent"))
    unknown = gateway.complete(body(model="gpt-17"), context("agent"))
    back = gateway.complete(body(model="quick"), context("rewriter"))

    assert content(by_purpose) == "strong 1"
    assert content(by_model) == "strong 2"
    assert content(unknown) == "fast 1"
    assert content(back) == "fast 2"
    assert [record.requested_model for record in records] == ["smart", "direct", "gpt-17", "quick"]
    assert [record.model for record in records] == [
        "openai/strong",
        "openai/strong",
        "openai/fast",
        "openai/fast",
    ]


def test_unknown_requested_model_keeps_purpose(fast: FakeProvider, strong: FakeProvider) -> None:
    strong.add("strong")
    gateway = gateway_for(routed_config(fast, strong, aliases={"smart": "agent"}), [])

    reply = gateway.complete(body(model="openai/fast"), context("rewriter"))

    assert content(reply) == "strong"
    assert fast.requests == []


# Fallbacks


def fallback_config(fast: FakeProvider, strong: FakeProvider, **changes: object) -> RunConfig:
    """``fast`` falls back to ``strong``, which is configured as the rewriter's model."""
    default = {
        "model": "openai/fast",
        "api_base": fast.url,
        "api_key": "fast-key",
        "fallbacks": ["openai/strong"],
    }
    return routed_config(fast, strong, model=default, **changes)


def test_fallback_answers_after_primary_fails(fast: FakeProvider, strong: FakeProvider) -> None:
    fast.add(*[FakeError(500, "overloaded")] * 3)
    strong.add("from the fallback")
    records: list[CallRecord] = []
    config = fallback_config(fast, strong)
    gateway = gateway_for(config, records)

    reply = gateway.complete(body(), context("agent"))

    assert content(reply) == "from the fallback"
    assert len(fast.requests) == 3
    assert len(strong.requests) == 1
    assert [record.model for record in records] == ["openai/fast"] * 3 + ["openai/strong"]
    assert [record.outcome for record in records] == ["server_error"] * 3 + ["ok"]
    assert [record.attempt for record in records] == [1, 2, 3, 1]
    # The fallback uses the rewriter route's server and key, not the primary's.
    assert strong.headers[0]["authorization"] == "Bearer strong-key"
    fallback_router = Router(config.purpose_models()["rewriter"])
    assert records[-1].request_key == router_request_key(fallback_router, body())
    assert records[0].request_key != records[-1].request_key


def test_fallback_errors_after_all_fail(fast: FakeProvider, strong: FakeProvider) -> None:
    fast.add(*[FakeError(503, "down")] * 3)
    strong.add(*[FakeError(502, "also down")] * 3)
    records: list[CallRecord] = []
    gateway = gateway_for(fallback_config(fast, strong), records)

    with pytest.raises(ProviderError, match="also down"):
        gateway.complete(body(), context("agent"))

    assert len(records) == 6
    assert [record.model for record in records] == ["openai/fast"] * 3 + ["openai/strong"] * 3


def test_fallback_skipped_for_invalid_body(fast: FakeProvider, strong: FakeProvider) -> None:
    records: list[CallRecord] = []
    gateway = gateway_for(fallback_config(fast, strong), records)

    with pytest.raises(InvalidRequestError):
        gateway.complete({"messages": []}, context("agent"))

    assert fast.requests == []
    assert strong.requests == []
    assert [record.outcome for record in records] == ["rejected"]


def test_fallback_skipped_for_provider_400(fast: FakeProvider, strong: FakeProvider) -> None:
    fast.add(FakeError(400, "unsupported parameter", "invalid_request_error"))
    strong.add("never sent")
    records: list[CallRecord] = []
    gateway = gateway_for(fallback_config(fast, strong), records)

    with pytest.raises(ProviderError, match="unsupported parameter"):
        gateway.complete(body(), context("agent"))

    assert len(fast.requests) == 1
    assert strong.requests == []
    assert [record.outcome for record in records] == ["provider_error"]


def test_fallback_skipped_when_budget_spent(fast: FakeProvider, strong: FakeProvider) -> None:
    fast.add(FakeError(500, "overloaded"))
    strong.add("never sent")
    records: list[CallRecord] = []
    gateway = gateway_for(fallback_config(fast, strong), records, budget=Budget(calls=1))

    with pytest.raises(BudgetExceededError):
        gateway.complete(body(), context("agent"))

    assert len(fast.requests) == 1
    assert strong.requests == []
    assert [record.outcome for record in records] == ["server_error", "budget_exceeded"]


def test_fallback_without_route_uses_primary_server(fast: FakeProvider) -> None:
    fast.add(FakeError(500, "overloaded"), "served as backup")
    records: list[CallRecord] = []
    default = ModelConfig(
        model="openai/fast", api_base=fast.url, api_key="fast-key", fallbacks=("openai/backup",)
    )
    gateway = Gateway(Routes(default), recorder=records.append, retry=RetryPolicy(attempts=1))

    reply = gateway.complete(body(), context("agent"))

    assert content(reply) == "served as backup"
    assert [request["model"] for request in fast.requests] == ["fast", "backup"]
    assert [record.model for record in records] == ["openai/fast", "openai/backup"]


# Concurrency limits


class InFlightGauge:
    """A scripted reply that counts the requests in flight at the fake provider.

    Each request is held until another one is in flight, or for ``hold_s`` at most, so
    callers that are not limited overlap here. The reply is ``reply(request)``, or "done".
    """

    def __init__(self, hold_s: float, reply=None) -> None:
        self.hold_s = hold_s
        self.reply = reply
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._overlap = threading.Event()

    def __call__(self, request: dict) -> str:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            if self._in_flight > 1:
                self._overlap.set()
        self._overlap.wait(self.hold_s)
        try:
            return self.reply(request) if self.reply else "done"
        finally:
            with self._lock:
                self._in_flight -= 1


def call_concurrently(gateway: Gateway, purposes: list[str]) -> list[str]:
    replies: list[str] = []
    errors: list[BaseException] = []

    def call(purpose: str) -> None:
        try:
            replies.append(content(gateway.complete(body(), context(purpose))))
        except BaseException as error:  # reported by the assert below
            errors.append(error)

    threads = [threading.Thread(target=call, args=(purpose,)) for purpose in purposes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return replies


def test_max_concurrent_one_serializes_requests(fast: FakeProvider) -> None:
    gauge = InFlightGauge(hold_s=0.3)
    fast.add(*[gauge] * 4)
    # agent and rewriter use the same model string, so they share its one slot.
    config = RunConfig.from_dict(
        {
            "model": {
                "model": "openai/fast",
                "api_base": fast.url,
                "api_key": "k",
                "max_concurrent": 1,
            },
            "models": {"rewriter": {"temperature": 0.7}},
        }
    )
    gateway = gateway_for(config, [])

    replies = call_concurrently(gateway, ["agent", "rewriter", "agent", "rewriter"])

    assert replies == ["done"] * 4
    assert len(fast.requests) == 4
    assert gauge.max_in_flight == 1


def test_unlimited_model_overlaps_requests(fast: FakeProvider) -> None:
    """Check the gauge itself: without a limit, it counts overlapping requests."""
    gauge = InFlightGauge(hold_s=5.0)
    fast.add(*[gauge] * 4)
    config = RunConfig.from_dict(
        {"model": {"model": "openai/fast", "api_base": fast.url, "api_key": "k"}}
    )
    gateway = gateway_for(config, [])

    replies = call_concurrently(gateway, ["agent"] * 4)

    assert replies == ["done"] * 4
    assert gauge.max_in_flight > 1


def test_max_concurrent_limits_per_model_string(fast: FakeProvider, strong: FakeProvider) -> None:
    config = routed_config(
        fast,
        strong,
        model={"model": "openai/fast", "api_base": fast.url, "max_concurrent": 1},
        models={"rewriter": {"model": "openai/strong", "api_base": strong.url}},
    )

    routes = config.routes()

    assert routes.limits.limit("openai/fast") == 1
    assert routes.limits.limit("openai/strong") is None


# Configuration


def test_set_reaches_purpose_tables() -> None:
    data = apply_overrides(
        {},
        [
            "models.rewriter.model=openai/gpt-4o",
            'models.rewriter.fallbacks=["openai/gpt-4o-mini"]',
            "models.merger.max_concurrent=2",
            "aliases.strong=rewriter",
        ],
    )

    config = RunConfig.from_dict(data)

    rewriter = config.purpose_models()["rewriter"]
    assert rewriter.model == "openai/gpt-4o"
    assert rewriter.fallbacks == ("openai/gpt-4o-mini",)
    assert config.purpose_models()["merger"].max_concurrent == 2
    assert config.aliases == {"strong": "rewriter"}


def test_print_config_shows_routes_masks_keys() -> None:
    config = RunConfig.from_dict(
        {
            "model": {"model": "openai/gpt-4o-mini", "api_key": "sk-default-secret"},
            "models": {"agent": {"model": "openai/gpt-4o", "api_key": "sk-agent-secret"}},
            "aliases": {"fast": "agent"},
        }
    )

    text = config.to_toml()
    stored = config.to_dict()

    assert "sk-default-secret" not in text
    assert "sk-agent-secret" not in text
    assert "models.agent.api_key is set but not printed" in text
    assert stored["models"]["agent"]["api_key"] == "***"
    loaded = RunConfig.from_dict(tomllib.loads(text))
    assert loaded.purpose_models()["agent"].model == "openai/gpt-4o"
    assert loaded.purpose_models()["agent"].api_key is None
    assert loaded.aliases == {"fast": "agent"}


def test_stored_routes_resume_without_changes() -> None:
    config = RunConfig.from_dict(
        apply_overrides({}, ['model.fallbacks=["openai/a"]', 'models.agent.fallbacks=["x/b"]'])
    )

    stored = json.loads(json.dumps(config.to_dict()))

    assert config_differences(stored, RunConfig.from_dict(stored).to_dict()) == []


CONFIG_ERRORS = [
    pytest.param(["models.rewritter.model=x"], "did you mean models.rewriter", id="purpose"),
    pytest.param(["models.agent.modle=x"], "did you mean models.agent.model", id="field"),
    pytest.param(["models.agent.max_concurrent=0"], "at least 1", id="limit-zero"),
    pytest.param(["models.agent.max_concurrent=1.5"], "an integer", id="limit-float"),
    pytest.param(["models.agent.fallbacks=openai/x"], "must be a list", id="fallbacks-string"),
    pytest.param(
        ["models.agent.model=openai/x", 'models.agent.fallbacks=["openai/x"]'],
        "the model itself",
        id="fallback-self",
    ),
    pytest.param(
        ['model.fallbacks=["openai/x", "openai/x"]'], "names 'openai/x' twice", id="fallback-twice"
    ),
    pytest.param(['model.fallbacks=[""]'], r"fallbacks\[0\]", id="fallback-empty"),
    pytest.param(
        ["model.max_concurrent=1", "models.agent.max_concurrent=2"],
        "give them the same value",
        id="limits-differ",
    ),
    pytest.param(["aliases.fast=rewritter"], "did you mean rewriter", id="alias-typo"),
    pytest.param(["aliases=3"], "aliases must be a table", id="aliases-not-table"),
    pytest.param(["models=3"], "models must be a table", id="models-not-table"),
    pytest.param(["models.agent.max_tokens=0"], "models.agent.max_tokens", id="max-tokens"),
]


@pytest.mark.parametrize(("items", "message"), CONFIG_ERRORS)
def test_invalid_routes_config_raises(items: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RunConfig.from_dict(apply_overrides({}, items))


def test_config_file_rejects_unknown_purpose(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('[models.judge]\nmodel = "openai/gpt-4o"\n', encoding="utf-8")

    with pytest.raises(ConfigError, match="models.judge"):
        load_config(str(path))


# Checks before a run


def test_max_dollars_needs_fallback_price(fast: FakeProvider) -> None:
    config = RunConfig.from_dict(
        {
            "model": {
                "model": "openai/gpt-4o-mini",
                "api_base": fast.url,
                "api_key": "k",
                "fallbacks": ["openai/no-price-model"],
            },
            "budget": {"dollars": 1.0},
        }
    )

    with pytest.raises(ConfigError, match="no-price-model"):
        _check_model(config)


def test_check_covers_purpose_models(fast: FakeProvider, monkeypatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    config = RunConfig.from_dict(
        {
            "model": {"model": "openai/gpt-4o-mini", "api_base": fast.url, "api_key": "k"},
            "models": {"merger": {"model": "anthropic/claude-3-haiku-20240307"}},
        }
    )

    with pytest.raises(ModelError, match="ANTHROPIC_API_KEY"):
        _check_model(config)


def test_check_covers_purpose_servers(fast: FakeProvider, strong: FakeProvider) -> None:
    config = routed_config(fast, strong)
    strong.stop()

    with pytest.raises(ModelError, match="cannot connect"):
        _check_model(config)


def test_purpose_config_other_model_drops_key() -> None:
    default = ModelConfig(model="openai/a", api_base="http://127.0.0.1:9/v1", api_key="secret")

    same = purpose_config(default, {"temperature": 0.5})
    other = purpose_config(default, {"model": "openai/b", "api_base": "http://127.0.0.1:8/v1"})

    assert same.api_key == "secret"
    assert other.api_key is None
    assert other.api_base == "http://127.0.0.1:8/v1"


# Replay


def test_replay_of_routed_run_finds_keys(
    fast: FakeProvider, strong: FakeProvider, tmp_path: Path
) -> None:
    fast.add("agent reply", *[FakeError(500, "overloaded")] * 3)
    strong.add("rewriter reply", "fallback reply", "alias reply")
    config = fallback_config(fast, strong, aliases={"smart": "rewriter"})
    archive = Archive.create(tmp_path / "recording" / "archive.db")
    live = Gateway(config.routes(), recorder=archive_recorder(archive), sleep=lambda _s: None)
    calls = [
        (body("first"), context("agent")),
        (body("second"), context("rewriter")),
        (body("third"), context("agent")),
        (body("fourth", model="smart"), context("agent")),
    ]
    recorded = [content(live.complete(request, call)) for request, call in calls]
    sent = (len(fast.requests), len(strong.requests))

    records: list[CallRecord] = []
    replayer = Replayer(archive.calls(RUN))
    replay = Gateway(config.routes(), recorder=records.append, replayer=replayer)
    replayed = [content(replay.complete(request, call)) for request, call in calls]

    assert recorded == ["agent reply", "rewriter reply", "fallback reply", "alias reply"]
    assert replayed == recorded
    assert (len(fast.requests), len(strong.requests)) == sent
    assert [record.outcome for record in records] == ["replayed"] * 4
    assert [record.model for record in records] == [
        "openai/fast",
        "openai/strong",
        "openai/strong",
        "openai/strong",
    ]
    assert replayer.unserved == 0


def test_run_stored_before_routes_resumes_unchanged() -> None:
    stored = RunConfig().to_dict()
    for key in ("models", "aliases"):
        del stored[key]
    for key in ("fallbacks", "max_concurrent"):
        del stored["model"][key]

    assert config_differences(stored, RunConfig.from_dict(stored).to_dict()) == []


# The run-wide concurrency limits of a Ray cluster (slots.py), without Ray


def test_slot_ledger_waits_for_release() -> None:
    from evolarium.llm.slots import SlotLedger

    async def scenario() -> tuple[bool, int]:
        ledger = SlotLedger({"openai/fast": 1})
        first = await ledger.acquire("openai/fast", lease_s=60)
        second = asyncio.create_task(ledger.acquire("openai/fast", lease_s=60))
        await asyncio.sleep(0.05)
        waited = not second.done()
        await ledger.release("openai/fast", first)
        await asyncio.wait_for(second, timeout=10)
        return waited, await ledger.in_flight("openai/fast")

    waited, in_flight = asyncio.run(scenario())
    assert waited
    assert in_flight == 1


def test_slot_ledger_expires_lost_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lease whose holder died ends after lease_s, so the slot is not lost for good."""
    from evolarium.llm import slots

    monkeypatch.setattr(slots, "POLL_S", 0.05)

    async def scenario() -> int:
        ledger = slots.SlotLedger({"openai/fast": 1})
        await ledger.acquire("openai/fast", lease_s=0.2)  # never released
        await asyncio.wait_for(ledger.acquire("openai/fast", lease_s=60), timeout=10)
        return await ledger.in_flight("openai/fast")

    assert asyncio.run(scenario()) == 1
