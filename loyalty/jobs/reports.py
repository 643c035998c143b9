"""The reports' upkeep job: fold the customer-count change rows of every shop that has gathered
many (loyalty.reports.customer_counts). Safe to run twice or concurrently: a fold never moves
a sum."""

from __future__ import annotations

from loyalty.outbox.queue import JobQueue
from loyalty.reports import customer_counts
from loyalty.sync.deps import JobDeps


async def fold_customer_counts(deps: JobDeps, queue: JobQueue) -> int:
    """Fold every crowded shop's rows; returns how many shops were folded."""
    return await customer_counts.fold_crowded_shops()
