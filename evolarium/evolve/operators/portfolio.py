"""The operator portfolio: weights that decide how often each operator makes a child."""

import math
import random

from evolarium.errors import ConfigError
from evolarium.evolve.operators import OPERATORS

EXAMPLE = "self=2,reflect=1,merge=0.5"


def parse_portfolio(text: str) -> dict[str, float]:
    """Parse ``"self"`` or ``"self=2,reflect=1,merge=0.5"`` into operator weights.

    A name without ``=`` gets weight 1. Raises ConfigError naming the invalid part and the fix.
    """
    if not text.strip():
        raise ConfigError(f"the operator portfolio is empty; give names and weights like {EXAMPLE}")

    weights: dict[str, float] = {}
    for part in text.split(","):
        name, weight = _parse_part(part, text)
        if name in weights:
            raise ConfigError(
                f"operator {name!r} appears twice in the portfolio {text!r}; give it once"
            )
        weights[name] = weight
    _check_weights(weights)
    return weights


def _parse_part(part: str, text: str) -> tuple[str, float]:
    if not part.strip():
        raise ConfigError(
            f"the operator portfolio {text!r} has an empty entry; "
            f"separate name=weight pairs with single commas, like {EXAMPLE}"
        )

    name, separator, weight_text = part.partition("=")
    name = name.strip()
    if not name:
        raise ConfigError(
            f"the portfolio entry {part.strip()!r} has no operator name; use {EXAMPLE}"
        )
    _check_name(name)
    if not separator:
        return name, 1.0

    try:
        weight = float(weight_text)
    except ValueError:
        raise ConfigError(
            f"the weight {weight_text.strip()!r} of operator {name!r} is not a number; "
            f"use a number of 0 or more, like {EXAMPLE}"
        ) from None
    return name, weight


def _check_name(name: str) -> None:
    if name not in OPERATORS:
        raise ConfigError(
            f"unknown operator {name!r} in the portfolio; valid names: {', '.join(OPERATORS)}"
        )


def _check_weights(weights: dict[str, float]) -> None:
    if not weights:
        raise ConfigError(f"the operator portfolio is empty; give names and weights like {EXAMPLE}")
    for name, weight in weights.items():
        _check_name(name)
        if not math.isfinite(weight) or weight < 0:
            raise ConfigError(
                f"the weight {weight!r} of operator {name!r} is invalid; "
                "use a finite number of 0 or more"
            )
    if not any(weight > 0 for weight in weights.values()):
        raise ConfigError(
            "every operator in the portfolio has weight 0; give at least one a positive weight"
        )


def choose_operator(weights: dict[str, float], rng: random.Random) -> str:
    """Draw an operator name with probability proportional to its weight.

    Names are sorted before the draw, so the result depends only on ``rng`` and the weights,
    not on the dict's order. An operator with weight 0 is never drawn.
    """
    _check_weights(weights)
    names = sorted(name for name, weight in weights.items() if weight > 0)
    return rng.choices(names, weights=[weights[name] for name in names])[0]
