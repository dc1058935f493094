"""Run an agent on a prompt and a workspace inside a sandbox."""

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import docker

from evolarium.agents import contract
from evolarium.archive.snapshot import IGNORED_NAMES, IGNORED_SUFFIXES
from evolarium.llm.gateway import CallContext, Gateway
from evolarium.sandbox import ExecResult, Limits, Mount, open_sandbox
from evolarium.sandbox.container import DirectoryTooLarge
from evolarium.sandbox.staging import copy_inside, share_read_only

log = logging.getLogger(__name__)

TRANSCRIPT_MAX_CHARS = 64 * 1024
MB = 1024 * 1024


@dataclass
class Rollout:
    """The result of an agent run and its final workspace."""

    result: ExecResult
    workspace: Path
    """Host directory with the final workspace; removed when the rollout context ends."""


@contextmanager
def run_agent(
    client: docker.DockerClient,
    image: str,
    gateway: Gateway,
    *,
    agent_dir: Path,
    prompt: str,
    workspace: Path,
    context: CallContext,
    limits: Limits,
    max_steps: int,
    purpose: str = "agent",
) -> Iterator[Rollout]:
    """Run ``agent_dir/agent.py`` on ``prompt`` with a copy of ``workspace``.

    The agent reaches the model only through a gateway socket made for this
    rollout, so every call is recorded with ``context``.
    """
    with tempfile.TemporaryDirectory(prefix="evo-") as staging_dir:
        staging = Path(staging_dir)
        _stage(staging, agent_dir, prompt, workspace, limits)
        socket_path = staging / "gw" / contract.SOCKET_NAME

        with gateway.serve(socket_path, context):
            mounts = [
                Mount(staging / "agent", contract.AGENT_DIR),
                Mount(staging / "task", contract.TASK_DIR),
                Mount(staging / "input", "/input/workspace"),
                Mount(socket_path.parent, contract.SOCKET_DIR),
            ]
            env = {
                contract.SOCKET_ENV: f"{contract.SOCKET_DIR}/{contract.SOCKET_NAME}",
                contract.MODEL_ENV: contract.DEFAULT_MODEL_NAME,
                contract.MAX_STEPS_ENV: str(max_steps),
            }
            with open_sandbox(
                client,
                image,
                run_id=context.run_id or "none",
                purpose=purpose,
                mounts=mounts,
                limits=limits,
                evaluation_id=context.evaluation_id or "none",
            ) as sandbox:
                sandbox.copy_in("/input/workspace", contract.WORKSPACE_DIR)
                result = sandbox.exec(
                    ["python3", f"{contract.AGENT_DIR}/{contract.ENTRY_POINT}"],
                    env=env,
                    output_bytes=TRANSCRIPT_MAX_CHARS,
                )
                final = staging / "final"
                try:
                    sandbox.copy_out(
                        contract.WORKSPACE_DIR, final, max_bytes=limits.workspace_mb * MB * 2
                    )
                except DirectoryTooLarge as error:
                    # A sparse file can look far larger than the tmpfs that contains it.
                    log.info("final workspace not copied: %s", error)
                    final.mkdir(exist_ok=True)
                    result = replace(result, outcome="disk", output=f"{result.output}\n{error}")

        yield Rollout(result=result, workspace=final)


def _stage(staging: Path, agent_dir: Path, prompt: str, workspace: Path, limits: Limits) -> None:
    max_bytes = limits.workspace_mb * 1024 * 1024
    copy_inside(agent_dir, staging / "agent", max_bytes=max_bytes, ignore=_ignore_caches)
    (staging / "task").mkdir()
    (staging / "task" / contract.PROMPT_FILE).write_text(prompt, encoding="utf-8")
    copy_inside(workspace, staging / "input", max_bytes=max_bytes, ignore=_ignore_caches)
    share_read_only(staging)


def _ignore_caches(_directory: str, names: list[str]) -> set[str]:
    return {
        name
        for name in names
        if name in IGNORED_NAMES or any(name.endswith(suffix) for suffix in IGNORED_SUFFIXES)
    }
