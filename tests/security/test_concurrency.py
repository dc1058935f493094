"""Attacks that run at the same time as a healthy evaluation must not change its score.

Four hostile agents (a fork bomb, a memory bomb, a loop that ignores SIGTERM and 2 GB of
output) run in threads beside an agent that writes the task's reference solution. The
model is the loopback fake provider, and no model calls are made.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.security.attacks import (
    AGENT_OUTPUT,
    ATTACK_LIMITS,
    FORK_BOMB,
    MEMORY_BOMB,
    SIGTERM_LOOP,
)
from tests.security.lab import AGENT_LIMITS, agent_program, calc_task

pytestmark = pytest.mark.docker

# name: (agent.py, its limits, the outcome it must end with)
ATTACKS = {
    "fork-bomb": (FORK_BOMB, ATTACK_LIMITS, "pids"),
    "memory-bomb": (MEMORY_BOMB, ATTACK_LIMITS, "oom"),
    "sigterm-ignoring-loop": (SIGTERM_LOOP, ATTACK_LIMITS, "timeout"),
    # Printing 2 GB takes longer than the short attack timeout on a loaded machine.
    "2gb-output": (AGENT_OUTPUT, AGENT_LIMITS, "output_limit"),
}


def test_attacks_leave_healthy_score(lab, tmp_path):
    healthy_task = calc_task(tmp_path / "healthy")
    reference = (healthy_task.reference / "calc.py").read_text()
    healthy = agent_program(files={"calc.py": reference})
    alone = lab.evaluate(healthy, healthy_task, name="healthy")
    assert alone.score == 1.0, alone.test_output

    with ThreadPoolExecutor(max_workers=len(ATTACKS) + 1) as pool:
        attacks = {}
        for name, (code, limits, _expected) in ATTACKS.items():
            task = calc_task(tmp_path / name, agent_seconds=limits.timeout_s)
            attacks[name] = pool.submit(lab.evaluate, code, task, limits=limits, name=name)
        beside = pool.submit(lab.evaluate, healthy, healthy_task, name="healthy").result()
        outcomes = {name: future.result().outcome for name, future in attacks.items()}

    assert beside.score == 1.0, beside.test_output
    assert beside.resolved
    assert beside.outcome == alone.outcome == "ok"
    assert (beside.tests_passed, beside.tests_total) == (alone.tests_passed, alone.tests_total)
    assert outcomes == {name: expected for name, (_code, _limits, expected) in ATTACKS.items()}
