"""The unified diff between the code of any two agents, from their archived snapshots."""

import difflib
import tempfile
from pathlib import Path

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text

from evolarium.archive.reader import AgentLocation, locate_agent, open_archive
from evolarium.archive.snapshot import unpack


def agent_code_diff(first: str, second: str) -> RenderableType:
    """Render the diff from the code of agent ``first`` to the code of agent ``second``."""
    old = locate_agent(first)
    new = locate_agent(second)
    old_hash, old_data = _snapshot(old)
    new_hash, new_data = _snapshot(new)
    header = Text(
        f"changes from {old.agent_id} (run {old.run_id}) to {new.agent_id} (run {new.run_id})",
        style="bold",
    )
    if old_hash == new_hash:
        return Text(f"{old.agent_id} and {new.agent_id} have the same code ({old_hash[:12]})")

    with tempfile.TemporaryDirectory(prefix="evolarium-diff-") as scratch:
        old_dir = Path(scratch) / "old"
        new_dir = Path(scratch) / "new"
        unpack(old_data, old_dir)
        unpack(new_data, new_dir)
        patch = diff_dirs(old_dir, new_dir)
    return Group(
        header,
        Syntax(patch, "diff", theme="ansi_dark", word_wrap=True, background_color="default"),
    )


def _snapshot(location: AgentLocation) -> tuple[str, bytes]:
    archive = open_archive(location.path)
    try:
        agent = archive.agent(location.agent_id)
        return agent.code_hash, archive.snapshot(agent.code_hash)
    finally:
        archive.close()


def diff_dirs(old: Path, new: Path) -> str:
    """Return a unified diff of two directory trees, file by file in path order."""
    names = sorted(_relative_files(old) | _relative_files(new))
    chunks = []
    for name in names:
        chunks.extend(_diff_file(old / name, new / name, name))
    return "".join(chunks)


def _relative_files(root: Path) -> set[str]:
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}


def _diff_file(old: Path, new: Path, name: str) -> list[str]:
    old_bytes = old.read_bytes() if old.is_file() else None
    new_bytes = new.read_bytes() if new.is_file() else None
    if old_bytes == new_bytes:
        return []
    old_label = f"a/{name}" if old_bytes is not None else "/dev/null"
    new_label = f"b/{name}" if new_bytes is not None else "/dev/null"
    old_text = _text(old_bytes)
    new_text = _text(new_bytes)
    if old_text is None or new_text is None:
        return [f"Binary files {old_label} and {new_label} differ\n"]
    lines = difflib.unified_diff(
        old_text.splitlines(keepends=True),
        new_text.splitlines(keepends=True),
        fromfile=old_label,
        tofile=new_label,
    )
    return [
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    ]


def _text(data: bytes | None) -> str | None:
    """Decode a file as UTF-8; a missing file is empty, and a binary file is None.

    As in git, a file with a NUL byte is binary even when it decodes."""
    if data is None:
        return ""
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
