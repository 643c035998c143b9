"""A referral as every surface shows it (the public API, the admin, the storefront)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from loyalty.models import Referral


@dataclass(frozen=True, slots=True)
class ReferralView:
    id: str  # "ref_…"
    status: str
    block_reason: str | None
    advocate_shopify_customer_id: int
    advocate_email: str | None
    friend_email: str
    friend_shopify_customer_id: int | None
    friend_reward_id: str | None  # the reward's public id
    friend_code: str | None
    friend_code_status: str | None
    friend_code_expires_at: datetime | None
    order_id: int | None
    order_number: str | None
    advocate_entry_id: str | None
    advocate_redemption_id: str | None
    approved_by: str | None
    approved_at: datetime | None
    expires_at: datetime | None
    converted_at: datetime | None
    completed_at: datetime | None
    reversed_at: datetime | None
    created_at: datetime
    updated_at: datetime


def view(referral: Referral) -> ReferralView:
    """The view of a referral loaded with `advocate`, `friend_customer` and `friend_reward`."""
    friend = referral.friend_customer if referral.friend_customer_id else None
    reward = referral.friend_reward if referral.friend_reward_id else None
    return ReferralView(
        id=referral.public_id,
        status=str(referral.status),
        block_reason=str(referral.block_reason) if referral.block_reason else None,
        advocate_shopify_customer_id=referral.advocate.shopify_customer_id,
        advocate_email=referral.advocate.email,
        friend_email=referral.friend_email,
        friend_shopify_customer_id=friend.shopify_customer_id if friend else None,
        friend_reward_id=reward.public_id if reward else None,
        friend_code=referral.friend_code,
        friend_code_status=str(referral.friend_code_status)
        if referral.friend_code_status
        else None,
        friend_code_expires_at=referral.friend_code_expires_at,
        order_id=referral.order_id,
        order_number=referral.order_number,
        advocate_entry_id=referral.advocate_entry_id,
        advocate_redemption_id=referral.advocate_redemption_id,
        approved_by=referral.approved_by,
        approved_at=referral.approved_at,
        expires_at=referral.expires_at,
        converted_at=referral.converted_at,
        completed_at=referral.completed_at,
        reversed_at=referral.reversed_at,
        created_at=referral.created_at,
        updated_at=referral.updated_at,
    )


RELATED = ("advocate", "friend_customer", "friend_reward")


async def load(referral_id: int) -> ReferralView:
    """The view of the referral with this primary key."""
    row = await Referral.get(id=referral_id).select_related(*RELATED)
    return view(row)
