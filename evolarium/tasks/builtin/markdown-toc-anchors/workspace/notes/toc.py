"""A Markdown table of contents that links to the anchors of the rendered page."""

from notes.anchors import AnchorSet
from notes.headings import extract_headings


def table_of_contents(markdown: str, max_level: int = 3) -> str:
    """Return a nested Markdown list linking to every heading up to ``max_level``."""
    anchors = AnchorSet()
    lines = []
    for level, title in extract_headings(markdown):
        anchor = anchors.add(title)
        if level <= max_level:
            lines.append(f"{'  ' * (level - 1)}- [{title}](#{anchor})")
    return "\n".join(lines)
