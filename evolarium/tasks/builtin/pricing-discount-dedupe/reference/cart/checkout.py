"""Checkout: take payment and return a receipt."""

from dataclasses import dataclass
from decimal import Decimal

from cart.discounts import apply_discounts
from cart.items import Item, subtotal


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
    discount = apply_discounts(items, codes)
    total = gross - discount
    if paid < total:
        raise ValueError(f"payment of {paid} does not cover the total of {total}")
    return Receipt(gross, discount, total, paid, paid - total)
