"""Run evaluations as Ray tasks on the nodes of a Ray cluster.

Each evaluation is one Ray task. It runs the agent container and the scoring
container on the Docker daemon of the node it lands on, and it needs
``SLOTS_PER_EVALUATION`` units of the custom resource ``sandbox_slots``, which each
node declares (``ray start --resources '{"sandbox_slots": 4}'``). So no node runs
more sandbox containers than it declares.

Agent code and task directories travel as content-addressed gzip tars
(``archive.snapshot.pack_dir``), put in Ray's object store once per hash. Model calls
go through a gateway inside the task's worker process. That gateway reserves and
charges calls in one budget actor, so budgets stay global to the run, and it takes the slots
of models with ``max_concurrent`` from one SlotLedger actor, so those limits count
every request of the run. The gateway's call
records, the evaluation and the final workspace come back with the result, and the
loop's process stores them, because it is the archive's only writer.

Ray is imported lazily, so evolarium works without the ``ray`` extra.
"""

import logging
import os
import socket
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from evolarium.archive import Archive, Evaluation
from evolarium.archive.snapshot import pack_dir, unpack
from evolarium.errors import ConfigError, HostError
from evolarium.evolve.evaluation import EvaluationDropped
from evolarium.evolve.executor import EvaluationJob
from evolarium.llm.budget import (
    Budget,
    BudgetExceededError,
    BudgetLedger,
    BudgetMeter,
    Reservation,
    Spending,
)
from evolarium.llm.calls import CallContext, CallRecord
from evolarium.llm.gateway import Gateway
from evolarium.llm.recording import to_row
from evolarium.llm.router import ModelConfig
from evolarium.llm.routing import Routes
from evolarium.llm.slots import RemoteLimits, SlotLedger
from evolarium.sandbox import Limits

log = logging.getLogger(__name__)

SLOT_RESOURCE = "sandbox_slots"
SLOTS_PER_EVALUATION = 2
"""One slot for the agent container and one for the scoring container that warms up
while the agent runs."""
MAX_RETRIES = 3
"""Ray retries of an evaluation whose worker or node died."""
INSTALL_HINT = "pip install 'evolarium[ray]'"
REAP_ATTEMPTS = 5
LEASE_MARGIN_S = 30.0
"""Seconds a slot lease outlasts the longest request timeout, after which it ends by itself."""
CONNECT_TIMEOUT_S = 5
"""Seconds to wait for a TCP connection to a Ray head node before giving up."""


def import_ray() -> Any:
    """Import and return the ray module; raise ConfigError naming the extra when missing."""
    try:
        import ray
    except ImportError as error:
        raise ConfigError(
            f"--executor ray needs Ray, which is not installed; install it with: {INSTALL_HINT}"
        ) from error
    return ray


@dataclass(frozen=True)
class NodeRequest:
    """The inputs of one evaluation on a node, apart from the code archives."""

    run_id: str
    agent_id: str
    task: Any
    """The loop's Task; its root is replaced by the unpacked task directory on the node."""
    stage: str
    image: str
    model: ModelConfig
    """The run's default model; ``purposes`` and ``aliases`` route calls as on the loop."""
    purposes: dict[str, ModelConfig]
    aliases: dict[str, str]
    limits: Limits
    max_steps: int


@dataclass
class NodeResult:
    """An evaluation made on a node, with everything the loop stores for it."""

    evaluation: dict
    calls: list[CallRecord]
    snapshots: dict[str, bytes]
    node_id: str


class RemoteMeter:
    """A stand-in for a gateway's BudgetMeter that keeps its budget in the BudgetLedger actor."""

    def __init__(self, ledger: Any, budget: Budget) -> None:
        self.ledger = ledger
        self.budget = budget

    def reserve(self, context: CallContext) -> Reservation:
        answer = _ray().get(self.ledger.reserve.remote(context))
        if isinstance(answer, str):
            raise BudgetExceededError(answer)
        return answer

    charge = BudgetMeter.charge  # prices the call here, then settles it

    def settle(
        self, reservation: Reservation, prompt: int, completion: int, cost: float | None
    ) -> None:
        _ray().get(self.ledger.settle.remote(reservation, prompt, completion, cost))
        reservation.open = False

    def release(self, reservation: Reservation) -> None:
        _ray().get(self.ledger.release.remote(reservation))
        reservation.open = False

    def exhausted(self) -> str | None:
        return _ray().get(self.ledger.exhausted.remote())

    @property
    def run(self) -> Spending:
        return _ray().get(self.ledger.spending.remote())


