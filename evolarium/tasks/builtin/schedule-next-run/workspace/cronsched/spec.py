"""A parsed cron expression: "minute hour day-of-month month day-of-week"."""

from dataclasses import dataclass

from cronsched.fields import day_names, month_names, parse_field


@dataclass(frozen=True)
class CronSpec:
    """The values each field allows. Weekdays use cron numbers: 0 is Sunday."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    # Whether the day-of-month and day-of-week fields were restricted (not "*").
    days_restricted: bool
    weekdays_restricted: bool

    @classmethod
    def parse(cls, text: str) -> "CronSpec":
        fields = text.split()
        if len(fields) != 5:
            raise ValueError(f"invalid cron expression {text!r}: expected 5 fields")
        minute, hour, day, month, weekday = fields
        return cls(
            minutes=frozenset(parse_field(minute, 0, 59)),
            hours=frozenset(parse_field(hour, 0, 23)),
            days=frozenset(parse_field(day, 1, 31)),
            months=frozenset(parse_field(month, 1, 12, month_names())),
            weekdays=frozenset(parse_field(weekday, 0, 6, day_names())),
            days_restricted=not day.startswith("*"),
            weekdays_restricted=not weekday.startswith("*"),
        )
