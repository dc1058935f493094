"""Invoice text for a paid cart."""

from cart.discounts import apply_discounts, normalize_codes
from cart.items import Item, subtotal


def invoice_lines(items: list[Item], codes: list[str]) -> list[str]:
    """Return the lines of the invoice: one per item, then subtotal, discount and total."""
    lines = [
        f"{item.qty} x {item.sku} @ {item.unit_price:.2f} = {item.line_total:.2f}" for item in items
    ]
    gross = subtotal(items)
    lines.append(f"Subtotal: {gross:.2f}")

    applied = normalize_codes(codes)
    discount = apply_discounts(items, codes)
    if applied:
        lines.append(f"Discount ({', '.join(applied)}): -{discount:.2f}")
    lines.append(f"Total: {gross - discount:.2f}")
    return lines
