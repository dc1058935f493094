"""The configuration of one evolution run, and how files, options and --set build it.

Precedence, lowest first: RunConfig's defaults, a TOML file or preset (``load_config``),
the options given on the command line (``options_to_dict``), then ``--set KEY=VALUE``
items (``apply_overrides``). ``RunConfig.from_dict`` turns the merged dict into a
checked RunConfig.
"""

import copy
import difflib
import logging
import math
import os
import re
import textwrap
import tomllib
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path

from evolarium.archive.location import mask_password, parse_database_url, unmasked_url_text
from evolarium.errors import ConfigError
from evolarium.llm.budget import Budget
from evolarium.llm.router import ModelConfig
from evolarium.llm.routing import (
    PURPOSES,
    Routes,
    check_aliases,
    check_model_config,
    concurrency_limits,
    purpose_config,
)
from evolarium.sandbox.profile import Limits

log = logging.getLogger(__name__)

SELECTIONS = ("score-child", "pareto", "cmp", "best", "random")
# NOTE: evolarium.evolve.operators.OPERATORS lists the same names. This module does not
# import it, so that it does not depend on the operators package (which imports the
# sandbox, archive and gateway layers) and no import cycle can form. tests/test_config.py
# checks that the two lists agree.
OPERATORS = ("self", "reflect", "merge")
EXECUTORS = ("local", "ray")
"""Names of the executors that run evaluations (see evolarium.evolve.executor)."""
# Keys that choose where a run executes, not what it computes, so resume may change them
# without --force.
PLACEMENT_KEYS = {"executor", "ray_address"}

# Integer fields: the command-line option that sets each, and its smallest valid value.
INTEGER_FIELDS = {
    "tasks": ("--tasks", 1),
    "generations": ("--generations", 0),
    "children_per_generation": ("--children", 1),
    "workers": ("--workers", 1),
    "agent_steps": ("--steps", 1),
}

# Limits that end a run (None means no limit), and the option that sets each.
STOP_FIELDS = {
    "max_agents": "--max-agents",
    "max_evaluations": "--max-evaluations",
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

# Tables of a configuration: each key names the dataclass its table builds.
SECTIONS = {"model": ModelConfig, "agent_limits": Limits, "budget": Budget}

# Keys of stored runs written before stages and operator portfolios, and what --set
# takes in their place.
OLD_KEY_FIXES = {
    "operator": "operators={NAME=1}, or operators.NAME=WEIGHT to add one",
    "minibatch": "stages=[{tasks=3, threshold=0.2}, {}]",
    "minibatch_threshold": "stages=[{tasks=3, threshold=0.2}, {}]",
}

MASKED_KEY = "***"
"""The placeholder that to_dict stores in place of an API key."""

PRESETS_DIR = "presets"
"""The folder of preset TOML files, inside this package."""

# Command-line options of `evolarium run` (argparse dest) and the key each one sets.
OPTION_KEYS = {
    "suite": "suite",
    "tasks": "tasks",
    "generations": "generations",
    "children": "children_per_generation",
    "select": "selection",
    "operators": "operators",
    "workers": "workers",
    "steps": "agent_steps",
    "seed": "seed",
    "skip_invalid": "skip_invalid",
    "model": "model.model",
    "api_base": "model.api_base",
    "max_tokens": "model.max_tokens",
    "agent_timeout": "agent_limits.timeout_s",
    "memory_mb": "agent_limits.memory_mb",
    "workspace_mb": "agent_limits.workspace_mb",
    "max_dollars": "budget.dollars",
    "max_total_tokens": "budget.tokens",
    "max_calls": "budget.calls",
    "evaluation_tokens": "budget.evaluation_tokens",
    "evaluation_calls": "budget.evaluation_calls",
    "max_agents": "max_agents",
    "max_evaluations": "max_evaluations",
    "max_wall_time": "max_wall_s",
    "archive": "archive_url",
    "replay_from": "replay_from",
    "executor": "executor",
    "ray_address": "ray_address",
}

DURATION_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}
DURATION_PATTERN = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([smh]?)")
TOML_ERROR_PLACE = re.compile(
    r"^(?P<message>.*) \(at line (?P<line>\d+), column (?P<column>\d+)\)$"
)
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Stage:
    """One stage of a child's evaluation: a number of tasks and the test to go on."""

    tasks: int | None
    """Tasks added in this stage, drawn from those not used yet; None means all the rest."""
    threshold: float = 0.0
    """Mean score on this stage's tasks that the child needs to go on to the next stage."""
    beat_parent: bool = False
    """Whether the child must also score strictly higher than its parent on these tasks."""


