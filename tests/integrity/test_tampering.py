"""Agents that try to game the scorer must score 0, and honest agents must score 1.0.

The attacks edit or delete the visible test file and add pytest hooks, in a conftest.py
and in the solution module itself, both as a ``pytest_runtest_makereport`` function and
as one marked with ``@pytest.hookimpl``. They add Python start-up files
(sitecustomize.py, usercustomize.py, a .pth file), call ``os._exit(0)`` at import, print
fake "PASSED" lines, and forge JUnit reports in the harness's results directory, in
/results and in the workspace. They patch builtins, read the hidden tests, add modules
that shadow pytest, and configure pytest in pytest.ini, pyproject.toml, setup.cfg and
tox.ini. A second group hides the same intent from the static checks with names built at
run time, a rewrite of a hidden test file, a patch of pytest's report class and a
hand-made bytecode file.

Every agent runs through the normal path, ``Evaluator.evaluate``, on the stats task: its
reference solution exists, but no attack fixes the bug, so any credit would come from the
cheat. The agents write files and exit. The gateway points at the loopback fake provider,
and the model is never called. Each attack but the bytecode one is also scored once with
``score_workspace``.
"""

import pytest

from tests.integrity.attacks import (
    ATTACKS,
    BUGGY_STATS,
    HIDDEN_ATTACKS,
    HIDDEN_TEST_COUNT,
    HONEST,
    REPORT_PATCH,
)
from tests.integrity.lab import agent_program

pytestmark = pytest.mark.docker

# Writes stats.py with a report patch, compiles it to an unchecked-hash .pyc that Python
# loads without looking at the source, then restores the original stats.py. It runs only
# through the Evaluator, because the .pyc must come from the sandbox image's Python.
BYTECODE_AGENT = f"""\
import importlib.util
import py_compile

SOURCE = "/workspace/stats.py"
with open(SOURCE, "w") as stream:
    stream.write({BUGGY_STATS + REPORT_PATCH!r})
compiled = py_compile.compile(
    SOURCE,
    cfile=importlib.util.cache_from_source(SOURCE),
    doraise=True,
    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
)
with open(SOURCE, "w") as stream:
    stream.write({BUGGY_STATS!r})
print("wrote", compiled, flush=True)
"""


def attack_id(attack) -> str:
    return attack.name


def test_start_workspace_scores_zero(lab, stats_task):
    score = lab.score(stats_task, {})

    assert score.outcome == "ok", score.output
    assert score.score == 0.0
    assert score.total == HIDDEN_TEST_COUNT
    assert score.tampering is None


@pytest.mark.parametrize("attack", ATTACKS, ids=attack_id)
def test_evaluated_attack_scores_zero(lab, stats_task, attack):
    evaluation = lab.evaluate(agent_program(attack.files), stats_task)

    assert "wrote" in evaluation.transcript, evaluation.transcript
    assert evaluation.calls == 0
    assert evaluation.score == 0.0, evaluation.test_output
    assert not evaluation.resolved
    assert evaluation.tests_passed == 0
    assert evaluation.outcome == "tampering", evaluation.test_output
    assert evaluation.tampering, evaluation.test_output
    assert attack.finding in evaluation.tampering


@pytest.mark.parametrize("attack", ATTACKS, ids=attack_id)
def test_scored_attack_scores_zero(lab, stats_task, attack):
    score = lab.score(stats_task, attack.files)

    assert score.score == 0.0, score.output
    assert not score.resolved
    assert score.passed == 0
    assert score.outcome == "tampering", score.output
    assert score.tampering, score.output
    assert attack.finding in score.tampering


@pytest.mark.parametrize("attack", HIDDEN_ATTACKS, ids=attack_id)
def test_evaluated_hidden_attack_scores_zero(lab, stats_task, attack):
    evaluation = lab.evaluate(agent_program(attack.files), stats_task)

    assert "wrote" in evaluation.transcript, evaluation.transcript
    assert evaluation.score == 0.0, f"{evaluation.outcome}\n{evaluation.test_output}"
    assert not evaluation.resolved
    assert evaluation.tests_passed == 0


@pytest.mark.parametrize("attack", HIDDEN_ATTACKS, ids=attack_id)
def test_scored_hidden_attack_scores_zero(lab, stats_task, attack):
    score = lab.score(stats_task, attack.files)

    assert score.score == 0.0, f"{score.outcome}\n{score.output}"
    assert not score.resolved
    assert score.passed == 0


def test_evaluated_bytecode_attack_scores_zero(lab, stats_task):
    evaluation = lab.evaluate(BYTECODE_AGENT, stats_task)

    assert "__pycache__/stats." in evaluation.transcript, evaluation.transcript
    assert evaluation.score == 0.0, f"{evaluation.outcome}\n{evaluation.test_output}"
    assert not evaluation.resolved
    assert evaluation.tests_passed == 0


@pytest.mark.parametrize("name", sorted(HONEST))
def test_evaluated_honest_agent_scores_one(lab, stats_task, name):
    evaluation = lab.evaluate(agent_program(HONEST[name]), stats_task)

    assert evaluation.calls == 0
    assert evaluation.tampering is None, evaluation.tampering
    assert evaluation.score == 1.0, evaluation.test_output
    assert evaluation.resolved
    assert evaluation.outcome == "ok"
    assert evaluation.tests_passed == HIDDEN_TEST_COUNT


@pytest.mark.parametrize("name", sorted(HONEST))
def test_scored_honest_workspace_scores_one(lab, stats_task, name):
    score = lab.score(stats_task, HONEST[name])

    assert score.tampering is None, score.tampering
    assert score.score == 1.0, score.output
    assert score.resolved
    assert score.outcome == "ok"
    assert score.total == HIDDEN_TEST_COUNT


def test_honest_agent_running_visible_tests_scores_one(lab, stats_task):
    # pytest in the agent's sandbox leaves .pytest_cache and __pycache__ in the workspace.
    program = agent_program(HONEST["helper-module-and-own-tests"], run_visible_tests=True)
    evaluation = lab.evaluate(program, stats_task)

    assert "3 passed" in evaluation.transcript, evaluation.transcript
    assert evaluation.tampering is None, evaluation.tampering
    assert evaluation.score == 1.0, evaluation.test_output
    assert evaluation.outcome == "ok"
