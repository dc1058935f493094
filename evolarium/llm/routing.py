"""Routes of model calls: a model per purpose, aliases, fallbacks and concurrency limits.

A run names a default model (``model``) and, optionally, a model for each purpose of its
calls (``models.agent``, ``models.rewriter``, ...). A call's route is chosen from its
purpose, or from an alias named in the request's ``model`` field. A route is a primary
router and the routers of its fallbacks, which the gateway tries in order when every
attempt at the one before failed with a provider error.

A model string named by a fallback or an alias is served with the settings of the
configured route whose model it is. When no route has it, the referring configuration
is used with only the model replaced, so it goes to the same api_base with the same key.
"""

import difflib
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace

from evolarium.errors import ConfigError
from evolarium.llm.router import ModelConfig, Router

PURPOSES = ("agent", "validation", "operator", "rewriter", "merger")
"""The purposes of model calls that ``models`` may route: see CallContext.purpose."""

# Fields that describe one model and the server that runs it. A purpose table that names
# another model than the default does not inherit them, so that the default's key is never
# sent to another server and its fallbacks and limit do not apply to another model.
MODEL_SPECIFIC_FIELDS = (
    "api_base",
    "api_key",
    "fallbacks",
    "max_concurrent",
    "input_cost_per_mtok",
    "output_cost_per_mtok",
)


def purpose_config(default: ModelConfig, table: Mapping[str, object]) -> ModelConfig:
    """Build the model configuration of one purpose from its table and the default's.

    Fields that the table leaves out come from ``default``, except the model-specific
    ones (MODEL_SPECIFIC_FIELDS) when the table names another model.
    """
    values = asdict(default)
    if table.get("model", default.model) != default.model:
        defaults = {item.name: item.default for item in fields(ModelConfig)}
        for name in MODEL_SPECIFIC_FIELDS:
            values[name] = defaults[name]
    values.update(table)
    return ModelConfig(**values)


def check_model_config(config: ModelConfig, key: str) -> None:
    """Raise ConfigError for an invalid model, token limit, fallback list or limit.

    ``key`` names the configuration table in messages, such as ``model`` or
    ``models.rewriter``.
    """
    if not isinstance(config.model, str) or not config.model.strip():
        raise ConfigError(
            f"{key}.model must name a litellm model string such as 'openai/gpt-4o-mini', "
            f"got {config.model!r}"
        )
    if type(config.max_tokens) is not int or config.max_tokens < 1:
        raise ConfigError(f"{key}.max_tokens must be at least 1, got {config.max_tokens!r}")

    _check_fallbacks(config, key)
    limit = config.max_concurrent
    if limit is not None and (type(limit) is not int or limit < 1):
        raise ConfigError(
            f"{key}.max_concurrent must be an integer of at least 1, got {limit!r}; "
            "leave it out for no limit"
        )


def _check_fallbacks(config: ModelConfig, key: str) -> None:
    fallbacks = config.fallbacks
    example = 'for example fallbacks = ["openai/gpt-4o-mini"]'
    if not isinstance(fallbacks, tuple):
        raise ConfigError(
            f"{key}.fallbacks must be a list of litellm model strings, got {fallbacks!r}; "
            f"{example}, or --set '{key}.fallbacks=[\"openai/gpt-4o-mini\"]'"
        )

    for index, fallback in enumerate(fallbacks):
        if not isinstance(fallback, str) or not fallback.strip():
            raise ConfigError(
                f"{key}.fallbacks[{index}] must be a litellm model string, got {fallback!r}; "
                f"{example}"
            )
        if fallback == config.model:
            raise ConfigError(
                f"{key}.fallbacks[{index}] is {fallback!r}, the model itself; a fallback must "
                "be another model, so remove it"
            )
        if fallback in fallbacks[:index]:
            raise ConfigError(f"{key}.fallbacks names {fallback!r} twice; give each fallback once")


def check_aliases(aliases: object) -> None:
    """Raise ConfigError unless ``aliases`` maps names to purposes or model strings."""
    example = 'for example aliases = {fast = "agent", strong = "rewriter"}'
    if not isinstance(aliases, dict):
        raise ConfigError(f"aliases must be a table of names, got {aliases!r}; {example}")

    for name, target in aliases.items():
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"aliases has an empty name; {example}")
        if not isinstance(target, str) or not target.strip():
            raise ConfigError(
                f"aliases.{name} must name a purpose ({', '.join(PURPOSES)}) or a litellm "
                f"model string, got {target!r}"
            )
        close = difflib.get_close_matches(target, PURPOSES, n=1, cutoff=0.8)
        if target not in PURPOSES and "/" not in target and close:
            raise ConfigError(
                f"aliases.{name} is {target!r}, which is not a purpose; did you mean {close[0]}? "
                f"Give a purpose ({', '.join(PURPOSES)}) or a model string such as "
                "'openai/gpt-4o-mini'"
            )


def concurrency_limits(configs: Mapping[str, ModelConfig]) -> dict[str, int]:
    """Return the max requests in flight per litellm model string.

    ``configs`` maps configuration keys (``model``, ``models.agent``) to the routes'
    configurations. Raises ConfigError when two of them set different limits for one
    model string, because the limit is shared by every route of that model.
    """
    limits: dict[str, tuple[int, str]] = {}
    for key, config in configs.items():
        if config.max_concurrent is None:
            continue
        model = config.litellm_model()
        known = limits.get(model)
        if known is not None and known[0] != config.max_concurrent:
            raise ConfigError(
                f"{known[1]}.max_concurrent is {known[0]} but {key}.max_concurrent is "
                f"{config.max_concurrent} for the same model {model!r}; the limit is shared "
                "by every route of one model, so give them the same value"
            )
        limits[model] = (config.max_concurrent, key)
    return {model: limit for model, (limit, _key) in limits.items()}


