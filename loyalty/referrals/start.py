"""A friend arrives through an advocate's link and gives their email: `start_referral`.

One transaction, serialised per shop (the programme row is locked, so the IP and device counts
of concurrent starts see each other): the referral is recorded `pending` (expiring after the
programme's `pending_days`) with the friend's reward code owed (`sync_referral_codes` makes it
in Shopify, loyalty.referrals.friend_codes), or `blocked` with the first start-time fraud rule
that fired (loyalty.referrals.checks) and no code. The advocate's activity log says so and a
"referral sent" event goes to the marketing platforms.

Idempotent per (shop, friend email normalised by loyalty.customers.referral_emails): the
unique index holds one referral per friend per shop, whoever the advocate, and a repeat returns
it (`created` False) without writing anything. Errors (nothing written): `invalid_email`,
`referrals_disabled` (the shop's programme or referrals are off), `referral_code_not_found`
(no such code, or its owner is excluded from the programme).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from loyalty import ids
from loyalty.customers.referral_emails import looks_like_email, referral_email_key
from loyalty.jobs import JobName
from loyalty.ledger.activity import ActivityRow, record
from loyalty.models import CodeStatus, Customer, Referral, ReferralStatus, Reward, Shop
from loyalty.outbox.intents import write_customer_intent, write_customer_sync_intents
from loyalty.referrals.checks import Arrival, at_start
from loyalty.referrals.codes import find_advocate
from loyalty.referrals.errors import (
    InvalidEmailError,
    ReferralCodeNotFoundError,
    ReferralsDisabledError,
)
from loyalty.referrals.payout import SENT_EVENT
from loyalty.referrals.programme import load_programme, programme_view
from loyalty.referrals.views import ReferralView, load
from loyalty.rewards.spec import discount_code

REFERRAL = "ref"
FRIEND_CODE_PREFIX = "FRIEND-"


@dataclass(frozen=True, slots=True)
class StartedReferral:
    referral: ReferralView
    created: bool  # False: this friend was referred before (the first referral is returned)
    jobs: list[str]  # notify the dispatcher after commit
    # The arrival came from the browser that started the referral (same device id): only then
    # may a repeat be shown the friend's code, or anyone who knows a referred friend's email
    # could read their code off the landing.
    same_device: bool = True


def new_friend_code() -> str:
    return discount_code(FRIEND_CODE_PREFIX)


async def start_referral(
    *,
    shop: Shop,
    code: str,
    friend_email: str,
    ip: str | None,
    device_id: str | None,
    now: datetime,
) -> StartedReferral:
    """Record the friend's arrival (see the module)."""
    email = friend_email.strip()
    key = referral_email_key(email)
    if not looks_like_email(email) or key is None:
        raise InvalidEmailError("Enter a valid email address", pointer="/email")
    async with in_transaction():
        row = await load_programme(shop.id, for_update=True)
        if not (shop.programme_enabled and row.enabled):
            raise ReferralsDisabledError("This shop's referral programme is off")
        advocate_id = await find_advocate(shop_id=shop.id, code=code)
        advocate = await Customer.get_or_none(id=advocate_id) if advocate_id else None
        if advocate is None or advocate.is_excluded or advocate.redacted_at is not None:
            raise ReferralCodeNotFoundError("No member has this referral code")
        existing = await Referral.get_or_none(shop_id=shop.id, friend_email_key=key)
        if existing is not None:
            device = _trim(device_id, 128)
            same = device is not None and existing.device_id == device
            return StartedReferral(await load(existing.id), False, [], same_device=same)
        programme = await programme_view(row)
        arrival = Arrival(shop.id, advocate, email, _trim(ip, 64), _trim(device_id, 128), now)
        reason = await at_start(arrival, programme)
        reward = await _friend_reward(shop.id, row.friend_reward_id) if reason is None else None
        referral = await Referral.create(
            public_id=ids.new_public_id(REFERRAL),
            shop_id=shop.id,
            advocate_id=advocate.id,
            friend_email=email[:255],
            friend_email_key=key[:255],
            status=ReferralStatus.BLOCKED if reason else ReferralStatus.PENDING,
            block_reason=reason,
            ip=arrival.ip,
            device_id=arrival.device_id,
            expires_at=None if reason else now + timedelta(days=row.pending_days),
            created_at=now,
            updated_at=now,
        )
        jobs = set(await owe_friend_code(referral, reward, now))
        data = {
            "referral_id": referral.public_id,
            "status": str(referral.status),
            "block_reason": str(reason) if reason else None,
        }
        await record(ActivityRow(shop.id, advocate.id, "referral_started", now, data))
        if reason is None:
            jobs.update(
                await write_customer_sync_intents(
                    shop_id=shop.id,
                    customer_id=advocate.id,
                    reason={"event": SENT_EVENT, "referral_id": referral.public_id},
                    now=now,
                )
            )
    return StartedReferral(await load(referral.id), True, sorted(jobs))


async def owe_friend_code(referral: Referral, reward: Reward | None, now: datetime) -> list[str]:
    """Give the referral the friend's code (once) and owe its creation in Shopify; nothing when
    the shop has no usable friend reward. Inside the referral's transaction."""
    if reward is None or referral.friend_code is not None:
        return []
    validity = reward.code_validity_days
    referral.friend_reward_id = reward.id
    referral.friend_code = new_friend_code()
    referral.friend_code_status = CodeStatus.PENDING
    referral.friend_code_expires_at = now + timedelta(days=validity) if validity else None
    referral.updated_at = now
    await referral.save(
        update_fields=[
            "friend_reward_id",
            "friend_code",
            "friend_code_status",
            "friend_code_expires_at",
            "updated_at",
        ]
    )
    job = await write_customer_intent(
        shop_id=referral.shop_id,
        customer_id=referral.advocate_id,
        job=JobName.SYNC_REFERRAL_CODES,
        payload={"referral_id": referral.public_id, "action": "create"},
        now=now,
    )
    return [job]


async def _friend_reward(shop_id: int, reward_id: int | None) -> Reward | None:
    if reward_id is None:
        return None
    return await Reward.get_or_none(id=reward_id, shop_id=shop_id, is_active=True)


def _trim(value: str | None, length: int) -> str | None:
    value = (value or "").strip()
    return value[:length] or None
