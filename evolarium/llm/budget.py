"""Spending limits enforced at the gateway: per run and per evaluation.

The gateway reserves a call before each attempt and charges the reservation after it,
so calls sent at once cannot all pass the same check: a call limit is kept however many
calls are in flight. Token and dollar limits are known only once a call ends, so the
calls in flight when one is crossed can pass it by their own usage. A call refused for
the budget gets an OpenAI-style error (HTTP 429, type ``insufficient_quota``) that an
agent in a sandbox can read, and the loop stops the run once the run's budget is spent.
"""

import itertools
import threading
import time
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
class Reservation:
    """One call that passed the budget and is not charged yet.

    The meter that made it charges or releases it once, and then it is closed.
    """

    context: CallContext
    id: int
    open: bool = True


@dataclass
class _OpenReservation:
    evaluation_id: str | None
    expires_at: float | None


@dataclass
class BudgetMeter:
    """Charges calls to a run's and its evaluations' spending, and refuses calls over budget.

    A reservation that is neither charged nor released, such as that of a worker that
    died, ends by itself after ``lease_s`` seconds; None keeps it until it is closed.
    """

    budget: Budget = field(default_factory=Budget)
    run: Spending = field(default_factory=Spending)
    evaluations: dict[str, Spending] = field(default_factory=dict)
    lease_s: float | None = None
    _open: dict[int, _OpenReservation] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def reserve(self, context: CallContext) -> Reservation:
        """Reserve one call for ``context``; raise BudgetExceededError if its budget is spent.

        Open reservations count against the call limits as if their calls were made.
        """
        with self._lock:
            self._drop_expired()
            reason = self._run_exhausted(len(self._open)) or self._evaluation_exhausted(context)
            if reason:
                raise BudgetExceededError(reason)
            reservation = Reservation(context, next(self._ids))
            expires_at = None if self.lease_s is None else time.monotonic() + self.lease_s
            self._open[reservation.id] = _OpenReservation(context.evaluation_id, expires_at)
            return reservation

    def charge(
        self,
        reservation: Reservation,
        model: str,
        prompt: int,
        completion: int,
        *,
        free: bool = False,
    ) -> None:
        """Charge one attempt's tokens and cost (none if ``free``) to its reservation."""
        cost = 0.0 if free else call_cost(model, prompt, completion)
        self.settle(reservation, prompt, completion, cost)

    def settle(
        self, reservation: Reservation, prompt: int, completion: int, cost: float | None
    ) -> None:
        """Close ``reservation`` and add its tokens and priced ``cost`` (None if unknown)."""
        with self._lock:
            self._open.pop(reservation.id, None)
            self._add(reservation.context, prompt, completion, cost)
        reservation.open = False

    def release(self, reservation: Reservation) -> None:
        """Close ``reservation`` without a charge, for a call that used no model."""
        with self._lock:
            self._open.pop(reservation.id, None)
        reservation.open = False

    def exhausted(self) -> str | None:
        """Return why the run's budget is spent, or None while some is left."""
        with self._lock:
            return self._run_exhausted(0)

    def _add(self, context: CallContext, prompt: int, completion: int, cost: float | None) -> None:
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

    def _drop_expired(self) -> None:
        now = time.monotonic()
        expired = [
            id_
            for id_, reservation in self._open.items()
            if reservation.expires_at is not None and reservation.expires_at <= now
        ]
        for id_ in expired:
            del self._open[id_]

    def _in_flight(self, evaluation_id: str) -> int:
        """Count the open reservations of one evaluation."""
        return sum(1 for open_ in self._open.values() if open_.evaluation_id == evaluation_id)

    def _run_exhausted(self, in_flight: int) -> str | None:
        budget, run = self.budget, self.run
        if budget.calls is not None and run.calls + in_flight >= budget.calls:
            made = _calls(run.calls, in_flight)
            return f"the run made {made}, its limit (--max-calls {budget.calls})"
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
        in_flight = self._in_flight(context.evaluation_id)
        spending = self.evaluations.get(context.evaluation_id, Spending())
        budget = self.budget
        if (
            budget.evaluation_calls is not None
            and spending.calls + in_flight >= budget.evaluation_calls
        ):
            return (
                f"this evaluation made {_calls(spending.calls, in_flight)}, its limit "
                f"(--evaluation-calls {budget.evaluation_calls})"
            )
        if budget.evaluation_tokens is not None and spending.tokens >= budget.evaluation_tokens:
            return (
                f"this evaluation used {spending.tokens} tokens, its limit "
                f"(--evaluation-tokens {budget.evaluation_tokens})"
            )
        return None


def _calls(charged: int, in_flight: int) -> str:
    text = f"{charged} model call" if charged == 1 else f"{charged} model calls"
    return f"{text} and has {in_flight} in flight" if in_flight else text


class BudgetLedger:
    """The run's budget meter in one Ray actor, shared by the gateways of every node.

    Callers price their calls themselves, so this module and the actor's process never
    import litellm, which takes seconds to load. Reservations travel by value, so the
    ledger closes its own copy, and the caller closes the one it keeps.
    """

    def __init__(self, budget: Budget, run: Spending, lease_s: float | None = None) -> None:
        self.meter = BudgetMeter(budget, run=run, lease_s=lease_s)

    def reserve(self, context: CallContext) -> Reservation | str:
        """Return a reservation for the call, or why it is over budget."""
        try:
            return self.meter.reserve(context)
        except BudgetExceededError as error:
            return str(error)

    def settle(
        self, reservation: Reservation, prompt: int, completion: int, cost: float | None
    ) -> None:
        self.meter.settle(reservation, prompt, completion, cost)

    def release(self, reservation: Reservation) -> None:
        self.meter.release(reservation)

    def exhausted(self) -> str | None:
        return self.meter.exhausted()

    def spending(self) -> Spending:
        return self.meter.run
