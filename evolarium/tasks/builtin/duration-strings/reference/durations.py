"""Duration strings such as "1d2h30m" and their length in seconds."""

import re

_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}

# Units are optional but ordered d, h, m, s, so each appears at most once.
_DURATION = re.compile(
    r"\s*(?:(?P<d>\d+)d)?\s*(?:(?P<h>\d+)h)?\s*(?:(?P<m>\d+)m)?\s*(?:(?P<s>\d+)s)?\s*"
)
_BARE_SECONDS = re.compile(r"\s*\d+\s*")


def parse_duration(text: str) -> int:
    """Return the seconds in a duration string, or raise ValueError if it is invalid."""
    if _BARE_SECONDS.fullmatch(text):
        return int(text)

    match = _DURATION.fullmatch(text)
    if match is None or not any(match.groupdict().values()):
        raise ValueError(f"invalid duration {text!r}; expected a form like '1d2h30m15s'")

    total = 0
    for unit, amount in match.groupdict().items():
        if amount is not None:
            total += int(amount) * _UNIT_SECONDS[unit]
    return total


def format_duration(seconds: int) -> str:
    """Return the shortest duration string for a non-negative number of seconds."""
    if seconds < 0:
        raise ValueError(f"duration must not be negative, got {seconds}")
    if seconds == 0:
        return "0s"

    parts = []
    for unit, size in _UNIT_SECONDS.items():
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)
