"""``evolarium watch``: follow a run from its archive, in a Textual app or as plain lines.

The archive, a SQLite file or a PostgreSQL database, is opened read-only and polled.
Watching changes nothing in it, and its reads do not make the run's writes wait: a
SQLite archive uses WAL mode, and a PostgreSQL read takes no lock that blocks a write
of rows.
"""

import logging
import sys
import time
from collections.abc import Callable

from rich.console import Console
from rich.text import Text

from evolarium.archive import Archive
from evolarium.archive.reader import locate_run
from evolarium.dashboard import panels
from evolarium.dashboard.state import DockerProbe, EventRow, RunLoader, RunState
from evolarium.errors import ArchiveError
from evolarium.plural import counted

log = logging.getLogger(__name__)

RECENT_EVENTS = 20
"""Events printed when plain output starts; later events are printed as they arrive."""
MAX_FAILED_REFRESHES = 30
"""Consecutive failed reads of the archive after which plain output stops with an error."""


def open_run(query: str, *, docker: bool = True) -> RunLoader:
    """Find a run by id or prefix, open its archive read-only, and read it once."""
    run_id, target = locate_run(query)
    archive = Archive.open_read_only(target)
    loader = RunLoader(archive, run_id, docker=DockerProbe() if docker else None)
    try:
        loader.refresh()
    except ArchiveError:
        archive.close()
        raise
    return loader


def watch(query: str, *, once: bool, interval: float, console: Console) -> int:
    """Show a run: the Textual app on a terminal, plain lines otherwise, one frame with
    ``once``."""
    loader = open_run(query)
    try:
        if once:
            console.print(panels.dashboard(loader.state, width=console.width))
            return 0
        if sys.stdout.isatty() and sys.stdin.isatty():
            from evolarium.dashboard.app import WatchApp

            WatchApp(loader, interval=interval).run()
            return 0
        return follow(loader, console, interval=interval)
    finally:
        loader.archive.close()


def follow(
    loader: RunLoader,
    console: Console,
    *,
    interval: float,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Print the recent events, then each new event, until the run stops running."""
    state = loader.state
    console.print(_plain(panels.header(state).plain))
    for event in list(state.events)[-RECENT_EVENTS:]:
        console.print(event_line(event))
    failures = 0
    while state.running:
        sleep(interval)
        try:
            state = loader.refresh()
        except ArchiveError as error:
            failures += 1
            log.warning("cannot refresh run %s (%d in a row): %s", loader.run_id, failures, error)
            if failures >= MAX_FAILED_REFRESHES:
                raise
            continue
        failures = 0
        for event in state.new_events:
            console.print(event_line(event))
    console.print(summary_line(state))
    return 0


def event_line(event: EventRow) -> Text:
    return _plain(f"{panels.format_clock(event.time)} {event.message}")


def summary_line(state: RunState) -> Text:
    """Describe how a run ended, in one line."""
    status = state.status
    if state.owner_gone:
        status = f"{status}, but its process {state.pid} has ended without updating its status"
    best = max(state.means, key=lambda agent: state.means[agent], default=None)
    score = f"best score {state.means[best]:.2f} ({best})" if best else "no scores"
    unpriced = f" (+{state.unpriced_calls} unpriced calls)" if state.unpriced_calls else ""
    return _plain(
        f"run {state.run_id} {status}: {counted(len(state.agents), 'agent')}, "
        f"{counted(state.evaluation_count, 'evaluation')}, {score}, "
        f"frontier {len(state.frontier)}, "
        f"calls {state.call_count}, tokens {state.tokens}, ${state.cost_usd:.4f}{unpriced}"
    )


def _plain(line: str) -> Text:
    return Text(line, no_wrap=False)
