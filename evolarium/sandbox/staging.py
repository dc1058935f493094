"""Prepare host directories for read-only bind mounts into a sandbox."""

from pathlib import Path


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
