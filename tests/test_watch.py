"""evolarium watch: the read-only archive open, the run state, the panels, the Textual app,
and the command in a pipe and in a real terminal (tmux).

Most tests build archive rows directly with Archive, which is fast. The tests
marked docker make real runs with the loopback fake provider, as in
tests/test_evolution.py, and one of them drives `evolarium watch` in tmux while
a run writes.
"""

import asyncio
import io
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from evolarium.archive import Agent, Archive, Evaluation, ModelCall, Run
from evolarium.archive.models import SCHEMA_VERSION
from evolarium.archive.scores import REPLAY_STAGE, frontier
from evolarium.dashboard import panels
from evolarium.dashboard.app import AgentScreen, AgentTree, EvaluationScreen, WatchApp
from evolarium.dashboard.outline import FULL_TREE_LIMIT, build_outline
from evolarium.dashboard.state import AgentRow, RunLoader, RunState
from evolarium.dashboard.watch import open_run
from evolarium.errors import ArchiveError
from evolarium.paths import runs_dir

RUN_ID = "r20250101-000000-beef"
DIFF = "--- a/agent.py\n+++ b/agent.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
OPERATOR_PROMPT = "Improve this coding agent: it fails csv-quoted-fields"
OPERATOR_REPLY = "FILE: agent.py with a better loop"
CONTROL_CODES = ("\x1b[", "\r")
SCORES = {
    "a0": {"t1": 0.5, "t2": 0.0, "t3": 1.0},
    "a1": {"t1": 1.0, "t2": 0.25, "t3": 1.0},
    "a3": {"t1": 0.5, "t2": 0.0, "t3": 1.0},
}
"""Scores of the evaluated agents of the built run."""
TAMPERED = ("a3", "t2")
"""The (agent, task) evaluation of the built run that the scorer flagged as tampering."""


# Building archives


def evaluation_row(run_id: str, agent_id: str, task_id: str, score: float, **fields) -> Evaluation:
    values = {
        "id": uuid.uuid4().hex[:12],
        "run_id": run_id,
        "agent_id": agent_id,
        "task_id": task_id,
        "stage": "full",
        "score": score,
        "resolved": score == 1.0,
        "outcome": "ok",
        "tests_passed": int(score * 4),
        "tests_total": 4,
        "duration_s": 1.5,
        "calls": 1,
        "tokens": 20,
        "transcript": f"transcript of {agent_id} on {task_id}",
        "test_output": f"test output of {agent_id} on {task_id}",
    }
    values.update(fields)
    return Evaluation(**values)


def build_run(
    status: str = "finished",
    *,
    pid: int | None = None,
    config: dict | None = None,
    run_id: str = RUN_ID,
) -> tuple[Path, Archive]:
    """Write a run of four agents (one invalid, one tampering) and return (path, writer)."""
    path = runs_dir() / run_id / "archive.db"
    archive = Archive.create(path)
    archive.add(
        Run(
            id=run_id,
            status=status,
            suite="builtin",
            model="openai/fake",
            selection="score-child",
            config_json=json.dumps(config or {"generations": 2}),
            pid=pid,
        )
    )

    archive.add(Agent(id="a0", run_id=run_id, operator="seed", generation=0, code_hash="h0"))
    archive.add(
        Agent(
            id="a1",
            run_id=run_id,
            parent_id="a0",
            operator="self",
            generation=1,
            code_hash="h1",
            diff=DIFF,
            operator_log="operator run of a1: ok",
        )
    )
    archive.add(
        Agent(id="a2", run_id=run_id, parent_id="a0", operator="self", generation=1, code_hash="h")
    )
    archive.update_agent("a2", status="invalid", reason="does not compile: line 3")
    archive.add(
        Agent(id="a3", run_id=run_id, parent_id="a1", operator="self", generation=2, code_hash="h")
    )

    for agent_id, scores in SCORES.items():
        archive.update_agent(agent_id, status="evaluated")
        for task_id, score in scores.items():
            fields = {}
            if (agent_id, task_id) == TAMPERED:
                fields = {"outcome": "tampering", "tampering": "conftest.py: added a conftest.py"}
            archive.add(evaluation_row(run_id, agent_id, task_id, score, **fields))

    archive.add(
        ModelCall(
            run_id=run_id,
            agent_id="a1",
            purpose="operator",
            model="openai/fake",
            request_json=json.dumps({"messages": [{"role": "user", "content": OPERATOR_PROMPT}]}),
            response_json=json.dumps({"choices": [{"message": {"content": OPERATOR_REPLY}}]}),
            prompt_tokens=100,
            completion_tokens=50,
            cost_usd=0.25,
            outcome="ok",
        )
    )
    archive.add_event(run_id, "generation_started", "generation 0: evaluating the seed agent")
    archive.add_event(run_id, "agent_invalid", "a2 is invalid: does not compile", agent_id="a2")
    archive.add_event(run_id, "generation_finished", "generation 2: best score 0.75 (a1)")
    return path, archive


