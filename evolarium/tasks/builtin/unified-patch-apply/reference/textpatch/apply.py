"""Apply unified diffs to text."""

import re
from dataclasses import dataclass, field

HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class PatchError(ValueError):
    """Raised for a malformed patch or one that does not fit the text."""


@dataclass
class Hunk:
    """One hunk: where it claims to start, and the lines it expects and produces."""

    number: int
    old_start: int
    old_count: int
    new_count: int
    old_lines: list[str] = field(default_factory=list)
    new_lines: list[str] = field(default_factory=list)


def apply_patch(text: str, patch: str) -> str:
    """Return ``text`` with the unified diff ``patch`` applied.

    Raises PatchError when the patch is malformed or a hunk's context and removed lines are
    not found in ``text``.
    """
    lines = text.splitlines(keepends=True)
    output: list[str] = []
    cursor = 0
    for hunk in parse_hunks(patch):
        position = _find(lines, hunk, cursor)
        output.extend(lines[cursor:position])
        output.extend(hunk.new_lines)
        cursor = position + len(hunk.old_lines)
    output.extend(lines[cursor:])
    return "".join(output)


def parse_hunks(patch: str) -> list[Hunk]:
    """Return the hunks of ``patch``; lines outside hunks are ignored."""
    hunks: list[Hunk] = []
    current: Hunk | None = None
    sides: tuple[list[str], ...] = ()
    for line in patch.splitlines(keepends=True):
        match = HUNK_HEADER.match(line)
        if match:
            _check_counts(current)
            current = _new_hunk(match, len(hunks) + 1)
            hunks.append(current)
            sides = ()
        elif current is None:
            continue
        elif line.startswith("\\"):
            sides = _strip_newline(sides, current.number)
        elif _complete(current):
            # Lines after a complete hunk, such as the headers of the next file, are ignored.
            continue
        else:
            sides = _add_line(current, line)
    _check_counts(current)
    return hunks


def _new_hunk(match: re.Match, number: int) -> Hunk:
    old_start, old_count, _new_start, new_count = match.groups()
    return Hunk(
        number=number,
        old_start=int(old_start),
        old_count=1 if old_count is None else int(old_count),
        new_count=1 if new_count is None else int(new_count),
    )


def _add_line(hunk: Hunk, line: str) -> tuple[list[str], ...]:
    # Some editors strip the single space of an empty context line.
    if line in ("\n", "\r\n"):
        line = " " + line
    marker, content = line[:1], line[1:]
    if marker == " ":
        sides = (hunk.old_lines, hunk.new_lines)
    elif marker == "-":
        sides = (hunk.old_lines,)
    elif marker == "+":
        sides = (hunk.new_lines,)
    else:
        raise PatchError(f"hunk {hunk.number}: invalid line {line!r}")
    for side in sides:
        side.append(content)
    return sides


def _strip_newline(sides: tuple[list[str], ...], number: int) -> tuple[list[str], ...]:
    # "\ No newline at end of file" applies to the line just before it.
    if not sides:
        raise PatchError(f"hunk {number}: '\\' line without a line before it")
    for side in sides:
        side[-1] = side[-1].removesuffix("\n")
    return ()


def _complete(hunk: Hunk) -> bool:
    return len(hunk.old_lines) == hunk.old_count and len(hunk.new_lines) == hunk.new_count


def _check_counts(hunk: Hunk | None) -> None:
    if hunk is not None and not _complete(hunk):
        raise PatchError(
            f"hunk {hunk.number}: header counts {hunk.old_count},{hunk.new_count} but the "
            f"hunk has {len(hunk.old_lines)},{len(hunk.new_lines)} lines"
        )


def _find(lines: list[str], hunk: Hunk, cursor: int) -> int:
    """Return where the hunk's old lines start in ``lines``, nearest its stated position.

    A hunk never matches before ``cursor``, the end of the previous hunk.
    """
    expected = hunk.old_start - 1 if hunk.old_count else hunk.old_start
    size = len(hunk.old_lines)
    last = len(lines) - size
    for distance in range(0, len(lines) + 1):
        for position in (expected - distance, expected + distance):
            if cursor <= position <= last and lines[position : position + size] == hunk.old_lines:
                return position
    raise PatchError(f"hunk {hunk.number} does not apply: its context was not found")
