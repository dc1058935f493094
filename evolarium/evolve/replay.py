"""Re-run an archived evaluation, from its recorded model calls or against the live model.

Mode "recorded" serves the agent the responses recorded in the evaluation, so a
deterministic agent must leave the same final workspace. It stores nothing and opens the
archive read-only. Mode "live" re-runs the evaluation against the run's model and stores
it as a new evaluation with stage "replay".
"""

import json
import logging
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import docker
from sqlalchemy.engine import URL

from evolarium.archive import ARCHIVE_FILE, Agent, Archive, Evaluation, Run
from evolarium.archive.location import ArchiveTarget
from evolarium.archive.scores import REPLAY_STAGE
from evolarium.archive.snapshot import hash_dir, unpack
from evolarium.errors import ArchiveError, ConfigError, TaskError
from evolarium.evolve.config import RunConfig
from evolarium.evolve.evaluation import Evaluator, _outcome
from evolarium.evolve.rollout import run_agent
from evolarium.evolve.run import find_run
from evolarium.llm.budget import Budget
from evolarium.llm.gateway import CallContext, CallRecord, Gateway
from evolarium.llm.recording import archive_recorder
from evolarium.llm.replay import OUTCOME_REPLAY_MISS, Replayer
from evolarium.sandbox import docker_client, require_image
from evolarium.tasks import Task, load_suite
from evolarium.tasks.scorer import close_scoring_pools, score_workspace

log = logging.getLogger(__name__)

MODES = ("recorded", "live")


@dataclass(frozen=True)
class ReplayResult:
    """The outcome of replaying one archived evaluation."""

    mode: str
    run_id: str
    agent_id: str
    task_id: str
    evaluation_id: str
    """The archived evaluation that was replayed."""
    archived_workspace_hash: str | None
    workspace_hash: str | None
    """Hash of the replay's final workspace; None when the replay left none."""
    archived_score: float
    score: float
    outcome: str
    """The replay's evaluation outcome, named as in Evaluation.outcome."""
    calls: int
    """Model calls the agent made in the replay, misses included."""
    recorded_calls: int
    """Replayable responses recorded in the evaluation (mode "recorded"; 0 in mode "live")."""
    unused_calls: int
    """Recorded responses the replay never requested (mode "recorded"; 0 in mode "live")."""
    miss: str | None = None
    """The first replay miss: which request had no recorded response and how it differed."""
    stored_evaluation_id: str | None = None
    """The new evaluation with stage "replay" (mode "live" only)."""

    @property
    def identical(self) -> bool:
        """Whether the final workspace has the archived evaluation's hash."""
        return self.workspace_hash is not None and self.workspace_hash == (
            self.archived_workspace_hash
        )

    def summary(self) -> str:
        """Describe the result in one line, as ``evolarium replay`` prints it."""
        verdict = "identical to" if self.identical else "differs from"
        line = (
            f"{self.mode} replay of evaluation {self.evaluation_id} ({self.agent_id} on "
            f"{self.task_id}): final workspace {_short(self.workspace_hash)} {verdict} the "
            f"archived {_short(self.archived_workspace_hash)}; score {self.score:.2f} "
            f"(archived {self.archived_score:.2f}), outcome {self.outcome}, calls {self.calls}"
        )
        if self.mode == "recorded":
            line += f" of {self.recorded_calls} recorded ({self.unused_calls} unused)"
        if self.miss:
            line += f"; replay miss: {self.miss}"
        if self.stored_evaluation_id:
            line += f"; stored as evaluation {self.stored_evaluation_id}"
        return line


@dataclass(frozen=True)
class _Target:
    """The archived evaluation to replay and everything needed to run it again."""

    run: Run
    agent: Agent
    evaluation: Evaluation
    config: RunConfig
    task: Task


