"""Markdown notes: headings, anchors, HTML output and a table of contents."""
