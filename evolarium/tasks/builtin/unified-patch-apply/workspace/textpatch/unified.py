"""Write unified diffs, as produced by "diff -u"."""

from textpatch.lcs import diff_ops

PREFIX = {"equal": " ", "delete": "-", "insert": "+"}
NO_NEWLINE = "\\ No newline at end of file\n"


def unified_diff(
    old: str, new: str, context: int = 3, old_name: str = "a", new_name: str = "b"
) -> str:
    """Return the unified diff from ``old`` to ``new``, or "" when they are equal.

    Each hunk shows up to ``context`` unchanged lines around the changes. A last line without
    a newline is followed by the line "\\ No newline at end of file".
    """
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    ops = diff_ops(old_lines, new_lines)
    changes = [index for index, op in enumerate(ops) if op[0] != "equal"]
    if not changes:
        return ""

    output = [f"--- {old_name}\n", f"+++ {new_name}\n"]
    for start, end in _hunk_ranges(changes, len(ops), context):
        part = ops[start:end]
        output.append(_hunk_header(part))
        for tag, i, j in part:
            line = new_lines[j] if tag == "insert" else old_lines[i]
            output.append(PREFIX[tag] + line)
            if not line.endswith("\n"):
                output.append("\n" + NO_NEWLINE)
    return "".join(output)


def _hunk_ranges(changes: list[int], length: int, context: int) -> list[tuple[int, int]]:
    # Changes whose context would touch or overlap share one hunk.
    ranges = []
    start = max(0, changes[0] - context)
    end = min(length, changes[0] + 1 + context)
    for index in changes[1:]:
        if index - context <= end:
            end = min(length, index + 1 + context)
        else:
            ranges.append((start, end))
            start, end = index - context, min(length, index + 1 + context)
    ranges.append((start, end))
    return ranges


def _hunk_header(part: list[tuple[str, int, int]]) -> str:
    old_count = sum(1 for tag, _, _ in part if tag != "insert")
    new_count = sum(1 for tag, _, _ in part if tag != "delete")
    # An empty side names the line before the hunk, as "diff -u" does.
    old_start = part[0][1] + (1 if old_count else 0)
    new_start = part[0][2] + (1 if new_count else 0)
    return f"@@ -{old_start},{old_count} +{new_start},{new_count} @@\n"
