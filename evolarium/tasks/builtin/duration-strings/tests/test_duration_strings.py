from datetime import datetime

import pytest

from durations import format_duration, parse_duration
from reminders import due_at


def test_parse_hours_minutes_seconds():
    assert parse_duration("45s") == 45
    assert parse_duration("1h30m") == 5400


def test_parse_days():
    assert parse_duration("2d") == 172800
    assert parse_duration("1d2h3m4s") == 93784


def test_parse_whitespace_and_bare_seconds():
    assert parse_duration(" 1h 30m ") == 5400
    assert parse_duration("90") == 90


def test_parse_invalid_raises():
    invalid = ["", "1x", "h", "1.5h", "30m1h", "1h1h", "1h x"]
    rejected = []
    for text in invalid:
        try:
            parse_duration(text)
        except ValueError:
            rejected.append(text)
    assert rejected == invalid


def test_format_examples():
    assert format_duration(3661) == "1h1m1s"
    assert format_duration(86400) == "1d"
    assert format_duration(90061) == "1d1h1m1s"
    assert format_duration(120) == "2m"


def test_format_zero_and_negative():
    assert format_duration(0) == "0s"
    with pytest.raises(ValueError):
        format_duration(-1)


def test_round_trip():
    for seconds in [1, 59, 60, 3599, 3600, 86399, 86401, 200000]:
        assert parse_duration(format_duration(seconds)) == seconds


def test_due_at_with_days():
    now = datetime(2024, 3, 1, 12, 0, 0)
    assert due_at(now, "1d1h") == datetime(2024, 3, 2, 13, 0, 0)
