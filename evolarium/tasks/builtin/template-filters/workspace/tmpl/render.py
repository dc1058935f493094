"""Placeholder substitution for `{{ name }}` templates."""

import re
from typing import Any


def render(template: str, context: dict[str, Any]) -> str:
    """Return template with every placeholder replaced by its value from context."""
    result = template
    for name in re.findall(r"\{\{\s*(\w+)\s*\}\}", template):
        pattern = r"\{\{\s*" + name + r"\s*\}\}"
        result = re.sub(pattern, str(context[name]), result)
    return result
