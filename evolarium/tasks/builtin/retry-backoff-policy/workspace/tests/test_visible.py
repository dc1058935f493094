import pytest

from retrykit.policy import RetryPolicy
from retrykit.runner import call_with_retry


class Flaky:
    """Fails with ``error`` for the first ``failures`` calls, then returns "ok"."""

    def __init__(self, failures, error=ConnectionError):
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"failure {self.calls}")
        return "ok"


def test_delays_grow_exponentially():
    slept = []
    policy = RetryPolicy(attempts=4, base_delay=0.5, multiplier=2.0)
    assert call_with_retry(Flaky(3), policy, sleep=slept.append) == "ok"
    assert slept == [0.5, 1.0, 2.0]


def test_other_errors_are_not_retried():
    slept = []
    flaky = Flaky(1, error=KeyError)
    policy = RetryPolicy(attempts=3, retry_on=(ConnectionError,))
    with pytest.raises(KeyError):
        call_with_retry(flaky, policy, sleep=slept.append)
    assert flaky.calls == 1
    assert slept == []
