"""A referral after it started, on SQLite and PostgreSQL: reversed when the converting order is
cancelled or fully refunded (orders/cancelled, refunds/create in Shopify's shapes), approved by
a merchant when blocked, expired when no first order came in time."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from loyalty.clock import utcnow
from loyalty.customers.compliance import export_customer_data, redact_customer, redact_shop
from loyalty.models import (
    Activity,
    CodeStatus,
    Customer,
    EarningHistoryEntry,
    EarningStatus,
    OutboxIntent,
    ReferralFingerprint,
    ReferralStatus,
    Shop,
)
from loyalty.referrals.approve import approve_referral
from loyalty.referrals.errors import ReferralNotBlockedError, ReferralNotFoundError
from loyalty.referrals.expiry import expire_referrals
from loyalty.referrals.reversal import on_order_undone
from tests.factories import create_shop
from tests.loyalty.earning.earn_by_webhook import send
from tests.loyalty.referrals.helpers import (
    advocate,
    arrive,
    paid_order,
    referral_rule,
    referral_shop,
    stored,
)
from tests.shopify_webhooks import order_payload, refund_payload
from web.state import Services

FRED = 9201
FRIEND = "fred.friend@example.com"
ORDER = 7001


async def completed_referral(
    client: httpx.AsyncClient, services: Services, **programme: object
) -> tuple[Customer, str]:
    """A shop paying 500 points, whose advocate's friend placed their first order (ORDER)."""
    shop = await referral_shop(points=500, **programme)
    ann, code = await advocate(shop)
    started = await arrive(shop, code, FRIEND)
    await send(client, services, "orders/paid", paid_order(ORDER, FRED, FRIEND))
    assert (await stored(started.referral.id)).status == "completed"
    return ann, started.referral.id


async def points(customer: Customer) -> tuple[int, int]:
    await customer.refresh_from_db()
    return customer.points_balance, customer.lifetime_points


