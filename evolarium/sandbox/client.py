"""Connect to the Docker daemon."""

import os

import docker
import docker.errors

from evolarium.errors import DockerUnavailableError

_client: docker.DockerClient | None = None


def docker_client() -> docker.DockerClient:
    """Return a process-wide Docker client, or raise if no daemon responds."""
    global _client
    if _client is not None:
        return _client
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except docker.errors.DockerException as error:
        host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        raise DockerUnavailableError(
            f"no Docker daemon answers at {host}; start it (for example: dockerd &) "
            f"or set DOCKER_HOST ({error.__class__.__name__})"
        ) from error
    _client = client
    return client
