"""Archives in a real PostgreSQL server, started by this module in a temporary directory.

The server is Debian's ``postgresql`` (binaries under /usr/lib/postgresql/*/bin, or on
PATH), listening on a unix socket in the temporary directory and on a random loopback
port. These tests skip when the binaries are missing, unless EVOLARIUM_REQUIRE_DOCKER=1
(set in CI), where they fail instead.
"""

import glob
import io
import os
import pwd
import re
import secrets
import shutil
import socket
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import event, select

from evolarium.archive import Agent, Archive, CodeSnapshot, Evaluation, Event, ModelCall, Run
from evolarium.archive.copy import copy_run
from evolarium.archive.location import (
    ARCHIVE_URL_ENV,
    ARCHIVE_URL_FILE,
    parse_database_url,
    read_url_file,
    write_url_file,
)
from evolarium.archive.models import SCHEMA_VERSION
from evolarium.archive.scores import REPLAY_STAGE
from evolarium.cli import main
from evolarium.dashboard.state import RunLoader
from evolarium.errors import ArchiveError
from evolarium.evolve.config import RunConfig
from evolarium.evolve.run import find_run
from evolarium.paths import runs_dir

pytestmark = pytest.mark.postgres

REQUIRE_SERVER = os.environ.get("EVOLARIUM_REQUIRE_DOCKER") == "1"
USER = "evolarium"


@dataclass
class PostgresServer:
    """A PostgreSQL server of this test session: password login on TCP, trust on the socket."""

    socket_dir: Path
    port: int
    password: str

    def url(self, database: str, *, password: bool = True) -> str:
        secret = f":{self.password}" if password else ""
        return f"postgresql+psycopg://{USER}{secret}@127.0.0.1:{self.port}/{database}"

    def psql(self, database: str, sql: str) -> str:
        command = ["psql", "-h", str(self.socket_dir), "-p", str(self.port), "-U", USER]
        command += ["-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def _server_binaries() -> Path | None:
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "initdb").is_file() and Path(folder, "pg_ctl").is_file():
            return Path(folder)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl") and shutil.which("psql"):
        return Path(initdb).parent
    return None


