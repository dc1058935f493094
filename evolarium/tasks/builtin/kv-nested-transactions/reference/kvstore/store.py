"""The key-value store: values by key, how many keys hold each value, and transactions."""

from collections import Counter
from collections.abc import Hashable, Iterator
from contextlib import contextmanager

_MISSING = object()


class TransactionError(RuntimeError):
    """Raised by commit or rollback when no transaction is open."""


class Store:
    """Hashable values by string key, with nested transactions.

    Each open transaction keeps an undo log of (key, previous value) pairs, so rolling it
    back restores the values and the counts exactly.
    """

    def __init__(self) -> None:
        self._data: dict[str, Hashable] = {}
        self._counts: Counter = Counter()
        self._undo_logs: list[list[tuple[str, object]]] = []

    @property
    def depth(self) -> int:
        """The number of open transactions."""
        return len(self._undo_logs)

    def get(self, key: str, default: object = None) -> object:
        return self._data.get(key, default)

    def set(self, key: str, value: Hashable) -> None:
        self._change(key, value)

    def delete(self, key: str) -> None:
        """Remove ``key``; raise KeyError when it is not set."""
        if key not in self._data:
            raise KeyError(key)
        self._change(key, _MISSING)

    def count(self, value: Hashable) -> int:
        """Return how many keys hold ``value``."""
        return self._counts[value]

    def keys(self) -> list[str]:
        return sorted(self._data)

    def begin(self) -> None:
        """Open a transaction inside the current one, if any."""
        self._undo_logs.append([])

    def rollback(self) -> None:
        """Undo every change made since the innermost open transaction began, and close it."""
        if not self._undo_logs:
            raise TransactionError("no transaction to roll back")
        for key, old in reversed(self._undo_logs.pop()):
            self._write(key, old)

    def commit(self) -> None:
        """Close the innermost transaction and keep its changes.

        The changes become part of the enclosing transaction, so rolling that one back still
        undoes them. Without an enclosing transaction they are permanent.
        """
        if not self._undo_logs:
            raise TransactionError("no transaction to commit")
        log = self._undo_logs.pop()
        if self._undo_logs:
            self._undo_logs[-1].extend(log)

    @contextmanager
    def transaction(self) -> Iterator["Store"]:
        """Run a block in a transaction: commit when it ends, roll back when it raises."""
        self.begin()
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        self.commit()

    def _change(self, key: str, value: object) -> None:
        if self._undo_logs:
            self._undo_logs[-1].append((key, self._data.get(key, _MISSING)))
        self._write(key, value)

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
