"""Subtotal, tax and total of an invoice."""

from invoice.lines import Line


def summarize(lines: list[Line], tax_rate: str) -> dict[str, float]:
    """Return subtotal, tax and total of the lines at the given tax rate."""
    subtotal = 0.0
    tax = 0.0
    for line in lines:
        subtotal += line.total()
        tax += round(line.total() * float(tax_rate), 2)
    return {"subtotal": subtotal, "tax": tax, "total": subtotal + tax}


def format_amount(amount: float) -> str:
    """Return amount with a thousands separator and two decimals."""
    return f"{amount:,}"
