import pytest
from clock_angle import hand_angle


@pytest.mark.parametrize(
    ("hours", "minutes", "angle"),
    [(3, 0, 90.0), (6, 0, 180.0), (12, 0, 0.0), (3, 30, 75.0), (21, 15, 172.5)],
)
def test_hand_angle(hours, minutes, angle):
    assert hand_angle(hours, minutes) == angle


def test_invalid_time_raises():
    with pytest.raises(ValueError):
        hand_angle(24, 0)
