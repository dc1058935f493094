"""Store gateway call records in the archive."""

import json
import logging

import litellm

from evolarium.archive import Archive, ModelCall
from evolarium.llm.gateway import CallRecord, Recorder

log = logging.getLogger(__name__)

LOCAL_PREFIX = "local/"


def archive_recorder(archive: Archive) -> Recorder:
    """Return a recorder that writes every call to ``archive`` as a ModelCall row."""

    def record(call: CallRecord) -> None:
        archive.add(to_row(call))

    return record


def call_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Return a call's price in dollars from litellm's price table, or None if unknown.

    The embedded model costs nothing. Any other model that litellm cannot price
    gets None, which readers show as unknown, never as free.
    """
    if model.startswith(LOCAL_PREFIX):
        return 0.0
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # noqa: BLE001  (litellm raises several types for an unknown model)
        return None
    return float(prompt_cost + completion_cost)


def to_row(call: CallRecord) -> ModelCall:
    context = call.context
    return ModelCall(
        run_id=context.run_id,
        agent_id=context.agent_id,
        task_id=context.task_id,
        evaluation_id=context.evaluation_id,
        purpose=context.purpose,
        model=call.model,
        requested_model=call.requested_model,
        request_json=json.dumps(call.request, ensure_ascii=False, default=str),
        response_json=(
            json.dumps(call.response, ensure_ascii=False, default=str)
            if call.response is not None
            else None
        ),
        prompt_tokens=call.prompt_tokens,
        completion_tokens=call.completion_tokens,
        latency_ms=call.latency_ms,
        cost_usd=call_cost(call.model, call.prompt_tokens, call.completion_tokens),
        outcome=call.outcome,
        error=call.error,
        started_at=call.started_at,
    )
