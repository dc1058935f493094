import pytest
from parking_meter import ParkingMeter


class TestParkingMeter:
    def test_starts_empty(self):
        assert ParkingMeter().minutes_left == 0

    def test_coin_buys_minutes(self):
        meter = ParkingMeter()
        assert meter.insert(50) == 10
        assert meter.minutes_left == 10

    def test_unknown_coin_raises_and_buys_nothing(self):
        meter = ParkingMeter()
        with pytest.raises(ValueError):
            meter.insert(3)
        assert meter.minutes_left == 0

    def test_time_is_capped(self):
        meter = ParkingMeter()
        for _ in range(8):
            meter.insert(100)
        assert meter.minutes_left == 120

    def test_tick_stops_at_zero(self):
        meter = ParkingMeter()
        meter.insert(20)
        meter.tick(3)
        assert meter.minutes_left == 1
        meter.tick(5)
        assert meter.minutes_left == 0
