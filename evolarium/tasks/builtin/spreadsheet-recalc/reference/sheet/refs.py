"""Cell references such as "B12": column letters, then a 1-based row number."""

import re

REF = re.compile(r"^([A-Z]+)([1-9][0-9]*)$")


def parse_ref(text: str) -> tuple[int, int]:
    """Return (column, row), both 0-based, for a reference such as "B12" or "b12"."""
    match = REF.match(text.strip().upper())
    if not match:
        raise ValueError(f"invalid cell reference {text!r}")
    letters, digits = match.groups()
    # Column letters count like digits without a zero: A is 1, Z is 26, AA is 27.
    number = 0
    for letter in letters:
        number = number * 26 + (ord(letter) - ord("A") + 1)
    return number - 1, int(digits) - 1


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
    """Return the references in a rectangular range such as "A1:B2", row by row.

    The two corners may be given in any order: "B2:A1" is the same range as "A1:B2".
    """
    start, sep, end = text.partition(":")
    if not sep:
        raise ValueError(f"invalid range {text!r}: expected two references joined by ':'")
    start_column, start_row = parse_ref(start)
    end_column, end_row = parse_ref(end)
    first_column, last_column = sorted((start_column, end_column))
    first_row, last_row = sorted((start_row, end_row))
    return [
        ref_name(column, row)
        for row in range(first_row, last_row + 1)
        for column in range(first_column, last_column + 1)
    ]
