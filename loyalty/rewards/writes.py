"""A redemption's rows, once its checks passed (loyalty.rewards.redeem): the debit and its
lots, the redemption row, the `reward_redeemed` activity row, the code intent and the
customer-sync intents carrying the "points redeemed" event, all in the caller's transaction
(or, on PostgreSQL, as one statement: loyalty.ledger.redemptions_pg).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from loyalty.clock import utcnow
from loyalty.db import dialect
from loyalty.earning.award import Actor
from loyalty.jobs import JobName
from loyalty.ledger.activity import ActivityRow, record
from loyalty.ledger.redemptions import spend_points
from loyalty.ledger.redemptions_pg import PgRedemption, redeem_pg
from loyalty.models import Redemption, Reward
from loyalty.outbox.intents import write_customer_intent, write_customer_sync_intents

REDEEMED_EVENT = "points_redeemed"


@dataclass(frozen=True, slots=True)
class Request:
    """What a redemption spends and grants, and for whom, as its checks found it."""

    reward: Reward
    points: int
    value: Decimal
    currency_code: str
    idempotency_key: str | None
    actor: Actor
    now: datetime
    seen_version: str | None = None  # unlocked: the customer row's version checked


async def write(req: Request, redemption: Redemption) -> tuple[int, list[str]] | None:
    """Write `redemption` (built, not saved) and its rows: (balance after, jobs to notify), or
    None when the balance does not cover it (or, given `seen_version`, the customer changed
    since it was read), nothing written."""
    if dialect() == "postgres":
        return await _write_pg(req, redemption)
    return await _write_statements(req, redemption)


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


async def _write_statements(req: Request, redemption: Redemption) -> tuple[int, list[str]] | None:
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


async def _write_pg(req: Request, redemption: Redemption) -> tuple[int, list[str]] | None:
    """The same writes as one statement (loyalty.ledger.redemptions_pg): one round trip under the
    customer's lock instead of six or more."""
    stamp = utcnow()  # as the ORM stamps created_at: when the row is written
    written = await redeem_pg(
        PgRedemption(
            public_id=redemption.public_id,
            shop_id=redemption.shop_id,
            customer_id=redemption.customer_id,
            reward_id=redemption.reward_id,
            kind=str(redemption.kind),
            points=redemption.points_spent,
            value=redemption.value,
            currency_code=redemption.currency_code,
            code=redemption.code,
            now=req.now,
            stamp=stamp,
            seen_version=req.seen_version,
            expires_at=redemption.expires_at,
            idempotency_key=redemption.idempotency_key,
            actor_type=str(req.actor.type),
            actor_id=req.actor.id,
            activity=_activity(redemption, req.reward),
            code_intent=_code_intent(redemption),
            sync_reason=_sync_reason(redemption),
        )
    )
    if written is None:
        return None
    redemption.id = written.id
    redemption.spent_lots = written.spent_lots
    redemption.created_at = redemption.updated_at = stamp
    return written.balance_after, written.jobs
