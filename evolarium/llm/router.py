"""Model configuration and routing of OpenAI chat-completions bodies through litellm."""

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import litellm

from evolarium.errors import ConfigError, ModelError
from evolarium.llm.calls import InvalidRequestError
from evolarium.llm.local import DEFAULT_MODEL, check_local_model, local_model_name
from evolarium.llm.local import register_with_litellm as register_local_model
from evolarium.llm.pricing import register_price

logger = logging.getLogger(__name__)

# Sent as the key to an OpenAI-compatible api_base server when none is configured, so that
# litellm's OpenAI client starts and the host's OPENAI_API_KEY never reaches that server.
PLACEHOLDER_API_KEY = "unused"

# OpenAI chat-completions fields passed on to the provider. Other fields are dropped:
# "model" is replaced by the configured model, and "n" is left out so a sandbox cannot ask
# for many choices at the price of one call. "stream" and "stream_options" are left out
# because the provider is always asked for a whole completion, which the socket server
# sends to a streaming client as chunks (server.py). So they are not part of the request
# key either, and a streamed request replays the recording of the same request unstreamed.
FORWARDED_FIELDS = frozenset(
    {
        "messages",
        "temperature",
        "top_p",
        "stop",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "user",
    }
)

litellm.suppress_debug_info = True


@dataclass(frozen=True)
class ModelConfig:
    """The model that serves calls and the limits applied to every call."""

    # Any litellm model string, e.g. "openai/gpt-4o-mini", or "local/smollm2".
    model: str = DEFAULT_MODEL
    # Any OpenAI-compatible server (vLLM, Ollama, llama.cpp server). With api_base, a name
    # whose first segment is not a litellm provider is sent as "openai/<name>".
    api_base: str | None = None
    # Only for api_base servers that need one; otherwise litellm reads provider keys from the
    # environment.
    api_key: str | None = None
    max_tokens: int = 512
    temperature: float = 0.2
    timeout_s: float = 120.0
    # litellm model strings tried in order when every attempt at ``model`` fails with a
    # provider error (see routing.py).
    fallbacks: tuple[str, ...] = ()
    # Max requests in flight to this model string, across every purpose; None is no limit.
    max_concurrent: int | None = None
    # Dollars per million prompt and completion tokens, for a model that litellm cannot
    # price (or to override its price). Set both or neither.
    input_cost_per_mtok: float | None = None
    output_cost_per_mtok: float | None = None

    def __post_init__(self) -> None:
        # TOML and JSON give lists; a tuple keeps the frozen config hashable.
        if isinstance(self.fallbacks, list):
            object.__setattr__(self, "fallbacks", tuple(self.fallbacks))
        self._check_prices()
        self._check_api_base()

    def _check_api_base(self) -> None:
        if self.api_base is None:
            return
        problem = None
        try:
            url = urlsplit(self.api_base)
            url.port  # noqa: B018  (reading it raises ValueError for a port out of range)
        except (ValueError, TypeError) as error:
            problem = str(error)
        else:
            if url.scheme not in ("http", "https") or not url.hostname:
                problem = "it is not an http(s) URL with a host"
        if problem is not None:
            raise ConfigError(
                f"api_base {self.api_base!r} of model {self.model!r} is invalid ({problem}); "
                "use http://HOST:PORT/v1 with a port from 1 to 65535"
            )

    def _check_prices(self) -> None:
        prices = (self.input_cost_per_mtok, self.output_cost_per_mtok)
        if prices == (None, None):
            return
        if None in prices:
            raise ConfigError(
                f"model {self.model!r} sets only one of input_cost_per_mtok and "
                "output_cost_per_mtok; set both (dollars per million tokens) or neither"
            )
        names = ("input_cost_per_mtok", "output_cost_per_mtok")
        for name, value in zip(names, prices, strict=True):
            if type(value) not in (int, float) or value < 0:
                raise ConfigError(
                    f"{name} of model {self.model!r} must be a number of dollars per million "
                    f"tokens, 0 or more, got {value!r}"
                )

    @property
    def priced(self) -> bool:
        """Whether the configuration gives this model's price."""
        return self.input_cost_per_mtok is not None

    def litellm_model(self) -> str:
        """Return the model string handed to litellm."""
        if self.api_base is None or local_model_name(self.model) is not None:
            return self.model

        provider = self.model.split("/", 1)[0] if "/" in self.model else None
        if provider in litellm.provider_list:
            return self.model
        return f"openai/{self.model}"


