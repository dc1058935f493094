"""Limits of the evolution loop (evolarium/evolve/loop.py) on real Docker and SQLite.

--max-agents and --max-wall-time stop a run between steps and store the reason. A
resumed run adds its run time to the time stored before. A child under a stage's
threshold is not evaluated on the later stages. With two workers, evaluations run at the
same time, and --max-evaluations is still counted exactly. Every run uses the loopback
fake provider (tests/fakeprovider.py) with scripted replies.
"""

import io
import itertools
import json
import threading

import pytest
from rich.console import Console

from evolarium.agents.contract import seed_agent_dir
from evolarium.archive import Archive
from evolarium.evolve.config import RunConfig, Stage
from evolarium.evolve.run import find_run
from evolarium.evolve.session import resume_evolution, start_evolution
from evolarium.llm.router import ModelConfig
from evolarium.paths import runs_dir
from evolarium.sandbox import Limits
from evolarium.tasks import load_suite
from tests.conftest import evolarium_containers
from tests.fakeprovider import FakeProvider
from tests.test_evolution import reference_reply, run_and_open, scripted_model

pytestmark = pytest.mark.docker

MAIN_GUARD = '\nif __name__ == "__main__":'
WEAK_MARK = "(this agent is the weak one)"
RENDEZVOUS_S = 60
"""How long each of the first two agent requests waits for the other one."""


def fake_config(fake: FakeProvider, **changes) -> RunConfig:
    settings = {
        "suite": "builtin",
        "tasks": 1,
        "generations": 3,
        "model": ModelConfig(model="openai/fake", api_base=fake.url, api_key="test"),
        "agent_steps": 1,
        "agent_limits": Limits(timeout_s=120),
        **changes,
    }
    return RunConfig(**settings)


def start_and_open(config: RunConfig) -> tuple[str, Archive, str]:
    """Start a run that may stop early; return its id, its archive and what it printed."""
    output = io.StringIO()
    assert start_evolution(config, Console(file=output, width=200)) == 0
    printed = output.getvalue()
    run_id = sorted(runs_dir().iterdir())[-1].name
    _, path = find_run(run_id)
    return run_id, Archive.open(path), printed


def stop_events(archive: Archive, run_id: str) -> list:
    return [e for e in archive.events(run_id) if e.kind in ("limit_reached", "budget_spent")]


def test_max_agents_stops_at_limit(docker_client, sandbox_image):
    """--max-agents 2 stops a 3-generation run after its first child (fake provider)."""
    tasks = list(load_suite("builtin").tasks[:1])
    with FakeProvider(itertools.repeat(scripted_model(tasks), 100)) as fake:
        run_id, archive, printed = start_and_open(fake_config(fake, max_agents=2))

    agents = archive.agents(run_id)
    assert len(agents) == 2
    assert all(agent.status == "evaluated" for agent in agents)
    assert archive.run(run_id).status == "limit_reached"
    reason = "the run has 2 agents, its limit (--max-agents 2)"
    assert [e.message for e in stop_events(archive, run_id)] == [f"stopping: {reason}"]
    assert f"stopped early because {reason}" in printed
    steps = [
        json.loads(e.data_json)["step"] for e in archive.events(run_id) if e.kind == "step_started"
    ]
    assert steps == [0, 1]
    assert evolarium_containers(docker_client, run_id) == []


def test_tiny_wall_time_stops_seed_evaluation(docker_client, sandbox_image):
    """A wall time of a microsecond is spent before the seed's first evaluation (fake provider).

    No evaluation starts after the limit, so none is stored; the seed's step stays in
    flight for `evolarium resume`, and the reason is stored once.
    """
    tasks = list(load_suite("builtin").tasks[:1])
    with FakeProvider(itertools.repeat(scripted_model(tasks), 100)) as fake:
        run_id, archive, printed = start_and_open(fake_config(fake, max_wall_s=1e-6))

    assert archive.run(run_id).status == "limit_reached"
    assert archive.evaluations(run_id) == []
    assert [agent.step for agent in archive.agents(run_id)] == [0]
    messages = [e.message for e in stop_events(archive, run_id)]
    assert len(messages) == 1
    assert messages[0].startswith("stopping: the run ran for ")
    assert messages[0].endswith("its limit (--max-wall-time 1e-06 s)")
    assert "stopped early because the run ran for" in printed
    assert not [e for e in archive.events(run_id) if e.kind == "step_finished"]
    assert evolarium_containers(docker_client, run_id) == []


def test_resume_counts_earlier_run_time(docker_client, sandbox_image, monkeypatch):
    """The wall time limit counts the time stored by the first process (fake provider).

    A 1-generation run finishes; it is resumed with 2 generations and a wall time of half
    the time it has run. The resumed process has run for far less than that when it
    checks, so only the stored time can stop it before its second child.
    """
    tasks = list(load_suite("builtin").tasks[:1])
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    with FakeProvider(itertools.repeat(scripted_model(tasks), 100)) as fake:
        run_id, archive, _ = start_and_open(fake_config(fake, generations=1))
        assert archive.run(run_id).status == "finished"
        finished = [
            json.loads(e.data_json) for e in archive.events(run_id) if e.kind == "step_finished"
        ]
        ran_s = max(data["elapsed_s"] for data in finished)
        assert ran_s > 0
        archive.close()

        limit = ran_s / 2
        overrides = ["generations=2", f"max_wall_s={limit!r}"]
        output = io.StringIO()
        assert resume_evolution(run_id, overrides, True, Console(file=output, width=200)) == 0

    _, path = find_run(run_id)
    archive = Archive.open(path)
    assert archive.run(run_id).status == "limit_reached"
    assert len(archive.agents(run_id)) == 2
    messages = [e.message for e in stop_events(archive, run_id)]
    assert len(messages) == 1, messages
    ran_again = float(messages[0].removeprefix("stopping: the run ran for ").split(" s,")[0])
    assert ran_again >= round(ran_s) - 1, (messages, ran_s)
    assert f"(--max-wall-time {limit:g} s)" in messages[0]
    assert "stopped early because the run ran for" in output.getvalue()


