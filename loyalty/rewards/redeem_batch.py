"""Group commit for redemptions on PostgreSQL: the redemptions a process is asked for at the same
moment share one transaction of four round trips (BEGIN; one read locking every customer; one
write statement; COMMIT) instead of four round trips each.

`new_batcher()` makes the process's batcher (loyalty.batching.TurnBatcher: whatever arrived in
the same event-loop turn goes now, a request never waits for a batch to fill);
loyalty.rewards.redeem.redeem submits to it and runs on its own whatever the batch leaves to it.

Guarantees, per redemption, whatever else shares its batch: it is decided by the same rules
and in the same order as a redemption alone (loyalty.rewards.redeem: `usable`, `decide`,
`write`, `finish`), under its customer's row lock, taken by the batch's first statement before
anything is read for it (so the write sees every change committed before the lock, as alone);
its refusal writes nothing and never stops the others. What a batch does not decide runs alone,
after the batch has committed or rolled back (`ALONE`):
- a customer not found (the single path works out which refusal it is);
- a second redemption by a customer already in the batch: one statement cannot move a row
  twice, and alone it sees the first one's debit (50 simultaneous redemptions by one customer
  whose balance covers one: one succeeds, 49 are refused for their balance, in any batching);
- every redemption of a batch whose transaction failed (a code or idempotency key taken, a lost
  connection): it rolled back and wrote nothing, so each is decided again alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from tortoise.transactions import in_transaction

from loyalty.errors import DomainError
from loyalty.rewards.redeem import (
    ALONE,
    Ask,
    Batcher,
    Planned,
    Redeemed,
    RunAlone,
    decide,
    finish,
    usable,
    wanted,
)
from loyalty.rewards.redeem_pg import find_and_lock
from loyalty.rewards.redemption_writes import write

log = logging.getLogger(__name__)

Outcome = Redeemed | RunAlone | BaseException


def new_batcher() -> Batcher:
    """One per process (its lifespan makes it); batches of up to 64, four at a time (the pool
    holds ten connections)."""
    return Batcher(run_batch, max_batch=64, max_in_flight=4)


async def run_batch(asks: Sequence[Ask]) -> list[Outcome]:
    """One outcome per ask, in order (see the module)."""
    outcomes: list[Outcome] = [ALONE] * len(asks)
    try:
        async with in_transaction():
            await _decide_and_write(asks, outcomes)
    except Exception as exc:  # rolled back: nothing was written, each is decided alone
        log.info("redemption batch of %d rolled back (%s); each runs alone", len(asks), exc)
        return [ALONE] * len(asks)
    return outcomes


async def _decide_and_write(asks: Sequence[Ask], outcomes: list[Outcome]) -> None:
    found = await find_and_lock([wanted(a) for a in asks])
    customers: set[int] = set()
    planned: list[tuple[int, Planned]] = []
    for i, (ask, row) in enumerate(zip(asks, found, strict=True)):
        if row is None or row.customer.id in customers:
            continue  # left ALONE
        customers.add(row.customer.id)
        try:
            decided = await decide(ask, *usable(ask, row))
        except DomainError as refused:
            outcomes[i] = refused
            continue
        if isinstance(decided, Redeemed):
            outcomes[i] = decided
        else:
            planned.append((i, decided))
    if not planned:
        return
    written = await write([p for _, p in planned])
    for (i, p), w in zip(planned, written, strict=True):
        try:
            outcomes[i] = finish(p, w)
        except DomainError as refused:
            outcomes[i] = refused
