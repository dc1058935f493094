"""Prices of model calls: from the run's configuration, else litellm's bundled price table."""

import threading

LOCAL_PREFIX = "local/"
TOKENS_PER_PRICE_UNIT = 1_000_000
"""Configured prices are in dollars per million tokens."""

_configured: dict[str, tuple[float, float]] = {}
_unpriced: set[str] = set()
"""Models that neither the configuration nor litellm's table prices, looked up once."""
_configured_lock = threading.Lock()


def register_price(model: str, input_per_mtok: float, output_per_mtok: float) -> None:
    """Price ``model`` (the string handed to litellm) in dollars per million tokens.

    A configured price wins over litellm's table, so a model that litellm cannot price
    can still have its cost counted and its run limited in dollars.
    """
    with _configured_lock:
        _configured[model] = (input_per_mtok, output_per_mtok)
        _unpriced.discard(model)
    _register_with_litellm(model, input_per_mtok, output_per_mtok)


def _register_with_litellm(model: str, input_per_mtok: float, output_per_mtok: float) -> None:
    """Give litellm the configured price too.

    litellm prices every response it returns. For a model missing from its table it
    searches for similar names on each call, which cost about 0.5 ms per call in the
    gateway benchmark.
    """
    import litellm

    input_per_token = input_per_mtok / TOKENS_PER_PRICE_UNIT
    try:
        _, provider, _, _ = litellm.get_llm_provider(model=model)
    except Exception:  # noqa: BLE001  (litellm raises several types for an unknown provider)
        provider = "openai"
    litellm.register_model(
        {
            model: {
                "input_cost_per_token": input_per_token,
                "output_cost_per_token": output_per_mtok / TOKENS_PER_PRICE_UNIT,
                # Cached prompt tokens cost as much as other prompt tokens here.
                "cache_read_input_token_cost": input_per_token,
                "cache_creation_input_token_cost": input_per_token,
                "litellm_provider": provider,
                "mode": "chat",
            }
        }
    )


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
        unpriced = model in _unpriced
    if price is not None:
        return (prompt_tokens * price[0] + completion_tokens * price[1]) / TOKENS_PER_PRICE_UNIT
    if unpriced:
        return None

    import litellm  # imported here: it takes seconds, and a configured price does not need it

    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # noqa: BLE001  (litellm raises several types for an unknown model)
        with _configured_lock:
            _unpriced.add(model)
        return None
    return float(prompt_cost + completion_cost)
