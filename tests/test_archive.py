"""The archive on real SQLite files: snapshots, WAL mode, schema checks. No Docker, no model."""

import os
import sqlite3

import pytest

from evolarium.archive import Agent, Archive, Evaluation, Run
from evolarium.archive.models import SCHEMA_VERSION
from evolarium.archive.scores import frontier, mean_scores
from evolarium.archive.snapshot import hash_dir, pack_dir, unpack
from evolarium.errors import ArchiveError


def write_tree(root, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_snapshot_hash_ignores_caches_and_times(tmp_path):
    write_tree(tmp_path / "a", {"agent.py": "print(1)\n", "lib/util.py": "X = 1\n"})
    write_tree(tmp_path / "b", {"lib/util.py": "X = 1\n", "agent.py": "print(1)\n"})
    write_tree(tmp_path / "b", {"__pycache__/agent.cpython-311.pyc": "junk"})
    os.utime(tmp_path / "b" / "agent.py", (0, 0))
    assert hash_dir(tmp_path / "a") == hash_dir(tmp_path / "b")


def test_snapshot_hash_sees_content_and_mode(tmp_path):
    write_tree(tmp_path / "a", {"agent.py": "print(1)\n"})
    before = hash_dir(tmp_path / "a")
    (tmp_path / "a" / "agent.py").chmod(0o755)
    after_mode = hash_dir(tmp_path / "a")
    (tmp_path / "a" / "agent.py").write_text("print(2)\n")
    after_content = hash_dir(tmp_path / "a")
    assert len({before, after_mode, after_content}) == 3


def test_snapshot_round_trip(tmp_path):
    write_tree(tmp_path / "src", {"agent.py": "print(1)\n", "lib/util.py": "X = 1\n"})
    code_hash, data = pack_dir(tmp_path / "src")
    unpack(data, tmp_path / "dest")
    assert hash_dir(tmp_path / "dest") == code_hash
    assert pack_dir(tmp_path / "dest")[1] == data


def make_archive(tmp_path) -> Archive:
    archive = Archive.create(tmp_path / "run" / "archive.db")
    archive.add(Run(id="r1", suite="builtin", model="m", selection="random", config_json="{}"))
    return archive


def test_archive_uses_wal(tmp_path):
    make_archive(tmp_path).close()
    connection = sqlite3.connect(tmp_path / "run" / "archive.db")
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_archive_snapshot_stored_once(tmp_path):
    archive = make_archive(tmp_path)
    archive.store_snapshot("h1", b"first")
    archive.store_snapshot("h1", b"second")
    assert archive.snapshot("h1") == b"first"


def test_archive_update_missing_agent(tmp_path):
    archive = make_archive(tmp_path)
    with pytest.raises(ArchiveError, match="agent not found: nope"):
        archive.update_agent("nope", status="invalid")


def test_archive_schema_mismatch(tmp_path):
    make_archive(tmp_path).close()
    connection = sqlite3.connect(tmp_path / "run" / "archive.db")
    connection.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    connection.commit()
    with pytest.raises(ArchiveError, match="schema version 99"):
        Archive.open(tmp_path / "run" / "archive.db")


def make_schema_1_archive(tmp_path):
    """An archive as the first release wrote it: schema 1, without the later columns."""
    archive = make_archive(tmp_path)
    archive.add(Agent(id="a0", run_id="r1", operator="seed", generation=0, code_hash="h"))
    archive.close()
    path = tmp_path / "run" / "archive.db"
    connection = sqlite3.connect(path)
    connection.execute("ALTER TABLE evaluation DROP COLUMN tampering")
    connection.execute("ALTER TABLE modelcall DROP COLUMN cost_usd")
    connection.execute("ALTER TABLE modelcall DROP COLUMN attempt")
    connection.execute("DROP INDEX ix_modelcall_request_key")
    connection.execute("ALTER TABLE modelcall DROP COLUMN request_key")
    connection.execute("ALTER TABLE agent DROP COLUMN step")
    connection.execute("ALTER TABLE agent DROP COLUMN operator_outcome")
    connection.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    connection.commit()
    connection.close()
    return path


def test_archive_old_schema_refused_by_readers(tmp_path):
    path = make_schema_1_archive(tmp_path)
    before = path.read_bytes()
    with pytest.raises(ArchiveError, match="evolarium archive migrate"):
        Archive.open(path)
    assert path.read_bytes() == before


def test_archive_migrates_schema_1(tmp_path):
    path = make_schema_1_archive(tmp_path)
    archive = Archive.open(path, migrate=True)
    assert archive.schema_version() == SCHEMA_VERSION
    assert [agent.id for agent in archive.agents("r1")] == ["a0"]
    archive.add(
        Evaluation(
            id="e1",
            run_id="r1",
            agent_id="a0",
            task_id="t",
            stage="full",
            score=0.0,
            resolved=False,
            outcome="tampering",
            tests_passed=0,
            tests_total=1,
            duration_s=0.1,
            calls=0,
            tokens=0,
            transcript="",
            test_output="",
            tampering="conftest.py: added a conftest.py",
        )
    )
    archive.close()
    reopened = Archive.open(path)
    assert reopened.evaluations("r1")[0].tampering == "conftest.py: added a conftest.py"


def test_archive_open_missing_file(tmp_path):
    with pytest.raises(ArchiveError, match="archive file not found"):
        Archive.open(tmp_path / "nothing.db")


def test_archive_lineage_rows(tmp_path):
    archive = make_archive(tmp_path)
    archive.add(Agent(id="a0", run_id="r1", operator="seed", generation=0, code_hash="h"))
    archive.add(
        Agent(id="a1", run_id="r1", parent_id="a0", operator="self", generation=1, code_hash="h")
    )
    archive.update_agent("a1", status="invalid", reason="does not compile")
    agents = {agent.id: agent for agent in archive.agents("r1")}
    assert agents["a1"].parent_id == "a0"
    assert agents["a1"].status == "invalid"
    assert agents["a1"].reason == "does not compile"


def test_frontier_keeps_per_task_winners():
    table = {
        "a": {"t1": 1.0, "t2": 0.0},
        "b": {"t1": 0.0, "t2": 1.0},
        "c": {"t1": 0.5, "t2": 0.5},
    }
    assert frontier(table, ["t1", "t2"]) == ["a", "b"]
    assert mean_scores(table, ["t1", "t2"]) == {"a": 0.5, "b": 0.5, "c": 0.5}


def test_frontier_drops_dominated_ties():
    table = {"a": {"t1": 1.0, "t2": 1.0}, "b": {"t1": 1.0, "t2": 0.0}}
    assert frontier(table, ["t1", "t2"]) == ["a"]


def test_frontier_empty_when_all_zero():
    table = {"a": {"t1": 0.0}, "b": {"t1": 0.0}}
    assert frontier(table, ["t1"]) == []
