"""Copy one run between archives: SQLite to PostgreSQL, PostgreSQL to SQLite, or file to file.

The source is read in one read-only transaction, so a run that is still being written is
copied as it was at one moment. The target is written in one transaction: a failed copy
leaves nothing behind. After the commit both sides are counted again and compared.
"""

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table
from sqlalchemy import Table as SqlTable
from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from evolarium.archive.location import ArchiveTarget, describe_target
from evolarium.archive.models import Agent, CodeSnapshot, Evaluation, Event, ModelCall, Run
from evolarium.archive.store import Archive, database_error
from evolarium.errors import ArchiveError

log = logging.getLogger(__name__)

BATCH_ROWS = 500
"""Rows inserted per statement when a table is copied."""

COUNTED_TABLES: dict[str, SqlTable] = {
    "runs": Run.__table__,
    "agents": Agent.__table__,
    "evaluations": Evaluation.__table__,
    "model calls": ModelCall.__table__,
    "events": Event.__table__,
}
"""The tables whose rows carry a run id, by the name the copy report uses."""


@dataclass
class CopyResult:
    """The row counts and snapshot checksums of a run in the source and the target."""

    run_id: str
    source_counts: dict[str, int] = field(default_factory=dict)
    target_counts: dict[str, int] = field(default_factory=dict)
    source_checksum: str = ""
    target_checksum: str = ""
    missing_snapshots: list[str] = field(default_factory=list)
    """Snapshots that the run references but the source does not have."""

    @property
    def matches(self) -> bool:
        return (
            self.source_counts == self.target_counts
            and self.source_checksum == self.target_checksum
        )

    def view(self) -> Table:
        table = Table("rows", "source", "target", title=f"copy of run {self.run_id}")
        for name, count in self.source_counts.items():
            table.add_row(name, str(count), str(self.target_counts.get(name, "-")))
        table.add_row("snapshot checksum", self.source_checksum[:16], self.target_checksum[:16])
        if self.missing_snapshots:
            table.caption = (
                f"{len(self.missing_snapshots)} referenced snapshots are missing in the source "
                f"and were not copied: {', '.join(self.missing_snapshots[:3])}"
            )
        return table


def copy_run(source: ArchiveTarget, target: ArchiveTarget, run_id: str) -> CopyResult:
    """Copy every row of ``run_id`` from ``source`` to ``target`` and verify the copy.

    Model calls and events get new ids in the target, in the source's order, because
    their ids are numbered per archive and a shared database has other runs' rows.
    Raises ArchiveError when the target already contains the run, when the source does not,
    or when the counts or snapshot checksums differ after the copy.
    """
    reader = Archive.open_read_only(source)
    try:
        writer = _open_target(target)
        try:
            result = _copy_between(reader, writer, run_id, source, target)
        finally:
            writer.close()
    finally:
        reader.close()

    if not result.matches:
        raise ArchiveError(
            f"the copy of run {run_id} in {describe_target(target)} does not match the "
            f"source: counts {result.source_counts} against {result.target_counts}, snapshot "
            f"checksum {result.source_checksum[:16]} against {result.target_checksum[:16]}"
        )
    return result


def _open_target(target: ArchiveTarget) -> Archive:
    """Open the target archive for writing; a missing SQLite file or an empty database gets
    the current schema."""
    if isinstance(target, Path):
        if target.is_dir():
            raise ArchiveError(
                f"{target} is a directory; give the path of an archive file such as "
                f"{target / 'archive.db'}"
            )
        return Archive.open(target) if target.exists() else Archive.create(target)
    return Archive.create(target)


def _copy_between(
    reader: Archive, writer: Archive, run_id: str, source: ArchiveTarget, target: ArchiveTarget
) -> CopyResult:
    result = CopyResult(run_id=run_id)
    try:
        with _consistent_read(reader) as source_connection:
            _require_run(source_connection, run_id, source)
            with writer.engine.begin() as target_connection:
                _reject_existing(target_connection, run_id, target)
                result.missing_snapshots = _copy_rows(source_connection, target_connection, run_id)
            result.source_counts = count_rows(source_connection, run_id)
            result.source_checksum = snapshot_checksum(source_connection, run_id)
        with writer.engine.connect() as target_connection:
            result.target_counts = count_rows(target_connection, run_id)
            result.target_checksum = snapshot_checksum(target_connection, run_id)
    except SQLAlchemyError as error:
        raise database_error(describe_target(target), error) from error
    log.info("copied run %s to %s: %s", run_id, describe_target(target), result.target_counts)
    return result


@contextmanager
def _consistent_read(archive: Archive) -> Iterator[Connection]:
    """Yield a connection to the source whose reads all see one moment of the archive."""
    with archive.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # pysqlite starts no transaction for a SELECT; this one ends when it closes.
            connection.exec_driver_sql("BEGIN")
        else:
            connection.execution_options(isolation_level="REPEATABLE READ")
        yield connection


def _require_run(connection: Connection, run_id: str, source: ArchiveTarget) -> None:
    found = connection.execute(select(Run.id).where(Run.id == run_id)).scalar()
    if found is None:
        raise ArchiveError(f"run {run_id} not found in {describe_target(source)}")