@dataclass(frozen=True)
class RunConfig:
    """Every knob of an evolution run; stored with the run as JSON."""

    suite: str = "builtin"
    tasks: int | None = None
    """Use the first N tasks of the suite; None uses all of them."""
    generations: int = 3
    children_per_generation: int = 1
    selection: str = "score-child"
    operators: dict[str, float] = field(default_factory=lambda: {"self": 1.0})
    """Operator names and their weights; a child's operator is drawn in proportion."""
    stages: tuple[Stage, ...] = (Stage(3, 0.0), Stage(None))
    """Stages of a child's evaluation; only the last may have tasks None."""
    workers: int = 1
    """Evaluations that run at the same time."""
    agent_steps: int = 3
    """Step limit passed to agents (EVOLARIUM_MAX_STEPS)."""
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    """The default model: it serves every purpose that ``models`` does not name."""
    models: dict[str, dict] = field(default_factory=dict)
    """Model tables per purpose (agent, validation, operator, rewriter, merger). A key
    left out comes from ``model``, but a table that names another model does not take
    model's api_base, api_key, fallbacks or max_concurrent (see evolarium.llm.routing)."""
    aliases: dict[str, str] = field(default_factory=dict)
    """Model names an agent may request, each mapped to a purpose or a litellm model
    string. The call's purpose serves any other requested name."""
    agent_limits: Limits = field(default_factory=Limits)
    budget: Budget = field(default_factory=Budget)
    """Limits on model use for the run and for each evaluation."""
    skip_invalid: bool = False
    """Run the valid tasks of a suite and log the invalid ones, instead of stopping."""
    max_agents: int | None = None
    """Stop the run when it has this many agents; None means no limit."""
    max_evaluations: int | None = None
    """Stop the run after this many evaluations; None means no limit."""
    max_wall_s: float | None = None
    """Stop the run after this many seconds; None means no limit."""
    archive_url: str | None = None
    """The PostgreSQL database that stores the run's rows; None means a SQLite file in the
    run directory, or EVOLARIUM_ARCHIVE_URL when that is set. Stored with the password
    masked."""
    replay_from: str | None = None
    """A run id whose recorded model responses serve this run's calls."""
    executor: str = "local"
    """The place evaluations run: ``local`` (this machine's Docker) or ``ray`` (a Ray cluster)."""
    ray_address: str | None = None
    """The Ray cluster to use with ``executor = "ray"``; None means RAY_ADDRESS, or a new
    Ray instance on this machine."""

    def __post_init__(self) -> None:
        if self.selection not in SELECTIONS:
            raise ConfigError(
                f"unknown selection {self.selection!r}; choose one of {', '.join(SELECTIONS)}"
            )

        self._check_operators()
        for name, (option, minimum) in INTEGER_FIELDS.items():
            value = getattr(self, name)
            if value is None and name == "tasks":
                continue
            if type(value) is not int or value < minimum:
                raise ConfigError(
                    f"{option} must be at least {minimum}, got {value!r} (field {name})"
                )

        self._check_stages()
        if self.model.max_tokens < 1:
            raise ConfigError(f"--max-tokens must be at least 1, got {self.model.max_tokens}")
        self._check_models()
        timeout_s = self.agent_limits.timeout_s
        if not (isinstance(timeout_s, int | float) and 0 < timeout_s < math.inf):
            raise ConfigError(
                f"--agent-timeout must be a finite number of seconds above 0, got {timeout_s}"
            )

        self._check_budget()
        if self.archive_url is not None:
            if not isinstance(self.archive_url, str):
                raise ConfigError(f"--archive must be a PostgreSQL URL, got {self.archive_url!r}")
            parse_database_url(self.archive_url)
        for name, (option, minimum) in LIMIT_FIELDS.items():
            value = getattr(self.agent_limits, name)
            if type(value) is not int or value < minimum:
                raise ConfigError(f"{option} must be at least {minimum}, got {value!r}")

        self._check_stops()

    def _check_operators(self) -> None:
        if not isinstance(self.operators, dict) or not self.operators:
            raise ConfigError(
                f"operators must name at least one operator with a weight, got "
                f"{self.operators!r}; for example --operators self=2,reflect=1"
            )

        for name, weight in self.operators.items():
            if name not in OPERATORS:
                raise ConfigError(
                    f"unknown operator {name!r}; choose one of {', '.join(OPERATORS)}"
                )
            if type(weight) not in (int, float) or not math.isfinite(weight) or weight < 0:
                raise ConfigError(
                    f"the weight of operator {name} must be a number of at least 0, "
                    f"got {weight!r} (field operators.{name})"
                )

        if sum(self.operators.values()) <= 0:
            raise ConfigError(
                f"operators {self.operators} have no weight above 0; give at least one "
                "operator a positive weight, for example --operators self"
            )
        # Weights are stored as floats, so a file's 1 and 1.0 build equal configurations.
        weights = {name: float(weight) for name, weight in self.operators.items()}
        object.__setattr__(self, "operators", weights)

    def _check_models(self) -> None:
        if not isinstance(self.models, dict):
            raise ConfigError(
                f"models must be a table of purposes, got {self.models!r}; for example "
                "--set models.rewriter.model=openai/gpt-4o"
            )
        tables = {}
        for purpose, table in self.models.items():
            tables[purpose] = _model_table(purpose, table)
        object.__setattr__(self, "models", tables)

        check_model_config(self.model, "model")
        resolved = self.purpose_models()
        for purpose, config in resolved.items():
            check_model_config(config, f"models.{purpose}")
        check_aliases(self.aliases)
        configs = {"model": self.model} | {f"models.{p}": c for p, c in resolved.items()}
        concurrency_limits(configs)

    def routes(self) -> Routes:
        """Build the routes of this run's model calls: per purpose, aliases, fallbacks."""
        return Routes(self.model, self.purpose_models(), self.aliases)

    def purpose_models(self) -> dict[str, ModelConfig]:
        """Return the model configuration of each purpose that ``models`` names."""
        models = self.models.items()
        return {purpose: purpose_config(self.model, table) for purpose, table in models}

    def _check_stages(self) -> None:
        if isinstance(self.stages, list):
            object.__setattr__(self, "stages", tuple(self.stages))
        if not isinstance(self.stages, tuple) or not self.stages:
            raise ConfigError(
                f"stages must list at least one stage, got {self.stages!r}; "
                "for example stages=[{tasks=3, threshold=0.2}, {}]"
            )

        last = len(self.stages) - 1
        for index, stage in enumerate(self.stages):
            if not isinstance(stage, Stage):
                raise ConfigError(f"stages[{index}] must be a Stage, got {stage!r}")
            self._check_stage(index, stage, last=index == last)

    @staticmethod
    def _check_stage(index: int, stage: Stage, *, last: bool) -> None:
        if stage.tasks is None and not last:
            raise ConfigError(
                f"stages[{index}].tasks is left out, which means all the remaining tasks, but only "
                "the last stage may take all of them; give this stage a number of tasks"
            )
        if stage.tasks is not None and (type(stage.tasks) is not int or stage.tasks < 1):
            raise ConfigError(
                f"{_stage_option(index, 'tasks')} must be at least 1, got {stage.tasks!r}"
                f"{_stage_field_note(index, 'tasks')}"
            )

        threshold = stage.threshold
        if type(threshold) not in (int, float) or not 0.0 <= threshold <= 1.0:
            raise ConfigError(
                f"{_stage_option(index, 'threshold')} must be between 0 and 1, got {threshold!r}"
                f"{_stage_field_note(index, 'threshold')}"
            )
        if type(stage.beat_parent) is not bool:
            raise ConfigError(
                f"stages[{index}].beat_parent must be true or false, got {stage.beat_parent!r}"
            )

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

    def _check_stops(self) -> None:
        for name, option in STOP_FIELDS.items():
            value = getattr(self, name)
            if value is not None and (type(value) is not int or value < 1):
                raise ConfigError(
                    f"{option} must be at least 1, got {value!r} (field {name}); "
                    "leave it out for no limit"
                )

        wall = self.max_wall_s
        if wall is not None and (
            type(wall) not in (int, float) or not math.isfinite(wall) or wall <= 0
        ):
            raise ConfigError(
                f"--max-wall-time must be above 0 seconds, got {wall!r} (field max_wall_s); "
                "leave it out for no limit"
            )
        if self.replay_from is not None and (
            not isinstance(self.replay_from, str) or not self.replay_from.strip()
        ):
            raise ConfigError(
                f"--replay-from must name a run id, got {self.replay_from!r} (field replay_from)"
            )
        self._check_executor()

    def _check_executor(self) -> None:
        if self.executor not in EXECUTORS:
            raise ConfigError(
                f"unknown executor {self.executor!r}; choose one of {', '.join(EXECUTORS)}"
            )
        if self.ray_address is not None and (
            not isinstance(self.ray_address, str) or not self.ray_address.strip()
        ):
            raise ConfigError(
                f"--ray-address must be a Ray address such as 10.0.0.5:6379 or auto, "
                f"got {self.ray_address!r}"
            )

    @property
    def operator(self) -> str:
        """The one operator with a positive weight, or "portfolio" when there are several."""
        used = [name for name, weight in self.operators.items() if weight > 0]
        return used[0] if len(used) == 1 else "portfolio"

    @property
    def minibatch(self) -> int:
        """Tasks of the first stage; 0 when one stage takes the whole suite."""
        return self.stages[0].tasks or 0

    def to_dict(self) -> dict:
        """Return the JSON form stored with the run, with the API key masked."""
        data = asdict(self)
        data["stages"] = list(data["stages"])
        for table in [data["model"], *data["models"].values()]:
            if table.get("api_key"):
                table["api_key"] = MASKED_KEY
            if "fallbacks" in table:
                table["fallbacks"] = list(table["fallbacks"])
        if data["archive_url"]:
            data["archive_url"] = mask_password(data["archive_url"])
        return data

    def to_toml(self) -> str:
        """Return the configuration as a TOML file that ``--config`` loads back.

        Values that are None are left out, because TOML has no null and a missing key
        takes the default, and a comment names them. A masked API key is left out too.
        """
        data = self.to_dict()
        header = ["# evolarium run configuration; start a run with: evolarium run --config FILE"]
        unset = _unset_keys(data)
        if unset:
            listed = "not set (no limit, or the default): " + ", ".join(unset)
            header.extend(f"# {line}" for line in textwrap.wrap(listed, width=86))
        if data["model"].pop("api_key", None):
            header.append("# model.api_key is set but not printed; give it with --set")
        for purpose, table in data["models"].items():
            if table.pop("api_key", None):
                header.append(
                    f"# models.{purpose}.api_key is set but not printed; give it with --set"
                )
        return "\n".join(header) + "\n\n" + dump_toml(data)

    @classmethod
    def from_dict(cls, data: dict, *, strict: bool = True) -> "RunConfig":
        """Build a checked RunConfig from a dict such as to_dict's, a TOML file's or JSON.

        The keys of older stored runs (operator, minibatch, minibatch_threshold) are
        converted. Unknown keys raise ConfigError, or with ``strict=False`` are logged
        and dropped. A masked API key, and the masked password of archive_url, are dropped,
        so they come from the environment.
        """
        data = upgrade_old_keys(data)
        if strict:
            check_keys(data)
        else:
            data = _drop_unknown_keys(data)

        values = {name: value for name, value in data.items() if name not in SECTIONS}
        _check_types(cls, values, prefix="")
        if isinstance(values.get("archive_url"), str):
            values["archive_url"] = unmasked_url_text(values["archive_url"])
        values.update(_build_sections(data))
        if "operators" in values:
            values["operators"] = _build_operators(values["operators"])
        if "stages" in values:
            values["stages"] = _build_stages(values["stages"])
        if isinstance(values.get("max_wall_s"), str):
            values["max_wall_s"] = parse_duration(values["max_wall_s"], "max_wall_s")
        return cls(**values)


