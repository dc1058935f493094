"""Start an evolution run from a configuration: checks, wiring, and the run's status."""

import json
import logging
import os
import signal
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import docker
from docker.errors import DockerException
from rich.console import Console

from evolarium.agents.contract import seed_agent_dir
from evolarium.archive import Archive
from evolarium.archive.location import ArchiveTarget, describe_target
from evolarium.dashboard.progress import ProgressPrinter
from evolarium.errors import ArchiveError, ConfigError, ModelError, TaskError
from evolarium.evolve.config import RunConfig, apply_overrides, config_differences
from evolarium.evolve.executor import build_executor, check_executor
from evolarium.evolve.loop import Evolution
from evolarium.evolve.run import archive_of_run_dir, create_run, find_run, prepare_run_dir
from evolarium.llm.budget import Spending
from evolarium.llm.gateway import UNCHARGED_OUTCOMES, Gateway
from evolarium.llm.recording import archive_recorder
from evolarium.llm.replay import Replayer, served_from_recording
from evolarium.llm.routing import Routes
from evolarium.plural import counted
from evolarium.process import process_exists
from evolarium.sandbox import docker_client, require_image
from evolarium.sandbox.reaper import remove_containers, remove_orphans
from evolarium.sandbox.staging import check_tree
from evolarium.tasks import load_suite
from evolarium.tasks.scorer import close_scoring_pools

log = logging.getLogger(__name__)


