"""Resuming runs: after SIGKILL at random moments, and with a changed configuration.

The kill test records a run against the loopback fake provider (tests/fakeprovider.py),
then replays those recorded responses in a second run (`--replay-from`) that it kills
with SIGKILL ten times at random moments and resumes each time. The resumed run must
end with the same lineage, parents, operator outcomes, code and scores as the
recorded one, with no evaluation repeated and no container left.
"""

import io
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from rich.console import Console

from evolarium.archive import Archive
from evolarium.errors import ArchiveError, ConfigError
from evolarium.evolve.config import RunConfig
from evolarium.evolve.run import create_run, find_run
from evolarium.evolve.session import resume_evolution, start_evolution
from evolarium.llm.router import ModelConfig
from evolarium.paths import runs_dir
from evolarium.sandbox import Limits
from evolarium.tasks import load_suite
from tests.conftest import evolarium_containers
from tests.fakeprovider import FakeProvider
from tests.test_evolution import scripted_model

TASKS = 2
GENERATIONS = 12
KILLS = 10
KILL_SEED = 20261204
FINISH_TIMEOUT_S = 600
EVENT_WAIT_S = 120


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "evolarium.cli", *args]


def record_run(fake: FakeProvider) -> str:
    config = RunConfig(
        suite="builtin",
        tasks=TASKS,
        generations=GENERATIONS,
        seed=3,
        model=ModelConfig(model="openai/fake", api_base=fake.url, api_key="test"),
        agent_steps=2,
        agent_limits=Limits(timeout_s=120),
    )
    output = io.StringIO()
    assert start_evolution(config, Console(file=output, width=200)) == 0
    return sorted(runs_dir().iterdir())[-1].name


def replay_command(source: str) -> list[str]:
    return cli(
        "run",
        "--suite",
        "builtin",
        "--tasks",
        str(TASKS),
        "--generations",
        str(GENERATIONS),
        "--seed",
        "3",
        "--steps",
        "2",
        "--agent-timeout",
        "120",
        "--model",
        "openai/fake",
        "--replay-from",
        source,
    )


def lineage(archive: Archive, run_id: str) -> list[tuple]:
    """Describe a run by step, so that two runs with different ids can be compared."""
    agents = sorted(archive.agents(run_id), key=lambda agent: agent.step)
    step_of = {agent.id: agent.step for agent in agents}
    return [
        (
            agent.step,
            step_of.get(agent.parent_id),
            agent.operator,
            agent.status,
            agent.operator_outcome,
            agent.code_hash,
        )
        for agent in agents
    ]


def scores(archive: Archive, run_id: str) -> dict:
    step_of = {agent.id: agent.step for agent in archive.agents(run_id)}
    found = {}
    for evaluation in archive.evaluations(run_id):
        key = (step_of[evaluation.agent_id], evaluation.task_id)
        assert key not in found, f"evaluation repeated: step {key[0]}, task {key[1]}"
        found[key] = (evaluation.score, evaluation.outcome, evaluation.workspace_hash)
    return found


def progress(run_id: str | None) -> int:
    """Count a run's stored evaluations and finished steps, read-only; 0 before it exists."""
    if run_id is None:
        return 0
    path = runs_dir() / run_id / "archive.db"
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            query = "SELECT COUNT(*) FROM event WHERE kind IN (?, ?)"
            marks = ("evaluation_finished", "step_finished")
            return connection.execute(query, marks).fetchone()[0]
        finally:
            connection.close()
    except sqlite3.Error:
        return 0


def new_run(known: set[str]) -> str | None:
    new = set(os.listdir(runs_dir())) - known
    return new.pop() if new else None


def kill_at_random_moments(source: str, rng: random.Random) -> tuple[str | None, int]:
    """Start the replay, SIGKILL it KILLS times, resuming in between; return (run id, kills).

    Each kill waits for one or two more stored evaluations or finished steps (a step
    stores three) and then up to 2 s more, so the kills spread over the whole run
    whatever the start-up time of each process.
    """
    known = set(os.listdir(runs_dir()))
    run_id = None
    kills = 0
    while kills < KILLS:
        command = replay_command(source) if run_id is None else cli("resume", run_id)
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        target = progress(run_id) + rng.randint(1, 2)
        deadline = time.monotonic() + EVENT_WAIT_S
        while process.poll() is None and time.monotonic() < deadline:
            run_id = run_id or new_run(known)
            if progress(run_id) >= target:
                break
            time.sleep(0.1)
        time.sleep(rng.uniform(0.0, 2.0))
        if process.poll() is not None:
            error = process.stderr.read().decode(errors="replace")
            raise AssertionError(f"the run ended before kill {kills + 1}: {error}")
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stderr.close()
        kills += 1
        run_id = run_id or new_run(known)
    return run_id, kills


