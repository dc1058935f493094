"""Agent runs in a sandbox: hostile workspaces and failures never crash the host process.

The agents here make no model calls; the gateway points at the loopback fake provider.
"""

from pathlib import Path

import pytest

from evolarium.evolve.rollout import run_agent
from evolarium.llm.gateway import CallContext, Gateway
from evolarium.llm.router import ModelConfig, Router
from evolarium.sandbox import Limits, SandboxError
from tests.conftest import evolarium_containers
from tests.fakeprovider import FakeProvider

pytestmark = pytest.mark.docker

RUN_ID = "test-rollout"

HOSTILE_FILES = """
import os
os.symlink("..", "/workspace/up")
os.symlink("/etc/passwd", "/workspace/passwd")
os.mkfifo("/workspace/fifo")
with open("/workspace/kept.py", "w") as stream:
    stream.write("KEPT = True\\n")
"""


@pytest.fixture()
def gateway():
    with FakeProvider(["unused"] * 5) as fake:
        yield Gateway(Router(ModelConfig(model="openai/fake", api_base=fake.url, api_key="t")))


def make_agent(root: Path, code: str) -> Path:
    root.mkdir()
    (root / "agent.py").write_text(code)
    return root


def rollout(docker_client, image, gateway, agent_dir, workspace, **limits):
    return run_agent(
        docker_client,
        image,
        gateway,
        agent_dir=agent_dir,
        prompt="do nothing",
        workspace=workspace,
        context=CallContext(run_id=RUN_ID),
        limits=Limits(timeout_s=30, **limits),
        max_steps=1,
    )


def test_rollout_drops_links_and_fifos(docker_client, sandbox_image, gateway, tmp_path):
    agent_dir = make_agent(tmp_path / "agent", HOSTILE_FILES)
    (tmp_path / "ws").mkdir()
    with rollout(docker_client, sandbox_image, gateway, agent_dir, tmp_path / "ws") as result:
        names = sorted(path.name for path in result.workspace.iterdir())
        assert result.result.outcome == "ok", result.result.output
    assert names == ["kept.py"]
    assert evolarium_containers(docker_client, RUN_ID) == []


def test_rollout_oversized_workspace_raises(docker_client, sandbox_image, gateway, tmp_path):
    # 20,000 empty files make a tar stream far larger than twice the 1 MB tmpfs.
    code = "for i in range(20000):\n    open(f'/workspace/f{i}', 'w').close()\n"
    agent_dir = make_agent(tmp_path / "agent", code)
    (tmp_path / "ws").mkdir()
    with pytest.raises(SandboxError, match="exceeds"):
        with rollout(
            docker_client, sandbox_image, gateway, agent_dir, tmp_path / "ws", workspace_mb=1
        ):
            pass
    assert evolarium_containers(docker_client, RUN_ID) == []


def test_rollout_agent_kills_init(docker_client, sandbox_image, gateway, tmp_path):
    agent_dir = make_agent(tmp_path / "agent", "import os, signal\nos.kill(1, signal.SIGKILL)\n")
    (tmp_path / "ws").mkdir()
    with rollout(docker_client, sandbox_image, gateway, agent_dir, tmp_path / "ws") as result:
        outcome, output = result.result.outcome, result.result.output
    # init runs as root and the agent as the sandbox user, so the kill is refused.
    assert outcome == "exit_error", output
    assert "PermissionError" in output
    assert evolarium_containers(docker_client, RUN_ID) == []