def _model_table(purpose: object, table: object) -> dict:
    """Check one table of ``models`` and return a copy without a masked API key."""
    if purpose not in PURPOSES:
        choices = [f"models.{name}" for name in PURPOSES]
        raise ConfigError(_unknown_key_message(f"models.{purpose}", choices))
    prefix = f"models.{purpose}."
    if not isinstance(table, dict):
        raise ConfigError(
            f"models.{purpose} must be a table with the keys "
            f"{', '.join(_field_names(ModelConfig))}, got {table!r}; set one key with "
            f"--set {prefix}model=NAME"
        )
    _check_known(table, _field_names(ModelConfig), prefix=prefix)
    _check_types(ModelConfig, table, prefix=prefix)

    table = dict(table)
    if table.get("api_key") == MASKED_KEY:
        del table["api_key"]
    if isinstance(table.get("fallbacks"), tuple):
        table["fallbacks"] = list(table["fallbacks"])
    return table


def _stage_option(index: int, name: str) -> str:
    """Name a stage field as the user set it: the shorthand option for the first stage."""
    if index == 0:
        return {"tasks": "--minibatch", "threshold": "--threshold"}[name]
    return f"stages[{index}].{name}"


def _stage_field_note(index: int, name: str) -> str:
    return f" (field stages[{index}].{name})" if index == 0 else ""


