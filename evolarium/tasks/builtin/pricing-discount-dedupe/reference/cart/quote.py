"""Price quotes shown in the cart before checkout."""

from decimal import Decimal

from cart.discounts import apply_discounts
from cart.items import Item, subtotal


def quote(items: list[Item], codes: list[str]) -> dict[str, Decimal]:
    """Return the subtotal, discount and total for ``items`` with discount ``codes``."""
    amount = subtotal(items)
    discount = apply_discounts(items, codes)
    return {"subtotal": amount, "discount": discount, "total": amount - discount}