def finished_run() -> Path:
    path, archive = build_run()
    archive.close()
    return path


def writer_files(path: Path) -> list[Path]:
    return [p for p in path.parent.iterdir() if p.name.startswith(path.name + "-")]


def render(renderable, width: int = 160) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


def loaded_state(path: Path, run_id: str = RUN_ID) -> RunState:
    archive = Archive.open_read_only(path)
    try:
        return RunLoader(archive, run_id).refresh()
    finally:
        archive.close()


def exited_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


# The read-only open


def test_read_only_open_writes_nothing():
    path = finished_run()
    before = path.read_bytes()
    archive = Archive.open_read_only(path)
    loader = RunLoader(archive, RUN_ID)
    loader.refresh()
    loader.refresh()
    assert archive.agent("a1").diff == DIFF
    with pytest.raises(Exception, match="readonly"):
        archive.add_event(RUN_ID, "note", "a reader must not write")
    archive.close()
    assert path.read_bytes() == before
    assert writer_files(path) == []


def test_read_only_open_old_schema():
    path = finished_run()
    connection = sqlite3.connect(path)
    connection.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    connection.commit()
    connection.close()
    before = path.read_bytes()
    with pytest.raises(ArchiveError) as raised:
        Archive.open_read_only(path)
    message = str(raised.value)
    assert "schema version 1" in message
    assert f"reads version {SCHEMA_VERSION}" in message
    assert "evolarium archive migrate" in message
    assert path.read_bytes() == before
    assert writer_files(path) == []


def test_read_only_open_corrupt(tmp_path):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(random.Random(1).randbytes(8192))
    with pytest.raises(ArchiveError, match="corrupt or not an SQLite database"):
        Archive.open_read_only(garbage)

    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(finished_run().read_bytes()[:3000])
    with pytest.raises(ArchiveError, match="malformed"):
        Archive.open_read_only(truncated)
    assert writer_files(truncated) == []


