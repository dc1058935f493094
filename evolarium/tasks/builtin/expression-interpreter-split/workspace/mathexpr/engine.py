"""Evaluate expressions such as "x = 2 * (y + 1)" or "max(a, 3) ^ 2".

Grammar, from the loosest binding to the tightest:

    statement := NAME "=" expr | expr
    expr      := term (("+" | "-") term)*
    term      := unary (("*" | "/" | "%") unary)*
    unary     := ("-" | "+") unary | power
    power     := primary ("^" unary)?
    primary   := NUMBER | NAME | NAME "(" expr ("," expr)* ")" | "(" expr ")"

So "^" is right-associative and binds tighter than a leading minus: -2^2 is -4.
The expression is evaluated while it is parsed.
"""

import math
import re

TOKEN = re.compile(r"\s*(?:(\d+\.\d*|\.\d+|\d+)|([A-Za-z_]\w*)|(\S))")

_variables: dict[str, float] = {}


class ExpressionError(ValueError):
    """Raised for an invalid expression or one that cannot be evaluated."""


def set_variable(name: str, value: float) -> None:
    _variables[name] = value


def clear_variables() -> None:
    _variables.clear()


def evaluate(text: str) -> float:
    """Return the value of ``text``; an assignment also stores the value in its variable."""
    return _Evaluator(text).statement()


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


class _Evaluator:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        position = 0
        while True:
            match = TOKEN.match(text, position)
            if not match:
                break
            number, name, symbol = match.groups()
            start = match.start(match.lastindex)
            if number is not None:
                self.tokens.append(("number", number, start))
            elif name is not None:
                self.tokens.append(("name", name, start))
            else:
                self.tokens.append(("symbol", symbol, start))
            position = match.end()
        self.tokens.append(("end", "", len(text)))
        self.index = 0

    def peek(self, ahead: int = 0) -> tuple[str, str, int]:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        self.index += 1
        return token

    def expect(self, symbol: str) -> None:
        token = self.take()
        if token[1] != symbol or token[0] != "symbol":
            raise self.unexpected(token)

    def unexpected(self, token: tuple[str, str, int]) -> ExpressionError:
        if token[0] == "end":
            return ExpressionError("unexpected end of expression")
        return ExpressionError(f"unexpected {token[1]!r} at position {token[2]}")

    def statement(self) -> float:
        if self.peek()[0] == "name" and self.peek(1)[1] == "=":
            name = self.take()[1]
            self.take()
            value = self.expr()
            self.finish()
            _variables[name] = value
            return value
        value = self.expr()
        self.finish()
        return value

    def finish(self) -> None:
        if self.peek()[0] != "end":
            raise self.unexpected(self.peek())

    def expr(self) -> float:
        value = self.term()
        while self.peek()[1] in ("+", "-") and self.peek()[0] == "symbol":
            op = self.take()[1]
            right = self.term()
            value = value + right if op == "+" else value - right
        return value

    def term(self) -> float:
        value = self.unary()
        while self.peek()[1] in ("*", "/", "%") and self.peek()[0] == "symbol":
            op = self.take()[1]
            right = self.unary()
            if op == "*":
                value = value * right
            elif right == 0:
                raise ExpressionError("division by zero")
            elif op == "/":
                value = value / right
            else:
                value = value % right
        return value

    def unary(self) -> float:
        if self.peek()[1] in ("-", "+") and self.peek()[0] == "symbol":
            op = self.take()[1]
            value = self.unary()
            return -value if op == "-" else value
        return self.power()

    def power(self) -> float:
        base = self.primary()
        if self.peek()[1] == "^" and self.peek()[0] == "symbol":
            self.take()
            exponent = self.unary()
            try:
                return base**exponent
            except ZeroDivisionError as error:
                raise ExpressionError("division by zero") from error
        return base

    def primary(self) -> float:
        token = self.take()
        kind, text, _ = token
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind == "name" and self.peek()[1] == "(":
            self.take()
            args = [self.expr()]
            while self.peek()[1] == ",":
                self.take()
                args.append(self.expr())
            self.expect(")")
            return _call(text, args)
        if kind == "name":
            if text not in _variables:
                raise ExpressionError(f"unknown variable {text!r}")
            return _variables[text]
        if text == "(" and kind == "symbol":
            value = self.expr()
            self.expect(")")
            return value
        raise self.unexpected(token)
