"""End-to-end evolution runs on real Docker sandboxes and a real SQLite archive.

`test_evolution_scripted_model` uses the loopback fake provider (tests/fakeprovider.py):
it returns the reference solution of each task and a small edit of the agent's own
code, so every step of the loop is exercised deterministically.
`test_evolution_embedded_model` uses the real embedded SmolLM2-135M model.
"""

import io
import itertools
import re

import pytest
from rich.console import Console

from evolarium.agents.contract import seed_agent_dir
from evolarium.archive import Archive
from evolarium.evolve.config import RunConfig
from evolarium.evolve.run import find_run
from evolarium.evolve.session import start_evolution
from evolarium.llm.router import ModelConfig
from evolarium.paths import runs_dir
from evolarium.sandbox import Limits
from evolarium.tasks import load_suite
from tests.conftest import evolarium_containers
from tests.fakeprovider import FakeProvider

pytestmark = pytest.mark.docker

TASK_COUNT = 3
EVOLVED_MARK = "# evolved: this line was added by the self operator"


def reference_reply(task) -> str:
    blocks = []
    for path in sorted(task.reference.rglob("*.py")):
        relative = path.relative_to(task.reference).as_posix()
        blocks.append(f"FILE: {relative}\n```python\n{path.read_text()}```\n")
    return "\n".join(blocks)


def scripted_model(tasks):
    seed_code = (seed_agent_dir() / "agent.py").read_text()
    edits = itertools.count(1)

    def reply(request: dict) -> str:
        text = "\n".join(str(m.get("content", "")) for m in request["messages"])
        if "Improve this coding agent" in text:
            # Each edit is new, so no child equals its parent.
            code = seed_code + f"{EVOLVED_MARK} {next(edits)}\n"
            return f"FILE: agent.py\n```python\n{code}```\n"
        if "Smoke task" in text:
            return 'FILE: hello.py\n```python\ndef hello():\n    return "hello"\n```\n'
        for task in tasks:
            if task.prompt().strip()[:200] in text:
                return reference_reply(task)
        return "I cannot help with that."

    return reply


def run_and_open(config: RunConfig) -> tuple[str, Archive]:
    output = io.StringIO()
    assert start_evolution(config, Console(file=output, width=120)) == 0
    printed = output.getvalue()
    match = re.search(r"run (r\S+) finished", printed)
    assert match, printed
    run_id, path = find_run(match.group(1))
    assert path.parent.parent == runs_dir()
    return run_id, Archive.open(path)


def check_lineage(archive: Archive, run_id: str) -> list:
    agents = archive.agents(run_id)
    by_id = {agent.id: agent for agent in agents}
    seeds = [agent for agent in agents if agent.parent_id is None]
    assert len(seeds) == 1
    assert seeds[0].generation == 0
    children = [agent for agent in agents if agent.parent_id is not None]
    assert children, "no child was made"
    for child in children:
        assert child.parent_id in by_id
        assert child.generation == by_id[child.parent_id].generation + 1
        assert child.diff is not None
    return agents


def test_evolution_scripted_model(docker_client, sandbox_image):
    tasks = list(load_suite("builtin").tasks[:TASK_COUNT])
    with FakeProvider([scripted_model(tasks)] * 200) as fake:
        config = RunConfig(
            suite="builtin",
            tasks=TASK_COUNT,
            generations=2,
            model=ModelConfig(model="openai/fake", api_base=fake.url, api_key="test"),
            agent_steps=2,
            agent_limits=Limits(timeout_s=120),
        )
        run_id, archive = run_and_open(config)

    agents = check_lineage(archive, run_id)
    assert len(agents) == 3
    evaluations = archive.evaluations(run_id)
    for agent in agents:
        assert agent.status == "evaluated", agent.reason
        scored = {e.task_id: e for e in evaluations if e.agent_id == agent.id}
        assert sorted(scored) == sorted(task.id for task in tasks)
        for evaluation in scored.values():
            assert evaluation.score == 1.0, evaluation.test_output
            assert evaluation.resolved
            assert evaluation.calls >= 1
    child = next(agent for agent in agents if agent.generation == 1)
    assert EVOLVED_MARK in child.diff

    calls = archive.calls(run_id)
    purposes = {call.purpose for call in calls}
    assert {"agent", "operator", "validation"} <= purposes
    agent_calls = [call for call in calls if call.purpose == "agent"]
    assert all(call.evaluation_id and call.outcome == "ok" for call in agent_calls)
    assert archive.run(run_id).status == "finished"
    assert evolarium_containers(docker_client, run_id) == []


