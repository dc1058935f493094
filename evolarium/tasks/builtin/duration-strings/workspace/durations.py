"""Duration strings such as "1h30m" and their length in seconds."""

import re

_PART = re.compile(r"(\d+)([hms])")
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> int:
    """Return the number of seconds in a duration string."""
    total = 0
    for amount, unit in _PART.findall(text):
        total += int(amount) * _UNIT_SECONDS[unit]
    return total


def format_duration(seconds: int) -> str:
    """Return the duration string for a number of seconds."""
    parts = []
    for unit, size in _UNIT_SECONDS.items():
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)