# Building a RunConfig from a dict


def upgrade_old_keys(data: dict) -> dict:
    """Return a copy of ``data`` with the keys of older stored runs converted.

    ``operator`` becomes a portfolio of that one operator, and ``minibatch`` with
    ``minibatch_threshold`` become a first stage followed by the rest of the suite.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"a run configuration must be a table of settings, got {data!r}")
    data = dict(data)
    if "operator" in data:
        if "operators" in data:
            raise ConfigError("give operators or the older key operator, not both")
        name = data.pop("operator")
        if not isinstance(name, str):
            raise ConfigError(f"operator must be an operator name, got {name!r}")
        data["operators"] = {name: 1.0}

    if "minibatch" in data or "minibatch_threshold" in data:
        if "stages" in data:
            raise ConfigError(
                "give stages or the older keys minibatch and minibatch_threshold, not both"
            )
        first = {
            "tasks": data.pop("minibatch", 3),
            "threshold": data.pop("minibatch_threshold", 0.0),
        }
        data["stages"] = [first, {}]
    return data


def check_keys(data: dict) -> None:
    """Raise ConfigError naming the first key that no RunConfig field or table has."""
    _check_known(data, _field_names(RunConfig), prefix="")
    for name, cls in SECTIONS.items():
        section = data.get(name)
        if isinstance(section, dict):
            _check_known(section, _field_names(cls), prefix=f"{name}.")
    models = data.get("models")
    if isinstance(models, dict):
        for purpose, table in models.items():
            _model_table(purpose, table)

    stages = data.get("stages")
    if isinstance(stages, list | tuple):
        for index, stage in enumerate(stages):
            if isinstance(stage, dict):
                _check_known(stage, _field_names(Stage), prefix=f"stages[{index}].")


def _check_known(data: dict, known: list[str], prefix: str) -> None:
    for key in data:
        if key not in known:
            raise ConfigError(_unknown_key_message(f"{prefix}{key}", [prefix + k for k in known]))


def _unknown_key_message(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    if not close:
        close = [name for name in known if name.startswith(key)][:1]
    hint = f"did you mean {close[0]}? " if close else ""
    return f"unknown configuration key {key!r}; {hint}known keys: {', '.join(known)}"


def _drop_unknown_keys(data: dict) -> dict:
    known = _field_names(RunConfig)
    unknown = sorted(set(data) - set(known))
    if unknown:
        log.info("ignoring configuration keys unknown to this version: %s", unknown)
    data = {key: value for key, value in data.items() if key in known}
    for name, cls in SECTIONS.items():
        section = data.get(name)
        if isinstance(section, dict):
            names = _field_names(cls)
            dropped = sorted(set(section) - set(names))
            if dropped:
                log.info("ignoring %s keys unknown to this version: %s", name, dropped)
            data[name] = {key: value for key, value in section.items() if key in names}
    if isinstance(data.get("models"), dict):
        data["models"] = _drop_unknown_model_keys(data["models"])

    stages = data.get("stages")
    if isinstance(stages, list | tuple):
        names = _field_names(Stage)
        data["stages"] = [
            {key: value for key, value in stage.items() if key in names}
            if isinstance(stage, dict)
            else stage
            for stage in stages
        ]
    return data


def _drop_unknown_model_keys(models: dict) -> dict:
    names = _field_names(ModelConfig)
    kept = {}
    for purpose, table in models.items():
        if purpose not in PURPOSES or not isinstance(table, dict):
            log.info("ignoring models.%s, unknown to this version", purpose)
            continue
        dropped = sorted(set(table) - set(names))
        if dropped:
            log.info("ignoring models.%s keys unknown to this version: %s", purpose, dropped)
        kept[purpose] = {key: value for key, value in table.items() if key in names}
    return kept


def _field_names(cls: type) -> list[str]:
    return [item.name for item in fields(cls)]


def _build_sections(data: dict) -> dict:
    """Build ModelConfig, Limits and Budget from their tables; missing keys take defaults."""
    built = {}
    for name, cls in SECTIONS.items():
        if name not in data:
            continue
        section = data[name]
        if isinstance(section, cls):
            built[name] = section
            continue
        if not isinstance(section, dict):
            raise ConfigError(
                f"{name} must be a table with the keys {', '.join(_field_names(cls))}, got "
                f"{section!r}; set one key with {name}.KEY=VALUE"
            )
        section = dict(section)
        if name == "model" and section.get("api_key") == MASKED_KEY:
            section["api_key"] = None
        _check_types(cls, section, prefix=f"{name}.")
        built[name] = cls(**section)
    return built


def _build_operators(value: object) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ConfigError(
            f"operators must be a table of operator names and weights, got {value!r}; "
            "for example operators = {self = 2, reflect = 1}"
        )
    return dict(value)


def _build_stages(value: object) -> tuple[Stage, ...]:
    if not isinstance(value, list | tuple):
        raise ConfigError(
            f"stages must be a list of stages, got {value!r}; "
            "for example stages=[{tasks=3, threshold=0.2}, {}]"
        )
    return tuple(_build_stage(index, item) for index, item in enumerate(value))


def _build_stage(index: int, item: object) -> Stage:
    if isinstance(item, Stage):
        return item
    if not isinstance(item, dict):
        raise ConfigError(
            f"stages[{index}] must be a table such as {{tasks = 3, threshold = 0.2}}, got {item!r}"
        )
    _check_types(Stage, item, prefix=f"stages[{index}].")
    return Stage(item.get("tasks"), item.get("threshold", 0.0), item.get("beat_parent", False))


TYPE_WORDS = {
    int: "an integer",
    float: "a number",
    str: "a string",
    bool: "true or false",
    type(None): "left out",
}


def _check_types(cls: type, values: dict, prefix: str) -> None:
    """Raise ConfigError for a value whose type the field's annotation does not allow.

    Only fields of plain types (int, float, str, bool, None and their unions) are
    checked here. An int is allowed where a float is, but a bool is not an int.
    """
    hints = typing.get_type_hints(cls)
    for name, value in values.items():
        hint = hints[name]
        if typing.get_origin(hint) not in (None, types.UnionType):
            continue
        allowed = set(typing.get_args(hint)) or {hint}
        if not allowed <= set(TYPE_WORDS):
            continue
        if float in allowed:
            allowed.add(int)
        if type(value) in allowed or (name == "max_wall_s" and isinstance(value, str)):
            continue
        words = " or ".join(TYPE_WORDS[kind] for kind in TYPE_WORDS if kind in allowed)
        fix = "; quote it, for example KEY='\"VALUE\"'" if str in allowed else ""
        raise ConfigError(f"{prefix}{name} must be {words}, got {value!r}{fix}")


# Configuration files


def load_config(path_or_preset: str) -> dict:
    """Read a run configuration from a TOML file or a preset, as a dict for from_dict.

    A name without a path separator and without ".toml" that matches a file in the
    presets folder loads that preset. Keys of older runs are converted, and unknown keys
    raise ConfigError naming the file.
    """
    path = _config_path(path_or_preset)
    data = _parse_toml(_read_config_text(path), path)
    try:
        data = upgrade_old_keys(data)
        check_keys(data)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    return data


def preset_names() -> list[str]:
    """Return the names of the preset configurations, sorted."""
    folder = resources.files(__package__) / PRESETS_DIR
    return sorted(
        item.name[: -len(".toml")] for item in folder.iterdir() if item.name.endswith(".toml")
    )


def _config_path(path_or_preset: str) -> Path:
    separators = {os.sep, os.altsep or os.sep, "/"}
    is_name = not any(sep in path_or_preset for sep in separators)
    if is_name and not path_or_preset.endswith(".toml"):
        if path_or_preset in preset_names():
            return Path(str(resources.files(__package__) / PRESETS_DIR / f"{path_or_preset}.toml"))
        if not Path(path_or_preset).exists():
            raise ConfigError(
                f"unknown preset {path_or_preset!r} and no such file; choose one of "
                f"{', '.join(preset_names())}, or give the path of a TOML file"
            )
    return Path(path_or_preset)


def _read_config_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file not found: {path}; give the path of a TOML file or one of the "
            f"presets {', '.join(preset_names())}"
        ) from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"config file {path} is not valid UTF-8: {error}") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None


def _parse_toml(text: str, path: Path) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = TOML_ERROR_PLACE.match(str(error))
        if match is None:
            raise ConfigError(f"{path}: invalid TOML: {error}") from None
        raise ConfigError(
            f"{path}, line {match['line']}, column {match['column']}: invalid TOML: "
            f"{match['message']}"
        ) from None


# Options and overrides


def options_to_dict(options: dict[str, object]) -> dict:
    """Return the configuration keys that command-line options set.

    ``options`` maps argparse dests to values; None means the option was not given,
    so it does not override a file's value. --minibatch and --threshold are left to
    apply_stage_options.
    """
    data: dict = {}
    for dest, key in OPTION_KEYS.items():
        value = options.get(dest)
        if value is None:
            continue
        if dest == "operators":
            value = parse_operators(value)
        elif dest == "max_wall_time":
            value = parse_duration(value, "--max-wall-time")
        _set_key(data, key.split("."), value)
    return data


def apply_stage_options(data: dict, minibatch: int | None, threshold: float | None) -> dict:
    """Return ``data`` with --minibatch N and --threshold T applied, when either is given.

    They replace the stages with two: N tasks that need a mean of T to go on, then all
    the remaining tasks. The one not given, and beat_parent, come from the first stage
    of ``data`` or of the defaults.
    """
    if minibatch is None and threshold is None:
        return data
    stages = data.get("stages") or RunConfig().to_dict()["stages"]
    first = dict(stages[0]) if isinstance(stages[0], dict) else {}
    if minibatch is not None:
        first["tasks"] = minibatch
    if threshold is not None:
        first["threshold"] = threshold
    first.setdefault("tasks", RunConfig().stages[0].tasks)
    return {**data, "stages": [first, {}]}


def merge_config(base: dict, top: dict) -> dict:
    """Return ``base`` with the keys of ``top`` laid over it.

    Tables of model, agent_limits, budget and aliases are merged key by key, and each
    purpose's table of models too. Every other key, operators and stages included, is
    replaced as a whole.
    """
    merged = copy.deepcopy(base)
    for key, value in top.items():
        both_tables = isinstance(merged.get(key), dict) and isinstance(value, dict)
        if both_tables and key == "models":
            merged[key] = _merge_models(merged[key], value)
        elif both_tables and (key in SECTIONS or key == "aliases"):
            merged[key] = {**merged[key], **copy.deepcopy(value)}
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _merge_models(base: dict, top: dict) -> dict:
    merged = copy.deepcopy(base)
    for purpose, table in top.items():
        if isinstance(merged.get(purpose), dict) and isinstance(table, dict):
            merged[purpose] = {**merged[purpose], **copy.deepcopy(table)}
        else:
            merged[purpose] = copy.deepcopy(table)
    return merged


def apply_overrides(data: dict, items: list[str]) -> dict:
    """Return a copy of ``data`` with each ``KEY=VALUE`` item of --set applied in order.

    KEY may be dotted (model.max_tokens, operators.reflect). VALUE is read as a TOML
    value and, when it is not one, kept as a plain string. An empty VALUE removes the
    key, so the default applies.
    """
    result = copy.deepcopy(data)
    for item in items:
        key, text = _split_override(item)
        path = _override_path(key, item)
        if text.strip() == "":
            _remove_key(result, path)
            continue
        if path[0] == "operators" and len(path) == 2 and "operators" not in result:
            result["operators"] = dict(RunConfig().operators)
        _set_key(result, path, parse_override_value(text), item)
    return result


def parse_override_value(text: str) -> object:
    """Read a --set value as TOML (3, 2.5, true, [..], {..}, "text"), else as a string."""
    try:
        parsed = tomllib.loads(f"v = {text}")
    except tomllib.TOMLDecodeError:
        return text
    if set(parsed) != {"v"}:
        return text
    return parsed["v"]


def _split_override(item: str) -> tuple[str, str]:
    key, separator, text = item.partition("=")
    if not separator:
        raise ConfigError(
            f"--set {item!r} has no '='; write KEY=VALUE, for example --set generations=5"
        )
    key = key.strip()
    if not key:
        raise ConfigError(f"--set {item!r} has no key before '='; write KEY=VALUE")
    return key, text


def _override_path(key: str, item: str) -> list[str]:
    """Split a dotted --set key and check it against the configuration's keys."""
    path = key.split(".")
    name = path[0]
    if name in OLD_KEY_FIXES:
        raise ConfigError(
            f"--set {item!r}: {name} is an older key; set {OLD_KEY_FIXES[name]} instead"
        )
    if name not in _field_names(RunConfig):
        raise ConfigError(f"--set {item!r}: " + _unknown_key_message(key, _settable_keys()))
    if len(path) == 1:
        return path

    if name == "stages":
        raise ConfigError(
            f"--set {item!r}: set stages as a whole list, for example "
            "stages=[{tasks=3, threshold=0.2}, {}]"
        )
    if name == "models":
        return _models_path(path, key, item)
    if name == "aliases":
        if len(path) > 2 or not path[1]:
            raise ConfigError(
                f"--set {item!r}: set one alias as aliases.NAME=TARGET, for example "
                "--set aliases.fast=agent"
            )
        return path
    known = _nested_keys(name)
    if known is None or len(path) > 2 or path[1] not in known:
        choices = [f"{name}.{sub}" for sub in known] if known else _settable_keys()
        raise ConfigError(f"--set {item!r}: " + _unknown_key_message(key, choices))
    return path


