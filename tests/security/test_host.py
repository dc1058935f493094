"""Attacks on the host from sandboxes: host files, writes outside the workspace, the Docker
socket, the hidden tests, and privilege escalation through setuid binaries, /proc and /sys.

The agents and the workspace code are hostile probes (see probes.py). The model is the
loopback fake provider, and no model calls are made.
"""

import uuid
from pathlib import Path

import pytest

from evolarium.archive.snapshot import hash_dir
from evolarium.tasks import scorer
from tests.security import probes
from tests.security.lab import (
    SCORING_LIMITS,
    agent_program,
    calc_task,
    failed,
    read_report,
    scoring_attack,
    scoring_module,
)

pytestmark = pytest.mark.docker

# Directories outside the workspace that every sandbox mounts. None may be writable.
READ_ONLY_DIRS = [
    "/",
    "/usr",
    "/usr/local/bin",
    "/usr/lib/python3",
    "/etc",
    "/opt",
    "/var/tmp",
    "/home",
    "/root",
    "/run",
]
AGENT_READ_ONLY_DIRS = ["/agent", "/task", "/input/workspace", "/run/evolarium"]
SCORING_READ_ONLY_DIRS = ["/opt/evolarium"]
# Host directories that would receive a file if a sandbox could write to the host's root.
HOST_DIRS = ["/", "/usr", "/usr/local/bin", "/etc", "/opt", "/var/tmp", "/home", "/root", "/run"]


@pytest.fixture()
def host_secret(tmp_path) -> Path:
    """A file on the host, in a directory that no sandbox mounts."""
    secret = tmp_path / "host-only" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text(f"host-secret-{uuid.uuid4().hex}\n")
    return secret


def check_host_report(report: dict | None, where: str, read_only_dirs: list[str]) -> None:
    assert report is not None, f"the {where} probe wrote no report"
    for name in ("read_secret", "list_secret_dir", "read_shadow", "replace_python"):
        assert failed(report, name), f"{where}: {name} {report[name]}"

    writes = report["write"]
    assert writes["/workspace"].startswith("succeeded"), f"{where}: the control write failed"
    for directory in read_only_dirs:
        assert failed(writes, directory), f"{where}: write to {directory}: {writes[directory]}"

    for path, result in report["docker"].items():
        assert result.startswith("failed"), f"{where}: {path}: {result}"


def check_host_untouched(marker_name: str, extra_dirs: list[Path]) -> None:
    for directory in [*map(Path, HOST_DIRS), *extra_dirs]:
        assert not (directory / marker_name).exists(), f"a sandbox wrote {directory}"


def test_host_files_agent_and_scoring(lab, host_secret, tmp_path):
    marker_name = f"escape-{uuid.uuid4().hex}"
    agent_dirs = ["/workspace", *READ_ONLY_DIRS, *AGENT_READ_ONLY_DIRS, str(tmp_path)]
    scoring_dirs = ["/workspace", *READ_ONLY_DIRS, *SCORING_READ_ONLY_DIRS, str(tmp_path)]
    module = scoring_module(probes.host_probe, (str(host_secret), marker_name, scoring_dirs))
    code = agent_program(
        probes.host_probe,
        (str(host_secret), marker_name, agent_dirs),
        files={"calc.py": module},
    )
    task = calc_task(tmp_path / "task")
    task_digest = hash_dir(task.root)

    evaluation = lab.evaluate(code, task)

    assert evaluation.outcome == "ok", evaluation.transcript
    agent_report = read_report(evaluation.transcript)
    check_host_report(agent_report, "agent", [*READ_ONLY_DIRS, *AGENT_READ_ONLY_DIRS])
    assert agent_report["sockets"] == ["/run/evolarium/llm.sock"]
    scoring_report = read_report(evaluation.test_output)
    check_host_report(scoring_report, "scoring", [*READ_ONLY_DIRS, *SCORING_READ_ONLY_DIRS])
    assert scoring_report["sockets"] == []

    secret = host_secret.read_text().strip()
    assert secret not in evaluation.transcript
    assert secret not in evaluation.test_output
    for name, data in lab.workspace_files(evaluation).items():
        assert secret.encode() not in data, name
    check_host_untouched(marker_name, [tmp_path])
    assert hash_dir(task.root) == task_digest


