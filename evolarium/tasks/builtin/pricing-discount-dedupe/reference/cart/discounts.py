"""Discount codes and the order in which they apply."""

from collections.abc import Callable
from decimal import Decimal

from cart.items import Item, cents, subtotal

# A rule takes the items, the subtotal and the amount left after the rules before it, and
# returns its discount.
Rule = Callable[[list[Item], Decimal, Decimal], Decimal]


def bulk(items: list[Item], gross: Decimal, remaining: Decimal) -> Decimal:
    """15% off the lines with at least 10 units."""
    lines = sum((item.line_total for item in items if item.qty >= 10), Decimal("0.00"))
    return cents(lines * Decimal("0.15"))


def save10(items: list[Item], gross: Decimal, remaining: Decimal) -> Decimal:
    """10% off what is left after the rules before it."""
    return cents(remaining * Decimal("0.10"))


def flat5(items: list[Item], gross: Decimal, remaining: Decimal) -> Decimal:
    """5.00 off a subtotal of at least 20.00."""
    return Decimal("5.00") if gross >= Decimal("20.00") else Decimal("0.00")


# Codes in the order in which their rules apply, whatever order the customer enters them in.
RULES: dict[str, Rule] = {"BULK": bulk, "SAVE10": save10, "FLAT5": flat5}


def normalize_codes(codes: list[str]) -> list[str]:
    """Return the codes stripped, upper-cased and without repeats, in the order given.

    Raises ValueError for a code that has no rule.
    """
    used: list[str] = []
    for text in codes:
        code = text.strip().upper()
        if code not in RULES:
            raise ValueError(f"unknown discount code {code!r}")
        if code not in used:
            used.append(code)
    return used


def apply_discounts(items: list[Item], codes: list[str]) -> Decimal:
    """Return the total discount of ``codes`` on ``items``, at most the subtotal."""
    used = normalize_codes(codes)
    gross = subtotal(items)
    remaining = gross
    for code, rule in RULES.items():
        if code in used:
            remaining -= rule(items, gross, remaining)
    return min(gross - remaining, gross)
