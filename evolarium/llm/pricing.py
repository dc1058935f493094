"""Prices of model calls, from litellm's bundled price table."""

import litellm

LOCAL_PREFIX = "local/"


def call_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Return a call's price in dollars from litellm's price table, or None if unknown.

    The embedded model costs nothing. Any other model that litellm cannot price
    gets None, which readers show as unknown, never as free.
    """
    if model.startswith(LOCAL_PREFIX):
        return 0.0
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # noqa: BLE001  (litellm raises several types for an unknown model)
        return None
    return float(prompt_cost + completion_cost)
