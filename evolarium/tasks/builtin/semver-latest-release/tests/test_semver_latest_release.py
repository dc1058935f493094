from release import latest
from versions import parse_version


def test_numeric_comparison():
    assert parse_version("1.9.0") < parse_version("1.10.0")
    assert parse_version("2.0.0") > parse_version("1.99.99")
    assert parse_version("0.0.9") < parse_version("0.0.10")


def test_leading_v_is_accepted():
    assert parse_version("v1.2.3") == parse_version("1.2.3")
    assert parse_version("v1.2.3").is_prerelease is False


def test_invalid_versions_raise():
    rejected = []
    for text in ["nightly", "1.2", "1.2.x", "1.2.3.4", "", "1.2.3-"]:
        try:
            parse_version(text)
        except ValueError:
            rejected.append(text)
    assert rejected == ["nightly", "1.2", "1.2.x", "1.2.3.4", "", "1.2.3-"]


def test_prerelease_below_release():
    assert parse_version("1.0.0-rc.1") < parse_version("1.0.0")
    assert parse_version("1.0.0-rc.1") > parse_version("0.9.9")


def test_prerelease_precedence_chain():
    chain = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
    ]
    shuffled = [chain[i] for i in (5, 0, 7, 3, 1, 6, 2, 4)]
    assert sorted(shuffled, key=parse_version) == chain
    for lower, higher in zip(chain, chain[1:]):
        assert parse_version(lower) < parse_version(higher)


def test_latest_skips_non_versions():
    tags = ["nightly", "v1.9.0", "1.10.0", "v1.2", "docs-2024"]
    assert latest(tags) == "1.10.0"


def test_latest_ignores_prereleases_by_default():
    tags = ["v2.0.0-rc.1", "v1.4.2", "v1.4.10"]
    assert latest(tags) == "v1.4.10"
    assert latest(tags, include_prerelease=True) == "v2.0.0-rc.1"


def test_latest_none_without_releases():
    assert latest([]) is None
    assert latest(["nightly", "latest"]) is None
    assert latest(["3.0.0-beta"]) is None
