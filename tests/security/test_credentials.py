"""Credential theft from sandboxes: the environment, /proc, and provider errors sent back.

The host process has a recognizable fake key in OPENAI_API_KEY, and the gateway uses the
same key for the loopback fake provider, from its configuration or, in one test, from
the environment only. The key must appear nowhere in what a run stores. The probes (see
probes.py) make no model calls, except the tests that make the fake provider return an
error that quotes the key.
"""

import pytest

from evolarium.agents import contract
from evolarium.llm.gateway import Gateway
from evolarium.llm.recording import archive_recorder
from evolarium.llm.router import ModelConfig, Router
from tests.fakeprovider import FakeError
from tests.security import probes
from tests.security.lab import (
    SCORING_LIMITS,
    agent_program,
    calc_task,
    read_report,
    scoring_module,
)

pytestmark = pytest.mark.docker

SOCKET_PATH = f"{contract.SOCKET_DIR}/{contract.SOCKET_NAME}"


def readable_cmdlines(dump: dict) -> list[str]:
    return [
        text
        for name, text in dump["proc"].items()
        if name.endswith("/cmdline") and not text.startswith("unreadable")
    ]


def check_key_absent(lab, evaluation, key: str) -> None:
    assert key not in evaluation.transcript
    assert key not in evaluation.test_output
    for name, data in lab.workspace_files(evaluation).items():
        assert key.encode() not in data, name
    assert key.encode() not in lab.archive_bytes()


def test_environment_has_no_key(lab, canary_key, tmp_path):
    code = agent_program(
        probes.environment_probe, files={"calc.py": scoring_module(probes.environment_probe)}
    )
    task = calc_task(tmp_path / "task")

    evaluation = lab.evaluate(code, task)

    assert evaluation.outcome == "ok", evaluation.transcript
    agent_dump = read_report(evaluation.transcript)
    assert agent_dump is not None, evaluation.transcript
    assert contract.SOCKET_ENV in agent_dump["environ"], "the dump does not work"
    assert any("agent.py" in text for text in readable_cmdlines(agent_dump))
    assert "OPENAI_API_KEY" not in agent_dump["environ"]

    scoring_dump = read_report(evaluation.test_output)
    assert scoring_dump is not None, evaluation.test_output
    assert "PYTHONHASHSEED" in scoring_dump["environ"], "the dump does not work"
    assert any("harness.py" in text for text in readable_cmdlines(scoring_dump))
    assert "OPENAI_API_KEY" not in scoring_dump["environ"]

    check_key_absent(lab, evaluation, canary_key)


def test_environment_direct_scoring(lab, canary_key, tmp_path):
    task = calc_task(tmp_path / "task")

    score = lab.score(task, {"calc.py": scoring_module(probes.environment_probe)}, SCORING_LIMITS)

    dump = read_report(score.output)
    assert dump is not None, score.output
    assert "PYTHONHASHSEED" in dump["environ"], "the dump does not work"
    assert canary_key not in score.output


def test_provider_error_quoting_key(lab, canary_key, fake_provider, tmp_path):
    # Some providers quote the key they rejected. litellm may retry, so script three replies.
    error = FakeError(401, f"Incorrect API key provided: {canary_key}", "invalid_request_error")
    fake_provider.add(error, error, error)
    code = agent_program(probes.gateway_probe, (SOCKET_PATH,))
    task = calc_task(tmp_path / "task")

    evaluation = lab.evaluate(code, task)

    report = read_report(evaluation.transcript)
    assert report is not None, evaluation.transcript
    assert " 200 " not in report["status"], report
    assert fake_provider.requests, "the gateway did not call the provider"
    assert fake_provider.headers[0]["authorization"] == f"Bearer {canary_key}"
    assert evaluation.calls >= 1
    check_key_absent(lab, evaluation, canary_key)


def test_provider_error_quoting_environment_key(
    lab, canary_key, fake_provider, monkeypatch, tmp_path
):
    """The key is only in the environment, as for a cloud provider, and its 401 quotes it.

    OPENAI_BASE_URL points the openai client at the fake provider instead of the real one.
    """
    error = FakeError(401, f"Incorrect API key provided: {canary_key}", "invalid_request_error")
    fake_provider.add(error, error, error)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_provider.url)
    lab.gateway = Gateway(
        Router(ModelConfig(model="openai/gpt-4o-mini")), recorder=archive_recorder(lab.archive)
    )
    code = agent_program(probes.gateway_probe, (SOCKET_PATH,))
    task = calc_task(tmp_path / "task")

    evaluation = lab.evaluate(code, task)

    report = read_report(evaluation.transcript)
    assert report is not None, evaluation.transcript
    assert "Incorrect API key provided: ***" in report["body"], report
    assert fake_provider.headers[0]["authorization"] == f"Bearer {canary_key}"
    check_key_absent(lab, evaluation, canary_key)
