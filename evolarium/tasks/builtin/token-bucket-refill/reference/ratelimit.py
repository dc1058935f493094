"""Token bucket rate limiting."""

import time
from collections.abc import Callable


class TokenBucket:
    """Up to `capacity` tokens, refilled at `rate` tokens per second, starting full."""

    def __init__(
        self, capacity: float, rate: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.capacity = capacity
        self.rate = rate
        self.clock = clock
        self.tokens = capacity
        self.updated = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def _check_cost(self, cost: float) -> None:
        if cost <= 0 or cost > self.capacity:
            raise ValueError(f"cost must be in (0, {self.capacity}], got {cost}")

    def allow(self, cost: float = 1) -> bool:
        """Take cost tokens and return True, or take none and return False."""
        self._check_cost(cost)
        self._refill()
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False

    def wait_time(self, cost: float = 1) -> float:
        """Return the seconds until cost tokens are available, without taking any."""
        self._check_cost(cost)
        self._refill()
        missing = cost - self.tokens
        return max(missing, 0.0) / self.rate
