"""Runs with ``--executor ray`` on a local two-node Ray cluster, real Docker and SQLite.

Model calls go to the loopback fake provider (tests/fakeprovider.py) with the
``scripted_model`` replies of tests/test_evolution.py: each task gets its reference
solution and each child a small edit of its parent's code. Both nodes of the cluster
run on this machine and share its Docker daemon. Each declares 2 sandbox slots, so
each runs one evaluation at a time.
"""

import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
import ray

from evolarium.evolve.config import RunConfig
from evolarium.evolve.ray_executor import SLOT_RESOURCE, RemoteMeter
from evolarium.llm.budget import Budget, BudgetExceededError, BudgetLedger, Spending
from evolarium.llm.calls import CallContext
from evolarium.llm.gateway import Gateway
from evolarium.llm.router import ModelConfig, Router
from evolarium.sandbox import Limits
from evolarium.sandbox.profile import PID_LABEL
from evolarium.tasks import load_suite
from tests.conftest import evolarium_containers
from tests.fakeprovider import FakeProvider
from tests.test_evolution import run_and_open, scripted_model
from tests.test_routing import InFlightGauge

pytestmark = [pytest.mark.docker, pytest.mark.ray]

TASK_COUNT = 2
NODE_ARGS = {
    "num_cpus": 1,
    "resources": {SLOT_RESOURCE: 2},
    "object_store_memory": 100 * 1024 * 1024,
}


