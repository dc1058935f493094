"""Render Markdown notes to HTML: headings with ids, fenced code blocks and paragraphs."""

import html

from notes.anchors import AnchorSet
from notes.headings import parse_heading

FENCES = ("```", "~~~")


def render_html(markdown: str) -> str:
    """Return the HTML for ``markdown``, one element per line."""
    anchors = AnchorSet()
    output = []
    code: list[str] | None = None
    for line in markdown.splitlines():
        if line.startswith(FENCES):
            if code is None:
                code = []
            else:
                output.append("<pre><code>" + html.escape("\n".join(code)) + "</code></pre>")
                code = None
            continue
        if code is not None:
            code.append(line)
            continue
        heading = parse_heading(line)
        if heading:
            level, title = heading
            anchor = html.escape(anchors.add(title))
            output.append(f'<h{level} id="{anchor}">{html.escape(title)}</h{level}>')
        elif line.strip():
            output.append(f"<p>{html.escape(line.strip())}</p>")
    if code is not None:
        output.append("<pre><code>" + html.escape("\n".join(code)) + "</code></pre>")
    return "\n".join(output)
