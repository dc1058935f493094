"""``evolarium archive check``: verify that a run's archive is consistent.

The archive is opened read-only, so a live run's archive can be checked. All reads
happen in one read transaction, so rows that the run writes meanwhile are not seen
half-way. Large tables are read row by row, and snapshots are read one at a time
through SQLite's incremental blob I/O.
"""

import hashlib
import io
import json
import os
import sqlite3
import tarfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from sqlalchemy.engine import Connection, CursorResult

from evolarium.archive.location import ArchiveTarget, describe_target
from evolarium.archive.reader import locate_run, open_archive
from evolarium.archive.scores import REPLAY_STAGE
from evolarium.process import process_exists

ERROR = "error"
WARNING = "warning"
CHECKS = ("lineage", "code", "scores", "calls", "run state")
AGENT_STATUSES = {"pending", "evaluating", "evaluated", "invalid", "duplicate"}
STATUSES_WITH_REASON = {"invalid", "duplicate"}
"""Statuses whose agent is never evaluated, with the reason stored in ``reason``."""
UNFINISHED_STATUSES = {"pending", "evaluating"}
RUN_STATUSES = {"running", "finished", "budget_spent", "stopped", "failed"}
ROLLED_BACK_EVENT = "child_rolled_back"
RESUMED_EVENT = "run_resumed"
READ_CHUNK_BYTES = 1 << 20
SHOWN_IDS = 5


@dataclass(frozen=True)
class Finding:
    """One problem in an archive: its severity, the check that found it, and the row it is
    about."""

    severity: str
    """error | warning"""
    check: str
    """One of CHECKS."""
    subject: str
    """The id of the agent, evaluation or run the finding is about."""
    message: str


@dataclass(frozen=True)
class AgentRow:
    """The columns of an agent that the checks read."""

    id: str
    parent_id: str | None
    operator: str
    generation: int
    status: str
    reason: str | None
    code_hash: str


@dataclass
class RunRows:
    """The run row and the run's agents, read once and shared by the checks."""

    run_id: str
    status: str | None
    """None when the archive has no row for the run."""
    pid: int | None
    agents: dict[str, AgentRow]
    rolled_back: set[str] = field(default_factory=set)
    """Agents that a ``child_rolled_back`` event names."""
    resumed: bool = False
    """Whether the run was resumed after a stop: its stopped evaluations left calls behind."""

    def process_alive(self) -> bool:
        return self.status == "running" and _process_alive(self.pid)


@dataclass
class CheckReport:
    """The findings of every check on one run's archive."""

    run_id: str
    path: ArchiveTarget
    findings: list[Finding]

    def count(self, check: str, severity: str) -> int:
        return sum(1 for f in self.findings if f.check == check and f.severity == severity)

    def to_json(self) -> str:
        return json.dumps([asdict(finding) for finding in self.findings], indent=2)


def check_run(query: str) -> CheckReport:
    """Find a run by id or unique prefix and check its archive.

    An unknown run, or an archive that cannot be opened, raises ArchiveError.
    """
    run_id, path = locate_run(query)
    return CheckReport(run_id=run_id, path=path, findings=check_archive(path, run_id))


def check_archive(path: ArchiveTarget, run_id: str) -> list[Finding]:
    """Run every check on the run ``run_id`` in the archive at ``path``, a SQLite file or
    a PostgreSQL URL."""
    archive = open_archive(path)
    try:
        with archive.engine.connect() as connection:
            # pysqlite starts no transaction for a SELECT, so one is begun here. The
            # connection rolls it back when it closes. psycopg begins one by itself.
            if connection.dialect.name == "sqlite":
                _execute(connection, "BEGIN")
            rows = read_run_rows(connection, run_id)
            findings = check_lineage(rows)
            findings += check_code(connection, rows)
            findings += check_scores(connection, rows)
            findings += check_calls(connection, rows)
            findings += check_run_state(rows)
    finally:
        archive.close()
    return findings


