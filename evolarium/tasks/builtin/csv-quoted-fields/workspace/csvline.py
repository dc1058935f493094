"""Splitting a single CSV line into fields."""


def split_line(line: str, sep: str = ",") -> list[str]:
    """Return the fields of one CSV line."""
    return line.split(sep)
