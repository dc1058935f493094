"""The only door to language models: routing with litellm, the embedded model, the gateway.

Agents in sandboxes reach a model through a :class:`~evolarium.llm.gateway.Gateway` served
on a unix socket; host code such as mutation operators calls ``Gateway.complete`` directly.
Every call is routed by a :class:`~evolarium.llm.router.Router` and handed to an injected
recorder.
"""

import os

# Unless these are set, litellm fetches its model price map (at import time), Anthropic beta
# headers and tokenizers from the internet (litellm 1.110). Its bundled copies are enough for
# routing, and runs must not depend on a network that sandboxes and CI may not have.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")

from evolarium.llm.gateway import (  # noqa: E402
    CallContext,
    CallRecord,
    Gateway,
    GatewaySocket,
    InvalidRequestError,
    ProviderError,
    Recorder,
)
from evolarium.llm.local import DEFAULT_MODEL, LOCAL_PREFIX, LocalModel, get_local_model  # noqa: E402
from evolarium.llm.router import ModelConfig, Router  # noqa: E402

__all__ = [
    "DEFAULT_MODEL",
    "LOCAL_PREFIX",
    "CallContext",
    "CallRecord",
    "Gateway",
    "GatewaySocket",
    "InvalidRequestError",
    "LocalModel",
    "ModelConfig",
    "ProviderError",
    "Recorder",
    "Router",
    "get_local_model",
]
