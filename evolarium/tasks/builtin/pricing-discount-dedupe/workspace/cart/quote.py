"""Price quotes shown in the cart before checkout."""

from decimal import Decimal

from cart.items import Item, cents, subtotal


def quote(items: list[Item], codes: list[str]) -> dict[str, Decimal]:
    """Return the subtotal, discount and total for ``items`` with discount ``codes``."""
    amount = subtotal(items)
    discount = _discount(items, codes)
    return {"subtotal": amount, "discount": discount, "total": amount - discount}


def _discount(items: list[Item], codes: list[str]) -> Decimal:
    known = ("BULK", "SAVE10", "FLAT5")
    used: list[str] = []
    for code in codes:
        code = code.strip().upper()
        if code not in known:
            raise ValueError(f"unknown discount code {code!r}")
        if code not in used:
            used.append(code)

    total = subtotal(items)
    remaining = total
    if "BULK" in used:
        bulk = sum((item.line_total for item in items if item.qty >= 10), Decimal("0.00"))
        remaining -= cents(bulk * Decimal("0.15"))
    if "SAVE10" in used:
        remaining -= cents(remaining * Decimal("0.10"))
    if "FLAT5" in used and total >= Decimal("20.00"):
        remaining -= Decimal("5.00")
    return min(total - remaining, total)
