"""Filters that templates can apply to values with `{{ name | filter }}`."""

from collections.abc import Callable

FILTERS: dict[str, Callable[[str], str]] = {
    "upper": str.upper,
    "lower": str.lower,
    "title": str.title,
    "strip": str.strip,
}
