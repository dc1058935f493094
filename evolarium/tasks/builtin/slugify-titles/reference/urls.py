"""Paths of public pages."""

from slug import slugify


def article_path(article_id: int, title: str) -> str:
    """Return the path of an article page: its id followed by the slug of its title.

    A title without letters or digits gives the bare id.
    """
    slug = slugify(title)
    if not slug:
        return f"/articles/{article_id}"
    return f"/articles/{article_id}-{slug}"
