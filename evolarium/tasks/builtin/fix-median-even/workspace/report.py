"""Summary of a list of measurements, as printed by the nightly report."""

from numstats import mean, median


def summarize(values: list[float]) -> dict[str, float]:
    """Return count, min, max, mean and median of a non-empty list of values."""
    return {
        "count": len(values),
        "min": min(values),
        "max": max(values),
        "mean": mean(values),
        "median": median(values),
    }
