"""A customer's basket at the till."""

from decimal import Decimal

from till.catalog import Catalog


class Basket:
    """Scanned products, in scanning order."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.lines: list[tuple[str, Decimal]] = []

    def scan(self, code: str) -> str:
        """Add the product with barcode ``code`` and return its name."""
        name, price = self.catalog.lookup(code)
        self.lines.append((name, price))
        return name

    def total(self) -> Decimal:
        return sum((price for _name, price in self.lines), Decimal("0.00"))
