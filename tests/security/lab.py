"""A small evolarium run for attack tests: a real archive, a gateway and tasks, all in tmp_path.

Hostile programs are built from the probe functions in ``probes.py``. Each probe returns a
JSON report. An agent prints the report to its transcript and saves it in /workspace. A
scoring-phase attack raises it from the workspace module, so it lands in the test output.
"""

import inspect
import io
import json
import re
import tarfile
import uuid
from collections.abc import Callable
from pathlib import Path

import docker

from evolarium.archive import Archive, Evaluation, Run
from evolarium.evolve.evaluation import Evaluator
from evolarium.llm.gateway import Gateway
from evolarium.llm.recording import archive_recorder
from evolarium.llm.router import ModelConfig, Router
from evolarium.sandbox import Limits
from evolarium.tasks.scorer import Score, close_scoring_pools, score_workspace
from evolarium.tasks.task import Task, load_task
from tests.agentdirs import add_agent

REPORT_PREFIX = "PROBE-REPORT "
REPORT_PATTERN = re.compile(r"PROBE-REPORT (\{.*\})\s*$", re.MULTILINE)

AGENT_LIMITS = Limits(timeout_s=60, memory_mb=512, pids=128, workspace_mb=16, tmp_mb=16)
"""Agent-phase limits of most attacks. A task's agent_seconds can lower the timeout."""

SCORING_LIMITS = Limits(timeout_s=20, memory_mb=256, pids=64, workspace_mb=16, tmp_mb=16)
"""Limits of scoring containers that tests start through score_workspace directly."""

BUGGY_CALC = "def add(a, b):\n    return a - b\n"
FIXED_CALC = "def add(a, b):\n    return a + b\n"

CALC_TESTS = '''\
"""Hidden tests of the calc task. {marker}"""

import calc


def test_add_small():
    assert calc.add(1, 2) == 3


def test_add_negative():
    assert calc.add(-4, 1) == -3
'''


