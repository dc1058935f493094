"""Request keys, and replay of recorded model calls in place of a live model.

A request key is the sha256 of a canonical JSON form of what the router hands to litellm:
the model string, every forwarded field after the router's defaults, and the capped
``max_tokens``. Two requests with the same key send the same input to the provider, so a
recorded response can stand in for a live call. A :class:`Replayer` serves recorded
responses by key and never calls a model.
"""

import difflib
import hashlib
import json
import logging
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evolarium.llm.calls import OUTCOME_BUDGET, OUTCOME_OK, OUTCOME_TOO_LONG, ProviderError
from evolarium.llm.retry import OUTCOME_TRUNCATED
from evolarium.llm.router import FORWARDED_FIELDS, Router

if TYPE_CHECKING:
    from evolarium.archive.models import ModelCall

log = logging.getLogger(__name__)

KEY_VERSION = 1
"""Hashed into every key. Raise it when the canonical form changes, so old keys stop matching."""

OUTCOME_REPLAYED = "replayed"
"""A call served from a recorded response: no provider was called and it cost nothing."""
OUTCOME_REPLAY_MISS = "replay_miss"
"""A call in replay mode whose request has no recorded response left."""

REPLAYABLE_OUTCOMES = frozenset({OUTCOME_OK, OUTCOME_TRUNCATED})
REPLAYED_ERRORS = frozenset({OUTCOME_BUDGET, OUTCOME_TOO_LONG})
"""Outcomes of recorded calls whose error a replay raises again at the same request: a
budget refusal, and messages too long for the model. Their sandbox got that error, so a
replay that returned a completion instead would diverge from the recording."""

# Limits on the differences that a miss message names, and on each value it quotes.
MAX_DIFFERENCES = 3
MAX_QUOTE_CHARS = 60
QUOTE_CONTEXT_CHARS = 20


class ReplayMissError(ProviderError):
    """A request with no recorded response left to replay (HTTP 404 at the gateway socket)."""


REPLAYED_ERROR_PREFIX = "replayed from the recording: "
"""Prefix of the stored error of a call whose recorded error a replay raised again. It
separates such a call from an error of the replay's own budget."""


def served_from_recording(outcome: str, error: str | None) -> bool:
    """Tell whether a stored call of a replay was served from the recording."""
    if outcome == OUTCOME_REPLAYED:
        return True
    return outcome in REPLAYED_ERRORS and (error or "").startswith(REPLAYED_ERROR_PREFIX)


class RecordedError(Exception):
    """The recorded call for a request ended in an error that the replay raises again."""

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message


def canonical_request(
    request: dict, model: str, max_tokens: int | None, *, temperature: float | None = None
) -> dict:
    """Return the fields of ``request`` that reach the provider, as one dict.

    ``model`` is the string handed to litellm and ``max_tokens`` the capped limit. A
    ``temperature`` given here is the router's default, used when the request sets none.
    Fields whose value is None are left out because litellm does not send them.
    """
    canonical = {
        name: value
        for name, value in request.items()
        if name in FORWARDED_FIELDS and value is not None
    }
    if temperature is not None and "temperature" not in canonical:
        canonical["temperature"] = temperature
    canonical["model"] = model
    if max_tokens is not None:
        canonical["max_tokens"] = max_tokens
    return canonical


