"""Cart lines and money rounding."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    """Round ``amount`` to whole cents, halves away from zero."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Item:
    """One cart line: ``qty`` units of ``sku`` at ``unit_price`` each."""

    sku: str
    unit_price: Decimal
    qty: int

    @property
    def line_total(self) -> Decimal:
        return cents(self.unit_price * self.qty)


def subtotal(items: list[Item]) -> Decimal:
    return sum((item.line_total for item in items), Decimal("0.00"))
