"""The archive store: one SQLite file (WAL mode) or any SQLAlchemy URL per run.

The evolution loop is the only writer; writes are serialised by a lock because
the gateway records model calls from its server threads. Readers such as
``evolarium tree`` open the same file concurrently.
"""

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, create_engine, select

from evolarium.archive import migrations
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


def _enable_wal(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


class Archive:
    """Read and write access to one archive database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url, connect_args=_connect_args(url))
        if url.startswith("sqlite"):
            _enable_wal(self.engine)
        self._lock = threading.Lock()

    @classmethod
    def create(cls, path: Path) -> "Archive":
        """Create a new SQLite archive file at ``path`` with the current schema."""
        path.parent.mkdir(parents=True, exist_ok=True)
        archive = cls(f"sqlite:///{path}")
        SQLModel.metadata.create_all(archive.engine)
        with Session(archive.engine) as session:
            session.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
            session.commit()
        return archive

    @classmethod
    def open(cls, path: Path, *, migrate: bool = False) -> "Archive":
        """Open an existing SQLite archive file and check its schema version.

        With ``migrate``, an archive of an older schema is upgraded in place;
        without it, such an archive is refused with the command that upgrades it.
        """
        if not path.is_file():
            raise ArchiveError(f"archive file not found: {path}")
        archive = cls(f"sqlite:///{path}")
        version = archive.schema_version()
        if migrate and version is not None and version < SCHEMA_VERSION:
            migrations.migrate(archive.engine, version, SCHEMA_VERSION)
        archive.check_schema()
        return archive

    def schema_version(self) -> int | None:
        try:
            with Session(self.engine) as session:
                meta = session.get(Meta, "schema_version")
        except Exception as error:  # sqlalchemy raises many types for a bad file
            raise ArchiveError(f"cannot read archive {self.url}: {error}") from error
        return int(meta.value) if meta else None

    def check_schema(self) -> None:
        version = self.schema_version()
        if version is not None and version < SCHEMA_VERSION:
            raise ArchiveError(
                f"archive {self.url} has schema version {version}, this evolarium reads "
                f"version {SCHEMA_VERSION}; upgrade it with: evolarium archive migrate PATH"
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


def _connect_args(url: str) -> dict:
    if url.startswith("sqlite"):
        # Gateway threads write through the same engine as the loop thread.
        return {"check_same_thread": False, "timeout": 30}
    return {}
