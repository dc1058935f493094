"""The connections of a network, ordered by departure time."""

import bisect

from transit.timetable import Connection


class Network:
    """All connections, and the minimum time in minutes to change between trips at a stop."""

    def __init__(self, connections: list[Connection], transfer_minutes: int = 2) -> None:
        self._connections = sorted(connections)
        self._departures = [connection.depart for connection in self._connections]
        self.transfer_minutes = transfer_minutes

    def stops(self) -> list[str]:
        """Return every stop name, in alphabetical order."""
        names = {c.from_stop for c in self._connections} | {c.to_stop for c in self._connections}
        return sorted(names)

    def connections_from(self, minute: int) -> list[Connection]:
        """Return the connections that depart at ``minute`` or later, earliest first."""
        start = bisect.bisect_right(self._departures, minute)
        return self._connections[start:]
