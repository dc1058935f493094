"""EAN-13 barcodes: 12 data digits followed by one check digit."""

LENGTH = 13


def normalize(code: str) -> str:
    """Return ``code`` without the spaces that printed barcodes use to group digits."""
    return code.replace(" ", "")


def check_digit(data: str) -> int:
    """Return the check digit for the 12 data digits in ``data``."""
    total = sum(int(digit) * (3 if index % 2 == 0 else 1) for index, digit in enumerate(data))
    return 10 - total % 10


def is_valid(code: str) -> bool:
    """Return True when ``code`` is 13 digits and its last digit is the right check digit."""
    code = normalize(code)
    if len(code) != LENGTH or not code.isdigit():
        return False
    return check_digit(code[:-1]) == int(code[-1])
