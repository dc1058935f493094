"""The archive store: one SQLite file (WAL mode) per run, or a PostgreSQL database that
contains the rows of many runs, keyed by run id.

The evolution loop is the only writer of a run; writes are serialised by a lock because
the gateway records model calls from its server threads. Readers such as
``evolarium tree`` open the same archive concurrently.
"""

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, inspect, text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel, create_engine, select

from evolarium.archive import migrations
from evolarium.archive.location import ArchiveTarget, public_url
from evolarium.archive.models import (
    SCHEMA_VERSION,
    Agent,
    CodeSnapshot,
    Evaluation,
    Event,
    Meta,
    ModelCall,
    Run,
)
from evolarium.errors import ArchiveError

log = logging.getLogger(__name__)

ARCHIVE_FILE = "archive.db"
READ_ONLY_BUSY_TIMEOUT_S = 2.0
"""How long a read-only connection waits for a lock before it reports the archive locked."""
CONNECT_TIMEOUT_S = 10
"""Seconds to wait for a PostgreSQL server to accept a connection."""
SCHEMA_LOCK_KEY = 0x65766F6C
"""PostgreSQL advisory lock taken while a database's tables are created, so that two runs
that start at once on an empty database do not both create them."""
NUL_REPLACEMENT = "\ufffd"
"""The replacement of a NUL character in a text value stored in PostgreSQL, which rejects
NUL in text."""