POSTGRES_SQL = {
    "ORDER BY created_at, rowid": "ORDER BY created_at, id",
    "ORDER BY rowid": "ORDER BY created_at, id",
    "group_concat(id, ', ')": "string_agg(id, ', ' ORDER BY created_at, id)",
    "?": "%s",
}
"""The SQLite phrases of the queries below and what PostgreSQL uses in their place. Rows
there have no rowid, so ties of created_at are ordered by id."""


def _execute(connection: Connection, query: str, params: tuple = ()) -> CursorResult:
    """Run one of this module's queries, written for SQLite, on either database."""
    if connection.dialect.name == "postgresql":
        for sqlite_phrase, postgres_phrase in POSTGRES_SQL.items():
            query = query.replace(sqlite_phrase, postgres_phrase)
    return connection.exec_driver_sql(query, params)


def read_run_rows(connection: Connection, run_id: str) -> RunRows:
    """Read the run row, its agents, and the agents that were rolled back."""
    run = _execute(connection, "SELECT status, pid FROM run WHERE id = ?", (run_id,)).fetchone()
    agents = {}
    query = (
        "SELECT id, parent_id, operator, generation, status, reason, code_hash "
        "FROM agent WHERE run_id = ? ORDER BY created_at, rowid"
    )
    for row in _execute(connection, query, (run_id,)):
        agents[row[0]] = AgentRow(*row)

    rows = RunRows(
        run_id=run_id,
        status=run[0] if run else None,
        pid=run[1] if run else None,
        agents=agents,
    )
    rows.rolled_back = _rolled_back_agents(connection, run_id)
    query = "SELECT COUNT(*) FROM event WHERE run_id = ? AND kind = ?"
    rows.resumed = bool(_execute(connection, query, (run_id, RESUMED_EVENT)).scalar())
    return rows


def _rolled_back_agents(connection: Connection, run_id: str) -> set[str]:
    """Return the agents named by ``child_rolled_back`` events, in agent_id or in the data."""
    named = set()
    query = "SELECT agent_id, data_json FROM event WHERE run_id = ? AND kind = ?"
    for agent_id, data_json in _execute(connection, query, (run_id, ROLLED_BACK_EVENT)):
        if agent_id:
            named.add(agent_id)
        data = _json_object(data_json)
        if isinstance(data.get("agent_id"), str):
            named.add(data["agent_id"])
    return named


# Lineage


def check_lineage(rows: RunRows) -> list[Finding]:
    """Check the seed, that every parent is in the run, that there are no cycles, and that
    each generation is its parent's + 1."""
    findings = _check_seed(rows)
    for agent in rows.agents.values():
        findings += _check_parent(rows, agent)
    findings += _check_cycles(rows)
    return findings


def _check_seed(rows: RunRows) -> list[Finding]:
    roots = [agent for agent in rows.agents.values() if agent.parent_id is None]
    if not roots:
        return [_lineage(rows.run_id, f"run {rows.run_id} has no seed agent (no parentless agent)")]

    findings = []
    for extra in roots[1:]:
        message = f"agent {extra.id} has no parent, but {roots[0].id} is the run's seed"
        findings.append(_lineage(extra.id, message))
    for root in roots:
        if root.generation != 0:
            message = f"seed agent {root.id} has generation {root.generation}, expected 0"
            findings.append(_lineage(root.id, message))
        if root.operator != "seed":
            message = f"seed agent {root.id} has operator {root.operator!r}, expected 'seed'"
            findings.append(_lineage(root.id, message))
    return findings


