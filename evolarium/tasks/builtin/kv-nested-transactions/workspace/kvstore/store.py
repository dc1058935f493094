"""The key-value store: values by key, plus how many keys hold each value."""

from collections import Counter
from collections.abc import Hashable

_MISSING = object()


class Store:
    """Hashable values by string key."""

    def __init__(self) -> None:
        self._data: dict[str, Hashable] = {}
        self._counts: Counter = Counter()

    def get(self, key: str, default: object = None) -> object:
        return self._data.get(key, default)

    def set(self, key: str, value: Hashable) -> None:
        self._write(key, value)

    def delete(self, key: str) -> None:
        """Remove ``key``; raise KeyError when it is not set."""
        if key not in self._data:
            raise KeyError(key)
        self._write(key, _MISSING)

    def count(self, value: Hashable) -> int:
        """Return how many keys hold ``value``."""
        return self._counts[value]

    def keys(self) -> list[str]:
        return sorted(self._data)

    def _write(self, key: str, value: object) -> None:
        old = self._data.get(key, _MISSING)
        if old is not _MISSING:
            self._counts[old] -= 1
            if not self._counts[old]:
                del self._counts[old]
        if value is _MISSING:
            self._data.pop(key, None)
        else:
            self._data[key] = value
            self._counts[value] += 1
