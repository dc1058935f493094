"""Find runs and agents by id or prefix, and open their archives read-only.

A run's archive is the ``archive.db`` file in its run directory, or the PostgreSQL
database named by the directory's ``archive.url``. Runs that are only in the database of
EVOLARIUM_ARCHIVE_URL, such as runs copied there, are found too.

Every database error, in the open or in a later read, becomes an ArchiveError
with a one-line message that names the archive and what to do next.
"""

import difflib
import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sqlalchemy import event, select
from sqlalchemy.engine import URL

from evolarium.archive.location import (
    ArchiveTarget,
    describe_target,
    environment_url,
    public_url,
    read_url_file,
)
from evolarium.archive.models import Agent, Run
from evolarium.archive.store import ARCHIVE_FILE, Archive
from evolarium.errors import ArchiveError
from evolarium.paths import runs_dir

log = logging.getLogger(__name__)

SUGGESTIONS = 3


def open_archive(target: ArchiveTarget) -> Archive:
    """Open an archive read-only, so that a database error in any later read raises an
    ArchiveError with a one-line message."""
    archive = Archive.open_read_only(target)
    event.listen(archive.engine, "handle_error", partial(_raise_archive_error, target))
    return archive


def _raise_archive_error(target: ArchiveTarget, context) -> None:
    raise ArchiveError(describe_error(target, context.original_exception)) from None


def describe_error(path: ArchiveTarget, error: BaseException) -> str:
    """Turn a database error on the archive at ``path`` into a one-line message with a fix."""
    lines = str(error).strip().splitlines()
    reason = lines[0] if lines else type(error).__name__
    if isinstance(path, URL):
        return f"cannot read archive {public_url(path)}: {reason}"
    if "locked" in reason or "busy" in reason:
        return (
            f"archive {path} is locked by another process ({reason}); "
            "try again when that process has finished writing"
        )
    if "not a database" in reason or "malformed" in reason:
        return (
            f"archive {path} is corrupt ({reason}); `sqlite3 {path} .recover` may rescue part of it"
        )
    if "unable to open" in reason:
        return f"cannot open archive {path} ({reason}); check that it and its folder are readable"
    return f"cannot read archive {path}: {reason}"


def archive_paths() -> list[Path]:
    """Return the archive file of every run directory, sorted by run id."""
    return sorted(runs_dir().glob(f"*/{ARCHIVE_FILE}"))


def database_urls() -> list[URL]:
    """Return each PostgreSQL database that contains runs: those named by the run
    directories' ``archive.url`` files, then EVOLARIUM_ARCHIVE_URL, each once."""
    urls: dict[str, URL] = {}
    for run_dir in sorted(runs_dir().glob("*/")):
        url = _database_of(run_dir)
        if url is not None:
            urls.setdefault(public_url(url), url)
    env = environment_url()
    if env is not None:
        urls.setdefault(public_url(env), env)
    return list(urls.values())


def archive_targets() -> list[ArchiveTarget]:
    """Return every archive that contains runs: the SQLite files, then the databases."""
    return [*archive_paths(), *database_urls()]


def known_runs() -> dict[str, ArchiveTarget]:
    """Map each run id to its archive.

    A run directory's own archive wins. Runs found only in the database of
    EVOLARIUM_ARCHIVE_URL come last; when that database cannot be read, its runs are
    missing and the reason is logged.
    """
    runs: dict[str, ArchiveTarget] = {}
    for run_dir in sorted(runs_dir().glob("*/")):
        path = run_dir / ARCHIVE_FILE
        if path.is_file():
            runs[run_dir.name] = path
            continue
        url = _database_of(run_dir)
        if url is not None:
            runs[run_dir.name] = url

    env = environment_url()
    if env is not None:
        try:
            ids = database_run_ids(env)
        except ArchiveError as error:
            log.warning("cannot list the runs in %s: %s", public_url(env), error)
            ids = []
        for run_id in ids:
            runs.setdefault(run_id, env)
    return runs


def _database_of(run_dir: Path) -> URL | None:
    """Return the database named by a run directory's ``archive.url``; log and skip a
    file that does not hold a valid PostgreSQL URL."""
    try:
        return read_url_file(run_dir)
    except ArchiveError as error:
        log.warning("skipped run directory %s: %s", run_dir, error)
        return None


