"""The configuration of one evolution run."""

from dataclasses import asdict, dataclass, field

from evolarium.errors import ConfigError
from evolarium.llm.budget import Budget
from evolarium.llm.router import ModelConfig
from evolarium.sandbox.profile import Limits

SELECTIONS = ("score-child", "pareto", "cmp", "best", "random")
OPERATORS = ("self",)

# Integer fields: the command-line option that sets each, and its smallest valid value.
INTEGER_FIELDS = {
    "tasks": ("--tasks", 1),
    "generations": ("--generations", 0),
    "children_per_generation": ("--children", 1),
    "minibatch": ("--minibatch", 1),
    "workers": ("--workers", 1),
    "agent_steps": ("--steps", 1),
}

# Budget limits and the command-line option that sets each.
BUDGET_FIELDS = {
    "dollars": "--max-dollars",
    "tokens": "--max-total-tokens",
    "calls": "--max-calls",
    "evaluation_tokens": "--evaluation-tokens",
    "evaluation_calls": "--evaluation-calls",
}

# Sandbox limits set on the command line, and their smallest workable values.
LIMIT_FIELDS = {
    "memory_mb": ("--memory-mb", 128),
    "workspace_mb": ("--workspace-mb", 1),
}


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
    budget: Budget = field(default_factory=Budget)
    """Limits on model use for the run and for each evaluation."""
    skip_invalid: bool = False
    """Run the valid tasks of a suite and log the invalid ones, instead of stopping."""

    def __post_init__(self) -> None:
        if self.selection not in SELECTIONS:
            raise ConfigError(
                f"unknown selection {self.selection!r}; choose one of {', '.join(SELECTIONS)}"
            )
        if self.operator not in OPERATORS:
            raise ConfigError(
                f"unknown operator {self.operator!r}; choose one of {', '.join(OPERATORS)}"
            )
        for name, (option, minimum) in INTEGER_FIELDS.items():
            value = getattr(self, name)
            if value is None and name == "tasks":
                continue
            if type(value) is not int or value < minimum:
                raise ConfigError(
                    f"{option} must be at least {minimum}, got {value!r} (field {name})"
                )
        if not 0.0 <= self.minibatch_threshold <= 1.0:
            raise ConfigError(
                f"--threshold must be between 0 and 1, got {self.minibatch_threshold} "
                "(field minibatch_threshold)"
            )
        if self.model.max_tokens < 1:
            raise ConfigError(f"--max-tokens must be at least 1, got {self.model.max_tokens}")
        if not self.agent_limits.timeout_s > 0:
            raise ConfigError(
                "--agent-timeout must be a number of seconds above 0, "
                f"got {self.agent_limits.timeout_s}"
            )
        self._check_budget()
        for name, (option, minimum) in LIMIT_FIELDS.items():
            value = getattr(self.agent_limits, name)
            if type(value) is not int or value < minimum:
                raise ConfigError(f"{option} must be at least {minimum}, got {value!r}")

    def _check_budget(self) -> None:
        for name, option in BUDGET_FIELDS.items():
            value = getattr(self.budget, name)
            if value is None:
                continue
            if name == "dollars":
                valid = type(value) in (int, float) and value > 0
            else:
                valid = type(value) is int and value > 0
            if not valid:
                raise ConfigError(
                    f"{option} must be above 0, got {value!r}; leave it out for no limit"
                )

    def to_dict(self) -> dict:
        data = asdict(self)
        if data["model"].get("api_key"):
            data["model"]["api_key"] = "***"
        return data