@pytest.fixture(scope="module")
def ray_cluster():
    """A head and one worker node, shared by the module's tests because Ray starts slowly."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True, head_node_args={**NODE_ARGS, "include_dashboard": False}
    )
    worker = cluster.add_node(**NODE_ARGS)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address)
    try:
        yield cluster, worker
    finally:
        ray.shutdown()
        cluster.shutdown()


def ray_config(fake: FakeProvider, address: str) -> RunConfig:
    return RunConfig(
        suite="builtin",
        tasks=TASK_COUNT,
        generations=1,
        workers=2,
        model=ModelConfig(model="openai/fake", api_base=fake.url, api_key="test"),
        agent_steps=2,
        agent_limits=Limits(timeout_s=120),
        executor="ray",
        ray_address=address,
    )


def check_stored_once(archive, run_id: str) -> list:
    """Check that each agent has one evaluation per task, each with its calls stored."""
    evaluations = archive.evaluations(run_id)
    keys = Counter((e.agent_id, e.task_id) for e in evaluations)
    assert all(count == 1 for count in keys.values()), keys
    assert len({e.id for e in evaluations}) == len(evaluations)

    calls = archive.calls(run_id)
    for evaluation in evaluations:
        stored = [call for call in calls if call.evaluation_id == evaluation.id]
        assert evaluation.calls >= 1, evaluation.transcript
        assert len(stored) == evaluation.calls
        assert evaluation.workspace_hash is not None
        assert archive.snapshot(evaluation.workspace_hash) is not None
    return evaluations


def test_ray_run_stores_each_evaluation_once(ray_cluster, docker_client, sandbox_image):
    cluster, _ = ray_cluster
    tasks = list(load_suite("builtin").tasks[:TASK_COUNT])
    with FakeProvider([scripted_model(tasks)] * 100) as fake:
        run_id, archive = run_and_open(ray_config(fake, cluster.address))

    agents = archive.agents(run_id)
    assert len(agents) == 2
    evaluations = check_stored_once(archive, run_id)
    assert len(evaluations) == TASK_COUNT * len(agents)
    for evaluation in evaluations:
        assert evaluation.score == 1.0, evaluation.test_output
    assert {call.purpose for call in archive.calls(run_id)} >= {"agent", "operator"}
    assert archive.run(run_id).status == "finished"
    assert evolarium_containers(docker_client, run_id) == []


def test_ray_node_removed_mid_run(ray_cluster, docker_client, sandbox_image):
    """Kill the worker node while one of its evaluations runs; Ray retries it on the head."""
    cluster, worker = ray_cluster
    raylet_pid = worker.all_processes["raylet"][0].process.pid
    removed = threading.Event()
    done = threading.Event()

    def remove_worker_when_busy() -> None:
        while not done.is_set():
            for container in evolarium_containers(docker_client):
                owner = container.labels.get(PID_LABEL, "")
                if owner.isdigit() and descends_from(int(owner), raylet_pid):
                    cluster.remove_node(worker, allow_graceful=False)
                    removed.set()
                    return
            time.sleep(0.2)

    tasks = list(load_suite("builtin").tasks[:TASK_COUNT])
    watcher = threading.Thread(target=remove_worker_when_busy, daemon=True)
    with FakeProvider([scripted_model(tasks)] * 100) as fake:
        watcher.start()
        try:
            run_id, archive = run_and_open(ray_config(fake, cluster.address))
        finally:
            done.set()
            watcher.join()
            # The next tests share the cluster and need its second node back.
            cluster.add_node(**NODE_ARGS)
            cluster.wait_for_nodes()

    assert removed.is_set(), "no evaluation ran on the worker node"
    agents = archive.agents(run_id)
    evaluations = check_stored_once(archive, run_id)
    assert len(evaluations) == TASK_COUNT * len(agents)
    assert all(e.outcome != "sandbox_error" for e in evaluations)
    assert archive.run(run_id).status == "finished"
    assert evolarium_containers(docker_client, run_id) == []


def descends_from(pid: int, ancestor: int) -> bool:
    """Return whether process ``pid`` is ``ancestor`` or one of its descendants (Linux)."""
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return False


def test_ray_max_concurrent_counts_whole_cluster(ray_cluster, docker_client, sandbox_image):
    """With max_concurrent = 1, evaluations on two nodes never call the model at once."""
    cluster, _ = ray_cluster
    raylets = [node.all_processes["raylet"][0].process.pid for node in cluster.list_all_nodes()]
    assert len(raylets) == 2
    tasks = list(load_suite("builtin").tasks[:TASK_COUNT])
    gauge = InFlightGauge(hold_s=0.5, reply=scripted_model(tasks))
    with FakeProvider([gauge] * 100) as fake, NodeWatcher(docker_client, raylets) as watcher:
        config = ray_config(fake, cluster.address)
        config = replace(config, model=replace(config.model, max_concurrent=1))
        run_id, archive = run_and_open(config)

    assert watcher.seen == set(raylets), "the evaluations did not run on both nodes"
    evaluations = check_stored_once(archive, run_id)
    assert len(evaluations) == TASK_COUNT * 2
    for evaluation in evaluations:
        assert evaluation.score == 1.0, evaluation.test_output
    assert gauge.max_in_flight == 1
    assert archive.run(run_id).status == "finished"
    assert evolarium_containers(docker_client, run_id) == []


class NodeWatcher:
    """A record of which given raylets started the evaluation containers found while it runs."""

    def __init__(self, docker_client, raylets: list[int]) -> None:
        self.docker_client = docker_client
        self.raylets = raylets
        self.seen: set[int] = set()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> "NodeWatcher":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._done.is_set():
            for container in evolarium_containers(self.docker_client):
                owner = container.labels.get(PID_LABEL, "")
                if owner.isdigit():
                    self.seen.update(r for r in self.raylets if descends_from(int(owner), r))
            time.sleep(0.2)


def test_ray_budget_ledger_keeps_call_limit(ray_cluster):
    """Gateways that share the budget actor keep --max-calls with 12 calls sent at once."""
    ledger = ray.remote(BudgetLedger).remote(Budget(calls=3), Spending(), 60.0)
    gauge = InFlightGauge(hold_s=1.0)
    refused: list[BudgetExceededError] = []

    with FakeProvider([gauge] * 12) as fake:
        config = ModelConfig(model="openai/fake", api_base=fake.url, api_key="test")
        gateways = [Gateway(Router(config)) for _ in range(2)]
        for gateway in gateways:
            gateway.meter = RemoteMeter(ledger, Budget())
        start = threading.Barrier(12)

        def call(index: int) -> None:
            context = CallContext(run_id="run-ray", agent_id="a", evaluation_id=f"e{index}")
            start.wait()
            try:
                gateways[index % 2].complete(
                    {"messages": [{"role": "user", "content": "hi"}]}, context
                )
            except BudgetExceededError as error:
                refused.append(error)

        threads = [threading.Thread(target=call, args=(index,)) for index in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        requests = len(fake.requests)

    assert requests == 3
    assert len(refused) == 9
    assert ray.get(ledger.spending.remote()).calls == 3
    ray.kill(ledger)