def test_evolution_rejects_unchanged_child(docker_client, sandbox_image):
    tasks = list(load_suite("builtin").tasks[:1])
    with FakeProvider(["no code today"] * 50) as fake:
        config = RunConfig(
            suite="builtin",
            tasks=1,
            generations=2,
            model=ModelConfig(model="openai/fake", api_base=fake.url, api_key="test"),
            agent_steps=1,
            agent_limits=Limits(timeout_s=120),
        )
        run_id, archive = run_and_open(config)

    # Both children are invalid, so both have the seed as parent and generation 1.
    agents = check_lineage(archive, run_id)
    children = [agent for agent in agents if agent.parent_id]
    assert len(children) == 2
    for child in children:
        assert child.status == "invalid"
        assert "no change" in child.reason
        assert child.generation == 1
        assert archive.evaluations(run_id, child.id) == []
    assert len(archive.evaluations(run_id)) == len(tasks)


@pytest.mark.model
def test_evolution_embedded_model(docker_client, sandbox_image):
    config = RunConfig(
        suite="builtin",
        tasks=TASK_COUNT,
        generations=2,
        agent_steps=1,
        model=ModelConfig(max_tokens=256),
        agent_limits=Limits(timeout_s=300),
    )
    run_id, archive = run_and_open(config)

    agents = check_lineage(archive, run_id)
    evaluations = archive.evaluations(run_id)
    task_ids = {task.id for task in load_suite("builtin").tasks[:TASK_COUNT]}
    for agent in agents:
        if agent.status == "invalid":
            assert agent.reason
            continue
        assert agent.status == "evaluated"
        assert {e.task_id for e in evaluations if e.agent_id == agent.id} == task_ids
    calls = archive.calls(run_id)
    sandbox_calls = [call for call in calls if call.purpose == "agent"]
    assert sandbox_calls, "no model call was recorded from inside a sandbox"
    assert all(call.model == "local/smollm2" for call in calls)
    assert sum(call.completion_tokens for call in sandbox_calls) > 0
    assert evolarium_containers(docker_client, run_id) == []


def test_evolution_stops_at_call_budget(docker_client, sandbox_image):
    from evolarium.llm.budget import Budget

    tasks = list(load_suite("builtin").tasks[:TASK_COUNT])
    output = io.StringIO()
    with FakeProvider([scripted_model(tasks)] * 200) as fake:
        config = RunConfig(
            suite="builtin",
            tasks=TASK_COUNT,
            generations=3,
            model=ModelConfig(model="openai/fake", api_base=fake.url, api_key="test"),
            agent_steps=2,
            agent_limits=Limits(timeout_s=120),
            budget=Budget(calls=4),
        )
        assert start_evolution(config, Console(file=output, width=120)) == 0

    printed = output.getvalue()
    assert "stopped early because the run made" in printed
    run_id = re.search(r"run (r\S+) budget_spent", printed).group(1)
    _, path = find_run(run_id)
    archive = Archive.open(path)
    assert archive.run(run_id).status == "budget_spent"
    calls = archive.calls(run_id)
    spent = [call for call in calls if call.outcome != "budget_exceeded"]
    assert len(spent) == 4
    assert any(event.kind == "budget_spent" for event in archive.events(run_id))
    assert evolarium_containers(docker_client, run_id) == []


@pytest.mark.parametrize("selection", ["pareto", "cmp", "best", "random"])
def test_evolution_each_selection(docker_client, sandbox_image, selection):
    tasks = list(load_suite("builtin").tasks[:2])
    with FakeProvider([scripted_model(tasks)] * 100) as fake:
        config = RunConfig(
            suite="builtin",
            tasks=2,
            generations=2,
            selection=selection,
            model=ModelConfig(model="openai/fake", api_base=fake.url, api_key="test"),
            agent_steps=2,
            agent_limits=Limits(timeout_s=120),
        )
        run_id, archive = run_and_open(config)

    agents = check_lineage(archive, run_id)
    assert len(agents) == 3
    assert archive.run(run_id).selection == selection
    assert all(agent.status == "evaluated" for agent in agents)
    assert evolarium_containers(docker_client, run_id) == []
