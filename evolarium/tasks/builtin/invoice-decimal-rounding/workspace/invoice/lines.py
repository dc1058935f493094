"""Invoice line items."""

from dataclasses import dataclass


@dataclass
class Line:
    description: str
    unit_price: str
    quantity: int

    def total(self) -> float:
        return round(float(self.unit_price) * self.quantity, 2)
