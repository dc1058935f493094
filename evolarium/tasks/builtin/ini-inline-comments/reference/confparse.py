"""Parser for a small INI-like configuration format."""

import re

# An unquoted value ends at a '#' or ';' that follows whitespace.
_INLINE_COMMENT = re.compile(r"\s[#;]")
_QUOTED = re.compile(r'"(?P<value>[^"]*)"\s*(?:[#;].*)?')


def _parse_value(raw: str, line_number: int) -> str:
    raw = raw.strip()
    if raw.startswith('"'):
        match = _QUOTED.fullmatch(raw)
        if match is None:
            raise ValueError(f"line {line_number}: invalid quoted value {raw!r}")
        return match.group("value")

    comment = _INLINE_COMMENT.search(raw)
    if comment is not None:
        raw = raw[:comment.start()]
    return raw.strip()


def parse(text: str) -> dict[str, dict[str, str]]:
    """Return {section: {key: value}} for the configuration text.

    Raises ValueError naming the 1-based line number for a key outside any section or a
    line that is not a section header, comment or key = value pair.
    """
    sections: dict[str, dict[str, str]] = {}
    current = None
    for line_number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line[0] in "#;":
            continue

        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            sections.setdefault(current, {})
            continue

        key, separator, value = line.partition("=")
        if not separator or not key.strip():
            raise ValueError(f"line {line_number}: expected 'key = value', got {line!r}")
        if current is None:
            raise ValueError(f"line {line_number}: key {key.strip()!r} is outside a section")
        sections[current][key.strip()] = _parse_value(value, line_number)
    return sections
