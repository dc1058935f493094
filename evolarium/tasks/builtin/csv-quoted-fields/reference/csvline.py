"""Splitting a single CSV line into fields."""


def split_line(line: str, sep: str = ",") -> list[str]:
    """Return the fields of one CSV line.

    Fields may be wrapped in double quotes, inside which the separator is literal and
    a doubled quote stands for one quote. Raises ValueError for an unclosed quote.
    """
    fields: list[str] = []
    current: list[str] = []
    in_quotes = False
    i = 0
    while i < len(line):
        char = line[i]
        if in_quotes:
            if char == '"' and line[i + 1:i + 2] == '"':
                current.append('"')
                i += 1
            elif char == '"':
                in_quotes = False
            else:
                current.append(char)
        elif char == '"':
            in_quotes = True
        elif char == sep:
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1

    if in_quotes:
        raise ValueError(f"unclosed quote in CSV line {line!r}")
    fields.append("".join(current))
    return fields
