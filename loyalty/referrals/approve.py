"""A merchant approves a blocked referral (they reviewed it and it is genuine).

One transaction on the referral's locked row: only `blocked` moves (else
`referral_not_blocked`, 409; another shop's or an unknown id: `referral_not_found`, 404). The
block reason stays recorded beside who approved it and when. Blocked at the start (no order
yet): it becomes `pending` with a fresh expiry and the friend's reward code is owed. Blocked at
the friend's first order: it becomes `friend_converted` and the advocate is paid at once
(`completed`), exactly once (loyalty.referrals.payout).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from loyalty.ledger.activity import ActivityRow, record
from loyalty.models import ActorType, Referral, ReferralStatus, Reward, Shop
from loyalty.referrals.errors import ReferralNotBlockedError, ReferralNotFoundError
from loyalty.referrals.payout import pay_advocate
from loyalty.referrals.programme import load_programme
from loyalty.referrals.start import owe_friend_code
from loyalty.referrals.views import ReferralView, load


@dataclass(frozen=True, slots=True)
class ApprovedReferral:
    referral: ReferralView
    jobs: list[str]  # notify the dispatcher after commit


async def approve_referral(
    *, shop_id: int, referral_id: str, staff: str | None, now: datetime
) -> ApprovedReferral:
    """Approve the shop's blocked referral `referral_id` (its public id); see the module."""
    async with in_transaction():
        referral = (
            await Referral.filter(shop_id=shop_id, public_id=referral_id)
            .select_for_update()
            .first()
        )
        if referral is None:
            raise ReferralNotFoundError("No referral with that id exists")
        if referral.status != ReferralStatus.BLOCKED:
            raise ReferralNotBlockedError(
                f"Only a blocked referral can be approved; this one is {referral.status}"
            )
        shop = await Shop.get(id=shop_id)
        programme = await load_programme(shop_id)
        converted = referral.order_id is not None
        referral.status = ReferralStatus.FRIEND_CONVERTED if converted else ReferralStatus.PENDING
        referral.approved_by = (staff or "staff")[:255]
        referral.approved_at = now
        referral.updated_at = now
        if converted:
            referral.converted_at = now
        else:
            referral.expires_at = now + timedelta(days=programme.pending_days)
        await referral.save(
            update_fields=[
                "status", "approved_by", "approved_at", "updated_at", "converted_at", "expires_at",
            ]
        )  # fmt: skip
        data = {"referral_id": referral.public_id, "block_reason": str(referral.block_reason)}
        await record(
            ActivityRow(
                shop_id, referral.advocate_id, "referral_approved", now, data,
                ActorType.STAFF, staff,
            )
        )  # fmt: skip
        if converted:
            jobs = await pay_advocate(shop=shop, referral=referral, now=now)
        else:
            reward = (
                await Reward.get_or_none(
                    id=programme.friend_reward_id, shop_id=shop_id, is_active=True
                )
                if programme.friend_reward_id
                else None
            )
            jobs = await owe_friend_code(referral, reward, now)
    return ApprovedReferral(await load(referral.id), sorted(jobs))
