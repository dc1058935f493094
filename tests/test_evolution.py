"""End-to-end evolution runs on real Docker sandboxes and a real SQLite archive.

`test_evolution_scripted_model` uses the loopback fake provider (tests/fakeprovider.py):
it returns the reference solution of each task and a small edit of the agent's own
code, so every step of the loop is exercised deterministically.
`test_evolution_embedded_model` uses the real embedded SmolLM2-135M model.
"""

import io
import itertools
import json
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
EMBEDDED_TASKS = 2
"""Tasks of the runs with the real embedded model, which take minutes on 2 cores."""
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
        if "Resolve the merge conflicts" in text:
            code = seed_code + f"{EVOLVED_MARK} merged {next(edits)}\n"
            return f"FILE: agent.py\n```python\n{code}```\n"
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
        assert child.operator_outcome == "no_code"
        assert "ended with no_code: none of the 1 model replies contained a code block" in (
            child.reason
        )
        assert "no code today" in child.operator_log
        assert child.generation == 1
        assert archive.evaluations(run_id, child.id) == []
    assert len(archive.evaluations(run_id)) == len(tasks)


@pytest.mark.model
def test_evolution_embedded_model(docker_client, sandbox_image):
    config = RunConfig(
        suite="builtin",
        tasks=EMBEDDED_TASKS,
        generations=1,
        agent_steps=1,
        model=ModelConfig(max_tokens=256),
        agent_limits=Limits(timeout_s=300),
    )
    run_id, archive = run_and_open(config)

    agents = check_lineage(archive, run_id)
    evaluations = archive.evaluations(run_id)
    task_ids = {task.id for task in load_suite("builtin").tasks[:EMBEDDED_TASKS]}
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


def test_evolution_reflect_operator(docker_client, sandbox_image):
    """GEPA-style: pareto selection, the reflect operator, minibatch acceptance (fake provider)."""
    from evolarium.evolve.config import Stage

    tasks = list(load_suite("builtin").tasks[:2])
    with FakeProvider([scripted_model(tasks)] * 100) as fake:
        config = RunConfig(
            suite="builtin",
            tasks=2,
            generations=2,
            selection="pareto",
            operators={"reflect": 1.0},
            stages=(Stage(1, beat_parent=True), Stage(None)),
            model=ModelConfig(model="openai/fake", api_base=fake.url, api_key="test"),
            agent_steps=2,
            agent_limits=Limits(timeout_s=120),
        )
        run_id, archive = run_and_open(config)
        requests = [str(r["messages"]) for r in fake.requests]

    agents = check_lineage(archive, run_id)
    children = [agent for agent in agents if agent.parent_id]
    assert [child.operator for child in children] == ["reflect", "reflect"]
    assert all(child.operator_outcome == "ok" for child in children)
    assert any("from traces of its runs" in request for request in requests)
    # Every child scores 1.0 on its minibatch like its parent, so none beats it there.
    events = archive.events(run_id)
    failed = [event for event in events if event.kind == "stage_failed"]
    assert len(failed) == 2
    assert all("not above its parent's 1.00" in event.message for event in failed)
    for child in children:
        assert len(archive.evaluations(run_id, child.id)) == 1
    assert evolarium_containers(docker_client, run_id) == []


def test_evolution_merge_operator(docker_client, sandbox_image):
    """Two sibling children are merged against the seed; their edits conflict (fake provider)."""
    tasks = list(load_suite("builtin").tasks[:1])
    with FakeProvider([scripted_model(tasks)] * 200) as fake:
        config = RunConfig(
            suite="builtin",
            tasks=1,
            generations=2,
            children_per_generation=2,
            seed=1,
            operators={"merge": 1.0},
            model=ModelConfig(model="openai/fake", api_base=fake.url, api_key="test"),
            agent_steps=2,
            agent_limits=Limits(timeout_s=120),
        )
        run_id, archive = run_and_open(config)

    agents = check_lineage(archive, run_id)
    seed = agents[0]
    merged = [agent for agent in agents if agent.operator == "merge"]
    assert merged, [(agent.operator, agent.parent_id) for agent in agents]
    plans = {
        plan["agent"]: plan
        for plan in (json.loads(e.data_json) for e in archive.events(run_id) if e.data_json)
        if "parents" in plan
    }
    for child in merged:
        assert child.status == "evaluated", child.reason
        assert "merged" in child.diff
        assert "conflict" in child.operator_log
        first, second = plans[child.id]["parents"]
        assert first == child.parent_id
        assert plans[child.id]["ancestor"] == seed.id
    # The first merge joins the two children of the seed.
    assert set(plans[merged[0].id]["parents"]) == {a.id for a in agents if a.generation == 1}
    # With no partner in generation 1, merge falls back to the self operator.
    assert [agent.operator for agent in agents if agent.generation == 1][:2] == ["self", "self"]
    assert evolarium_containers(docker_client, run_id) == []


