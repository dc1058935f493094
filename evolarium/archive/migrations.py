"""Schema migrations: each step turns an archive of one schema version into the next.

A step is a list of SQL statements that work on SQLite and PostgreSQL alike.
Readers never migrate; ``evolarium archive migrate`` and the loop, which owns
the archive it writes, do.
"""

import logging

from sqlalchemy import text
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

STEPS: dict[int, list[str]] = {
    1: ["ALTER TABLE evaluation ADD COLUMN tampering VARCHAR"],
    2: [
        "ALTER TABLE modelcall ADD COLUMN cost_usd FLOAT",
        "ALTER TABLE modelcall ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1",
        "ALTER TABLE modelcall ADD COLUMN request_key VARCHAR",
        "CREATE INDEX ix_modelcall_request_key ON modelcall (request_key)",
    ],
    3: [
        "ALTER TABLE agent ADD COLUMN step INTEGER",
        "ALTER TABLE agent ADD COLUMN operator_outcome VARCHAR",
    ],
}
"""The statements that take an archive from the key's version to the next one."""


def migrate(engine: Engine, version: int, target: int) -> None:
    """Apply every step from ``version`` up to ``target`` in one transaction."""
    with engine.begin() as connection:
        for step in range(version, target):
            for statement in STEPS[step]:
                connection.execute(text(statement))
            log.info("migrated the archive from schema %d to %d", step, step + 1)
        connection.execute(
            text("UPDATE meta SET value = :value WHERE key = 'schema_version'"),
            {"value": str(target)},
        )
