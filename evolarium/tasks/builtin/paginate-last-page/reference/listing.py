"""Plain-text product listing, one page at a time."""

from pager import get_page, page_count


def render_listing(names: list[str], page: int, per_page: int) -> str:
    """Return the names on a page, one per line, and a "Page P of N" footer.

    An empty catalogue still has one (empty) page.
    """
    lines = list(get_page(names, page, per_page))
    pages = max(page_count(len(names), per_page), 1)
    lines.append(f"Page {page} of {pages}")
    return "\n".join(lines)
