"""Check that a suite's tasks score honestly, and remember the flaky ones.

For each task, the check validates the task files, scores the reference
solution (the workspace with reference/ laid over it) several times, and scores
the starting workspace once. A task is ok when the reference scores 1.0 on
every run and the starting workspace scores below 1.0.

Flaky tasks are stored in a JSON file under the cache directory, keyed by a
hash of the task's files, so ``is_flaky`` can be asked about a task later, by
another process.
"""

import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from evolarium.archive.snapshot import hash_dir
from evolarium.errors import TaskError
from evolarium.paths import cache_dir
from evolarium.tasks.scorer import Score
from evolarium.tasks.suite import InvalidTask, Suite
from evolarium.tasks.task import REFERENCE_DIR, TASK_FILE, TESTS_DIR, WORKSPACE_DIR, Task, load_task

log = logging.getLogger(__name__)

# A function that scores the workspace at the given path with the task's hidden tests.
ScoreFunction = Callable[[Task, Path], Score]

VERDICTS = ("ok", "flaky", "broken", "invalid", "error")
FLAKY_FILE = "flaky.json"
# Outcomes that show a failure of the sandbox, not of the task.
SANDBOX_OUTCOMES = {"sandbox_error"}


@dataclass(frozen=True)
class TaskCheck:
    """The result of checking one task.

    ``verdict`` is ok, flaky (the reference passed on some runs only), broken
    (the reference never passed, or the starting workspace already passes),
    invalid (the task files failed validation) or error (the sandbox failed, so
    the task could not be judged).
    """

    task_id: str
    schema_error: str | None
    reference_passes: int
    runs: int
    start_score: float | None
    verdict: str
    detail: str
    output: str = ""


def docker_score_function(client, image: str, run_id: str | None = None) -> ScoreFunction:
    """Return a ScoreFunction that scores in the sandbox with ``score_workspace``."""
    from evolarium.tasks.scorer import score_workspace

    run_id = run_id or f"check-{secrets.token_hex(4)}"

    def score(task: Task, workspace: Path) -> Score:
        return score_workspace(client, image, task, workspace, run_id=run_id)

    return score


def check_suite(
    suite: Suite,
    score: ScoreFunction,
    runs: int = 3,
    *,
    on_start: Callable[[Task, int], None] | None = None,
) -> list[TaskCheck]:
    """Check every task of ``suite``, record the flaky ones, and return one result per task.

    The suite's invalid tasks, skipped while loading it, come first as invalid results.
    ``on_start`` is called with each task and its index before the task is checked.
    """
    if runs < 1:
        raise TaskError(f"runs must be at least 1, got {runs}")
    results = [invalid_result(invalid) for invalid in suite.invalid]
    for index, task in enumerate(suite.tasks):
        if on_start:
            on_start(task, index)
        result = check_task(task, score, runs)
        if result.verdict == "flaky":
            record_flaky(task, result)
        results.append(result)
    return results


def invalid_result(invalid: InvalidTask) -> TaskCheck:
    return TaskCheck(invalid.source.name, invalid.error, 0, 0, None, "invalid", invalid.error)


def check_task(task: Task, score: ScoreFunction, runs: int) -> TaskCheck:
    """Validate one task, score its reference ``runs`` times and its starting workspace once."""
    schema_error = validate_task(task)
    if schema_error:
        return TaskCheck(task.id, schema_error, 0, runs, None, "invalid", schema_error)

    with reference_workspace(task) as workspace:
        reference_scores = [score(task, workspace) for _ in range(runs)]
    start = score(task, task.workspace)
    return _judge(task, reference_scores, start)


def validate_task(task: Task) -> str | None:
    """Return the validation error of the task's files, or None when they are valid.

    The task is loaded again from disk, and it must have a non-empty reference/.
    """
    try:
        load_task(task.root)
    except TaskError as error:
        return str(error)
    if task.reference is None:
        return (
            f"{task.root / REFERENCE_DIR}: missing; add the files that solve the task, laid out "
            f"as in {WORKSPACE_DIR}/"
        )
    if not any(path.is_file() for path in task.reference.rglob("*")):
        return f"{task.reference}: contains no files; add the files that solve the task"
    return None


