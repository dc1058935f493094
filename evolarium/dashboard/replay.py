"""Play a run's stored events back in order, at a multiple of the pace they happened at."""

import math
import time
from collections.abc import Callable
from datetime import datetime

from rich.console import Console
from rich.text import Text

from evolarium.archive import Event
from evolarium.archive.reader import locate_run, open_archive
from evolarium.dashboard.summary import seconds_between
from evolarium.errors import ConfigError

KIND_STYLES = {
    "generation_started": "bold",
    "generation_finished": "bold green",
    "agent_invalid": "yellow",
    "stage_failed": "yellow",
    "evaluation_finished": "dim",
}


def check_speed(speed: float) -> None:
    if not math.isfinite(speed) or speed < 0:
        raise ConfigError(
            f"--speed {speed} is invalid; use a positive factor such as 10, or 0 for no pauses"
        )


def replay(
    run_query: str,
    console: Console,
    speed: float,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Print the events of a run, pausing between them for the original gap divided by
    ``speed``; ``speed`` 0 prints them all at once. Return the number of events printed."""
    check_speed(speed)
    run_id, path = locate_run(run_query)
    archive = open_archive(path)
    try:
        archive.run(run_id)
        events = archive.events(run_id)
    finally:
        archive.close()
    if not events:
        console.print(f"run {run_id} has no events")
        return 0

    if console.is_terminal:
        _replay_rich(run_id, events, console, speed, sleep)
    else:
        _replay_plain(events, console, speed, sleep)
    return len(events)


def _replay_plain(
    events: list[Event], console: Console, speed: float, sleep: Callable[[float], None]
) -> None:
    start = events[0].time
    previous = start
    for event in events:
        _pause(previous, event.time, speed, sleep)
        previous = event.time
        line = f"{_offset(start, event.time)} {event.kind} {event.message}"
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _replay_rich(
    run_id: str,
    events: list[Event],
    console: Console,
    speed: float,
    sleep: Callable[[float], None],
) -> None:
    start = events[0].time
    previous = start
    pace = "all at once" if speed == 0 else f"at {speed:g}x"
    with console.status(f"replaying run {run_id} {pace}") as status:
        for index, event in enumerate(events, start=1):
            status.update(f"replaying run {run_id} {pace}: event {index} of {len(events)}")
            _pause(previous, event.time, speed, sleep)
            previous = event.time
            line = Text()
            line.append(_offset(start, event.time) + " ", style="dim")
            line.append(event.message, style=KIND_STYLES.get(event.kind, ""))
            console.print(line)


def _pause(
    previous: datetime, current: datetime, speed: float, sleep: Callable[[float], None]
) -> None:
    gap = seconds_between(previous, current)
    if speed > 0 and gap > 0:
        sleep(gap / speed)


def _offset(start: datetime, moment: datetime) -> str:
    """Format the time since the run's first event as +H:MM:SS."""
    seconds = max(0, int(seconds_between(start, moment)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"+{hours}:{minutes:02d}:{seconds:02d}"
