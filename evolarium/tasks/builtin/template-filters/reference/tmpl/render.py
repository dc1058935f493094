"""Placeholder substitution for `{{ name | filter | ... }}` templates."""

import re
from typing import Any

from tmpl.filters import FILTERS

_PLACEHOLDER = re.compile(r"\{\{\s*(?P<name>[\w.]+)\s*(?P<filters>(?:\|\s*\w+\s*)*)\}\}")


def _lookup(context: dict[str, Any], name: str) -> Any:
    value: Any = context
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"template name {name!r} is not in the context")
        value = value[part]
    return value


def _apply_filters(value: str, filters: str) -> str:
    for filter_name in (part.strip() for part in filters.split("|")[1:]):
        if filter_name not in FILTERS:
            known = ", ".join(sorted(FILTERS))
            raise ValueError(f"unknown template filter {filter_name!r}; known filters: {known}")
        value = FILTERS[filter_name](value)
    return value


def render(template: str, context: dict[str, Any]) -> str:
    """Return template with every placeholder replaced by its value from context.

    Values are inserted as they are, so placeholders inside values are not expanded.
    """

    def substitute(match: re.Match) -> str:
        value = str(_lookup(context, match.group("name")))
        return _apply_filters(value, match.group("filters"))

    return _PLACEHOLDER.sub(substitute, template)
