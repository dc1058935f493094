"""Three-way merge of text and of directory trees.

``merge_text`` aligns each side with the common base by ``difflib.SequenceMatcher``.
A base line that both sides kept is a sync point, and the lines between two sync
points form a chunk. A chunk that only one side changed takes that side's lines, a
chunk that both sides changed the same way takes those lines, and any other chunk is
a conflict, written with git's diff3-style markers::

    <<<<<<< ours
    (our lines)
    ||||||| base
    (the base lines)
    =======
    (their lines)
    >>>>>>> theirs

Like git, the merge also reports a conflict when both sides change adjacent lines,
because no line that both sides kept separates the two changes.
"""

import difflib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from evolarium.archive.snapshot import IGNORED_NAMES, IGNORED_SUFFIXES

log = logging.getLogger(__name__)

MARKER_OURS = "<<<<<<< ours"
MARKER_BASE = "||||||| base"
MARKER_SEPARATOR = "======="
MARKER_THEIRS = ">>>>>>> theirs"

# Lines that only a conflict region starts or ends with. The separator line is left out
# because "=======" also underlines headings in reStructuredText and Markdown files.
LEFTOVER_MARKERS = (MARKER_OURS, MARKER_BASE, MARKER_THEIRS)


@dataclass
class MergedText:
    """The result of a three-way text merge."""

    text: str
    conflicts: int
    """Number of conflict regions written with markers into ``text``."""


@dataclass
class TreeMerge:
    """The result of a three-way merge of directory trees, with relative POSIX paths."""

    merged: list[str] = field(default_factory=list)
    """Files that both sides changed and that merged line by line with no conflict."""
    one_sided: list[str] = field(default_factory=list)
    """Files that were added, removed or changed on one side only, or the same way on both.
    Files that neither side changed are in no list."""
    conflicts: dict[str, int] = field(default_factory=dict)
    """Text files written with conflict markers, with the number of conflict regions."""
    kept_ours: list[str] = field(default_factory=list)
    """Files that both sides changed differently but that are binary or not UTF-8, and
    files that clash with a directory. Ours is kept, or theirs where ours removed it."""

    @property
    def clean(self) -> bool:
        return not self.conflicts and not self.kept_ours


def merge_text(base: str, ours: str, theirs: str) -> MergedText:
    """Merge the changes from ``base`` to ``ours`` and from ``base`` to ``theirs``."""
    base_lines = split_lines(base)
    ours_lines = split_lines(ours)
    theirs_lines = split_lines(theirs)
    ours_map = _matched_lines(base_lines, ours_lines)
    theirs_map = _matched_lines(base_lines, theirs_lines)

    output: list[str] = []
    conflicts = 0
    base_at = ours_at = theirs_at = 0
    for sync in [*_sync_points(ours_map, theirs_map), None]:
        base_end = len(base_lines) if sync is None else sync
        ours_end = len(ours_lines) if sync is None else ours_map[sync]
        theirs_end = len(theirs_lines) if sync is None else theirs_map[sync]

        chunk_lines, conflicted = _resolve_chunk(
            base_lines[base_at:base_end],
            ours_lines[ours_at:ours_end],
            theirs_lines[theirs_at:theirs_end],
        )
        output.extend(chunk_lines)
        conflicts += conflicted

        if sync is None:
            break
        output.append(base_lines[sync])
        base_at, ours_at, theirs_at = sync + 1, ours_end + 1, theirs_end + 1

    return MergedText(text="".join(output), conflicts=conflicts)


