"""Stopping a run with SIGINT, SIGTERM and SIGKILL leaves no container behind.

The runs here use the loopback fake provider (tests/fakeprovider.py), whose slow
replies keep an agent waiting inside its sandbox while the signal arrives.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

from evolarium.archive import Archive
from evolarium.paths import runs_dir
from tests.conftest import evolarium_containers
from tests.fakeprovider import FakeProvider

pytestmark = pytest.mark.docker

WAIT_S = 180


def slow_reply(_request: dict) -> str:
    time.sleep(2)
    return "no code"


def start_run(
    fake: FakeProvider, *extra: str, env: dict | None = None, tasks: int = 1
) -> subprocess.Popen:
    command = [sys.executable, "-m", "evolarium.cli", "run", "--tasks", str(tasks)]
    command += ["--model", "openai/fake", "--api-base", fake.url, *extra]
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )


def wait_for(condition, what: str, timeout_s: float = WAIT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def the_run_id(process: subprocess.Popen) -> str:
    def started():
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace")
            raise AssertionError(f"the run ended early with {process.returncode}:\n{output}")
        return runs_dir().is_dir() and list(runs_dir().iterdir())

    runs = wait_for(started, "the run")
    assert len(runs) == 1
    return runs[0].name


def running(client, run_id: str) -> list:
    return [c for c in evolarium_containers(client, run_id) if c.status == "running"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_stops_run_and_removes_containers(docker_client, sandbox_image, signum):
    # Two tasks and one worker: the second evaluation waits in the queue when the signal comes.
    with FakeProvider([slow_reply] * 50) as fake:
        process = start_run(fake, tasks=2)
        run_id = the_run_id(process)
        wait_for(lambda: evolarium_containers(docker_client, run_id), "a sandbox")
        process.send_signal(signum)
        output, _ = process.communicate(timeout=WAIT_S)

    assert process.returncode == 130, output
    assert b"stopping: evaluations in flight are dropped" in output
    assert evolarium_containers(docker_client, run_id) == []
    archive = Archive.open(runs_dir() / run_id / "archive.db")
    assert archive.run(run_id).status == "stopped"
    # The evaluation in flight is dropped, not stored with the outcome of a removed sandbox,
    # and the queued one never starts.
    assert archive.evaluations(run_id) == []
    archive.close()


def test_second_sigint_stores_no_false_score(docker_client, sandbox_image):
    """A second Ctrl-C during the clean-up does not cut it short.

    No sandbox error is stored as a score, and the resumed run evaluates the seed in full.
    """
    with FakeProvider([slow_reply] * 50) as fake:
        process = start_run(fake, tasks=2)
        run_id = the_run_id(process)
        wait_for(lambda: evolarium_containers(docker_client, run_id), "a sandbox")
        process.send_signal(signal.SIGINT)
        time.sleep(1)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=WAIT_S)

        # A second signal that comes after the clean-up, while Python shuts down, ends the
        # process with the default handler, which Python restores at that point.
        assert process.returncode in (130, -signal.SIGINT), output
        assert evolarium_containers(docker_client, run_id) == []
        archive = Archive.open(runs_dir() / run_id / "archive.db")
        assert archive.run(run_id).status == "stopped"
        assert archive.evaluations(run_id) == []
        archive.close()

        resumed = subprocess.run(
            [sys.executable, "-m", "evolarium.cli", "resume", run_id],
            capture_output=True,
            text=True,
            timeout=WAIT_S * 2,
        )

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    archive = Archive.open(runs_dir() / run_id / "archive.db")
    evaluations = archive.evaluations(run_id)
    archive.close()
    assert evaluations, "the resumed run stored no evaluation"
    assert all(e.outcome != "sandbox_error" for e in evaluations), evaluations


def test_sigkill_containers_end_by_themselves_and_are_reaped(docker_client, sandbox_image):
    # Short limits, so that the containers' own deadlines come within the test.
    env = {"EVOLARIUM_POOL_IDLE_S": "5", "EVOLARIUM_POOL_SIZE": "1"}
    with FakeProvider([slow_reply] * 50) as fake:
        process = start_run(fake, "--agent-timeout", "4", env=env)
        run_id = the_run_id(process)

        def agent_and_pool():
            purposes = {c.labels.get("evolarium.purpose") for c in running(docker_client, run_id)}
            return "score" in purposes and len(purposes) > 1

        wait_for(agent_and_pool, "an agent sandbox beside a warm scoring container")
        process.kill()
        process.communicate(timeout=30)
        left = running(docker_client, run_id)
        assert left, "the containers ended with the host process"

        # Each container's command ends with the seconds after which it exits by itself (the
        # agent sandbox's sleep, the scoring harness's idle time). Wait for the latest.
        deadlines = [int(container.attrs["Config"]["Cmd"][-1]) for container in left]
        wait_for(
            lambda: not running(docker_client, run_id),
            "the containers' deadlines",
            max(deadlines) + WAIT_S,
        )

    pruned = subprocess.run(
        [sys.executable, "-m", "evolarium.cli", "sandbox", "prune"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    assert evolarium_containers(docker_client, run_id) == []
    archive = Archive.open(runs_dir() / run_id / "archive.db")
    assert archive.agents(run_id), "the archive lost the agents stored before the kill"
    archive.close()
