"""Todo items kept in insertion order."""

from dataclasses import dataclass

PRIORITIES = (1, 2, 3)


@dataclass
class Item:
    title: str
    priority: int = 2
    done: bool = False


class TodoList:
    """Items by title. Titles are unique."""

    def __init__(self) -> None:
        self._items: dict[str, Item] = {}

    def add(self, title: str, priority: int = 2) -> Item:
        if priority not in PRIORITIES:
            raise ValueError(f"priority must be 1, 2 or 3, got {priority}")
        item = Item(title, priority)
        self._items[title] = item
        return item

    def complete(self, title: str) -> None:
        self._items[title].done = True

    def items(self) -> list[Item]:
        return list(self._items.values())
