"""Customer orders, which reserve stock when placed."""

from shop.stock import OutOfStock, Stock


class OrderBook:
    """Placed orders by id, each mapping SKU to quantity."""

    def __init__(self, stock: Stock) -> None:
        self.stock = stock
        self.orders: dict[str, dict[str, int]] = {}

    def place(self, order_id: str, lines: dict[str, int]) -> None:
        """Reserve stock for every line, or for none of them if one line is short."""
        if order_id in self.orders:
            raise ValueError(f"order {order_id!r} is already placed; use a new order id")

        removed: list[tuple[str, int]] = []
        try:
            for sku, qty in lines.items():
                self.stock.remove(sku, qty)
                removed.append((sku, qty))
        except OutOfStock:
            for sku, qty in removed:
                self.stock.add(sku, qty)
            raise
        self.orders[order_id] = dict(lines)

    def cancel(self, order_id: str) -> None:
        """Return the units of a placed order to stock, or raise KeyError if it is unknown."""
        lines = self.orders.pop(order_id)
        for sku, qty in lines.items():
            self.stock.add(sku, qty)
