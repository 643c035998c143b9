"""A referral converted and reversed by Shopify's own example webhook bodies (API 2026-07,
standins/webhook_examples.py), signed and posted to their routes, on SQLite and PostgreSQL.

The three order topics' examples describe one order (id 820982911946154500, order email
jon@example.com, buyer john@example.com, no discount code). The friend here arrives through
the advocate's link giving the order's email, so the example order is their first paid order.
As in test_webhook_examples, the orders/paid example is of an order already cancelled; the
test says where it clears `cancelled_at`, and where it puts the friend's code in
`discount_codes` (the field's shape is Shopify's: code, amount, type).
"""

from __future__ import annotations

import httpx

from loyalty.clock import utcnow
from loyalty.models import Customer, EarningHistoryEntry, Referral, RuleCategory, Shop
from loyalty.referrals.codes import code_for
from loyalty.referrals.programme import update_programme
from loyalty.referrals.start import StartedReferral, start_referral
from tests.contract.test_webhook_examples import (
    ORDER,
    ORDER_ID,
    SHOP,
    paid_order,
    post_example,
    shopify_body,
)
from tests.factories import create_customer, create_rule, create_shop
from tests.loyalty.rewards.helpers import reward
from tests.shopify_webhooks import ROUTE_BY_TOPIC, encode, run_jobs, webhook_headers
from web.state import Services

ORDER_EMAIL = str(ORDER["email"])  # jon@example.com
ADVOCATE_POINTS = 500


async def referred_by_example_buyer() -> tuple[Shop, Customer, StartedReferral]:
    """The programme on (a friend's $5 reward, 500 points per completed referral), an advocate,
    and the example order's buyer arriving through the advocate's link."""
    shop = await create_shop(domain=SHOP)
    friend_reward = await reward(shop, name="Friend $5 off")
    await update_programme(
        shop_id=shop.id, changes={"enabled": True, "friend_reward_id": friend_reward.public_id}
    )
    await create_rule(
        shop,
        category=RuleCategory.REFERRAL,
        action="referral",
        name="Refer a friend",
        points=ADVOCATE_POINTS,
    )
    ann = await create_customer(shop, email="ann.advocate@example.com", shopify_customer_id=7)
    code = await code_for(shop_id=shop.id, customer_id=ann.id)
    assert code is not None
    started = await start_referral(
        shop=shop,
        code=code,
        friend_email=ORDER_EMAIL,
        ip="203.0.113.7",
        device_id=None,
        now=utcnow(),
    )
    assert started.referral.status == "pending", started
    return shop, ann, started


async def redeliver(
    client: httpx.AsyncClient, services: Services, topic: str, body: dict[str, object]
) -> str:
    """The same event delivered again (Shopify retries; a new webhook id). Returns what the
    receiver answered."""
    raw = encode(body)
    headers = webhook_headers(topic, raw, shop=SHOP)
    response = await client.post(ROUTE_BY_TOPIC[topic], content=raw, headers=headers)
    assert response.status_code == 200
    await run_jobs(services)
    return str(response.json()["status"])


async def balance(customer: Customer) -> int:
    await customer.refresh_from_db()
    return customer.points_balance


async def referral(started: StartedReferral) -> Referral:
    return await Referral.get(public_id=started.referral.id)


class TestReferralByShopifysExamples:
    async def test_the_example_order_paid_completes_the_referral_once(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """As published (a cancelled order) it converts nothing; paid, it completes the referral
        and pays the advocate 500 points; delivered again, nothing more."""
        _, ann, started = await referred_by_example_buyer()
        await post_example(client, services, "orders/paid", shopify_body("orders/paid"))
        assert ((await referral(started)).status, await balance(ann)) == ("pending", 0)
        await post_example(client, services, "orders/paid", paid_order())
        done = await referral(started)
        assert (done.status, done.order_id) == ("completed", ORDER_ID)
        buyer = await Customer.get(shopify_customer_id=ORDER["customer"]["id"])  # type: ignore[index]
        assert done.friend_customer_id == buyer.id
        assert await balance(ann) == ADVOCATE_POINTS
        assert await redeliver(client, services, "orders/paid", paid_order()) == "duplicate"
        assert await balance(ann) == ADVOCATE_POINTS
        assert await EarningHistoryEntry.filter(customer_id=ann.id).count() == 1

    async def test_the_friends_code_in_the_examples_discount_codes_finds_the_referral(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """The friend's code (any case), with an email the referral never saw."""
        _, ann, started = await referred_by_example_buyer()
        friend_code = started.referral.friend_code
        assert friend_code is not None
        body = paid_order() | {
            "email": "someone.else@example.com",
            "contact_email": "someone.else@example.com",
            "discount_codes": [
                {"code": friend_code.lower(), "amount": "5.00", "type": "fixed_amount"}
            ],
        }
        await post_example(client, services, "orders/paid", body)
        assert (await referral(started)).status == "completed"
        assert await balance(ann) == ADVOCATE_POINTS

    async def test_the_example_cancellation_reverses_the_referral(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        _, ann, started = await referred_by_example_buyer()
        await post_example(client, services, "orders/paid", paid_order())
        assert await balance(ann) == ADVOCATE_POINTS
        await post_example(client, services, "orders/cancelled", shopify_body("orders/cancelled"))
        assert (await referral(started)).status == "reversed"
        assert await balance(ann) == 0
        taken_back = await EarningHistoryEntry.get(customer_id=ann.id, points__lt=0)
        assert taken_back.points == -ADVOCATE_POINTS

    async def test_the_example_refund_reverses_the_referral(
        self, client: httpx.AsyncClient, services: Services
    ) -> None:
        """The example refunds lines worth 414.95 of the order's 404.95: a full refund."""
        _, ann, started = await referred_by_example_buyer()
        await post_example(client, services, "orders/paid", paid_order())
        await post_example(client, services, "refunds/create", shopify_body("refunds/create"))
        assert (await referral(started)).status == "reversed"
        assert await balance(ann) == 0
        await redeliver(client, services, "refunds/create", shopify_body("refunds/create"))
        assert await balance(ann) == 0
        assert await EarningHistoryEntry.filter(customer_id=ann.id, points__lt=0).count() == 1
