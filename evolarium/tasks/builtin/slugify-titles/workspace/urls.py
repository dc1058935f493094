"""Paths of public pages."""

from slug import slugify


def article_path(article_id: int, title: str) -> str:
    """Return the path of an article page: its id followed by the slug of its title."""
    return f"/articles/{article_id}-{slugify(title)}"