def _check_parent(rows: RunRows, agent: AgentRow) -> list[Finding]:
    if agent.parent_id is None:
        return []
    parent = rows.agents.get(agent.parent_id)
    if parent is None:
        message = (
            f"parent {agent.parent_id} of agent {agent.id} is not an agent of run {rows.run_id}"
        )
        return [_lineage(agent.id, message)]

    findings = []
    if agent.operator == "seed":
        message = f"agent {agent.id} has operator 'seed' but a parent, {parent.id}"
        findings.append(_lineage(agent.id, message))
    if agent.generation != parent.generation + 1:
        message = (
            f"agent {agent.id} has generation {agent.generation}, but its parent {parent.id} "
            f"has generation {parent.generation}, so {parent.generation + 1} was expected"
        )
        findings.append(_lineage(agent.id, message))
    return findings


def _check_cycles(rows: RunRows) -> list[Finding]:
    """Report each parent cycle once, named after its smallest agent id."""
    state: dict[str, str] = {}
    findings = []
    for start in rows.agents:
        path: list[str] = []
        current: str | None = start
        while current in rows.agents and current not in state:
            state[current] = "visiting"
            path.append(current)
            current = rows.agents[current].parent_id
        if current in state and state[current] == "visiting":
            cycle = path[path.index(current) :]
            message = f"agents form a parent cycle: {' -> '.join(cycle + [cycle[0]])}"
            findings.append(_lineage(min(cycle), message))
        for agent_id in path:
            state[agent_id] = "done"
    return findings


def _lineage(subject: str, message: str) -> Finding:
    return Finding(ERROR, "lineage", subject, message)


# Code snapshots


def check_code(connection: Connection, rows: RunRows) -> list[Finding]:
    """Check that every agent's code and every evaluation's final workspace has a stored
    snapshot that is a gzip tar whose files hash to the snapshot's hash."""
    problems: dict[str, str | None] = {}
    findings = []
    for subject, kind, code_hash in _snapshot_references(connection, rows):
        if code_hash not in problems:
            problems[code_hash] = verify_snapshot(connection, code_hash)
        problem = problems[code_hash]
        if problem is not None:
            message = f"{kind} {subject}: snapshot {code_hash} {problem}"
            findings.append(Finding(ERROR, "code", subject, message))
    return findings


def _snapshot_references(connection: Connection, rows: RunRows) -> Iterator[tuple[str, str, str]]:
    """Yield (subject, kind, hash) for every agent's code and every evaluation's workspace."""
    for agent in rows.agents.values():
        yield agent.id, "code of agent", agent.code_hash
    query = (
        "SELECT id, workspace_hash FROM evaluation "
        "WHERE run_id = ? AND workspace_hash IS NOT NULL ORDER BY rowid"
    )
    for evaluation_id, workspace_hash in _execute(connection, query, (rows.run_id,)):
        yield evaluation_id, "final workspace of evaluation", workspace_hash


def verify_snapshot(connection: Connection, code_hash: str) -> str | None:
    """Return what is wrong with a stored snapshot, or None when it is sound.

    The snapshot is read in chunks, so a large one is never held in memory whole.
    """
    if connection.dialect.name == "postgresql":
        return _verify_database_snapshot(connection, code_hash)
    row = _execute(
        connection,
        "SELECT rowid, size, length(data), typeof(data) FROM codesnapshot WHERE hash = ?",
        (code_hash,),
    ).fetchone()
    if row is None:
        return "is missing"
    rowid, size, length, data_type = row
    if data_type != "blob":
        return f"has data of type {data_type}, expected a blob"
    if size != length:
        return f"has {length} bytes, but its size column says {size}"

    sqlite_connection = connection.connection.driver_connection
    try:
        with sqlite_connection.blobopen("codesnapshot", "data", rowid, readonly=True) as blob:
            content_hash = hash_tar_stream(blob)
    except (tarfile.TarError, EOFError, OSError, sqlite3.Error) as error:
        return f"cannot be unpacked as a gzip tar ({type(error).__name__}: {error})"
    if content_hash != code_hash:
        return f"holds files whose hash is {content_hash}, so its content was changed"
    return None


