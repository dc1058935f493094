"""Hostile final workspaces: file names that are not UTF-8, files the host cannot copy out,
and processes or files left behind for the next scoring container.

The agents and the workspace code are hostile programs (see attacks.py and probes.py).
The model is the loopback fake provider, and no model calls are made.
"""

import io
import os
import tarfile
import uuid

import pytest

from evolarium.archive import Archive
from evolarium.sandbox.container import MAX_COPY_DEPTH
from tests.security import probes
from tests.security.attacks import NON_UTF8_NAME
from tests.security.lab import (
    FIXED_CALC,
    SCORING_LIMITS,
    calc_task,
    read_report,
    scoring_module,
)

pytestmark = pytest.mark.docker

UNREADABLE_WORKSPACE = """\
import os
os.makedirs("/workspace/locked/inner")
with open("/workspace/locked/inner/data.py", "w") as stream:
    stream.write("VALUE = 1\\n")
os.chmod("/workspace/locked/inner", 0)
os.chmod("/workspace/calc.py", 0)
print("after-the-chmod")
"""


# 1,500 nested directories: walking them on the host with os.walk or shutil.rmtree, which
# recurse in Python 3.11, would raise RecursionError and end the whole run.
DEEP_WORKSPACE = """\
import os
os.chdir("/workspace")
for _ in range(1500):
    os.mkdir("d")
    os.chdir("d")
with open("bottom.py", "w") as stream:
    stream.write("VALUE = 1\\n")
print("after-the-descent")
"""


def evaluated_in_full(lab, tmp_path, code: str, marker: str):
    """Evaluate a hostile agent that prints ``marker``; check that it ran and was scored."""
    evaluation = lab.evaluate(code, calc_task(tmp_path / "task"))

    assert evaluation.outcome == "ok", evaluation.transcript
    assert marker in evaluation.transcript
    assert evaluation.tests_total == 2
    return evaluation


def test_agent_deep_directory(lab, tmp_path):
    evaluation = evaluated_in_full(lab, tmp_path, DEEP_WORKSPACE, "after-the-descent")

    # The workspace is stored without the levels below MAX_COPY_DEPTH.
    archive = Archive.open(lab.archive_path)
    try:
        snapshot = archive.snapshot(evaluation.workspace_hash)
    finally:
        archive.close()
    with tarfile.open(fileobj=io.BytesIO(snapshot), mode="r:gz") as tar:
        names = tar.getnames()
    assert "calc.py" in names
    assert max(name.count("/") for name in names) <= MAX_COPY_DEPTH


def test_agent_non_utf8_file_name(lab, tmp_path):
    evaluated_in_full(lab, tmp_path, NON_UTF8_NAME, "after-the-file")


def test_scoring_non_utf8_file_name(lab, tmp_path):
    task = calc_task(tmp_path / "task")
    name = os.fsdecode(b"\xff\xfe-name.py")

    score = lab.score(task, {"calc.py": FIXED_CALC, name: b"VALUE = 1\n"}, SCORING_LIMITS)

    assert score.outcome == "ok", score.output
    assert score.score == 1.0


def test_agent_unreadable_workspace(lab, tmp_path):
    # The agent owns its workspace and may lock its files, which is its failure, not Docker's.
    evaluated_in_full(lab, tmp_path, UNREADABLE_WORKSPACE, "after-the-chmod")


def test_scoring_leaves_nothing_behind(lab, tmp_path):
    marker = f"leftover-{uuid.uuid4().hex}"
    task = calc_task(tmp_path / "task")

    planted = lab.score(
        task, {"calc.py": scoring_module(probes.leftover_probe, (marker, True))}, SCORING_LIMITS
    )
    later = lab.score(
        task, {"calc.py": scoring_module(probes.leftover_probe, (marker, False))}, SCORING_LIMITS
    )

    first = read_report(planted.output)
    assert first is not None, planted.output
    assert first["processes"], "the probe does not find its own process"
    assert len(first["files"]) == 2
    second = read_report(later.output)
    assert second is not None, later.output
    assert second["processes"] == []
    assert second["files"] == []
