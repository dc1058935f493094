"""Call a function until it succeeds or the policy runs out of attempts."""

import random
import time
from collections.abc import Callable
from typing import TypeVar

from retrykit.policy import RetryPolicy

T = TypeVar("T")

RetryHook = Callable[[int, BaseException, float], None]


def call_with_retry(
    func: Callable[[], T],
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    random_sample: Callable[[], float] = random.random,
    on_retry: RetryHook | None = None,
) -> T:
    """Return the result of ``func()``, calling it again after a retryable exception.

    Before each wait, ``on_retry(retry, error, delay)`` is called when given. An exception
    that the policy does not retry, or the one from the last attempt, propagates unchanged.
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return func()
        except BaseException as error:
            if attempt == policy.attempts or not policy.should_retry(error):
                raise
            delay = policy.delay(attempt, random_sample())
            if on_retry is not None:
                on_retry(attempt, error, delay)
            sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")
