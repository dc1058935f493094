"""Resource attacks in sandboxes: fork bombs, memory bombs, huge files, loops that ignore
SIGTERM, 2 GB of output and output that is not UTF-8.

Each attack runs as an agent through Evaluator.evaluate, as workspace code under the
hidden tests through score_workspace, or both. Each must end with its typed outcome,
stored in the archive, while the host process stays small. The model is the loopback
fake provider, and no model calls are made.
"""

import resource
from pathlib import Path

import pytest

from tests.security.attacks import (
    AGENT_OUTPUT,
    ATTACK_LIMITS,
    ATTACK_SECONDS,
    BINARY_OUTPUT,
    FORK_BOMB,
    IS_FIFO,
    MEMORY_BOMB,
    SCORING_BINARY_OUTPUT,
    SCORING_OUTPUT,
    SIGTERM_LOOP,
    SPARSE_FILE,
    fill,
)
from tests.security.lab import (
    SCORING_LIMITS,
    agent_program,
    calc_task,
    scoring_attack,
)

pytestmark = pytest.mark.docker

# Peak RSS growth of the test process allowed while a sandbox prints 2 GB.
RSS_GROWTH_KB = 50 * 1024

AGENT_ATTACKS = {
    "fork-bomb": (FORK_BOMB, "pids"),
    "memory-bomb": (MEMORY_BOMB, "oom"),
    "10gb-workspace-file": (fill("/workspace/huge.bin"), "disk"),
    "10gb-tmp-file": (fill("/tmp/huge.bin"), "disk"),
    "10gb-sparse-file": (SPARSE_FILE, "disk"),
    "sigterm-ignoring-loop": (SIGTERM_LOOP, "timeout"),
}

SCORING_ATTACKS = {
    "fork-bomb": (FORK_BOMB, "pids"),
    "memory-bomb": (MEMORY_BOMB, "oom"),
    "10gb-workspace-file": (fill("/workspace/huge.bin"), "disk"),
    "10gb-tmp-file": (fill("/tmp/huge.bin"), "disk"),
    "sigterm-ignoring-loop": (SIGTERM_LOOP, "test_timeout"),
}

# Scoring attacks that also run through a whole evaluation, planted by the agent.
EVALUATED_SCORING_ATTACKS = ["memory-bomb", "10gb-tmp-file", "sigterm-ignoring-loop"]


def peak_rss_kb() -> int:
    """Return this process's peak RSS since it started, in KiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def status_kb(field: str) -> int:
    """Return a size in KiB from /proc/self/status, such as VmRSS or VmHWM."""
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0])
    raise KeyError(field)


def reset_peak_rss() -> int:
    """Reset the kernel's peak RSS of this process (VmHWM) to its RSS now, and return that RSS.

    getrusage keeps the peak of the whole process life, which an earlier test may have set
    higher. VmHWM after the reset is the peak of this test alone.
    """
    Path("/proc/self/clear_refs").write_text("5")
    return status_kb("VmRSS")


@pytest.mark.parametrize("name", list(AGENT_ATTACKS))
def test_agent_attack_outcome(lab, tmp_path, name):
    code, expected = AGENT_ATTACKS[name]
    task = calc_task(tmp_path / "task", agent_seconds=ATTACK_SECONDS)

    evaluation = lab.evaluate(code, task, limits=ATTACK_LIMITS)

    assert evaluation.outcome == expected, evaluation.transcript
    assert evaluation.score == 0.0
    assert not evaluation.resolved


@pytest.mark.parametrize("name", list(SCORING_ATTACKS))
def test_scoring_attack_outcome(lab, tmp_path, name):
    body, expected = SCORING_ATTACKS[name]
    task = calc_task(tmp_path / "task", test_seconds=ATTACK_SECONDS)

    score = lab.score(task, {"calc.py": scoring_attack(body)}, SCORING_LIMITS)

    assert score.outcome == expected, score.output
    assert score.score == 0.0
    assert not score.resolved


@pytest.mark.parametrize("name", EVALUATED_SCORING_ATTACKS)
def test_evaluated_scoring_attack_outcome(lab, tmp_path, name):
    body, expected = SCORING_ATTACKS[name]
    code = agent_program(files={"calc.py": scoring_attack(body)})
    task = calc_task(tmp_path / "task", test_seconds=ATTACK_SECONDS)

    evaluation = lab.evaluate(code, task)

    assert evaluation.outcome == expected, evaluation.test_output
    assert evaluation.score == 0.0
    assert not evaluation.resolved


def test_agent_2gb_output_capped(lab, tmp_path):
    task = calc_task(tmp_path / "task")
    before = peak_rss_kb()
    rss_before = reset_peak_rss()

    evaluation = lab.evaluate(AGENT_OUTPUT, task)

    assert peak_rss_kb() - before < RSS_GROWTH_KB
    assert status_kb("VmHWM") - rss_before < RSS_GROWTH_KB
    assert evaluation.outcome == "output_limit"
    assert 0 < len(evaluation.transcript) <= 64 * 1024
    assert set(evaluation.transcript) == {"y"}


def test_scoring_2gb_output_capped(lab, tmp_path):
    task = calc_task(tmp_path / "task", test_seconds=60)
    module = IS_FIFO + scoring_attack(SCORING_OUTPUT)
    before = peak_rss_kb()
    rss_before = reset_peak_rss()

    score = lab.score(task, {"calc.py": module}, SCORING_LIMITS)

    assert peak_rss_kb() - before < RSS_GROWTH_KB
    assert status_kb("VmHWM") - rss_before < RSS_GROWTH_KB
    assert score.outcome == "output_limit", score.output[-2000:]
    assert score.score == 0.0
    assert "y" * 1000 in score.output
    assert "2 failed" in score.output


def test_agent_binary_output_stored(lab, tmp_path):
    task = calc_task(tmp_path / "task")

    evaluation = lab.evaluate(BINARY_OUTPUT, task)

    assert evaluation.outcome == "ok", evaluation.transcript
    assert evaluation.transcript.count("after-the-junk") == 2
    assert "\ufffd" in evaluation.transcript


def test_scoring_binary_output_stored(lab, tmp_path):
    task = calc_task(tmp_path / "task")
    code = agent_program(files={"calc.py": IS_FIFO + scoring_attack(SCORING_BINARY_OUTPUT)})

    evaluation = lab.evaluate(code, task)

    assert evaluation.outcome == "ok", evaluation.test_output
    assert evaluation.tests_total == 2
    assert evaluation.score == 0.0
    assert "after-the-junk" in evaluation.test_output
    assert "\ufffd" in evaluation.test_output
