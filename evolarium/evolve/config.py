"""The configuration of one evolution run."""

from dataclasses import asdict, dataclass, field

from evolarium.errors import ConfigError
from evolarium.llm.router import ModelConfig
from evolarium.sandbox.profile import Limits

SELECTIONS = ("score-child", "random")
OPERATORS = ("self",)


@dataclass(frozen=True)
class RunConfig:
    """Every knob of an evolution run; stored with the run as JSON."""

    suite: str = "builtin"
    tasks: int | None = None
    """Use the first N tasks of the suite; None uses all of them."""
    generations: int = 3
    children_per_generation: int = 1
    selection: str = "score-child"
    operator: str = "self"
    minibatch: int = 3
    """Tasks a child is evaluated on before the rest of the suite."""
    minibatch_threshold: float = 0.0
    """Mean minibatch score a child needs to go on to the rest of the suite."""
    workers: int = 1
    """Evaluations that run at the same time."""
    agent_steps: int = 3
    """Step limit passed to agents (EVOLARIUM_MAX_STEPS)."""
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    agent_limits: Limits = field(default_factory=Limits)

    def __post_init__(self) -> None:
        if self.selection not in SELECTIONS:
            raise ConfigError(
                f"unknown selection {self.selection!r}; choose one of {', '.join(SELECTIONS)}"
            )
        if self.operator not in OPERATORS:
            raise ConfigError(
                f"unknown operator {self.operator!r}; choose one of {', '.join(OPERATORS)}"
            )
        _require_positive("generations", self.generations, allow_zero=True)
        _require_positive("children_per_generation", self.children_per_generation)
        _require_positive("minibatch", self.minibatch)
        _require_positive("workers", self.workers)
        _require_positive("agent_steps", self.agent_steps)
        if self.tasks is not None:
            _require_positive("tasks", self.tasks)
        if not 0.0 <= self.minibatch_threshold <= 1.0:
            raise ConfigError(
                f"minibatch_threshold {self.minibatch_threshold} is out of range; use 0 to 1"
            )

    def to_dict(self) -> dict:
        data = asdict(self)
        if data["model"].get("api_key"):
            data["model"]["api_key"] = "***"
        return data


def _require_positive(name: str, value: int, *, allow_zero: bool = False) -> None:
    lowest = 0 if allow_zero else 1
    if not isinstance(value, int) or value < lowest:
        raise ConfigError(f"{name} must be an integer >= {lowest}, got {value!r}")
