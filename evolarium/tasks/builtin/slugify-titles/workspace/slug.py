"""Slugs: the readable, URL-safe part of an article address."""


def slugify(title: str) -> str:
    """Return the URL slug for an article title."""
    return title.strip().lower().replace(" ", "-")
