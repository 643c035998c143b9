"""How a decided redemption is written, under its customer's row lock (loyalty.rewards.redeem
decides; this writes): the debit of the oldest lots first, the redemption row, its activity row,
the code intent and the customer's sync intents, in the caller's transaction. One statement for
a whole batch on PostgreSQL (loyalty.ledger.redemptions_pg), one at a time on SQLite. A debit
the balance does not cover writes nothing of its redemption (`None`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from loyalty.clock import utcnow
from loyalty.db import dialect
from loyalty.jobs import JobName
from loyalty.ledger.activity import ActivityRow, record
from loyalty.ledger.redemptions import spend_points
from loyalty.ledger.redemptions_pg import PgRedemption, redeem_pg
from loyalty.models import Redemption, Reward
from loyalty.outbox.intents import write_customer_intent, write_customer_sync_intents

if TYPE_CHECKING:
    from loyalty.rewards.redeem import Planned, RedemptionRequest

REDEEMED_EVENT = "points_redeemed"

Written = tuple[int, list[str]] | None  # (balance after, jobs owed); None: balance too low


async def write(planned: Sequence[Planned]) -> list[Written]:
    """Write the planned redemptions, each of another customer whose row this transaction
    locked: one statement on PostgreSQL, one at a time on SQLite."""
    if dialect() == "postgres":
        return await _write_pg(planned)
    return [await _write(p.request, p.redemption) for p in planned]


def _activity(redemption: Redemption, reward: Reward) -> dict[str, object]:
    return {
        "redemption_id": redemption.public_id,
        "reward_id": reward.public_id,
        "points": redemption.points_spent,
        "code": redemption.code,
    }


def _code_intent(redemption: Redemption) -> dict[str, object]:
    return {"redemption_id": redemption.public_id, "action": "create"}


def _sync_reason(redemption: Redemption) -> dict[str, object]:
    return {"event": REDEEMED_EVENT, "redemption_id": redemption.public_id}


async def _write(req: RedemptionRequest, redemption: Redemption) -> tuple[int, list[str]] | None:
    """The writes one statement at a time (SQLite, one writer): the debit and its lots, the
    row, the activity row, the intents. None: the balance does not cover it, nothing written."""
    reward, now, customer_id = req.reward, req.now, redemption.customer_id
    spent = await spend_points(customer_id=customer_id, points=req.points, now=now)
    if spent is None:
        return None
    redemption.spent_lots = spent.lots
    await redemption.save()
    actor = (req.actor.type, req.actor.id)
    activity = _activity(redemption, reward)
    await record(ActivityRow(reward.shop_id, customer_id, "reward_redeemed", now, activity, *actor))
    jobs = {
        await write_customer_intent(
            shop_id=reward.shop_id,
            customer_id=customer_id,
            job=JobName.SYNC_REWARD_CODES,
            payload=_code_intent(redemption),
            now=now,
        )
    }
    jobs.update(
        await write_customer_sync_intents(
            shop_id=reward.shop_id,
            customer_id=customer_id,
            reason=_sync_reason(redemption),
            now=now,
        )
    )
    return spent.balance_after, sorted(jobs)


async def _write_pg(planned: Sequence[Planned]) -> list[Written]:
    """The same writes as one statement for all (loyalty.ledger.redemptions_pg): one round trip
    under the customers' locks instead of six or more each."""
    stamp = utcnow()  # as the ORM stamps created_at: when the row is written
    batch = [
        PgRedemption(
            public_id=r.public_id,
            shop_id=r.shop_id,
            customer_id=r.customer_id,
            reward_id=r.reward_id,
            kind=str(r.kind),
            points=r.points_spent,
            value=r.value,
            currency_code=r.currency_code,
            code=r.code,
            now=p.request.now,
            stamp=stamp,
            expires_at=r.expires_at,
            idempotency_key=r.idempotency_key,
            actor_type=str(p.request.actor.type),
            actor_id=p.request.actor.id,
            activity=_activity(r, p.request.reward),
            code_intent=_code_intent(r),
            sync_reason=_sync_reason(r),
        )
        for p in planned
        for r in (p.redemption,)
    ]
    results: list[Written] = []
    for p, written in zip(planned, await redeem_pg(batch), strict=True):
        if written is None:
            results.append(None)
            continue
        p.redemption.id = written.id
        p.redemption.spent_lots = written.spent_lots
        p.redemption.created_at = p.redemption.updated_at = stamp
        results.append((written.balance_after, written.jobs))
    return results
