"""Subtotal, tax and total of an invoice."""

from decimal import Decimal

from invoice.lines import Line, to_cents


def summarize(lines: list[Line], tax_rate: str) -> dict[str, Decimal]:
    """Return subtotal, tax and total of the lines at the given tax rate.

    Tax is computed once on the subtotal and rounded half up to cents.
    """
    subtotal = to_cents(sum((line.total() for line in lines), Decimal("0")))
    tax = to_cents(subtotal * Decimal(tax_rate))
    return {"subtotal": subtotal, "tax": tax, "total": subtotal + tax}


def format_amount(amount: Decimal) -> str:
    """Return amount with a thousands separator and two decimals."""
    return f"{to_cents(amount):,.2f}"
