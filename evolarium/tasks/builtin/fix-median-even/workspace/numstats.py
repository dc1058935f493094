"""Basic descriptive statistics over lists of numbers."""


def mean(values: list[float]) -> float:
    """Return the arithmetic mean of values, or raise ValueError when it is empty."""
    if not values:
        raise ValueError("mean() of an empty list is undefined")
    return sum(values) / len(values)


def median(values: list[float]) -> float:
    """Return the median of values."""
    values.sort()
    middle = len(values) // 2
    return values[middle]
