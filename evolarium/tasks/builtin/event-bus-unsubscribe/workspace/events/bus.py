"""Event bus that calls handlers synchronously in subscription order."""

from collections.abc import Callable
from typing import Any

Handler = Callable[[Any], None]


class EventBus:
    """Handlers per event name."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {}

    def subscribe(self, event: str, handler: Handler) -> None:
        self._handlers.setdefault(event, []).append(handler)

    def unsubscribe(self, event: str, handler: Handler) -> None:
        self._handlers[event].remove(handler)

    def publish(self, event: str, payload: Any = None) -> None:
        for handler in self._handlers.get(event, []):
            handler(payload)
