"""Reading pytest's results: odd test ids, parametrized counts, crashes and miscounts.

Each test writes a small task in tmp_path and scores workspaces with
``score_workspace`` in a real scoring sandbox. No agent runs and no model is used.
"""

import pytest

from tests.integrity.lab import write_task

pytestmark = pytest.mark.docker

DOUBLE = "def double(x):\n    return x * 2\n"
WRONG_ON_THREE = "def double(x):\n    return 5 if x == 3 else x * 2\n"
ABSOLUTE = "def double(x):\n    return abs(x) * 2\n"
IDENTITY = "def double(x):\n    return x\n"

ODD_IDS_TESTS = """\
import pytest

from calc import double


@pytest.mark.parametrize(
    "value, expected",
    [(1, 2), (2, 4), (3, 6), (-1, -2)],
    ids=["one and two", "[nested] brackets", "a b [c d]", "minus one :: x"],
)
def test_double(value, expected):
    assert double(value) == expected


class TestDoubleZero:
    def test_zero(self):
        assert double(0) == 0
"""

GRID_TESTS = """\
import pytest

from calc import double


@pytest.mark.parametrize("x", [0, 1, 2])
@pytest.mark.parametrize("sign", [1, -1])
def test_double_grid(x, sign):
    assert double(sign * x) == 2 * sign * x


def test_double_five():
    assert double(5) == 10
"""

PASSED_NAMED_TESTS = """\
from calc import double


def test_PASSED_in_output():
    print("test_PASSED_cases.py::test_PASSED_in_output PASSED")
    assert double(2) == 4


def test_double_five_PASSED():
    print("1 passed in 0.01s")
    assert double(5) == 10
"""

THREE_TESTS = """\
from calc import double


def test_double_one():
    assert double(1) == 2


def test_double_two():
    assert double(2) == 4


def test_double_negative():
    assert double(-3) == -6
"""

CRASHES = {
    "raises-at-import": "raise RuntimeError('calc is broken at import')\n" + DOUBLE,
    "segfault-at-import": "import os\nimport signal\n\nos.kill(os.getpid(), signal.SIGSEGV)\n"
    + DOUBLE,
}


def calc_task(root, tests: dict[str, str], expected_tests: int | None):
    return write_task(
        root,
        workspace={"calc.py": IDENTITY},
        tests=tests,
        reference={"calc.py": DOUBLE},
        expected_tests=expected_tests,
    )


def test_odd_parametrize_ids_are_counted(lab, tmp_path):
    task = calc_task(tmp_path / "odd-ids", {"test_odd_ids.py": ODD_IDS_TESTS}, 5)

    partial = lab.score(task, {"calc.py": WRONG_ON_THREE})
    assert partial.outcome == "ok", partial.output
    assert partial.tampering is None
    assert partial.passed == 4
    assert partial.total == 5
    assert partial.score == pytest.approx(0.8)
    assert not partial.resolved
    assert "a b [c d]" in partial.output

    solved = lab.score(task, {"calc.py": DOUBLE})
    assert solved.outcome == "ok", solved.output
    assert solved.passed == 5
    assert solved.resolved


def test_stacked_parametrize_counts_each_case(lab, tmp_path):
    task = calc_task(tmp_path / "grid", {"test_grid.py": GRID_TESTS}, 7)

    score = lab.score(task, {"calc.py": ABSOLUTE})

    assert score.outcome == "ok", score.output
    assert score.total == 7
    assert score.passed == 5
    assert score.score == pytest.approx(5 / 7)


def test_passed_in_file_name_scores_zero(lab, tmp_path):
    task = calc_task(tmp_path / "passed-name", {"test_PASSED_cases.py": PASSED_NAMED_TESTS}, 2)

    failing = lab.score(task, {})
    assert failing.outcome == "ok", failing.output
    assert failing.tampering is None
    assert failing.passed == 0
    assert failing.total == 2
    assert failing.score == 0.0

    solved = lab.score(task, {"calc.py": DOUBLE})
    assert solved.outcome == "ok", solved.output
    assert solved.score == 1.0


@pytest.mark.parametrize("crash", sorted(CRASHES))
def test_crash_before_tests_is_not_ok(lab, tmp_path, crash):
    task = calc_task(tmp_path / "crash", {"test_calc.py": THREE_TESTS}, None)

    score = lab.score(task, {"calc.py": CRASHES[crash]})

    assert score.outcome in ("collection_error", "harness_error"), score.output
    assert score.score == 0.0
    assert score.passed == 0
    assert not score.resolved


@pytest.mark.parametrize("expected_tests", [2, 5])
def test_expected_tests_mismatch_is_inconsistent(lab, tmp_path, expected_tests):
    task = calc_task(tmp_path / "miscount", {"test_calc.py": THREE_TESTS}, expected_tests)

    score = lab.score(task, {"calc.py": DOUBLE})

    assert score.outcome == "inconsistent_results", score.output
    assert score.score == 0.0
    assert not score.resolved
    assert f"pytest ran 3 tests; the task expects {expected_tests}" in score.output
