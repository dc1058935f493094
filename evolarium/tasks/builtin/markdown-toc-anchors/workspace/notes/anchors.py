"""Anchor ids for headings, so that links can point into a page."""

import re


def slugify(title: str) -> str:
    """Return the anchor id for a heading title, such as "getting-started"."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


class AnchorSet:
    """The anchor ids of one page, kept unique in document order."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def add(self, title: str) -> str:
        """Return a new anchor id for ``title``, unique within this page."""
        anchor = slugify(title)
        count = self._counts.get(anchor, 0)
        self._counts[anchor] = count + 1
        if count:
            return f"{anchor}-{count + 1}"
        return anchor
