"""Re-placing a shop's customers on its VIP tiers after a tier edit, as a background job.

A tier create or edit (loyalty.tiers.configuration) writes a shop-level `place_vip_tiers`
intent in its own transaction (`queue_placement`) and answers at once; the job (`place_tiers`)
claims the shop's pending placement intents, re-places every customer set-based, a chunk of
customers per transaction (loyalty.ledger.tier_reassignment.reassign_in_chunks), and then
completes the intents.

Guarantees:
- no edit is left unplaced: its intent commits with it, and the outbox sweep re-dispatches an
  intent the queue never ran (or a run that died: its claim lapses);
- running twice, or two runs at once, moves no one twice: the placement only moves customers
  whose tier differs from what their lifetime points earn, each under its row lock;
- edits queued before a run are placed by one pass, on the tiers as they are when it runs,
  attributed (activity rows, intent payloads) to the latest of them.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.ledger.tier_reassignment import TierReassignment, reassign_in_chunks
from loyalty.models import IntentOutcome, OutboxIntent, Shop
from loyalty.outbox import claims

JOB = JobName.PLACE_VIP_TIERS
SHOP_KEY = 0  # the claims' customer key of shop-level intents
CLAIM_FOR = timedelta(minutes=10)  # renewed after every chunk


async def queue_placement(
    *, shop_id: int, reason: dict[str, str], staff_user_id: str | None, now: datetime
) -> str:
    """Owe a re-placement of the shop's customers. Call inside the tier edit's transaction;
    returns the job to notify after commit."""
    await OutboxIntent.create(
        shop_id=shop_id,
        customer_id=None,
        job=str(JOB),
        payload={**reason, "staff_user_id": staff_user_id},
        created_at=now,
    )
    return str(JOB)


async def placement_pending(*, shop_id: int) -> bool:
    """Whether a re-placement is queued or running for the shop."""
    return await OutboxIntent.filter(
        shop_id=shop_id, job=str(JOB), completed_at__isnull=True
    ).exists()


async def place_tiers(
    *, shop_id: int, now: datetime | None = None, chunk: int = 50_000
) -> TierReassignment:
    """Re-place the shop's customers for the placement intents pending now; the customers
    moved and the customer-sync jobs owed. Nothing when no intent is pending (or another run
    holds them); an uninstalled shop's intents are completed without placing."""
    now = now or utcnow()
    token = uuid.uuid4().hex  # claimed_by holds 32 characters
    held = await claims.claim(
        job=JOB,
        shop_id=shop_id,
        token=token,
        customer_keys=[SHOP_KEY],
        until=now + CLAIM_FOR,
        now=now,
    )
    if not held:
        return TierReassignment(0, [])
    ids = [intent.id for intent in held]
    latest = held[-1].payload
    shop = await Shop.get_or_none(id=shop_id)
    done = TierReassignment(0, [])
    if shop is not None and shop.uninstalled_at is None:

        async def still_mine() -> None:
            await claims.renew(token=token, ids=ids, until=utcnow() + CLAIM_FOR)

        try:
            done = await reassign_in_chunks(
                shop_id=shop_id,
                staff_user_id=latest.get("staff_user_id"),
                reason={k: str(latest[k]) for k in ("reason", "vip_tier_id") if latest.get(k)},
                chunk=chunk,
                now=now,
                between_chunks=still_mine,
            )
        except Exception as exc:
            await claims.hand_back(token=token, ids=ids, error=f"{type(exc).__name__}: {exc}")
            raise
    await claims.complete(token=token, ids=ids, outcome=IntentOutcome.DELIVERED, now=utcnow())
    return done
