"""Choosing the release to ship from a repository's tags."""

from versions import parse_version


def latest(tags: list[str], include_prerelease: bool = False) -> str | None:
    """Return the tag with the highest version, or None if no tag is a version.

    Tags that are not versions are skipped, and so are pre-releases unless
    include_prerelease is true.
    """
    best_tag = None
    best_version = None
    for tag in tags:
        try:
            version = parse_version(tag)
        except ValueError:
            continue
        if version.is_prerelease and not include_prerelease:
            continue
        if best_version is None or version > best_version:
            best_tag, best_version = tag, version
    return best_tag