@contextmanager
def reference_workspace(task: Task) -> Iterator[Path]:
    """Yield a temporary copy of the starting workspace with reference/ laid over it."""
    with tempfile.TemporaryDirectory(prefix="evolarium-check-") as temp:
        workspace = Path(temp) / "workspace"
        shutil.copytree(task.workspace, workspace, symlinks=False)
        shutil.copytree(task.reference, workspace, symlinks=False, dirs_exist_ok=True)
        yield workspace


def _judge(task: Task, reference_scores: list[Score], start: Score) -> TaskCheck:
    runs = len(reference_scores)
    passes = sum(1 for result in reference_scores if _passed(result))
    failed = [result for result in reference_scores if not _passed(result)]
    sandbox_failures = [r for r in [*reference_scores, start] if r.outcome in SANDBOX_OUTCOMES]

    def result(verdict: str, detail: str, output: str = "") -> TaskCheck:
        return TaskCheck(task.id, None, passes, runs, start.score, verdict, detail, output)

    if sandbox_failures:
        first = sandbox_failures[0]
        return result("error", f"the sandbox failed: {first.output.strip()[:200]}", first.output)
    if passes == 0:
        return result(
            "broken", f"the reference never scored 1.0: {_describe(failed)}", _first_output(failed)
        )
    if passes < runs:
        detail = (
            f"the reference scored 1.0 on {passes} of {runs} runs; failures: {_describe(failed)}"
        )
        return result("flaky", detail, _first_output(failed))
    if start.score >= 1.0:
        return result("broken", "the starting workspace already scores 1.0", start.output)
    if task.expected_tests is not None and reference_scores[0].total != task.expected_tests:
        detail = (
            f"[test] expected_tests is {task.expected_tests} in {TASK_FILE}, but the reference "
            f"ran {reference_scores[0].total} tests; set expected_tests to the real count"
        )
        return result("broken", detail)
    return result("ok", "")


def _passed(score: Score) -> bool:
    return score.outcome == "ok" and score.score >= 1.0


def _describe(failed: list[Score]) -> str:
    return ", ".join(f"{s.outcome} {s.passed}/{s.total}" for s in failed)


def _first_output(failed: list[Score]) -> str:
    return failed[0].output if failed else ""


def task_hash(task: Task) -> str:
    """Return a sha256 hex digest of the files that decide a reference run.

    The hash covers task.toml, workspace/, tests/ and reference/, because the
    reference run is the workspace with reference/ laid over it. The prompt is
    left out: it does not change how the reference scores.
    """
    digest = hashlib.sha256()
    digest.update(b"task.toml\0")
    digest.update(hashlib.sha256((task.root / TASK_FILE).read_bytes()).digest())
    for name in (WORKSPACE_DIR, TESTS_DIR, REFERENCE_DIR):
        path = task.root / name
        digest.update(f"{name}\0".encode())
        digest.update(hash_dir(path).encode() if path.is_dir() else b"-")
    return digest.hexdigest()


def flaky_file() -> Path:
    return cache_dir() / "flaky" / FLAKY_FILE


def is_flaky(task: Task) -> bool:
    """Return whether ``tasks check`` found this task, with these exact files, flaky.

    A task stays flaky until its files change, even when a later check passes
    on every run, because a flaky task can pass several runs by chance. Delete
    its entry from the file that ``flaky_file`` returns to clear it.
    """
    return task_hash(task) in _read_flaky(flaky_file())


def record_flaky(task: Task, result: TaskCheck) -> None:
    """Add the task to the flaky file, keyed by its content hash."""
    path = flaky_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {
        "task_id": task.id,
        "root": str(task.root),
        "reference_passes": result.reference_passes,
        "runs": result.runs,
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with _locked(path):
        records = _read_flaky(path)
        records[task_hash(task)] = entry
        _write_atomically(path, json.dumps(records, indent=2, sort_keys=True) + "\n")
    log.info("recorded task %s as flaky in %s", task.id, path)


def _read_flaky(path: Path) -> dict:
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise TaskError(
            f"{path}: invalid JSON ({error}); delete the file and run evolarium tasks check again"
        ) from error
    if not isinstance(records, dict):
        raise TaskError(
            f"{path}: must contain a JSON object; delete the file and run evolarium tasks check "
            f"again"
        )
    return records


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    # Two checks that record at the same time would otherwise lose one entry.
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_atomically(path: Path, text: str) -> None:
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.replace(temp, path)
