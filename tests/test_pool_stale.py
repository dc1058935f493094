"""Warm scoring containers that waited too long are never handed to a request.

A warm container's harness exits by itself once it has waited EVOLARIUM_POOL_IDLE_S
seconds for its request. The pool (evolarium/sandbox/pool.py) replaces a container that
has waited REPLACE_AT of that time: in the background (``_retire_stale``) and again when
a request takes one (``_fresh_from_queue``). These tests start real scoring containers on
Docker and call no model.
"""

import time
import uuid

import pytest

from evolarium.sandbox import Limits
from evolarium.sandbox.pool import POOL_LABEL, REPLACE_AT
from evolarium.tasks.scorer import close_scoring_pools, scoring_pool
from tests.conftest import evolarium_containers

pytestmark = pytest.mark.docker

READY_S = 180
"""How long a test waits for a scoring container to start and report ready."""
GONE_S = 120
"""How long a test waits for a retired container to be removed."""


def pool_container_ids(client, pool) -> list[str]:
    # The low-level list inspects nothing, so a container removed meanwhile cannot fail it.
    label = f"{POOL_LABEL}={pool.pool_id}"
    return [entry["Id"] for entry in client.api.containers(all=True, filters={"label": label})]


def wait_for(condition, description: str, timeout_s: float):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {description}")


def actions_of(client, container_id: str, since: int) -> list[str]:
    """Return the Docker event actions of one container from ``since`` until now."""
    until = int(time.time()) + 1
    events = client.events(
        since=since, until=until, filters={"container": container_id}, decode=True
    )
    return [event.get("Action") or event.get("status") for event in events]


def is_running(client, container_id: str) -> bool:
    found = client.api.containers(filters={"id": container_id, "status": "running"})
    return len(found) == 1


@pytest.fixture
def pool_run(monkeypatch):
    """A run id for one pool of one scoring container; its containers are removed after."""
    monkeypatch.setenv("EVOLARIUM_POOL_SIZE", "1")
    run_id = f"test-pool-stale-{uuid.uuid4().hex[:8]}"
    yield run_id
    close_scoring_pools(run_id)


def test_stale_container_retired_in_background(docker_client, sandbox_image, monkeypatch, pool_run):
    """With a 5 s idle time, the pool kills its warm container before the harness gives up.

    The harness would exit by itself after 5 s with status 0; the pool retires the
    container at 4 s, so Docker records a kill for it, and a new container waits in its
    place. The request then gets the new container, alive.
    """
    monkeypatch.setenv("EVOLARIUM_POOL_IDLE_S", "5")
    since = int(time.time()) - 1
    pool = scoring_pool(docker_client, sandbox_image, pool_run, Limits())
    assert pool.idle_s == 5
    assert pool.wait_ready(READY_S) == 1
    (first,) = pool_container_ids(docker_client, pool)

    wait_for(lambda: first not in pool_container_ids(docker_client, pool), "retirement", GONE_S)
    assert "kill" in actions_of(docker_client, first, since), "the container ended by itself"
    assert pool.wait_ready(READY_S) == 1

    served = pool.take("probe")
    try:
        assert served.container.id != first
        assert is_running(docker_client, served.container.id)
        assert time.monotonic() - served.created < pool.idle_s * REPLACE_AT
    finally:
        pool.release(served)


def test_take_skips_stale_container(docker_client, sandbox_image, monkeypatch, pool_run):
    """A request skips a queued container that has waited REPLACE_AT of its idle time.

    With the default idle time of 300 s, the background check comes only every 60 s. So
    the test makes the queued container stale at once, by moving its start time (which the
    pool's rule reads) back by REPLACE_AT of the idle time. The request must get another
    container, and the stale one is removed.
    """
    monkeypatch.delenv("EVOLARIUM_POOL_IDLE_S", raising=False)
    pool = scoring_pool(docker_client, sandbox_image, pool_run, Limits())
    assert pool.wait_ready(READY_S) == 1
    (queued,) = list(pool._ready.queue)
    stale = queued.container.id
    queued.created -= pool.idle_s * REPLACE_AT

    served = pool.take("probe")
    try:
        assert served.container.id != stale
        assert is_running(docker_client, served.container.id)
        name = docker_client.api.inspect_container(served.container.id)["Name"]
        assert name.startswith("/evolarium-score-probe-")
    finally:
        pool.release(served)
    wait_for(lambda: stale not in pool_container_ids(docker_client, pool), "removal", GONE_S)


def test_closed_pools_leave_no_container(docker_client, sandbox_image, monkeypatch, pool_run):
    """close_scoring_pools removes the warm containers that the pool started."""
    monkeypatch.setenv("EVOLARIUM_POOL_IDLE_S", "5")
    pool = scoring_pool(docker_client, sandbox_image, pool_run, Limits())
    assert pool.wait_ready(READY_S) == 1
    assert evolarium_containers(docker_client, pool_run)
    close_scoring_pools(pool_run)
    assert pool_container_ids(docker_client, pool) == []
    assert evolarium_containers(docker_client, pool_run) == []