@pytest.mark.docker
def test_resume_after_sigkill_matches_uninterrupted_run(docker_client, sandbox_image):
    tasks = list(load_suite("builtin").tasks[:TASKS])
    with FakeProvider([scripted_model(tasks)] * 400) as fake:
        source = record_run(fake)
    _, source_path = find_run(source)
    recorded = Archive.open(source_path)
    assert recorded.run(source).status == "finished"

    run_id, kills = kill_at_random_moments(source, random.Random(KILL_SEED))
    assert kills == KILLS
    command = replay_command(source) if run_id is None else cli("resume", run_id)
    finished = subprocess.run(command, capture_output=True, text=True, timeout=FINISH_TIMEOUT_S)
    assert finished.returncode == 0, finished.stderr[-3000:]
    run_id = run_id or sorted(os.listdir(runs_dir()))[-1]

    _, path = find_run(run_id)
    resumed = Archive.open(path)
    assert resumed.run(run_id).status == "finished"
    assert lineage(resumed, run_id) == lineage(recorded, source)
    assert scores(resumed, run_id) == scores(recorded, source)
    calls = resumed.calls(run_id)
    assert not [call for call in calls if call.outcome == "replay_miss"]
    assert {call.outcome for call in calls} == {"replayed"}
    events = resumed.events(run_id)
    resumes = [event.message for event in events if event.kind == "run_resumed"]
    assert len(resumes) == KILLS, resumes
    assert any("in flight" in message for message in resumes), resumes
    print(f"{len(resumes)} resumes: {resumes}")
    print(f"children made again: {sum(e.kind == 'child_rolled_back' for e in events)}")
    checked = subprocess.run(
        cli("archive", "check", run_id, "--json"), capture_output=True, text=True
    )
    # Calls of a child made again, or of an evaluation cut off by a kill, are warnings.
    findings = json.loads(checked.stdout)
    assert [f for f in findings if f["severity"] == "error"] == [], findings
    expected = ("rolled back", "was resumed")
    assert all(any(part in f["message"] for part in expected) for f in findings), findings
    assert evolarium_containers(docker_client, run_id) == []


def stored_run(**changes) -> str:
    config = RunConfig(**{"suite": "builtin", "tasks": 1, "generations": 1, **changes})
    run_id, _, archive = create_run(config)
    archive.update_run(run_id, status="stopped", pid=None)
    archive.close()
    return run_id


def test_resume_with_changed_config_needs_force():
    run_id = stored_run()
    console = Console(file=io.StringIO())

    with pytest.raises(ConfigError, match=r"generations: 1 -> 3.*needs --force"):
        resume_evolution(run_id, ["generations=3"], False, console)

    _, path = find_run(run_id)
    archive = Archive.open(path)
    assert json.loads(archive.run(run_id).config_json)["generations"] == 1
    assert not [e for e in archive.events(run_id) if e.kind == "config_changed"]


def test_resume_refuses_a_run_that_is_still_running():
    run_id = stored_run()
    _, path = find_run(run_id)
    archive = Archive.open(path)
    archive.update_run(run_id, status="running", pid=os.getpid())
    archive.close()

    with pytest.raises(ArchiveError, match=f"still running in process {os.getpid()}"):
        resume_evolution(run_id, [], False, Console(file=io.StringIO()))


@pytest.mark.docker
def test_resume_with_force_records_the_change(docker_client, sandbox_image, monkeypatch):
    """A changed configuration is applied and stored as an event (fake provider)."""
    tasks = list(load_suite("builtin").tasks[:1])
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    with FakeProvider([scripted_model(tasks)] * 20) as fake:
        model = ModelConfig(model="openai/fake", api_base=fake.url, api_key="test")
        run_id = stored_run(model=model, generations=0, agent_limits=Limits(timeout_s=120))
        output = io.StringIO()
        code = resume_evolution(run_id, ["seed=5"], True, Console(file=output, width=200))
    assert code == 0, output.getvalue()

    _, path = find_run(run_id)
    archive = Archive.open(path)
    run = archive.run(run_id)
    assert run.status == "finished"
    assert json.loads(run.config_json)["seed"] == 5
    changes = [e for e in archive.events(run_id) if e.kind == "config_changed"]
    assert len(changes) == 1
    assert "seed: 0 -> 5" in changes[0].message
    assert len(archive.evaluations(run_id)) == 1


@pytest.mark.docker
def test_stop_at_evaluation_limit_then_resume(docker_client, sandbox_image, monkeypatch):
    """--max-evaluations stops the run mid-generation; resume finishes it (fake provider)."""
    tasks = list(load_suite("builtin").tasks[:2])
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    with FakeProvider([scripted_model(tasks)] * 100) as fake:
        config = RunConfig(
            suite="builtin",
            tasks=2,
            generations=2,
            max_evaluations=3,
            model=ModelConfig(model="openai/fake", api_base=fake.url, api_key="test"),
            agent_steps=2,
            agent_limits=Limits(timeout_s=120),
        )
        output = io.StringIO()
        assert start_evolution(config, Console(file=output, width=200)) == 0
        printed = output.getvalue()
        run_id = sorted(os.listdir(runs_dir()))[-1]
        _, path = find_run(run_id)
        archive = Archive.open(path)
        assert archive.run(run_id).status == "limit_reached"
        assert len(archive.evaluations(run_id)) == 3
        assert "stopped early because the run stored 3 evaluations" in printed
        assert [e.kind for e in archive.events(run_id)].count("limit_reached") == 1
        archive.close()

        more = ["max_evaluations="]
        assert resume_evolution(run_id, more, True, Console(file=io.StringIO())) == 0

    archive = Archive.open(path)
    assert archive.run(run_id).status == "finished"
    agents = archive.agents(run_id)
    assert len(agents) == 3
    assert all(agent.status == "evaluated" for agent in agents)
    assert len(archive.evaluations(run_id)) == 6
