"""The archive commands runs, show, diff, frontier, calls and replay, on real SQLite archives.

`make_run` writes a run with the Archive class: a seed, a better child, an invalid
child and a grandchild whose evaluation the scorer flagged for tampering, with code
snapshots, model calls (some without a known price) and events. The commands run
as the real `evolarium` program in a subprocess.
"""

import fcntl
import io
import os
import pty
import re
import sqlite3
import struct
import subprocess
import sys
import termios
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from evolarium.archive import Agent, Archive, Evaluation, Event, ModelCall, Run
from evolarium.archive.snapshot import pack_dir
from evolarium.dashboard.inspect import show_agent
from evolarium.dashboard.replay import replay

RUN_ID = "r20250301-120000-beef"
START = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
TASKS = ["t-alpha", "t-beta", "t-gamma"]
SEED, CHILD, BROKEN, CHEAT = "a1000000", "a2000000", "a3000000", "a4000000"
BROKEN_REASON = "agent.py does not compile: SyntaxError [bold]x[/] <script>alert(1)</script>"
TAMPERING = "conftest.py: added a conftest.py that defines pytest hooks"
SCORES = {
    SEED: {"t-alpha": 0.5, "t-beta": 0.0, "t-gamma": 0.25},
    CHILD: {"t-alpha": 1.0, "t-beta": 0.5, "t-gamma": 0.0},
    CHEAT: {"t-alpha": 0.0, "t-beta": 0.0, "t-gamma": 0.75},
}
SEED_AGENT = "def main():\n    return 'seed'\n"
CHILD_AGENT = "def main():\n    return 'child'\n"
CODE = {
    SEED: {"agent.py": SEED_AGENT, "util.py": "X = 1\n", "blob.bin": b"\0\1"},
    CHILD: {"agent.py": CHILD_AGENT, "util.py": "X = 1\n", "notes.md": "n"},
    BROKEN: {"agent.py": "def main(:\n", "util.py": "X = 1\n"},
    CHEAT: {"agent.py": CHILD_AGENT, "conftest.py": "def pytest_x(): pass\n"},
}
EVENT_OFFSETS = [0, 10, 30, 70]
"""Seconds after START of the run's events."""


@dataclass
class CallSpec:
    agent: str
    purpose: str
    model: str
    prompt: int
    completion: int
    cost: float | None
    outcome: str = "ok"
    error: str | None = None
    task: str | None = None


CALLS = [
    CallSpec(SEED, "agent", "openai/gpt-4o-mini", 300, 40, 0.001, task="t-alpha"),
    CallSpec(SEED, "agent", "openai/gpt-4o-mini", 200, 60, 0.001, task="t-beta"),
    CallSpec(CHILD, "operator", "openai/gpt-4o-mini", 900, 400, 0.002),
    CallSpec(CHILD, "agent", "openai/fake", 500, 100, None, "error", "timed out\nafter 30 s"),
    CallSpec(CHEAT, "agent", "openai/fake", 100, 10, None, task="t-gamma"),
]


@dataclass
class BuiltRun:
    """Paths and ids of a run written by make_run."""

    run_id: str
    path: Path
    agents: list[str] = field(default_factory=list)


