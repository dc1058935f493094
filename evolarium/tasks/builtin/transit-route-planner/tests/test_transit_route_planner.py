from transit.network import Network
from transit.planner import earliest_arrival
from transit.timetable import parse_time, parse_timetable

TIMETABLE = """
# route, then time and stop for each call
R1 08:00 Alpha -> 08:10 Bravo -> 08:25 Charlie
R1 08:30 Alpha -> 08:40 Bravo -> 08:55 Charlie
R2 08:12 Bravo -> 08:20 Echo -> 08:31 Foxtrot
R3 08:11 Bravo -> 08:16 Echo
R4 08:27 Charlie -> 08:35 Golf
R5 08:05 Alpha -> 08:50 Golf

N1 23:50 Alpha -> 00:05 Bravo -> 00:20 Charlie
N2 23:40 Alpha -> 23:59 Hotel -> 00:30 Charlie
"""


def plan(origin, destination, clock):
    network = Network(parse_timetable(TIMETABLE), transfer_minutes=2)
    return earliest_arrival(network, origin, destination, parse_time(clock))


def legs(journey):
    assert journey is not None
    return [str(leg) for leg in journey.legs]


def test_single_trip_is_one_leg():
    assert legs(plan("Alpha", "Charlie", "07:55")) == ["R1 08:00 Alpha -> 08:25 Charlie"]


def test_departure_at_requested_minute_caught():
    assert legs(plan("Alpha", "Charlie", "08:00")) == ["R1 08:00 Alpha -> 08:25 Charlie"]
    assert legs(plan("Alpha", "Golf", "08:05")) == ["R5 08:05 Alpha -> 08:50 Golf"]


def test_transfer_needs_minimum_time():
    assert legs(plan("Alpha", "Echo", "08:00")) == [
        "R1 08:00 Alpha -> 08:10 Bravo",
        "R2 08:12 Bravo -> 08:20 Echo",
    ]


def test_transfer_at_end_of_trip():
    assert legs(plan("Alpha", "Golf", "08:00")) == [
        "R1 08:00 Alpha -> 08:25 Charlie",
        "R4 08:27 Charlie -> 08:35 Golf",
    ]


def test_stop_in_middle_of_trip_is_destination():
    journey = plan("Alpha", "Bravo", "08:01")
    assert legs(journey) == ["R1 08:30 Alpha -> 08:40 Bravo"]
    assert journey.arrive == parse_time("08:40")


def test_overnight_trip_arrives_next_day():
    journey = plan("Alpha", "Charlie", "23:30")
    assert legs(journey) == ["N1 23:50 Alpha -> 00:20 Charlie"]
    assert journey.arrive == 24 * 60 + 20


def test_parse_overnight_trip():
    connections = parse_timetable("N2 23:40 Alpha -> 23:59 Hotel -> 00:30 Charlie\n")
    assert [(c.from_stop, c.to_stop) for c in connections] == [
        ("Alpha", "Hotel"),
        ("Hotel", "Charlie"),
    ]
    assert [(c.depart, c.arrive) for c in connections] == [(1420, 1439), (1439, 1470)]
    assert connections[0].trip == "N2@1"


def test_network_stop_names():
    network = Network(parse_timetable(TIMETABLE))
    assert network.stops() == ["Alpha", "Bravo", "Charlie", "Echo", "Foxtrot", "Golf", "Hotel"]


def test_unreachable_destination_returns_none():
    assert plan("Foxtrot", "Alpha", "08:00") is None
    assert plan("Alpha", "Foxtrot", "08:31") is None
