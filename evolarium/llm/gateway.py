"""The gateway: every model call goes through it, is routed, counted and recorded."""

import json
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import litellm

from evolarium.llm.budget import Budget, BudgetExceededError, BudgetMeter, Reservation
from evolarium.llm.calls import (
    OUTCOME_BUDGET,
    OUTCOME_OK,
    OUTCOME_REJECTED,
    OUTCOME_TOO_LONG,
    CallContext,
    CallRecord,
    InvalidRequestError,
    PendingRecords,
    ProviderError,
    Recorder,
    validate_request,
)
from evolarium.llm.replay import (
    OUTCOME_REPLAY_MISS,
    OUTCOME_REPLAYED,
    REPLAYED_ERROR_PREFIX,
    RecordedError,
    Replayer,
    ReplayMissError,
    router_request_key,
)
from evolarium.llm.retry import OUTCOME_TRUNCATED, RETRYABLE, RetryPolicy, classify
from evolarium.llm.router import Router
from evolarium.llm.routing import Route, Routes
from evolarium.llm.server import GatewaySocket

__all__ = [
    "CallContext",
    "CallRecord",
    "Gateway",
    "GatewaySocket",
    "InvalidRequestError",
    "ProviderError",
    "Recorder",
]

logger = logging.getLogger(__name__)

UNCHARGED_OUTCOMES = frozenset({OUTCOME_REJECTED, OUTCOME_BUDGET, OUTCOME_REPLAY_MISS})
"""Outcomes of calls that the budget meter does not charge."""

# Max error text kept in records and sent to clients, because provider errors can embed
# whole response bodies.
MAX_ERROR_CHARS = 2000
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL", re.IGNORECASE)
"""Environment variables whose values are masked in error texts (e.g. OPENAI_API_KEY)."""
MIN_SECRET_CHARS = 8
"""Shorter values are left alone: masking "1" or "true" would garble every message."""
# Max characters of an unparsable body kept in its record.
INVALID_BODY_CHARS = 200
# Uncharged calls (rejected, refused for the budget, replay misses) recorded per agent
# and evaluation. Later ones are counted in the totals but not recorded, and a large
# request of one is stored shortened, so that a sandbox cannot fill the archive.
MAX_UNCHARGED_RECORDS = 100
MAX_UNCHARGED_REQUEST_CHARS = 64 * 1024
# Request characters stored in full per agent and evaluation. Later requests are stored
# shortened (their responses in full, so replay still serves them), so that a sandbox
# cannot fill the host's disk with large requests that the provider replies to at once.
MAX_EVALUATION_REQUEST_CHARS = 64 * 1024 * 1024


