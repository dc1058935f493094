"""Evaluate expressions such as "x = 2 * (y + 1)" or "max(a, 3) ^ 2".

The work is done by ``mathexpr.lexer``, ``mathexpr.parser`` and ``mathexpr.interpreter``.
This module keeps the original functions, which share one default Interpreter.
"""

from mathexpr.errors import ExpressionError
from mathexpr.interpreter import Interpreter

__all__ = ["ExpressionError", "clear_variables", "default_interpreter", "evaluate", "set_variable"]

default_interpreter = Interpreter()


def set_variable(name: str, value: float) -> None:
    default_interpreter.set_variable(name, value)


def clear_variables() -> None:
    default_interpreter.clear_variables()


def evaluate(text: str) -> float:
    """Return the value of ``text``; an assignment also stores the value in its variable."""
    return default_interpreter.evaluate(text)
