"""A small least-recently-used cache."""

from collections import OrderedDict
from typing import Any


class LRUCache:
    """Maps keys to values and keeps at most `capacity` of them.

    A successful get and any put count as a use. When a new key would exceed the
    capacity, the least recently used key is evicted.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._values: OrderedDict = OrderedDict()

    def __len__(self) -> int:
        return len(self._values)

    def get(self, key, default: Any = None) -> Any:
        if key not in self._values:
            return default
        self._values.move_to_end(key)
        return self._values[key]

    def put(self, key, value: Any) -> None:
        if key in self._values:
            self._values.move_to_end(key)
        elif len(self._values) >= self.capacity:
            self._values.popitem(last=False)
        self._values[key] = value
