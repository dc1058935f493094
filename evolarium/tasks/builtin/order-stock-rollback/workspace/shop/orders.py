"""Customer orders, which reserve stock when placed."""

from shop.stock import Stock


class OrderBook:
    """Placed orders by id, each mapping SKU to quantity."""

    def __init__(self, stock: Stock) -> None:
        self.stock = stock
        self.orders: dict[str, dict[str, int]] = {}

    def place(self, order_id: str, lines: dict[str, int]) -> None:
        for sku, qty in lines.items():
            self.stock.remove(sku, qty)
        self.orders[order_id] = dict(lines)

    def cancel(self, order_id: str) -> None:
        for sku, qty in self.orders[order_id].items():
            self.stock.add(sku, qty)
