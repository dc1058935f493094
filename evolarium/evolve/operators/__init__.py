"""Operators that make a child agent from one or two parents.

``self`` (DGM): the parent rewrites its own code. ``reflect`` (GEPA): a rewriter agent
reads the parent's traces with feedback and rewrites the parent. ``merge``: a three-way
merge of two parents against their common ancestor.
"""

from evolarium.errors import ConfigError
from evolarium.evolve.operators.base import Child, OperatorInput, Parent
from evolarium.evolve.operators.merge import merge_child
from evolarium.evolve.operators.reflect import reflect_child
from evolarium.evolve.operators.self_edit import self_modify, self_prompt, unified_diff

OPERATORS = ("self", "reflect", "merge")

__all__ = [
    "OPERATORS",
    "Child",
    "OperatorInput",
    "Parent",
    "make_child",
    "reflect_child",
    "self_modify",
    "self_prompt",
    "unified_diff",
]


def make_child(
    name: str, parents: list[Parent], inputs: OperatorInput, ancestor: Parent | None = None
) -> Child:
    """Make a child with the operator ``name``; ``ancestor`` is used by ``merge`` only.

    Raises ConfigError for an unknown operator name and ValueError when ``parents`` is empty.
    """
    if not parents:
        raise ValueError(f"operator {name!r} needs at least one parent, got none")
    if name == "self":
        return self_modify(parents, inputs)
    if name == "reflect":
        return reflect_child(parents, inputs)
    if name == "merge":
        return merge_child(parents, ancestor, inputs)
    raise ConfigError(f"unknown operator {name!r}; valid operators: {', '.join(OPERATORS)}")
