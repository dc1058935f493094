"""Create and open run directories.

A run directory contains the run's work files and its archive: an ``archive.db`` file, or an
``archive.url`` file that names the PostgreSQL database that stores the run's rows.
"""

import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import URL

from evolarium.archive import ARCHIVE_FILE, Archive, Run
from evolarium.archive.location import (
    ArchiveTarget,
    environment_url,
    is_database_url,
    parse_database_url,
    read_url_file,
    with_password,
    write_url_file,
)
from evolarium.archive.reader import known_runs
from evolarium.errors import ArchiveError
from evolarium.evolve.config import RunConfig
from evolarium.paths import runs_dir


def new_run_id() -> str:
    return datetime.now(UTC).strftime("r%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def create_run(config: RunConfig) -> tuple[str, Path, Archive]:
    """Create a run directory with a new archive and the run's row; return (id, dir, archive).

    The archive is the database of ``config.archive_url``, else of EVOLARIUM_ARCHIVE_URL,
    else a SQLite file in the run directory.
    """
    run_id = new_run_id()
    run_dir = runs_dir() / run_id
    url = archive_url_of(config)
    if url is None:
        archive = Archive.create(run_dir / ARCHIVE_FILE)
    else:
        archive = Archive.create(url)
        write_url_file(run_dir, url)
    archive.add(
        Run(
            id=run_id,
            suite=config.suite,
            model=config.model.model,
            selection=config.selection,
            config_json=json.dumps(config.to_dict(), sort_keys=True),
            pid=os.getpid(),
        )
    )
    return run_id, run_dir, archive


def archive_url_of(config: RunConfig) -> URL | None:
    """Return the PostgreSQL database that a new run's rows go to, or None for SQLite.

    The password comes from EVOLARIUM_ARCHIVE_URL when the configured URL has none,
    because the stored configuration never contains it.
    """
    if config.archive_url:
        return with_password(parse_database_url(config.archive_url))
    return environment_url()


def find_run(run_id: str) -> tuple[str, ArchiveTarget]:
    """Find a run by id or unique id prefix; return (id, archive file or database URL).

    Runs are those with a run directory, and those in the database of
    EVOLARIUM_ARCHIVE_URL.
    """
    root = runs_dir()
    exact = root / run_id / ARCHIVE_FILE
    if exact.is_file():
        return run_id, exact
    runs = known_runs()
    if run_id in runs:
        return run_id, runs[run_id]
    matches = sorted(name for name in runs if name.startswith(run_id))
    if len(matches) == 1:
        return matches[0], runs[matches[0]]
    if len(matches) > 1:
        raise ArchiveError(f"run id {run_id!r} is ambiguous: {', '.join(matches[:5])}")
    known = sorted(runs)
    hint = f"; recent runs: {', '.join(known[-3:])}" if known else f"; no runs under {root}"
    raise ArchiveError(f"run not found: {run_id}{hint}")


def prepare_run_dir(run_id: str, target: ArchiveTarget) -> Path:
    """Return the run's directory, made with an ``archive.url`` file when the run is in a
    database but has no directory here yet, such as a run copied into PostgreSQL."""
    run_dir = runs_dir() / run_id
    if isinstance(target, URL) and read_url_file(run_dir) is None:
        write_url_file(run_dir, target)
    return run_dir


def target_of(text: str) -> ArchiveTarget:
    """Read a command-line archive: a PostgreSQL URL, with the password from the
    environment when it has none, or else a file path."""
    if is_database_url(text):
        return with_password(parse_database_url(text))
    return Path(text)


def archive_of_run_dir(run_dir: Path) -> ArchiveTarget:
    """Return the archive of a run directory: its database URL, or its archive.db file."""
    return read_url_file(run_dir) or run_dir / ARCHIVE_FILE
