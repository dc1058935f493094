"""Start an evolution run from a configuration: checks, wiring, and the run's status."""

import logging
import socket
from pathlib import Path
from urllib.parse import urlsplit

from docker.errors import DockerException
from rich.console import Console

from evolarium.agents.contract import seed_agent_dir
from evolarium.archive import ARCHIVE_FILE
from evolarium.dashboard.progress import ProgressPrinter
from evolarium.errors import ModelError, TaskError
from evolarium.evolve.config import RunConfig
from evolarium.evolve.loop import Evolution
from evolarium.evolve.run import create_run
from evolarium.llm.gateway import Gateway
from evolarium.llm.recording import archive_recorder
from evolarium.llm.router import Router
from evolarium.sandbox import docker_client, require_image
from evolarium.sandbox.reaper import remove_containers, remove_orphans
from evolarium.sandbox.staging import check_tree
from evolarium.tasks import load_suite
from evolarium.tasks.scorer import close_scoring_pools

log = logging.getLogger(__name__)


def check_reachable(api_base: str) -> None:
    """Fail early when nothing listens at an OpenAI-compatible server's address."""
    url = urlsplit(api_base)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ModelError(f"--api-base {api_base!r} is not an http(s) URL; use http://HOST:PORT/v1")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=5).close()
    except OSError as error:
        raise ModelError(
            f"cannot connect to --api-base {api_base}: {error}; start the server or fix the URL"
        ) from error


def _remove_sandboxes(client, run_id: str) -> None:
    """Remove the run's containers; if the daemon is gone, leave that to the next start."""
    try:
        close_scoring_pools(run_id)
        remove_containers(client, run_id)
    except (OSError, DockerException) as error:
        log.warning("cannot remove the sandboxes of run %s now: %s", run_id, error)


def start_evolution(config: RunConfig, console: Console, *, live: bool = False) -> int:
    """Check every input, run the loop, and print the run id and archive path.

    With ``live`` and a terminal console, a live dashboard of the run is drawn under
    the progress lines.
    """
    suite = load_suite(config.suite, skip_invalid=config.skip_invalid)
    if config.tasks is not None and config.tasks > len(suite.tasks):
        raise TaskError(
            f"--tasks {config.tasks} is more than the {len(suite.tasks)} tasks in suite "
            f"{suite.name}; use at most {len(suite.tasks)}"
        )
    tasks = list(suite.tasks[: config.tasks] if config.tasks else suite.tasks)
    for task in tasks:
        check_tree(task.workspace, max_bytes=config.agent_limits.workspace_mb * 1024 * 1024)
    router = Router(config.model)
    router.check()
    config.budget.check_prices(router.model)
    if config.model.api_base:
        check_reachable(config.model.api_base)
    client = docker_client()
    image = require_image(client)
    remove_orphans(client)

    run_id, run_dir, archive = create_run(config)
    console.print(
        f"run [bold]{run_id}[/]: {len(tasks)} tasks from {suite.name}, model {config.model.model},"
        f" selection {config.selection}, {config.generations} generations"
    )
    gateway = Gateway(router, recorder=archive_recorder(archive), budget=config.budget)
    printer = _progress_printer(console, live, run_id, run_dir / ARCHIVE_FILE)
    evolution = Evolution(
        config=config,
        run_id=run_id,
        run_dir=run_dir,
        archive=archive,
        client=client,
        image=image,
        gateway=gateway,
        tasks=tasks,
        on_event=printer,
    )
    status = "failed"
    try:
        summary = evolution.run(seed_agent_dir())
        status = "budget_spent" if summary.stopped_by else "finished"
    except KeyboardInterrupt:
        status = "stopped"
        raise
    finally:
        printer.stop()
        archive.update_run(run_id, status=status, pid=None)
        _remove_sandboxes(client, run_id)
        console.print(f"run {run_id} {status}; archive: {run_dir / 'archive.db'}")
        archive.close()

    console.print(
        f"best score {summary.best_score:.2f} ({summary.best_agent}), agents {summary.agents},"
        f" calls {summary.calls}, tokens {summary.tokens}"
    )
    if summary.stopped_by:
        console.print(f"stopped early because {summary.stopped_by}")
    console.print(f"see the lineage with: evolarium tree {run_id}")
    return 0


def _progress_printer(
    console: Console, live: bool, run_id: str, archive_path: Path
) -> ProgressPrinter:
    if live and console.is_terminal:
        from evolarium.dashboard.live import LivePrinter

        return LivePrinter(console, archive_path, run_id)
    return ProgressPrinter(console)
