"""The gateway's single retry layer: which provider failures to retry, and how long to wait.

litellm's and the OpenAI client's own retries are off (see router.py), so a
failed attempt is retried here and nowhere else, and every attempt is recorded.
"""

import email.utils
import json
import time
from dataclasses import dataclass

import litellm

OUTCOME_TIMEOUT = "timeout"
OUTCOME_CONNECTION = "connection_error"
OUTCOME_RATE_LIMITED = "rate_limited"
OUTCOME_SERVER = "server_error"
OUTCOME_MALFORMED = "malformed_response"
OUTCOME_PROVIDER = "provider_error"
OUTCOME_TRUNCATED = "truncated"
"""A successful reply that the provider cut off at the token limit (finish_reason "length")."""

RETRYABLE = {
    OUTCOME_TIMEOUT,
    OUTCOME_CONNECTION,
    OUTCOME_RATE_LIMITED,
    OUTCOME_SERVER,
    OUTCOME_MALFORMED,
}


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently the gateway retries a failed model call."""

    attempts: int = 3
    """Attempts in all, the first one included."""
    base_delay_s: float = 1.0
    """Wait before the second attempt; it doubles for each later one."""
    max_delay_s: float = 30.0
    """Upper bound of any wait, a provider's Retry-After included."""

    def delay(self, attempt: int, error: BaseException) -> float:
        """Return the seconds to wait after failed attempt number ``attempt`` (from 1)."""
        backoff = self.base_delay_s * 2 ** (attempt - 1)
        requested = retry_after(error)
        if requested is not None:
            backoff = requested
        return max(0.0, min(backoff, self.max_delay_s))


def classify(error: BaseException) -> str:
    """Return the typed outcome of a failed provider call."""
    if isinstance(error, litellm.Timeout):
        return OUTCOME_TIMEOUT
    if "Connection error" in str(error):
        # litellm reports a refused or reset connection as an InternalServerError.
        return OUTCOME_CONNECTION
    if isinstance(error, litellm.RateLimitError):
        return OUTCOME_RATE_LIMITED
    if _is_malformed(error):
        # litellm reports a 200 reply it cannot parse as an InternalServerError.
        return OUTCOME_MALFORMED
    if isinstance(
        error,
        litellm.InternalServerError | litellm.ServiceUnavailableError | litellm.BadGatewayError,
    ):
        return OUTCOME_SERVER
    if isinstance(error, litellm.APIConnectionError):
        return OUTCOME_CONNECTION
    return OUTCOME_PROVIDER


def _is_malformed(error: BaseException) -> bool:
    """Tell whether the provider replied with a body that is not a valid completion."""
    if isinstance(error, litellm.APIResponseValidationError | json.JSONDecodeError):
        return True
    if isinstance(error, UnicodeDecodeError):
        return True
    text = str(error)
    return any(
        marker in text
        for marker in ("JSONDecodeError", "Expecting value", "UnicodeDecodeError", "codec can't")
    )


def retry_after(error: BaseException) -> float | None:
    """Return the seconds a provider asked to wait in its Retry-After header, if any."""
    response = getattr(error, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())