def _models_path(path: list[str], key: str, item: str) -> list[str]:
    """Check a --set key under models: models.PURPOSE or models.PURPOSE.FIELD."""
    if path[1] not in PURPOSES:
        known = [f"models.{purpose}" for purpose in PURPOSES]
        raise ConfigError(f"--set {item!r}: " + _unknown_key_message(".".join(path[:2]), known))
    if len(path) == 2:
        return path
    known = [f"models.{path[1]}.{name}" for name in _field_names(ModelConfig)]
    if len(path) != 3 or path[2] not in _field_names(ModelConfig):
        raise ConfigError(f"--set {item!r}: " + _unknown_key_message(key, known))
    return path


def _nested_keys(name: str) -> list[str] | None:
    if name in SECTIONS:
        return _field_names(SECTIONS[name])
    if name == "operators":
        return list(OPERATORS)
    return None


def _settable_keys() -> list[str]:
    keys = []
    for name in _field_names(RunConfig):
        if name == "models":
            keys.append("models.PURPOSE.KEY")
            continue
        if name == "aliases":
            keys.append("aliases.NAME")
            continue
        nested = _nested_keys(name)
        keys.extend([f"{name}.{sub}" for sub in nested] if nested else [name])
    return keys


def _set_key(data: dict, path: list[str], value: object, item: str | None = None) -> None:
    table = data
    for name in path[:-1]:
        table = table.setdefault(name, {})
        if not isinstance(table, dict):
            where = f"--set {item!r}: " if item else ""
            raise ConfigError(
                f"{where}{name} is {table!r}, not a table, so {'.'.join(path)} cannot be set"
            )
    table[path[-1]] = value


