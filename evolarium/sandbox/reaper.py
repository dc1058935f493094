"""Find and remove evolarium containers that are left behind."""

import logging

import docker
import docker.errors

from evolarium.process import process_exists
from evolarium.sandbox.profile import MANAGED_LABEL, PID_LABEL, RUN_LABEL

log = logging.getLogger(__name__)

LIST_ATTEMPTS = 3
"""Tries at listing containers before a container that vanished mid-list raises."""


def list_containers(client: docker.DockerClient, run_id: str | None = None) -> list:
    """Return evolarium containers, all of them or those of one run."""
    label = f"{RUN_LABEL}={run_id}" if run_id else MANAGED_LABEL
    for attempt in range(LIST_ATTEMPTS):
        try:
            return client.containers.list(all=True, filters={"label": label})
        except docker.errors.NotFound:
            # docker-py inspects each listed container, and an auto-removed one can vanish
            # in between; listing again returns the daemon's state without it.
            log.debug("a container vanished while listing (attempt %d); listing again", attempt)
    return client.containers.list(all=True, filters={"label": label})


def remove_containers(client: docker.DockerClient, run_id: str | None = None) -> int:
    """Remove evolarium containers (of one run, or all); return how many were removed."""
    return _remove(list_containers(client, run_id))


def remove_orphans(client: docker.DockerClient) -> int:
    """Remove evolarium containers whose host process has ended; return how many.

    A container whose process id label names a live process on this host is
    kept, so concurrent runs are left alone.
    """
    orphans = [c for c in list_containers(client) if not _owner_alive(c.labels.get(PID_LABEL))]
    return _remove(orphans)


def _owner_alive(pid_label: str | None) -> bool:
    # NOTE: a process id can be reused after its process ends. Such a container is kept
    # until the new process ends too, and its own deadline stops it meanwhile.
    if not pid_label or not pid_label.isdigit():
        return False
    return process_exists(int(pid_label))


def _remove(containers: list) -> int:
    removed = 0
    for container in containers:
        try:
            container.remove(force=True)
            removed += 1
        except docker.errors.NotFound:
            continue
        except docker.errors.APIError as error:
            if error.status_code == 409 and "already in progress" in str(error):
                continue  # another remover, such as its pool closing, got there first
            log.warning("cannot remove container %s: %s", container.name, error)
    if removed:
        log.info("removed %d sandbox containers", removed)
    return removed