def _verify_database_snapshot(connection: Connection, code_hash: str) -> str | None:
    """Check a snapshot stored in PostgreSQL, where the data column is always bytea."""
    row = _execute(
        connection, "SELECT size, length(data) FROM codesnapshot WHERE hash = ?", (code_hash,)
    ).fetchone()
    if row is None:
        return "is missing"
    size, length = row
    if size != length:
        return f"has {length} bytes, but its size column says {size}"

    stream = io.BufferedReader(_ByteaReader(connection, code_hash, length), READ_CHUNK_BYTES)
    try:
        content_hash = hash_tar_stream(stream)
    except (tarfile.TarError, EOFError, OSError) as error:
        return f"cannot be unpacked as a gzip tar ({type(error).__name__}: {error})"
    if content_hash != code_hash:
        return f"holds files whose hash is {content_hash}, so its content was changed"
    return None


class _ByteaReader(io.RawIOBase):
    """Read a snapshot's bytea column in slices, one query per read."""

    def __init__(self, connection: Connection, code_hash: str, length: int) -> None:
        self.connection = connection
        self.code_hash = code_hash
        self.length = length
        self.offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = min(len(buffer), self.length - self.offset)
        if count <= 0:
            return 0
        chunk = _execute(
            self.connection,
            "SELECT substring(data FROM ? FOR ?) FROM codesnapshot WHERE hash = ?",
            (self.offset + 1, count, self.code_hash),
        ).scalar()
        buffer[: len(chunk)] = chunk
        self.offset += len(chunk)
        return len(chunk)


def hash_tar_stream(fileobj) -> str:
    """Read a gzip tar made by snapshot.pack_dir as a stream and return the hash of its files,
    computed as snapshot.hash_dir computes it for the packed directory."""
    digest = hashlib.sha256()
    with tarfile.open(fileobj=fileobj, mode="r|gz") as tar:
        for member in tar:
            if not member.isfile():
                continue
            executable = bool(member.mode & 0o111)
            digest.update(os.fsencode(member.name) + f"\0{int(executable)}\0".encode())
            digest.update(f"{member.size}\0".encode())
            _hash_member(tar, member, digest)
    return digest.hexdigest()


def _hash_member(tar: tarfile.TarFile, member: tarfile.TarInfo, digest) -> None:
    content = tar.extractfile(member)
    while chunk := content.read(READ_CHUNK_BYTES):
        digest.update(chunk)


# Evaluations and agent statuses


def check_scores(connection: Connection, rows: RunRows) -> list[Finding]:
    """Check each evaluation's score, test counts, agent, logs and task, that evaluated and
    invalid agents are complete, and that no (agent, task) was evaluated twice."""
    query = (
        "SELECT id, agent_id, task_id, score, tests_passed, tests_total, "
        "length(transcript), length(test_output) FROM evaluation WHERE run_id = ? ORDER BY rowid"
    )
    findings = []
    for row in _execute(connection, query, (rows.run_id,)):
        findings += _check_evaluation(rows, *row)
    findings += _check_agent_results(connection, rows)
    findings += _check_duplicates(connection, rows.run_id)
    return findings


def _check_evaluation(
    rows: RunRows,
    evaluation_id: str,
    agent_id: str,
    task_id: str | None,
    score: float | None,
    passed: int | None,
    total: int | None,
    transcript_length: int | None,
    test_output_length: int | None,
) -> list[Finding]:
    problems = []
    if score is None:
        problems.append("its score is missing")
    elif not 0 <= score <= 1:
        problems.append(f"score {score} is outside [0, 1]")
    if passed is None or total is None or not 0 <= passed <= total:
        problems.append(f"tests passed {passed} of {total}, which is not a valid count")
    if agent_id not in rows.agents:
        problems.append(f"its agent {agent_id} is not an agent of run {rows.run_id}")
    if not task_id:
        problems.append("it has no task id")
    if not transcript_length and not test_output_length:
        problems.append("it has no logs: both its transcript and its test output are empty")
    elif score is not None and score > 0 and not test_output_length:
        problems.append(f"it has score {score} but an empty test output")

    return [
        Finding(ERROR, "scores", evaluation_id, f"evaluation {evaluation_id}: {problem}")
        for problem in problems
    ]


