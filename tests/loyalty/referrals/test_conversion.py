"""The friend's first paid order (orders/paid, Shopify's body shape, delivered to the webhook
route) converting a referral and paying the advocate once, on SQLite and PostgreSQL; the
order-time fraud rules; 20 first orders racing for one referral."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest
from tortoise.transactions import in_transaction

from loyalty.clock import utcnow
from loyalty.models import (
    Activity,
    Customer,
    EarningHistoryEntry,
    EarningStatus,
    OutboxIntent,
    Redemption,
    Referral,
    ReferralFingerprint,
    RuleCategory,
    Shop,
)
from loyalty.referrals.programme import update_programme
from loyalty.webhooks.event import WebhookContext
from loyalty.webhooks.orders import handle_order_paid
from loyalty.webhooks.payloads import OrderPaidPayload
from tests.factories import create_rule
from tests.loyalty.earning.earn_by_webhook import send
from tests.loyalty.referrals.helpers import (
    advocate,
    arrive,
    paid_order,
    referral_rule,
    referral_shop,
    stored,
)
from tests.loyalty.rewards.helpers import reward
from web.state import Services

FRED = 9101
FRIEND = "fred.friend@example.com"


async def balance(customer: Customer) -> int:
    await customer.refresh_from_db()
    return customer.points_balance


class TestFirstOrder:
    async def test_the_friends_first_paid_order_completes_it_and_pays_the_advocate(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """friend_converted then completed at once: the rule's 500 points under the dedupe key
        referral:<id>, a referral_completed activity and event; the friend's later orders
        pay nothing more."""
        shop = await referral_shop(points=500)
        ann, code = await advocate(shop)
        started = await arrive(shop, code, FRIEND)
        await send(client, services, "orders/paid", paid_order(5001, FRED, FRIEND))
        referral = await stored(started.referral.id)
        assert (referral.status, referral.order_id) == ("completed", 5001)
        fred = await Customer.get(shopify_customer_id=FRED)
        assert referral.friend_customer_id == fred.id
        assert referral.converted_at is not None and referral.completed_at is not None
        [entry] = await EarningHistoryEntry.filter(customer_id=ann.id)
        assert (entry.dedupe_key, entry.points, entry.status) == (
            f"referral:{referral.id}",
            500,
            EarningStatus.APPROVED,
        )
        assert referral.advocate_entry_id == entry.public_id
        assert await balance(ann) == 500
        assert await Activity.filter(customer_id=ann.id, kind="referral_completed").count() == 1
        events = await OutboxIntent.filter(customer_id=ann.id).values_list("payload", flat=True)
        assert {"event": "referral_completed", "referral_id": referral.public_id} in events
        await send(client, services, "orders/paid", paid_order(5002, FRED, FRIEND))
        assert await balance(ann) == 500

    async def test_the_friends_code_finds_the_referral_whatever_email_they_use(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        shop = await referral_shop(points=300)
        ann, code = await advocate(shop)
        started = await arrive(shop, code, FRIEND)
        friend_code = started.referral.friend_code
        assert friend_code is not None
        body = paid_order(5003, FRED, "fred.other@example.com", codes=(friend_code.lower(),))
        await send(client, services, "orders/paid", body)
        assert (await stored(started.referral.id)).status == "completed"
        assert await balance(ann) == 300

    async def test_a_guest_checkout_converts_too(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        shop = await referral_shop(points=100)
        ann, code = await advocate(shop)
        started = await arrive(shop, code, FRIEND)
        await send(client, services, "orders/paid", paid_order(5004, None, FRIEND))
        referral = await stored(started.referral.id)
        assert (referral.status, referral.friend_customer_id) == ("completed", None)
        assert await balance(ann) == 100

    async def test_a_cancelled_order_or_an_unreferred_buyer_converts_nothing(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        shop = await referral_shop()
        ann, code = await advocate(shop)
        started = await arrive(shop, code, FRIEND)
        cancelled = paid_order(5005, FRED, FRIEND) | {"cancelled_at": "2026-11-25T11:00:00Z"}
        await send(client, services, "orders/paid", cancelled)
        await send(client, services, "orders/paid", paid_order(5006, 9102, "zed@example.com"))
        assert (await stored(started.referral.id)).status == "pending"
        assert await balance(ann) == 0

    async def test_with_the_programme_off_nothing_converts_with_referrals_off_it_does(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        shop = await referral_shop(points=200)
        ann, code = await advocate(shop)
        started = await arrive(shop, code, FRIEND)
        await Shop.filter(id=shop.id).update(programme_enabled=False)
        await send(client, services, "orders/paid", paid_order(5011, FRED, FRIEND))
        assert (await stored(started.referral.id)).status == "pending"
        await Shop.filter(id=shop.id).update(programme_enabled=True)
        await update_programme(shop_id=shop.id, changes={"enabled": False})
        await send(client, services, "orders/paid", paid_order(5012, FRED, FRIEND))
        assert (await stored(started.referral.id)).status == "completed"
        assert await balance(ann) == 200

    async def test_an_approval_time_leaves_the_points_pending(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        shop = await referral_shop(points=None)
        await referral_rule(shop, points=400, approval_time_days=14)
        ann, code = await advocate(shop)
        await arrive(shop, code, FRIEND)
        await send(client, services, "orders/paid", paid_order(5007, FRED, FRIEND))
        [entry] = await EarningHistoryEntry.filter(customer_id=ann.id)
        assert (entry.status, entry.points) == (EarningStatus.PENDING, 400)
        await ann.refresh_from_db()
        assert (ann.points_balance, ann.pending_points) == (0, 400)

    async def test_the_advocates_reward_is_given_as_a_free_redemption(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        shop = await referral_shop(points=None)
        gift = await reward(shop, name="Advocate $10", value=Decimal("10.00"))
        await update_programme(shop_id=shop.id, changes={"advocate_reward_id": gift.public_id})
        ann, code = await advocate(shop)
        started = await arrive(shop, code, FRIEND)
        await send(client, services, "orders/paid", paid_order(5008, FRED, FRIEND))
        referral = await stored(started.referral.id)
        [given] = await Redemption.filter(customer_id=ann.id)
        assert (given.points_spent, given.reward_id, given.code is not None) == (0, gift.id, True)
        assert referral.advocate_redemption_id == given.public_id
        assert referral.status == "completed"


class TestRacingFirstOrders:
    async def test_twenty_concurrent_first_orders_pay_the_advocate_once(self, db: str) -> None:
        """Twenty different first orders of one friend handled at once, each in its own
        transaction (as twenty jobs would if nothing serialised a shop's webhooks): one
        converts the referral, one entry, 500 points."""
        shop = await referral_shop(points=500)
        ann, code = await advocate(shop)
        started = await arrive(shop, code, FRIEND)
        bodies = [
            OrderPaidPayload.model_validate(paid_order(6000 + n, FRED, FRIEND)) for n in range(20)
        ]

        async def handle(n: int) -> list[str]:
            ctx = WebhookContext(
                event_pk=n,
                shop=shop,
                topic="orders/paid",
                webhook_id=f"w{n}",
                body=bodies[n],
                triggered_at=None,
                now=utcnow(),
            )
            async with in_transaction():
                return await handle_order_paid(ctx)

        await asyncio.gather(*(handle(n) for n in range(20)))
        referral = await stored(started.referral.id)
        assert referral.status == "completed" and referral.order_id in range(6000, 6020)
        assert await EarningHistoryEntry.filter(customer_id=ann.id).count() == 1
        assert await balance(ann) == 500
        assert await Activity.filter(customer_id=ann.id, kind="referral_completed").count() == 1


class TestOrderFraudRules:
    async def test_the_advocate_using_the_friends_code_is_blocked(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """advocate_order: recorded with the order, nothing paid."""
        shop = await referral_shop()
        ann, code = await advocate(shop)
        started = await arrive(shop, code, FRIEND)
        friend_code = started.referral.friend_code
        assert friend_code is not None
        body = paid_order(
            5101, ann.shopify_customer_id, "ann.advocate@example.com", codes=(friend_code,)
        )
        await send(client, services, "orders/paid", body)
        referral = await stored(started.referral.id)
        assert (referral.status, referral.block_reason, referral.order_id) == (
            "blocked",
            "advocate_order",
            5101,
        )
        assert referral.converted_at is None
        assert not await EarningHistoryEntry.filter(dedupe_key__startswith="referral:").exists()

    @pytest.mark.parametrize("shared", ["phone", "address"])
    async def test_the_advocates_phone_or_address_on_the_friends_order_is_blocked(
        self, client: httpx.AsyncClient, services: Services, shared: str
    ) -> None:
        """The advocate's own earlier order taught us their phone and address (digests only);
        the friend's order carrying either is blocked with that reason."""
        shop = await referral_shop()
        ann, code = await advocate(shop)
        mine = paid_order(
            5201,
            ann.shopify_customer_id,
            "ann.advocate@example.com",
            ships_to="9 Advocate Lane",
            phone="+1 (613) 555-0101",
        )
        await send(client, services, "orders/paid", mine)
        assert await ReferralFingerprint.filter(customer_id=ann.id).count() >= 2
        started = await arrive(shop, code, FRIEND)
        if shared == "phone":
            body = paid_order(5202, FRED, FRIEND, phone="613-555-0101")
        else:
            body = paid_order(5202, FRED, FRIEND, ships_to="9 ADVOCATE lane")
        await send(client, services, "orders/paid", body)
        referral = await stored(started.referral.id)
        assert (referral.status, referral.block_reason) == ("blocked", f"same_{shared}")

    async def test_a_friend_whose_account_predates_the_referral_is_not_new(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        shop = await referral_shop()
        _, code = await advocate(shop)
        started = await arrive(shop, code, FRIEND)
        body = paid_order(5301, FRED, FRIEND, created_at="2024-03-15T09:30:00-04:00")
        await send(client, services, "orders/paid", body)
        referral = await stored(started.referral.id)
        assert (referral.status, referral.block_reason) == ("blocked", "friend_not_new")

    async def test_a_friend_with_an_earlier_paid_order_is_not_new(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """A purchase rule recorded the friend's earlier order: the referral started after it
        is blocked at their next order."""
        shop = await referral_shop()
        await create_rule(shop, category=RuleCategory.PURCHASE, action="place_order", points=1)
        _, code = await advocate(shop)
        await send(client, services, "orders/paid", paid_order(5401, FRED, FRIEND))
        started = await arrive(shop, code, FRIEND)
        assert started.referral.block_reason == "friend_not_new"  # now an existing customer

    async def test_each_order_rule_switched_off_lets_it_through(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        shop = await referral_shop(disabled_checks=["friend_not_new"])
        ann, code = await advocate(shop)
        started = await arrive(shop, code, FRIEND)
        body = paid_order(5501, FRED, FRIEND, created_at="2024-03-15T09:30:00-04:00")
        await send(client, services, "orders/paid", body)
        assert (await stored(started.referral.id)).status == "completed"
        assert await balance(ann) == 500
        assert await Referral.filter(status="blocked").count() == 0
