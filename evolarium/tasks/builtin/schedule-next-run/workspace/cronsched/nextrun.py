"""The next time a cron schedule fires."""

from datetime import date, datetime, timedelta

from cronsched.spec import CronSpec

MAX_YEARS = 8


def day_matches(spec: CronSpec, day: date) -> bool:
    """Return True when the schedule may fire on ``day``.

    As in cron, when both the day-of-month and the day-of-week fields are restricted, a day
    that matches either of them is enough.
    """
    if day.month not in spec.months:
        return False
    by_day = day.day in spec.days
    by_weekday = (day.weekday() + 1) % 7 in spec.weekdays
    if spec.days_restricted and spec.weekdays_restricted:
        return by_day or by_weekday
    return by_day and by_weekday


def next_run(spec: CronSpec | str, after: datetime) -> datetime:
    """Return the first whole minute strictly after ``after`` at which the schedule fires.

    Raises ValueError when the schedule never fires within the next few years.
    """
    if isinstance(spec, str):
        spec = CronSpec.parse(spec)
    start = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    day = start.date()
    limit = date(start.year + MAX_YEARS, start.month, 1)
    while day < limit:
        if day_matches(spec, day):
            found = _first_time(spec, day, start)
            if found is not None:
                return found
        day += timedelta(days=1)
    raise ValueError(f"the schedule never fires within {MAX_YEARS} years after {after}")


def _first_time(spec: CronSpec, day: date, start: datetime) -> datetime | None:
    for hour in sorted(spec.hours):
        for minute in sorted(spec.minutes):
            moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=start.tzinfo)
            if moment >= start:
                return moment
    return None
