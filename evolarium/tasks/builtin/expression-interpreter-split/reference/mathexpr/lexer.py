"""Split expression text into tokens."""

import re
from typing import NamedTuple

TOKEN = re.compile(r"\s*(?:(\d+\.\d*|\.\d+|\d+)|([A-Za-z_]\w*)|(\S))")


class Token(NamedTuple):
    """A token: kind is "number", "name", "symbol" or "end"; position is a 0-based index."""

    kind: str
    text: str
    position: int


def tokenize(text: str) -> list[Token]:
    """Return the tokens of ``text``, ending with an "end" token at ``len(text)``.

    Any character outside a number or a name becomes a one-character symbol, so tokenizing
    never fails. The parser rejects the symbols it does not know.
    """
    tokens = []
    position = 0
    while True:
        match = TOKEN.match(text, position)
        if not match:
            break
        number, name, symbol = match.groups()
        start = match.start(match.lastindex)
        if number is not None:
            tokens.append(Token("number", number, start))
        elif name is not None:
            tokens.append(Token("name", name, start))
        else:
            tokens.append(Token("symbol", symbol, start))
        position = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens
