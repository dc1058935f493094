"""Create and open run directories."""

import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from evolarium.archive import ARCHIVE_FILE, Archive, Run
from evolarium.errors import ArchiveError
from evolarium.evolve.config import RunConfig
from evolarium.paths import runs_dir


def new_run_id() -> str:
    return datetime.now(UTC).strftime("r%Y%m%d-%H%M%S-") + secrets.token_hex(2)


def create_run(config: RunConfig) -> tuple[str, Path, Archive]:
    """Create a run directory with a new archive and the run's row; return (id, dir, archive)."""
    run_id = new_run_id()
    run_dir = runs_dir() / run_id
    archive = Archive.create(run_dir / ARCHIVE_FILE)
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


def find_run(run_id: str) -> tuple[str, Path]:
    """Find a run directory by id or unique id prefix; return (id, archive path)."""
    root = runs_dir()
    exact = root / run_id / ARCHIVE_FILE
    if exact.is_file():
        return run_id, exact
    matches = sorted(p.name for p in root.glob(f"{run_id}*") if (p / ARCHIVE_FILE).is_file())
    if len(matches) == 1:
        return matches[0], root / matches[0] / ARCHIVE_FILE
    if len(matches) > 1:
        raise ArchiveError(f"run id {run_id!r} is ambiguous: {', '.join(matches[:5])}")
    known = sorted(p.name for p in root.glob("r*") if (p / ARCHIVE_FILE).is_file())
    hint = f"; recent runs: {', '.join(known[-3:])}" if known else f"; no runs under {root}"
    raise ArchiveError(f"run not found: {run_id}{hint}")
