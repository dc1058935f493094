"""Counts of things in messages: "1 task", "3 tasks"."""


def counted(number: int, noun: str) -> str:
    """Return ``number`` and ``noun``, with an "s" unless the number is 1."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
