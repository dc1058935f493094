"""Formulas: numbers, references, + - * /, parentheses and SUM over ranges or references.

A parsed formula is a tree of tuples:
("num", value), ("ref", "A1"), ("neg", node), ("bin", op, left, right) and
("sum", [refs]), where the references of a range are already expanded.
"""

import re
from collections.abc import Callable

from sheet.refs import expand_range, normalize

TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<range>[A-Za-z]+\d+:[A-Za-z]+\d+)"
    r"|(?P<name>[A-Za-z]+\d*)|(?P<op>[-+*/(),]))"
)


def tokenize(text: str) -> list[tuple[str, str]]:
    """Return (kind, text) tokens; raise ValueError for anything else."""
    tokens = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if not match:
            raise ValueError(f"invalid formula {text!r} at position {position}")
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def parse_formula(text: str):
    """Parse formula text (without the leading "=") into a tree of tuples."""
    parser = _Parser(tokenize(text))
    node = parser.expression()
    if parser.peek() is not None:
        raise ValueError(f"invalid formula {text!r}: unexpected {parser.peek()[1]!r}")
    return node


def references(node) -> set[str]:
    """Return every cell that the formula tree reads."""
    kind = node[0]
    if kind == "ref":
        return {node[1]}
    if kind == "sum":
        return set(node[1])
    if kind == "neg":
        return references(node[1])
    if kind == "bin":
        return references(node[2]) | references(node[3])
    return set()


def evaluate(node, lookup: Callable[[str], float]) -> float:
    """Return the value of the formula tree; ``lookup`` returns the value of a cell."""
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "ref":
        return lookup(node[1])
    if kind == "sum":
        return sum(lookup(ref) for ref in node[1])
    if kind == "neg":
        return -evaluate(node[1], lookup)
    op, left, right = node[1], evaluate(node[2], lookup), evaluate(node[3], lookup)
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    return left / right


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, text: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (text is not None and token[1] != text):
            raise ValueError(f"invalid formula: expected {text or 'more input'}")
        self.index += 1
        return token

    def expression(self):
        node = self.term()
        while self.peek() and self.peek()[1] in "+-":
            op = self.take()[1]
            node = ("bin", op, node, self.term())
        return node

    def term(self):
        node = self.factor()
        while self.peek() and self.peek()[1] in "*/":
            op = self.take()[1]
            node = ("bin", op, node, self.factor())
        return node

    def factor(self):
        token = self.peek()
        if token is None:
            raise ValueError("invalid formula: unexpected end")
        if token[1] == "-":
            self.take()
            return ("neg", self.factor())
        if token[1] == "(":
            self.take()
            node = self.expression()
            self.take(")")
            return node
        if token[0] == "number":
            self.take()
            number = float(token[1])
            return ("num", int(number) if number.is_integer() else number)
        if token[0] == "name" and token[1].upper() == "SUM":
            return self.sum_call()
        if token[0] == "name":
            self.take()
            return ("ref", normalize(token[1]))
        raise ValueError(f"invalid formula: unexpected {token[1]!r}")

    def sum_call(self):
        self.take()
        self.take("(")
        refs: list[str] = []
        while True:
            kind, text = self.take()
            if kind == "range":
                refs.extend(expand_range(text))
            elif kind == "name":
                refs.append(normalize(text))
            else:
                raise ValueError(f"invalid formula: SUM takes references, got {text!r}")
            if self.peek() and self.peek()[1] == ",":
                self.take()
                continue
            self.take(")")
            return ("sum", refs)