class Gateway:
    """Routes chat-completions requests, records each call and keeps running totals.

    The recorder is called once per call, with a lock held, so it need not be thread-safe.
    An exception from the recorder is logged and does not change the call's result. Inside
    ``deferred_recording()`` a thread's records are written as the block ends, so that the
    socket server sends a response without waiting for its record.
    ``calls`` counts every call, rejected and failed ones included. The token totals add
    up the usage that providers report for successful calls.

    With a ``replayer``, every call is served from recorded responses and the router's
    provider is never called (see replay.py).

    ``router`` is one Router for every call, or Routes that choose a router per purpose
    and alias (see routing.py). ``self.router`` is the default route's primary router.
    """

    def __init__(
        self,
        router: Router | Routes,
        recorder: Recorder | None = None,
        *,
        retry: RetryPolicy | None = None,
        budget: Budget | None = None,
        sleep: Callable[[float], None] = time.sleep,
        replayer: Replayer | None = None,
    ) -> None:
        self.routes = router if isinstance(router, Routes) else Routes.single(router)
        self.router = self.routes.default.primary
        self.replayer = replayer
        self.retry = retry or RetryPolicy()
        self.meter = BudgetMeter(budget or Budget())
        self._sleep = sleep
        self._recorder = recorder
        self._totals_lock = threading.Lock()
        self._recorder_lock = threading.Lock()
        self._deferring = threading.local()
        self._calls = 0
        self._uncharged: Counter[tuple[str | None, str | None, str | None]] = Counter()
        self._request_chars: Counter[tuple[str | None, str | None, str | None]] = Counter()
        self._prompt_tokens = 0
        self._completion_tokens = 0

    @property
    def calls(self) -> int:
        """Number of calls handled so far, whatever their outcome."""
        with self._totals_lock:
            return self._calls

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens of all successful calls so far."""
        with self._totals_lock:
            return self._prompt_tokens

    @property
    def completion_tokens(self) -> int:
        """Completion tokens of all successful calls so far."""
        with self._totals_lock:
            return self._completion_tokens

    def complete(self, request: dict, context: CallContext) -> dict:
        """Route one chat-completions body, record the call and return the completion.

        Raises InvalidRequestError for a body the gateway does not forward or messages longer
        than the model's context window, and ProviderError when the provider fails, or its
        subclass ReplayMissError when a replayer has no response for the request. All are
        recorded before they are raised. The record keeps the full error text, and the
        exception carries its first line.

        A request with ``"stream": true`` is completed, budgeted and recorded like any
        other, with ``stream`` kept in the stored request. It returns the whole completion,
        which GatewaySocket sends to its client as stream chunks.
        """
        started_at = datetime.now(UTC)

        try:
            validate_request(request)
        except InvalidRequestError as error:
            self.reject(request, error, context, started_at=started_at)
            raise

        route = self.routes.route_for(context.purpose, request.get("model"))
        if self.replayer is not None:
            return self._replay(self.replayer, route, request, context, started_at)

        for index, router in enumerate(route.routers):
            try:
                return self._attempts(router, request, context, started_at)
            except ProviderError as error:
                if index == len(route.routers) - 1 or not _falls_back(error):
                    raise
                self._log_fallback(router, route.routers[index + 1], context, error)
                started_at = datetime.now(UTC)
        raise AssertionError("unreachable: the last router returns or raises")

    def _attempts(
        self, router: Router, request: dict, context: CallContext, started_at: datetime
    ) -> dict:
        """Send ``request`` to ``router`` with retries; record and return the completion.

        Raises ProviderError once the attempts are spent or the failure is not retryable.
        """
        for attempt in range(1, self.retry.attempts + 1):
            reservation: Reservation | None = None
            try:
                # The slot is held while the provider works on the request, not during
                # waits. The budget is reserved once the slot is taken, so a reservation
                # is not held while the call waits for a slot.
                with self.routes.limits.slot(router.model):
                    reservation = self._reserve(router, request, context, started_at)
                    start = time.perf_counter()
                    response, failure = self._send(router, request)

                if failure is None:
                    record = self._record_for(router, request, context, started_at, start)
                    record.attempt = attempt
                    record.response = response
                    record.prompt_tokens, record.completion_tokens = _usage(response)
                    if _finish_reason(response) == "length":
                        record.outcome = OUTCOME_TRUNCATED
                    self._finish(record, reservation)
                    return response

                # InvalidRequestError: the provider found the messages too long for the model.
                too_long = isinstance(failure, InvalidRequestError)
                outcome = OUTCOME_TOO_LONG if too_long else classify(failure)
                summary = self._record_failure(
                    router, request, context, failure, outcome, attempt, start, reservation
                )
                if too_long:
                    raise failure
            finally:
                if reservation is not None:
                    self._release(reservation)

            if outcome not in RETRYABLE or attempt == self.retry.attempts:
                raise ProviderError(summary) from failure
            self._sleep(self.retry.delay(attempt, failure))
            started_at = datetime.now(UTC)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _send(self, router: Router, request: dict) -> tuple[dict, None] | tuple[None, Exception]:
        """Send one attempt to the provider and return its response or its failure."""
        try:
            return router.complete(request), None
        except Exception as error:  # any provider failure is recorded, then handled
            return None, error

    def _log_fallback(
        self, failed: Router, fallback: Router, context: CallContext, error: ProviderError
    ) -> None:
        logger.warning(
            "model %s failed (run %s, agent %s, task %s): %s; falling back to %s",
            failed.model,
            context.run_id,
            context.agent_id,
            context.task_id,
            error,
            fallback.model,
        )

    def _replay(
        self,
        replayer: Replayer,
        route: Route,
        request: dict,
        context: CallContext,
        started_at: datetime,
    ) -> dict:
        """Serve one request from ``replayer`` and record it as replayed, at no cost.

        The budget is checked and charged with the recorded tokens as for a live call, so
        that a replay reaches an evaluation's limits where the recording did. The key of
        each router of the route is tried in order, because a recorded call that a fallback
        served is stored under the fallback's model. A request with no recorded response
        is recorded and raises the primary router's ReplayMissError.
        """
        reservation = self._reserve(route.primary, request, context, started_at)
        try:
            return self._replayed(replayer, route, request, context, started_at, reservation)
        finally:
            self._release(reservation)

    def _replayed(
        self,
        replayer: Replayer,
        route: Route,
        request: dict,
        context: CallContext,
        started_at: datetime,
        reservation: Reservation,
    ) -> dict:
        """Serve the request from ``replayer``, charging ``reservation`` when it is found."""
        start = time.perf_counter()
        first_miss: ReplayMissError | None = None
        # NOTE: when the same request was recorded under the primary and, after a failure,
        # under a fallback, the primary's unused recordings are served first, so the order
        # of those replies can differ from the recording.
        for router in route.routers:
            key = router_request_key(router, request)
            try:
                response = replayer.response_for(key, request, router.model)
            except ReplayMissError as error:
                first_miss = first_miss or error
                continue
            except RecordedError as recorded:
                record = self._record_for(router, request, context, started_at, start)
                self._raise_recorded(record, recorded, reservation)

            record = self._record_for(router, request, context, started_at, start)
            record.response = response
            record.prompt_tokens, record.completion_tokens = _usage(response)
            record.outcome = OUTCOME_REPLAYED
            self._finish(record, reservation)
            return response

        logger.warning(
            "replay miss (run %s, agent %s, evaluation %s): %s",
            context.run_id,
            context.agent_id,
            context.evaluation_id,
            first_miss,
        )
        record = self._record_for(route.primary, request, context, started_at, start)
        record.outcome = OUTCOME_REPLAY_MISS
        record.error = str(first_miss)
        self._finish(record)
        raise first_miss

    def _raise_recorded(
        self, record: CallRecord, recorded: RecordedError, reservation: Reservation
    ) -> None:
        """Store and raise again the error of a recorded call, as the recording did.

        A budget refusal is not charged. Messages too long for the model count as a call,
        at no cost, as in the recording.
        """
        logger.info(
            "replayed a recorded %s (run %s, agent %s, evaluation %s): %s",
            recorded.outcome,
            record.context.run_id,
            record.context.agent_id,
            record.context.evaluation_id,
            recorded.message,
        )
        record.outcome = recorded.outcome
        record.error = REPLAYED_ERROR_PREFIX + recorded.message
        if recorded.outcome == OUTCOME_TOO_LONG:
            self._finish(record, reservation)
            raise InvalidRequestError(recorded.message.removeprefix("InvalidRequestError: "))
        self._finish(record)
        raise BudgetExceededError(recorded.message)

    def _record_failure(
        self,
        router: Router,
        request: dict,
        context: CallContext,
        error: Exception,
        outcome: str,
        attempt: int,
        start: float,
        reservation: Reservation,
    ) -> str:
        """Log and record one failed attempt; return the first line of its error."""
        details = self._describe(error)
        summary = details.splitlines()[0] if details else type(error).__name__
        logger.warning(
            "model call attempt %d of %d failed with %s (model %s, run %s, agent %s, task %s): %s",
            attempt,
            self.retry.attempts,
            outcome,
            router.model,
            context.run_id,
            context.agent_id,
            context.task_id,
            summary,
        )
        record = self._record_for(router, request, context, datetime.now(UTC), start)
        record.attempt = attempt
        record.outcome = outcome
        record.error = details
        self._finish(record, reservation)
        return summary

    def _record_refusal(
        self,
        router: Router,
        request: dict,
        context: CallContext,
        error: BudgetExceededError,
        started_at: datetime,
    ) -> None:
        logger.info(
            "rejected a model call over budget (run %s, agent %s, evaluation %s): %s",
            context.run_id,
            context.agent_id,
            context.evaluation_id,
            error,
        )
        record = self._record_for(router, request, context, started_at, time.perf_counter())
        record.outcome = OUTCOME_BUDGET
        record.error = str(error)
        self._finish(record)

    def reject(
        self,
        request: object,
        error: InvalidRequestError,
        context: CallContext,
        *,
        started_at: datetime | None = None,
    ) -> None:
        """Record a request that was rejected before it reached the provider.

        The record names the model of the context's purpose.
        """
        logger.info(
            "rejected a model request (run %s, agent %s): %s",
            context.run_id,
            context.agent_id,
            error,
        )
        started_at = started_at or datetime.now(UTC)
        router = self.routes.route_for(context.purpose).primary
        body = _as_body(request)
        record = self._record_for(router, body, context, started_at, time.perf_counter())
        record.outcome = OUTCOME_REJECTED
        record.error = str(error)
        self._finish(record)

    def serve(self, socket_path: Path, context: CallContext) -> GatewaySocket:
        """Serve the HTTP endpoint on a new unix socket, recording calls with ``context``."""
        return GatewaySocket(self, Path(socket_path), context)

    def _record_for(
        self,
        router: Router,
        request: dict,
        context: CallContext,
        started_at: datetime,
        start: float,
    ) -> CallRecord:
        requested_model = request.get("model")
        return CallRecord(
            context=context,
            model=router.model,
            requested_model=requested_model if isinstance(requested_model, str) else None,
            request=request,
            response=None,
            prompt_tokens=0,
            completion_tokens=0,
            latency_ms=(time.perf_counter() - start) * 1000.0,
            outcome=OUTCOME_OK,
            error=None,
            started_at=started_at,
            request_key=_request_key(router, request),
        )

    def _reserve(
        self, router: Router, request: dict, context: CallContext, started_at: datetime
    ) -> Reservation:
        """Reserve one call in the budget, or record a refusal and raise BudgetExceededError."""
        try:
            return self.meter.reserve(context)
        except BudgetExceededError as error:
            self._record_refusal(router, request, context, error, started_at)
            raise

    def _release(self, reservation: Reservation) -> None:
        if reservation.open:  # the call ended without a charge, such as a replay miss
            self.meter.release(reservation)

    def _finish(self, record: CallRecord, reservation: Reservation | None = None) -> None:
        """Count and record a call, and charge its ``reservation``, if any, to the budget.

        Calls refused or rejected before a reservation reach no model and are not charged.
        """
        if reservation is not None and record.outcome != OUTCOME_REJECTED:
            self.meter.charge(
                reservation,
                record.model,
                record.prompt_tokens,
                record.completion_tokens,
                free=self.replayer is not None,  # in replay mode no provider is called
            )
        with self._totals_lock:
            self._calls += 1
            self._prompt_tokens += record.prompt_tokens
            self._completion_tokens += record.completion_tokens

        if self._recorder is None:
            return
        if reservation is None and not self._keeps_uncharged(record):
            return
        deferring: tuple[PendingRecords, list[CallRecord]] | None = getattr(
            self._deferring, "records", None
        )
        if deferring is not None:
            pending, records = deferring
            pending.add()
            records.append(record)
            return
        self._write(record)

    def _keeps_uncharged(self, record: CallRecord) -> bool:
        """Count an uncharged call; tell whether it is recorded, and shorten a large request.

        Past MAX_UNCHARGED_RECORDS of one agent and evaluation, the call is not recorded.
        """
        context = record.context
        key = (context.run_id, context.agent_id, context.evaluation_id)
        with self._totals_lock:
            self._uncharged[key] += 1
            count = self._uncharged[key]
        if count > MAX_UNCHARGED_RECORDS:
            if count == MAX_UNCHARGED_RECORDS + 1:
                logger.warning(
                    "agent %s (run %s, evaluation %s) made more than %d calls that were "
                    "rejected, refused or missed in replay; later ones are not recorded",
                    context.agent_id,
                    context.run_id,
                    context.evaluation_id,
                    MAX_UNCHARGED_RECORDS,
                )
            return False

        text = json.dumps(record.request, ensure_ascii=False, default=str)
        if len(text) > MAX_UNCHARGED_REQUEST_CHARS:
            record.request = _shortened(text)
        return True

    def _shorten_past_cap(self, record: CallRecord) -> None:
        """Count a charged call's request; shorten it past MAX_EVALUATION_REQUEST_CHARS."""
        context = record.context
        key = (context.run_id, context.agent_id, context.evaluation_id)
        text = json.dumps(record.request, ensure_ascii=False, default=str)
        with self._totals_lock:
            before = self._request_chars[key]
            self._request_chars[key] += len(text)
        if before + len(text) <= MAX_EVALUATION_REQUEST_CHARS:
            return
        if before <= MAX_EVALUATION_REQUEST_CHARS:
            logger.warning(
                "agent %s (run %s, evaluation %s) sent more than %d characters of requests; "
                "later requests are stored shortened",
                context.agent_id,
                context.run_id,
                context.evaluation_id,
                MAX_EVALUATION_REQUEST_CHARS,
            )
        record.request = _shortened(text)

    @contextmanager
    def deferred_recording(self, pending: PendingRecords) -> Iterator[None]:
        """Hold the records of this thread's calls in the block, and write them as it exits.

        Budgets and totals are charged at once. The socket server sends its response inside
        the block, so its client does not wait for the records. ``pending`` counts the
        records not written yet, from the call's end, so that their socket can wait for
        its own.
        """
        # The handler thread writes its own records after the send. A writer thread, in
        # timings of the benchmark, was slower: starting one per record cost 0.5-1 ms, and
        # a lasting one competed with the next call for the interpreter lock.
        records: list[CallRecord] = []
        self._deferring.records = (pending, records)
        try:
            yield
        finally:
            self._deferring.records = None
            written = 0
            try:
                for record in records:
                    written += 1
                    try:
                        self._write(record)
                    finally:
                        pending.done()
            finally:
                # A recorder that raised BaseException ends the loop: the records left are
                # lost, and are counted as done so that close() does not wait for them.
                for _ in range(len(records) - written):
                    pending.done()

    def _write(self, record: CallRecord) -> None:
        if self._recorder is None:
            return
        if record.outcome not in UNCHARGED_OUTCOMES:
            # Here, not in _finish: a socket call's records are written after its reply.
            self._shorten_past_cap(record)
        with self._recorder_lock:
            try:
                self._recorder(record)
            except Exception:  # the client still gets its response when recording fails
                logger.exception(
                    "recorder failed for a %s call (run %s, agent %s)",
                    record.outcome,
                    record.context.run_id,
                    record.context.agent_id,
                )

    def _describe(self, error: Exception) -> str:
        """Return the error's text with every known secret masked, cut to MAX_ERROR_CHARS.

        The text is stored and sent back to the sandbox, and some providers quote the key
        they rejected, whether it came from the configuration or from the environment.
        """
        message = f"{type(error).__name__}: {error}"
        secrets = [*self.routes.api_keys(), *environment_secrets()]
        # Longer secrets first, so that a key which contains another is masked whole.
        for secret in sorted(set(secrets), key=len, reverse=True):
            message = message.replace(secret, "***")
        return message[:MAX_ERROR_CHARS]


