"""Timetable text: one trip per line, such as "R1 08:00 Alpha -> 08:10 Bravo -> 08:25 Charlie".

Blank lines and lines starting with "#" are ignored. Times are on a 24-hour clock.
"""

from dataclasses import dataclass

MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, order=True)
class Connection:
    """One hop of a trip, from one stop to the next, with times in minutes since midnight.

    Times after midnight on a trip that started the day before are 1440 or more.
    """

    depart: int
    arrive: int
    trip: str
    route: str
    from_stop: str
    to_stop: str


def parse_time(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes)


def parse_timetable(text: str) -> list[Connection]:
    """Return the connections of every trip in ``text``.

    Each line is one trip; its id is the route and the 1-based line number, such as "R1@3".
    """
    connections = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        route, _, rest = line.partition(" ")
        calls = _continuous(_parse_call(part) for part in rest.split("->"))
        if len(calls) < 2:
            raise ValueError(f"line {number}: a trip needs at least two stops")
        trip = f"{route}@{number}"
        for (depart, from_stop), (arrive, to_stop) in zip(calls, calls[1:], strict=False):
            connections.append(Connection(depart, arrive, trip, route, from_stop, to_stop))
    return connections


def _parse_call(part: str) -> tuple[int, str]:
    time_text, _, stop = part.strip().partition(" ")
    return parse_time(time_text), stop.strip()


def _continuous(calls) -> list[tuple[int, str]]:
    # A clock time earlier than the one before it means the trip has passed midnight.
    result: list[tuple[int, str]] = []
    days = 0
    for minute, stop in calls:
        if result and minute + days * MINUTES_PER_DAY < result[-1][0]:
            days += 1
        result.append((minute + days * MINUTES_PER_DAY, stop))
    return result