def write_tree(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def make_run(
    home: Path,
    tmp_path: Path,
    run_id: str = RUN_ID,
    *,
    calls: list[CallSpec] = CALLS,
    id_prefix: str = "",
) -> BuiltRun:
    """Write the run described at the top of this file into ``home``'s runs folder."""
    path = home / "runs" / run_id / "archive.db"
    archive = Archive.create(path)
    archive.add(
        Run(
            id=run_id,
            suite="builtin",
            model="openai/gpt-4o-mini",
            selection="score-child",
            config_json='{"generations": 2}',
            status="finished",
            created_at=START,
        )
    )

    parents = {SEED: None, CHILD: SEED, BROKEN: SEED, CHEAT: CHILD}
    generations = {SEED: 0, CHILD: 1, BROKEN: 1, CHEAT: 2}
    for index, (agent_id, parent) in enumerate(parents.items()):
        code_dir = tmp_path / f"code-{run_id}-{agent_id}"
        write_tree(code_dir, CODE[agent_id])
        code_hash, data = pack_dir(code_dir)
        archive.store_snapshot(code_hash, data)
        archive.add(
            Agent(
                id=id_prefix + agent_id,
                run_id=run_id,
                parent_id=id_prefix + parent if parent else None,
                operator="seed" if parent is None else "self",
                generation=generations[agent_id],
                status="invalid" if agent_id == BROKEN else "evaluated",
                reason=BROKEN_REASON if agent_id == BROKEN else None,
                code_hash=code_hash,
                created_at=START + timedelta(minutes=index),
            )
        )

    for agent_id, scores in SCORES.items():
        for index, (task, score) in enumerate(scores.items()):
            tampered = agent_id == CHEAT and task == "t-alpha"
            archive.add(
                Evaluation(
                    id=f"{run_id}-{agent_id}-{task}",
                    run_id=run_id,
                    agent_id=id_prefix + agent_id,
                    task_id=task,
                    stage="full",
                    score=score,
                    resolved=score == 1.0,
                    outcome="tampering" if tampered else "ok",
                    tests_passed=int(score * 4),
                    tests_total=4,
                    duration_s=3.5,
                    calls=1,
                    tokens=100 * (index + 1),
                    transcript="transcript",
                    test_output="output",
                    tampering=TAMPERING if tampered else None,
                    created_at=START + timedelta(minutes=5, seconds=index),
                )
            )

    for index, spec in enumerate(calls):
        archive.add(
            ModelCall(
                run_id=run_id,
                agent_id=id_prefix + spec.agent,
                task_id=spec.task,
                purpose=spec.purpose,
                model=spec.model,
                request_json='{"messages": [{"role": "user", "content": "hi"}]}',
                response_json='{"choices": []}',
                prompt_tokens=spec.prompt,
                completion_tokens=spec.completion,
                latency_ms=1500.0,
                cost_usd=spec.cost,
                outcome=spec.outcome,
                error=spec.error,
                started_at=START + timedelta(minutes=index + 1),
            )
        )

    kinds = ["generation_started", "evaluation_finished", "agent_invalid", "generation_finished"]
    for offset, kind in zip(EVENT_OFFSETS, kinds, strict=True):
        archive.add(
            Event(
                run_id=run_id,
                kind=kind,
                message=f"{kind} after {offset} s",
                time=START + timedelta(seconds=offset),
            )
        )

    archive.close()
    return BuiltRun(run_id, path, [id_prefix + a for a in parents])


def evolarium(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evolarium.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def folder_state(folder: Path) -> dict[str, bytes]:
    """Return every file in ``folder`` with its bytes, to show that a reader wrote nothing."""
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


@pytest.fixture
def built(evolarium_home: Path, tmp_path: Path) -> BuiltRun:
    return make_run(evolarium_home, tmp_path)


def mean(agent_id: str) -> float:
    return sum(SCORES[agent_id].values()) / len(TASKS)


# runs


def test_runs_lists_scores_tokens_cost(built):
    result = evolarium("runs")
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if RUN_ID in line)
    best = max(mean(agent) for agent in SCORES)
    assert f"{best:.2f}" in row
    assert "finished" in row
    assert f" {len(CODE)} " in row
    assert f" {sum(len(s) for s in SCORES.values())} " in row
    tokens = sum(spec.prompt + spec.completion for spec in CALLS)
    assert f"{tokens:,}" in row
    known = sum(spec.cost for spec in CALLS if spec.cost is not None)
    assert f"${known:.4f} + unknown" in row


def test_runs_priced_calls_have_no_unknown_mark(evolarium_home, tmp_path):
    priced = [spec for spec in CALLS if spec.cost is not None]
    make_run(evolarium_home, tmp_path, calls=priced)
    result = evolarium("runs")
    assert result.returncode == 0, result.stderr
    known = sum(spec.cost for spec in priced)
    assert f"${known:.4f}" in result.stdout
    assert "unknown" not in result.stdout


def test_runs_unreadable_archive_row(built, evolarium_home):
    junk = evolarium_home / "runs" / "r-junk" / "archive.db"
    junk.parent.mkdir(parents=True)
    junk.write_bytes(os.urandom(4096))
    before = junk.read_bytes()
    result = evolarium("runs")
    assert result.returncode == 0, result.stderr
    assert re.search(r"r-junk\s.*unreadable", result.stdout)
    assert "r-junk is unreadable" in result.stdout
    assert "not a database" in result.stdout
    assert RUN_ID in result.stdout
    assert junk.read_bytes() == before


def test_runs_empty_data_directory():
    result = evolarium("runs")
    assert result.returncode == 0, result.stderr
    assert "no runs yet" in result.stdout


# show


def test_show_lineage_scores_and_calls(built):
    result = evolarium("show", CHEAT[:4] + "0")
    assert result.returncode == 0, result.stderr
    output = result.stdout
    assert f"agent {CHEAT}  run {RUN_ID}" in output
    assert "generation 2, operator self, status evaluated" in output
    lineage = [line for line in output.splitlines() if re.search(r"│ [012]\s+│ a", line)]
    assert [re.search(r"a\d{7}", line).group() for line in lineage] == [SEED, CHILD, CHEAT]
    assert f"mean score {mean(CHEAT):.2f} over the run's {len(TASKS)} tasks" in output
    assert "frontier" in output
    assert f"tampering on t-alpha: {TAMPERING}" in output
    cheat_calls = [spec for spec in CALLS if spec.agent == CHEAT]
    tokens = sum(spec.prompt + spec.completion for spec in cheat_calls)
    assert f"model calls: {len(cheat_calls)}, tokens {tokens:,}" in output
    assert "+ unknown" in output
    assert f"evolarium diff {CHILD} {CHEAT}" in output


def test_show_tampering_is_red(built):
    console = Console(record=True, force_terminal=True, color_system="standard", width=120)
    console.print(show_agent(CHEAT))
    output = console.export_text(styles=True)
    assert "\x1b[1;31mtampering on t-alpha: " in output
    assert "\x1b[1;31m" + TAMPERING in output


def test_show_invalid_agent_reason_is_literal(built):
    result = evolarium("show", BROKEN)
    assert result.returncode == 0, result.stderr
    assert "status invalid" in result.stdout
    assert f"reason: {BROKEN_REASON}" in result.stdout
    assert "no evaluations" in result.stdout


def test_show_ambiguous_prefix(built):
    line = assert_one_line_error(evolarium("show", "a"), "matches several agents")
    for agent_id in built.agents:
        assert agent_id in line


def test_show_unknown_agent_suggests_close_ids(built):
    assert_one_line_error(evolarium("show", "a2000001"), "agent not found: a2000001", CHILD)
    assert_one_line_error(evolarium("show", "a4x"), "agent not found: a4x", CHEAT)


def test_show_searches_every_run(evolarium_home, tmp_path):
    make_run(evolarium_home, tmp_path)
    other = make_run(evolarium_home, tmp_path, "r20250302-090000-cafe", id_prefix="b")
    result = evolarium("show", "b" + CHILD)
    assert result.returncode == 0, result.stderr
    assert f"run {other.run_id}" in result.stdout


# diff


def test_diff_two_agents(built):
    result = evolarium("diff", SEED, CHILD)
    assert result.returncode == 0, result.stderr
    output = result.stdout
    assert f"changes from {SEED} (run {RUN_ID}) to {CHILD} (run {RUN_ID})" in output
    assert "--- a/agent.py\n+++ b/agent.py" in output
    assert "-    return 'seed'" in output
    assert "+    return 'child'" in output
    assert "--- /dev/null\n+++ b/notes.md" in output
    assert "Binary files a/blob.bin and /dev/null differ" in output
    assert "util.py" not in output


def test_diff_is_highlighted_on_a_terminal(built):
    from evolarium.dashboard.codediff import agent_code_diff

    console = Console(record=True, force_terminal=True, color_system="truecolor", width=100)
    console.print(agent_code_diff(SEED, CHILD))
    styled = console.export_text(styles=True, clear=False)
    plain = console.export_text()
    assert "+    return 'child'" in plain
    assert "\x1b[" in styled
    assert styled != plain


def test_diff_same_code(built):
    result = evolarium("diff", CHILD, CHILD)
    assert result.returncode == 0, result.stderr
    assert f"{CHILD} and {CHILD} have the same code" in result.stdout


def test_diff_agents_of_two_runs(evolarium_home, tmp_path):
    make_run(evolarium_home, tmp_path)
    make_run(evolarium_home, tmp_path, "r20250302-090000-cafe", id_prefix="b")
    result = evolarium("diff", CHEAT, "b" + BROKEN)
    assert result.returncode == 0, result.stderr
    assert "--- a/conftest.py\n+++ /dev/null" in result.stdout
    assert "+def main(:" in result.stdout


# frontier


def test_frontier_agents_and_matrix(built):
    result = evolarium("frontier", RUN_ID[:10])
    assert result.returncode == 0, result.stderr
    output = result.stdout
    assert f"frontier of run {RUN_ID}: 2 agents" in output
    agent_rows = [line for line in output.splitlines() if re.match(r"│ a\d{7}", line)]
    assert [row.split()[1] for row in agent_rows] == [CHILD, CHEAT]
    alpha = next(line for line in output.splitlines() if "t-alpha" in line)
    assert re.search(r"1\.00\*.*0\.00 ", alpha), alpha
    gamma = next(line for line in output.splitlines() if "t-gamma" in line)
    assert re.search(r"0\.00 .*0\.75\*", gamma), gamma
    assert SEED not in output


def test_frontier_run_without_evaluations(evolarium_home):
    archive = Archive.create(evolarium_home / "runs" / "r-empty" / "archive.db")
    archive.add(Run(id="r-empty", suite="builtin", model="m", selection="random", config_json="{}"))
    archive.close()
    result = evolarium("frontier", "r-empty")
    assert result.returncode == 0, result.stderr
    assert "has no evaluations yet" in result.stdout


# calls


def test_calls_of_agent(built):
    result = evolarium("calls", CHILD)
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if re.match(r"│ \d+ ", line)]
    child_calls = [spec for spec in CALLS if spec.agent == CHILD]
    assert len(rows) == len(child_calls)
    for row, spec in zip(rows, child_calls, strict=True):
        assert spec.purpose in row
        assert spec.model in row
        assert f"{spec.prompt}/{spec.completion}" in row
        assert "1.5s" in row
    assert "$0.0020" in rows[0]
    assert re.search(r"│ \? ", rows[1])
    assert "error: timed out" in rows[1]
    assert "after 30 s" not in result.stdout
    assert "? is a model with no known price" in result.stdout


