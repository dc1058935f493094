"""How often to retry and how long to wait between attempts."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Retry settings. ``attempts`` counts the first call; delays are in seconds.

    The wait before retry n is ``base_delay * multiplier ** (n - 1)``, capped at
    ``max_delay``. With ``jitter`` j, that wait is then scaled by a factor between 1 - j
    and 1 + j. Only exceptions that are instances of a class in ``retry_on`` are retried.
    """

    attempts: int = 3
    base_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 30.0
    jitter: float = 0.0
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if self.base_delay < 0:
            raise ValueError(f"base_delay must not be negative, got {self.base_delay}")
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be at least 1, got {self.multiplier}")
        if self.max_delay < 0:
            raise ValueError(f"max_delay must not be negative, got {self.max_delay}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be between 0 and 1, got {self.jitter}")

    def delay(self, retry: int, sample: float = 0.5) -> float:
        """Return the seconds to wait before retry number ``retry`` (1 for the first retry).

        ``sample`` is a random number in [0, 1) that places the jitter: 0 gives the
        shortest wait, 0.5 the unjittered one.
        """
        capped = min(self.base_delay * self.multiplier ** (retry - 1), self.max_delay)
        return capped * (1 + self.jitter * (2 * sample - 1))

    def should_retry(self, error: BaseException) -> bool:
        return isinstance(error, self.retry_on)