def test_evolution_cmp_evaluates_more_instead_of_expanding(docker_client, sandbox_image):
    """HGM: with few evaluations per agent, cmp evaluates one more task (fake provider).

    Children stop after a one-task stage that they cannot pass (they must beat a parent
    that already scores 1.0), so with 2 children and 5 evaluations the rule
    agents <= evaluations ** 0.6 calls for evaluating an open agent instead of expanding.
    """
    from evolarium.evolve.config import Stage

    tasks = list(load_suite("builtin").tasks[:3])
    with FakeProvider([scripted_model(tasks)] * 200) as fake:
        config = RunConfig(
            suite="builtin",
            tasks=3,
            generations=3,
            selection="cmp",
            stages=(Stage(1, beat_parent=True), Stage(None)),
            model=ModelConfig(model="openai/fake", api_base=fake.url, api_key="test"),
            agent_steps=2,
            agent_limits=Limits(timeout_s=120),
        )
        run_id, archive = run_and_open(config)

    agents = check_lineage(archive, run_id)
    assert len(agents) == 3
    more = [event for event in archive.events(run_id) if event.kind == "evaluate_more"]
    assert len(more) == 1
    chosen = more[0].agent_id
    assert chosen in {agent.id for agent in agents if agent.parent_id}
    evaluations = archive.evaluations(run_id, chosen)
    assert [e.stage for e in evaluations] == ["minibatch", "full"]
    assert len({e.task_id for e in evaluations}) == 2
    assert len(archive.evaluations(run_id)) == 3 + 1 + 1 + 1
    assert evolarium_containers(docker_client, run_id) == []


@pytest.mark.model
@pytest.mark.parametrize("selection", ["pareto", "cmp", "best", "random"])
def test_evolution_embedded_model_each_selection(docker_client, sandbox_image, selection):
    """One short run per strategy with the real embedded model (score-child runs above)."""
    config = RunConfig(
        suite="builtin",
        tasks=1,
        generations=1,
        selection=selection,
        agent_steps=1,
        model=ModelConfig(max_tokens=96),
        agent_limits=Limits(timeout_s=300),
    )
    run_id, archive = run_and_open(config)

    agents = check_lineage(archive, run_id)
    assert archive.run(run_id).selection == selection
    assert archive.run(run_id).status == "finished"
    child = next(agent for agent in agents if agent.parent_id)
    assert child.operator_outcome is not None
    # The 135M model's rewrite may not compile or may repeat its parent, so any end state
    # can come. A child that was not evaluated must store the reason.
    assert child.status in ("evaluated", "invalid", "duplicate")
    if child.status != "evaluated":
        assert child.reason
    calls = archive.calls(run_id)
    assert {call.model for call in calls} == {"local/smollm2"}
    assert any(call.purpose == "operator" for call in calls)
    assert evolarium_containers(docker_client, run_id) == []


def test_evolution_links_child_with_known_code(docker_client, sandbox_image):
    """A child whose code equals an earlier agent's is linked, not evaluated (fake provider).

    The scripted model makes the same edit every time and `best` picks the seed on
    the tie, so the second child has the first child's code.
    """
    tasks = list(load_suite("builtin").tasks[:1])
    seed_code = (seed_agent_dir() / "agent.py").read_text()
    same_edit = f"FILE: agent.py\n```python\n{seed_code}{EVOLVED_MARK} always\n```\n"
    solve = scripted_model(tasks)

    def reply(request: dict) -> str:
        text = "\n".join(str(m.get("content", "")) for m in request["messages"])
        return same_edit if "Improve this coding agent" in text else solve(request)

    with FakeProvider([reply] * 100) as fake:
        config = RunConfig(
            suite="builtin",
            tasks=1,
            generations=2,
            selection="best",
            model=ModelConfig(model="openai/fake", api_base=fake.url, api_key="test"),
            agent_steps=2,
            agent_limits=Limits(timeout_s=120),
        )
        run_id, archive = run_and_open(config)

    seed, first, second = check_lineage(archive, run_id)
    assert first.status == "evaluated"
    assert second.status == "duplicate"
    assert second.parent_id == seed.id
    assert second.code_hash == first.code_hash
    assert second.reason == f"same code as {first.id}; not evaluated again"
    assert archive.evaluations(run_id, second.id) == []
    validations = [c for c in archive.calls(run_id, second.id) if c.purpose == "validation"]
    assert validations == []
    assert any(event.kind == "agent_linked" for event in archive.events(run_id))
