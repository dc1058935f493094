"""Bookings per room, with conflict checks and free time."""

from rooms.slots import Slot, overlaps


class Conflict(Exception):
    """Raised when a booking would overlap an existing booking of the same room."""


class Schedule:
    """The bookings of one day, by room name."""

    def __init__(self) -> None:
        self._bookings: dict[str, list[tuple[Slot, str]]] = {}

    def book(self, room: str, slot: Slot, who: str) -> None:
        """Book ``room`` for ``slot``; raise Conflict when the room is taken then."""
        taken = self._bookings.setdefault(room, [])
        for existing, owner in taken:
            if overlaps(existing, slot):
                raise Conflict(f"{room} is booked {existing} by {owner}")
        taken.append((slot, who))
        taken.sort()

    def bookings(self, room: str) -> list[tuple[str, str]]:
        """Return (slot text, who) pairs for ``room``, earliest first."""
        return [(str(slot), who) for slot, who in self._bookings.get(room, [])]

    def free_slots(self, room: str, opens: Slot) -> list[Slot]:
        """Return the parts of ``opens`` in which ``room`` is not booked, earliest first."""
        free = []
        cursor = opens.start
        for slot, _who in self._bookings.get(room, []):
            if slot.start > cursor:
                free.append(Slot(cursor, min(slot.start, opens.end)))
            cursor = max(cursor, slot.end)
            if cursor >= opens.end:
                break
        if cursor < opens.end:
            free.append(Slot(cursor, opens.end))
        return free