def database_run_ids(url: URL) -> list[str]:
    """Return the ids of the runs stored in a PostgreSQL archive."""
    archive = open_archive(url)
    try:
        with archive.engine.connect() as connection:
            return list(connection.execute(select(Run.id).order_by(Run.id)).scalars())
    finally:
        archive.close()


def locate_run(query: str) -> tuple[str, ArchiveTarget]:
    """Find a run by id or unique id prefix; return (run id, its archive file or URL).

    An unknown id raises an ArchiveError that suggests the closest run ids.
    """
    if not query:
        raise ArchiveError("the run id is empty; `evolarium runs` lists the runs")
    runs = known_runs()
    names = list(runs)
    if query in runs:
        return query, runs[query]
    matches = [name for name in names if name.startswith(query)]
    if len(matches) == 1:
        return matches[0], runs[matches[0]]
    if matches:
        raise ArchiveError(
            f"run id {query!r} matches several runs: {_some(matches)}; give more of the id"
        )
    raise ArchiveError(f"run not found: {query}{_hint(query, names, 'runs')}")


@dataclass(frozen=True)
class AgentLocation:
    """The storage location of an agent: its full id, its run, and the run's archive
    (a SQLite file, or a PostgreSQL URL)."""

    agent_id: str
    run_id: str
    path: ArchiveTarget


def locate_agent(query: str) -> AgentLocation:
    """Find an agent by id or unique id prefix in every run's archive.

    Archives that cannot be read are skipped during the search, and the first one's
    reason is in the error when the agent is not found.
    """
    if not query:
        raise ArchiveError("the agent id is empty; `evolarium tree RUN` lists a run's agents")
    known: list[AgentLocation] = []
    unreadable: list[str] = []
    for path in archive_targets():
        try:
            known.extend(_agent_locations(path))
        except ArchiveError as error:
            where = describe_target(path)
            log.debug("skipped %s while searching for agent %s: %s", where, query, error)
            unreadable.append(str(error))

    exact = [location for location in known if location.agent_id == query]
    matches = exact or [location for location in known if location.agent_id.startswith(query)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = [f"{location.agent_id} (run {location.run_id})" for location in matches]
        raise ArchiveError(
            f"agent id {query!r} matches several agents: {_some(names)}; give more of the id"
        )

    hint = _hint(query, [location.agent_id for location in known], "agents")
    if unreadable:
        hint += (
            f"; {len(unreadable)} archives could not be searched, the first because {unreadable[0]}"
        )
    raise ArchiveError(f"agent not found: {query}{hint}")


def _agent_locations(path: ArchiveTarget) -> list[AgentLocation]:
    archive = open_archive(path)
    try:
        with archive.engine.connect() as connection:
            rows = connection.execute(select(Agent.id, Agent.run_id)).all()
    finally:
        archive.close()
    return [AgentLocation(agent_id=row[0], run_id=row[1], path=path) for row in rows]


def _hint(query: str, candidates: list[str], noun: str) -> str:
    close = _close_matches(query, sorted(set(candidates)))
    if close:
        return f"; did you mean {' or '.join(close)}?"
    if not candidates:
        return f"; there are no {noun} under {runs_dir()}"
    return f"; `evolarium runs` lists the runs under {runs_dir()}"


def _close_matches(query: str, candidates: list[str]) -> list[str]:
    """Return the candidates most similar to ``query`` by difflib, or else those that share
    the longest prefix of it, of at least 2 characters.

    Ids are random, so a typo in a short prefix leaves too little for difflib to compare.
    """
    close = difflib.get_close_matches(query, candidates, n=SUGGESTIONS, cutoff=0.6)
    if close:
        return close
    for length in range(len(query) - 1, 1, -1):
        sharing = [name for name in candidates if name.startswith(query[:length])]
        if sharing:
            return sharing[:SUGGESTIONS]
    return []


def _some(names: list[str], shown: int = 5) -> str:
    listed = ", ".join(names[:shown])
    rest = len(names) - shown
    return f"{listed} and {rest} more" if rest > 0 else listed