def check_reachable(api_base: str) -> None:
    """Fail early when nothing listens at an OpenAI-compatible server's address.

    ``api_base`` comes from --api-base or a model's api_base setting, which ModelConfig has
    already checked to be an http(s) URL with a host and a valid port.
    """
    url = urlsplit(api_base)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=5).close()
    except OSError as error:
        raise ModelError(
            f"cannot connect to api_base {api_base} (--api-base or a model's api_base "
            f"setting): {error}; start the server or fix the URL"
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
    tasks = _load_tasks(config)
    routes = _check_model(config)
    check_executor(config)
    replayer = _replayer(config.replay_from) if config.replay_from else None
    client = docker_client()
    image = require_image(client)
    remove_orphans(client)

    run_id, run_dir, archive = create_run(config)
    console.print(
        f"run [bold]{run_id}[/]: {counted(len(tasks), 'task')} from {_suite_name(config)}, "
        f"model {config.model.model}, selection {config.selection}, "
        f"{counted(config.generations, 'generation')}"
    )
    gateway = Gateway(
        routes, recorder=archive_recorder(archive), budget=config.budget, replayer=replayer
    )
    executor = _open_executor(config, client, image, gateway, archive, run_id)
    parts = RunParts(config, run_id, run_dir, archive, client, image, gateway, tasks)
    return _drive(parts.evolution(executor), console, live, resume=False)


def resume_evolution(
    run_id: str, overrides: list[str], force: bool, console: Console, live: bool = False
) -> int:
    """Continue a stopped, failed or killed run from its archive.

    The stored configuration is used, with ``overrides`` (``key=value`` items) applied;
    a configuration that differs from the stored one needs ``force`` and is recorded.
    """
    run_id, archive_path = find_run(run_id)
    archive = Archive.open(archive_path, migrate=True)
    try:
        run = archive.run(run_id)
        _check_not_running(run)
        config = _resumed_config(archive, run, overrides, force)
        tasks = _load_tasks(config)
        routes = _check_model(config)
        check_executor(config)
        replayer = _replayer(config.replay_from) if config.replay_from else None
        client = docker_client()
        image = require_image(client)
        remove_orphans(client)
    except BaseException:
        archive.close()
        raise

    if replayer is not None:
        kept = kept_replayed_keys(archive, run_id)
        skipped = replayer.skip_served(kept)
        log.info("the replay skips %d responses that the run used before it stopped", skipped)
    gateway = Gateway(
        routes, recorder=archive_recorder(archive), budget=config.budget, replayer=replayer
    )
    gateway.meter.run = spending_of(archive.calls(run_id))
    archive.update_run(run_id, status="running", pid=os.getpid())
    executor = _open_executor(config, client, image, gateway, archive, run_id)
    console.print(f"resuming run [bold]{run_id}[/] ({run.status} before)")
    run_dir = prepare_run_dir(run_id, archive_path)
    parts = RunParts(config, run_id, run_dir, archive, client, image, gateway, tasks)
    return _drive(parts.evolution(executor), console, live, resume=True)


@dataclass(frozen=True)
class RunParts:
    """The parts of one run's evolution, once every input is checked."""

    config: RunConfig
    run_id: str
    run_dir: Path
    archive: Archive
    client: docker.DockerClient
    image: str
    gateway: Gateway
    tasks: list

    def evolution(self, executor) -> Evolution:
        return Evolution(
            config=self.config,
            run_id=self.run_id,
            run_dir=self.run_dir,
            archive=self.archive,
            client=self.client,
            image=self.image,
            gateway=self.gateway,
            tasks=self.tasks,
            seed_dir=seed_agent_dir(),
            executor=executor,
        )


def _drive(evolution: Evolution, console: Console, live: bool, *, resume: bool) -> int:
    """Run or resume the loop, keep the run's status, and print where things are."""
    run_id, archive = evolution.run_id, evolution.archive
    archive_path = archive_of_run_dir(evolution.workdir.parent)
    printer = _progress_printer(console, live, run_id, archive_path)
    evolution.on_event = printer
    status = "failed"
    try:
        summary = evolution.resume() if resume else evolution.run()
        status = _final_status(summary, evolution.gateway)
    except KeyboardInterrupt:
        status = "stopped"
        _ignore_more_signals(console)
        console.print(
            f"stopping: evaluations in flight are dropped and their sandboxes removed; "
            f"evolarium resume {run_id} makes them again"
        )
        raise
    finally:
        printer.stop()
        _close_executor(evolution.executor)
        archive.update_run(run_id, status=status, pid=None)
        _remove_sandboxes(evolution.client, run_id)
        console.print(f"run {run_id} {status}; archive: {describe_target(archive_path)}")
        archive.close()

    console.print(
        f"best score {summary.best_score:.2f} ({summary.best_agent}), agents {summary.agents},"
        f" calls {summary.calls}, tokens {summary.tokens}"
    )
    if summary.stopped_by:
        console.print(f"stopped early because {summary.stopped_by}")
        console.print(f"continue it with: evolarium resume {run_id} --set KEY=VALUE --force")
    console.print(f"see the lineage with: evolarium tree {run_id}")
    return 0


def _open_executor(config: RunConfig, client, image: str, gateway: Gateway, archive, run_id: str):
    """Build the run's executor; on failure, mark the run failed and close the archive."""
    try:
        return build_executor(
            config, client=client, image=image, gateway=gateway, archive=archive, run_id=run_id
        )
    except BaseException:
        archive.update_run(run_id, status="failed", pid=None)
        archive.close()
        raise


def _ignore_more_signals(console: Console) -> None:
    """Make a second Ctrl-C or SIGTERM print a line instead of cutting short the clean-up.

    A clean-up cut short leaves evaluation threads running after their sandboxes are
    removed, and those threads would store sandbox errors as scores.
    """
    if threading.current_thread() is not threading.main_thread():
        return

    def already_stopping(signum: int, _frame) -> None:
        console.print("already stopping: removing the run's sandboxes and storing its state")

    signal.signal(signal.SIGINT, already_stopping)
    signal.signal(signal.SIGTERM, already_stopping)


def _close_executor(executor) -> None:
    """Close the executor; a failure is logged, so the run's status is still stored."""
    try:
        executor.close()
    except Exception:  # a lost Ray cluster must not hide the run's own outcome
        log.exception("closing the %s failed", type(executor).__name__)


def _final_status(summary, gateway: Gateway) -> str:
    if not summary.stopped_by:
        return "finished"
    return "budget_spent" if gateway.meter.exhausted() else "limit_reached"


def _load_tasks(config: RunConfig) -> list:
    suite = load_suite(config.suite, skip_invalid=config.skip_invalid)
    if config.tasks is not None and config.tasks > len(suite.tasks):
        raise TaskError(
            f"--tasks {config.tasks} is more than the {len(suite.tasks)} tasks in suite "
            f"{suite.name}; use at most {len(suite.tasks)}"
        )
    tasks = list(suite.tasks[: config.tasks] if config.tasks else suite.tasks)
    for task in tasks:
        check_tree(task.workspace, max_bytes=config.agent_limits.workspace_mb * 1024 * 1024)
    return tasks


def _suite_name(config: RunConfig) -> str:
    return config.suite


def _check_model(config: RunConfig) -> Routes:
    """Build the run's routes and check every model they can call, fallbacks included."""
    routes = config.routes()
    if config.replay_from:
        return routes  # a replay calls no provider, so it needs no key or server
    routes.check()
    for model in routes.models():
        config.budget.check_prices(model)
    for api_base in routes.api_bases():
        check_reachable(api_base)
    return routes


def _replayer(source_run: str) -> Replayer:
    """Return a replayer of the model calls recorded by another run."""
    source_id, source_path = find_run(source_run)
    source = Archive.open_read_only(source_path)
    try:
        replayer = Replayer(source.calls(source_id))
    finally:
        source.close()
    if not len(replayer):
        raise ModelError(
            f"--replay-from {source_run}: run {source_id} has no recorded model response to "
            "replay; pick a run that made successful model calls"
        )
    return replayer


def _check_not_running(run) -> None:
    if run.status == "running" and run.pid and process_exists(run.pid):
        raise ArchiveError(
            f"run {run.id} is still running in process {run.pid}; stop it (Ctrl-C or "
            f"kill {run.pid}) before resuming it"
        )


def _resumed_config(archive: Archive, run, overrides: list[str], force: bool) -> RunConfig:
    stored = json.loads(run.config_json)
    wanted = apply_overrides(stored, overrides) if overrides else stored
    config = RunConfig.from_dict(_unmask_key(wanted))
    # Compare JSON forms, as stored: tuples and lists of equal items are the same setting.
    differences = config_differences(stored, json.loads(json.dumps(config.to_dict())))
    if differences and not force:
        raise ConfigError(
            f"resuming run {run.id} with a changed configuration ({'; '.join(differences)}) "
            "needs --force"
        )
    if differences:
        archive.update_run(run.id, config_json=json.dumps(config.to_dict(), sort_keys=True))
        archive.add_event(
            run.id,
            "config_changed",
            f"resumed with a changed configuration: {'; '.join(differences)}",
            data={"differences": differences},
        )
    return config


def _unmask_key(data: dict) -> dict:
    """Drop the masked API key of a stored configuration; the key comes from the environment."""
    model = dict(data.get("model") or {})
    if model.get("api_key") == "***":
        model["api_key"] = None
    return {**data, "model": model}


def kept_replayed_keys(archive: Archive, run_id: str) -> list[str]:
    """Return the request keys of calls served from the recording that belong to work a
    resumed run keeps.

    Kept work is the calls of agents that the resumed run keeps, outside any evaluation
    or in a stored one. Calls of a half-made child (a pending child, which the resumed
    run removes) or of an evaluation that never ended are left out, because the resumed
    run sends those requests again.
    """
    agents = {
        agent.id
        for agent in archive.agents(run_id)
        if agent.status != "pending" or agent.parent_id is None
    }
    evaluations = {evaluation.id for evaluation in archive.evaluations(run_id)}
    return [
        call.request_key
        for call in archive.calls(run_id)
        if served_from_recording(call.outcome, call.error)
        and call.request_key
        and call.agent_id in agents
        and (call.evaluation_id is None or call.evaluation_id in evaluations)
    ]


def spending_of(calls: list) -> Spending:
    """Return a run's spending so far from its stored calls, as the budget meter counts it."""
    spending = Spending()
    for call in calls:
        if call.outcome in UNCHARGED_OUTCOMES:
            continue
        spending.calls += 1
        spending.tokens += call.prompt_tokens + call.completion_tokens
        if served_from_recording(call.outcome, call.error):
            continue
        if call.cost_usd is None:
            spending.unpriced_calls += 1
        else:
            spending.dollars += call.cost_usd
    return spending


def _progress_printer(
    console: Console, live: bool, run_id: str, archive_path: ArchiveTarget
) -> ProgressPrinter:
    if live and console.is_terminal:
        from evolarium.dashboard.live import LivePrinter

        return LivePrinter(console, archive_path, run_id)
    return ProgressPrinter(console)