class Router:
    """Sends chat-completions requests to the configured model through litellm."""

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self.model = config.litellm_model()
        register_local_model()
        if config.priced:
            register_price(self.model, config.input_cost_per_mtok, config.output_cost_per_mtok)

    def check(self) -> None:
        """Raise ModelError if the configured model cannot be used; makes no network call."""
        if not self.config.model.strip():
            raise ModelError(
                f"model is empty; set a litellm model string such as {DEFAULT_MODEL!r} "
                "or 'openai/gpt-4o-mini'"
            )

        if local_model_name(self.model) is not None:
            check_local_model(self.model)
            return

        provider = self._provider()
        missing = self._missing_keys()
        if missing:
            names = ", ".join(missing)
            raise ModelError(
                f"model {self.config.model!r} (provider {provider!r}) needs {names} in the "
                f"environment; export {names} or choose another model"
            )

    def _provider(self) -> str:
        try:
            _, provider, _, _ = litellm.get_llm_provider(
                model=self.model, api_base=self.config.api_base
            )
        except Exception as error:  # litellm raises several exception types here
            raise ModelError(
                f"unknown model {self.config.model!r}: litellm finds no provider for it; "
                f"use '<provider>/<model>' such as 'openai/gpt-4o-mini', {DEFAULT_MODEL!r}, "
                "or set api_base for an OpenAI-compatible server"
            ) from error
        return provider

    def _missing_keys(self) -> list[str]:
        try:
            result = litellm.validate_environment(
                model=self.model, api_key=self._api_key(), api_base=self.config.api_base
            )
        except Exception as error:  # a provider litellm cannot inspect needs no check here
            logger.debug("litellm cannot validate the environment for %s: %s", self.model, error)
            return []
        return list(result.get("missing_keys") or [])

    def _api_key(self) -> str | None:
        if self.config.api_key is not None:
            return self.config.api_key
        if self.config.api_base is not None and self.model.startswith("openai/"):
            return PLACEHOLDER_API_KEY
        return None

    def complete(self, request: dict) -> dict:
        """Send an OpenAI chat-completions body; returns a ``chat.completion`` dict.

        The request's ``model`` is ignored. ``max_tokens`` is capped at config.max_tokens
        and ``temperature`` defaults to config.temperature. Messages longer than the model's
        context window raise InvalidRequestError. Other litellm exceptions propagate.
        """
        arguments = self._arguments(request)
        try:
            response = litellm.completion(**arguments)
        except litellm.ContextWindowExceededError as error:
            first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise InvalidRequestError(
                f"the messages do not fit the context window of {self.model}; "
                f"send a shorter conversation ({first_line})"
            ) from error
        return response.model_dump(mode="json")

    def _arguments(self, request: dict) -> dict[str, Any]:
        arguments = {key: value for key, value in request.items() if key in FORWARDED_FIELDS}
        arguments["model"] = self.model
        arguments["max_tokens"] = self._max_tokens(request)
        if arguments.get("temperature") is None:
            arguments["temperature"] = self.config.temperature

        arguments["timeout"] = self.config.timeout_s
        # The gateway's retry layer (retry.py) is the only one: litellm's own retries and
        # the OpenAI client's stay off, so they do not multiply with it.
        arguments["num_retries"] = 0
        arguments["max_retries"] = 0
        # Fields a provider does not support are dropped instead of failing the call.
        arguments["drop_params"] = True

        if self.config.api_base is not None:
            arguments["api_base"] = self.config.api_base
        api_key = self._api_key()
        if api_key is not None:
            arguments["api_key"] = api_key
        return arguments

    def _max_tokens(self, request: dict) -> int:
        requested = request.get("max_completion_tokens") or request.get("max_tokens")
        if requested is None:
            return self.config.max_tokens
        return min(int(requested), self.config.max_tokens)
