"""Reminder scheduling."""

from datetime import datetime, timedelta

from durations import parse_duration


def due_at(now: datetime, delay: str) -> datetime:
    """Return when a reminder set at now with a delay such as "1h30m" is due."""
    return now + timedelta(seconds=parse_duration(delay))
