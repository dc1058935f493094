"""Checkout: take payment and return a receipt."""

from dataclasses import dataclass
from decimal import Decimal

from cart.items import Item, cents, subtotal


@dataclass(frozen=True)
class Receipt:
    subtotal: Decimal
    discount: Decimal
    total: Decimal
    paid: Decimal
    change: Decimal


def checkout(items: list[Item], codes: list[str], paid: Decimal) -> Receipt:
    """Return the receipt for a payment of ``paid``.

    Raises ValueError when ``paid`` does not cover the total.
    """
    gross = subtotal(items)

    codes_used = []
    for raw in codes:
        code = raw.strip().upper()
        if code not in {"BULK", "SAVE10", "FLAT5"}:
            raise ValueError(f"unknown discount code {code!r}")
        if code not in codes_used:
            codes_used.append(code)
    remaining = gross
    if "BULK" in codes_used:
        bulk_lines = [item for item in items if item.qty >= 10]
        bulk_total = sum((item.line_total for item in bulk_lines), Decimal(0))
        remaining -= cents(bulk_total * Decimal("0.15"))
    if "SAVE10" in codes_used:
        remaining -= cents(remaining * Decimal("0.10"))
    if "FLAT5" in codes_used and gross >= 20:
        remaining -= Decimal("5.00")
    discount = min(gross - remaining, gross)

    total = gross - discount
    if paid < total:
        raise ValueError(f"payment of {paid} does not cover the total of {total}")
    return Receipt(gross, discount, total, paid, paid - total)
