"""Clock times written as H:MM or HH:MM on a 24-hour clock."""


def parse_time(text: str) -> int:
    """Return the minutes since midnight for a time such as "09:30"."""
    return int(text[:2]) * 60 + int(text[3:])


def shift_minutes(start: str, end: str) -> int:
    """Return the length in minutes of a shift that starts at ``start`` and ends at ``end``."""
    return parse_time(end) - parse_time(start)
