"""Sale records and the parser for sales exports."""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

HEADER = ["region", "product", "quantity", "unit_price"]


@dataclass(frozen=True)
class Sale:
    """One line of a sales export."""

    region: str
    product: str
    quantity: int
    unit_price: Decimal

    @property
    def revenue(self) -> Decimal:
        return self.unit_price * self.quantity


def parse_rows(text: str) -> list[Sale]:
    """Parse a sales export: a header line, then "region,product,quantity,unit_price" lines.

    Blank lines are skipped. A malformed line raises ValueError naming its 1-based line number.
    """
    sales = []
    lines = text.splitlines()
    if not lines or [cell.strip() for cell in lines[0].split(",")] != HEADER:
        raise ValueError(f"line 1: expected the header {','.join(HEADER)}")
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) != len(HEADER):
            raise ValueError(f"line {number}: expected {len(HEADER)} fields, got {len(cells)}")
        region, product, quantity, price = cells
        try:
            sale = Sale(region, product, int(quantity), Decimal(price))
        except (ValueError, InvalidOperation) as error:
            raise ValueError(f"line {number}: invalid number in {line!r}") from error
        sales.append(sale)
    return sales
