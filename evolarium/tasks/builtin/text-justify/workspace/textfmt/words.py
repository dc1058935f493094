"""Splitting text into paragraphs and words, and grouping words into lines."""


def paragraphs(text: str) -> list[list[str]]:
    """Return the words of each paragraph; paragraphs are separated by blank lines."""
    result = []
    current: list[str] = []
    for line in text.splitlines():
        if line.strip():
            current.extend(line.split())
        elif current:
            result.append(current)
            current = []
    if current:
        result.append(current)
    return result


def group_words(words: list[str], width: int) -> list[list[str]]:
    """Group words greedily into lines of at most ``width`` characters.

    Words are separated by one space. A word longer than ``width`` gets a line of its own.
    """
    if width < 1:
        raise ValueError(f"width must be at least 1, got {width}")
    lines: list[list[str]] = []
    current: list[str] = []
    length = 0
    for word in words:
        needed = len(word) if not current else length + 1 + len(word)
        if current and needed > width:
            lines.append(current)
            current, length = [word], len(word)
        else:
            current.append(word)
            length = needed
    if current:
        lines.append(current)
    return lines
