"""Find and remove evolarium containers that are left behind."""

import logging

import docker
import docker.errors

from evolarium.sandbox.profile import MANAGED_LABEL, RUN_LABEL

log = logging.getLogger(__name__)


def list_containers(client: docker.DockerClient, run_id: str | None = None) -> list:
    """Return evolarium containers, all of them or those of one run."""
    label = f"{RUN_LABEL}={run_id}" if run_id else MANAGED_LABEL
    return client.containers.list(all=True, filters={"label": label})


def remove_containers(client: docker.DockerClient, run_id: str | None = None) -> int:
    """Remove evolarium containers (of one run, or all); return how many were removed."""
    removed = 0
    for container in list_containers(client, run_id):
        try:
            container.remove(force=True)
            removed += 1
        except docker.errors.NotFound:
            continue
        except docker.errors.APIError as error:
            log.warning("cannot remove container %s: %s", container.name, error)
    if removed:
        log.info("removed %d leftover sandbox containers", removed)
    return removed
