"""Spending limits enforced at the gateway: per run and per evaluation.

The gateway checks a budget before each attempt and charges it after, so a
limit is passed by at most the calls that were in flight when it was crossed:
one call when calls come one at a time. A call
refused for the budget gets an OpenAI-style error (HTTP 429, type
``insufficient_quota``) that an agent in a sandbox can read, and the loop stops
the run once the run's budget is spent.
"""

import threading
from dataclasses import dataclass, field

from evolarium.errors import ConfigError
from evolarium.llm.calls import CallContext
from evolarium.llm.pricing import call_cost


class BudgetExceededError(Exception):
    """A call was refused because its run or evaluation has spent its budget."""


@dataclass(frozen=True)
class Budget:
    """Limits on model use; None means no limit."""

    dollars: float | None = None
    tokens: int | None = None
    calls: int | None = None
    evaluation_tokens: int | None = None
    evaluation_calls: int | None = None

    def check_prices(self, model: str) -> None:
        """Raise ConfigError if a dollar limit is set for a model without a known price."""
        if self.dollars is None or call_cost(model, 1, 1) is not None:
            return
        raise ConfigError(
            f"--max-dollars is set, but litellm has no price for model {model!r}, so its "
            f"cost is unknown and could not be limited; give its price (--set "
            f"model.input_cost_per_mtok=X --set model.output_cost_per_mtok=Y, in dollars per "
            f"million tokens), limit --max-total-tokens instead, or use a model that litellm "
            f"prices"
        )


@dataclass
class Spending:
    """Model use so far by a run or by one evaluation."""

    calls: int = 0
    tokens: int = 0
    dollars: float = 0.0
    unpriced_calls: int = 0
    """Calls whose cost is unknown: their dollars are not in ``dollars``."""


@dataclass
class BudgetMeter:
    """Charges calls to a run's and its evaluations' spending, and refuses calls over budget."""

    budget: Budget = field(default_factory=Budget)
    run: Spending = field(default_factory=Spending)
    evaluations: dict[str, Spending] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, context: CallContext) -> None:
        """Raise BudgetExceededError if the call's run or evaluation has no budget left."""
        # NOTE: a check reserves nothing, so calls sent at once all pass the same check,
        # and a --max-calls limit can be passed by the number of calls in flight.
        with self._lock:
            reason = self._run_exhausted() or self._evaluation_exhausted(context)
        if reason:
            raise BudgetExceededError(reason)

    def charge(
        self, context: CallContext, model: str, prompt: int, completion: int, *, free: bool = False
    ) -> None:
        """Add one attempt's tokens and cost (none if ``free``) to the run and its evaluation."""
        self.add(context, prompt, completion, 0.0 if free else call_cost(model, prompt, completion))

    def add(self, context: CallContext, prompt: int, completion: int, cost: float | None) -> None:
        """Add one attempt's tokens and its priced ``cost`` (None if unknown)."""
        with self._lock:
            targets = [self.run]
            if context.evaluation_id:
                targets.append(self.evaluations.setdefault(context.evaluation_id, Spending()))
            for spending in targets:
                spending.calls += 1
                spending.tokens += prompt + completion
                if cost is None:
                    spending.unpriced_calls += 1
                else:
                    spending.dollars += cost

    def exhausted(self) -> str | None:
        """Return why the run's budget is spent, or None while some is left."""
        with self._lock:
            return self._run_exhausted()

    def _run_exhausted(self) -> str | None:
        budget, run = self.budget, self.run
        if budget.calls is not None and run.calls >= budget.calls:
            return f"the run made {run.calls} model calls, its limit (--max-calls {budget.calls})"
        if budget.tokens is not None and run.tokens >= budget.tokens:
            return (
                f"the run used {run.tokens} tokens, its limit (--max-total-tokens {budget.tokens})"
            )
        if budget.dollars is not None and run.dollars >= budget.dollars:
            return f"the run spent ${run.dollars:.4f}, its limit (--max-dollars {budget.dollars:g})"
        return None

    def _evaluation_exhausted(self, context: CallContext) -> str | None:
        if not context.evaluation_id:
            return None
        spending = self.evaluations.get(context.evaluation_id, Spending())
        budget = self.budget
        if budget.evaluation_calls is not None and spending.calls >= budget.evaluation_calls:
            return (
                f"this evaluation made {spending.calls} model calls, its limit "
                f"(--evaluation-calls {budget.evaluation_calls})"
            )
        if budget.evaluation_tokens is not None and spending.tokens >= budget.evaluation_tokens:
            return (
                f"this evaluation used {spending.tokens} tokens, its limit "
                f"(--evaluation-tokens {budget.evaluation_tokens})"
            )
        return None


class BudgetLedger:
    """The run's budget meter in one Ray actor, shared by the gateways of every node.

    Callers price their calls themselves, so this module and the actor's process never
    import litellm, which takes seconds to load.
    """

    def __init__(self, budget: Budget, run: Spending) -> None:
        self.meter = BudgetMeter(budget, run=run)

    def check(self, context: CallContext) -> str | None:
        """Return why the call is over budget, or None when it may go ahead."""
        try:
            self.meter.check(context)
        except BudgetExceededError as error:
            return str(error)
        return None

    def add(self, context: CallContext, prompt: int, completion: int, cost: float | None) -> None:
        self.meter.add(context, prompt, completion, cost)

    def exhausted(self) -> str | None:
        return self.meter.exhausted()

    def spending(self) -> Spending:
        return self.meter.run
