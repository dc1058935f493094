"""Anchor ids for headings, so that links can point into a page."""


def slugify(title: str) -> str:
    """Return the anchor id for a heading title, such as "getting-started".

    The title is lowercased, every character other than a letter, digit, space, hyphen or
    underscore is dropped, and each space becomes a hyphen.
    """
    kept = "".join(char for char in title.lower() if char.isalnum() or char in " -_")
    return kept.replace(" ", "-")


class AnchorSet:
    """The anchor ids of one page, kept unique in document order."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def add(self, title: str) -> str:
        """Return a new anchor id for ``title``, unique within this page.

        A taken id gets the first suffix -1, -2, ... that gives an id not taken yet.
        """
        base = slugify(title)
        anchor = base
        suffix = 0
        while anchor in self._taken:
            suffix += 1
            anchor = f"{base}-{suffix}"
        self._taken.add(anchor)
        return anchor
