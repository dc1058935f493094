"""A small evolarium run for the scoring-integrity tests: an archive, a gateway and tasks.

Agents are evaluated by the real Evaluator and workspaces are scored by the real scorer,
all in one run whose warm scoring containers are shared by the tests of a module.
"""

import shutil
import uuid
from dataclasses import replace
from pathlib import Path

from evolarium.archive import Archive, Evaluation, Run
from evolarium.evolve.evaluation import Evaluator
from evolarium.llm.gateway import Gateway
from evolarium.llm.recording import archive_recorder
from evolarium.llm.router import ModelConfig, Router
from evolarium.sandbox import Limits
from evolarium.tasks.scorer import Score, close_scoring_pools, score_workspace
from evolarium.tasks.task import Task, load_task
from tests.agentdirs import add_agent

LIMITS = Limits(timeout_s=60, memory_mb=512, pids=128, workspace_mb=16, tmp_mb=16)
"""Limits of agent and scoring containers; a task's timeouts lower ``timeout_s``."""


def write_files(root: Path, files: dict[str, str | None]) -> None:
    """Write ``files`` below ``root`` by relative path; a ``None`` content deletes the file."""
    for name, content in files.items():
        path = root / name
        if content is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def write_task(
    root: Path,
    *,
    workspace: dict[str, str],
    tests: dict[str, str],
    reference: dict[str, str] | None = None,
    expected_tests: int | None = None,
) -> Task:
    """Write a task directory named after ``root`` and load it the way a suite does."""
    root.mkdir(parents=True)
    expected = f"expected_tests = {expected_tests}\n" if expected_tests is not None else ""
    (root / "task.toml").write_text(
        f'id = "{root.name}"\n'
        f'title = "{root.name}"\n'
        'language = "python"\n'
        "\n[test]\n"
        'command = "pytest"\n'
        f"{expected}"
        "\n[timeouts]\n"
        "agent_seconds = 60\n"
        "test_seconds = 30\n"
    )
    (root / "prompt.md").write_text("Make the hidden tests pass.\n")
    write_files(root / "workspace", workspace)
    write_files(root / "tests", tests)
    if reference is not None:
        write_files(root / "reference", reference)
    return load_task(root)


def agent_program(files: dict[str, str | None], *, run_visible_tests: bool = False) -> str:
    """Build an agent.py that writes ``files`` into /workspace and never calls the model."""
    lines = [
        "import os",
        "import subprocess",
        "",
        f"FILES = {files!r}",
        "",
        "for name, content in FILES.items():",
        "    path = os.path.join('/workspace', name)",
        "    if content is None:",
        "        os.remove(path)",
        "        continue",
        "    os.makedirs(os.path.dirname(path), exist_ok=True)",
        "    with open(path, 'w') as stream:",
        "        stream.write(content)",
        "print('wrote', sorted(FILES), flush=True)",
    ]
    if run_visible_tests:
        lines += [
            "command = ['python3', '-m', 'pytest', '-q', 'tests']",
            "subprocess.run(command, cwd='/workspace', check=True)",
        ]
    return "\n".join(lines) + "\n"


class Lab:
    """One run whose agents are evaluated by the real Evaluator and scored in real sandboxes."""

    def __init__(self, client, image: str, root: Path, provider_url: str) -> None:
        self.client = client
        self.image = image
        self.root = root
        self.run_id = f"integrity-{uuid.uuid4().hex[:10]}"
        self.archive_path = root / "archive.db"
        self.archive = Archive.create(self.archive_path)
        self.archive.add(
            Run(
                id=self.run_id,
                suite="integrity",
                model="openai/fake",
                selection="random",
                config_json="{}",
            )
        )
        config = ModelConfig(model="openai/fake", api_base=provider_url, api_key="test")
        gateway = Gateway(Router(config), recorder=archive_recorder(self.archive))
        self.evaluator = Evaluator(
            client=client,
            image=image,
            gateway=gateway,
            archive=self.archive,
            run_id=self.run_id,
            limits=LIMITS,
            max_steps=1,
        )

    def evaluate(self, program: str, task: Task) -> Evaluation:
        """Evaluate an agent whose agent.py is ``program``; return the row as stored."""
        agent_id, agent_dir = add_agent(self.archive, self.run_id, self.root, program)
        row = self.evaluator.evaluate(agent_id, agent_dir, task, "minibatch")
        return self.stored(row.id)

    def stored(self, evaluation_id: str) -> Evaluation:
        """Read an evaluation back through a new connection to the archive file."""
        archive = Archive.open(self.archive_path)
        try:
            rows = [row for row in archive.evaluations(self.run_id) if row.id == evaluation_id]
        finally:
            archive.close()
        assert len(rows) == 1, f"evaluation {evaluation_id} is not in the archive"
        return rows[0]

    def score(self, task: Task, files: dict[str, str | None]) -> Score:
        """Score the task's starting workspace with ``files`` written over it."""
        workspace = self.root / "scored" / uuid.uuid4().hex[:8]
        shutil.copytree(task.workspace, workspace)
        write_files(workspace, files)
        limits = replace(LIMITS, timeout_s=task.test_timeout_s)
        return score_workspace(
            self.client, self.image, task, workspace, run_id=self.run_id, limits=limits
        )

    def close(self) -> None:
        close_scoring_pools(self.run_id)
        self.archive.close()