class ConcurrencyLimits:
    """One semaphore per limited litellm model string, shared by every route and purpose."""

    def __init__(self, limits: Mapping[str, int]) -> None:
        self._limits = dict(limits)
        self._semaphores = {
            model: threading.BoundedSemaphore(limit) for model, limit in limits.items()
        }

    def limit(self, model: str) -> int | None:
        """Return the max requests in flight to ``model``, or None for no limit."""
        return self._limits.get(model)

    def limited(self) -> dict[str, int]:
        """Return the max requests in flight of each limited model string."""
        return dict(self._limits)

    @contextmanager
    def slot(self, model: str) -> Iterator[None]:
        """Hold one of ``model``'s slots for the body of the with block; wait for a free one."""
        semaphore = self._semaphores.get(model)
        if semaphore is None:
            yield
            return
        with semaphore:
            yield


@dataclass(frozen=True)
class Route:
    """The router that serves a call first, and its fallbacks in the order they are tried."""

    primary: Router
    fallbacks: tuple[Router, ...] = ()

    @property
    def routers(self) -> tuple[Router, ...]:
        """The primary router, then the fallbacks."""
        return (self.primary, *self.fallbacks)


class Routes:
    """Chooses the route of each call from its purpose and the model the request names.

    ``routes.default`` serves every purpose without a route of its own. A request whose
    ``model`` is an alias goes to the alias's route, and any other requested name is
    ignored, so the purpose's route serves it.
    """

    def __init__(
        self,
        default: ModelConfig,
        purposes: Mapping[str, ModelConfig] | None = None,
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        purposes = dict(purposes or {})
        aliases = dict(aliases or {})
        self._check(default, purposes, aliases)
        self._build(default, purposes, aliases, routers={})

    @classmethod
    def single(cls, router: Router) -> "Routes":
        """Route every call to ``router``, with its config's fallbacks and limit.

        The configuration is not checked here, so that ``router.check()`` reports an
        unusable model as it does without routes.
        """
        routes = cls.__new__(cls)
        routes._build(router.config, {}, {}, routers={router.config: router})
        return routes

    def _build(
        self,
        default: ModelConfig,
        purposes: dict[str, ModelConfig],
        aliases: dict[str, str],
        routers: dict[ModelConfig, Router],
    ) -> None:
        self._configs = {"model": default} | {f"models.{p}": c for p, c in purposes.items()}
        self._routers = routers
        self.limits = ConcurrencyLimits(concurrency_limits(self._configs))
        self.default = self._route(default)
        self._by_purpose = {purpose: self._route(config) for purpose, config in purposes.items()}
        self._aliases = {name: self._alias_route(target) for name, target in aliases.items()}

    @staticmethod
    def _check(
        default: ModelConfig, purposes: dict[str, ModelConfig], aliases: dict[str, str]
    ) -> None:
        check_model_config(default, "model")
        for purpose, config in purposes.items():
            if purpose not in PURPOSES:
                raise ConfigError(
                    f"unknown purpose models.{purpose}; choose one of {', '.join(PURPOSES)}"
                )
            check_model_config(config, f"models.{purpose}")
        check_aliases(aliases)

    def route_for(self, purpose: str, requested_model: object = None) -> Route:
        """Return the route of a call with ``purpose`` whose request names ``requested_model``."""
        if isinstance(requested_model, str) and requested_model in self._aliases:
            return self._aliases[requested_model]
        return self._by_purpose.get(purpose, self.default)

    def routers(self) -> list[Router]:
        """Return every router that can serve a call, fallbacks included, each once."""
        return list(self._routers.values())

    def models(self) -> list[str]:
        """Return every litellm model string that can serve a call, fallbacks included."""
        return list(dict.fromkeys(router.model for router in self.routers()))

    def api_bases(self) -> list[str]:
        """Return the api_base of every router that has one, each once."""
        bases = (router.config.api_base for router in self.routers())
        return list(dict.fromkeys(base for base in bases if base is not None))

    def longest_timeout_s(self) -> float:
        """Return the longest request timeout of any router, in seconds."""
        return max(router.config.timeout_s for router in self.routers())

    def api_keys(self) -> list[str]:
        """Return the configured api_key of every router, for masking in error texts."""
        keys = (router.config.api_key for router in self.routers())
        return list(dict.fromkeys(key for key in keys if key))

    def check(self) -> None:
        """Raise ModelError if any router cannot be used; makes no network call."""
        for router in self.routers():
            router.check()

    def _router(self, config: ModelConfig) -> Router:
        router = self._routers.get(config)
        if router is None:
            router = Router(config)
            self._routers[config] = router
        return router

    def _route(self, config: ModelConfig) -> Route:
        fallbacks = tuple(
            self._router(self._config_of(model, referrer=config)) for model in config.fallbacks
        )
        return Route(self._router(config), fallbacks)

    def _config_of(self, model: str, *, referrer: ModelConfig) -> ModelConfig:
        """Return the configuration that serves ``model`` when a fallback or alias names it.

        Fallbacks of fallbacks are not followed, so a chain of fallbacks cannot loop.
        """
        for config in self._configs.values():
            if model in (config.model, config.litellm_model()):
                return replace(config, fallbacks=())
        return replace(referrer, model=model, fallbacks=(), max_concurrent=None)

    def _alias_route(self, target: str) -> Route:
        if target in PURPOSES:
            return self._by_purpose.get(target, self.default)
        for config in self._configs.values():
            if target in (config.model, config.litellm_model()):
                return self._route(config)
        return self._route(self._config_of(target, referrer=self._configs["model"]))