def _enable_wal(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def _replace_nul_characters(engine: Engine) -> None:
    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _on_execute(_connection, _cursor, statement, parameters, _context, executemany):
        if executemany:
            return statement, [_without_nul(row) for row in parameters]
        return statement, _without_nul(parameters)


def _without_nul(parameters):
    # NOTE: lossy on purpose. A transcript with a NUL byte would otherwise fail the insert
    # and stop the run; SQLite keeps NUL, so a copy to PostgreSQL changes such values.
    if isinstance(parameters, dict):
        return {key: _strip_nul(value) for key, value in parameters.items()}
    if isinstance(parameters, list | tuple):
        return type(parameters)(_strip_nul(value) for value in parameters)
    return parameters


_nul_replacements = 0


def _strip_nul(value):
    global _nul_replacements
    if not isinstance(value, str) or "\x00" not in value:
        return value
    _nul_replacements += 1
    if _nul_replacements == 1:
        log.warning("replaced NUL characters with U+FFFD in a text value stored in PostgreSQL")
    else:
        log.debug("replaced NUL characters in text value %d", _nul_replacements)
    return value.replace("\x00", NUL_REPLACEMENT)


class Archive:
    """Read and write access to one archive database."""

    def __init__(self, url: str | URL, *, read_only: bool = False) -> None:
        self.url = public_url(url) if isinstance(url, URL) else url
        self.engine = create_engine(url, **_engine_options(url, read_only=read_only))
        if self.url.startswith("sqlite"):
            _enable_wal(self.engine)
        else:
            _replace_nul_characters(self.engine)
        self._lock = threading.Lock()

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @classmethod
    def create(cls, target: ArchiveTarget) -> "Archive":
        """Create a new SQLite archive file at ``target`` with the current schema, or
        prepare a PostgreSQL database at the URL ``target`` for one more run.

        A PostgreSQL database gets the tables and the schema version when it has none
        yet. One that already contains archives is used as it is, if its schema version is
        this evolarium's.
        """
        if isinstance(target, URL):
            return cls._create_in_database(target)
        path = target
        path.parent.mkdir(parents=True, exist_ok=True)
        archive = cls(f"sqlite:///{path}")
        SQLModel.metadata.create_all(archive.engine)
        with Session(archive.engine) as session:
            session.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
            session.commit()
        return archive

    @classmethod
    def _create_in_database(cls, url: URL) -> "Archive":
        archive = cls(url)
        try:
            with archive.engine.begin() as connection:
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY}
                )
                _create_tables_once(connection)
        except SQLAlchemyError as error:
            archive.close()
            raise database_error(archive.url, error) from error
        try:
            archive.check_schema()
        except ArchiveError:
            archive.close()
            raise
        return archive

    @classmethod
    def open(cls, target: ArchiveTarget, *, migrate: bool = False) -> "Archive":
        """Open an existing archive, a SQLite file or a PostgreSQL URL, and check its
        schema version.

        With ``migrate``, an archive of an older schema is upgraded in place;
        without it, such an archive is refused with the command that upgrades it.
        """
        if isinstance(target, URL):
            archive = cls(target)
        else:
            path = target
            _check_writable_file(path)
            archive = cls(f"sqlite:///{path}")
        version = archive.schema_version()
        if migrate and version is not None and version < SCHEMA_VERSION:
            migrations.migrate(archive.engine, version, SCHEMA_VERSION)
        archive.check_schema()
        return archive

    @classmethod
    def open_read_only(cls, target: ArchiveTarget) -> "Archive":
        """Open an existing archive for reading only, without migrating or writing.

        A PostgreSQL archive is opened with ``default_transaction_read_only`` on, so every
        transaction of the returned archive is read-only, and its schema version is checked.

        For a SQLite file, every connection is a ``mode=ro`` URI with no PRAGMA that writes,
        and it is closed after each use. Archives use WAL mode, where readers do not make the
        writer wait, and a writer that ends while no reader is connected removes its
        -wal and -shm files. An archive of another schema version, a corrupt file and
        a locked file raise ArchiveError with a one-line message. Write methods on the
        returned archive fail.
        """
        if isinstance(target, URL):
            return cls._open_database_read_only(target)
        path = target
        if not path.is_file():
            raise ArchiveError(f"archive file not found: {path}")
        version = _read_only_schema_version(path)
        if version is not None and version < SCHEMA_VERSION:
            raise ArchiveError(
                f"archive {path} has schema version {version}, this evolarium reads version "
                f"{SCHEMA_VERSION}; upgrade it with: evolarium archive migrate {path}"
            )
        if version != SCHEMA_VERSION:
            raise ArchiveError(
                f"archive {path} has schema version {version}, this evolarium reads version "
                f"{SCHEMA_VERSION}; use the evolarium release that wrote it"
            )

        archive = cls.__new__(cls)
        archive.url = f"sqlite:///{path}"
        archive.engine = create_engine(
            "sqlite://", creator=lambda: _connect_read_only(path), poolclass=NullPool
        )
        archive._lock = threading.Lock()
        return archive

    @classmethod
    def _open_database_read_only(cls, url: URL) -> "Archive":
        archive = cls(url, read_only=True)
        try:
            archive.check_schema()
        except ArchiveError:
            archive.close()
            raise
        return archive

    def schema_version(self) -> int | None:
        if self.is_postgres:
            return self._database_schema_version()
        try:
            with Session(self.engine) as session:
                meta = session.get(Meta, "schema_version")
        except Exception as error:  # sqlalchemy raises many types for a bad file
            raise ArchiveError(f"cannot read archive {self.url}: {error}") from error
        return int(meta.value) if meta else None

    def _database_schema_version(self) -> int | None:
        try:
            with self.engine.connect() as connection:
                if not inspect(connection).has_table(Meta.__tablename__):
                    raise ArchiveError(
                        f"database {self.url} contains no evolarium archive (it has no meta "
                        "table); start a run in it with `evolarium run --archive URL` or copy "
                        "one into it with `evolarium archive copy RUN --to URL`"
                    )
                value = connection.execute(
                    select(Meta.value).where(Meta.key == "schema_version")
                ).scalar()
        except SQLAlchemyError as error:
            raise database_error(self.url, error) from error
        return int(value) if value is not None else None

    def check_schema(self) -> None:
        version = self.schema_version()
        if version is not None and version < SCHEMA_VERSION:
            where = "URL" if self.is_postgres else "PATH"
            raise ArchiveError(
                f"archive {self.url} has schema version {version}, this evolarium reads "
                f"version {SCHEMA_VERSION}; upgrade it with: evolarium archive migrate {where}"
            )
        if version != SCHEMA_VERSION:
            raise ArchiveError(
                f"archive {self.url} has schema version {version}, this evolarium reads "
                f"version {SCHEMA_VERSION}; use the evolarium release that wrote it"
            )

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self._lock, Session(self.engine, expire_on_commit=False) as session:
            yield session
            session.commit()

    def _read(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # Writes

    def add(self, row: SQLModel) -> None:
        with self._write() as session:
            session.add(row)

    def insert(self, row: SQLModel) -> None:
        """Add ``row`` with one INSERT, and leave its generated id unset on the object.

        It takes about half the time of add(), for rows written often such as model calls.
        """
        table = type(row).__table__  # type: ignore[attr-defined]
        values = row.model_dump()
        for column in table.primary_key.columns:
            if values.get(column.name) is None:
                values.pop(column.name, None)
        with self._lock, self.engine.begin() as connection:
            connection.execute(table.insert(), values)

    def update_run(self, run_id: str, **fields: Any) -> None:
        self._update(Run, run_id, fields)

    def update_agent(self, agent_id: str, **fields: Any) -> None:
        self._update(Agent, agent_id, fields)

    def _update(self, table: type[SQLModel], key: str, fields: dict[str, Any]) -> None:
        with self._write() as session:
            row = session.get(table, key)
            if row is None:
                raise ArchiveError(f"{table.__name__.lower()} not found: {key}")
            for name, value in fields.items():
                setattr(row, name, value)
            session.add(row)

    def remove_agent(self, agent_id: str) -> None:
        """Delete an agent that has no evaluations or children, such as a half-made child.

        Its model calls and events stay: they record what was spent and what happened.
        """
        with self._write() as session:
            agent = session.get(Agent, agent_id)
            if agent is None:
                return
            evaluations = session.exec(
                select(func.count(Evaluation.id)).where(Evaluation.agent_id == agent_id)
            ).one()
            children = session.exec(
                select(func.count(Agent.id)).where(Agent.parent_id == agent_id)
            ).one()
            if evaluations or children:
                raise ArchiveError(
                    f"agent {agent_id} has {evaluations} evaluations and {children} children; "
                    "only an agent with neither can be removed"
                )
            session.delete(agent)

    def store_snapshot(self, code_hash: str, data: bytes) -> None:
        """Store a code snapshot unless one with the same hash exists."""
        with self._write() as session:
            if session.get(CodeSnapshot, code_hash) is None:
                session.add(CodeSnapshot(hash=code_hash, size=len(data), data=data))

    def add_event(
        self,
        run_id: str,
        kind: str,
        message: str,
        *,
        generation: int | None = None,
        agent_id: str | None = None,
        data: dict | None = None,
    ) -> None:
        row = Event(
            run_id=run_id,
            kind=kind,
            message=message,
            generation=generation,
            agent_id=agent_id,
            data_json=json.dumps(data) if data is not None else None,
        )
        self.add(row)

    # Reads

    def run(self, run_id: str) -> Run:
        with self._read() as session:
            run = session.get(Run, run_id)
        if run is None:
            raise ArchiveError(f"run not found in {self.url}: {run_id}")
        return run

    def runs(self) -> list[Run]:
        with self._read() as session:
            return list(session.exec(select(Run).order_by(Run.created_at)))

    def agent(self, agent_id: str) -> Agent:
        with self._read() as session:
            agent = session.get(Agent, agent_id)
        if agent is None:
            raise ArchiveError(f"agent not found: {agent_id}")
        return agent

    def agents(self, run_id: str) -> list[Agent]:
        with self._read() as session:
            query = select(Agent).where(Agent.run_id == run_id).order_by(Agent.created_at)
            return list(session.exec(query))

    def snapshot(self, code_hash: str) -> bytes:
        with self._read() as session:
            row = session.get(CodeSnapshot, code_hash)
        if row is None:
            raise ArchiveError(f"code snapshot not found: {code_hash}")
        return row.data

    def evaluations(self, run_id: str, agent_id: str | None = None) -> list[Evaluation]:
        with self._read() as session:
            query = select(Evaluation).where(Evaluation.run_id == run_id)
            if agent_id is not None:
                query = query.where(Evaluation.agent_id == agent_id)
            return list(session.exec(query.order_by(Evaluation.created_at)))

    def evaluation_count(self, run_id: str) -> int:
        """Return the number of evaluations stored for a run."""
        with self._read() as session:
            query = select(func.count(Evaluation.id)).where(Evaluation.run_id == run_id)
            return int(session.exec(query).one())

    def calls(self, run_id: str, agent_id: str | None = None) -> list[ModelCall]:
        with self._read() as session:
            query = select(ModelCall).where(ModelCall.run_id == run_id)
            if agent_id is not None:
                query = query.where(ModelCall.agent_id == agent_id)
            return list(session.exec(query.order_by(ModelCall.id)))

    def call_totals(self, run_id: str) -> tuple[int, int]:
        """Return (number of calls, total tokens) of a run."""
        with self._read() as session:
            query = select(
                func.count(ModelCall.id),
                func.coalesce(func.sum(ModelCall.prompt_tokens + ModelCall.completion_tokens), 0),
            ).where(ModelCall.run_id == run_id)
            count, tokens = session.exec(query).one()
        return int(count), int(tokens)

    def evaluation_call_totals(self, evaluation_id: str) -> tuple[int, int]:
        """Return (number of calls, total tokens) made during one evaluation."""
        with self._read() as session:
            query = select(
                func.count(ModelCall.id),
                func.coalesce(func.sum(ModelCall.prompt_tokens + ModelCall.completion_tokens), 0),
            ).where(ModelCall.evaluation_id == evaluation_id)
            count, tokens = session.exec(query).one()
        return int(count), int(tokens)

    def events(self, run_id: str, limit: int | None = None) -> list[Event]:
        with self._read() as session:
            query = select(Event).where(Event.run_id == run_id).order_by(Event.id.desc())
            if limit is not None:
                query = query.limit(limit)
            return list(reversed(list(session.exec(query))))


def _engine_options(url: str | URL, *, read_only: bool) -> dict:
    if str(url).startswith("sqlite"):
        # Gateway threads write through the same engine as the loop thread.
        return {"connect_args": {"check_same_thread": False, "timeout": 30}}

    # Timestamps are stored without a time zone, as UTC, the way SQLite stores them.
    options = "-c TimeZone=UTC"
    if read_only:
        options += " -c default_transaction_read_only=on"
    # A server that does not accept the connection fails it after this many seconds, so a
    # dashboard refresh or a command cannot hang on it.
    connect_args = {"options": options, "connect_timeout": CONNECT_TIMEOUT_S}
    return {"connect_args": connect_args, "pool_pre_ping": True}


def _create_tables_once(connection: Connection) -> None:
    """Create the tables and the schema version row in a database that has no meta table."""
    if inspect(connection).has_table(Meta.__tablename__):
        return
    SQLModel.metadata.create_all(connection)
    connection.execute(
        Meta.__table__.insert().values(key="schema_version", value=str(SCHEMA_VERSION))
    )
    log.info("created the archive tables, schema version %d", SCHEMA_VERSION)


def database_error(url: str, error: SQLAlchemyError) -> ArchiveError:
    """Turn an error from a PostgreSQL archive into a one-line ArchiveError with a fix."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    reason = lines[0] if lines else type(original).__name__
    if "password" in reason or "authentication" in reason:
        return ArchiveError(
            f"cannot log in to archive {url} ({reason}); give the password in "
            "EVOLARIUM_ARCHIVE_URL or PGPASSWORD"
        )
    if "connect" in reason or "connection" in reason:
        return ArchiveError(
            f"cannot connect to archive {url} ({reason}); start the PostgreSQL server or fix "
            "the URL"
        )
    return ArchiveError(f"cannot read archive {url}: {reason}")


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """Open a read-only connection to an archive file.

    A read-only open of a WAL file creates its -wal and -shm files when they are
    missing and cannot remove them again. They are missing only when no writer has
    the file open, so the file is then opened as immutable, which creates nothing.
    """
    # NOTE: a writer that opens the file after an immutable open (evolarium archive
    # migrate, say) is not seen by that connection; connections last one read.
    writer_files = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]
    immutable = not any(file.exists() for file in writer_files)
    uri = f"{path.resolve().as_uri()}?mode=ro" + ("&immutable=1" if immutable else "")
    return sqlite3.connect(uri, uri=True, timeout=READ_ONLY_BUSY_TIMEOUT_S, check_same_thread=False)


def _check_writable_file(path: Path) -> None:
    """Raise ArchiveError unless ``path`` is a non-empty file that a writer can open."""
    if not path.is_file():
        raise ArchiveError(f"archive file not found: {path}")
    if path.stat().st_size == 0:
        raise ArchiveError(
            f"archive {path} is empty (0 bytes), not an evolarium archive; "
            "restore it from a copy or start a new run"
        )
    # SQLite writes journal files next to the archive, so its folder must be writable too.
    for needed in (path, path.parent):
        if not os.access(needed, os.W_OK):
            raise ArchiveError(
                f"archive {path} cannot be written: {needed} is read-only; make it writable, "
                "or use the commands that only read it (show, tree, watch, export, "
                "archive check)"
            )


def _read_only_schema_version(path: Path) -> int | None:
    """Return the schema version stored in an archive file, or None if it has none.

    Raises ArchiveError with a one-line message for a locked, corrupt or foreign file.
    """
    try:
        connection = _connect_read_only(path)
    except sqlite3.Error as error:
        raise ArchiveError(f"cannot open archive {path}: {error}") from error
    try:
        row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError as error:
        raise _read_error(path, error) from error
    except sqlite3.DatabaseError as error:
        raise ArchiveError(
            f"archive {path} is corrupt or not an SQLite database ({error}); "
            f"restore it from a copy or start a new run"
        ) from error
    finally:
        connection.close()
    return int(row[0]) if row else None


def _read_error(path: Path, error: sqlite3.OperationalError) -> ArchiveError:
    message = str(error)
    if "locked" in message or "busy" in message:
        return ArchiveError(
            f"archive {path} is locked by another process ({message}); "
            f"try again when that process releases it"
        )
    if "no such table" in message:
        return ArchiveError(f"{path} is not an evolarium archive ({message})")
    return ArchiveError(f"cannot read archive {path}: {message}")
