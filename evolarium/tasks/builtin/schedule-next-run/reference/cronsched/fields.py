"""One field of a cron expression, such as "*/15", "1-5", "MON-FRI" or "1,15,30"."""

MONTH_NAMES = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


def parse_field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    """Return the values in [low, high] that the field ``text`` selects.

    A field is a comma-separated list of items. An item is "*", a value, or a range "a-b",
    optionally followed by "/step". ``names`` maps upper-case names to values.
    """
    values: set[int] = set()
    for item in text.split(","):
        values |= _parse_item(item.strip(), low, high, names or {})
    return values


def _parse_item(item: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    base, _, step_text = item.partition("/")
    step = int(step_text) if step_text else 1
    if step < 1:
        raise ValueError(f"invalid step in {item!r}: must be at least 1")

    if base == "*":
        first, last = low, high
    elif "-" in base:
        start, _, end = base.partition("-")
        first, last = _value(start, low, high, names), _value(end, low, high, names)
    else:
        first = last = _value(base, low, high, names)
    if first > last:
        raise ValueError(f"invalid range {item!r}: {first} is after {last}")
    # Steps count from the start of the range: "10-40/15" is 10, 25 and 40.
    return set(range(first, last + 1, step))


def _value(text: str, low: int, high: int, names: dict[str, int]) -> int:
    upper = text.upper()
    if upper in names:
        return names[upper]
    if not text.isdigit():
        raise ValueError(f"invalid value {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"value {value} is out of range {low}-{high}")
    return value


def month_names() -> dict[str, int]:
    return {name: index for index, name in enumerate(MONTH_NAMES, start=1)}


def day_names() -> dict[str, int]:
    """Return the weekday names with cron numbers: SUN is 0, MON is 1, ... SAT is 6."""
    return {name: index for index, name in enumerate(DAY_NAMES)}
