"""Parser for a small INI-like configuration format."""


def parse(text: str) -> dict[str, dict[str, str]]:
    """Return {section: {key: value}} for the configuration text."""
    sections: dict[str, dict[str, str]] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            sections.setdefault(current, {})
            continue
        key, value = line.split("=")
        if current is None:
            raise ValueError("key outside of a section")
        sections[current][key.strip()] = value.strip()
    return sections
