"""Clock times written as H:MM or HH:MM on a 24-hour clock."""

MINUTES_PER_DAY = 24 * 60


def parse_time(text: str) -> int:
    """Return the minutes since midnight for a time such as "09:30" or "7:05".

    Raises ValueError for anything that is not a valid time of day.
    """
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit():
        raise ValueError(f"invalid time {text!r}: expected H:MM or HH:MM")
    if len(hours) > 2 or len(minutes) != 2:
        raise ValueError(f"invalid time {text!r}: expected H:MM or HH:MM")

    hour, minute = int(hours), int(minutes)
    if hour > 23 or minute > 59:
        raise ValueError(f"invalid time {text!r}: hour must be 0-23 and minute 0-59")
    return hour * 60 + minute


def shift_minutes(start: str, end: str) -> int:
    """Return the length in minutes of a shift that starts at ``start`` and ends at ``end``.

    An end earlier than the start means the shift ran past midnight.
    """
    return (parse_time(end) - parse_time(start)) % MINUTES_PER_DAY
