import pytest

from rooms.schedule import Conflict, Schedule
from rooms.slots import Slot, overlaps


def booked(*slots):
    schedule = Schedule()
    for index, text in enumerate(slots):
        schedule.book("oak", Slot.parse(text), f"team{index}")
    return schedule


def test_bookings_listed_earliest_first():
    schedule = booked("13:00-14:00", "09:00-10:00")
    assert schedule.bookings("oak") == [("09:00-10:00", "team1"), ("13:00-14:00", "team0")]


def test_back_to_back_bookings_allowed():
    schedule = booked("09:00-10:00", "10:00-11:00", "08:30-09:00")
    assert len(schedule.bookings("oak")) == 3


@pytest.mark.parametrize("text", ["08:00-12:00", "08:30-09:30", "09:15-09:45", "09:30-11:00"])
def test_overlapping_booking_rejected(text):
    schedule = booked("09:00-10:00")
    with pytest.raises(Conflict):
        schedule.book("oak", Slot.parse(text), "late team")
    assert schedule.bookings("oak") == [("09:00-10:00", "team0")]


def test_rooms_are_independent():
    schedule = booked("09:00-10:00")
    schedule.book("elm", Slot.parse("09:00-10:00"), "other")
    assert schedule.bookings("elm") == [("09:00-10:00", "other")]


def test_overlaps_is_symmetric():
    a = Slot.parse("09:00-12:00")
    b = Slot.parse("10:00-11:00")
    c = Slot.parse("12:00-13:00")
    assert overlaps(a, b)
    assert overlaps(b, a)
    assert not overlaps(a, c)
    assert not overlaps(c, a)


def test_free_slots_between_bookings():
    schedule = booked("09:00-10:00", "10:00-11:00", "13:00-14:00")
    free = schedule.free_slots("oak", Slot.parse("08:00-18:00"))
    assert [str(slot) for slot in free] == ["08:00-09:00", "11:00-13:00", "14:00-18:00"]
