"""Prepare host directories for read-only bind mounts into a sandbox."""

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from evolarium.errors import EvolariumError

MB = 1024 * 1024


class StagingError(EvolariumError):
    """A directory cannot be staged for a sandbox: a link leaves it, or it is too large."""


def copy_inside(
    source: Path,
    dest: Path,
    *,
    max_bytes: int,
    ignore: Callable[[str, list[str]], set[str]] | None = None,
) -> None:
    """Copy ``source`` to ``dest`` for a sandbox, refusing what must not reach one.

    A symlink is copied as the file it points to only if that file lies inside
    ``source``; a link that leaves it, a FIFO or a device, and a tree larger
    than ``max_bytes`` raise ``StagingError`` naming the path and the fix.
    """
    check_tree(source, max_bytes=max_bytes, ignore=ignore)
    shutil.copytree(source, dest, symlinks=False, ignore=ignore)


def check_tree(
    source: Path,
    *,
    max_bytes: int,
    ignore: Callable[[str, list[str]], set[str]] | None = None,
) -> None:
    """Raise ``StagingError`` if ``source`` cannot be copied into a sandbox."""
    total = sum(_checked_size(path, source) for path in _walk(source, ignore))
    if total > max_bytes:
        raise StagingError(
            f"{source} contains {total / MB:.1f} MB, over the {max_bytes / MB:.0f} MB sandbox "
            f"workspace; make it smaller or raise the limit with --workspace-mb"
        )


def share_read_only(root: Path) -> None:
    """Let the unprivileged sandbox user read ``root`` through a bind mount.

    Temporary directories are created with mode 0700 and owned by the host
    user, so without this the sandbox user (uid 1000) could not read them.
    """
    root.chmod(0o755)
    for path in root.rglob("*"):
        if path.is_symlink():
            continue
        path.chmod(0o755 if path.is_dir() else 0o644)


def _walk(source: Path, ignore: Callable[[str, list[str]], set[str]] | None):
    """Yield every path under ``source`` that ``ignore`` keeps, without following links."""
    for directory, dirs, files in os.walk(source):
        skipped = ignore(directory, dirs + files) if ignore else set()
        dirs[:] = [name for name in dirs if name not in skipped]
        for name in dirs + files:
            if name not in skipped:
                yield Path(directory, name)


def _checked_size(path: Path, source: Path) -> int:
    """Return the bytes ``path`` adds to a copy, or raise if it must not be copied."""
    if path.is_symlink():
        if path.is_dir():
            raise StagingError(
                f"{path} is a link to a directory; replace it with the directory's files"
            )
        target = path.resolve()
        if not target.is_relative_to(source.resolve()):
            raise StagingError(
                f"{path} is a link to {target}, outside {source}; a sandbox gets only "
                f"what is inside it: copy the file there or remove the link"
            )
    if path.is_dir():
        return 0
    if not path.is_file():
        raise StagingError(f"{path} is not a regular file or directory; remove it from {source}")
    return path.stat().st_size
