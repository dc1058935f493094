"""Concurrency limits of model calls shared by every process of a run on a Ray cluster.

A SlotLedger runs as one asynchronous Ray actor and hands out leases on each limited
model's slots. Every gateway of the run, on the loop's node and on the worker nodes, takes
a lease before it sends a request to that model and returns it after. A lease also ends by
itself after ``lease_s`` seconds, the longest a request can take, so a worker that dies
while it holds one cannot keep the slot forever.

This module does not import litellm or Ray, so the actor's process starts fast.
"""

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

POLL_S = 1.0
"""Seconds a waiting acquire sleeps at most before it looks for expired leases again."""


class SlotLedger:
    """The leases on each limited model's slots; the body of a Ray actor."""

    def __init__(self, limits: dict[str, int]) -> None:
        self._limits = dict(limits)
        self._leases: dict[str, dict[str, float]] = {model: {} for model in limits}
        self._changed: asyncio.Condition | None = None

    async def acquire(self, model: str, lease_s: float) -> str:
        """Wait for a free slot of ``model``; return the id of the lease that holds it."""
        changed = self._condition()
        async with changed:
            while True:
                leases = self._live_leases(model)
                if len(leases) < self._limits[model]:
                    lease = uuid.uuid4().hex
                    leases[lease] = time.monotonic() + lease_s
                    return lease
                try:
                    await asyncio.wait_for(changed.wait(), timeout=POLL_S)
                except TimeoutError:
                    continue

    async def release(self, model: str, lease: str) -> None:
        """End a lease, whether or not it has expired meanwhile."""
        changed = self._condition()
        async with changed:
            self._leases[model].pop(lease, None)
            changed.notify_all()

    async def in_flight(self, model: str) -> int:
        """Return the number of live leases of ``model``."""
        return len(self._live_leases(model))

    def _live_leases(self, model: str) -> dict[str, float]:
        leases = self._leases[model]
        now = time.monotonic()
        for lease in [lease for lease, ends in leases.items() if ends <= now]:
            del leases[lease]
        return leases

    def _condition(self) -> asyncio.Condition:
        # Made on first use, inside the actor's event loop.
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed


class RemoteLimits:
    """A gateway's concurrency limits, held by a SlotLedger actor for the whole run.

    It has the interface of routing.ConcurrencyLimits, which a gateway's routes use.
    """

    def __init__(self, ledger: Any, limits: dict[str, int], lease_s: float) -> None:
        self.ledger = ledger
        self._limits = dict(limits)
        self.lease_s = lease_s

    def limit(self, model: str) -> int | None:
        return self._limits.get(model)

    def limited(self) -> dict[str, int]:
        return dict(self._limits)

    @contextmanager
    def slot(self, model: str) -> Iterator[None]:
        """Hold a lease on one of ``model``'s slots for the body of the with block."""
        if model not in self._limits:
            yield
            return

        import ray

        lease = ray.get(self.ledger.acquire.remote(model, self.lease_s))
        try:
            yield
        finally:
            ray.get(self.ledger.release.remote(model, lease))