def replay_evaluation(
    archive_path_or_run: ArchiveTarget | str, agent_id: str, task_id: str, mode: str
) -> ReplayResult:
    """Re-run the latest archived evaluation of ``agent_id`` on ``task_id``.

    ``archive_path_or_run`` is an archive file, a run directory, a PostgreSQL URL, or a
    run id or unique prefix under the data directory. ``mode`` is "recorded" or "live"
    (see the module docstring). Needs Docker and the sandbox image. Raises ArchiveError
    when the agent or its evaluation is not in the archive.
    """
    if mode not in MODES:
        raise ConfigError(f"unknown replay mode {mode!r}; choose one of {', '.join(MODES)}")
    path = _archive_path(archive_path_or_run)
    archive = Archive.open_read_only(path) if mode == "recorded" else Archive.open(path)
    try:
        target = _find_target(archive, agent_id, task_id)
        client = docker_client()
        image = require_image(client)
        with tempfile.TemporaryDirectory(prefix="evolarium-replay-") as temporary:
            agent_dir = Path(temporary) / "agent"
            unpack(archive.snapshot(target.agent.code_hash), agent_dir)
            try:
                if mode == "recorded":
                    return _replay_recorded(client, image, archive, target, agent_dir)
                return _replay_live(client, image, archive, target, agent_dir)
            finally:
                close_scoring_pools(target.run.id)
    finally:
        archive.close()


def _archive_path(archive_path_or_run: ArchiveTarget | str) -> ArchiveTarget:
    if isinstance(archive_path_or_run, URL):
        return archive_path_or_run  # a run archived in PostgreSQL
    path = Path(archive_path_or_run)
    if path.is_file():
        return path
    if (path / ARCHIVE_FILE).is_file():
        return path / ARCHIVE_FILE
    if isinstance(archive_path_or_run, Path):
        raise ArchiveError(f"archive file not found: {path}")
    _, found = find_run(archive_path_or_run)
    return found


def _find_target(archive: Archive, agent_id: str, task_id: str) -> _Target:
    agent = archive.agent(agent_id)
    run = archive.run(agent.run_id)
    evaluations = [e for e in archive.evaluations(run.id, agent.id) if e.task_id == task_id]
    if not evaluations:
        tasks = sorted({e.task_id for e in archive.evaluations(run.id, agent.id)})
        known = ", ".join(tasks) if tasks else "none"
        raise ArchiveError(
            f"agent {agent.id} has no evaluation on task {task_id!r} in run {run.id}; "
            f"its evaluated tasks: {known}"
        )
    config = run_config(run.config_json)
    return _Target(
        run=run,
        agent=agent,
        evaluation=evaluations[-1],
        config=config,
        task=_load_task(config, task_id),
    )


def run_config(config_json: str) -> RunConfig:
    """Rebuild a run's configuration from Run.config_json.

    Keys that this version does not know are logged and ignored. The stored api_key is
    dropped, because it is stored masked, so a key comes from the environment as for a
    new run.
    """
    data = json.loads(config_json)
    model = dict(data.get("model") or {})
    model.pop("api_key", None)
    return RunConfig.from_dict({**data, "model": model}, strict=False)


def _load_task(config: RunConfig, task_id: str) -> Task:
    suite = load_suite(config.suite, skip_invalid=config.skip_invalid)
    for task in suite.tasks:
        if task.id == task_id:
            return task
    raise TaskError(
        f"task {task_id!r} is not in suite {suite.name} any more; the run used it, so restore "
        f"the suite as it was"
    )


