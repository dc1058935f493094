"""Choosing the release to ship from a repository's tags."""

from versions import parse_version


def latest(tags: list[str], include_prerelease: bool = False) -> str | None:
    """Return the tag with the highest version, or None if no tag is a version."""
    candidates = []
    for tag in tags:
        version = parse_version(tag)
        if version.is_prerelease and not include_prerelease:
            continue
        candidates.append((version, tag))
    if not candidates:
        return None
    return max(candidates)[1]
