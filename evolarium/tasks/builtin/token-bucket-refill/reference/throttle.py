"""Calling functions no faster than a token bucket allows."""

from collections.abc import Callable
from typing import Any

from ratelimit import TokenBucket


class RateLimited(Exception):
    """Raised when a call is rejected. retry_after is the wait in seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited, retry after {retry_after:.3f} s")
        self.retry_after = retry_after


class Throttle:
    """Runs calls while the bucket has tokens, one token a call."""

    def __init__(self, bucket: TokenBucket) -> None:
        self.bucket = bucket

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        if not self.bucket.allow(1):
            raise RateLimited(self.bucket.wait_time(1))
        return fn(*args)