def _replay_recorded(
    client: docker.DockerClient, image: str, archive: Archive, target: _Target, agent_dir: Path
) -> ReplayResult:
    """Run the agent with the evaluation's recorded responses and score its workspace."""
    evaluation = target.evaluation
    recorded = [
        call
        for call in archive.calls(target.run.id, target.agent.id)
        if call.evaluation_id == evaluation.id
    ]
    replayer = Replayer(recorded)
    records: list[CallRecord] = []
    # The routers' models, token caps and default temperatures go into each request key.
    # The replayer serves every call, so no provider is contacted and no API key is needed.
    gateway = Gateway(
        target.config.routes(),
        recorder=records.append,
        budget=_evaluation_budget(target.config.budget),
        replayer=replayer,
    )
    workspace_hash, score, outcome = _run_and_score(client, image, gateway, target, agent_dir)
    misses = [record.error for record in records if record.outcome == OUTCOME_REPLAY_MISS]
    return ReplayResult(
        mode="recorded",
        run_id=target.run.id,
        agent_id=target.agent.id,
        task_id=target.task.id,
        evaluation_id=evaluation.id,
        archived_workspace_hash=evaluation.workspace_hash,
        workspace_hash=workspace_hash,
        archived_score=evaluation.score,
        score=score,
        outcome=outcome,
        calls=len(records),
        recorded_calls=len(replayer),
        unused_calls=replayer.unserved,
        miss=misses[0] if misses else None,
    )


def _evaluation_budget(budget: Budget) -> Budget:
    # NOTE: the run's limits are left out because the run's spending before this evaluation
    # is unknown. A recorded call refused by a run limit is a replay miss instead.
    return Budget(
        evaluation_tokens=budget.evaluation_tokens, evaluation_calls=budget.evaluation_calls
    )


def _run_and_score(
    client: docker.DockerClient, image: str, gateway: Gateway, target: _Target, agent_dir: Path
) -> tuple[str, float, str]:
    """Run the agent as Evaluator does and return (workspace hash, score, outcome)."""
    task, limits = target.task, target.config.agent_limits
    context = CallContext(
        run_id=target.run.id,
        agent_id=target.agent.id,
        task_id=task.id,
        evaluation_id=target.evaluation.id,
        purpose="agent",
    )
    with run_agent(
        client,
        image,
        gateway,
        agent_dir=agent_dir,
        prompt=task.prompt(),
        workspace=task.workspace,
        context=context,
        limits=replace(limits, timeout_s=min(limits.timeout_s, task.agent_timeout_s)),
        max_steps=target.config.agent_steps,
    ) as rollout:
        workspace_hash = hash_dir(rollout.workspace)
        score = score_workspace(
            client,
            image,
            task,
            rollout.workspace,
            run_id=target.run.id,
            limits=replace(limits, timeout_s=task.test_timeout_s),
            evaluation_id=target.evaluation.id,
        )
    return workspace_hash, score.score, _outcome(rollout.result.outcome, score.outcome)


def _replay_live(
    client: docker.DockerClient, image: str, archive: Archive, target: _Target, agent_dir: Path
) -> ReplayResult:
    """Evaluate the agent again against the run's model and store the new evaluation."""
    from evolarium.evolve.session import check_reachable

    config = target.config
    routes = config.routes()
    routes.check()
    for model in routes.models():
        config.budget.check_prices(model)
    for api_base in routes.api_bases():
        check_reachable(api_base)

    gateway = Gateway(routes, recorder=archive_recorder(archive), budget=config.budget)
    evaluator = Evaluator(
        client=client,
        image=image,
        gateway=gateway,
        archive=archive,
        run_id=target.run.id,
        limits=config.agent_limits,
        max_steps=config.agent_steps,
    )
    stored = evaluator.evaluate(target.agent.id, agent_dir, target.task, REPLAY_STAGE)
    log.info(
        "stored live replay %s of evaluation %s (agent %s, task %s)",
        stored.id,
        target.evaluation.id,
        target.agent.id,
        target.task.id,
    )
    return ReplayResult(
        mode="live",
        run_id=target.run.id,
        agent_id=target.agent.id,
        task_id=target.task.id,
        evaluation_id=target.evaluation.id,
        archived_workspace_hash=target.evaluation.workspace_hash,
        workspace_hash=stored.workspace_hash,
        archived_score=target.evaluation.score,
        score=stored.score,
        outcome=stored.outcome,
        calls=stored.calls,
        recorded_calls=0,
        unused_calls=0,
        stored_evaluation_id=stored.id,
    )


def _short(workspace_hash: str | None) -> str:
    return workspace_hash[:12] if workspace_hash else "(none)"