def _check_agent_results(connection: Connection, rows: RunRows) -> list[Finding]:
    counts = dict(
        _execute(
            connection,
            "SELECT agent_id, count(*) FROM evaluation WHERE run_id = ? GROUP BY agent_id",
            (rows.run_id,),
        ).all()
    )
    findings = []
    for agent in rows.agents.values():
        if agent.status == "evaluated" and not counts.get(agent.id):
            message = f"agent {agent.id} has status evaluated but no evaluation"
            findings.append(Finding(ERROR, "scores", agent.id, message))
        if agent.status in STATUSES_WITH_REASON and not (agent.reason or "").strip():
            message = f"agent {agent.id} has status {agent.status} but no reason"
            findings.append(Finding(ERROR, "scores", agent.id, message))
    return findings


def _check_duplicates(connection: Connection, run_id: str) -> list[Finding]:
    """Report (agent, task) pairs evaluated more than once outside the replay stage. A run
    must evaluate each agent on each task at most once, also across a resume."""
    query = (
        "SELECT agent_id, task_id, count(*), group_concat(id, ', ') FROM evaluation "
        "WHERE run_id = ? AND stage != ? GROUP BY agent_id, task_id HAVING count(*) > 1"
    )
    findings = []
    for agent_id, task_id, count, ids in _execute(connection, query, (run_id, REPLAY_STAGE)):
        message = f"agent {agent_id} was evaluated {count} times on task {task_id}: {ids}"
        findings.append(Finding(ERROR, "scores", agent_id, message))
    return findings


# Model calls


def check_calls(connection: Connection, rows: RunRows) -> list[Finding]:
    """Check that each model call names an agent of the run and a stored evaluation.

    Calls of an agent that was rolled back, and calls of an evaluation that never finished
    because the run stopped first, are warnings.
    """
    unknown_agents: dict[str, list[int]] = defaultdict(list)
    unstored: dict[str, list[int]] = defaultdict(list)
    findings = []
    query = (
        "SELECT c.id, c.agent_id, c.evaluation_id, e.run_id FROM modelcall AS c "
        "LEFT JOIN evaluation AS e ON e.id = c.evaluation_id WHERE c.run_id = ? ORDER BY c.id"
    )
    for call_id, agent_id, evaluation_id, evaluation_run in _execute(
        connection, query, (rows.run_id,)
    ):
        if agent_id is not None and agent_id not in rows.agents:
            unknown_agents[agent_id].append(call_id)
        if evaluation_id is None:
            continue
        if evaluation_run is None:
            unstored[evaluation_id].append(call_id)
        elif evaluation_run != rows.run_id:
            message = f"call {call_id} names evaluation {evaluation_id} of run {evaluation_run}"
            findings.append(Finding(ERROR, "calls", str(call_id), message))

    findings += [_unknown_agent(rows, agent, calls) for agent, calls in unknown_agents.items()]
    findings += [
        _unstored_evaluation(rows, connection, evaluation, calls)
        for evaluation, calls in unstored.items()
    ]
    return findings


def _unknown_agent(rows: RunRows, agent_id: str, call_ids: list[int]) -> Finding:
    calls = f"{len(call_ids)} model calls ({_some(call_ids)})"
    if agent_id in rows.rolled_back:
        message = f"{calls} name agent {agent_id}, which was rolled back"
        return Finding(WARNING, "calls", agent_id, message)
    message = f"{calls} name agent {agent_id}, which is not an agent of run {rows.run_id}"
    return Finding(ERROR, "calls", agent_id, message)


