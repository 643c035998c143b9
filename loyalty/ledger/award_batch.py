"""Group commit for the award API: the awards a process makes at the same moment go to the
database together, one batch at a time per slot, on either dialect.

`AwardBatcher` gathers them: whatever arrived in the same event-loop turn goes now (a request
never waits for a batch to fill), and while the process's batches are all running the next one
keeps filling, up to `max_batch`. The batch runs as loyalty.ledger.award_batch_pg (one
statement, PostgreSQL) or loyalty.ledger.award_batch_sqlite (one transaction written in one
call into SQLite's connection thread). On SQLite, with one writer, one batch runs at a time.

Guarantees, per request, whatever else shares its batch: its row is the one its own checks
produce (the single award's, loyalty.earning.award); duplicates within a batch or across
batches meet the same unique index; a batch that fails as a whole (it wrote nothing) is retried
one request at a time, so one request's problem is never another's; an award refused at the
balance ceiling writes nothing and never stops the others (`over_limit` in its row).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loyalty.batching import TurnBatcher
from loyalty.db import dialect
from loyalty.ledger import award_batch_pg, award_batch_sqlite

log = logging.getLogger(__name__)

Row = dict[str, Any]
Outcome = Row | BaseException  # SQLite settles each award on its own: a row or its exception


@dataclass(frozen=True, slots=True)
class BatchAward:
    """One award's inputs, as the batch takes them."""

    shop_id: int
    rule_public_id: str
    shopify_customer_id: int | None
    email_key: str | None
    entry_public_id: str
    now: datetime
    api_key_id: int | None  # re-verified in the batch; None for storefront awards
    actor_type: str
    actor_id: str | None


async def run_awards(awards: Sequence[BatchAward]) -> list[Outcome]:
    """Run `awards` as one batch in this database's way; one outcome per award, in order."""
    if dialect() == "postgres":
        return list(await award_batch_pg.run_awards_retried(awards))
    return await award_batch_sqlite.run_awards(awards)


class AwardBatcher:
    """Gathers this process's concurrent awards into batches (loyalty.batching). One per
    process, created by its lifespan; `max_in_flight` batches run at once on PostgreSQL, one on
    SQLite."""

    def __init__(self, *, max_batch: int = 64, max_in_flight: int = 4) -> None:
        def slots() -> int:
            # SQLite has one writer: a second batch would only queue for the lock, taking
            # awards from the batch that fills meanwhile.
            return 1 if dialect() == "sqlite" else max_in_flight

        self._turns: TurnBatcher[BatchAward, Row] = TurnBatcher(
            _run_isolated, max_batch=max_batch, max_in_flight=slots
        )

    @property
    def batches(self) -> int:
        return self._turns.batches

    @property
    def largest_batch(self) -> int:
        return self._turns.largest_batch

    async def submit(self, award: BatchAward) -> Row:
        return await self._turns.submit(award)


async def _run_isolated(batch: Sequence[BatchAward]) -> list[Outcome]:
    """One outcome per award of `batch`, whatever the others' fate."""
    try:
        rows = await run_awards(batch)
    except Exception as exc:
        if len(batch) == 1:
            return [exc]
        # Nothing was written (the batch is atomic): isolate whichever award failed.
        log.warning("award batch of %d failed (%s); retrying one by one", len(batch), exc)
        outcomes: list[Outcome] = []
        for award in batch:
            try:
                outcomes.append((await run_awards([award]))[0])
            except Exception as single:
                outcomes.append(single)
        return outcomes
    await _retry_refused_alone(batch, rows)
    return rows


async def _retry_refused_alone(batch: Sequence[BatchAward], rows: list[Outcome]) -> None:
    """Awards refused at the balance ceiling in a batch that also held other awards to the same
    customer were refused for the running total of the batch (PostgreSQL); run each again
    alone, in order (the batch has committed), so each is decided as if it had come alone. Rows
    are replaced in place."""
    customers = [r["customer_pk"] for r in rows if isinstance(r, dict) and r["customer_pk"]]
    for i, row in enumerate(rows):
        if isinstance(row, dict) and row["over_limit"] and customers.count(row["customer_pk"]) > 1:
            try:
                rows[i] = (await run_awards([batch[i]]))[0]
            except Exception as exc:
                rows[i] = exc
