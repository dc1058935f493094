"""Invoice text for a paid cart."""

from decimal import Decimal

from cart.items import Item, cents, subtotal


def invoice_lines(items: list[Item], codes: list[str]) -> list[str]:
    """Return the lines of the invoice: one per item, then subtotal, discount and total."""
    lines = [
        f"{item.qty} x {item.sku} @ {item.unit_price:.2f} = {item.line_total:.2f}" for item in items
    ]
    gross = subtotal(items)
    lines.append(f"Subtotal: {gross:.2f}")

    applied: list[str] = []
    for code in (text.strip().upper() for text in codes):
        if code not in ("BULK", "SAVE10", "FLAT5"):
            raise ValueError(f"unknown discount code {code!r}")
        if code not in applied:
            applied.append(code)
    left = gross
    if "BULK" in applied:
        bulk = sum((i.line_total for i in items if i.qty >= 10), Decimal("0"))
        left -= cents(bulk * Decimal("0.15"))
    if "SAVE10" in applied:
        left -= cents(left * Decimal("0.10"))
    if "FLAT5" in applied and gross >= Decimal("20"):
        left -= Decimal("5.00")
    discount = min(gross - left, gross)

    if applied:
        lines.append(f"Discount ({', '.join(applied)}): -{discount:.2f}")
    lines.append(f"Total: {gross - discount:.2f}")
    return lines