def remote_limits(slots: Any, routes: Routes) -> RemoteLimits:
    """Return limits held by the ``slots`` actor, with leases as long as a request can take."""
    lease_s = routes.longest_timeout_s() + LEASE_MARGIN_S
    return RemoteLimits(slots, routes.limits.limited(), lease_s)


def _ray() -> Any:
    import ray

    return ray


class _CollectingArchive:
    """The part of Archive that Evaluator writes to, kept in memory on a node."""

    def __init__(self) -> None:
        self.calls: list[CallRecord] = []
        self.snapshots: dict[str, bytes] = {}
        self.rows: list[Evaluation] = []

    def record(self, call: CallRecord) -> None:
        self.calls.append(call)

    def add(self, row: Evaluation) -> None:
        self.rows.append(row)

    def store_snapshot(self, code_hash: str, data: bytes) -> None:
        self.snapshots[code_hash] = data

    def evaluation_call_totals(self, evaluation_id: str) -> tuple[int, int]:
        calls = [c for c in self.calls if c.context.evaluation_id == evaluation_id]
        tokens = sum(c.prompt_tokens + c.completion_tokens for c in calls)
        return len(calls), tokens


def evaluate_on_node(
    request: NodeRequest, agent_code: bytes, task_code: bytes, ledger: Any, slots: Any = None
) -> NodeResult:
    """Run one evaluation on this node's Docker daemon; the body of the Ray task.

    Before it starts, it removes evolarium containers whose owner process has ended,
    such as those of an attempt whose worker died. Its warm scoring container stays for
    the worker's next evaluation.
    """
    from evolarium.evolve.evaluation import Evaluator
    from evolarium.sandbox.image import image_exists
    from evolarium.sandbox.reaper import remove_orphans
    from evolarium.tasks.scorer import POOL_SIZE_ENV, close_scoring_pools, scoring_pool

    client = _node_client()
    if not image_exists(client, request.image):
        raise HostError(
            f"node {_node_id()} has no sandbox image {request.image}; install the run's "
            f"evolarium version on every node and run evolarium sandbox build there"
        )
    _reap(remove_orphans, client)

    collector = _CollectingArchive()
    routes = Routes(request.model, request.purposes, request.aliases)
    if slots is not None:
        routes.limits = remote_limits(slots, routes)
    gateway = Gateway(routes, recorder=collector.record)
    gateway.meter = RemoteMeter(ledger, Budget())
    # One warm scoring container per worker process: the task's second sandbox slot. The
    # pool outlives the task, so the container that replaces a used one is warm for this
    # worker's next evaluation of the run. The run's end removes it with the run's other
    # containers, and an idle one ends by itself (scorer.pool_idle_s).
    # NOTE: an idle worker's warm container uses no slot. Ray reuses idle workers first,
    # so a node's containers stay within its slots unless Ray starts more workers.
    os.environ[POOL_SIZE_ENV] = "1"
    close_scoring_pools(keep_run=request.run_id)
    scoring_pool(client, request.image, request.run_id, request.limits)

    with tempfile.TemporaryDirectory(prefix="evolarium-ray-") as scratch:
        agent_dir = Path(scratch) / "agent"
        unpack(agent_code, agent_dir)
        task_root = Path(scratch) / "task"
        unpack(task_code, task_root)
        task = replace(request.task, root=task_root)
        evaluator = Evaluator(
            client=client,
            image=request.image,
            gateway=gateway,
            archive=collector,
            run_id=request.run_id,
            limits=request.limits,
            max_steps=request.max_steps,
        )
        row = evaluator.evaluate(request.agent_id, agent_dir, task, request.stage)

    return NodeResult(
        evaluation=row.model_dump(),
        calls=collector.calls,
        snapshots=collector.snapshots,
        node_id=_node_id(),
    )


_client: Any = None
_client_lock = threading.Lock()


def _node_client() -> Any:
    """Return this worker process's Docker client, made once, so its scoring pool is reused."""
    global _client
    from evolarium.sandbox import docker_client

    with _client_lock:
        if _client is None:
            _client = docker_client()
        return _client


