"""Shared fixtures: a private data directory, and the Docker daemon with the sandbox image.

Docker tests skip when no daemon or image is available, unless
EVOLARIUM_REQUIRE_DOCKER=1 (set in CI), where they fail instead.
"""

import os
from pathlib import Path

import pytest

REQUIRE_DOCKER = os.environ.get("EVOLARIUM_REQUIRE_DOCKER") == "1"


@pytest.fixture(autouse=True)
def evolarium_home(tmp_path_factory, monkeypatch) -> Path:
    """Give every test its own data directory; share the HumanEval task cache across tests."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("EVOLARIUM_HOME", str(home))
    cache = tmp_path_factory.getbasetemp() / "shared-cache"
    cache.mkdir(exist_ok=True)
    (home / "cache").symlink_to(cache, target_is_directory=True)
    return home


@pytest.fixture(scope="session")
def docker_client():
    from evolarium.errors import DockerUnavailableError
    from evolarium.sandbox import docker_client as connect

    try:
        return connect()
    except DockerUnavailableError as error:
        if REQUIRE_DOCKER:
            pytest.fail(f"EVOLARIUM_REQUIRE_DOCKER=1 but {error}")
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def sandbox_image(docker_client) -> str:
    from evolarium.errors import DockerUnavailableError
    from evolarium.sandbox import require_image

    try:
        return require_image(docker_client)
    except DockerUnavailableError as error:
        if REQUIRE_DOCKER:
            pytest.fail(f"EVOLARIUM_REQUIRE_DOCKER=1 but {error}")
        pytest.skip(str(error))


def evolarium_containers(client, run_id: str | None = None) -> list:
    from evolarium.sandbox.reaper import list_containers

    return list_containers(client, run_id)
