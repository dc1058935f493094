"""Failures of the host rather than of the agent: they stop the run and store nothing false.

A lost Docker daemon is simulated with a client aimed at a socket where nothing
listens; a full disk by making the host-side copy fail with ENOSPC. The model is
the loopback fake provider, which these agents never call.
"""

import errno
import shutil
from pathlib import Path

import docker
import pytest

from evolarium.agents.contract import seed_agent_dir
from evolarium.errors import DockerUnavailableError, HostError
from evolarium.evolve.config import RunConfig
from evolarium.evolve.evaluation import Evaluator
from evolarium.evolve.run import create_run
from evolarium.llm.gateway import Gateway
from evolarium.llm.router import ModelConfig, Router
from evolarium.sandbox import Limits
from evolarium.sandbox.staging import StagingError, check_tree, copy_inside
from evolarium.tasks.suite import builtin_dir
from evolarium.tasks.task import load_task
from tests.fakeprovider import FakeProvider

TASK = "csv-quoted-fields"


@pytest.fixture()
def evaluator_parts():
    with FakeProvider(["unused"]) as fake:
        gateway = Gateway(Router(ModelConfig(model="openai/fake", api_base=fake.url, api_key="t")))
        run_id, _run_dir, archive = create_run(RunConfig(tasks=1))
        yield gateway, run_id, archive
        archive.close()


def dead_client(tmp_path: Path) -> docker.DockerClient:
    """A client for a daemon that is gone; the API version is given, so nothing is asked."""
    return docker.DockerClient(
        base_url=f"unix://{tmp_path}/no-daemon.sock", version="1.41", timeout=5
    )


def make_evaluator(client, gateway, run_id, archive) -> Evaluator:
    return Evaluator(
        client=client,
        image="evolarium-sandbox:unused",
        gateway=gateway,
        archive=archive,
        run_id=run_id,
        limits=Limits(timeout_s=30),
        max_steps=1,
    )


def test_lost_daemon_stops_the_run_and_stores_nothing(evaluator_parts, tmp_path):
    gateway, run_id, archive = evaluator_parts
    evaluator = make_evaluator(dead_client(tmp_path), gateway, run_id, archive)
    task = load_task(builtin_dir() / TASK)

    with pytest.raises(DockerUnavailableError, match="stopped responding"):
        evaluator.evaluate("agent0", seed_agent_dir(), task, stage="full")
    assert archive.evaluations(run_id) == []


def test_full_host_disk_stops_the_run(evaluator_parts, monkeypatch, tmp_path):
    gateway, run_id, archive = evaluator_parts
    evaluator = make_evaluator(dead_client(tmp_path), gateway, run_id, archive)
    task = load_task(builtin_dir() / TASK)

    def no_space(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "/tmp/evo-staging")

    monkeypatch.setattr(shutil, "copytree", no_space)
    with pytest.raises(HostError, match="disk is full"):
        evaluator.evaluate("agent0", seed_agent_dir(), task, stage="full")
    assert archive.evaluations(run_id) == []


def test_link_leaving_agent_dir_is_refused(tmp_path: Path):
    agent = tmp_path / "agent"
    agent.mkdir()
    (agent / "agent.py").write_text("print('hi')\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret\n")
    (agent / "notes.txt").symlink_to(secret)

    with pytest.raises(StagingError) as raised:
        copy_inside(agent, tmp_path / "copy", max_bytes=1 << 20)
    assert str(agent / "notes.txt") in str(raised.value)
    assert "outside" in str(raised.value)
    assert not (tmp_path / "copy").exists()


def test_link_inside_agent_dir_is_copied_as_a_file(tmp_path: Path):
    agent = tmp_path / "agent"
    agent.mkdir()
    (agent / "agent.py").write_text("print('hi')\n")
    (agent / "alias.py").symlink_to(agent / "agent.py")

    copy_inside(agent, tmp_path / "copy", max_bytes=1 << 20)
    copied = tmp_path / "copy" / "alias.py"
    assert not copied.is_symlink()
    assert copied.read_text() == "print('hi')\n"


def test_workspace_over_the_cap_is_refused(tmp_path: Path):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "big.bin").write_bytes(b"\0" * (2 << 20))

    with pytest.raises(StagingError, match="--workspace-mb"):
        check_tree(workspace, max_bytes=1 << 20)