def test_host_files_direct_scoring(lab, host_secret, tmp_path):
    marker_name = f"escape-{uuid.uuid4().hex}"
    write_dirs = ["/workspace", *READ_ONLY_DIRS, *SCORING_READ_ONLY_DIRS, str(tmp_path)]
    module = scoring_module(probes.host_probe, (str(host_secret), marker_name, write_dirs))
    task = calc_task(tmp_path / "task")

    score = lab.score(task, {"calc.py": module}, SCORING_LIMITS)
    harness_dir = scorer._harness_files()

    assert score.outcome == "ok", score.output
    assert score.score == 0.0
    report = read_report(score.output)
    check_host_report(report, "scoring", [*READ_ONLY_DIRS, *SCORING_READ_ONLY_DIRS])
    assert report["sockets"] == []
    assert host_secret.read_text().strip() not in score.output
    check_host_untouched(marker_name, [tmp_path, harness_dir])
    assert sorted(path.name for path in harness_dir.iterdir()) == [
        "harness.py",
        "pytest.ini",
        "warmup",
    ]


def test_workspace_symlink_not_followed(lab, host_secret, tmp_path):
    # The workspace handed to the scorer links to host paths, which must not be packed.
    task = calc_task(tmp_path / "task")
    body = 'with open("/workspace/leak.txt") as stream:\n    return stream.read()\n'

    score = lab.score(
        task,
        {"calc.py": scoring_attack(body)},
        SCORING_LIMITS,
        links={"leak.txt": host_secret, "host-dir": host_secret.parent},
    )

    assert score.outcome == "ok", score.output
    assert score.score == 0.0
    assert "FileNotFoundError" in score.output
    assert host_secret.read_text().strip() not in score.output


def test_hidden_tests_invisible_to_agent(lab, tmp_path):
    hidden = f"hidden-tests-marker-{uuid.uuid4().hex}"
    control = f"prompt-marker-{uuid.uuid4().hex}"
    task = calc_task(tmp_path / "task", marker=hidden, prompt=f"Fix add() in calc.py. {control}\n")
    needles = {"hidden": hidden.encode().hex(), "control": control.encode().hex()}
    code = agent_program(probes.search_probe, (needles, 4 * 1024 * 1024))

    evaluation = lab.evaluate(code, task)

    assert evaluation.outcome == "ok", evaluation.transcript
    report = read_report(evaluation.transcript)
    assert report is not None, evaluation.transcript
    assert "/task/prompt.md" in report["found"]["control"], "the search does not work"
    assert report["scanned"] > 1000
    assert report["found"]["hidden"] == []
    assert hidden not in evaluation.transcript
    for name, data in lab.workspace_files(evaluation).items():
        assert hidden.encode() not in data, name
    # The hidden tests ran, and both failed on the unfixed workspace.
    assert evaluation.tests_total == 2
    assert evaluation.tests_passed == 0


def check_escalation_report(report: dict | None, where: str) -> None:
    assert report is not None, f"the {where} probe wrote no report"
    assert report["uid"] == 1000
    assert report["euid"] == 1000
    for moment in ("before", "after"):
        status = report[moment]
        assert status["Uid"].split() == ["1000"] * 4, f"{where} {moment}: {status}"
        assert status["Gid"].split() == ["1000"] * 4, f"{where} {moment}: {status}"
        for capability_set in ("CapEff", "CapPrm", "CapAmb"):
            assert int(status[capability_set], 16) == 0, f"{where} {moment}: {status}"
        assert status["NoNewPrivs"] == "1", f"{where} {moment}: {status}"

    for path, result in report["write"].items():
        assert result.startswith("failed"), f"{where}: write {path}: {result}"
    for name, result in report["run"].items():
        assert result["exit_code"] != 0, f"{where}: {name}: {result}"
    assert not report["run"]["su"]["output"].strip().endswith("0"), report["run"]["su"]
    for name in ("setuid_root", "signal_init", "ptrace_init"):
        assert failed(report, name), f"{where}: {name} {report[name]}"


def test_escalation_blocked_agent_and_scoring(lab, tmp_path):
    code = agent_program(
        probes.escalation_probe, files={"calc.py": scoring_module(probes.escalation_probe)}
    )
    task = calc_task(tmp_path / "task")

    evaluation = lab.evaluate(code, task)

    assert evaluation.outcome == "ok", evaluation.transcript
    check_escalation_report(read_report(evaluation.transcript), "agent")
    check_escalation_report(read_report(evaluation.test_output), "scoring")


def test_escalation_blocked_direct_scoring(lab, tmp_path):
    task = calc_task(tmp_path / "task")

    score = lab.score(task, {"calc.py": scoring_module(probes.escalation_probe)}, SCORING_LIMITS)

    assert score.outcome == "ok", score.output
    check_escalation_report(read_report(score.output), "scoring")
