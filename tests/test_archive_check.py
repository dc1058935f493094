"""evolarium archive check: a clean archive passes, and each kind of damage is reported.

Archives are real SQLite files built with Archive, with real code snapshots. Damage is
written with the sqlite3 module, whose connections do not enforce foreign keys, as a bug or
a hand edit would leave it. The command runs as a subprocess, as a user runs it.
"""

import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

from evolarium.archive import Agent, Archive, Evaluation, ModelCall, Run
from evolarium.archive.snapshot import pack_dir
from evolarium.paths import runs_dir

RUN_ID = "r20250101-000000-c0de"
AGENTS = {
    # id: (parent, generation, status)
    "a0": (None, 0, "evaluated"),
    "a1": ("a0", 1, "evaluated"),
    "a2": ("a0", 1, "invalid"),
    "a3": ("a1", 2, "evaluated"),
}
TASKS = ("t1", "t2")


# Building archives


def write_snapshot(archive: Archive, root: Path, name: str, text: str) -> str:
    """Write a one-file directory, store its snapshot, and return the hash."""
    directory = root / name
    directory.mkdir(parents=True)
    (directory / "agent.py").write_text(text)
    code_hash, data = pack_dir(directory)
    archive.store_snapshot(code_hash, data)
    return code_hash


def build_archive(tmp_path: Path, *, status: str = "finished", pid: int | None = None) -> Path:
    """Write a clean run: four agents, two evaluations per evaluated agent, three calls."""
    path = runs_dir() / RUN_ID / "archive.db"
    archive = Archive.create(path)
    archive.add(
        Run(
            id=RUN_ID,
            status=status,
            suite="builtin",
            model="openai/fake",
            selection="score-child",
            config_json="{}",
            pid=pid,
        )
    )

    for agent_id, (parent, generation, agent_status) in AGENTS.items():
        code_hash = write_snapshot(archive, tmp_path / "code", agent_id, f"NAME = {agent_id!r}\n")
        archive.add(
            Agent(
                id=agent_id,
                run_id=RUN_ID,
                parent_id=parent,
                operator="seed" if parent is None else "self",
                generation=generation,
                status=agent_status,
                reason="does not compile" if agent_status == "invalid" else None,
                code_hash=code_hash,
            )
        )
        if agent_status == "evaluated":
            for task_id in TASKS:
                add_evaluation(archive, tmp_path, agent_id, task_id)

    archive.add(call(agent_id="a1", purpose="operator"))
    archive.add(call(agent_id="a1", evaluation_id="e-a1-t1", task_id="t1"))
    archive.add(call(agent_id="a3", evaluation_id="e-a3-t2", task_id="t2"))
    archive.close()
    return path


def add_evaluation(
    archive: Archive, tmp_path: Path, agent_id: str, task_id: str, **fields
) -> Evaluation:
    evaluation_id = fields.pop("id", f"e-{agent_id}-{task_id}")
    workspace = write_snapshot(
        archive, tmp_path / "workspaces", evaluation_id, f"ANSWER = {evaluation_id!r}\n"
    )
    values = {
        "id": evaluation_id,
        "run_id": RUN_ID,
        "agent_id": agent_id,
        "task_id": task_id,
        "stage": "full",
        "score": 0.5,
        "resolved": False,
        "outcome": "ok",
        "tests_passed": 2,
        "tests_total": 4,
        "duration_s": 1.0,
        "calls": 1,
        "tokens": 10,
        "transcript": f"transcript of {agent_id} on {task_id}",
        "test_output": "2 passed, 2 failed",
        "workspace_hash": workspace,
    }
    values.update(fields)
    row = Evaluation(**values)
    archive.add(row)
    return row


def call(*, agent_id: str | None, purpose: str = "agent", **fields) -> ModelCall:
    return ModelCall(
        run_id=RUN_ID,
        agent_id=agent_id,
        purpose=purpose,
        model="openai/fake",
        request_json="{}",
        response_json="{}",
        outcome="ok",
        **fields,
    )


def damage(path: Path, statement: str, parameters: tuple = ()) -> None:
    connection = sqlite3.connect(path)
    connection.execute(statement, parameters)
    connection.commit()
    connection.close()


def code_hash_of(path: Path, agent_id: str) -> str:
    connection = sqlite3.connect(path)
    (code_hash,) = connection.execute(
        "SELECT code_hash FROM agent WHERE id = ?", (agent_id,)
    ).fetchone()
    connection.close()
    return code_hash


