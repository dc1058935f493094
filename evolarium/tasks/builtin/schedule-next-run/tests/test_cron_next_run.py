from datetime import datetime

import pytest

from cronsched.fields import parse_field
from cronsched.nextrun import next_run
from cronsched.spec import CronSpec


def runs(expression, after, count):
    """Return the next ``count`` run times after ``after``."""
    found = []
    for _ in range(count):
        after = next_run(expression, after)
        found.append(after)
    return found


def test_weekday_names_working_hours():
    # 2024-03-01 is a Friday.
    assert next_run("*/15 9-17 * * MON-FRI", datetime(2024, 3, 1, 17, 50)) == datetime(
        2024, 3, 4, 9, 0
    )
    assert next_run("0 9 * * TUE", datetime(2024, 3, 1)) == datetime(2024, 3, 5, 9, 0)


def test_range_with_step_starts_at_range_start():
    assert runs("10-40/15 * * * *", datetime(2024, 3, 1, 12, 0), 4) == [
        datetime(2024, 3, 1, 12, 10),
        datetime(2024, 3, 1, 12, 25),
        datetime(2024, 3, 1, 12, 40),
        datetime(2024, 3, 1, 13, 10),
    ]


def test_sunday_as_seven_or_name():
    saturday = datetime(2024, 3, 2, 10, 0)
    sunday_morning = datetime(2024, 3, 3, 8, 0)
    assert next_run("0 8 * * 7", saturday) == sunday_morning
    assert next_run("0 8 * * SUN", saturday) == sunday_morning
    assert next_run("0 8 * * 0", saturday) == sunday_morning
    assert next_run("0 8 * * 5-7", datetime(2024, 3, 1, 9, 0)) == datetime(2024, 3, 2, 8, 0)


def test_day_of_month_or_weekday():
    # Both fields restricted: the 13th of the month, and every Friday.
    assert runs("0 0 13 * FRI", datetime(2024, 9, 1), 3) == [
        datetime(2024, 9, 6),
        datetime(2024, 9, 13),
        datetime(2024, 9, 20),
    ]


def test_strictly_after_and_whole_minutes():
    assert next_run("* * * * *", datetime(2024, 3, 1, 10, 0, 30)) == datetime(2024, 3, 1, 10, 1)
    assert next_run("* * * * *", datetime(2024, 3, 1, 10, 0)) == datetime(2024, 3, 1, 10, 1)


def test_month_names_roll_into_next_year():
    assert next_run("30 6 1 JAN *", datetime(2024, 6, 1)) == datetime(2025, 1, 1, 6, 30)


def test_leap_day_schedule():
    assert next_run("0 12 29 2 *", datetime(2024, 3, 1)) == datetime(2028, 2, 29, 12, 0)


def test_impossible_schedule_raises():
    with pytest.raises(ValueError):
        next_run("0 0 30 2 *", datetime(2024, 1, 1))


def test_parse_field_values():
    assert parse_field("1-10/4", 0, 59) == {1, 5, 9}
    assert parse_field("*/20", 0, 59) == {0, 20, 40}
    assert parse_field("1,3-4", 0, 59) == {1, 3, 4}
    assert CronSpec.parse("0 0 * * MON,WED-FRI").weekdays == {1, 3, 4, 5}


def test_invalid_fields_raise():
    for field in ("61", "5-1", "*/0", "x"):
        with pytest.raises(ValueError):
            parse_field(field, 0, 59)
    with pytest.raises(ValueError):
        CronSpec.parse("0 0 * *")
    with pytest.raises(ValueError):
        CronSpec.parse("0 0 * * 8")
