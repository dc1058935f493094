"""Semantic version strings such as 1.4.0 or 2.0.0-rc.1."""

from __future__ import annotations

import re
from dataclasses import dataclass

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?")


@dataclass(frozen=True, order=True)
class Version:
    major: str
    minor: str
    patch: str
    prerelease: str = ""

    @property
    def is_prerelease(self) -> bool:
        return self.prerelease != ""


def parse_version(text: str) -> Version:
    """Return the Version for text, or raise ValueError if text is not a version."""
    match = _VERSION.fullmatch(text)
    if match is None:
        raise ValueError(f"not a semantic version: {text!r}")
    major, minor, patch, prerelease = match.groups()
    return Version(major, minor, patch, prerelease or "")
