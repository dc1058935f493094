"""Slugs: the readable, URL-safe part of an article address."""

import re
import unicodedata

_SEPARATOR_RUN = re.compile(r"[^a-z0-9]+")


def slugify(title: str) -> str:
    """Return the URL slug for an article title.

    The slug contains lowercase ASCII letters, digits and single hyphens, with accents
    removed. It is empty when the title has no letters or digits.
    """
    decomposed = unicodedata.normalize("NFKD", title)
    ascii_only = decomposed.encode("ascii", "ignore").decode("ascii")
    hyphenated = _SEPARATOR_RUN.sub("-", ascii_only.lower())
    return hyphenated.strip("-")