def _unstored_evaluation(
    rows: RunRows, connection: Connection, evaluation_id: str, call_ids: list[int]
) -> Finding:
    """Judge calls whose evaluation is not stored: an evaluation row is written only when
    the evaluation ends, so a run that stopped first leaves such calls behind."""
    agent_id = _execute(
        connection, "SELECT agent_id FROM modelcall WHERE id = ?", (call_ids[0],)
    ).scalar()
    agent = rows.agents.get(agent_id)
    calls = f"{len(call_ids)} model calls ({_some(call_ids)})"
    finished_cleanly = rows.status == "finished" and agent is not None and not rows.resumed
    if finished_cleanly and agent.status == "evaluated":
        message = (
            f"{calls} name evaluation {evaluation_id}, which is not stored, although run "
            f"{rows.run_id} finished and agent {agent_id} is evaluated"
        )
        return Finding(ERROR, "calls", evaluation_id, message)
    message = f"{calls} name evaluation {evaluation_id}, which never finished"
    if rows.resumed:
        message += " (the run stopped during it and was resumed)"
    return Finding(WARNING, "calls", evaluation_id, message)


# Run state


def check_run_state(rows: RunRows) -> list[Finding]:
    """Check the run's row and status, and report agents left half-made by a run that
    is no longer alive."""
    findings = _check_run_row(rows)
    alive = rows.process_alive()
    for agent in rows.agents.values():
        if agent.status not in AGENT_STATUSES:
            message = f"agent {agent.id} has unknown status {agent.status!r}"
            findings.append(Finding(ERROR, "run state", agent.id, message))
        elif agent.status in UNFINISHED_STATUSES and not alive:
            message = (
                f"agent {agent.id} is still {agent.status}, but run {rows.run_id} has no live "
                f"process; `evolarium resume {rows.run_id}` finishes or rolls it back"
            )
            findings.append(Finding(WARNING, "run state", agent.id, message))
    return findings


def _check_run_row(rows: RunRows) -> list[Finding]:
    if rows.status is None:
        message = f"the archive has no row for run {rows.run_id}"
        return [Finding(ERROR, "run state", rows.run_id, message)]
    if rows.status not in RUN_STATUSES:
        message = f"run {rows.run_id} has unknown status {rows.status!r}"
        return [Finding(WARNING, "run state", rows.run_id, message)]
    if rows.status == "running" and not rows.process_alive():
        message = (
            f"run {rows.run_id} has status running, but its process (pid {rows.pid}) has "
            f"ended; `evolarium resume {rows.run_id}` continues it"
        )
        return [Finding(WARNING, "run state", rows.run_id, message)]
    return []


# Output


def report_view(report: CheckReport) -> Group:
    """Build the summary table (check, errors, warnings) and the table of findings."""
    summary = Table(title=f"archive check of run {report.run_id}", title_justify="left")
    summary.add_column("check")
    summary.add_column("errors", justify="right")
    summary.add_column("warnings", justify="right")
    for check in CHECKS:
        errors, warnings = report.count(check, ERROR), report.count(check, WARNING)
        summary.add_row(check, _styled(errors, "red"), _styled(warnings, "yellow"))

    if not report.findings:
        return Group(summary, f"no problems found in {escape(describe_target(report.path))}")
    findings = Table("severity", "check", "subject", "message")
    for finding in report.findings:
        style = "red" if finding.severity == ERROR else "yellow"
        findings.add_row(
            f"[{style}]{finding.severity}[/]",
            finding.check,
            escape(finding.subject),
            escape(finding.message),
        )
    return Group(summary, findings)


def _styled(count: int, style: str) -> str:
    return f"[{style}]{count}[/]" if count else "0"


# Helpers


def _process_alive(pid: int | None) -> bool:
    return pid is not None and process_exists(pid)


def _json_object(text: str | None) -> dict:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _some(ids: list, max_shown: int = SHOWN_IDS) -> str:
    listed = ", ".join(str(i) for i in ids[:max_shown])
    rest = len(ids) - max_shown
    return f"{listed} and {rest} more" if rest > 0 else listed
