"""Run hidden tests inside the scoring container. Runs there, imports nothing from evolarium.

Python starts in isolated mode (-I), so PYTHON* variables, the user site and
the current directory are ignored. The workspace goes at the end of sys.path,
after pytest is imported, so a workspace module cannot shadow pytest or the
standard library. Conftest files are ignored and the ini file is an empty one
that the harness provides, so the workspace cannot configure pytest.

The JUnit XML goes back to the host on stdout, framed by a nonce that the
harness reads from a file and deletes before any workspace code runs. The
harness then leaves with ``os._exit``, so ``atexit`` handlers that workspace
code registered cannot rewrite the results.
"""

import base64
import os
import sys

NONCE_FILE = "/results/nonce"
HIDDEN_TESTS = "/hidden/tests"
WORKSPACE = "/workspace"
RESULTS = "/results/junit.xml"
EMPTY_INI = "/input/harness/pytest.ini"


def read_nonce() -> str:
    with open(NONCE_FILE, encoding="ascii") as stream:
        nonce = stream.read().strip()
    os.unlink(NONCE_FILE)
    return nonce


def run_pytest() -> int:
    import pytest

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


def main() -> None:
    nonce = read_nonce()
    code = run_pytest()
    with open(RESULTS, "rb") as stream:
        encoded = base64.b64encode(stream.read()).decode("ascii")
    sys.stdout.flush()
    sys.stderr.flush()
    frame = f"\nEVOLARIUM-RESULTS {nonce} {code} {encoded} END-{nonce}\n"
    os.write(1, frame.encode("ascii"))
    os._exit(code)


if __name__ == "__main__":
    main()
