"""Prices of model calls: from the run's configuration, else litellm's bundled price table."""

import threading

LOCAL_PREFIX = "local/"
TOKENS_PER_PRICE_UNIT = 1_000_000
"""Configured prices are in dollars per million tokens."""

_configured: dict[str, tuple[float, float]] = {}
_configured_lock = threading.Lock()


def register_price(model: str, input_per_mtok: float, output_per_mtok: float) -> None:
    """Price ``model`` (the string handed to litellm) in dollars per million tokens.

    A configured price wins over litellm's table, so a model that litellm cannot price
    can still have its cost counted and its run limited in dollars.
    """
    with _configured_lock:
        _configured[model] = (input_per_mtok, output_per_mtok)


def call_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Return a call's price in dollars, or None if unknown.

    The embedded model costs nothing. A model priced by register_price uses that price,
    any other model litellm's table. A model priced by neither gets None, which readers
    show as unknown, never as free.
    """
    if model.startswith(LOCAL_PREFIX):
        return 0.0
    with _configured_lock:
        price = _configured.get(model)
    if price is not None:
        return (prompt_tokens * price[0] + completion_tokens * price[1]) / TOKENS_PER_PRICE_UNIT

    import litellm  # imported here: it takes seconds, and a configured price does not need it

    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # noqa: BLE001  (litellm raises several types for an unknown model)
        return None
    return float(prompt_cost + completion_cost)
