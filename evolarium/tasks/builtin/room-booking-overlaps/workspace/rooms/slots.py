"""Time slots within one day, in minutes since midnight."""

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Slot:
    """A half-open interval [start, end) of minutes since midnight."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= 24 * 60:
            raise ValueError(f"invalid slot {self.start}-{self.end}: need 0 <= start < end <= 1440")

    @classmethod
    def parse(cls, text: str) -> "Slot":
        """Build a slot from text such as "09:00-10:30"."""
        start, _, end = text.partition("-")
        return cls(_minutes(start), _minutes(end))

    def __str__(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}"


def overlaps(a: Slot, b: Slot) -> bool:
    """Return True when the two slots share at least one minute."""
    return a.start <= b.start <= a.end


def _minutes(text: str) -> int:
    hours, _, minutes = text.strip().partition(":")
    return int(hours) * 60 + int(minutes)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
