"""Earliest-arrival journeys, found by scanning connections in departure order."""

from dataclasses import dataclass

from transit.network import Network
from transit.timetable import Connection

MINUTES_PER_DAY = 24 * 60


def format_time(minute: int) -> str:
    """Return a clock time such as "08:05"; times past midnight wrap to the next day."""
    minute %= MINUTES_PER_DAY
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True)
class Leg:
    """A ride on one trip, from the stop where it is boarded to the stop where it is left."""

    route: str
    from_stop: str
    to_stop: str
    depart: int
    arrive: int

    def __str__(self) -> str:
        return (
            f"{self.route} {format_time(self.depart)} {self.from_stop} -> "
            f"{format_time(self.arrive)} {self.to_stop}"
        )


@dataclass(frozen=True)
class Journey:
    legs: list[Leg]

    @property
    def arrive(self) -> int:
        return self.legs[-1].arrive


def earliest_arrival(
    network: Network, origin: str, destination: str, depart_at: int
) -> Journey | None:
    """Return the journey from ``origin`` that reaches ``destination`` first, or None.

    The traveller is at ``origin`` from minute ``depart_at``. Staying on a trip costs no
    time; changing to another trip needs ``network.transfer_minutes`` at that stop.
    """
    if origin == destination:
        raise ValueError(f"origin and destination are both {origin!r}")
    arrival = {origin: depart_at}
    boarded: dict[str, Connection] = {}
    reached_by: dict[str, tuple[Connection, Connection]] = {}

    for connection in network.connections_from(depart_at):
        best = arrival.get(destination)
        if best is not None and connection.depart >= best:
            break
        if connection.trip not in boarded:
            ready = arrival.get(connection.from_stop)
            if ready is None:
                continue
            if connection.from_stop != origin:
                ready += network.transfer_minutes
            if ready > connection.depart:
                continue
            boarded[connection.trip] = connection
        known = arrival.get(connection.to_stop)
        if known is None or connection.arrive < known:
            arrival[connection.to_stop] = connection.arrive
            reached_by[connection.to_stop] = (boarded[connection.trip], connection)

    if destination not in reached_by:
        return None
    return Journey(_legs(reached_by, origin, destination))


def _legs(reached_by: dict, origin: str, destination: str) -> list[Leg]:
    legs = []
    stop = destination
    while stop != origin:
        first, last = reached_by[stop]
        legs.append(Leg(first.route, first.from_stop, last.to_stop, first.depart, last.arrive))
        stop = first.from_stop
    legs.reverse()
    return legs