# replay


def test_replay_prints_events_in_order(built):
    result = evolarium("replay", RUN_ID, "--speed", "0")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(EVENT_OFFSETS)
    for line, offset in zip(lines, EVENT_OFFSETS, strict=True):
        minutes, seconds = divmod(offset, 60)
        assert line.startswith(f"+0:{minutes:02d}:{seconds:02d} ")
        assert line.endswith(f"after {offset} s")
    assert "\x1b[" not in result.stdout


@pytest.mark.parametrize("speed", [0.0, 1.0, 5.0])
def test_replay_pauses_scale_with_speed(built, speed):
    pauses: list[float] = []
    console = Console(file=io.StringIO(), force_terminal=False)
    printed = replay(RUN_ID, console, speed, sleep=pauses.append)
    assert printed == len(EVENT_OFFSETS)
    gaps = [b - a for a, b in zip(EVENT_OFFSETS, EVENT_OFFSETS[1:], strict=False)]
    expected = [] if speed == 0 else [gap / speed for gap in gaps]
    assert pauses == pytest.approx(expected)


def test_replay_on_terminal_uses_rich(built):
    pauses: list[float] = []
    console = Console(record=True, force_terminal=True, color_system="standard", width=100)
    replay(RUN_ID, console, 2.0, sleep=pauses.append)
    styled = console.export_text(styles=True, clear=False)
    assert "generation_finished after 70 s" in console.export_text()
    assert "\x1b[1;32mgeneration_finished after 70 s" in styled
    assert len(pauses) == len(EVENT_OFFSETS) - 1


