"""Fixtures of the attack tests: a run with its archive and gateway, checked after every test.

After each test the run's warm scoring containers are closed, no evolarium container of
the run may be left, and the archive must reopen and read back every evaluation.
"""

import uuid

import pytest

from tests.conftest import evolarium_containers
from tests.fakeprovider import FakeProvider
from tests.security.lab import Lab


@pytest.fixture()
def canary_key(monkeypatch) -> str:
    """A recognizable fake API key, set in the host's environment as OPENAI_API_KEY."""
    key = f"sk-canary-{uuid.uuid4().hex}"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    return key


@pytest.fixture()
def fake_provider():
    with FakeProvider() as fake:
        yield fake


@pytest.fixture()
def lab(docker_client, sandbox_image, tmp_path, canary_key, fake_provider, monkeypatch):
    # Each test has its own run and so its own pool, which needs only one warm container.
    monkeypatch.setenv("EVOLARIUM_POOL_SIZE", "1")
    run = Lab(
        docker_client,
        sandbox_image,
        tmp_path / "lab",
        api_key=canary_key,
        provider_url=fake_provider.url,
    )
    yield run

    run.close()
    assert evolarium_containers(docker_client, run.run_id) == []
    run.check_archive_readable()
