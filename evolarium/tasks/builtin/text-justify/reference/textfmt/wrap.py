"""Line layouts for paragraphs of text."""

from textfmt.words import group_words, paragraphs


def wrap(text: str, width: int) -> list[str]:
    """Return the lines of ``text`` wrapped to ``width``, left-aligned.

    Each paragraph is wrapped on its own, and an empty string separates paragraphs.
    """
    lines: list[str] = []
    for index, words in enumerate(paragraphs(text)):
        if index:
            lines.append("")
        lines.extend(" ".join(line) for line in group_words(words, width))
    return lines


def justify(text: str, width: int) -> list[str]:
    """Return the lines of ``text`` wrapped to ``width`` and fully justified.

    Every line but the last of a paragraph is exactly ``width`` characters long, unless it
    is a single word longer than ``width``. The last line of a paragraph is left-aligned.
    """
    lines: list[str] = []
    for index, words in enumerate(paragraphs(text)):
        if index:
            lines.append("")
        grouped = group_words(words, width)
        lines.extend(_stretch(line, width) for line in grouped[:-1])
        lines.append(" ".join(grouped[-1]))
    return lines


def _stretch(words: list[str], width: int) -> str:
    if len(words) == 1:
        return words[0].ljust(width)

    gaps = len(words) - 1
    spaces = width - sum(len(word) for word in words)
    base, extra = divmod(spaces, gaps)
    # The leftmost gaps take the spaces that do not divide evenly.
    parts = []
    for position, word in enumerate(words[:-1]):
        parts.append(word + " " * (base + (1 if position < extra else 0)))
    parts.append(words[-1])
    return "".join(parts)
