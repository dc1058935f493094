"""A tiny text template engine."""

from tmpl.render import render

__all__ = ["render"]
