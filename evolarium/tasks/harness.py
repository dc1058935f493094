"""Run hidden tests inside the scoring container. Runs there, imports nothing from evolarium.

Python starts in isolated mode (-I), so PYTHON* variables, the user site and
the current directory are ignored. The workspace goes at the end of sys.path,
after pytest is imported, so a workspace module cannot shadow pytest or the
standard library. Conftest files are ignored and the ini file is an empty one
that the harness provides, so the workspace cannot configure pytest.
"""

import sys

import pytest

HIDDEN_TESTS = "/hidden/tests"
WORKSPACE = "/workspace"
RESULTS = "/results/junit.xml"
EMPTY_INI = "/input/harness/pytest.ini"


def main() -> int:
    sys.path.append(WORKSPACE)
    args = [
        HIDDEN_TESTS,
        "-c",
        EMPTY_INI,
        "--rootdir",
        HIDDEN_TESTS,
        "--noconftest",
        "-p",
        "no:cacheprovider",
        f"--junitxml={RESULTS}",
        "-o",
        "junit_family=xunit2",
        "-q",
        "--tb=short",
        "-rfE",
    ]
    return int(pytest.main(args))


if __name__ == "__main__":
    sys.exit(main())