@pytest.mark.parametrize("speed", ["-1", "nan", "inf"])
def test_replay_rejects_bad_speed(built, speed):
    assert_one_line_error(evolarium("replay", RUN_ID, "--speed", speed), "--speed", "invalid")


# bad input for every command

READER_COMMANDS = [
    ("show", "{agent}"),
    ("calls", "{agent}"),
    ("diff", "{agent}", "{agent}"),
    ("frontier", "{run}"),
    ("replay", "{run}", "--speed", "0"),
    ("export", "{run}", "--format", "json", "--output", "{out}"),
]


def command(template: tuple[str, ...], run: str, agent: str, out: Path) -> list[str]:
    return [part.format(run=run, agent=agent, out=out) for part in template]


@pytest.mark.parametrize("template", READER_COMMANDS, ids=lambda t: t[0])
def test_unknown_ids_suggest_matches(built, tmp_path, template):
    result = evolarium(*command(template, RUN_ID[:-1] + "x", SEED[:-1] + "9", tmp_path / "x"))
    if "{run}" in template:
        assert_one_line_error(result, "run not found", f"did you mean {RUN_ID}")
    else:
        assert_one_line_error(result, "agent not found", SEED)


def make_old(path: Path) -> None:
    """Turn an archive into schema 1, as the first release wrote it."""
    connection = sqlite3.connect(path)
    connection.execute("ALTER TABLE evaluation DROP COLUMN tampering")
    connection.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    connection.commit()
    connection.close()


