"""Basic descriptive statistics over lists of numbers."""


def mean(values: list[float]) -> float:
    """Return the arithmetic mean of values, or raise ValueError when it is empty."""
    if not values:
        raise ValueError("mean() of an empty list is undefined")
    return sum(values) / len(values)


def median(values: list[float]) -> float:
    """Return the median of values without modifying them.

    For an even number of values the median is the mean of the two middle values.
    Raises ValueError when values is empty.
    """
    if not values:
        raise ValueError("median() of an empty list is undefined")

    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2 == 1:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
