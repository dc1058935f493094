"""Semantic version strings such as 1.4.0, v1.4.0 or 2.0.0-rc.1."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_VERSION = re.compile(
    r"v?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)


def _identifier_key(identifier: str) -> tuple[int, int, str]:
    # Numeric identifiers sort before alphanumeric ones and compare as integers.
    if identifier.isdigit():
        return (0, int(identifier), "")
    return (1, 0, identifier)


@dataclass(frozen=True)
class Version:
    """A parsed version, ordered by Semantic Versioning 2.0.0 precedence."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    _key: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # A release (no pre-release) sorts after every pre-release of the same version.
        if self.prerelease:
            pre_key = (0, [_identifier_key(identifier) for identifier in self.prerelease])
        else:
            pre_key = (1,)
        object.__setattr__(self, "_key", (self.major, self.minor, self.patch, pre_key))

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    def __lt__(self, other: Version) -> bool:
        return self._key < other._key

    def __le__(self, other: Version) -> bool:
        return self._key <= other._key

    def __gt__(self, other: Version) -> bool:
        return self._key > other._key

    def __ge__(self, other: Version) -> bool:
        return self._key >= other._key


def parse_version(text: str) -> Version:
    """Return the Version for text, or raise ValueError if text is not a version."""
    match = _VERSION.fullmatch(text)
    if match is None:
        raise ValueError(f"not a semantic version: {text!r}; expected MAJOR.MINOR.PATCH")
    prerelease = match.group("prerelease")
    return Version(
        int(match.group("major")),
        int(match.group("minor")),
        int(match.group("patch")),
        tuple(prerelease.split(".")) if prerelease else (),
    )
