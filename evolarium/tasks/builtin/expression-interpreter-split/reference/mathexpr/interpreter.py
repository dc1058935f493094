"""Evaluate syntax trees, with variables kept per Interpreter."""

import math

from mathexpr.errors import ExpressionError
from mathexpr.nodes import Assign, Binary, Call, Node, Number, Unary, Variable
from mathexpr.parser import parse


class Interpreter:
    """Evaluates expressions; each instance has its own variables."""

    def __init__(self, variables: dict[str, float] | None = None) -> None:
        self.variables: dict[str, float] = dict(variables or {})

    def set_variable(self, name: str, value: float) -> None:
        self.variables[name] = value

    def clear_variables(self) -> None:
        self.variables.clear()

    def evaluate(self, text: str) -> float:
        """Return the value of ``text``; an assignment also stores the value in its variable."""
        return self.evaluate_node(parse(text))

    def evaluate_node(self, node: Node) -> float:
        """Return the value of a syntax tree from ``mathexpr.parser.parse``."""
        if isinstance(node, Number):
            return node.value
        if isinstance(node, Variable):
            if node.name not in self.variables:
                raise ExpressionError(f"unknown variable {node.name!r}")
            return self.variables[node.name]
        if isinstance(node, Unary):
            value = self.evaluate_node(node.operand)
            return -value if node.op == "-" else value
        if isinstance(node, Binary):
            return _binary(node.op, self.evaluate_node(node.left), self.evaluate_node(node.right))
        if isinstance(node, Call):
            return _call(node.name, [self.evaluate_node(arg) for arg in node.args])
        if isinstance(node, Assign):
            value = self.evaluate_node(node.value)
            self.variables[node.name] = value
            return value
        raise TypeError(f"not an expression node: {node!r}")


def _binary(op: str, left: float, right: float) -> float:
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "^":
        try:
            return left**right
        except ZeroDivisionError as error:
            raise ExpressionError("division by zero") from error
    if right == 0:
        raise ExpressionError("division by zero")
    return left / right if op == "/" else left % right


def _call(name: str, args: list[float]) -> float:
    if name in ("sqrt", "abs"):
        if len(args) != 1:
            raise ExpressionError(f"{name} expects 1 argument, got {len(args)}")
        if name == "abs":
            return abs(args[0])
        if args[0] < 0:
            raise ExpressionError(f"sqrt of a negative number: {args[0]}")
        return math.sqrt(args[0])
    if name in ("min", "max"):
        return min(args) if name == "min" else max(args)
    if name == "round":
        if len(args) not in (1, 2):
            raise ExpressionError(f"round expects 1 or 2 arguments, got {len(args)}")
        if len(args) == 2:
            return round(args[0], int(args[1]))
        return round(args[0])
    raise ExpressionError(f"unknown function {name!r}")
