"""Store gateway call records in the archive."""

import json
import logging

from evolarium.archive import Archive, ModelCall
from evolarium.llm.gateway import CallRecord, Recorder
from evolarium.llm.pricing import call_cost
from evolarium.llm.replay import served_from_recording

log = logging.getLogger(__name__)


def archive_recorder(archive: Archive) -> Recorder:
    """Return a recorder that writes every call to ``archive`` as a ModelCall row."""

    def record(call: CallRecord) -> None:
        archive.insert(to_row(call))

    return record


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
        cost_usd=_cost(call),
        outcome=call.outcome,
        attempt=call.attempt,
        request_key=call.request_key,
        error=call.error,
        started_at=call.started_at,
    )


def _cost(call: CallRecord) -> float | None:
    # A replayed call reached no provider. Its recorded original keeps the cost.
    if served_from_recording(call.outcome, call.error):
        return 0.0
    return call_cost(call.model, call.prompt_tokens, call.completion_tokens)