def _reject_existing(connection: Connection, run_id: str, target: ArchiveTarget) -> None:
    found = connection.execute(select(Run.id).where(Run.id == run_id)).scalar()
    if found is None:
        return
    where = describe_target(target)
    raise ArchiveError(
        f"run {run_id} is already in {where}; nothing was copied. Copy it to another "
        f"archive, or remove run {run_id} from {where} first"
    )


def _copy_rows(source: Connection, target: Connection, run_id: str) -> list[str]:
    """Insert the run's rows into ``target``, parents before the rows that reference them.

    Returns the referenced snapshots that the source does not have.
    """
    _insert_all(target, Run.__table__, _rows(source, Run.__table__, run_id))
    _insert_all(target, Agent.__table__, _agents_parent_first(source, run_id))
    missing = _copy_snapshots(source, target, run_id)
    _insert_all(target, Evaluation.__table__, _rows(source, Evaluation.__table__, run_id))
    for table in (ModelCall.__table__, Event.__table__):
        rows = _rows(source, table, run_id, order_by=table.c.id)
        _insert_all(target, table, (_without_id(row) for row in rows))
    return missing


def _rows(connection: Connection, table: SqlTable, run_id: str, order_by=None) -> Iterator[dict]:
    column = table.c.id if table is Run.__table__ else table.c.run_id
    query = select(table).where(column == run_id)
    if order_by is not None:
        query = query.order_by(order_by)
    for row in connection.execute(query).mappings():
        yield dict(row)


def _insert_all(connection: Connection, table: SqlTable, rows) -> None:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH_ROWS:
            connection.execute(table.insert(), batch)
            batch = []
    if batch:
        connection.execute(table.insert(), batch)


def _without_id(row: dict) -> dict:
    return {key: value for key, value in row.items() if key != "id"}


def _agents_parent_first(connection: Connection, run_id: str) -> list[dict]:
    """Return the run's agents ordered so that each parent comes before its children."""
    table = Agent.__table__
    query = select(table).where(table.c.run_id == run_id).order_by(table.c.created_at)
    pending = [dict(row) for row in connection.execute(query).mappings()]
    ordered: list[dict] = []
    placed: set[str] = set()
    while pending:
        ready = [row for row in pending if row["parent_id"] is None or row["parent_id"] in placed]
        if not ready:
            orphan = pending[0]
            raise ArchiveError(
                f"agent {orphan['id']} of run {run_id} names parent {orphan['parent_id']}, "
                "which is not an agent of the run; `evolarium archive check` describes the "
                "archive's problems"
            )
        ordered.extend(ready)
        placed.update(row["id"] for row in ready)
        pending = [row for row in pending if row["id"] not in placed]
    return ordered


def _copy_snapshots(source: Connection, target: Connection, run_id: str) -> list[str]:
    """Copy the snapshots the run references that the target lacks, one at a time, since
    each contains a whole agent or workspace."""
    missing = []
    table = CodeSnapshot.__table__
    for code_hash in referenced_hashes(source, run_id):
        if target.execute(select(table.c.hash).where(table.c.hash == code_hash)).scalar():
            continue
        row = source.execute(select(table).where(table.c.hash == code_hash)).mappings().first()
        if row is None:
            missing.append(code_hash)
            continue
        target.execute(table.insert(), [dict(row)])
    return missing


def referenced_hashes(connection: Connection, run_id: str) -> list[str]:
    """Return the sorted hashes of the snapshots a run references: agents' code and
    evaluations' final workspaces."""
    agents = select(Agent.code_hash).where(Agent.run_id == run_id)
    workspaces = select(Evaluation.workspace_hash).where(
        Evaluation.run_id == run_id, Evaluation.workspace_hash.is_not(None)
    )
    hashes = set(connection.execute(agents).scalars())
    hashes.update(connection.execute(workspaces).scalars())
    return sorted(hashes)


def count_rows(connection: Connection, run_id: str) -> dict[str, int]:
    """Count the run's rows in each table, and the referenced snapshots that are stored."""
    counts = {}
    for name, table in COUNTED_TABLES.items():
        column = table.c.id if name == "runs" else table.c.run_id
        query = select(func.count()).select_from(table).where(column == run_id)
        counts[name] = int(connection.execute(query).scalar())
    stored = _stored_hashes(connection, referenced_hashes(connection, run_id))
    counts["snapshots"] = len(stored)
    return counts


def snapshot_checksum(connection: Connection, run_id: str) -> str:
    """Return a sha256 over the hash and the content of every stored snapshot that the run
    references, in hash order."""
    digest = hashlib.sha256()
    table = CodeSnapshot.__table__
    for code_hash in _stored_hashes(connection, referenced_hashes(connection, run_id)):
        data = connection.execute(select(table.c.data).where(table.c.hash == code_hash)).scalar()
        digest.update(code_hash.encode() + b"\0")
        digest.update(hashlib.sha256(bytes(data)).digest())
    return digest.hexdigest()


def _stored_hashes(connection: Connection, hashes: list[str]) -> list[str]:
    table = CodeSnapshot.__table__
    stored = []
    for start in range(0, len(hashes), BATCH_ROWS):
        chunk = hashes[start : start + BATCH_ROWS]
        query = select(table.c.hash).where(table.c.hash.in_(chunk))
        stored.extend(connection.execute(query).scalars())
    return sorted(stored)