def reap_run_on_node(run_id: str) -> int:
    """Remove every container of ``run_id`` on this node; return how many were removed.

    The worker that runs this may hold a warm scoring pool of the run, so that pool is
    closed first and does not start a container for the one removed under it.
    """
    from evolarium.sandbox import docker_client
    from evolarium.sandbox.reaper import remove_containers
    from evolarium.tasks.scorer import close_scoring_pools

    close_scoring_pools(run_id)
    return _reap(remove_containers, docker_client(), run_id)


def _reap(remove: Any, client: Any, *args: str) -> int:
    """Call a reaper function, again when a container vanished while it was listing them.

    docker-py lists containers and then inspects each one, so a container that is
    removed in between (an auto-removed scoring container) raises NotFound.
    """
    import docker.errors

    for _ in range(REAP_ATTEMPTS - 1):
        try:
            return remove(client, *args)
        except docker.errors.NotFound as error:
            log.info("a container vanished while listing containers, listing again: %s", error)
    return remove(client, *args)


def _node_id() -> str:
    return _ray().get_runtime_context().get_node_id()


def check_ray_address(address: str) -> None:
    """Fail early when nothing listens at a HOST:PORT cluster address (ray.init retries forever).

    Other forms ("auto", "ray://...", "local") are left to Ray.
    """
    host, separator, port = address.rpartition(":")
    if not separator or not port.isdigit() or "/" in address or not host:
        return
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise ConfigError(
            f"cannot connect to the Ray cluster at --ray-address {address}: {error}; start its "
            f"head node (ray start --head) or fix the address"
        ) from error