def _remove_key(data: dict, path: list[str]) -> None:
    table = data
    for name in path[:-1]:
        table = table.get(name)
        if not isinstance(table, dict):
            return
    table.pop(path[-1], None)


def parse_operators(spec: str) -> dict[str, float]:
    """Parse an --operators SPEC such as "self" or "self=2,reflect=1" into name: weight.

    A name without a weight gets 1. Names and weights are checked by RunConfig.
    """
    weights: dict[str, float] = {}
    for part in spec.split(","):
        name, separator, text = part.partition("=")
        name = name.strip()
        if not name:
            raise ConfigError(
                f"--operators {spec!r} has an empty name; write NAME or NAME=WEIGHT separated "
                "by commas, for example self=2,reflect=1"
            )
        if name in weights:
            raise ConfigError(f"--operators {spec!r} names {name} twice; give each operator once")
        weights[name] = _parse_weight(text, name, spec) if separator else 1.0
    return weights


def _parse_weight(text: str, name: str, spec: str) -> float:
    try:
        weight = float(text)
    except ValueError:
        raise ConfigError(
            f"--operators {spec!r}: the weight of {name} must be a number, got {text.strip()!r}; "
            "for example self=2,reflect=1"
        ) from None
    return weight


def parse_duration(text: str, option: str) -> float:
    """Parse seconds, or a number with an s, m or h suffix (90m, 1.5h), into seconds."""
    match = DURATION_PATTERN.fullmatch(text.strip())
    if match is None:
        raise ConfigError(
            f"{option} must be seconds or a number with s, m or h after it, for example 90m, "
            f"got {text!r}"
        )
    return float(match[1]) * DURATION_UNITS[match[2]]


