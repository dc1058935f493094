"""Cell references such as "B12": column letters, then a 1-based row number."""

import re

REF = re.compile(r"^([A-Z]+)([1-9][0-9]*)$")


def parse_ref(text: str) -> tuple[int, int]:
    """Return (column, row), both 0-based, for a reference such as "B12" or "b12"."""
    match = REF.match(text.strip().upper())
    if not match:
        raise ValueError(f"invalid cell reference {text!r}")
    letters, digits = match.groups()
    column = 0
    for letter in letters:
        column = column * 26 + (ord(letter) - ord("A"))
    return column, int(digits) - 1


def ref_name(column: int, row: int) -> str:
    """Return the reference for a 0-based column and row: (27, 4) gives "AB5"."""
    letters = ""
    number = column + 1
    while number:
        number, remainder = divmod(number - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return f"{letters}{row + 1}"


def normalize(text: str) -> str:
    """Return the canonical spelling of a reference: "b12" gives "B12"."""
    return ref_name(*parse_ref(text))


def expand_range(text: str) -> list[str]:
    """Return the references in a rectangular range such as "A1:B2", row by row."""
    start, sep, end = text.partition(":")
    if not sep:
        raise ValueError(f"invalid range {text!r}: expected two references joined by ':'")
    first_column, first_row = parse_ref(start)
    last_column, last_row = parse_ref(end)
    return [
        ref_name(column, row)
        for row in range(first_row, last_row + 1)
        for column in range(first_column, last_column + 1)
    ]