def gzip_tar(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# Running the command


def evolarium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evolarium.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def check(run_id: str = RUN_ID) -> tuple[int, list[dict]]:
    """Run `evolarium archive check --json` and return (exit code, findings)."""
    result = evolarium("archive", "check", run_id, "--json")
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def only(findings: list[dict], severity: str, check_name: str, subject: str) -> dict:
    """Return the single finding of this severity, check and subject."""
    matching = [
        finding
        for finding in findings
        if (finding["severity"], finding["check"], finding["subject"])
        == (severity, check_name, subject)
    ]
    assert len(matching) == 1, findings
    return matching[0]


# Clean archives


def test_check_clean_archive(tmp_path):
    build_archive(tmp_path)
    result = evolarium("archive", "check", RUN_ID)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no problems found" in result.stdout
    for name in ("lineage", "code", "scores", "calls", "run state"):
        assert name in result.stdout


def test_check_clean_json(tmp_path):
    build_archive(tmp_path)
    assert check() == (0, [])


def test_check_run_prefix(tmp_path):
    build_archive(tmp_path)
    assert check(RUN_ID[:12]) == (0, [])


def test_check_writes_nothing(tmp_path):
    path = build_archive(tmp_path)
    before = path.read_bytes()
    check()
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["archive.db"]


def test_check_live_run_unfinished_agent(tmp_path):
    path = build_archive(tmp_path, status="running", pid=os.getpid())
    damage(path, "UPDATE agent SET status = 'evaluating' WHERE id = 'a3'")
    assert check() == (0, [])


def test_check_replay_evaluation_not_duplicate(tmp_path):
    path = build_archive(tmp_path)
    archive = Archive.open(path)
    add_evaluation(archive, tmp_path, "a1", "t1", id="e-replay", stage="replay")
    archive.close()
    assert check() == (0, [])


# Bad input


def test_check_unknown_run(tmp_path):
    build_archive(tmp_path)
    result = evolarium("archive", "check", "r-nosuch")
    assert result.returncode == 2
    assert "r-nosuch" in result.stderr
    assert "run not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_not_a_database(tmp_path):
    path = runs_dir() / "r-garbage" / "archive.db"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not SQLite" * 100)
    result = evolarium("archive", "check", "r-garbage")
    assert result.returncode == 2
    assert str(path) in result.stderr
    assert "Traceback" not in result.stderr


# Lineage


def test_check_orphan(tmp_path):
    path = build_archive(tmp_path)
    damage(path, "UPDATE agent SET parent_id = 'ghost' WHERE id = 'a2'")
    code, findings = check()
    assert code == 1
    finding = only(findings, "error", "lineage", "a2")
    assert "ghost" in finding["message"]


def test_check_cycle(tmp_path):
    path = build_archive(tmp_path)
    damage(path, "UPDATE agent SET parent_id = 'a3' WHERE id = 'a1'")
    code, findings = check()
    assert code == 1
    cycles = [f for f in findings if "cycle" in f["message"]]
    assert len(cycles) == 1, findings
    assert cycles[0]["check"] == "lineage"
    assert cycles[0]["subject"] == "a1"
    assert "a1 -> a3 -> a1" in cycles[0]["message"]


def test_check_wrong_generation(tmp_path):
    path = build_archive(tmp_path)
    damage(path, "UPDATE agent SET generation = 5 WHERE id = 'a3'")
    code, findings = check()
    assert code == 1
    assert len(findings) == 1, findings
    finding = only(findings, "error", "lineage", "a3")
    assert "generation 5" in finding["message"]
    assert "2 was expected" in finding["message"]


def test_check_two_seeds(tmp_path):
    path = build_archive(tmp_path)
    damage(
        path,
        "UPDATE agent SET parent_id = NULL, generation = 0, operator = 'seed' WHERE id = 'a2'",
    )
    code, findings = check()
    assert code == 1
    finding = only(findings, "error", "lineage", "a2")
    assert "a0 is the run's seed" in finding["message"]


def test_check_no_seed(tmp_path):
    path = build_archive(tmp_path)
    damage(path, "UPDATE agent SET parent_id = 'a3' WHERE id = 'a0'")
    code, findings = check()
    assert code == 1
    only(findings, "error", "lineage", RUN_ID)


# Code snapshots


def test_check_missing_snapshot(tmp_path):
    path = build_archive(tmp_path)
    damage(path, "DELETE FROM codesnapshot WHERE hash = ?", (code_hash_of(path, "a1"),))
    code, findings = check()
    assert code == 1
    assert len(findings) == 1, findings
    finding = only(findings, "error", "code", "a1")
    assert "is missing" in finding["message"]


def test_check_missing_workspace_snapshot(tmp_path):
    path = build_archive(tmp_path)
    damage(
        path,
        "DELETE FROM codesnapshot WHERE hash = "
        "(SELECT workspace_hash FROM evaluation WHERE id = 'e-a3-t1')",
    )
    code, findings = check()
    assert code == 1
    finding = only(findings, "error", "code", "e-a3-t1")
    assert "is missing" in finding["message"]


def test_check_corrupt_snapshot(tmp_path):
    path = build_archive(tmp_path)
    garbage = b"\x1f\x8b this is not a gzip stream"
    damage(
        path,
        "UPDATE codesnapshot SET data = ?, size = ? WHERE hash = ?",
        (garbage, len(garbage), code_hash_of(path, "a2")),
    )
    code, findings = check()
    assert code == 1
    assert len(findings) == 1, findings
    finding = only(findings, "error", "code", "a2")
    assert "cannot be unpacked" in finding["message"]


def test_check_truncated_snapshot(tmp_path):
    path = build_archive(tmp_path)
    code_hash = code_hash_of(path, "a0")
    damage(
        path,
        "UPDATE codesnapshot SET data = substr(data, 1, 40), size = 40 WHERE hash = ?",
        (code_hash,),
    )
    code, findings = check()
    assert code == 1
    finding = only(findings, "error", "code", "a0")
    assert "cannot be unpacked" in finding["message"]


def test_check_changed_snapshot_content(tmp_path):
    path = build_archive(tmp_path)
    data = gzip_tar({"agent.py": "NAME = 'someone else'\n"})
    damage(
        path,
        "UPDATE codesnapshot SET data = ?, size = ? WHERE hash = ?",
        (data, len(data), code_hash_of(path, "a3")),
    )
    code, findings = check()
    assert code == 1
    finding = only(findings, "error", "code", "a3")
    assert "content was changed" in finding["message"]


def test_check_snapshot_size_mismatch(tmp_path):
    path = build_archive(tmp_path)
    damage(path, "UPDATE codesnapshot SET size = 1 WHERE hash = ?", (code_hash_of(path, "a1"),))
    code, findings = check()
    assert code == 1
    finding = only(findings, "error", "code", "a1")
    assert "size column says 1" in finding["message"]


# Scores


def test_check_score_out_of_range(tmp_path):
    path = build_archive(tmp_path)
    damage(path, "UPDATE evaluation SET score = 1.5 WHERE id = 'e-a1-t2'")
    code, findings = check()
    assert code == 1
    assert len(findings) == 1, findings
    finding = only(findings, "error", "scores", "e-a1-t2")
    assert "1.5" in finding["message"]


def test_check_negative_score(tmp_path):
    path = build_archive(tmp_path)
    damage(path, "UPDATE evaluation SET score = -0.25 WHERE id = 'e-a0-t1'")
    code, findings = check()
    assert code == 1
    only(findings, "error", "scores", "e-a0-t1")


def test_check_more_passed_than_total(tmp_path):
    path = build_archive(tmp_path)
    damage(path, "UPDATE evaluation SET tests_passed = 5 WHERE id = 'e-a0-t2'")
    code, findings = check()
    assert code == 1
    finding = only(findings, "error", "scores", "e-a0-t2")
    assert "passed 5 of 4" in finding["message"]


def test_check_score_without_logs(tmp_path):
    path = build_archive(tmp_path)
    damage(path, "UPDATE evaluation SET transcript = '', test_output = '' WHERE id = 'e-a3-t1'")
    code, findings = check()
    assert code == 1
    assert len(findings) == 1, findings
    finding = only(findings, "error", "scores", "e-a3-t1")
    assert "no logs" in finding["message"]


def test_check_score_without_test_output(tmp_path):
    path = build_archive(tmp_path)
    damage(path, "UPDATE evaluation SET test_output = '' WHERE id = 'e-a3-t2'")
    code, findings = check()
    assert code == 1
    finding = only(findings, "error", "scores", "e-a3-t2")
    assert "empty test output" in finding["message"]


def test_check_zero_score_with_transcript_only(tmp_path):
    path = build_archive(tmp_path)
    damage(path, "UPDATE evaluation SET score = 0, test_output = '' WHERE id = 'e-a3-t2'")
    assert check() == (0, [])


def test_check_evaluation_without_task(tmp_path):
    path = build_archive(tmp_path)
    damage(path, "UPDATE evaluation SET task_id = '' WHERE id = 'e-a1-t1'")
    code, findings = check()
    assert code == 1
    finding = only(findings, "error", "scores", "e-a1-t1")
    assert "no task id" in finding["message"]


def test_check_evaluation_of_unknown_agent(tmp_path):
    path = build_archive(tmp_path)
    damage(path, "UPDATE evaluation SET agent_id = 'ghost' WHERE id = 'e-a1-t1'")
    code, findings = check()
    assert code == 1
    finding = only(findings, "error", "scores", "e-a1-t1")
    assert "ghost" in finding["message"]


def test_check_duplicate_evaluation(tmp_path):
    path = build_archive(tmp_path)
    archive = Archive.open(path)
    add_evaluation(archive, tmp_path, "a1", "t2", id="e-again", stage="minibatch")
    archive.close()
    code, findings = check()
    assert code == 1
    assert len(findings) == 1, findings
    finding = only(findings, "error", "scores", "a1")
    assert "2 times on task t2" in finding["message"]
    assert "e-again" in finding["message"]


def test_check_evaluated_agent_without_evaluation(tmp_path):
    path = build_archive(tmp_path)
    damage(path, "DELETE FROM evaluation WHERE agent_id = 'a3'")
    code, findings = check()
    assert code == 1
    only(findings, "error", "scores", "a3")


def test_check_invalid_agent_without_reason(tmp_path):
    path = build_archive(tmp_path)
    damage(path, "UPDATE agent SET reason = NULL WHERE id = 'a2'")
    code, findings = check()
    assert code == 1
    finding = only(findings, "error", "scores", "a2")
    assert "no reason" in finding["message"]


# Model calls


def test_check_call_of_unknown_agent(tmp_path):
    path = build_archive(tmp_path)
    archive = Archive.open(path)
    archive.add(call(agent_id="ghost", purpose="operator"))
    archive.close()
    code, findings = check()
    assert code == 1
    assert len(findings) == 1, findings
    finding = only(findings, "error", "calls", "ghost")
    assert "not an agent of run" in finding["message"]


def test_check_call_of_rolled_back_agent(tmp_path):
    path = build_archive(tmp_path)
    archive = Archive.open(path)
    archive.add(call(agent_id="a9", purpose="operator"))
    archive.add_event(RUN_ID, "child_rolled_back", "a9 was rolled back", agent_id="a9")
    archive.close()
    code, findings = check()
    assert code == 1
    assert len(findings) == 1, findings
    finding = only(findings, "warning", "calls", "a9")
    assert "rolled back" in finding["message"]


def test_check_call_of_unfinished_evaluation(tmp_path):
    path = build_archive(tmp_path, status="stopped")
    archive = Archive.open(path)
    archive.add(call(agent_id="a3", evaluation_id="e-cut-short", task_id="t3"))
    archive.close()
    code, findings = check()
    assert code == 1
    assert len(findings) == 1, findings
    finding = only(findings, "warning", "calls", "e-cut-short")
    assert "never finished" in finding["message"]


def test_check_call_of_missing_evaluation_after_finish(tmp_path):
    path = build_archive(tmp_path)
    archive = Archive.open(path)
    archive.add(call(agent_id="a3", evaluation_id="e-lost", task_id="t3"))
    archive.close()
    code, findings = check()
    assert code == 1
    finding = only(findings, "error", "calls", "e-lost")
    assert "not stored" in finding["message"]


# Run state


def test_check_half_made_agent_after_stop(tmp_path):
    path = build_archive(tmp_path, status="stopped")
    code_hash = code_hash_of(path, "a3")
    damage(
        path,
        "INSERT INTO agent (id, run_id, parent_id, operator, generation, status, code_hash, "
        "created_at) VALUES ('a4', ?, 'a3', 'self', 3, 'pending', ?, '2025-01-01 00:00:00')",
        (RUN_ID, code_hash),
    )
    code, findings = check()
    assert code == 1
    assert len(findings) == 1, findings
    finding = only(findings, "warning", "run state", "a4")
    assert f"evolarium resume {RUN_ID}" in finding["message"]


def test_check_running_run_without_process(tmp_path):
    process = subprocess.Popen(["true"])
    process.wait()
    path = build_archive(tmp_path, status="running", pid=process.pid)
    damage(path, "UPDATE agent SET status = 'evaluating' WHERE id = 'a3'")
    code, findings = check()
    assert code == 1
    run_finding = only(findings, "warning", "run state", RUN_ID)
    assert f"pid {process.pid}" in run_finding["message"]
    only(findings, "warning", "run state", "a3")


def test_check_table_lists_findings(tmp_path):
    path = build_archive(tmp_path)
    damage(path, "UPDATE evaluation SET score = 1.5 WHERE id = 'e-a1-t2'")
    result = evolarium("archive", "check", RUN_ID)
    assert result.returncode == 1, result.stderr
    assert "e-a1-t2" in result.stdout
    scores_line = next(line for line in result.stdout.splitlines() if "│ scores" in line)
    assert scores_line.split("│")[2].strip() == "1"
