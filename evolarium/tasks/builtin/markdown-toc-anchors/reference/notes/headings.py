"""ATX headings ("# Title", "## Section") in Markdown text."""

import re

HEADING = re.compile(r"^(#{1,6})[ \t]+(.*)$")
# An optional closing sequence of "#" characters, which must follow a space or tab.
CLOSING = re.compile(r"(^|[ \t]+)#+[ \t]*$")
FENCES = ("```", "~~~")


def parse_heading(line: str) -> tuple[int, str] | None:
    """Return (level, title) when ``line`` is a heading, else None."""
    match = HEADING.match(line)
    if not match:
        return None
    title = CLOSING.sub("", match.group(2).strip())
    return len(match.group(1)), title.strip()


def extract_headings(markdown: str) -> list[tuple[int, str]]:
    """Return (level, title) for every heading in ``markdown``, in document order.

    Lines inside fenced code blocks are code, not headings.
    """
    result = []
    in_code = False
    for line in markdown.splitlines():
        if line.startswith(FENCES):
            in_code = not in_code
            continue
        heading = None if in_code else parse_heading(line)
        if heading:
            result.append(heading)
    return result