def config_differences(old: dict, new: dict) -> list[str]:
    """List the dotted keys whose values differ between two to_dict forms.

    Each entry reads "key: old -> new". model.api_key and the api_key of every table of
    models are left out, because stored keys are masked and a new key does not change
    what the run does. So are the keys that choose where evaluations run (PLACEMENT_KEYS).
    A key that ``old`` lacks, because it was stored before the key existed, counts as
    its default value.
    """
    old_values, new_values = _flatten(old), _flatten(new)
    defaults = _flatten(RunConfig().to_dict())
    keys = list(old_values) + [key for key in new_values if key not in old_values]
    differences = []
    for key in keys:
        if _is_api_key(key) or key in PLACEMENT_KEYS:
            continue
        before = old_values.get(key, defaults.get(key, _MISSING))
        after = new_values.get(key, _MISSING)
        if before != after:
            differences.append(f"{key}: {_show_value(before)} -> {_show_value(after)}")
    return differences


_MISSING = object()


def _is_api_key(key: str) -> bool:
    return key == "model.api_key" or (key.startswith("models.") and key.endswith(".api_key"))


def _flatten(data: object, prefix: str = "") -> dict[str, object]:
    if isinstance(data, dict) and data:
        flat = {}
        for key, value in data.items():
            flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(data, list | tuple) and data and all(isinstance(x, dict) for x in data):
        flat = {}
        for index, value in enumerate(data):
            flat.update(_flatten(value, f"{prefix}[{index}]"))
        return flat
    return {prefix: data}


