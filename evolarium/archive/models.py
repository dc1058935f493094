"""Archive tables: runs, agents, code snapshots, evaluations, model calls, events."""

from datetime import UTC, datetime

from sqlmodel import Field, SQLModel

SCHEMA_VERSION = 4


def utcnow() -> datetime:
    return datetime.now(UTC)


class Meta(SQLModel, table=True):
    """Key-value facts about the archive file itself, such as the schema version."""

    key: str = Field(primary_key=True)
    value: str


class Run(SQLModel, table=True):
    """One evolution: its configuration and status."""

    id: str = Field(primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    status: str = "running"
    """running | finished | stopped | failed"""
    suite: str
    model: str
    selection: str
    config_json: str
    """The resolved configuration, as JSON."""
    pid: int | None = None
    """Process id of the loop while the run is alive."""


class Agent(SQLModel, table=True):
    """One agent in the archive: the seed or a child made by an operator."""

    id: str = Field(primary_key=True)
    run_id: str = Field(foreign_key="run.id", index=True)
    parent_id: str | None = Field(default=None, foreign_key="agent.id", index=True)
    operator: str
    """seed | self | reflect | merge"""
    generation: int
    """Depth in the lineage: the parent's generation + 1, and 0 for the seed. The loop's
    iteration that made the agent is in the agent_added event."""
    status: str = "pending"
    """pending | evaluating | evaluated | invalid | duplicate (its code equals an earlier
    agent's, named in ``reason``, so it is not evaluated again)"""
    reason: str | None = None
    """The reason an agent is invalid."""
    code_hash: str = Field(index=True)
    created_at: datetime = Field(default_factory=utcnow)
    operator_log: str | None = None
    """Transcript of the operator run that made this agent."""
    diff: str | None = None
    """Unified diff against the parent's code."""
    step: int | None = None
    """The loop step that made the agent: 0 for the seed, then 1, 2, ... (schema 4)."""
    operator_outcome: str | None = None
    """The outcome of the operator that made the agent: ok, no_change, no_code, ... (schema 4)."""


class CodeSnapshot(SQLModel, table=True):
    """Content-addressed agent code: a gzip tar of the agent directory."""

    hash: str = Field(primary_key=True)
    size: int
    data: bytes


class Evaluation(SQLModel, table=True):
    """One agent run on one task, scored by hidden tests."""

    id: str = Field(primary_key=True)
    run_id: str = Field(foreign_key="run.id", index=True)
    agent_id: str = Field(foreign_key="agent.id", index=True)
    task_id: str = Field(index=True)
    stage: str
    """minibatch | full | replay (a live re-run by evolarium.evolve.replay)"""
    score: float
    """Fraction of hidden tests passed, in [0, 1]."""
    resolved: bool
    outcome: str
    """The end state of the evaluation: the agent run's outcome (ok | exit_error | timeout |
    oom | pids | disk | output_limit), or the scoring outcome when scoring did not end ok
    (tampering, collection_error, test_timeout, oom, pids, disk, output_limit, harness_error,
    inconsistent_results, sandbox_error)."""
    tests_passed: int
    tests_total: int
    duration_s: float
    calls: int
    tokens: int
    transcript: str
    test_output: str
    workspace_hash: str | None = None
    """Hash of the final workspace, stored as a code snapshot."""
    tampering: str | None = None
    """Findings of the scorer when the final workspace tried to game it (schema 2)."""
    created_at: datetime = Field(default_factory=utcnow)


class ModelCall(SQLModel, table=True):
    """One request to a language model through the gateway."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: str | None = Field(default=None, index=True)
    agent_id: str | None = Field(default=None, index=True)
    task_id: str | None = None
    evaluation_id: str | None = Field(default=None, index=True)
    purpose: str
    model: str
    requested_model: str | None = None
    request_json: str
    response_json: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    cost_usd: float | None = None
    """Dollars by litellm's price table; None when the model has no known price (schema 3)."""
    attempt: int = 1
    """The attempt number within one request: the gateway retries some failures (schema 3)."""
    request_key: str | None = Field(default=None, index=True)
    """sha256 of the request as the router sends it, the key that replay looks up
    (evolarium.llm.replay.request_key). None for a body rejected before routing (schema 3)."""
    outcome: str
    error: str | None = None
    started_at: datetime = Field(default_factory=utcnow)


class Event(SQLModel, table=True):
    """Something that happened during a run, for the log and the dashboard."""

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.id", index=True)
    time: datetime = Field(default_factory=utcnow)
    kind: str
    generation: int | None = None
    agent_id: str | None = None
    message: str
    data_json: str | None = None
