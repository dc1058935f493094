"""Token bucket rate limiting."""

import time
from collections.abc import Callable


class TokenBucket:
    """Up to `capacity` tokens, refilled at `rate` tokens per second."""

    def __init__(
        self, capacity: float, rate: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = capacity
        self.rate = rate
        self.clock = clock
        self.tokens = capacity
        self.created = clock()

    def _refill(self) -> None:
        elapsed = self.clock() - self.created
        self.tokens += elapsed * self.rate

    def allow(self, cost: float = 1) -> bool:
        self._refill()
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False