def environment_secrets() -> list[str]:
    """Return the values of environment variables whose names mark them as secrets."""
    return [
        value
        for name, value in os.environ.items()
        if SECRET_NAME.search(name) and len(value) >= MIN_SECRET_CHARS
    ]


def _shortened(text: str) -> dict:
    """Return what is stored of a request too large to keep: its length and its start."""
    return {"request_chars": len(text), "request_start": text[:INVALID_BODY_CHARS]}


def _falls_back(error: ProviderError) -> bool:
    """Tell whether a failed request goes on to the next router of its route.

    A provider's 400 means the request itself is invalid, so another model would reject
    it too.
    """
    return not isinstance(error.__cause__, litellm.BadRequestError)


def _request_key(router: Router, request: dict) -> str | None:
    try:
        validate_request(request)
    except InvalidRequestError:
        return None  # a body rejected here never reaches a model, so it has no key
    return router_request_key(router, request)


def _as_body(request: object) -> dict:
    if isinstance(request, dict):
        return request
    text = request if isinstance(request, str) else repr(request)
    return {"invalid_body": text[:INVALID_BODY_CHARS]}


def _finish_reason(response: dict) -> str | None:
    choices = response.get("choices") or []
    return choices[0].get("finish_reason") if choices and isinstance(choices[0], dict) else None


def _usage(response: dict) -> tuple[int, int]:
    usage = response.get("usage") or {}
    prompt_tokens = usage.get("prompt_tokens") or 0
    completion_tokens = usage.get("completion_tokens") or 0
    # A negative count from a faulty provider would lower the budget's spending.
    return max(0, int(prompt_tokens)), max(0, int(completion_tokens))
