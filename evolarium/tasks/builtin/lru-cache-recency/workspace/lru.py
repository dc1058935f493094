"""A small least-recently-used cache."""

from typing import Any


class LRUCache:
    """Maps keys to values and keeps at most `capacity` of them."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._order: list = []
        self._values: dict = {}

    def __len__(self) -> int:
        return len(self._values)

    def get(self, key, default: Any = None) -> Any:
        return self._values.get(key, default)

    def put(self, key, value: Any) -> None:
        if len(self._values) >= self.capacity:
            oldest = self._order.pop(0)
            del self._values[oldest]
        if key not in self._values:
            self._order.append(key)
        self._values[key] = value
