"""Time picking a parent from 10,000 agents x 200 tasks with the Pareto strategy, side by side.

(a) evolarium's ParetoSelection on the score matrix;
(b) the `gepa` package's select_program_candidate_from_pareto_front on the same
    scores, given the per-task fronts it keeps in its own state (building those
    fronts is not timed for gepa).

Three score distributions: continuous scores in [0, 1], scores on a 0.1 grid
(many ties), and binary pass/fail. Each prints milliseconds per pick and the
ratio (b)/(a). Targets: under 20 ms per pick and at least 10 times faster.

Run: python bench/selection.py [--agents 10000] [--tasks 200] [--picks 20]
(needs the dev extras: pip install -e '.[dev]')
"""

import argparse
import random
import signal
import time

import numpy as np
from gepa.gepa_utils import select_program_candidate_from_pareto_front

from evolarium.evolve.selection import ParetoSelection, ScoreMatrix

GEPA_LIMIT_S = 120


class TimedOut(Exception):
    pass


def score_matrix(kind: str, agents: int, tasks: int, seed: int) -> ScoreMatrix:
    generator = np.random.default_rng(seed)
    if kind == "continuous":
        scores = generator.random((agents, tasks))
    elif kind == "grid":
        scores = np.round(generator.random((agents, tasks)), 1)
    else:
        scores = (generator.random((agents, tasks)) < 0.3).astype(float)
    return ScoreMatrix(
        agent_ids=tuple(f"a{i}" for i in range(agents)),
        task_ids=tuple(f"t{j}" for j in range(tasks)),
        scores=scores,
        parents=np.full(agents, -1),
        children=np.zeros(agents, dtype=np.int64),
    )


def gepa_inputs(matrix: ScoreMatrix) -> tuple[dict[int, set[int]], list[float]]:
    best = matrix.scores.max(axis=0)
    fronts = {
        task: set(np.flatnonzero(matrix.scores[:, task] == best[task]).tolist())
        for task in range(matrix.scores.shape[1])
    }
    return fronts, matrix.means().tolist()


def time_ours(matrix: ScoreMatrix, picks: int) -> float:
    selection = ParetoSelection()
    rng = random.Random(0)
    started = time.perf_counter()
    for _ in range(picks):
        selection.pick(matrix, rng)
    return (time.perf_counter() - started) / picks


def time_gepa(matrix: ScoreMatrix, picks: int) -> float | None:
    fronts, means = gepa_inputs(matrix)
    rng = random.Random(0)

    def stop(_signum, _frame):
        raise TimedOut

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(GEPA_LIMIT_S)
    started = time.perf_counter()
    done = 0
    try:
        for _ in range(picks):
            select_program_candidate_from_pareto_front(fronts, means, rng)
            done += 1
    except TimedOut:
        pass
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    if done == 0:
        return None
    return (time.perf_counter() - started) / done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--picks", type=int, default=20, help="picks timed per strategy")
    args = parser.parse_args()

    print(f"{args.agents} agents x {args.tasks} tasks, {args.picks} picks each")
    print(f"{'scores':>11} {'evolarium ms':>13} {'gepa ms':>10} {'gepa/evolarium':>15}")
    for kind in ("continuous", "grid", "binary"):
        matrix = score_matrix(kind, args.agents, args.tasks, seed=1)
        ours = time_ours(matrix, args.picks)
        theirs = time_gepa(matrix, args.picks)
        if theirs is None:
            print(
                f"{kind:>11} {ours * 1000:>13.2f} {'>' + str(GEPA_LIMIT_S * 1000):>10} "
                f"{'> ' + format(GEPA_LIMIT_S / ours, '.0f'):>15}"
            )
        else:
            print(f"{kind:>11} {ours * 1000:>13.2f} {theirs * 1000:>10.1f} {theirs / ours:>15.1f}")


if __name__ == "__main__":
    main()