def _as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root; run it as the postgres user then."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server():
    binaries = _server_binaries()
    if binaries is None or shutil.which("psql") is None:
        message = "PostgreSQL server binaries (initdb, pg_ctl, psql) not found"
        if REQUIRE_SERVER:
            pytest.fail(f"EVOLARIUM_REQUIRE_DOCKER=1 but {message}")
        pytest.skip(message)

    root = Path(tempfile.mkdtemp(prefix="evolarium-pg-"))
    try:
        yield from _serve(binaries, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _serve(binaries: Path, root: Path):
    """Create a cluster under ``root``, start it, yield it, and stop it on every path out."""
    password = secrets.token_hex(8)
    (root / "password").write_text(password + "\n")
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in (root, root / "password"):
            os.chown(path, owner.pw_uid, owner.pw_gid)

    data = root / "data"
    initdb = [str(binaries / "initdb"), "-D", str(data), "-U", USER, "-E", "UTF8"]
    initdb += ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={root}/password"]
    subprocess.run(_as_server_user(initdb), check=True, capture_output=True)

    port = _free_port()
    options = f"-k {root} -p {port} -c listen_addresses=127.0.0.1"
    pg_ctl = [str(binaries / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w"]
    try:
        subprocess.run(_as_server_user([*pg_ctl, "-o", options, "start"]), check=True)
        yield PostgresServer(socket_dir=root, port=port, password=password)
    finally:
        # Also after a failed start: pg_ctl -w can give up on a server that did start.
        subprocess.run(_as_server_user([*pg_ctl, "-m", "fast", "stop"]), check=False)


@pytest.fixture
def database(postgres_server, request) -> str:
    """Create a new, empty database for one test and return its name."""
    name = "t_" + re.sub(r"\W", "_", request.node.name.lower())[:40] + "_" + secrets.token_hex(3)
    postgres_server.psql("postgres", f"CREATE DATABASE {name}")
    return name


@pytest.fixture
def postgres_url(postgres_server, database) -> str:
    return postgres_server.url(database)


def new_run(run_id: str = "r1") -> Run:
    return Run(id=run_id, suite="builtin", model="m", selection="random", config_json="{}")


def make_archive(url: str) -> Archive:
    archive = Archive.create(parse_database_url(url))
    archive.add(new_run())
    return archive


def new_evaluation(evaluation_id: str, agent_id: str, **fields) -> Evaluation:
    values = dict(
        id=evaluation_id,
        run_id="r1",
        agent_id=agent_id,
        task_id="t",
        stage="full",
        score=0.5,
        resolved=False,
        outcome="ok",
        tests_passed=1,
        tests_total=2,
        duration_s=0.1,
        calls=1,
        tokens=10,
        transcript="did things",
        test_output="1 passed",
    )
    values.update(fields)
    return Evaluation(**values)


def test_url_file_has_no_password(tmp_path, monkeypatch):
    monkeypatch.setenv(ARCHIVE_URL_ENV, "postgresql://evolarium:s3cret@127.0.0.1:5432/runs")
    write_url_file(tmp_path, parse_database_url("postgres://evolarium:s3cret@127.0.0.1:5432/runs"))
    written = (tmp_path / ARCHIVE_URL_FILE).read_text().strip()
    assert written == "postgresql+psycopg://evolarium@127.0.0.1:5432/runs"
    assert read_url_file(tmp_path).password == "s3cret"
    monkeypatch.setenv(ARCHIVE_URL_ENV, "postgresql://evolarium:other@127.0.0.1:5432/elsewhere")
    assert read_url_file(tmp_path).password is None


# The archive store on PostgreSQL


def test_postgres_archive_tables_and_version(postgres_server, postgres_url, database):
    make_archive(postgres_url).close()
    tables = postgres_server.psql(
        database, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    )
    assert tables.split() == [
        "agent",
        "codesnapshot",
        "evaluation",
        "event",
        "meta",
        "modelcall",
        "run",
    ]
    version = postgres_server.psql(database, "SELECT value FROM meta WHERE key='schema_version'")
    assert version.strip() == str(SCHEMA_VERSION)


def test_postgres_snapshot_stored_once(postgres_url):
    archive = make_archive(postgres_url)
    archive.store_snapshot("h1", b"first")
    archive.store_snapshot("h1", b"second")
    assert archive.snapshot("h1") == b"first"


def test_postgres_update_missing_agent(postgres_url):
    archive = make_archive(postgres_url)
    with pytest.raises(ArchiveError, match="agent not found: nope"):
        archive.update_agent("nope", status="invalid")


def test_postgres_lineage_rows(postgres_url):
    archive = make_archive(postgres_url)
    archive.add(Agent(id="a0", run_id="r1", operator="seed", generation=0, code_hash="h"))
    archive.add(
        Agent(id="a1", run_id="r1", parent_id="a0", operator="self", generation=1, code_hash="h")
    )
    archive.update_agent("a1", status="invalid", reason="does not compile")
    agents = {agent.id: agent for agent in archive.agents("r1")}
    assert agents["a1"].parent_id == "a0"
    assert agents["a1"].status == "invalid"
    assert agents["a1"].reason == "does not compile"


def test_postgres_foreign_keys_enforced(postgres_url):
    archive = make_archive(postgres_url)
    with pytest.raises(Exception, match="foreign key"):
        archive.add(
            Agent(
                id="a9",
                run_id="r1",
                parent_id="missing",
                operator="self",
                generation=1,
                code_hash="h",
            )
        )


def test_postgres_runs_share_database(postgres_url):
    first = make_archive(postgres_url)
    second = Archive.create(parse_database_url(postgres_url))
    second.add(new_run("r2"))
    second.add_event("r2", "note", "second run")
    first.add_event("r1", "note", "first run")
    assert [run.id for run in first.runs()] == ["r1", "r2"]
    assert [event.message for event in second.events("r1")] == ["first run"]
    assert [event.message for event in second.events("r2")] == ["second run"]


def test_postgres_nul_in_text_replaced(postgres_url):
    archive = make_archive(postgres_url)
    archive.add(Agent(id="a0", run_id="r1", operator="seed", generation=0, code_hash="h"))
    archive.add(new_evaluation("e1", "a0", transcript="before\x00after"))
    assert archive.evaluations("r1")[0].transcript == "before\ufffdafter"


def test_postgres_read_only_rejects_writes(postgres_url):
    make_archive(postgres_url).close()
    reader = Archive.open_read_only(parse_database_url(postgres_url))
    assert [run.id for run in reader.runs()] == ["r1"]
    with pytest.raises(Exception, match="read-only transaction"):
        reader.add(new_run("r2"))


def test_postgres_schema_mismatch(postgres_server, postgres_url, database):
    make_archive(postgres_url).close()
    postgres_server.psql(database, "UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(ArchiveError, match="schema version 99"):
        Archive.open(parse_database_url(postgres_url))
    with pytest.raises(ArchiveError, match="schema version 99"):
        Archive.create(parse_database_url(postgres_url))


def test_postgres_empty_database_rejected(postgres_url):
    with pytest.raises(ArchiveError, match="contains no evolarium archive"):
        Archive.open_read_only(parse_database_url(postgres_url))


def test_postgres_wrong_password(postgres_server, database):
    url = postgres_server.url(database).replace(postgres_server.password, "not-the-secret")
    with pytest.raises(ArchiveError, match="cannot log in") as raised:
        Archive.open(parse_database_url(url))
    assert "not-the-secret" not in str(raised.value)


def make_schema_1_database(server: PostgresServer, url: str, database: str) -> None:
    """An archive as the first release wrote it: schema 1, without the later columns."""
    archive = make_archive(url)
    archive.add(Agent(id="a0", run_id="r1", operator="seed", generation=0, code_hash="h"))
    archive.close()
    server.psql(
        database,
        "ALTER TABLE evaluation DROP COLUMN tampering;"
        "ALTER TABLE modelcall DROP COLUMN cost_usd;"
        "ALTER TABLE modelcall DROP COLUMN attempt;"
        "DROP INDEX ix_modelcall_request_key;"
        "ALTER TABLE modelcall DROP COLUMN request_key;"
        "ALTER TABLE agent DROP COLUMN step;"
        "ALTER TABLE agent DROP COLUMN operator_outcome;"
        "UPDATE meta SET value = '1' WHERE key = 'schema_version'",
    )


def test_postgres_old_schema_refused(postgres_server, postgres_url, database):
    make_schema_1_database(postgres_server, postgres_url, database)
    with pytest.raises(ArchiveError, match="evolarium archive migrate URL"):
        Archive.open(parse_database_url(postgres_url))
    with pytest.raises(ArchiveError, match="evolarium archive migrate"):
        Archive.open_read_only(parse_database_url(postgres_url))
    version = postgres_server.psql(database, "SELECT value FROM meta")
    assert version.strip() == "1"


def test_postgres_migrates_schema_1(postgres_server, postgres_url, database):
    make_schema_1_database(postgres_server, postgres_url, database)
    archive = Archive.open(parse_database_url(postgres_url), migrate=True)
    assert archive.schema_version() == SCHEMA_VERSION
    assert [agent.id for agent in archive.agents("r1")] == ["a0"]
    archive.add(new_evaluation("e1", "a0", outcome="tampering", tampering="conftest.py: added"))
    archive.add(
        ModelCall(
            run_id="r1",
            purpose="agent",
            model="m",
            request_json="{}",
            outcome="ok",
            attempt=2,
            cost_usd=0.5,
            request_key="k",
        )
    )
    archive.close()

    reopened = Archive.open(parse_database_url(postgres_url))
    assert reopened.evaluations("r1")[0].tampering == "conftest.py: added"
    assert reopened.calls("r1")[0].attempt == 2


def test_postgres_migrate_command(postgres_server, postgres_url, database, capsys):
    make_schema_1_database(postgres_server, postgres_url, database)
    assert main(["archive", "migrate", postgres_url]) == 0
    printed = capsys.readouterr().out
    assert f"from schema version 1 to {SCHEMA_VERSION}" in printed
    assert postgres_server.password not in printed


# Copying runs between SQLite and PostgreSQL


def fill_run(archive: Archive) -> None:
    """Store a run with a small lineage, snapshots, evaluations, calls and events."""
    archive.add(new_run())
    archive.store_snapshot("code0", b"seed code")
    archive.store_snapshot("code1", b"child code")
    archive.store_snapshot("work1", b"final workspace")
    archive.store_snapshot("other", b"a snapshot of no agent of this run")
    # The child is added first with an earlier time, so parent-first order must be worked out.
    archive.add(Agent(id="a0", run_id="r1", operator="seed", generation=0, code_hash="code0"))
    archive.add(
        Agent(
            id="a1",
            run_id="r1",
            parent_id="a0",
            operator="self",
            generation=1,
            code_hash="code1",
            diff="+x",
            step=1,
            operator_outcome="ok",
        )
    )
    archive.add(
        Agent(
            id="a2",
            run_id="r1",
            parent_id="a1",
            operator="reflect",
            generation=2,
            code_hash="code1",
            status="duplicate",
            reason="same code as a1",
        )
    )
    archive.add(new_evaluation("e0", "a0", workspace_hash="work1"))
    archive.add(new_evaluation("e1", "a1", score=1.0, resolved=True, tests_passed=2))
    for attempt in (1, 2):
        archive.add(
            ModelCall(
                run_id="r1",
                agent_id="a0",
                evaluation_id="e0",
                purpose="agent",
                model="m",
                request_json='{"n": 1}',
                response_json="{}",
                prompt_tokens=5,
                completion_tokens=7,
                outcome="ok",
                attempt=attempt,
                cost_usd=None,
                request_key=f"k{attempt}",
            )
        )
    archive.add_event("r1", "agent_added", "seed", generation=0, agent_id="a0", data={"x": 1})
    archive.add_event("r1", "run_finished", "done")


def table_rows(archive: Archive) -> dict[str, list]:
    """Read every row of run r1, without the per-archive ids of calls and events."""
    with archive.engine.connect() as connection:
        rows = {}
        for name, model in (("run", Run), ("agent", Agent), ("evaluation", Evaluation)):
            query = (
                select(model.__table__)
                .where(
                    (model.__table__.c.id if name == "run" else model.__table__.c.run_id) == "r1"
                )
                .order_by(model.__table__.c.id)
            )
            rows[name] = [dict(row) for row in connection.execute(query).mappings()]
        for name, model in (("modelcall", ModelCall), ("event", Event)):
            query = select(model.__table__).where(model.__table__.c.run_id == "r1")
            query = query.order_by(model.__table__.c.id)
            rows[name] = [
                {key: value for key, value in row.items() if key != "id"}
                for row in connection.execute(query).mappings()
            ]
        snapshots = select(CodeSnapshot.__table__).order_by(CodeSnapshot.hash)
        rows["codesnapshot"] = [dict(row) for row in connection.execute(snapshots).mappings()]
    return rows


def test_copy_round_trip_equal_rows(postgres_url, tmp_path):
    source_path = tmp_path / "source" / "archive.db"
    source = Archive.create(source_path)
    fill_run(source)
    original = table_rows(source)
    source.close()
    before = source_path.read_bytes()

    url = parse_database_url(postgres_url)
    to_postgres = copy_run(source_path, url, "r1")
    back_path = tmp_path / "back" / "archive.db"
    back = copy_run(url, back_path, "r1")

    assert source_path.read_bytes() == before
    expected_counts = {
        "runs": 1,
        "agents": 3,
        "evaluations": 2,
        "model calls": 2,
        "events": 2,
        "snapshots": 3,
    }
    assert to_postgres.target_counts == expected_counts
    assert back.target_counts == expected_counts
    assert to_postgres.target_checksum == back.target_checksum

    in_postgres = Archive.open(url)
    copied = table_rows(in_postgres)
    assert copied["codesnapshot"] == [
        row for row in original["codesnapshot"] if row["hash"] != "other"
    ]
    del copied["codesnapshot"]
    assert copied == {key: value for key, value in original.items() if key != "codesnapshot"}

    round_trip = table_rows(Archive.open(back_path))
    assert round_trip["agent"] == original["agent"]
    assert round_trip["evaluation"] == original["evaluation"]
    assert round_trip["modelcall"] == original["modelcall"]
    assert round_trip["event"] == original["event"]
    assert round_trip["run"] == original["run"]


def test_copy_keeps_other_runs_ids(postgres_url, tmp_path):
    url = parse_database_url(postgres_url)
    other = Archive.create(url)
    other.add(new_run("r0"))
    other.add_event("r0", "note", "a run already in the database")
    source_path = tmp_path / "archive.db"
    fill_run(Archive.create(source_path))

    copy_run(source_path, url, "r1")

    archive = Archive.open(url)
    assert [event.message for event in archive.events("r0")] == ["a run already in the database"]
    assert [event.kind for event in archive.events("r1")] == ["agent_added", "run_finished"]
    archive.add_event("r1", "note", "written after the copy")
    assert archive.events("r1")[-1].message == "written after the copy"


def test_copy_rejects_existing_run(postgres_url, tmp_path):
    source_path = tmp_path / "archive.db"
    fill_run(Archive.create(source_path))
    url = parse_database_url(postgres_url)
    copy_run(source_path, url, "r1")
    with pytest.raises(ArchiveError, match="run r1 is already in .*remove run r1") as raised:
        copy_run(source_path, url, "r1")
    assert "***" in str(raised.value)
    counts = Archive.open(url)
    assert len(counts.agents("r1")) == 3
    assert len(counts.calls("r1")) == 2


def test_copy_failure_leaves_nothing(postgres_server, postgres_url, database, tmp_path):
    source_path = tmp_path / "archive.db"
    source = Archive.create(source_path)
    fill_run(source)
    source.close()
    connection = sqlite3.connect(source_path)
    connection.execute("PRAGMA foreign_keys=OFF")
    connection.execute("UPDATE agent SET parent_id = 'gone' WHERE id = 'a2'")
    connection.commit()
    connection.close()

    with pytest.raises(ArchiveError, match="agent a2 of run r1 names parent gone"):
        copy_run(source_path, parse_database_url(postgres_url), "r1")
    assert postgres_server.psql(database, "SELECT count(*) FROM run").strip() == "0"


def test_copy_command_needs_password_from_environment(
    postgres_server, database, tmp_path, monkeypatch, capsys
):
    run_dir = runs_dir() / "r1"
    fill_run(Archive.create(run_dir / "archive.db"))
    bare_url = postgres_server.url(database, password=False)

    assert main(["archive", "copy", "r1", "--to", bare_url]) == 2
    assert "cannot log in" in capsys.readouterr().err

    monkeypatch.setenv("PGPASSWORD", postgres_server.password)
    assert main(["archive", "copy", "r1", "--to", bare_url]) == 0
    printed = capsys.readouterr().out
    assert "copied run r1" in printed
    assert re.search(r"model calls\W+2\W+2", printed), printed
    assert postgres_server.password not in printed


# Finding runs that live in PostgreSQL


def test_find_run_in_environment_database(postgres_server, postgres_url, tmp_path, monkeypatch):
    source_path = tmp_path / "archive.db"
    fill_run(Archive.create(source_path))
    copy_run(source_path, parse_database_url(postgres_url), "r1")

    with pytest.raises(ArchiveError, match="run not found"):
        find_run("r1")
    monkeypatch.setenv(ARCHIVE_URL_ENV, postgres_url)
    run_id, target = find_run("r")
    assert run_id == "r1"
    assert target.password == postgres_server.password


def test_cli_commands_on_postgres_run(postgres_server, postgres_url, tmp_path, monkeypatch, capsys):
    source_path = tmp_path / "archive.db"
    fill_run(Archive.create(source_path))
    copy_run(source_path, parse_database_url(postgres_url), "r1")
    monkeypatch.setenv(ARCHIVE_URL_ENV, postgres_url)

    assert main(["runs"]) == 0
    assert "r1" in capsys.readouterr().out
    assert main(["tree", "r1"]) == 0
    assert "a1" in capsys.readouterr().out
    assert main(["show", "a1"]) == 0
    assert "a0" in capsys.readouterr().out
    assert main(["calls", "a0"]) == 0
    assert "agent" in capsys.readouterr().out
    assert main(["frontier", "r1"]) == 0
    capsys.readouterr()
    output = tmp_path / "run.json"
    assert main(["export", "r1", "--format", "json", "--output", str(output)]) == 0
    assert '"a2"' in output.read_text()
    assert main(["watch", "r1", "--once"]) == 0
    assert "a2 g2 reflect duplicate" in capsys.readouterr().out


def test_archive_check_on_postgres(postgres_url, tmp_path, monkeypatch, capsys):
    source_path = tmp_path / "archive.db"
    fill_run(Archive.create(source_path))
    runs_dir().mkdir(parents=True, exist_ok=True)
    copy_run(source_path, parse_database_url(postgres_url), "r1")
    monkeypatch.setenv(ARCHIVE_URL_ENV, postgres_url)

    # The made-up snapshots are not gzip tars, so the code check must report them.
    assert main(["archive", "check", "r1", "--json"]) == 1
    printed = capsys.readouterr().out
    assert "cannot be unpacked as a gzip tar" in printed


# A short evolution against PostgreSQL


@pytest.mark.docker
def test_evolution_on_postgres(
    postgres_server, database, docker_client, sandbox_image, monkeypatch, capsys
):
    from evolarium.evolve.session import start_evolution
    from evolarium.llm.router import ModelConfig
    from evolarium.sandbox import Limits
    from evolarium.tasks import load_suite
    from tests.fakeprovider import FakeProvider
    from tests.test_evolution import scripted_model

    monkeypatch.setenv("PGPASSWORD", postgres_server.password)
    tasks = list(load_suite("builtin").tasks[:1])
    bare_url = postgres_server.url(database, password=False)
    with FakeProvider([scripted_model(tasks)] * 50) as fake:
        config = RunConfig(
            suite="builtin",
            tasks=1,
            generations=1,
            model=ModelConfig(model="openai/fake", api_base=fake.url, api_key="test"),
            agent_steps=2,
            agent_limits=Limits(timeout_s=120),
            archive_url=postgres_server.url(database),
        )
        output = io.StringIO()
        assert start_evolution(config, Console(file=output, width=200)) == 0
    printed = output.getvalue()
    match = re.search(r"run (r\S+) finished", printed)
    assert match, printed
    run_id = match.group(1)
    assert postgres_server.password not in printed

    run_dir = runs_dir() / run_id
    assert not (run_dir / "archive.db").exists()
    assert (run_dir / ARCHIVE_URL_FILE).read_text().strip() == bare_url
    stored = postgres_server.psql(database, f"SELECT config_json FROM run WHERE id = '{run_id}'")
    assert postgres_server.password not in stored
    assert ":***@" in stored

    archive = Archive.open(parse_database_url(postgres_server.url(database)))
    agents = archive.agents(run_id)
    assert len(agents) == 2
    assert all(agent.status == "evaluated" for agent in agents), [a.reason for a in agents]
    assert archive.run(run_id).status == "finished"

    assert main(["tree", run_id]) == 0
    assert agents[1].id in capsys.readouterr().out
    assert main(["archive", "check", run_id]) == 0, capsys.readouterr().out

    # Replaying an evaluation from its recorded calls reads the PostgreSQL archive.
    child = agents[1]
    assert main(["replay", child.id, "--task", tasks[0].id, "--recorded"]) == 0
    replayed = capsys.readouterr().out
    assert "identical to the archived" in replayed, replayed


# Watching a run archived in PostgreSQL


def test_watch_once_on_postgres_run(postgres_server, database, tmp_path, monkeypatch, capsys):
    source_path = tmp_path / "archive.db"
    fill_run(Archive.create(source_path))
    copy_run(source_path, parse_database_url(postgres_server.url(database)), "r1")
    bare_url = postgres_server.url(database, password=False)
    write_url_file(runs_dir() / "r1", parse_database_url(bare_url))

    assert main(["watch", "r1", "--once"]) == 2
    assert "cannot log in" in capsys.readouterr().err

    monkeypatch.setenv("PGPASSWORD", postgres_server.password)
    assert main(["watch", "r1", "--once"]) == 0
    printed = capsys.readouterr().out
    assert "run r1 running" in printed
    assert "3 agents, 1 task, 2 evaluations" in printed
    assert re.search(r"a0 g0 seed 0\.50\b", printed), printed
    assert re.search(r"a1 g1 self 1\.00 won 1\b.*\bfrontier\b", printed), printed
    assert re.search(r"a2 g2 reflect duplicate\b", printed), printed
    assert re.search(r"Pareto frontier \(1 agent,", printed), printed
    assert re.search(r"\d\d:\d\d:\d\d +done\b", printed), printed
    assert postgres_server.password not in printed


def model_call(agent_id: str, **fields) -> ModelCall:
    values = dict(
        run_id="r1",
        agent_id=agent_id,
        purpose="agent",
        model="m",
        request_json="{}",
        response_json="{}",
        prompt_tokens=5,
        completion_tokens=7,
        outcome="ok",
    )
    values.update(fields)
    return ModelCall(**values)


def evaluation_ids_read(statements: list[tuple[str, dict]]) -> list[str]:
    """Return the ids bound to the loader's reads of evaluation rows by id."""
    ids = []
    for statement, parameters in statements:
        if "FROM evaluation WHERE id IN" in statement:
            ids += parameters.values()
    return sorted(ids)


def test_run_loader_refresh_reads_new_postgres_rows(postgres_url):
    writer = make_archive(postgres_url)
    writer.add(Agent(id="a0", run_id="r1", operator="seed", generation=0, code_hash="code0"))
    writer.add(new_evaluation("e0", "a0"))
    writer.add(model_call("a0", evaluation_id="e0"))
    writer.add_event("r1", "agent_added", "seed a0 added", agent_id="a0")
    reader = Archive.open_read_only(parse_database_url(postgres_url))
    statements: list[tuple[str, dict]] = []

    @event.listens_for(reader.engine, "before_cursor_execute")
    def record(_connection, _cursor, statement, parameters, _context, _executemany):
        statements.append((statement, parameters))

    loader = RunLoader(reader, "r1")
    try:
        first = loader.refresh()
        assert first.evaluation_count == 1
        assert first.scores == {"a0": {"t": 0.5}}
        assert first.call_count == 1
        assert [row.message for row in first.new_events] == ["seed a0 added"]
        assert evaluation_ids_read(statements) == ["e0"]

        # A Ray node builds its evaluation row before it sends the row, so a new row can be
        # older than the rows read already. The loader must still read it.
        statements.clear()
        built_long_ago = datetime(2000, 1, 1, tzinfo=UTC)
        writer.add(
            Agent(
                id="a1",
                run_id="r1",
                parent_id="a0",
                operator="self",
                generation=1,
                code_hash="code1",
            )
        )
        writer.add(new_evaluation("e1", "a1", score=1.0, created_at=built_long_ago))
        writer.add(new_evaluation("e2", "a0", score=1.0, stage=REPLAY_STAGE))
        writer.add(model_call("a1", outcome="error", error="connection reset"))
        writer.add_event("r1", "evaluation_finished", "a1 on t: score 1.00 (ok)", agent_id="a1")
        second = loader.refresh()
        assert evaluation_ids_read(statements) == ["e1", "e2"]
        assert second.evaluation_count == 2
        assert second.scores == {"a0": {"t": 0.5}, "a1": {"t": 1.0}}
        assert second.winners["t"] == {"a1"}
        assert list(second.agents) == ["a0", "a1"]
        assert second.call_count == 2
        assert second.tokens == 24
        assert [row.message for row in second.new_events] == ["a1 on t: score 1.00 (ok)"]
        assert [problem.message for problem in second.problems] == [
            "agent call of a1: error: connection reset"
        ]

        statements.clear()
        third = loader.refresh()
        assert evaluation_ids_read(statements) == []
        assert third.evaluation_count == 2
        assert third.call_count == 2
        assert third.new_events == []

        writer.update_run("r1", status="finished")
        assert loader.refresh().status == "finished"
    finally:
        reader.close()
        writer.close()


def test_live_dashboard_of_postgres_run(postgres_url):
    from evolarium.dashboard.live import LivePrinter
    from evolarium.evolve.session import _progress_printer

    writer = make_archive(postgres_url)
    writer.add(Agent(id="a0", run_id="r1", operator="seed", generation=0, code_hash="code0"))
    writer.add(new_evaluation("e0", "a0"))
    output = io.StringIO()
    console = Console(file=output, force_terminal=True, width=120, height=30)
    printer = _progress_printer(console, True, "r1", parse_database_url(postgres_url))
    try:
        assert isinstance(printer, LivePrinter)
        printer.loaded_at = 0.0
        frame = Console(file=io.StringIO(), width=120, color_system=None)
        frame.print(printer._render())
    finally:
        printer.stop()
        writer.close()
    drawn = frame.file.getvalue()
    assert "run r1 running" in drawn
    assert re.search(r"a0 g0 seed 0\.50\b", drawn), drawn
