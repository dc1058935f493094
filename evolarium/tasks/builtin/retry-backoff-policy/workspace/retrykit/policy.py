"""How often to retry and how long to wait between attempts."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Retry settings. ``attempts`` counts the first call; delays are in seconds."""

    attempts: int = 3
    base_delay: float = 0.5

    def delay(self, retry: int) -> float:
        """Return the seconds to wait before retry number ``retry`` (1 for the first retry)."""
        return self.base_delay
