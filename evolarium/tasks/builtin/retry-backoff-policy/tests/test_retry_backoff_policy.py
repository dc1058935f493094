import pytest

from retrykit.policy import RetryPolicy
from retrykit.runner import call_with_retry


class Flaky:
    def __init__(self, failures, error=ConnectionError):
        self.failures = failures
        self.error = error
        self.calls = 0
        self.raised = []

    def __call__(self):
        self.calls += 1
        if self.calls <= self.failures:
            error = self.error(f"failure {self.calls}")
            self.raised.append(error)
            raise error
        return "ok"


def test_delays_capped_at_max_delay():
    slept = []
    policy = RetryPolicy(attempts=6, base_delay=1.0, multiplier=3.0, max_delay=10.0)
    assert call_with_retry(Flaky(5), policy, sleep=slept.append) == "ok"
    assert slept == [1.0, 3.0, 9.0, 10.0, 10.0]


def test_jitter_scales_delay():
    policy = RetryPolicy(base_delay=2.0, jitter=0.5)
    assert policy.delay(1, 0.0) == pytest.approx(1.0)
    assert policy.delay(1, 0.5) == pytest.approx(2.0)
    assert policy.delay(1, 0.75) == pytest.approx(2.5)


def test_runner_draws_jitter_samples():
    slept = []
    samples = iter([0.0, 0.75])
    policy = RetryPolicy(attempts=3, base_delay=2.0, jitter=0.5)
    result = call_with_retry(
        Flaky(2), policy, sleep=slept.append, random_sample=lambda: next(samples)
    )
    assert result == "ok"
    assert slept == [pytest.approx(1.0), pytest.approx(5.0)]


def test_jitter_applies_after_cap():
    policy = RetryPolicy(base_delay=8.0, multiplier=2.0, max_delay=10.0, jitter=0.2)
    assert policy.delay(2, 0.75) == pytest.approx(11.0)
    assert policy.delay(2, 0.0) == pytest.approx(8.0)


def test_subclasses_of_retry_on_are_retried():
    slept = []
    flaky = Flaky(2, error=ConnectionResetError)
    policy = RetryPolicy(attempts=3, base_delay=0.1, retry_on=(OSError,))
    assert call_with_retry(flaky, policy, sleep=slept.append) == "ok"
    assert flaky.calls == 3

    flaky = Flaky(1, error=ValueError)
    with pytest.raises(ValueError):
        call_with_retry(flaky, policy, sleep=slept.append)
    assert flaky.calls == 1
    assert len(slept) == 2


def test_last_error_propagates_unchanged():
    slept = []
    flaky = Flaky(10)
    with pytest.raises(ConnectionError) as caught:
        call_with_retry(flaky, RetryPolicy(attempts=4, base_delay=0.0), sleep=slept.append)
    assert caught.value is flaky.raised[-1]
    assert flaky.calls == 4
    assert slept == [0.0, 0.0, 0.0]


def test_on_retry_receives_attempt_error_delay():
    seen = []
    flaky = Flaky(2)
    policy = RetryPolicy(attempts=3, base_delay=0.5)
    call_with_retry(
        flaky,
        policy,
        sleep=lambda seconds: None,
        on_retry=lambda retry, error, delay: seen.append((retry, error, delay)),
    )
    assert seen == [(1, flaky.raised[0], 0.5), (2, flaky.raised[1], 1.0)]


@pytest.mark.parametrize(
    "settings",
    [{"attempts": 0}, {"base_delay": -1.0}, {"multiplier": 0.5}, {"jitter": 1.5}],
)
def test_invalid_policy_rejected(settings):
    with pytest.raises(ValueError):
        RetryPolicy(**settings)


def test_positional_arguments_keep_their_order():
    policy = RetryPolicy(3, 0.25)
    assert policy.attempts == 3
    assert policy.delay(1) == 0.25
    assert policy.delay(2) == 0.5
