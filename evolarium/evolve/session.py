"""Start an evolution run from a configuration: checks, wiring, and the run's status."""

import logging

from rich.console import Console

from evolarium.agents.contract import seed_agent_dir
from evolarium.dashboard.progress import ProgressPrinter
from evolarium.errors import TaskError
from evolarium.evolve.config import RunConfig
from evolarium.evolve.loop import Evolution
from evolarium.evolve.run import create_run
from evolarium.llm.gateway import Gateway
from evolarium.llm.recording import archive_recorder
from evolarium.llm.router import Router
from evolarium.sandbox import docker_client, require_image
from evolarium.sandbox.reaper import remove_containers
from evolarium.tasks import load_suite

log = logging.getLogger(__name__)


def start_evolution(config: RunConfig, console: Console) -> int:
    """Check every input, run the loop, and print the run id and archive path."""
    suite = load_suite(config.suite)
    tasks = list(suite.tasks[: config.tasks] if config.tasks else suite.tasks)
    if not tasks:
        raise TaskError(f"suite {suite.name} has no tasks")
    router = Router(config.model)
    router.check()
    client = docker_client()
    image = require_image(client)

    run_id, run_dir, archive = create_run(config)
    console.print(
        f"run [bold]{run_id}[/]: {len(tasks)} tasks from {suite.name}, model {config.model.model},"
        f" selection {config.selection}, {config.generations} generations"
    )
    gateway = Gateway(router, recorder=archive_recorder(archive))
    printer = ProgressPrinter(console)
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
        status = "finished"
    except KeyboardInterrupt:
        status = "stopped"
        raise
    finally:
        printer.stop()
        archive.update_run(run_id, status=status, pid=None)
        remove_containers(client, run_id)
        console.print(f"run {run_id} {status}; archive: {run_dir / 'archive.db'}")
        archive.close()

    console.print(
        f"best score {summary.best_score:.2f} ({summary.best_agent}), agents {summary.agents},"
        f" calls {summary.calls}, tokens {summary.tokens}"
    )
    console.print(f"see the lineage with: evolarium tree {run_id}")
    return 0
