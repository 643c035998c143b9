"""Paying the advocate for a converted referral, once: the active `referral` rule's points
(loyalty.earning.grants: tier multiplier, approval time, the ceiling; entry dedupe key
`referral:<id>`, unique per customer, so however many first orders or deliveries race, one
entry) and the programme's advocate reward, if any (a redemption costing no points, idempotency
key `referral:<public id>`, unique per shop, its code made by the `sync_reward_codes` job).

The referral moves `friend_converted` → `completed` by a conditional update in the same
transaction; an excluded advocate is not paid and the referral stays `friend_converted`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from loyalty.earning.grants import active_rule, grant
from loyalty.jobs import JobName
from loyalty.ledger.activity import ActivityRow, record
from loyalty.models import (
    Customer,
    EarningHistoryEntry,
    Redemption,
    Referral,
    ReferralStatus,
    Reward,
    RuleCategory,
    Shop,
)
from loyalty.outbox.intents import write_customer_intent, write_customer_sync_intents
from loyalty.referrals.programme import load_programme
from loyalty.rewards.redeem import new_code, new_redemption_id

COMPLETED_EVENT = "referral_completed"
SENT_EVENT = "referral_sent"


def dedupe_key(referral: Referral) -> str:
    return f"referral:{referral.id}"


async def pay_advocate(*, shop: Shop, referral: Referral, now: datetime) -> list[str]:
    """Pay a `friend_converted` referral's advocate and complete it (see the module); the jobs
    owed after commit. Call inside the transaction that holds the referral's row."""
    advocate = await Customer.get(id=referral.advocate_id)
    if advocate.is_excluded:
        return []
    jobs: set[str] = set()
    rule = await active_rule(shop.id, RuleCategory.REFERRAL)
    entry_id = None
    if rule is not None:
        jobs.update(
            await grant(
                shop=shop,
                rule=rule,
                customer_id=advocate.id,
                dedupe_key=dedupe_key(referral),
                now=now,
            )
            or []
        )
        entry_id = await EarningHistoryEntry.filter(
            customer_id=advocate.id, dedupe_key=dedupe_key(referral)
        ).values_list("public_id", flat=True)
    redemption_id, reward_jobs = await _advocate_reward(shop, referral, advocate, now)
    jobs.update(reward_jobs)
    changed = await Referral.filter(id=referral.id, status=ReferralStatus.FRIEND_CONVERTED).update(
        status=ReferralStatus.COMPLETED,
        completed_at=now,
        updated_at=now,
        advocate_entry_id=entry_id[0] if entry_id else None,
        advocate_redemption_id=redemption_id,
    )
    if not changed:
        return sorted(jobs)
    data = {"referral_id": referral.public_id, "entry_id": entry_id[0] if entry_id else None}
    await record(ActivityRow(shop.id, advocate.id, "referral_completed", now, data))
    jobs.update(
        await write_customer_sync_intents(
            shop_id=shop.id,
            customer_id=advocate.id,
            reason={"event": COMPLETED_EVENT, "referral_id": referral.public_id},
            now=now,
        )
    )
    return sorted(jobs)


async def _advocate_reward(
    shop: Shop, referral: Referral, advocate: Customer, now: datetime
) -> tuple[str | None, list[str]]:
    programme = await load_programme(shop.id)
    if programme.advocate_reward_id is None:
        return None, []
    reward = await Reward.get_or_none(
        id=programme.advocate_reward_id, shop_id=shop.id, is_active=True
    )
    if reward is None:
        return None, []
    key = f"referral:{referral.public_id}"
    existing = await Redemption.get_or_none(shop_id=shop.id, idempotency_key=key)
    if existing is not None:
        return existing.public_id, []
    validity = reward.code_validity_days
    code_kind = reward.kind != "store_credit"
    redemption = await Redemption.create(
        public_id=new_redemption_id(),
        shop_id=shop.id,
        customer_id=advocate.id,
        reward_id=reward.id,
        kind=reward.kind,
        points_spent=0,
        value=reward.value,
        currency_code=None if code_kind else shop.currency_code,
        code=new_code() if code_kind else None,
        spent_lots=[],
        redeemed_at=now,
        expires_at=now + timedelta(days=validity) if validity and code_kind else None,
        idempotency_key=key,
        metadata={"referral_id": referral.public_id},
    )
    data = {
        "redemption_id": redemption.public_id,
        "reward_id": reward.public_id,
        "points": 0,
        "code": redemption.code,
        "referral_id": referral.public_id,
    }
    await record(ActivityRow(shop.id, advocate.id, "reward_redeemed", now, data))
    job = await write_customer_intent(
        shop_id=shop.id,
        customer_id=advocate.id,
        job=JobName.SYNC_REWARD_CODES,
        payload={"redemption_id": redemption.public_id, "action": "create"},
        now=now,
    )
    return redemption.public_id, [job]