def write_files(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def write_task(
    root: Path,
    *,
    task_id: str,
    prompt: str,
    workspace: dict[str, str],
    tests: dict[str, str],
    reference: dict[str, str] | None = None,
    expected_tests: int | None = None,
    agent_seconds: float = 60,
    test_seconds: float = 20,
) -> Task:
    """Write a task directory below ``root`` and load it the way a suite does."""
    root.mkdir(parents=True)
    expected = f"expected_tests = {expected_tests}\n" if expected_tests else ""
    (root / "task.toml").write_text(
        f'id = "{task_id}"\n'
        f'title = "{task_id}"\n'
        'language = "python"\n'
        "\n[test]\n"
        'command = "pytest"\n'
        f"{expected}"
        "\n[timeouts]\n"
        f"agent_seconds = {agent_seconds}\n"
        f"test_seconds = {test_seconds}\n"
    )
    (root / "prompt.md").write_text(prompt)
    (root / "workspace").mkdir()
    write_files(root / "workspace", workspace)
    (root / "tests").mkdir()
    write_files(root / "tests", tests)
    if reference is not None:
        (root / "reference").mkdir()
        write_files(root / "reference", reference)
    return load_task(root)


def calc_task(
    root: Path,
    *,
    marker: str = "",
    prompt: str = "Fix add() in calc.py.\n",
    agent_seconds: float = 60,
    test_seconds: float = 20,
) -> Task:
    """Write a one-function bug-fix task whose hidden test file contains ``marker``."""
    return write_task(
        root,
        task_id=f"calc-{root.name}".lower(),
        prompt=prompt,
        workspace={"calc.py": BUGGY_CALC},
        tests={"test_calc.py": CALC_TESTS.format(marker=marker)},
        reference={"calc.py": FIXED_CALC},
        expected_tests=2,
        agent_seconds=agent_seconds,
        test_seconds=test_seconds,
    )


def call_source(probe: Callable, args: tuple) -> tuple[str, str]:
    """Return the probe's source and an expression that calls it with ``args``."""
    return inspect.getsource(probe), f"{probe.__name__}(*{args!r})"


def agent_program(
    probe: Callable | None = None,
    args: tuple = (),
    *,
    files: dict[str, str] | None = None,
) -> str:
    """Build an agent.py that writes ``files`` to /workspace, then runs ``probe(*args)``.

    The report is printed to the transcript and saved as /workspace/report.json.
    """
    lines = ["import json", ""]
    for name, content in (files or {}).items():
        lines.append(f"with open('/workspace/{name}', 'w') as stream:")
        lines.append(f"    stream.write({content!r})")
    if probe is not None:
        source, call = call_source(probe, args)
        lines += [
            "",
            source,
            f"report = {call}",
            f"print({REPORT_PREFIX!r} + json.dumps(report), flush=True)",
            "with open('/workspace/report.json', 'w') as stream:",
            "    json.dump(report, stream)",
        ]
    return "\n".join(lines) + "\n"


def scoring_module(probe: Callable, args: tuple = ()) -> str:
    """Build a calc.py whose add() runs ``probe(*args)`` in the hidden tests and raises its report.

    pytest prints the exception message in the failure's traceback, so the report lands
    in the scoring output.
    """
    source, call = call_source(probe, args)
    return (
        "import json\n\n"
        f"{source}\n\n"
        "def add(a, b):\n"
        f"    raise RuntimeError({REPORT_PREFIX!r} + json.dumps({call}))\n"
    )


def scoring_attack(code: str) -> str:
    """Build a calc.py whose add() runs ``code`` (a function body) inside the hidden tests."""
    body = "\n".join("    " + line for line in code.strip().splitlines())
    return f"def add(a, b):\n{body}\n"


def read_report(text: str) -> dict | None:
    """Return the last complete probe report in a transcript or a test output, if any."""
    for match in reversed(REPORT_PATTERN.findall(text)):
        try:
            return json.loads(match)
        except ValueError:
            continue
    return None


def failed(report: dict, name: str) -> bool:
    """Return True if the probe's attempt ``name`` raised an error, as it should."""
    return str(report.get(name, "")).startswith("failed")


def snapshot_files(archive: Archive, code_hash: str) -> dict[str, bytes]:
    """Return the files of a stored workspace snapshot by relative path."""
    data = archive.snapshot(code_hash)
    files = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar:
            if member.isreg():
                files[member.name] = tar.extractfile(member).read()
    return files


class Lab:
    """One run of evaluations against tasks in a temporary directory.

    The gateway points at the loopback fake provider with ``api_key``, and records its
    calls in the run's archive, like a real run.
    """

    def __init__(
        self,
        client: docker.DockerClient,
        image: str,
        root: Path,
        *,
        api_key: str,
        provider_url: str,
    ) -> None:
        self.client = client
        self.image = image
        self.root = root
        self.run_id = f"sec-{uuid.uuid4().hex[:10]}"
        self.archive_path = root / "run" / "archive.db"
        self.archive = Archive.create(self.archive_path)
        self.archive.add(
            Run(
                id=self.run_id,
                suite="security",
                model="openai/fake",
                selection="random",
                config_json="{}",
            )
        )
        config = ModelConfig(model="openai/fake", api_base=provider_url, api_key=api_key)
        self.gateway = Gateway(Router(config), recorder=archive_recorder(self.archive))

    def add_agent(self, code: str, name: str = "hostile") -> tuple[str, Path]:
        """Write an agent directory with ``code`` as agent.py and add its row to the archive."""
        return add_agent(self.archive, self.run_id, self.root, code, name)

    def evaluate(
        self, code: str, task: Task, *, limits: Limits = AGENT_LIMITS, name: str = "hostile"
    ) -> Evaluation:
        """Evaluate an agent whose agent.py is ``code``; return the row as stored in the archive."""
        agent_id, agent_dir = self.add_agent(code, name)
        evaluator = Evaluator(
            client=self.client,
            image=self.image,
            gateway=self.gateway,
            archive=self.archive,
            run_id=self.run_id,
            limits=limits,
            max_steps=1,
        )
        row = evaluator.evaluate(agent_id, agent_dir, task, "minibatch")
        return self.stored(row.id)

    def stored(self, evaluation_id: str) -> Evaluation:
        """Read an evaluation back from a fresh connection to the archive file."""
        archive = Archive.open(self.archive_path)
        try:
            rows = [row for row in archive.evaluations(self.run_id) if row.id == evaluation_id]
        finally:
            archive.close()
        assert len(rows) == 1, f"evaluation {evaluation_id} is not in the archive"
        return rows[0]

    def workspace_files(self, evaluation: Evaluation) -> dict[str, bytes]:
        """Return the stored final workspace of an evaluation."""
        assert evaluation.workspace_hash, f"evaluation {evaluation.id} stored no workspace"
        return snapshot_files(self.archive, evaluation.workspace_hash)

    def score(
        self,
        task: Task,
        files: dict[str, str | bytes],
        limits: Limits,
        *,
        links: dict[str, Path] | None = None,
    ) -> Score:
        """Score a workspace made of ``files`` and symlinks ``links`` with the hidden tests."""
        workspace = self.root / "scored" / uuid.uuid4().hex[:8]
        workspace.mkdir(parents=True)
        write_files(workspace, files)
        for name, target in (links or {}).items():
            (workspace / name).symlink_to(target)
        return score_workspace(
            self.client, self.image, task, workspace, run_id=self.run_id, limits=limits
        )

    def archive_bytes(self) -> bytes:
        """Return the raw bytes of the archive file and its write-ahead log."""
        data = b""
        for suffix in ("", "-wal"):
            path = self.archive_path.with_name(self.archive_path.name + suffix)
            if path.exists():
                data += path.read_bytes()
        return data

    def close(self) -> None:
        """Remove the run's warm scoring containers and close the archive."""
        close_scoring_pools(self.run_id)
        self.archive.close()

    def check_archive_readable(self) -> int:
        """Reopen the archive file and read every evaluation of the run; return how many."""
        archive = Archive.open(self.archive_path)
        try:
            rows = archive.evaluations(self.run_id)
            for row in rows:
                assert row.outcome, f"evaluation {row.id} has no outcome"
                if row.workspace_hash:
                    snapshot_files(archive, row.workspace_hash)
        finally:
            archive.close()
        return len(rows)
