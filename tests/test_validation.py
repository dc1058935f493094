"""Validation of a new child before its evaluation (evolarium/evolve/validation.py).

A child whose agent.py does not compile, does not import, or fails the smoke task is
stored as invalid with the reason, and is never evaluated on the run's tasks. The run
uses the loopback fake provider (tests/fakeprovider.py) with scripted replies.
"""

import itertools

import pytest

from evolarium.agents.contract import seed_agent_dir
from evolarium.tasks import load_suite
from tests.conftest import evolarium_containers
from tests.fakeprovider import FakeProvider
from tests.test_evolution import reference_reply, run_and_open
from tests.test_loop_limits import fake_config

pytestmark = pytest.mark.docker

MAIN_GUARD = '\nif __name__ == "__main__":'
TRUSTING_MARK = "(this agent keeps every edit)"
TRUSTING_PART = f"""
SYSTEM_PROMPT = SYSTEM_PROMPT + "\\n{TRUSTING_MARK}"


def restore_broken(originals):
    print("keeping every edit, whether it compiles or not")

"""
BROKEN_SYNTAX = "def evolved(:\n    return 1\n"
MISSING_IMPORT = "import evolarium_module_that_does_not_exist\n\nprint('never reached')\n"
GIVES_UP = (
    "import sys\n\n"
    'if __name__ == "__main__":\n'
    '    print("this agent gives up on every task")\n'
    "    sys.exit(3)\n"
)


def trusting_agent_code() -> str:
    """Return the seed agent's code, changed so that it keeps an edit that does not compile.

    Its system prompt carries TRUSTING_MARK, so the scripted model can tell its requests
    from the seed agent's.
    """
    seed_code = (seed_agent_dir() / "agent.py").read_text()
    assert seed_code.count(MAIN_GUARD) == 1
    return seed_code.replace(MAIN_GUARD, TRUSTING_PART + MAIN_GUARD)


def file_reply(code: str) -> str:
    return f"FILE: agent.py\n```python\n{code}```\n"


def validation_model(task, rewrites: list[str]):
    """Return a scripted model that replies to each "Improve this coding agent" request
    with the next of ``rewrites``.

    A task gets its reference solution only from the trusting agent, so the seed scores
    below it and `best` selection makes the trusting agent the parent of every later child.
    """
    edits = iter(rewrites)

    def reply(request: dict) -> str:
        text = "\n".join(str(m.get("content", "")) for m in request["messages"])
        if "Improve this coding agent" in text:
            return file_reply(next(edits, "# no more rewrites\n"))
        if "Smoke task" in text:
            return 'FILE: hello.py\n```python\ndef hello():\n    return "hello"\n```\n'
        if TRUSTING_MARK in text and task.prompt().strip()[:200] in text:
            return reference_reply(task)
        return "I cannot help with that."

    return reply


def test_invalid_child_stored_not_evaluated(docker_client, sandbox_image):
    """Children that do not compile, do not import or fail the smoke task (fake provider).

    Step 1 makes the trusting agent, which is valid and scores 1. It is the parent of
    steps 2 to 4, and writes each scripted agent.py as it is: one with a syntax error,
    one that imports a missing module, and one that exits with status 3.
    """
    task = load_suite("builtin").tasks[0]
    rewrites = [trusting_agent_code(), BROKEN_SYNTAX, MISSING_IMPORT, GIVES_UP]
    with FakeProvider(itertools.repeat(validation_model(task, rewrites), 200)) as fake:
        run_id, archive = run_and_open(fake_config(fake, generations=4, selection="best"))

    agents = sorted(archive.agents(run_id), key=lambda agent: agent.step)
    seed, trusting, no_compile, no_import, no_smoke = agents
    assert [agent.operator_outcome for agent in agents] == ["ok"] * 5
    assert trusting.status == "evaluated", trusting.reason
    assert [e.score for e in archive.evaluations(run_id, trusting.id)] == [1.0]
    # The task's starting workspace passes some hidden tests, but not all of them.
    assert [e.score < 1.0 for e in archive.evaluations(run_id, seed.id)] == [True]
    for child in (no_compile, no_import, no_smoke):
        assert child.parent_id == trusting.id
        assert child.status == "invalid"
        assert archive.evaluations(run_id, child.id) == []

    assert no_compile.reason.startswith("does not compile: "), no_compile.reason
    assert "SyntaxError" in no_compile.reason
    assert no_import.reason.startswith("does not import: "), no_import.reason
    assert "No module named 'evolarium_module_that_does_not_exist'" in no_import.reason
    assert no_smoke.reason == (
        "smoke task ended with exit_error (exit code 3): this agent gives up on every task"
    )

    # The smoke task runs only for code that compiles and imports; it makes no model call
    # here, because the agent gives up first. The valid child's smoke task made one.
    def validation_calls(agent) -> list:
        return [c for c in archive.calls(run_id, agent.id) if c.purpose == "validation"]

    assert len(validation_calls(trusting)) == 1
    assert all(validation_calls(child) == [] for child in (no_compile, no_import, no_smoke))
    invalid_events = [e for e in archive.events(run_id) if e.kind == "agent_invalid"]
    assert [e.agent_id for e in invalid_events] == [no_compile.id, no_import.id, no_smoke.id]
    assert len(archive.evaluations(run_id)) == 2
    assert archive.run(run_id).status == "finished"
    assert evolarium_containers(docker_client, run_id) == []


def test_child_with_byte_order_mark_valid(docker_client, sandbox_image):
    """An agent.py that starts with a UTF-8 byte order mark runs, so it is valid (fake provider).

    The seed agent compiles the file from its bytes, as python3 reads it, and keeps it.
    """
    task = load_suite("builtin").tasks[0]
    seed_code = (seed_agent_dir() / "agent.py").read_text()
    with_mark = "\ufeff" + seed_code + "# evolved: now starts with a byte order mark\n"
    with FakeProvider(itertools.repeat(validation_model(task, [with_mark]), 50)) as fake:
        run_id, archive = run_and_open(fake_config(fake, generations=1, selection="best"))

    child = next(agent for agent in archive.agents(run_id) if agent.parent_id)
    assert child.operator_outcome == "ok"
    assert child.status == "evaluated", child.reason
    assert evolarium_containers(docker_client, run_id) == []
