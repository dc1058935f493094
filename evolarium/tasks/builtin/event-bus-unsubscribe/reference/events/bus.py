"""Event bus that calls handlers synchronously in subscription order."""

from collections.abc import Callable
from typing import Any

Handler = Callable[[Any], None]


class _Subscription:
    """One registration of a handler, compared by identity so duplicates stay distinct."""

    def __init__(self, handler: Handler, once: bool) -> None:
        self.handler = handler
        self.once = once


class EventBus:
    """Handlers per event name.

    publish calls the handlers subscribed when it starts; subscriptions added or removed
    by a handler take effect from the next publish.
    """

    def __init__(self) -> None:
        self._subscriptions: dict[str, list[_Subscription]] = {}

    def subscribe(self, event: str, handler: Handler) -> Callable[[], None]:
        """Register handler for event and return a function that removes it again."""
        return self._add(event, _Subscription(handler, once=False))

    def once(self, event: str, handler: Handler) -> Callable[[], None]:
        """Register handler for the next publish of event only."""
        return self._add(event, _Subscription(handler, once=True))

    def unsubscribe(self, event: str, handler: Handler) -> None:
        """Remove the earliest subscription of handler to event."""
        for subscription in self._subscriptions.get(event, []):
            if subscription.handler == handler:
                self._remove(event, subscription)
                return

    def publish(self, event: str, payload: Any = None) -> int:
        """Call the handlers of event with payload and return how many were called."""
        snapshot = list(self._subscriptions.get(event, []))
        for subscription in snapshot:
            if subscription.once:
                self._remove(event, subscription)
            subscription.handler(payload)
        return len(snapshot)

    def _add(self, event: str, subscription: _Subscription) -> Callable[[], None]:
        self._subscriptions.setdefault(event, []).append(subscription)
        return lambda: self._remove(event, subscription)

    def _remove(self, event: str, subscription: _Subscription) -> None:
        subscriptions = self._subscriptions.get(event, [])
        for index, candidate in enumerate(subscriptions):
            if candidate is subscription:
                del subscriptions[index]
                return
