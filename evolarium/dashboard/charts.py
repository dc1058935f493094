"""The data behind the export's charts, shared by the HTML page and the PNG plots."""

import math
from dataclasses import dataclass, field
from datetime import datetime

from evolarium.archive import Agent, ModelCall
from evolarium.dashboard.summary import RunScores, seconds_between


@dataclass(frozen=True)
class ScorePoint:
    """One evaluated agent on the score-over-generations chart."""

    agent_id: str
    generation: int
    score: float
    frontier: bool
    tampering: bool


@dataclass(frozen=True)
class ScoreSeries:
    """Mean scores by generation, the best mean up to each generation, and invalid agents."""

    points: list[ScorePoint]
    best: list[tuple[int, float]]
    """(generation, highest mean of any agent in that generation or before)"""
    invalid: list[tuple[int, str]]
    """(generation, agent id) of each invalid agent; it has no score"""
    generations: int
    """The highest generation in the run."""


@dataclass(frozen=True)
class CostSeries:
    """Cumulative known cost and tokens of a run's calls over the minutes since it started."""

    minutes: list[float] = field(default_factory=list)
    dollars: list[float] = field(default_factory=list)
    """Sum of the known prices up to each call."""
    tokens: list[int] = field(default_factory=list)
    unpriced_calls: int = 0

    @property
    def priced(self) -> bool:
        """Whether any call has a known price, so the cost curve means something."""
        return len(self.minutes) > self.unpriced_calls


def score_series(agents: list[Agent], scores: RunScores) -> ScoreSeries:
    points = [
        ScorePoint(
            agent_id=agent.id,
            generation=agent.generation,
            score=scores.means[agent.id],
            frontier=agent.id in scores.frontier,
            tampering=agent.id in scores.tampered,
        )
        for agent in agents
        if agent.id in scores.means
    ]
    invalid = [(agent.generation, agent.id) for agent in agents if agent.status == "invalid"]
    generations = max((agent.generation for agent in agents), default=0)

    best: list[tuple[int, float]] = []
    running: float | None = None
    for generation in range(generations + 1):
        in_generation = [point.score for point in points if point.generation == generation]
        if in_generation:
            best_here = max(in_generation)
            running = best_here if running is None else max(running, best_here)
        if running is not None:
            best.append((generation, running))
    return ScoreSeries(points=points, best=best, invalid=invalid, generations=generations)


def cost_series(calls: list[ModelCall], start: datetime) -> CostSeries:
    """Accumulate cost and tokens in call order; ``start`` is the run's creation time."""
    minutes: list[float] = []
    dollars: list[float] = []
    tokens: list[int] = []
    unpriced = 0
    for call in sorted(calls, key=lambda call: (call.started_at, call.id or 0)):
        if call.cost_usd is None:
            unpriced += 1
        previous_dollars = dollars[-1] if dollars else 0.0
        previous_tokens = tokens[-1] if tokens else 0
        dollars.append(previous_dollars + (call.cost_usd or 0.0))
        tokens.append(previous_tokens + call.prompt_tokens + call.completion_tokens)
        minutes.append(max(0.0, seconds_between(start, call.started_at) / 60))
    return CostSeries(minutes=minutes, dollars=dollars, tokens=tokens, unpriced_calls=unpriced)


def nice_ticks(top: float, count: int = 5) -> tuple[list[float], int]:
    """Return tick values from 0 past ``top`` in steps of 1, 2, 2.5 or 5 times a power of ten,
    about ``count`` of them, and the number of decimals that shows every step exactly."""
    if top <= 0:
        return [0.0, 1.0], 0
    raw = top / max(1, count - 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    multiple = next(m for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if multiple == 10:
        magnitude, multiple = magnitude * 10, 1
    step = multiple * magnitude
    decimals = max(0, -math.floor(math.log10(magnitude)) + (1 if multiple == 2.5 else 0))
    last = math.ceil(top / step - 1e-9)
    return [round(index * step, decimals) for index in range(last + 1)], decimals


def elapsed_axis(minutes: list[float]) -> tuple[list[float], str]:
    """Convert minutes since the start to the unit that suits the run's length, with a label."""
    end = minutes[-1] if minutes else 0.0
    if end < 2:
        return [value * 60 for value in minutes], "seconds since the run started"
    if end > 180:
        return [value / 60 for value in minutes], "hours since the run started"
    return list(minutes), "minutes since the run started"
