"""Call a function until it succeeds or the policy runs out of attempts."""

import time
from collections.abc import Callable
from typing import TypeVar

from retrykit.policy import RetryPolicy

T = TypeVar("T")


def call_with_retry(
    func: Callable[[], T],
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Return the result of ``func()``, calling it again after an exception.

    After the last attempt fails, its exception propagates unchanged.
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return func()
        except Exception:
            if attempt == policy.attempts:
                raise
            sleep(policy.delay(attempt))
    raise AssertionError("unreachable: the loop returns or raises")
