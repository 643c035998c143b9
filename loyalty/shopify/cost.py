"""Pacing Admin GraphQL calls by Shopify's own cost data, so a burst of metafield writes waits
for the shop's bucket instead of running into `THROTTLED`.

Shopify meters each app per store with a leaky bucket of query cost and reports it on every
answer (`extensions.cost.throttleStatus`: `currentlyAvailable`, `maximumAvailable`,
`restoreRate`). This keeps, per shop and in this process, the last reported figure refilled at
the restore rate, debits each call's expected cost (the last call's requested cost) before it
goes, and answers how long to wait when the bucket cannot cover it. Calls still in flight are
taken off each new report, since Shopify has not counted them yet. Before the first answer
for a shop nothing is known and nothing waits; `THROTTLED` stays the second line.
https://shopify.dev/docs/api/usage/limits#graphql-admin-api-rate-limits
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

URGENT_ROOM_SECONDS = 1.0  # of restore kept for urgent calls: 100 points (10 codes) on Standard


@dataclass
class _Bucket:
    available: float
    maximum: float
    restore: float  # points per second
    at: float
    cost: float  # expected cost of the next call


class CostBudget:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._shops: dict[int, _Bucket] = {}
        self._in_flight: dict[int, int] = {}  # counted before any report, too

    def knows(self, shop_id: int) -> bool:
        """Whether Shopify has reported this shop's bucket (then `reserve` paces the retry)."""
        return shop_id in self._shops

    def room_wait(self, shop_id: int) -> float:
        """For a background call: seconds until the bucket holds its cost above the urgent
        calls' room (0.0: go on to `reserve`). Takes nothing: ask again after waiting, since
        urgent calls may have spent what the wait restored."""
        bucket = self._shops.get(shop_id)
        if bucket is None:
            return 0.0
        available = min(
            bucket.maximum, bucket.available + (self._clock() - bucket.at) * bucket.restore
        )
        room = min(bucket.restore * URGENT_ROOM_SECONDS, bucket.maximum / 2)
        short = room + bucket.cost - available
        return short / bucket.restore if short > 0 else 0.0

    def reserve(self, shop_id: int) -> float:
        """Count a call as going out; the seconds to wait before sending it (0.0: now)."""
        self._in_flight[shop_id] = self._in_flight.get(shop_id, 0) + 1
        bucket = self._shops.get(shop_id)
        if bucket is None:
            return 0.0
        now = self._clock()
        bucket.available = min(
            bucket.maximum, bucket.available + (now - bucket.at) * bucket.restore
        )
        bucket.at = now
        bucket.available -= bucket.cost
        return 0.0 if bucket.available >= 0 else -bucket.available / bucket.restore

    def settle(self, shop_id: int, extensions: dict[str, Any] | None) -> None:
        """A call came back (with Shopify's cost report, when it carried one)."""
        in_flight = max(0, self._in_flight.get(shop_id, 0) - 1)
        self._in_flight[shop_id] = in_flight
        cost = (extensions or {}).get("cost") or {}
        status = cost.get("throttleStatus") or {}
        try:
            available = float(status["currentlyAvailable"])
            maximum = float(status["maximumAvailable"])
            restore = float(status["restoreRate"])
            # An answer without the call's cost keeps the last known one (not 1: that would
            # let a burst of real 10-point calls through on a 1-point estimate).
            previous = self._shops[shop_id].cost if shop_id in self._shops else 1.0
            requested = float(cost.get("requestedQueryCost") or previous)
        except (KeyError, TypeError, ValueError):
            return  # no usable report: keep the estimate
        if restore <= 0:
            return
        self._shops[shop_id] = _Bucket(
            available=available - in_flight * max(1.0, requested),
            maximum=maximum,
            restore=restore,
            at=self._clock(),
            cost=max(1.0, requested),
        )
