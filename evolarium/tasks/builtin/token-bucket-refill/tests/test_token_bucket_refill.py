import pytest

from ratelimit import TokenBucket
from throttle import RateLimited, Throttle


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_starts_full_then_rejects():
    clock = FakeClock()
    bucket = TokenBucket(3, 1, clock=clock)
    assert [bucket.allow() for _ in range(4)] == [True, True, True, False]


def test_refill_is_capped_at_capacity():
    clock = FakeClock()
    bucket = TokenBucket(2, 1, clock=clock)
    clock.now += 1000
    assert [bucket.allow() for _ in range(3)] == [True, True, False]


def test_refill_counts_time_since_last_refill():
    clock = FakeClock()
    bucket = TokenBucket(2, 1, clock=clock)
    assert bucket.allow(2)
    clock.now += 1
    assert bucket.allow()
    assert not bucket.allow()
    assert not bucket.allow()
    clock.now += 0.5
    assert not bucket.allow()
    clock.now += 0.5
    assert bucket.allow()


def test_wait_time():
    clock = FakeClock()
    bucket = TokenBucket(4, 2, clock=clock)
    assert bucket.wait_time(4) == 0.0
    assert bucket.allow(4)
    assert bucket.wait_time(1) == pytest.approx(0.5)
    assert bucket.wait_time(3) == pytest.approx(1.5)
    clock.now += 0.5
    assert bucket.wait_time(1) == 0.0
    assert bucket.allow(1)


def test_invalid_arguments_raise():
    with pytest.raises(ValueError):
        TokenBucket(0, 1)
    with pytest.raises(ValueError):
        TokenBucket(1, 0)
    bucket = TokenBucket(2, 1, clock=FakeClock())
    with pytest.raises(ValueError):
        bucket.allow(3)
    with pytest.raises(ValueError):
        bucket.allow(0)


def test_throttle_calls_function():
    bucket = TokenBucket(1, 1, clock=FakeClock())
    assert Throttle(bucket).call(lambda a, b: a + b, 2, 3) == 5


def test_throttle_reports_retry_after():
    clock = FakeClock()
    throttle = Throttle(TokenBucket(1, 4, clock=clock))
    throttle.call(lambda: None)
    with pytest.raises(RateLimited) as excinfo:
        throttle.call(lambda: None)
    assert excinfo.value.retry_after == pytest.approx(0.25)
