"""Time scoring the canonical solutions of 20 HumanEval tasks three ways, side by side.

(a) bare: ``python -m pytest`` in a host subprocess, no isolation (the lower bound);
(b) naive: one ``docker run --rm`` per evaluation through the Docker CLI;
(c) evolarium: ``score_workspace``, a fresh hardened container per evaluation, taken
    from a warm pool. Two numbers:
    warm: the pool holds one started container per evaluation, made before timing
    starts. This is what an evaluation sees in a run, where the pool refills while
    the agent works.
    sustained: the default pool, refilled while the evaluations run back to back, so
    container start-up is paid inside the timing.

Each way runs at 1 and at 2 concurrent evaluations, and the script prints the
seconds per evaluation and the ratios (c)/(a) and (b)/(c). It also prints the
host process's peak memory before and after a sandbox writes 2 GB of output.

Run: python bench/sandbox.py [--tasks 20]   (needs Docker and the sandbox image)
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from evolarium.sandbox import Limits, docker_client, open_sandbox, require_image
from evolarium.tasks import load_suite
from evolarium.tasks.scorer import (
    DEFAULT_POOL_SIZE,
    POOL_SIZE_ENV,
    close_scoring_pools,
    score_workspace,
    scoring_pool,
)


def stage(task, root: Path) -> Path:
    """Copy a task's reference solution and hidden tests into ``root``."""
    shutil.copytree(task.workspace, root / "ws")
    shutil.copytree(task.reference, root / "ws", dirs_exist_ok=True)
    shutil.copytree(task.tests, root / "tests")
    for path in [root, *root.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


def run_bare(root: Path) -> bool:
    env = dict(os.environ, PYTHONPATH=str(root / "ws"))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")]
    result = subprocess.run(command, cwd=root, env=env, capture_output=True)
    return result.returncode == 0


def run_naive(root: Path, image: str) -> bool:
    script = (
        "cp -r /input/ws /tmp/ws && cd /tmp && PYTHONPATH=/tmp/ws "
        "python3 -m pytest -q -p no:cacheprovider /input/tests"
    )
    command = [
        "docker",
        "run",
        "--rm",
        "--network",
        "none",
        "--tmpfs",
        "/tmp:exec",
        "-v",
        f"{root}:/input:ro",
        image,
        "sh",
        "-c",
        script,
    ]
    return subprocess.run(command, capture_output=True).returncode == 0


def run_evolarium(task, root: Path, client, image: str) -> bool:
    return score_workspace(client, image, task, root / "ws", run_id="bench").resolved


def timed_evolarium(staged: list, client, image: str, workers: int, pool_size: int) -> float:
    """Time evolarium's scorer with a pool of ``pool_size`` containers, full when timing starts."""
    os.environ[POOL_SIZE_ENV] = str(pool_size)
    close_scoring_pools()
    pool = scoring_pool(client, image, "bench", Limits(timeout_s=60))
    pool.wait_ready(120)
    if pool_size >= len(staged):
        # Each evaluation finds a warm container; none is started while timing.
        pool.stop_filling()
    seconds = timed(
        "evolarium",
        lambda item: run_evolarium(item[0], item[1], client, image),
        staged,
        workers,
    )
    close_scoring_pools()
    return seconds


def timed(label: str, function, items: list, workers: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(function, items))
    elapsed = time.perf_counter() - started
    if not all(results):
        print(f"  {label}: {results.count(False)} of {len(results)} evaluations failed")
    return elapsed / len(items)


def peak_memory_during_output(client, image: str) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    code = (
        "import sys\n"
        "chunk = b'z' * (1 << 20)\n"
        "for _ in range(2048):\n"
        "    sys.stdout.buffer.write(chunk)\n"
    )
    with open_sandbox(
        client, image, run_id="bench", purpose="bench", mounts=[], limits=Limits(timeout_s=300)
    ) as sandbox:
        result = sandbox.exec(["python3", "-c", code], workdir="/tmp")
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"2 GB of output: {result.output_bytes / 1e9:.2f} GB read, {len(result.output)} kept")
    return before, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20, help="HumanEval tasks to score")
    args = parser.parse_args()

    client = docker_client()
    image = require_image(client)
    tasks = list(load_suite("humaneval").tasks[: args.tasks])
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        staged = [(task, stage(task, Path(tmp) / task.id)) for task in tasks]
        print(f"{len(tasks)} HumanEval canonical solutions, {os.cpu_count()} CPUs, {image}")
        print(
            f"{'workers':>7} {'bare s':>7} {'naive s':>8} {'warm s':>7} {'sustained s':>11} "
            f"{'warm/bare':>9} {'naive/warm':>10} {'sust/bare':>9} {'naive/sust':>10}"
        )
        for workers in (1, 2):
            bare = timed("bare", lambda item: run_bare(item[1]), staged, workers)
            naive = timed("naive", lambda item: run_naive(item[1], image), staged, workers)
            warm = timed_evolarium(staged, client, image, workers, pool_size=len(staged))
            sustained = timed_evolarium(
                staged, client, image, workers, pool_size=max(DEFAULT_POOL_SIZE, workers)
            )
            print(
                f"{workers:>7} {bare:>7.3f} {naive:>8.3f} {warm:>7.3f} {sustained:>11.3f} "
                f"{warm / bare:>9.2f} {naive / warm:>10.2f} {sustained / bare:>9.2f} "
                f"{naive / sustained:>10.2f}"
            )
    before, after = peak_memory_during_output(client, image)
    close_scoring_pools()
    print(f"host peak RSS: {before:.0f} MB before, {after:.0f} MB after the 2 GB of output")


if __name__ == "__main__":
    main()
