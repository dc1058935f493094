"""What every operator takes and returns.

An operator turns one or two parents into a child's code. The loop chooses the
operator (see ``portfolio``), gathers the inputs below and stores the returned
:class:`Child`, whose ``outcome`` names how the operator ended.
"""

import random
from dataclasses import dataclass, field
from pathlib import Path

import docker

from evolarium.archive import Agent, Evaluation
from evolarium.llm.gateway import CallContext, Gateway
from evolarium.sandbox import Limits

OPERATOR_PURPOSES = {"self": "operator", "reflect": "rewriter", "merge": "merger"}
"""The purpose of each operator's model calls: the model configured for it serves them."""

# Typed outcomes of an operator. Only OUTCOME_OK makes a child that goes on to validation.
OUTCOME_OK = "ok"
"""The operator produced code that differs from every parent."""
OUTCOME_NO_CHANGE = "no_change"
"""The code equals the parent's (or, for merge, one of the parents')."""
OUTCOME_NO_CODE = "no_code"
"""The model's reply held no code block or file to apply."""
OUTCOME_BROKEN_EDIT = "broken_edit"
"""The model's edit or diff did not apply to the parent's files."""
OUTCOME_TRUNCATED = "truncated"
"""The model's reply was cut off at its token limit."""
OUTCOME_NOT_UTF8 = "not_utf8"
"""The model's reply, or a file the operator wrote, is not valid UTF-8."""
OUTCOME_MERGE_CONFLICT = "merge_conflict"
"""A three-way merge left conflicts that the rewriter did not resolve."""
OUTCOME_AGENT_FAILED = "agent_failed"
"""The agent that did the rewriting timed out, crashed or hit a sandbox limit."""
OUTCOME_SANDBOX_ERROR = "sandbox_error"
"""The sandbox itself failed; the host, not the model, is to blame."""

OUTCOMES = (
    OUTCOME_OK,
    OUTCOME_NO_CHANGE,
    OUTCOME_NO_CODE,
    OUTCOME_BROKEN_EDIT,
    OUTCOME_TRUNCATED,
    OUTCOME_NOT_UTF8,
    OUTCOME_MERGE_CONFLICT,
    OUTCOME_AGENT_FAILED,
    OUTCOME_SANDBOX_ERROR,
)


@dataclass
class Parent:
    """One parent as an operator sees it."""

    agent: Agent
    code_dir: Path
    """A host directory with the parent's code; operators must not change it."""
    evaluations: list[Evaluation]
    """Every stored evaluation of the parent, in the order the loop chose (worst first)."""


@dataclass
class OperatorInput:
    """Everything an operator needs besides its parents."""

    client: docker.DockerClient
    image: str
    gateway: Gateway
    context: CallContext
    """Context of the operator's model calls: run, child id, purpose ``operator``."""
    limits: Limits
    max_steps: int
    rng: random.Random
    """The only source of randomness an operator may use, so a resumed run repeats it."""
    dest: Path
    """The directory for the child's code, which does not exist yet."""
    minibatch: int = 3
    """For reflect: the number of the parent's evaluations shown to the rewriter."""


@dataclass
class Child:
    """Code made by an operator, before validation."""

    code_dir: Path
    code_hash: str
    diff: str
    """Unified diff against the first parent."""
    log: str
    """A record of the operator's run, with the raw model replies that decided its outcome."""
    outcome: str
    """One of OUTCOMES."""
    detail: str = ""
    """The concrete failure behind an outcome other than ok, quoted to people."""
    attempts: int = 1
    """Model attempts the operator made, retries included."""
    extra: dict = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.outcome == OUTCOME_OK