def weak_child_code() -> str:
    """Return the seed agent's code with WEAK_MARK in its system prompt.

    The scripted model recognizes the weak child's task requests by that mark.
    """
    seed_code = (seed_agent_dir() / "agent.py").read_text()
    weak_part = f'\nSYSTEM_PROMPT = SYSTEM_PROMPT + "\\n{WEAK_MARK}"\n'
    return seed_code.replace(MAIN_GUARD, weak_part + MAIN_GUARD)


def threshold_model(tasks):
    """Return a scripted model: the first child gets WEAK_MARK and no solutions.

    The second child and the seed get the reference solution of every task.
    """
    seed_code = (seed_agent_dir() / "agent.py").read_text()
    rewrites = iter([weak_child_code(), seed_code + "# evolved: the strong child\n"])

    def reply(request: dict) -> str:
        text = "\n".join(str(m.get("content", "")) for m in request["messages"])
        if "Improve this coding agent" in text:
            return f"FILE: agent.py\n```python\n{next(rewrites, seed_code)}```\n"
        if "Smoke task" in text:
            return 'FILE: hello.py\n```python\ndef hello():\n    return "hello"\n```\n'
        if WEAK_MARK in text:
            return "I cannot help with that."
        for task in tasks:
            if task.prompt().strip()[:200] in text:
                return reference_reply(task)
        return "I cannot help with that."

    return reply


def test_child_below_threshold_stops_early(docker_client, sandbox_image):
    """A child under the first stage's threshold gets no later stage (fake provider).

    Stages: 1 task with threshold 1.0, then the other task. The weak child leaves its task
    unsolved, so it stops after one evaluation. The strong child solves it, and a mean
    equal to the threshold goes on, so it is evaluated on both tasks.
    """
    tasks = list(load_suite("builtin").tasks[:2])
    with FakeProvider(itertools.repeat(threshold_model(tasks), 100)) as fake:
        config = fake_config(
            fake,
            tasks=2,
            generations=2,
            selection="best",
            stages=(Stage(1, threshold=1.0), Stage(None)),
        )
        run_id, archive = run_and_open(config)

    seed, weak, strong = sorted(archive.agents(run_id), key=lambda agent: agent.step)
    assert weak.parent_id == seed.id
    assert strong.parent_id == seed.id
    weak_scores = archive.evaluations(run_id, weak.id)
    assert [e.stage for e in weak_scores] == ["minibatch"]
    assert weak_scores[0].score < 1.0
    assert weak.status == "evaluated"
    strong_scores = archive.evaluations(run_id, strong.id)
    assert [(e.stage, e.score) for e in strong_scores] == [("minibatch", 1.0), ("full", 1.0)]
    assert {e.task_id for e in strong_scores} == {task.id for task in tasks}

    failed = [e for e in archive.events(run_id) if e.kind == "stage_failed"]
    assert [e.agent_id for e in failed] == [weak.id]
    assert failed[0].message == (
        f"{weak.id} scored {weak_scores[0].score:.2f} on its stage, below the threshold 1.00;"
        " not evaluated on the 1 task left"
    )
    # beat_parent is off, so no parent was evaluated again for a comparison.
    assert not [e for e in archive.evaluations(run_id) if e.stage == "baseline"]
    assert evolarium_containers(docker_client, run_id) == []


def rendezvous_model(tasks):
    """Hold each of the first two agent requests until both have arrived, or RENDEZVOUS_S.

    Return the reply function and the list of whether each held request met the other.
    """
    solve = scripted_model(tasks)
    barrier = threading.Barrier(2, timeout=RENDEZVOUS_S)
    agent_requests = itertools.count()
    met: list[bool] = []

    def reply(request: dict) -> str:
        text = "\n".join(str(m.get("content", "")) for m in request["messages"])
        is_task = any(task.prompt().strip()[:200] in text for task in tasks)
        if is_task and next(agent_requests) < 2:
            try:
                barrier.wait()
                met.append(True)
            except threading.BrokenBarrierError:
                met.append(False)
        return solve(request)

    return reply, met


def test_two_workers_count_evaluations_exactly(docker_client, sandbox_image):
    """workers=2 with --max-evaluations 4 on 3 tasks (fake provider).

    The seed's first two evaluations must be in flight together: each of their model
    requests waits for the other. The child's first two evaluations start together too,
    so only a count that includes the running ones keeps the total at 4, not 5.
    """
    tasks = list(load_suite("builtin").tasks[:3])
    reply, met = rendezvous_model(tasks)
    with FakeProvider(itertools.repeat(reply, 100)) as fake:
        config = fake_config(fake, tasks=3, generations=1, workers=2, max_evaluations=4)
        run_id, archive, printed = start_and_open(config)

    assert met == [True, True], "the first two evaluations did not run at the same time"
    evaluations = archive.evaluations(run_id)
    assert len(evaluations) == 4
    seed, child = sorted(archive.agents(run_id), key=lambda agent: agent.step)
    assert len([e for e in evaluations if e.agent_id == seed.id]) == 3
    assert len([e for e in evaluations if e.agent_id == child.id]) == 1
    assert archive.run(run_id).status == "limit_reached"
    reason = "the run stored 4 evaluations, its limit (--max-evaluations 4)"
    assert [e.message for e in stop_events(archive, run_id)] == [f"stopping: {reason}"]
    assert f"stopped early because {reason}" in printed
    assert evolarium_containers(docker_client, run_id) == []
