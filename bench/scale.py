"""Evaluations per minute with the local executor and with Ray, on the same jobs.

Each round starts the same run twice: the seed agent on the first N built-in tasks
(``--generations 0``), once with ``executor = "local"`` and once with
``executor = "ray"``, at the same number of workers. Model calls go to the loopback
fake provider of the tests (tests/fakeprovider.py), which returns each task's
reference solution, so every evaluation makes the same calls and the same files.

Ray runs on this machine: by default one node with ``2 x workers`` sandbox slots
(each evaluation takes 2), or ``--nodes N`` nodes of 2 slots each started with
``ray.cluster_utils.Cluster``. Ray is started before the timing, so its start-up
(seconds) is not counted. A first run of each executor is timed apart: Ray starts
its worker processes then, once per cluster, and keeps them for later runs. The
script prints that first run, evaluations per minute of each executor in the later
rounds, the Ray overhead per evaluation, and the ratio against the target.

Run from the repository root: python bench/scale.py [--tasks 6] [--workers 2] [--rounds 2]
(needs Docker, the sandbox image and the ray extra)
"""

import argparse
import io
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evolarium.evolve.config import RunConfig  # noqa: E402
from evolarium.evolve.ray_executor import SLOT_RESOURCE, SLOTS_PER_EVALUATION  # noqa: E402
from evolarium.evolve.session import start_evolution  # noqa: E402
from evolarium.llm.router import ModelConfig  # noqa: E402
from evolarium.sandbox import Limits  # noqa: E402
from evolarium.tasks import load_suite  # noqa: E402
from tests.fakeprovider import FakeProvider  # noqa: E402
from tests.test_evolution import scripted_model  # noqa: E402

TARGET_SLOWDOWN = 1.10
"""Ray may take at most 10% longer than the local pool for the same jobs on one machine."""


def timed_run(executor: str, fake: FakeProvider, tasks: int, workers: int) -> float:
    """Run the seed agent on ``tasks`` tasks with ``executor``; return the wall seconds."""
    config = RunConfig(
        suite="builtin",
        tasks=tasks,
        generations=0,
        workers=workers,
        model=ModelConfig(model="openai/fake", api_base=fake.url, api_key="bench"),
        agent_steps=2,
        agent_limits=Limits(timeout_s=120),
        executor=executor,
    )
    started = time.perf_counter()
    start_evolution(config, Console(file=io.StringIO()))
    return time.perf_counter() - started


def start_ray(nodes: int, workers: int):
    """Start Ray on this machine and connect to it; return the Cluster, or None for one node."""
    import ray

    if nodes == 1:
        ray.init(
            resources={SLOT_RESOURCE: SLOTS_PER_EVALUATION * workers},
            include_dashboard=False,
            logging_level=logging.WARNING,
        )
        return None

    from ray.cluster_utils import Cluster

    node_args = {
        "num_cpus": 1,
        "resources": {SLOT_RESOURCE: SLOTS_PER_EVALUATION},
        "object_store_memory": 100 * 1024 * 1024,
    }
    cluster = Cluster(
        initialize_head=True, head_node_args={**node_args, "include_dashboard": False}
    )
    for _ in range(nodes - 1):
        cluster.add_node(**node_args)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, logging_level=logging.WARNING)
    return cluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=6, help="built-in tasks per run")
    parser.add_argument("--workers", type=int, default=2, help="evaluations at the same time")
    parser.add_argument("--rounds", type=int, default=2, help="local-then-ray rounds")
    parser.add_argument("--nodes", type=int, default=1, help="Ray nodes on this machine")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ["EVOLARIUM_HOME"] = tempfile.mkdtemp(prefix="evolarium-bench-scale-")

    import ray

    tasks = list(load_suite("builtin").tasks[: args.tasks])
    cluster = start_ray(args.nodes, args.workers)
    seconds: dict[str, list[float]] = {"local": [], "ray": []}
    first: dict[str, float] = {}
    runs = args.rounds + 1
    try:
        with FakeProvider([scripted_model(tasks)] * (4 * args.tasks * runs)) as fake:
            for executor in ("local", "ray"):
                first[executor] = timed_run(executor, fake, args.tasks, args.workers)
            for _ in range(args.rounds):
                for executor in ("local", "ray"):
                    seconds[executor].append(timed_run(executor, fake, args.tasks, args.workers))
    finally:
        ray.shutdown()
        if cluster is not None:
            cluster.shutdown()

    report(seconds, first, args)


def report(seconds: dict[str, list[float]], first: dict[str, float], args) -> None:
    print(
        f"{args.tasks} evaluations per run, {args.workers} workers, {args.rounds} rounds, "
        f"Ray on {args.nodes} local node(s), {os.cpu_count()} CPUs"
    )
    print(
        f"first runs, not in the medians: local {first['local']:.1f} s, ray {first['ray']:.1f} s "
        f"(Ray starts its worker processes, which import evolarium and litellm, once)"
    )
    print(f"{'executor':<10}{'seconds per run':>18}{'evaluations/min':>18}")
    medians = {}
    for executor, values in seconds.items():
        medians[executor] = statistics.median(values)
        rate = 60.0 * args.tasks / medians[executor]
        shown = ", ".join(f"{value:.1f}" for value in values)
        print(f"{executor:<10}{shown:>18}{rate:>18.1f}")
    overhead = (medians["ray"] - medians["local"]) / args.tasks
    ratio = medians["ray"] / medians["local"]
    verdict = "met" if ratio <= TARGET_SLOWDOWN else "missed"
    print(f"Ray overhead per evaluation: {overhead:+.2f} s (median run times)")
    print(f"ray/local time: {ratio:.2f} (target at most {TARGET_SLOWDOWN:.2f}: {verdict})")


if __name__ == "__main__":
    main()
