"""Search queries with AND, OR, NOT, parentheses and quoted phrases.

Grammar, from the loosest binding to the tightest:

    query   := or_expr
    or_expr := and_expr ("OR" and_expr)*
    and_expr:= not_expr (["AND"] not_expr)*     adjacent terms are joined by AND
    not_expr:= "NOT" not_expr | primary
    primary := term | '"' phrase '"' | "(" or_expr ")"

Only the upper-case words AND, OR and NOT are operators. A term or phrase matches the
documents that contain its words in a row, so the term "brown-fox" is the phrase "brown fox".
"""

import re

from docsearch.index import Index
from docsearch.tokens import words

OPERATORS = ("AND", "OR", "NOT")
TOKEN = re.compile(r'\s*(?:(?P<paren>[()])|"(?P<phrase>[^"]*)"|(?P<term>[^\s()"]+))')


class QueryError(ValueError):
    """Raised for a query that does not follow the grammar."""


def search(index: Index, query: str) -> list[str]:
    """Return the ids of the documents that match ``query``, in sorted order.

    An empty query matches nothing. Raises QueryError for an invalid query.
    """
    tokens = _tokenize(query)
    if not tokens:
        return []
    parser = _Parser(tokens, index)
    result = parser.or_expr()
    if parser.peek() is not None:
        raise QueryError(f"invalid query {query!r}: unexpected {parser.peek()[1]!r}")
    return sorted(result)


def _tokenize(query: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    query = query.rstrip()
    while position < len(query):
        match = TOKEN.match(query, position)
        if not match:
            raise QueryError(f"invalid query {query!r}: unclosed quote at {position}")
        kind = match.lastgroup
        text = match.group(kind)
        if kind == "term" and text in OPERATORS:
            kind = "operator"
        tokens.append((kind, text))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], index: Index) -> None:
        self.tokens = tokens
        self.position = 0
        self.index = index

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def accept(self, kind: str, text: str) -> bool:
        if self.peek() == (kind, text):
            self.position += 1
            return True
        return False

    def or_expr(self) -> set[str]:
        result = self.and_expr()
        while self.accept("operator", "OR"):
            result |= self.and_expr()
        return result

    def and_expr(self) -> set[str]:
        result = self.not_expr()
        while True:
            if self.accept("operator", "AND"):
                result &= self.not_expr()
            elif self._starts_operand():
                result &= self.not_expr()
            else:
                return result

    def not_expr(self) -> set[str]:
        if self.accept("operator", "NOT"):
            return self.index.all_docs() - self.not_expr()
        return self.primary()

    def primary(self) -> set[str]:
        token = self.peek()
        if token is None:
            raise QueryError("invalid query: it ends where a term was expected")
        kind, text = token
        if kind in ("term", "phrase"):
            self.position += 1
            return self.index.docs_with_phrase(words(text))
        if token == ("paren", "("):
            self.position += 1
            result = self.or_expr()
            if not self.accept("paren", ")"):
                raise QueryError("invalid query: missing ')'")
            return result
        raise QueryError(f"invalid query: expected a term, got {text!r}")

    def _starts_operand(self) -> bool:
        token = self.peek()
        if token is None:
            return False
        return token[0] in ("term", "phrase") or token in (("operator", "NOT"), ("paren", "("))