def _show_value(value: object) -> str:
    if value is _MISSING:
        return "missing"
    if value is None:
        return "none"
    return _toml_value(value)


# A small TOML writer for the value types a configuration contains


def dump_toml(data: dict) -> str:
    """Return ``data`` as TOML text. None values are left out.

    Supported values: str, int, float, bool, lists of those, tables (dicts), and lists
    of tables whose values are not tables themselves.
    """
    lines: list[str] = []
    _write_table(lines, data, ())
    return "\n".join(lines).strip("\n") + "\n"


def _write_table(lines: list[str], data: dict, path: tuple[str, ...]) -> None:
    tables, arrays = [], []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, dict):
            # A table of only None values would be written empty, and loads as the defaults.
            if any(item is not None for item in value.values()):
                tables.append((key, value))
        elif _is_table_array(value):
            arrays.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")

    for key, value in tables:
        lines.extend(["", f"[{_dotted(path + (key,))}]"])
        _write_table(lines, value, path + (key,))
    for key, items in arrays:
        for item in items:
            lines.extend(["", f"[[{_dotted(path + (key,))}]]"])
            _write_entries(lines, item)


def _write_entries(lines: list[str], item: dict) -> None:
    for key, value in item.items():
        if value is None:
            continue
        if isinstance(value, dict) or _is_table_array(value):
            raise TypeError(f"dump_toml does not write tables inside arrays of tables: {key}")
        lines.append(f"{_toml_key(key)} = {_toml_value(value)}")


def _is_table_array(value: object) -> bool:
    return (
        isinstance(value, list | tuple) and bool(value) and all(isinstance(x, dict) for x in value)
    )


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(_toml_key(key) for key in path)


def _toml_key(key: str) -> str:
    return key if BARE_KEY.fullmatch(key) else _toml_string(key)


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        # repr writes inf, -inf and nan as TOML spells them.
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        entries = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + entries + "}"
    raise TypeError(f"dump_toml cannot write {type(value).__name__} values: {value!r}")


TOML_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _toml_string(text: str) -> str:
    """Quote a TOML basic string; other control characters become \\uXXXX escapes."""
    out = []
    for char in text:
        if char in TOML_ESCAPES:
            out.append(TOML_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def option_default(dest: str) -> str | None:
    """Return the default of a run option as --help shows it, or None when it has none."""
    defaults = RunConfig()
    if dest == "minibatch":
        return str(defaults.stages[0].tasks)
    if dest == "threshold":
        return str(defaults.stages[0].threshold)
    if dest not in OPTION_KEYS or dest == "skip_invalid":
        return None

    value: object = defaults.to_dict()
    for name in OPTION_KEYS[dest].split("."):
        value = value[name]
    if value is None:
        return None
    if dest == "operators":
        return ",".join(f"{name}={weight:g}" for name, weight in value.items())
    return str(value)


def _unset_keys(data: dict) -> list[str]:
    """Return the keys of ``data`` whose value is None, such as ``budget.calls``."""
    keys = [name for name, value in data.items() if value is None]
    for section in SECTIONS:
        table = data.get(section) or {}
        keys.extend(f"{section}.{name}" for name, value in table.items() if value is None)
    return keys
