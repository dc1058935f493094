"""Weekly totals from timesheet entries such as "mon 09:00-17:30"."""

from timesheet.clock import shift_minutes


def entry_minutes(entry: str) -> int:
    """Return the length in minutes of one entry, "<day> <start>-<end>"."""
    _day, _, times = entry.partition(" ")
    start, _, end = times.partition("-")
    return shift_minutes(start.strip(), end.strip())


def weekly_hours(entries: list[str]) -> float:
    """Return the hours worked over all entries, rounded to two decimals."""
    total = sum(entry_minutes(entry) for entry in entries)
    return round(total / 60, 2)


def overtime_hours(entries: list[str], limit: float = 40.0) -> float:
    """Return the hours worked above ``limit``, or 0.0 when the total is within it."""
    return max(0.0, round(weekly_hours(entries) - limit, 2))