LOCKER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("PRAGMA locking_mode=EXCLUSIVE")
connection.execute("BEGIN EXCLUSIVE")
connection.execute("INSERT INTO meta VALUES ('lock', 'held')")
print("locked", flush=True)
time.sleep(60)
"""


def hold_lock(path: Path) -> subprocess.Popen:
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert locker.stdout.readline().strip() == "locked"
    return locker


def test_read_only_open_locked():
    path = finished_run()
    locker = hold_lock(path)
    try:
        with pytest.raises(ArchiveError, match="is locked by another process"):
            Archive.open_read_only(path)
    finally:
        locker.kill()
        locker.wait()


def test_reader_follows_live_writer():
    path, writer = build_run("running", pid=os.getpid())
    archive = Archive.open_read_only(path)
    loader = RunLoader(archive, RUN_ID)
    first = loader.refresh()
    assert first.evaluation_count == 9
    assert [event.kind for event in first.new_events][-1] == "generation_finished"

    writer.add(
        Agent(id="a4", run_id=RUN_ID, parent_id="a1", operator="self", generation=2, code_hash="h")
    )
    writer.add(evaluation_row(RUN_ID, "a4", "t2", 1.0))
    writer.add_event(RUN_ID, "evaluation_finished", "a4 on t2: score 1.00 (ok)", agent_id="a4")
    state = loader.refresh()
    assert "a4" in state.agents
    assert state.evaluation_count == 10
    assert [event.message for event in state.new_events] == ["a4 on t2: score 1.00 (ok)"]
    assert state.winners["t2"] == {"a4"}

    writer.add(evaluation_row(RUN_ID, "a0", "t2", 1.0, stage=REPLAY_STAGE))
    state = loader.refresh()
    assert state.evaluation_count == 10
    assert state.scores["a0"]["t2"] == 0.0

    writer.update_run(RUN_ID, status="finished", pid=None)
    assert loader.refresh().status == "finished"
    archive.close()
    writer.close()
    assert writer_files(path) == []


def test_reader_reads_evaluation_built_earlier():
    path, writer = build_run("running", pid=os.getpid())
    archive = Archive.open_read_only(path)
    loader = RunLoader(archive, RUN_ID)
    try:
        assert loader.refresh().evaluation_count == 9

        # A Ray node builds its evaluation row before sending it, so a new row can be older
        # than the rows read already.
        built_long_ago = datetime(2000, 1, 1, tzinfo=UTC)
        writer.add(evaluation_row(RUN_ID, "a3", "t4", 1.0, created_at=built_long_ago))
        state = loader.refresh()
        assert state.evaluation_count == 10
        assert state.scores["a3"]["t4"] == 1.0
        assert state.task_ids == ["t1", "t2", "t3", "t4"]

        assert loader.refresh().evaluation_count == 10
    finally:
        archive.close()
        writer.close()


# The run state


def test_state_matches_archive_scores():
    state = loaded_state(finished_run())
    table = {agent: dict(scores) for agent, scores in SCORES.items()}
    assert state.task_ids == ["t1", "t2", "t3"]
    assert state.frontier == frontier(table, state.task_ids)
    assert state.means["a1"] == pytest.approx(sum(SCORES["a1"].values()) / 3)
    assert state.wins == {"a1": 3, "a0": 1, "a3": 1}
    assert state.tampered == {"a3"}
    assert state.cost_usd == pytest.approx(0.25)
    assert state.tokens == 150
    assert [g.generation for g in state.generations] == [0, 1, 2]
    assert state.generations[1].agents == 2
    assert state.generations[1].evaluated == 1


def test_state_frontier_matches_random_tables():
    for trial in range(200):
        rng = random.Random(trial)
        state = RunState(run_id="r")
        table: dict[str, dict[str, float]] = {}
        tasks = [f"t{index}" for index in range(rng.randint(1, 6))]
        # The later evaluations may lower a winner's score, which recomputes its task.
        for _ in range(rng.randint(1, 60)):
            agent = f"a{rng.randint(0, 9)}"
            task = rng.choice(tasks)
            score = rng.choice([0.0, 0.25, 0.5, 1.0])
            state.add_evaluation(agent, task, score, 0.0)
            table.setdefault(agent, {})[task] = score
        state.derive()
        assert state.frontier == frontier(table, state.task_ids), trial


def test_state_notices_ended_owner():
    path, archive = build_run("running", pid=exited_pid())
    archive.close()
    state = loaded_state(path)
    assert state.owner_gone
    assert not state.running
    assert "has ended" in panels.header(state).plain


# Panels


def test_panels_show_the_run():
    text = render(panels.dashboard(loaded_state(finished_run()), width=160))
    assert f"run {RUN_ID} finished" in text
    # The tree is the left half of a 160-column layout.
    tree_lines = [line[:80] for line in text.splitlines()]
    a1 = next(line for line in tree_lines if "a1 g1" in line)
    assert "won 3" in a1
    assert "frontier" in a1
    a2 = next(line for line in tree_lines if "a2 g1" in line)
    assert "invalid (does not compile: line 3)" in a2
    a3 = next(line for line in tree_lines if "a3 g2" in line)
    assert "tampering" in a3
    assert "frontier" not in a3
    assert "Pareto frontier (1 agent," in text
    assert "none: the run is finished" in text
    assert text.count("no limit") == 5
    assert "generation 2: best score 0.75 (a1)" in text
    assert "a3 on t2: tampering: conftest.py" in text
    assert "a2 is invalid: does not compile" in text


def test_frontier_panel_marks_winners():
    state = loaded_state(finished_run())
    text = render(panels.frontier_panel(state, width=60), width=60)
    row = next(line for line in text.splitlines() if "a1" in line)
    assert "███" in row
    assert "columns: solved tasks in run order" in text


def test_budget_panel_reads_config_limits():
    path, archive = build_run(config={"budget": {"dollars": 1.0, "tokens": 600, "calls": 4}})
    archive.close()
    text = render(panels.budget_panel(loaded_state(path)), width=100)
    assert "of 1 (25%)" in text
    assert "of 600 (25%)" in text
    assert "of 4 (25%)" in text
    assert text.count("no limit") == 2
    assert panels.budget_limits({"budget": 3}) == {"dollars": 3.0}
    assert panels.budget_limits({"budget": {"tokens": "many"}}) == {}


def test_budget_panel_leaves_out_refused_calls():
    """A refusal reached no model, so the calls bar counts as the budget does."""
    from evolarium.dashboard.state import UNCHARGED_CALL_OUTCOMES
    from evolarium.llm.gateway import UNCHARGED_OUTCOMES

    path, archive = build_run(config={"budget": {"calls": 1}})
    archive.add(
        ModelCall(
            run_id=RUN_ID,
            agent_id="a1",
            purpose="operator",
            model="openai/fake",
            request_json="{}",
            outcome="budget_exceeded",
        )
    )
    archive.close()
    text = render(panels.budget_panel(loaded_state(path)), width=120)

    assert "of 1 (100%)" in text
    assert "+1 refused or rejected" in text
    assert UNCHARGED_CALL_OUTCOMES == UNCHARGED_OUTCOMES


def test_generations_panel_charts_scores():
    state = loaded_state(finished_run())
    text = render(panels.generations_panel(state, width=60), width=60)
    best = re.search(r"best ([▁▂▃▄▅▆▇█]+) 0\.50", text)
    assert best, text
    # Generation 1's best (0.75) is drawn higher than generations 0 and 2 (0.50 each).
    first, middle, last = (panels.SPARK_CHARS.index(char) for char in best.group(1))
    assert first == last < middle
    assert re.search(r"1\s+1/2\s+0\.75\s+0\.75", text), text


def test_sandboxes_inferred_without_docker():
    path, writer = build_run("running", pid=os.getpid())
    writer.add(
        ModelCall(
            run_id=RUN_ID,
            agent_id="a3",
            task_id="t1",
            evaluation_id="e-in-flight",
            purpose="agent",
            model="openai/fake",
            request_json="{}",
            outcome="ok",
        )
    )
    writer.update_agent("a3", status="evaluating")
    state = loaded_state(path)
    writer.close()
    assert [(row.purpose, row.agent_id, row.task_id) for row in state.sandboxes] == [
        ("agent", "a3", "t1")
    ]
    text = render(panels.sandboxes_panel(state), width=100)
    assert "inferred from the archive" in text
    assert "a3" in text


@pytest.mark.parametrize("width", [20, 40, 60, 79, 80, 100, 119, 120, 200])
def test_dashboard_fits_width(width):
    state = loaded_state(finished_run())
    text = render(panels.dashboard(state, width=width), width=width)
    assert "a1" in text
    for line in text.splitlines():
        assert cell_len(line) <= width, line


def large_state(agent_count: int, task_count: int = 20) -> RunState:
    rng = random.Random(7)
    state = RunState(run_id="r-large", status="finished")
    for index in range(agent_count):
        agent_id = f"a{index:05d}"
        parent = None if index == 0 else f"a{rng.randrange(index):05d}"
        generation = 0 if parent is None else state.agents[parent].generation + 1
        state.agents[agent_id] = AgentRow(
            agent_id, parent, "self", generation, "evaluated", None, 0.0
        )
        for task in range(task_count):
            state.add_evaluation(agent_id, f"t{task}", rng.choice([0.0, 0.2, 0.4]), 0.0)
    # One agent wins every task, so it alone is on the frontier.
    for task in range(task_count):
        state.add_evaluation("a00500", f"t{task}", 1.0, 0.0)
    state.derive()
    return state


def test_large_tree_collapses_with_counts():
    state = large_state(2 * FULL_TREE_LIMIT)
    assert state.frontier == ["a00500"]
    outline = build_outline(state)
    assert len(outline.shown) < len(state.agents)
    lineage = "a00500"
    while lineage is not None:
        assert lineage in outline.shown
        lineage = state.agents[lineage].parent_id
    text = render(panels.tree_panel(state, max_rows=40), width=120)
    assert "a00500" in text
    assert re.search(r"… \d+ more children", text)
    assert len(text.splitlines()) <= 40 + 3


# The Textual app


def static_text(widget, width: int = 120) -> str:
    return render(widget.content, width=width)


async def wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the app"
        await asyncio.sleep(0.05)


def tree_agents(app: WatchApp) -> set[str]:
    return set(app.home.query_one(AgentTree).nodes_by_agent)


async def open_agent_and_evaluation(pilot, app: WatchApp, agent_id: str) -> AgentScreen:
    tree = app.home.query_one(AgentTree)
    while tree.cursor_node.data.agent_id != agent_id:
        await pilot.press("down")
    await pilot.press("enter")
    await wait_for(lambda: isinstance(app.screen, AgentScreen))
    return app.screen


def test_app_shows_tree_and_agent():
    finished_run()

    async def drive() -> None:
        app = WatchApp(open_run(RUN_ID, docker=False), interval=0.2)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert tree_agents(app) == {"a0", "a1", "a2", "a3"}
            assert f"run {RUN_ID} finished" in static_text(app.home.query_one("#header"))
            assert "Pareto frontier (1 agent," in static_text(app.home.query_one("#frontier"))
            assert "no limit" in static_text(app.home.query_one("#budget"))
            assert "best" in static_text(app.home.query_one("#generations"))
            assert "a2 is invalid" in static_text(app.home.query_one("#events"))

            screen = await open_agent_and_evaluation(pilot, app, "a1")
            assert screen.agent_id == "a1"
            table = screen.query_one("#score-table")
            rows = [table.get_row_at(index) for index in range(table.row_count)]
            assert [row[0] for row in rows] == ["t1", "t2", "t3"]
            assert [row[2] for row in rows] == ["1.00", "0.25", "1.00"]
            assert [row[3] for row in rows] == ["★", "★", "★"]

            await pilot.press("d")
            assert "+x = 2" in static_text(screen.query_one("#diff-view"))
            await pilot.press("o")
            operator = static_text(screen.query_one("#operator-view"))
            assert "operator run of a1: ok" in operator
            assert OPERATOR_PROMPT in operator
            assert OPERATOR_REPLY in operator

            await pilot.press("s")
            await pilot.press("down")
            await pilot.press("enter")
            await wait_for(lambda: isinstance(app.screen, EvaluationScreen))
            assert app.screen.evaluation.task_id == "t2"
            await pilot.press("escape")
            await pilot.press("escape")
            await wait_for(lambda: app.screen is app.home)
            await pilot.press("q")
        assert app.return_code == 0

    asyncio.run(drive())


def test_app_evaluation_screen_texts():
    finished_run()

    async def drive() -> None:
        app = WatchApp(open_run(RUN_ID, docker=False), interval=0.2)
        async with app.run_test(size=(100, 30)) as pilot:
            await open_agent_and_evaluation(pilot, app, "a3")
            await pilot.press("down")
            await pilot.press("enter")
            await wait_for(lambda: isinstance(app.screen, EvaluationScreen))
            screen = app.screen
            header = static_text(screen.query_one("#evaluation-header"), width=100)
            assert "a3 on t2" in header
            assert "tampering: conftest.py: added a conftest.py" in header
            scrolls = screen.query("VerticalScroll Static")
            texts = [static_text(widget) for widget in scrolls]
            assert "transcript of a3 on t2" in texts[0]
            assert "test output of a3 on t2" in texts[1]
            await pilot.press("q")

    asyncio.run(drive())


def test_app_refresh_adds_new_agent():
    path, writer = build_run("running", pid=os.getpid())

    async def drive() -> None:
        app = WatchApp(open_run(RUN_ID, docker=False), interval=0.1)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            writer.add(
                Agent(
                    id="a9",
                    run_id=RUN_ID,
                    parent_id="a3",
                    operator="self",
                    generation=3,
                    code_hash="h",
                )
            )
            writer.add(evaluation_row(RUN_ID, "a9", "t2", 1.0))
            await wait_for(lambda: "a9" in tree_agents(app))
            await wait_for(lambda: "a9" in static_text(app.home.query_one("#frontier")))
            await pilot.press("q")

    try:
        asyncio.run(drive())
    finally:
        writer.close()


def test_app_narrow_terminal():
    finished_run()

    async def drive() -> None:
        app = WatchApp(open_run(RUN_ID, docker=False), interval=0.2)
        async with app.run_test(size=(60, 20)) as pilot:
            await pilot.pause()
            assert app.home.has_class("-narrow")
            assert f"run {RUN_ID}" in static_text(app.home.query_one("#header"), width=60)
            await open_agent_and_evaluation(pilot, app, "a1")
            await pilot.press("escape")
            await pilot.resize_terminal(140, 40)
            await wait_for(lambda: not app.home.has_class("-narrow"))
            await pilot.press("q")

    asyncio.run(drive())


def test_app_large_run_reveals_hidden_children():
    path, writer = build_run()
    rng = random.Random(3)
    ids = ["a0", "a1", "a2", "a3"]
    for index in range(FULL_TREE_LIMIT + 20):
        agent_id = f"b{index:04d}"
        parent = rng.choice(ids)
        writer.add(
            Agent(
                id=agent_id,
                run_id=RUN_ID,
                parent_id=parent,
                operator="self",
                generation=1,
                code_hash="h",
                status="invalid",
                reason="does not compile",
            )
        )
        ids.append(agent_id)
    writer.close()

    async def drive() -> None:
        app = WatchApp(open_run(RUN_ID, docker=False), interval=5)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            tree = app.home.query_one(AgentTree)
            shown_before = len(tree.nodes_by_agent)
            assert shown_before < len(ids)
            summary = tree.summaries["a0"]
            hidden = list(summary.data.hidden)
            assert "more children" in summary.label.plain
            tree.move_cursor(summary)
            await pilot.press("enter")
            await wait_for(lambda: all(agent in tree.nodes_by_agent for agent in hidden))
            assert "a0" not in tree.summaries
            await pilot.press("q")

    asyncio.run(drive())


# The live view of evolarium run


@pytest.mark.parametrize("width", [60, 120])
def test_live_printer_draws_run(width):
    from evolarium.dashboard.live import LivePrinter

    path, writer = build_run("running", pid=os.getpid())
    output = io.StringIO()
    console = Console(file=output, force_terminal=True, width=width, height=30)
    printer = LivePrinter(console, path, RUN_ID)
    try:
        printer("evaluation_finished", {"message": "a3 on t1: score 0.50 (ok)"})
        printer.loaded_at = 0.0
        frame = render(printer._render(), width=width)
    finally:
        printer.stop()
        writer.close()
    assert f"run {RUN_ID} running" in frame
    assert "running sandboxes" in frame
    printed = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output.getvalue())
    assert "a3 on t1: score 0.50 (ok)" in printed
    for line in frame.splitlines():
        assert cell_len(line) <= width, line


# The command


def evolarium(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "COLUMNS")}
    return subprocess.run(
        [sys.executable, "-m", "evolarium.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_cli_watch_unknown_run_suggests():
    finished_run()
    result = evolarium("watch", RUN_ID[:-1] + "x")
    assert_one_line_error(result, "run not found", f"did you mean {RUN_ID}")


def test_cli_watch_bad_archives():
    path = finished_run()
    cases = {}
    old = runs_dir() / "r-old" / "archive.db"
    old.parent.mkdir()
    shutil.copyfile(path, old)
    connection = sqlite3.connect(old)
    connection.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    connection.commit()
    connection.close()
    cases["r-old"] = ("schema version 2", "evolarium archive migrate")
    corrupt = runs_dir() / "r-corrupt" / "archive.db"
    corrupt.parent.mkdir()
    corrupt.write_bytes(b"not a database" * 500)
    cases["r-corrupt"] = ("corrupt or not an SQLite database",)

    for run_id, fragments in cases.items():
        archive = runs_dir() / run_id / "archive.db"
        before = archive.read_bytes()
        assert_one_line_error(evolarium("watch", run_id), *fragments)
        assert_one_line_error(evolarium("watch", run_id, "--once"), *fragments)
        assert archive.read_bytes() == before
        assert writer_files(archive) == []

    locker = hold_lock(path)
    try:
        assert_one_line_error(evolarium("watch", RUN_ID, "--once"), "locked by another process")
    finally:
        locker.kill()
        locker.wait()


def test_cli_watch_once_plain():
    path = finished_run()
    before = path.read_bytes()
    result = evolarium("watch", RUN_ID, "--once")
    assert result.returncode == 0, result.stderr
    for code in CONTROL_CODES:
        assert code not in result.stdout
    assert f"run {RUN_ID} finished" in result.stdout
    assert "Pareto frontier" in result.stdout
    assert "a3 g2" in result.stdout
    assert path.read_bytes() == before
    assert writer_files(path) == []


def test_cli_watch_follows_until_finished():
    path, writer = build_run("running", pid=os.getpid())
    watcher = subprocess.Popen(
        [sys.executable, "-m", "evolarium.cli", "watch", RUN_ID, "--interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert f"run {RUN_ID} running" in watcher.stdout.readline()
        writer.add_event(RUN_ID, "generation_started", "generation 3 is starting")
        writer.update_run(RUN_ID, status="finished", pid=None)
        output, errors = watcher.communicate(timeout=60)
    finally:
        watcher.kill()
        writer.close()
    assert watcher.returncode == 0, errors
    for code in CONTROL_CODES:
        assert code not in output
    assert re.search(r"^\d\d:\d\d:\d\d generation 3 is starting$", output, re.MULTILINE), output
    assert f"run {RUN_ID} finished: 4 agents, 9 evaluations, best score 0.75 (a1)" in output


def test_cli_watch_rejects_bad_interval():
    finished_run()
    assert_one_line_error(evolarium("watch", RUN_ID, "--interval", "0"), "--interval")


# Real runs (Docker) and a real terminal (tmux)


def fake_run_command(url: str, generations: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "evolarium.cli",
        "run",
        "--suite",
        "builtin",
        "--tasks",
        "2",
        "--generations",
        str(generations),
        "--steps",
        "2",
        "--agent-timeout",
        "120",
        "--model",
        "openai/fake",
        "--api-base",
        url,
    ]


@pytest.fixture
def fake_provider():
    from evolarium.tasks import load_suite
    from tests.fakeprovider import FakeProvider
    from tests.test_evolution import scripted_model

    tasks = list(load_suite("builtin").tasks[:2])
    with FakeProvider([scripted_model(tasks)] * 200) as fake:
        yield fake


@pytest.mark.docker
def test_run_redirected_then_watched(docker_client, sandbox_image, fake_provider, tmp_path):
    from tests.test_evolution import EVOLVED_MARK

    log = tmp_path / "run.log"
    with log.open("w") as output:
        result = subprocess.run(
            fake_run_command(fake_provider.url, 1),
            stdout=output,
            stderr=subprocess.STDOUT,
            timeout=900,
        )
    printed = log.read_text()
    assert result.returncode == 0, printed
    for code in CONTROL_CODES:
        assert code not in printed
    run_id = re.search(r"run (r\S+) finished", printed).group(1)

    async def drive() -> None:
        loader = open_run(run_id, docker=False)
        app = WatchApp(loader, interval=0.5)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            state = loader.state
            assert len(tree_agents(app)) == 2
            child = next(agent for agent in state.agents.values() if agent.parent_id)
            screen = await open_agent_and_evaluation(pilot, app, child.id)
            table = screen.query_one("#score-table")
            assert table.row_count == 2
            assert all(table.get_row_at(i)[2] == "1.00" for i in range(2))
            assert EVOLVED_MARK in static_text(screen.query_one("#diff-view"))
            assert "Improve this coding agent" in static_text(screen.query_one("#operator-view"))
            await pilot.press("q")

    asyncio.run(drive())


class Tmux:
    """A private tmux server with one 120x40 session per command."""

    def __init__(self) -> None:
        self.socket = f"evolarium-test-{os.getpid()}"

    def __call__(self, *args: str) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=30
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def start(self, name: str, command: list[str]) -> None:
        environment = f"EVOLARIUM_HOME={os.environ['EVOLARIUM_HOME']} TERM=xterm-256color"
        line = f"env {environment} {' '.join(command)}; echo {name}-EXIT=$?; sleep 600"
        self("new-session", "-d", "-s", name, "-x", "120", "-y", "40", line)

    def screen(self, name: str) -> str:
        return self("capture-pane", "-p", "-t", name)

    def wait_for(self, name: str, pattern: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen(name)
            if re.search(pattern, text):
                return text
            assert time.monotonic() < deadline, f"{pattern!r} not on {name}:\n{text}"
            time.sleep(0.2)

    def stop(self, name: str) -> None:
        """Press Ctrl-C in a session whose command still runs, so that a run removes its
        containers, and wait for the command to end."""
        try:
            if f"{name}-EXIT=" in self.screen(name):
                return
            self("send-keys", "-t", name, "C-c")
            self.wait_for(name, rf"{name}-EXIT=", timeout=120)
        except AssertionError as error:
            print(f"could not stop tmux session {name}: {error}")

    def close(self) -> None:
        found = subprocess.run(
            ["tmux", "-L", self.socket, "display-message", "-p", "#{socket_path}"],
            capture_output=True,
            text=True,
        )
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
        if found.returncode == 0 and found.stdout.strip():
            Path(found.stdout.strip()).unlink(missing_ok=True)


@pytest.mark.docker
def test_watch_in_tmux_while_run_writes(docker_client, sandbox_image, fake_provider):
    if shutil.which("tmux") is None:
        message = "tmux is not installed; install Debian's tmux package (scripts/setup.sh does)"
        if os.environ.get("EVOLARIUM_REQUIRE_DOCKER") == "1":
            pytest.fail(f"EVOLARIUM_REQUIRE_DOCKER=1 but {message}")
        pytest.skip(message)
    tmux = Tmux()
    try:
        tmux.start("run", fake_run_command(fake_provider.url, 3))
        first = tmux.wait_for("run", r"run r\S+: 2 tasks from builtin")
        run_id = re.search(r"run (r\S+): 2 tasks", first).group(1)
        # The run's terminal shows the live view under its progress lines.
        tmux.wait_for("run", r"running sandboxes")

        watch = [sys.executable, "-m", "evolarium.cli", "watch", run_id]
        tmux.start("watch", watch)
        screen = tmux.wait_for("watch", rf"run {run_id} running")
        assert "Pareto frontier" in screen
        assert "budget" in screen
        # The cursor starts on the seed; wait until its first child is in the tree.
        tmux.wait_for("watch", r"a[0-9a-f]{8} g1 self")
        tmux("send-keys", "-t", "watch", "Down")
        tmux("send-keys", "-t", "watch", "Enter")
        agent = tmux.wait_for("watch", r"per-task scores")
        assert re.search(r"a[0-9a-f]{8} g1 self", agent), agent
        assert "build-order-cycles" in agent
        tmux("send-keys", "-t", "watch", "q")
        tmux.wait_for("watch", r"watch-EXIT=0")

        done = tmux.wait_for("run", r"run-EXIT=\d+", timeout=600)
        assert "run-EXIT=0" in done
        assert f"run {run_id} finished" in done

        # The finished run, in a fresh terminal.
        tmux.start("after", watch)
        tmux.wait_for("after", rf"run {run_id} finished")
        tmux("send-keys", "-t", "after", "Down")
        tmux("send-keys", "-t", "after", "Enter")
        tmux.wait_for("after", r"per-task scores")
        tmux("send-keys", "-t", "after", "q")
        tmux.wait_for("after", r"after-EXIT=0")
    finally:
        tmux.stop("run")
        tmux.close()
    assert writer_files(runs_dir() / run_id / "archive.db") == []