class RayExecutor:
    """Runs each evaluation as a Ray task and stores its result in the loop's archive.

    It connects to ``address`` (or RAY_ADDRESS). With neither, it starts a Ray
    instance on this machine with ``local_slots`` sandbox slots. While it is open,
    the loop's gateway charges the run's BudgetLedger actor too, so the loop and
    every node see one budget. ``close`` gives the gateway a local meter again.
    """

    def __init__(
        self,
        *,
        archive: Archive,
        gateway: Gateway,
        run_id: str,
        image: str,
        limits: Limits,
        max_steps: int,
        model: ModelConfig,
        purposes: dict[str, ModelConfig] | None = None,
        aliases: dict[str, str] | None = None,
        address: str | None = None,
        local_slots: int = SLOTS_PER_EVALUATION,
    ) -> None:
        self.ray = import_ray()
        self.model = model
        self.purposes = dict(purposes or {})
        self.aliases = dict(aliases or {})
        self.archive = archive
        self.gateway = gateway
        self.run_id = run_id
        self.image = image
        self.limits = limits
        self.max_steps = max_steps
        self._owns_ray = self._connect(address, local_slots)
        self._check_slots()
        self._objects: dict[str, Any] = {}
        self._objects_lock = threading.Lock()
        self._ledger = self._start_ledger(gateway.meter, gateway.routes)
        self._local_meter = gateway.meter
        gateway.meter = RemoteMeter(self._ledger, gateway.meter.budget)
        self._local_limits = gateway.routes.limits
        self._slots = self._start_slots(gateway.routes)
        if self._slots is not None:
            gateway.routes.limits = remote_limits(self._slots, gateway.routes)
        self._remote = self.ray.remote(evaluate_on_node).options(
            num_cpus=0,
            resources={SLOT_RESOURCE: SLOTS_PER_EVALUATION},
            max_retries=MAX_RETRIES,
        )
        self._closed = False
        self._dropping = threading.Event()

    def _connect(self, address: str | None, local_slots: int) -> bool:
        """Connect to the cluster; return whether this executor started Ray itself."""
        ray = self.ray
        if ray.is_initialized():
            return False
        address = address or os.environ.get("RAY_ADDRESS") or None
        if address:
            check_ray_address(address)
            log.info("connecting to the Ray cluster at %s", address)
            ray.init(address=address, logging_level=logging.WARNING)
        else:
            log.info("starting a Ray instance on this machine with %d sandbox slots", local_slots)
            ray.init(
                resources={SLOT_RESOURCE: local_slots},
                include_dashboard=False,
                logging_level=logging.WARNING,
            )
        return True

    def _check_slots(self) -> None:
        slots = self.ray.cluster_resources().get(SLOT_RESOURCE, 0)
        if slots >= SLOTS_PER_EVALUATION:
            return
        raise ConfigError(
            f"the Ray cluster declares {slots:g} {SLOT_RESOURCE}, and each evaluation needs "
            f"{SLOTS_PER_EVALUATION}; start its nodes with "
            f"ray start --resources '{{\"{SLOT_RESOURCE}\": 4}}'"
        )

    def _start_slots(self, routes: Routes) -> Any:
        """Start the actor of the run's concurrency limits, or return None without limits."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        limits = routes.limits.limited()
        if not limits:
            return None
        driver_node = self.ray.get_runtime_context().get_node_id()
        actor = self.ray.remote(SlotLedger).options(
            num_cpus=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(driver_node, soft=False),
        )
        return actor.remote(limits)

    def _start_ledger(self, meter: BudgetMeter, routes: Routes) -> Any:
        """Start the budget actor on this process's node, from the loop's spending so far.

        A reservation lasts as long as a request can take, so that one of a worker that
        died while its call was in flight ends by itself.
        """
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        driver_node = self.ray.get_runtime_context().get_node_id()
        actor = self.ray.remote(BudgetLedger).options(
            num_cpus=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(driver_node, soft=False),
        )
        lease_s = routes.longest_timeout_s() + LEASE_MARGIN_S
        return actor.remote(meter.budget, meter.run, lease_s)

    def evaluate(self, job: EvaluationJob) -> Evaluation:
        request = NodeRequest(
            run_id=self.run_id,
            agent_id=job.agent_id,
            task=job.task,
            stage=job.stage,
            image=self.image,
            model=self.model,
            purposes=self.purposes,
            aliases=self.aliases,
            limits=self.limits,
            max_steps=self.max_steps,
        )
        agent_code = self._object_for(job.code_hash, job.agent_dir)
        task_code = self._object_for(f"task:{job.task.root}", job.task.root)
        try:
            result = self.ray.get(
                self._remote.remote(request, agent_code, task_code, self._ledger, self._slots)
            )
        except self.ray.exceptions.RayTaskError as error:
            raise error.as_instanceof_cause() from None
        except self.ray.exceptions.RayError as error:
            raise HostError(
                f"the evaluation of {job.agent_id} on {job.task.id} failed on the Ray cluster "
                f"after {MAX_RETRIES} retries: {error}; check the nodes (ray status) and "
                f"resume the run"
            ) from error
        return self._store(result)

    def _object_for(self, key: str, directory: Path) -> Any:
        """Return the object ref of a directory's gzip tar, packed and put once per key.

        The key of agent code is its content hash. A task directory is keyed by its path,
        because the loop never changes a task's files during a run.
        """
        with self._objects_lock:
            ref = self._objects.get(key)
            if ref is None:
                _, data = pack_dir(directory)
                ref = self.ray.put(data)
                self._objects[key] = ref
        return ref

    def drop_running(self) -> None:
        self._dropping.set()

    def _store(self, result: NodeResult) -> Evaluation:
        """Store the calls, the workspace snapshot and then the evaluation, as Evaluator does."""
        if self._dropping.is_set():
            agent_id = result.evaluation.get("agent_id")
            raise EvaluationDropped(f"the run stopped during the evaluation of {agent_id}")
        for call in result.calls:
            self.archive.add(to_row(call))
        for code_hash, data in result.snapshots.items():
            self.archive.store_snapshot(code_hash, data)
        row = Evaluation(**result.evaluation)
        self.archive.add(row)
        log.debug("stored evaluation %s from node %s", row.id, result.node_id)
        return row

    def close(self) -> None:
        """Remove the run's containers on every node, stop the budget actor, and disconnect."""
        if self._closed:
            return
        self._closed = True
        spending = self.gateway.meter.run
        self.gateway.meter = self._local_meter
        self._local_meter.run = spending
        self.gateway.routes.limits = self._local_limits
        self._reap_nodes()
        self.ray.kill(self._ledger)
        if self._slots is not None:
            self.ray.kill(self._slots)
        if self._owns_ray:
            self.ray.shutdown()

    def _reap_nodes(self) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        reap = self.ray.remote(reap_run_on_node)
        refs = []
        for node in self.ray.nodes():
            if not node.get("Alive") or SLOT_RESOURCE not in node.get("Resources", {}):
                continue
            strategy = NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
            refs.append(reap.options(num_cpus=0, scheduling_strategy=strategy).remote(self.run_id))
        try:
            removed = sum(self.ray.get(refs, timeout=120))
        except self.ray.exceptions.RayError as error:
            log.warning(
                "cannot remove the containers of run %s on every node: %s", self.run_id, error
            )
            return
        if removed:
            log.info("removed %d containers of run %s on the Ray nodes", removed, self.run_id)