def canonical_json(canonical: dict) -> str:
    """Serialize a canonical request with sorted keys and no whitespace."""
    return json.dumps(
        canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


def request_key(
    request: dict, model: str, max_tokens: int, *, temperature: float | None = None
) -> str:
    """Return the sha256 hex key of a request as the router would send it.

    ``model`` is the string handed to litellm, ``max_tokens`` the limit after the router's
    cap, and ``temperature`` the router's default for a request that sets none.
    """
    canonical = canonical_request(request, model, max_tokens, temperature=temperature)
    canonical["key_version"] = KEY_VERSION
    return hashlib.sha256(canonical_json(canonical).encode("utf-8")).hexdigest()


def router_request_key(router: Router, request: dict) -> str:
    """Return the key of a valid chat-completions body as ``router`` would send it."""
    return request_key(
        request,
        router.model,
        router._max_tokens(request),
        temperature=router.config.temperature,
    )


@dataclass(frozen=True)
class _Recorded:
    """One replayable call from the archive."""

    order: int
    """Position in recorded order."""
    call_id: int | None
    key: str
    view: dict
    """The request's fields without the router's defaults, for naming differences."""
    response_json: str | None
    """None for a recorded error (REPLAYED_ERRORS)."""
    outcome: str
    error: str | None


def _view(request: dict, model: str) -> dict:
    """Return what a request sets: its forwarded fields, its token limit and the model."""
    requested_tokens = request.get("max_completion_tokens") or request.get("max_tokens")
    return canonical_request(request, model, requested_tokens)


class Replayer:
    """A store of recorded responses, served by request key and in recorded order for a
    repeated key.

    Calls with outcome ok or truncated are replayed, and so are the errors of
    REPLAYED_ERRORS, which response_for raises as RecordedError. A request whose key has no
    recorded response left raises ReplayMissError, whose message names how the request
    differs from the closest recorded one. Safe to use from several gateway threads.
    """

    def __init__(self, calls: Iterable["ModelCall"]) -> None:
        self._lock = threading.Lock()
        self._recorded: list[_Recorded] = []
        self._pending: dict[str, deque[_Recorded]] = {}
        self._served: set[int] = set()
        skipped = 0

        for call in sorted(calls, key=_recorded_order):
            answered = call.outcome in REPLAYABLE_OUTCOMES and call.response_json is not None
            if not answered and call.outcome not in REPLAYED_ERRORS:
                continue
            if call.request_key is None:
                skipped += 1
                continue
            entry = _Recorded(
                order=len(self._recorded),
                call_id=call.id,
                key=call.request_key,
                view=_view(json.loads(call.request_json), call.model),
                response_json=call.response_json if answered else None,
                outcome=call.outcome,
                error=call.error,
            )
            self._recorded.append(entry)
            self._pending.setdefault(entry.key, deque()).append(entry)

        if skipped:
            log.warning("%d recorded calls have no request key and cannot be replayed", skipped)

    def __len__(self) -> int:
        """Number of replayable responses recorded, served or not."""
        return len(self._recorded)

    @property
    def unserved(self) -> int:
        """Number of recorded responses that no request has used yet."""
        with self._lock:
            return sum(len(queue) for queue in self._pending.values())

    def skip_served(self, keys: Iterable[str]) -> int:
        """Drop one recorded response per key, as if a request had used it; return how many.

        A resumed run calls this with the keys of the calls that its kept work already
        replayed, so the requests it sends next get the responses that come after those.
        """
        dropped = 0
        with self._lock:
            for key in keys:
                queue = self._pending.get(key)
                if queue:
                    self._served.add(queue.popleft().order)
                    dropped += 1
        return dropped

    def response_for(self, key: str, request: dict, model: str) -> dict:
        """Return the next recorded response for ``key``.

        Raise RecordedError when the next recorded call for ``key`` ended in one of
        REPLAYED_ERRORS. ``request`` and ``model`` (the string handed to litellm) only
        serve to name the difference in the ReplayMissError raised when nothing is left
        for ``key``.
        """
        with self._lock:
            queue = self._pending.get(key)
            entry = queue.popleft() if queue else None
            if entry is None:
                message = self._describe_miss(key, _view(request, model))
            else:
                self._served.add(entry.order)
        if entry is None:
            raise ReplayMissError(message)
        if entry.response_json is None:
            raise RecordedError(entry.outcome, entry.error or entry.outcome)
        return json.loads(entry.response_json)

    def _describe_miss(self, key: str, view: dict) -> str:
        short_key = key[:12]
        if key in self._pending:
            count = sum(1 for entry in self._recorded if entry.key == key)
            return (
                f"the request with key {short_key} was recorded {count} times and every "
                f"recorded response was served already; the replay sent it once more"
            )
        if not self._recorded:
            return (
                f"no recorded response for the request with key {short_key}: the recording "
                f"has no successful model call"
            )

        closest = self._closest(view)
        differences = describe_differences(closest.view, view)
        where = f"call {closest.call_id}" if closest.call_id is not None else "a recorded call"
        if not differences:
            differences = (
                "nothing in the request body or model, so the run's max_tokens limit, default "
                f"temperature or the key version (now {KEY_VERSION}) differ"
            )
        return (
            f"no recorded response for the request with key {short_key}; the closest of "
            f"{len(self._recorded)} recorded requests ({where}) differs in {differences}"
        )

    def _closest(self, view: dict) -> _Recorded:
        """Return the recorded request most similar to ``view``.

        Lines of the indented JSON are compared first, then characters. On a tie, the
        earliest request not served yet wins, because a diverging replay sends its request
        where the recording had that one.
        """
        lines = _lines(view)
        text = canonical_json(view)

        def similarity(entry: _Recorded) -> tuple[float, float, bool]:
            by_line = difflib.SequenceMatcher(None, _lines(entry.view), lines).ratio()
            by_char = difflib.SequenceMatcher(None, canonical_json(entry.view), text).quick_ratio()
            return by_line, by_char, entry.order not in self._served

        return max(self._recorded, key=similarity)


def _recorded_order(call: "ModelCall") -> tuple[bool, int]:
    return call.id is None, call.id or 0


def _lines(view: dict) -> list[str]:
    return json.dumps(view, sort_keys=True, indent=1, ensure_ascii=False, default=str).splitlines()


def describe_differences(recorded: object, current: object) -> str:
    """Name up to MAX_DIFFERENCES places where ``current`` differs from ``recorded``.

    Returns "" when they are equal. A place is a path such as ``messages[1].content``.
    """
    differences: list[str] = []
    _collect_differences(recorded, current, "", differences)
    text = "; ".join(differences[:MAX_DIFFERENCES])
    rest = len(differences) - MAX_DIFFERENCES
    if rest > 0:
        text += f"; and {rest} more"
    return text


def _collect_differences(recorded: object, current: object, path: str, found: list) -> None:
    if isinstance(recorded, dict) and isinstance(current, dict):
        for name in sorted(set(recorded) | set(current), key=str):
            place = f"{path}.{name}" if path else str(name)
            if name not in recorded:
                found.append(f"{place}: not recorded, the request has {_quote(current[name])}")
            elif name not in current:
                found.append(f"{place}: recorded {_quote(recorded[name])}, the request has none")
            else:
                _collect_differences(recorded[name], current[name], place, found)
        return

    if isinstance(recorded, list) and isinstance(current, list):
        for index in range(max(len(recorded), len(current))):
            place = f"{path}[{index}]"
            if index >= len(recorded):
                found.append(f"{place}: not recorded, the request has {_quote(current[index])}")
            elif index >= len(current):
                found.append(f"{place}: recorded {_quote(recorded[index])}, the request has none")
            else:
                _collect_differences(recorded[index], current[index], place, found)
        return

    if recorded == current and type(recorded) is type(current):
        return
    if isinstance(recorded, str) and isinstance(current, str):
        found.append(_string_difference(recorded, current, path))
        return
    found.append(f"{path}: recorded {_quote(recorded)}, the request has {_quote(current)}")


def _string_difference(recorded: str, current: str, path: str) -> str:
    """Quote both strings around their first differing character."""
    pairs = enumerate(zip(recorded, current, strict=False))
    start = next(
        (index for index, (left, right) in pairs if left != right),
        min(len(recorded), len(current)),
    )
    begin = max(0, start - QUOTE_CONTEXT_CHARS)
    return (
        f"{path} at character {start}: recorded {_excerpt(recorded, begin)}, "
        f"the request has {_excerpt(current, begin)}"
    )


def _excerpt(text: str, begin: int) -> str:
    end = begin + MAX_QUOTE_CHARS
    excerpt = repr(text[begin:end])
    if begin > 0:
        excerpt = "..." + excerpt
    if end < len(text):
        excerpt += "..."
    return excerpt


def _quote(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > MAX_QUOTE_CHARS:
        text = text[:MAX_QUOTE_CHARS] + "..."
    return text
