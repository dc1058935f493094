"""Parse expression text into a syntax tree, without evaluating it.

Grammar, from the loosest binding to the tightest:

    statement := NAME "=" expr | expr
    expr      := term (("+" | "-") term)*
    term      := unary (("*" | "/" | "%") unary)*
    unary     := ("-" | "+") unary | power
    power     := primary ("^" unary)?
    primary   := NUMBER | NAME | NAME "(" expr ("," expr)* ")" | "(" expr ")"

So "^" is right-associative and binds tighter than a leading minus: -2^2 is -(2^2).
"""

from mathexpr.errors import ExpressionError
from mathexpr.lexer import Token, tokenize
from mathexpr.nodes import Assign, Binary, Call, Node, Number, Unary, Variable


def parse(text: str) -> Node:
    """Return the syntax tree of ``text``; raise ExpressionError for invalid syntax."""
    return _Parser(tokenize(text)).statement()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.peek()
        self.index += 1
        return token

    def at_symbol(self, *symbols: str) -> bool:
        token = self.peek()
        return token.kind == "symbol" and token.text in symbols

    def expect(self, symbol: str) -> None:
        token = self.take()
        if token.kind != "symbol" or token.text != symbol:
            raise self.unexpected(token)

    def unexpected(self, token: Token) -> ExpressionError:
        if token.kind == "end":
            return ExpressionError("unexpected end of expression")
        return ExpressionError(f"unexpected {token.text!r} at position {token.position}")

    def statement(self) -> Node:
        if self.peek().kind == "name" and self.peek(1).text == "=":
            name = self.take().text
            self.take()
            node: Node = Assign(name, self.expr())
        else:
            node = self.expr()
        if self.peek().kind != "end":
            raise self.unexpected(self.peek())
        return node

    def expr(self) -> Node:
        node = self.term()
        while self.at_symbol("+", "-"):
            op = self.take().text
            node = Binary(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.at_symbol("*", "/", "%"):
            op = self.take().text
            node = Binary(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.at_symbol("-", "+"):
            op = self.take().text
            return Unary(op, self.unary())
        return self.power()

    def power(self) -> Node:
        base = self.primary()
        if self.at_symbol("^"):
            self.take()
            return Binary("^", base, self.unary())
        return base

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "number":
            text = token.text
            return Number(float(text) if "." in text else int(text))
        if token.kind == "name" and self.peek().text == "(":
            self.take()
            args = [self.expr()]
            while self.peek().text == ",":
                self.take()
                args.append(self.expr())
            self.expect(")")
            return Call(token.text, tuple(args))
        if token.kind == "name":
            return Variable(token.text)
        if token.kind == "symbol" and token.text == "(":
            node = self.expr()
            self.expect(")")
            return node
        raise self.unexpected(token)
