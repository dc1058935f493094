"""The only door to language models: routing with litellm, the embedded model, the gateway.

Agents in sandboxes reach a model through a :class:`~evolarium.llm.gateway.Gateway` served
on a unix socket; host code such as mutation operators calls ``Gateway.complete`` directly.
Every call is routed by a :class:`~evolarium.llm.router.Router` and handed to an injected
recorder.

The names below are imported on first use, because importing litellm takes seconds. So a
process that needs only a light module, such as the Ray actor with the run's budget,
starts fast.
"""

import importlib
import os
from typing import Any

# Unless these are set, litellm fetches its model price map (at import time), Anthropic beta
# headers and tokenizers from the internet (litellm 1.110). Its bundled copies are enough for
# routing, and runs must not depend on a network that sandboxes and CI may not have. Every
# module that imports litellm is in this package, so these are set before it loads.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")

_EXPORTS = {
    "CallContext": "evolarium.llm.gateway",
    "CallRecord": "evolarium.llm.gateway",
    "Gateway": "evolarium.llm.gateway",
    "GatewaySocket": "evolarium.llm.gateway",
    "InvalidRequestError": "evolarium.llm.gateway",
    "ProviderError": "evolarium.llm.gateway",
    "Recorder": "evolarium.llm.gateway",
    "DEFAULT_MODEL": "evolarium.llm.local",
    "LOCAL_PREFIX": "evolarium.llm.local",
    "LocalModel": "evolarium.llm.local",
    "get_local_model": "evolarium.llm.local",
    "ModelConfig": "evolarium.llm.router",
    "Router": "evolarium.llm.router",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'evolarium.llm' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
