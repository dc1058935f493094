"""Words of a text: runs of letters and digits, lowercased."""

import re

WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Return the words of ``text`` in order: "Brown-fox, 2!" gives ["brown", "fox", "2"]."""
    return WORD.findall(text.lower())
