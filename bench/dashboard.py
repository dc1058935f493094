"""Time one frame of each dashboard panel, and of the whole layout, on a large synthetic run.

The run state is built in memory, not read from an archive. It has 5,000 agents
with random lineage, each parent drawn from the agents before it, and 200 tasks.
Scores are in fifths and follow a skill inherited from the parent, so many agents
tie on the easy tasks as in real runs. Each frame renders to a string through a
rich Console of 160 columns. The script prints the median and the maximum
milliseconds per frame over the repeats, and the target of 100 ms per frame.

Run: python bench/dashboard.py [--agents 5000] [--tasks 200] [--repeats 5]
"""

import argparse
import io
import random
import statistics
import time
from collections.abc import Callable

from rich.console import Console, RenderableType

from evolarium.dashboard import panels
from evolarium.dashboard.outline import build_outline
from evolarium.dashboard.state import AgentRow, EventRow, RunState, SandboxRow

TARGET_MS = 100.0
WIDTH = 160


def synthetic_state(agent_count: int, task_count: int, seed: int = 0) -> RunState:
    """Build a run state with random lineage, scores, sandboxes and events."""
    rng = random.Random(seed)
    start = time.time() - 3600
    state = RunState(run_id="r-bench", suite="bench", model="fake", created=start)
    state.now = time.time()

    tasks = [f"task-{index:03d}" for index in range(task_count)]
    difficulty = [rng.random() for _ in tasks]
    skills: dict[str, float] = {}
    for index in range(agent_count):
        agent_id = f"a{index:07x}"
        parent = None if index == 0 else f"a{rng.randrange(index):07x}"
        generation = 0 if parent is None else state.agents[parent].generation + 1
        status = rng.choices(["evaluated", "invalid", "evaluating"], [0.85, 0.14, 0.01])[0]
        created = start + index * 0.5
        state.agents[agent_id] = AgentRow(
            agent_id, parent, "self", generation, status, "does not compile", created
        )

        skill = 0.3 if parent is None else skills[parent] + rng.gauss(0, 0.05)
        skills[agent_id] = skill
        if status == "invalid":
            continue
        for task, hardness in zip(tasks, difficulty, strict=True):
            raw = skill + 0.5 - hardness + rng.gauss(0, 0.15)
            score = round(min(max(raw, 0.0), 1.0) * 5) / 5
            state.add_evaluation(agent_id, task, score, created)

    for index in range(8):
        state.sandboxes.append(
            SandboxRow("agent", f"a{index:07x}", tasks[index], state.now - 30 * index, "c")
        )
    for index in range(200):
        state.events.append(
            EventRow(index, start + index, "evaluation_finished", 1, None, f"event {index}")
        )
    state.call_count = agent_count * 4
    state.tokens = agent_count * 4000
    state.call_times = [start + index for index in range(state.call_count)]
    return state


def time_frames(render: Callable[[], RenderableType], repeats: int) -> list[float]:
    """Render ``repeats`` frames to a string; return the milliseconds of each."""
    timings = []
    for _ in range(repeats):
        console = Console(file=io.StringIO(), width=WIDTH, color_system="truecolor")
        started = time.perf_counter()
        console.print(render())
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    started = time.perf_counter()
    state = synthetic_state(args.agents, args.tasks)
    built_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    state.derive()
    derive_ms = (time.perf_counter() - started) * 1000
    print(
        f"{len(state.agents)} agents, {len(state.task_ids)} tasks, "
        f"{state.evaluation_count} scores, frontier {len(state.frontier)} agents"
    )
    print(f"build the state: {built_ms:.0f} ms; derive means, wins, frontier: {derive_ms:.0f} ms")

    frames: dict[str, Callable[[], RenderableType]] = {
        "tree": lambda: panels.tree_panel(state),
        "frontier": lambda: panels.frontier_panel(state, width=WIDTH // 2),
        "sandboxes": lambda: panels.sandboxes_panel(state),
        "budget": lambda: panels.budget_panel(state),
        "generations": lambda: panels.generations_panel(state, width=WIDTH // 2),
        "events": lambda: panels.events_panel(state),
        "whole layout": lambda: panels.dashboard(state, width=WIDTH),
        "live view": lambda: panels.live_view(state, width=WIDTH, height=40),
    }
    print(f"\nms per frame at {WIDTH} columns, {args.repeats} frames each")
    print(f"target: under {TARGET_MS:.0f} ms per frame")
    print(f"{'panel':<14} {'median':>8} {'max':>8}")
    for name, render in frames.items():
        timings = time_frames(render, args.repeats)
        median = statistics.median(timings)
        verdict = "ok" if median < TARGET_MS else "over target"
        print(f"{name:<14} {median:>8.1f} {max(timings):>8.1f}  {verdict}")

    started = time.perf_counter()
    outline = build_outline(state)
    outline_ms = (time.perf_counter() - started) * 1000
    print(f"\nbuild the tree outline alone: {outline_ms:.1f} ms, {len(outline.shown)} agents shown")


if __name__ == "__main__":
    main()
