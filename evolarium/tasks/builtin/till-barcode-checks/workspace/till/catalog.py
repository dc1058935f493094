"""Products by barcode."""

from decimal import Decimal

from till.ean import is_valid, normalize


class InvalidBarcode(ValueError):
    """Raised for a code that is not a valid EAN-13 barcode."""


class Catalog:
    """Product names and unit prices, keyed by normalized barcode."""

    def __init__(self) -> None:
        self._products: dict[str, tuple[str, Decimal]] = {}

    def add(self, code: str, name: str, price: Decimal) -> None:
        self._products[_checked(code)] = (name, price)

    def lookup(self, code: str) -> tuple[str, Decimal]:
        """Return (name, price) for ``code``; raise KeyError for an unknown product."""
        key = _checked(code)
        if key not in self._products:
            raise KeyError(f"no product with barcode {key}")
        return self._products[key]


def _checked(code: str) -> str:
    if not is_valid(code):
        raise InvalidBarcode(f"invalid EAN-13 barcode {code!r}")
    return normalize(code)
