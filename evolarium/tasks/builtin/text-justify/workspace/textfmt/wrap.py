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