def split_lines(text: str) -> list[str]:
    """Split ``text`` after each newline; joining the result gives ``text`` back."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def has_conflict_markers(text: str) -> bool:
    """Return whether a line of ``text`` starts with a conflict marker of ``merge_text``."""
    return any(line.startswith(LEFTOVER_MARKERS) for line in text.split("\n"))


def _matched_lines(base: list[str], side: list[str]) -> dict[int, int]:
    # With autojunk (difflib, Python 3.11), a line that makes up more than 1% of a side
    # of 200 or more lines cannot anchor a match, which turns clean merges into conflicts.
    matcher = difflib.SequenceMatcher(None, base, side, autojunk=False)
    matched = {}
    for block in matcher.get_matching_blocks():
        for offset in range(block.size):
            matched[block.a + offset] = block.b + offset
    return matched


def _sync_points(ours_map: dict[int, int], theirs_map: dict[int, int]) -> list[int]:
    # Matching blocks are increasing in both sequences, so the sync points are too.
    return sorted(set(ours_map) & set(theirs_map))


def _resolve_chunk(base: list[str], ours: list[str], theirs: list[str]) -> tuple[list[str], int]:
    if ours == theirs:
        return ours, 0
    if ours == base:
        return theirs, 0
    if theirs == base:
        return ours, 0
    region = [MARKER_OURS + "\n", *_closed(ours), MARKER_BASE + "\n", *_closed(base)]
    region += [MARKER_SEPARATOR + "\n", *_closed(theirs), MARKER_THEIRS + "\n"]
    return region, 1


def _closed(lines: list[str]) -> list[str]:
    # A last line without a newline would run into the next marker.
    if lines and not lines[-1].endswith("\n"):
        return [*lines[:-1], lines[-1] + "\n"]
    return lines


def merge_trees(base_dir: Path, ours_dir: Path, theirs_dir: Path, dest: Path) -> TreeMerge:
    """Write the three-way merge of two directory trees into ``dest`` (created).

    Caches (``__pycache__``, ``*.pyc`` and the other names that code snapshots ignore),
    symbolic links and special files are left out, as snapshots leave them out.
    """
    base = _tree_files(base_dir)
    ours = _tree_files(ours_dir)
    theirs = _tree_files(theirs_dir)
    result = TreeMerge()
    chosen: dict[str, tuple[bytes, bool]] = {}

    for name in sorted(set(base) | set(ours) | set(theirs)):
        merged = _merge_file(name, base.get(name), ours.get(name), theirs.get(name), result)
        if merged is not None:
            chosen[name] = merged

    for name in _directory_clashes(chosen, ours):
        del chosen[name]
        _forget(result, name)
        result.kept_ours.append(name)

    _write_tree(dest, chosen)
    log.info(
        "merged trees: %d merged, %d taken from one side, %d with conflicts, %d kept ours",
        len(result.merged),
        len(result.one_sided),
        len(result.conflicts),
        len(result.kept_ours),
    )
    return result


@dataclass(frozen=True)
class _File:
    data: bytes
    executable: bool


def _tree_files(root: Path) -> dict[str, _File]:
    files = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [name for name in dirnames if name not in IGNORED_NAMES]
        for name in filenames:
            path = Path(dirpath) / name
            if path.suffix in IGNORED_SUFFIXES or path.is_symlink() or not path.is_file():
                continue
            relative = path.relative_to(root).as_posix()
            files[relative] = _File(path.read_bytes(), os.access(path, os.X_OK))
    return files


def _merge_file(
    name: str,
    base: _File | None,
    ours: _File | None,
    theirs: _File | None,
    result: TreeMerge,
) -> tuple[bytes, bool] | None:
    """Merge one path; return its bytes and executable bit, or None when it is removed."""
    one_sided = _one_sided(base, ours, theirs)
    if one_sided is not None:
        if base != ours or ours != theirs:
            result.one_sided.append(name)
        return None if one_sided.file is None else _content(one_sided.file)

    executable = _merge_flag(base, ours, theirs)
    texts = [_as_text(side) for side in (base, ours, theirs)]
    if any(text is None for text in texts):
        result.kept_ours.append(name)
        kept = ours if ours is not None else theirs
        return kept.data, kept.executable

    # A side that removed the file counts as emptying it, so a removal against an edit
    # becomes a conflict region that shows the edited lines against no lines.
    merged = merge_text(*texts)
    if merged.conflicts:
        result.conflicts[name] = merged.conflicts
    else:
        result.merged.append(name)
    return merged.text.encode("utf-8"), executable


@dataclass(frozen=True)
class _Choice:
    file: _File | None


def _one_sided(base: _File | None, ours: _File | None, theirs: _File | None) -> _Choice | None:
    # Returns the side to take when at most one side differs from base, else None.
    if ours == theirs:
        return _Choice(ours)
    if ours == base:
        return _Choice(theirs)
    if theirs == base:
        return _Choice(ours)
    return None


def _merge_flag(base: _File | None, ours: _File | None, theirs: _File | None) -> bool:
    flags = [side.executable if side is not None else None for side in (base, ours, theirs)]
    base_flag, ours_flag, theirs_flag = flags
    if ours_flag is None:
        return bool(theirs_flag)
    if theirs_flag is None or theirs_flag == base_flag:
        return ours_flag
    return theirs_flag


def _as_text(side: _File | None) -> str | None:
    if side is None:
        return ""
    if b"\0" in side.data:
        return None
    try:
        return side.data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _content(file: _File) -> tuple[bytes, bool]:
    return file.data, file.executable


def _directory_clashes(chosen: dict[str, tuple[bytes, bool]], ours: dict[str, _File]) -> list[str]:
    """Return chosen files that clash with a chosen file's directory and are not in ours.

    One side can turn a file ``x`` into a directory ``x/`` while the other edits ``x``.
    Ours is a real tree, so dropping the clashing paths that ours lacks leaves a tree
    that can be written.
    """
    directories = {parent for name in chosen for parent in _parents(name)}
    files = set(chosen)
    clashes = []
    for name in chosen:
        clashing = name in directories or any(parent in files for parent in _parents(name))
        if clashing and name not in ours:
            clashes.append(name)
    return clashes


def _parents(name: str) -> Iterator[str]:
    parts = name.split("/")
    for end in range(1, len(parts)):
        yield "/".join(parts[:end])


def _forget(result: TreeMerge, name: str) -> None:
    result.conflicts.pop(name, None)
    for names in (result.merged, result.one_sided, result.kept_ours):
        if name in names:
            names.remove(name)


def _write_tree(dest: Path, files: dict[str, tuple[bytes, bool]]) -> None:
    dest.mkdir(parents=True)
    for name, (data, executable) in sorted(files.items()):
        path = dest / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if executable:
            path.chmod(path.stat().st_mode | 0o111)
