"""ATX headings ("# Title", "## Section") in Markdown text."""

import re

HEADING = re.compile(r"^(#{1,6})[ \t]+(.*)$")


def parse_heading(line: str) -> tuple[int, str] | None:
    """Return (level, title) when ``line`` is a heading, else None."""
    match = HEADING.match(line)
    if not match:
        return None
    return len(match.group(1)), match.group(2).strip()


def extract_headings(markdown: str) -> list[tuple[int, str]]:
    """Return (level, title) for every heading in ``markdown``, in document order."""
    result = []
    for line in markdown.splitlines():
        heading = parse_heading(line)
        if heading:
            result.append(heading)
    return result
