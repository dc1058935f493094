"""Content-addressed snapshots of directories (agent code, final workspaces).

The hash covers each file's relative path, executable bit and bytes, so it does
not depend on timestamps, owners or compression.
"""

import hashlib
import io
import os
import tarfile
from pathlib import Path

IGNORED_NAMES = {"__pycache__", ".git", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
IGNORED_SUFFIXES = {".pyc", ".pyo"}


def _files(root: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_NAMES)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.suffix in IGNORED_SUFFIXES or path.is_symlink() or not path.is_file():
                continue
            found.append(path)
    return found


def hash_dir(root: Path) -> str:
    """Return the content hash (sha256 hex) of a directory tree."""
    digest = hashlib.sha256()
    for path in _files(root):
        # fsencode keeps names that are not valid UTF-8 as their original bytes.
        relative = os.fsencode(path.relative_to(root).as_posix())
        executable = os.access(path, os.X_OK)
        digest.update(relative + f"\0{int(executable)}\0".encode())
        data = path.read_bytes()
        digest.update(f"{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def pack_dir(root: Path) -> tuple[str, bytes]:
    """Pack a directory into a deterministic gzip tar; return (hash, bytes)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for path in _files(root):
            info = tarfile.TarInfo(path.relative_to(root).as_posix())
            data = path.read_bytes()
            info.size = len(data)
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return hash_dir(root), buffer.getvalue()


def unpack(data: bytes, dest: Path) -> None:
    """Unpack a snapshot made by ``pack_dir`` into ``dest`` (created if missing)."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(dest, filter="data")
