"""Splitting sequences into numbered pages."""


def page_count(total: int, per_page: int) -> int:
    """Return how many pages total items fill at per_page items a page."""
    return total // per_page


def get_page(items: list, page: int, per_page: int) -> list:
    """Return the items on the given page."""
    start = page * per_page
    return items[start:start + per_page]
