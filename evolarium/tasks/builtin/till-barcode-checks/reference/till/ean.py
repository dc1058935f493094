"""EAN-13 barcodes: 12 data digits followed by one check digit."""

LENGTH = 13
SEPARATORS = (" ", "-")


def normalize(code: str) -> str:
    """Return ``code`` without the spaces or hyphens that printed barcodes use to group digits."""
    for separator in SEPARATORS:
        code = code.replace(separator, "")
    return code


def check_digit(data: str) -> int:
    """Return the check digit for the 12 data digits in ``data``.

    Counting from the left, digits in odd positions weigh 1 and digits in even positions
    weigh 3. The check digit brings the weighted sum up to a multiple of 10.
    """
    total = sum(int(digit) * (1 if index % 2 == 0 else 3) for index, digit in enumerate(data))
    return (10 - total % 10) % 10


def is_valid(code: str) -> bool:
    """Return True when ``code`` is 13 digits and its last digit is the right check digit."""
    code = normalize(code)
    if len(code) != LENGTH or not code.isdigit():
        return False
    return check_digit(code[:-1]) == int(code[-1])
