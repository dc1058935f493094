"""Invoice line items."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def to_cents(amount: Decimal) -> Decimal:
    """Round amount to two decimal places, halves away from zero."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Line:
    description: str
    unit_price: str
    quantity: int

    def __post_init__(self) -> None:
        if self.quantity < 0:
            raise ValueError(
                f"{self.description}: quantity must not be negative, got {self.quantity}"
            )

    def total(self) -> Decimal:
        return to_cents(Decimal(self.unit_price) * self.quantity)
