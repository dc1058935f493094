import pytest

from timesheet.clock import parse_time, shift_minutes
from timesheet.week import overtime_hours, weekly_hours


def test_day_shifts_total():
    assert weekly_hours(["mon 09:00-17:30", "tue 09:00-17:00"]) == 16.5


def test_night_shift_past_midnight():
    assert weekly_hours(["fri 22:00-06:00"]) == 8.0


def test_shift_minutes_across_midnight():
    assert shift_minutes("23:30", "00:15") == 45
    assert shift_minutes("12:00", "12:45") == 45


def test_single_digit_hours():
    assert parse_time("7:45") == 465
    assert weekly_hours(["sat 7:45-12:15"]) == 4.5


def test_overtime_with_night_shifts():
    entries = [f"{day} 21:00-06:00" for day in ("mon", "tue", "wed", "thu", "fri")]
    assert weekly_hours(entries) == 45.0
    assert overtime_hours(entries) == 5.0


def test_no_overtime_within_limit():
    assert overtime_hours(["mon 08:00-16:00", "tue 20:00-04:00"]) == 0.0


@pytest.mark.parametrize("text", ["25:00", "12:60", "ab:cd", "1200"])
def test_invalid_times_rejected(text):
    with pytest.raises(ValueError):
        parse_time(text)
