"""Model calls at the gateway: context, record, request validation and errors."""

import math
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from evolarium.errors import ModelError

OUTCOME_OK = "ok"
OUTCOME_REJECTED = "rejected"
OUTCOME_BUDGET = "budget_exceeded"
OUTCOME_TOO_LONG = "context_exceeded"
"""The provider rejected the messages as longer than the model's context window. The
request reached the provider, so it counts as a call."""

LINK = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.-]*://")
"""A URL with a scheme such as http:// or file://. A data: URL has no "//" and passes."""


@dataclass(frozen=True)
class CallContext:
    """The run, agent, task and purpose of a model call, copied into each of its records."""

    run_id: str | None = None
    agent_id: str | None = None
    task_id: str | None = None
    evaluation_id: str | None = None
    # "agent" (an agent solving a task), "operator" (making a child) or "validation".
    purpose: str = "agent"


@dataclass
class CallRecord:
    """One model call: the request as received, the response or error, tokens and timing.

    ``request`` is the JSON body. A body that is not a JSON object is stored as
    ``{"invalid_body": <the first characters of the body>}``.
    """

    context: CallContext
    model: str
    requested_model: str | None
    request: dict
    response: dict | None
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    outcome: str
    error: str | None
    started_at: datetime
    attempt: int = 1
    """The attempt number of this call within its request, from 1 (see retry.py)."""
    request_key: str | None = None
    """The hash of the request as the router sends it (see replay.py). None for a body
    rejected before routing."""


Recorder = Callable[[CallRecord], None]


class InvalidRequestError(ValueError):
    """A chat-completions body that the gateway does not forward (HTTP 400)."""


class ProviderError(ModelError):
    """A model provider's failure on a valid request (HTTP 502)."""


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def _check_messages(messages: object) -> None:
    if not isinstance(messages, list) or not messages:
        raise InvalidRequestError("'messages' must be a non-empty list of message objects")

    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidRequestError(f"messages[{index}] must be an object, not {message!r:.80}")
        if not isinstance(message.get("role"), str):
            raise InvalidRequestError(f"messages[{index}] needs a string 'role'")
        _check_links(message.get("content"), f"messages[{index}].content")


def _check_links(content: object, where: str) -> None:
    """Reject URLs in a message's non-text parts (images, files, audio).

    For some providers litellm downloads such a URL on the host to inline it, which would
    let a sandbox make the host send requests to addresses of its choosing.
    """
    if not isinstance(content, list):
        return
    for index, part in enumerate(content):
        if isinstance(part, dict) and part.get("type") == "text":
            continue
        for value in _strings(part):
            if LINK.match(value):
                raise InvalidRequestError(
                    f"{where}[{index}] links to {value.strip()[:80]!r}; the gateway fetches "
                    "nothing for a sandbox, so send the data inline as a data: URL"
                )


def _strings(value: object) -> Iterator[str]:
    return (item for item, _ in json_nodes(value) if isinstance(item, str))


def json_nodes(value: object) -> Iterator[tuple[object, int]]:
    """Yield every value inside a JSON value, and the value itself, with its depth.

    It does not recurse, because a sandbox chooses how deep its request bodies nest.
    """
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        yield item, depth
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


def nests_deeper_than(value: object, limit: int) -> bool:
    """Tell whether arrays and objects in ``value`` nest more than ``limit`` levels deep."""
    return any(
        isinstance(item, dict | list) and depth >= limit for item, depth in json_nodes(value)
    )


def _check_options(request: dict) -> None:
    for field in ("max_tokens", "max_completion_tokens"):
        value = request.get(field)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidRequestError(f"'{field}' must be a positive integer, not {value!r:.80}")

    for field in ("temperature", "top_p"):
        value = request.get(field)
        if value is not None and not _is_number(value):
            raise InvalidRequestError(f"'{field}' must be a number, not {value!r:.80}")

    model = request.get("model")
    if model is not None and not isinstance(model, str):
        raise InvalidRequestError(f"'model' must be a string, not {model!r:.80}")


def is_streamed(request: dict) -> bool:
    """Return True if a valid request sets ``"stream": true``."""
    return request.get("stream") is True


def includes_usage(request: dict) -> bool:
    """Return True if a streamed request sets ``stream_options.include_usage``."""
    options = request.get("stream_options") or {}
    return is_streamed(request) and options.get("include_usage") is True


def _check_stream(request: dict) -> None:
    stream = request.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequestError(f"'stream' must be true or false, not {stream!r:.80}")

    options = request.get("stream_options")
    if options is None:
        return
    if stream is not True:
        # The OpenAI API rejects this combination too.
        raise InvalidRequestError("'stream_options' is only allowed when 'stream' is true")
    if not isinstance(options, dict):
        raise InvalidRequestError(f"'stream_options' must be an object, not {options!r:.80}")
    include_usage = options.get("include_usage")
    if include_usage is not None and not isinstance(include_usage, bool):
        raise InvalidRequestError(
            f"'stream_options.include_usage' must be true or false, not {include_usage!r:.80}"
        )


def validate_request(request: object) -> dict:
    """Return ``request`` if it is a chat-completions body the gateway forwards.

    Raises InvalidRequestError naming the first invalid field.
    """
    if not isinstance(request, dict):
        raise InvalidRequestError(
            f"the request body must be a JSON object, not {type(request).__name__}"
        )

    _check_stream(request)
    _check_messages(request.get("messages"))
    _check_options(request)
    return request


class PendingRecords:
    """A count of calls in flight and call records not written yet, and a wait for none."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    def add(self) -> None:
        with self._changed:
            self._count += 1

    def done(self) -> None:
        with self._changed:
            self._count -= 1
            self._changed.notify_all()

    def wait(self, timeout_s: float) -> bool:
        """Wait until the count is 0; return False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._count == 0, timeout=timeout_s)
