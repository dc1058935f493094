"""Stock levels per SKU."""


class OutOfStock(Exception):
    """Raised when a SKU has fewer units than requested."""


class Stock:
    """Units on hand for each SKU. Unknown SKUs have zero units."""

    def __init__(self) -> None:
        self._levels: dict[str, int] = {}

    def level(self, sku: str) -> int:
        return self._levels.get(sku, 0)

    def add(self, sku: str, qty: int) -> None:
        self._levels[sku] = self.level(sku) + qty

    def remove(self, sku: str, qty: int) -> None:
        if self.level(sku) <= qty:
            raise OutOfStock(f"{sku}: requested {qty}, available {self.level(sku)}")
        self._levels[sku] = self.level(sku) - qty
