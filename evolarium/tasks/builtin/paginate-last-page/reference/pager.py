"""Splitting sequences into numbered pages, starting at page 1."""


def _check_per_page(per_page: int) -> None:
    if per_page < 1:
        raise ValueError(f"per_page must be at least 1, got {per_page}")


def page_count(total: int, per_page: int) -> int:
    """Return how many pages total items fill at per_page items a page."""
    _check_per_page(per_page)
    return (total + per_page - 1) // per_page


def get_page(items: list, page: int, per_page: int) -> list:
    """Return the items on the given page, or [] for a page past the last one."""
    _check_per_page(per_page)
    if page < 1:
        raise ValueError(f"page numbers start at 1, got {page}")

    start = (page - 1) * per_page
    return items[start:start + per_page]
