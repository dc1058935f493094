"""Find runs and agents by id or prefix, and open their archives read-only.

Every database error, in the open or in a later read, becomes an ArchiveError
with a one-line message that names the file and what to do next.
"""

import difflib
import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sqlalchemy import event, select

from evolarium.archive.models import Agent
from evolarium.archive.store import ARCHIVE_FILE, Archive
from evolarium.errors import ArchiveError
from evolarium.paths import runs_dir

log = logging.getLogger(__name__)

SUGGESTIONS = 3


def open_archive(path: Path) -> Archive:
    """Open an archive read-only, so that a database error in any later read raises an
    ArchiveError with a one-line message."""
    archive = Archive.open_read_only(path)
    event.listen(archive.engine, "handle_error", partial(_raise_archive_error, path))
    return archive


def _raise_archive_error(path: Path, context) -> None:
    raise ArchiveError(describe_error(path, context.original_exception)) from None


def describe_error(path: Path, error: BaseException) -> str:
    """Turn a SQLite error on the archive at ``path`` into a one-line message with a fix."""
    lines = str(error).strip().splitlines()
    reason = lines[0] if lines else type(error).__name__
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


def locate_run(query: str) -> tuple[str, Path]:
    """Find a run by id or unique id prefix; return (run id, archive path).

    An unknown id raises an ArchiveError that suggests the closest run ids.
    """
    if not query:
        raise ArchiveError("the run id is empty; `evolarium runs` lists the runs")
    names = [path.parent.name for path in archive_paths()]
    if query in names:
        return query, runs_dir() / query / ARCHIVE_FILE
    matches = [name for name in names if name.startswith(query)]
    if len(matches) == 1:
        return matches[0], runs_dir() / matches[0] / ARCHIVE_FILE
    if matches:
        raise ArchiveError(
            f"run id {query!r} matches several runs: {_some(matches)}; give more of the id"
        )
    raise ArchiveError(f"run not found: {query}{_hint(query, names, 'runs')}")


@dataclass(frozen=True)
class AgentLocation:
    """The storage location of an agent: its full id, its run, and the run's archive file."""

    agent_id: str
    run_id: str
    path: Path


def locate_agent(query: str) -> AgentLocation:
    """Find an agent by id or unique id prefix in every run's archive.

    Archives that cannot be read are skipped during the search, and the first one's
    reason is in the error when the agent is not found.
    """
    if not query:
        raise ArchiveError("the agent id is empty; `evolarium tree RUN` lists a run's agents")
    known: list[AgentLocation] = []
    unreadable: list[str] = []
    for path in archive_paths():
        try:
            known.extend(_agent_locations(path))
        except ArchiveError as error:
            log.debug("skipped %s while searching for agent %s: %s", path, query, error)
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


def _agent_locations(path: Path) -> list[AgentLocation]:
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