class TestReversal:
    async def test_a_cancelled_converting_order_takes_the_points_back(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """orders/cancelled: a reversal entry, the balance and lifetime points back to 0, the
        referral `reversed`; the same cancellation again changes nothing."""
        ann, referral_id = await completed_referral(client, services)
        cancelled = order_payload(
            ORDER, customer=None, email=FRIEND, cancelled_at="2026-11-26T10:00:00-05:00"
        )
        await send(client, services, "orders/cancelled", cancelled)
        shop = await Shop.get(id=ann.shop_id)
        again = await on_order_undone(shop=shop, order_id=ORDER, cancelled=True, now=utcnow())
        assert again == []
        referral = await stored(referral_id)
        assert referral.status == "reversed" and referral.reversed_at is not None
        assert await points(ann) == (0, 0)
        reversal = await EarningHistoryEntry.get(
            customer_id=ann.id, reversed_entry_id__not_isnull=True
        )
        assert (reversal.points, reversal.action) == (-500, "order_cancelled")
        assert await Activity.filter(customer_id=ann.id, kind="referral_reversed").count() == 1

    async def test_a_partial_refund_keeps_it_a_full_one_reverses_it_once(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """$40 refunded of $100: nothing taken back. Then $60 more (the refund delivered twice
        counts once): the order is fully refunded, the 500 points go."""
        ann, referral_id = await completed_referral(client, services)
        await send(client, services, "refunds/create", refund_payload(801, ORDER, "40.00"))
        shop = await Shop.get(id=ann.shop_id)
        repeat = await on_order_undone(
            shop=shop,
            order_id=ORDER,
            cancelled=False,
            refund_id=801,
            refunded_subtotal=Decimal("40.00"),
            now=utcnow(),
        )
        assert repeat == []
        assert (await stored(referral_id)).status == "completed"
        assert await points(ann) == (500, 500)
        await send(client, services, "refunds/create", refund_payload(802, ORDER, "60.00"))
        assert (await stored(referral_id)).status == "reversed"
        assert await points(ann) == (0, 0)
        await send(client, services, "refunds/create", refund_payload(803, ORDER, "10.00"))
        assert await EarningHistoryEntry.filter(customer_id=ann.id).count() == 2

    async def test_pending_points_are_rejected_on_cancellation(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        shop = await referral_shop(points=None)
        await referral_rule(shop, points=500, approval_time_days=14)
        ann, code = await advocate(shop)
        started = await arrive(shop, code, FRIEND)
        await send(client, services, "orders/paid", paid_order(ORDER, FRED, FRIEND))
        cancelled = order_payload(
            ORDER, customer=None, email=FRIEND, cancelled_at="2026-11-26T10:00:00-05:00"
        )
        await send(client, services, "orders/cancelled", cancelled)
        [entry] = await EarningHistoryEntry.filter(customer_id=ann.id)
        assert entry.status == EarningStatus.REJECTED
        await ann.refresh_from_db()
        assert (ann.points_balance, ann.pending_points) == (0, 0)
        assert (await stored(started.referral.id)).status == "reversed"


class TestApproval:
    async def test_blocked_at_the_start_becomes_pending_with_the_friends_code(
        self, db: str
    ) -> None:
        shop = await referral_shop()
        ann, code = await advocate(shop)
        blocked = await arrive(shop, code, "ann.advocate@example.com")
        assert blocked.referral.status == "blocked"
        now = utcnow()
        approved = await approve_referral(
            shop_id=shop.id, referral_id=blocked.referral.id, staff="Mia (staff 42)", now=now
        )
        view = approved.referral
        assert (view.status, view.block_reason, view.approved_by) == (
            "pending",
            blocked.referral.block_reason,
            "Mia (staff 42)",
        )
        assert view.friend_code_status == str(CodeStatus.PENDING) and view.friend_code
        assert "sync_referral_codes" in approved.jobs
        row = await stored(view.id)
        assert row.expires_at is not None and row.expires_at - now == timedelta(days=30)
        approval = await Activity.get(customer_id=ann.id, kind="referral_approved")
        assert approval.actor_id == "Mia (staff 42)"

    async def test_blocked_at_the_order_is_paid_at_once_and_only_once(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        shop = await referral_shop(points=500)
        ann, code = await advocate(shop)
        started = await arrive(shop, code, FRIEND)
        old = paid_order(ORDER, FRED, FRIEND, created_at="2024-03-15T09:30:00-04:00")
        await send(client, services, "orders/paid", old)
        assert (await stored(started.referral.id)).block_reason == "friend_not_new"
        approved = await approve_referral(
            shop_id=shop.id, referral_id=started.referral.id, staff="staff", now=utcnow()
        )
        assert approved.referral.status == "completed"
        assert await points(ann) == (500, 500)
        with pytest.raises(ReferralNotBlockedError) as again:
            await approve_referral(
                shop_id=shop.id, referral_id=started.referral.id, staff="staff", now=utcnow()
            )
        assert again.value.code == "referral_not_blocked"
        assert await points(ann) == (500, 500)

    async def test_unknown_or_another_shops_referral_is_not_found(self, db: str) -> None:
        shop = await referral_shop()
        _, code = await advocate(shop)
        blocked = await arrive(shop, code, "ann.advocate@example.com")
        elsewhere = await create_shop()
        for shop_id, referral_id in ((shop.id, "ref_nope"), (elsewhere.id, blocked.referral.id)):
            with pytest.raises(ReferralNotFoundError) as missing:
                await approve_referral(
                    shop_id=shop_id, referral_id=referral_id, staff="x", now=utcnow()
                )
            assert missing.value.code == "referral_not_found"
        assert (await stored(blocked.referral.id)).status == "blocked"


class TestExpiry:
    async def test_pending_referrals_past_their_date_expire_and_convert_nothing(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        shop = await referral_shop(points=500, pending_days=7)
        ann, code = await advocate(shop)
        now = utcnow()
        old = await arrive(shop, code, FRIEND, now=now - timedelta(days=8))
        fresh = await arrive(shop, code, "other.friend@example.com", now=now - timedelta(days=1))
        assert await expire_referrals(now=now) == 1
        assert await expire_referrals(now=now) == 0
        assert (await stored(old.referral.id)).status == ReferralStatus.EXPIRED
        assert (await stored(fresh.referral.id)).status == ReferralStatus.PENDING
        await send(client, services, "orders/paid", paid_order(ORDER, FRED, FRIEND))
        assert await points(ann) == (0, 0)
        payloads = await OutboxIntent.all().values_list("payload", flat=True)
        assert not any(p.get("event") == "referral_completed" for p in payloads)


class TestRedaction:
    async def test_a_redacted_friend_leaves_no_email_and_no_fingerprints(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """customers/redact of the friend: their email, IP and device leave the referral (which
        keeps its status and the advocate's points), their digests go; shop/redact deletes the
        shop's digests, which no foreign key cascades."""
        ann, referral_id = await completed_referral(client, services)
        fred = await Customer.get(shopify_customer_id=FRED)
        assert await ReferralFingerprint.filter(customer_id=fred.id).exists()
        shop = await Shop.get(id=ann.shop_id)
        await redact_customer(shop=shop, shopify_customer_id=FRED, email=FRIEND, now=utcnow())
        referral = await stored(referral_id)
        assert (referral.friend_email, referral.ip, referral.status) == ("", None, "completed")
        assert referral.friend_email_key == f"redacted:{referral.id}"
        assert not await ReferralFingerprint.filter(customer_id=fred.id).exists()
        assert await points(ann) == (500, 500)
        await ReferralFingerprint.create(
            shop_id=shop.id, customer_id=ann.id, kind="phone", digest="x" * 64, created_at=utcnow()
        )
        assert await redact_shop(shop_id=shop.id)
        assert not await ReferralFingerprint.filter(shop_id=shop.id).exists()

    async def test_a_data_request_exports_the_customers_referrals(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """The friend's export has the email they gave; the advocate's has their referrals
        without their friends' emails."""
        ann, referral_id = await completed_referral(client, services)
        shop = await Shop.get(id=ann.shop_id)
        exported = {}
        for n, (shopify_id, email) in enumerate(
            ((FRED, None), (ann.shopify_customer_id, None)), start=1
        ):
            request = await export_customer_data(
                shop=shop,
                shopify_customer_id=shopify_id,
                email=email,
                shopify_request_id=900 + n,
                orders_requested=[],
                now=utcnow(),
            )
            exported[shopify_id] = request.record["referrals"]
        [as_friend] = exported[FRED]
        assert (as_friend["id"], as_friend["role"], as_friend["friend_email"]) == (
            referral_id,
            "friend",
            FRIEND,
        )
        [as_advocate] = exported[ann.shopify_customer_id]
        assert (as_advocate["role"], as_advocate["friend_email"], as_advocate["status"]) == (
            "advocate",
            None,
            "completed",
        )