def make_junk(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def make_malformed(path: Path) -> None:
    """Overwrite pages in the middle of the file, keeping a valid header."""
    with path.open("r+b") as stream:
        stream.seek(4096 * 2)
        stream.write(b"\xff" * 4096 * 8)


@pytest.mark.parametrize("template", READER_COMMANDS, ids=lambda t: t[0])
@pytest.mark.parametrize(
    ("damage", "fragments"),
    [
        (make_old, ("schema version 1", "evolarium archive migrate")),
        (make_junk, ("corrupt", "not a database")),
        (make_malformed, ("malformed",)),
    ],
    ids=["old-schema", "junk", "malformed"],
)
def test_damaged_archive(built, tmp_path, template, damage, fragments):
    damage(built.path)
    before = folder_state(built.path.parent)
    result = evolarium(*command(template, RUN_ID, SEED, tmp_path / "out.json"))
    assert_one_line_error(result, *fragments)
    assert folder_state(built.path.parent) == before
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("template", READER_COMMANDS[3:5], ids=lambda t: t[0])
def test_locked_archive(built, tmp_path, template):
    holder = sqlite3.connect(built.path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("UPDATE run SET status = status")
    try:
        result = evolarium(*command(template, RUN_ID, SEED, tmp_path / "out.json"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert_one_line_error(result, "locked")


def test_readers_write_nothing(built, tmp_path):
    folder = built.path.parent
    before = folder_state(folder)
    for template in READER_COMMANDS:
        result = evolarium(*command(template, RUN_ID, CHEAT, tmp_path / "out.json"))
        assert result.returncode == 0, (template, result.stderr)
    assert evolarium("runs").returncode == 0
    assert folder_state(folder) == before


# narrow terminals


def run_in_terminal(args: list[str], columns: int) -> tuple[int, str]:
    """Run evolarium on a pseudo-terminal ``columns`` wide; return (exit code, screen text)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["COLUMNS"] = str(columns)
        os.environ["TERM"] = "xterm"
        os.execv(sys.executable, [sys.executable, "-m", "evolarium.cli", *args])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    output = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", output.decode(errors="replace"))
    return os.waitstatus_to_exitcode(status), text.replace("\r", "")


@pytest.mark.parametrize(
    "args",
    [["runs"], ["show", CHEAT], ["calls", CHILD], ["frontier", RUN_ID]],
    ids=lambda args: args[0],
)
def test_narrow_terminal(built, args):
    code, screen = run_in_terminal(args, columns=60)
    assert code == 0, screen
    assert "Traceback" not in screen
    for line in screen.splitlines():
        if any(mark in line for mark in "┃│┏└"):
            assert len(line) <= 60, line
    if args[0] == "runs":
        assert re.search(rf"run\s+{RUN_ID}", screen)
        assert re.search(r"cost\s+\$\d.*\+ unknown", screen)
    if args[0] == "calls":
        assert re.search(r"outcome\s+error: timed out", screen)
    if args[0] == "show":
        assert re.search(r"outcome\s+tampering", screen)
