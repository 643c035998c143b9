"""A redemption after it is made: the merchant cancels it (points back to their lots, once),
its code expires, orders/paid marks it used, and a cancelled or fully refunded order gives the
code back when the shop says so; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from loyalty.clock import utcnow
from loyalty.customers.compliance import redact_shop
from loyalty.errors import RedemptionNotCancellableError, RedemptionNotFoundError
from loyalty.jobs import JobName
from loyalty.models import (
    Customer,
    EarningHistoryEntry,
    OutboxIntent,
    Redemption,
    RedemptionStatus,
    Reward,
    RewardKind,
    Shop,
)
from loyalty.outbox.claims import ClaimedIntent
from loyalty.rewards.cancel import cancel_redemption
from loyalty.rewards.expiry import expire_due
from loyalty.rewards.history import list_redemptions
from loyalty.rewards.redeem import redeem
from loyalty.sync.events import EventKind, events_for_intents
from loyalty.sync.platforms import KLAVIYO_METRICS
from loyalty.webhooks.inbox import Delivery, store_delivery
from loyalty.webhooks.process import process_webhooks
from tests.loyalty.rewards.helpers import (
    connected_shop,
    customer_with_lots,
    intents,
    kinds,
    lots_left,
    reward,
)
from tests.shopify_webhooks import customer_payload, order_payload, refund_payload


async def redeemed(shop: Shop, customer: Customer, **reward_fields: Any) -> Redemption:
    offer = await reward(shop, **reward_fields)
    done = await redeem(shop_id=shop.id, identifier=customer.email or "", reward_id=offer.public_id)
    return await Redemption.get(public_id=done.redemption.id)


class TestCancel:
    async def test_points_return_to_their_lots_and_the_code_is_deactivated(self, db: str) -> None:
        shop = await connected_shop()
        customer = await customer_with_lots(shop, (300, 10), (400, 40))
        redemption = await redeemed(shop, customer)
        assert await lots_left(customer) == [0, 200]

        done = await cancel_redemption(
            shop_id=shop.id, redemption_id=redemption.public_id, reason="asked by phone"
        )

        assert done.redemption.status is RedemptionStatus.CANCELLED
        assert done.redemption.is_refunded and done.points_returned == 500
        assert done.redemption.cancel_reason == "asked by phone"
        fresh = await Customer.get(id=customer.id)
        assert (fresh.points_balance, fresh.redeemed_points) == (700, 0)
        assert await lots_left(customer) == [300, 400]  # the next expiry is as before
        assert (await kinds(customer))[-2:] == ["redemption_cancelled", "reward_points_returned"]
        deactivate = {"redemption_id": redemption.public_id, "action": "deactivate"}
        assert (str(JobName.SYNC_REWARD_CODES), deactivate) in await intents(customer)

    async def test_only_an_active_unused_one_and_only_once(self, db: str) -> None:
        shop = await connected_shop()
        customer = await customer_with_lots(shop, (2000, None))
        redemption = await redeemed(shop, customer)
        await cancel_redemption(shop_id=shop.id, redemption_id=redemption.public_id)

        with pytest.raises(RedemptionNotCancellableError):
            await cancel_redemption(shop_id=shop.id, redemption_id=redemption.public_id)
        assert (await Customer.get(id=customer.id)).points_balance == 2000  # not twice

        used = await redeemed(shop, customer, name="Used")
        await Redemption.filter(id=used.id).update(status=RedemptionStatus.USED, used_at=utcnow())
        with pytest.raises(RedemptionNotCancellableError):
            await cancel_redemption(shop_id=shop.id, redemption_id=used.public_id)
        other = await connected_shop()
        with pytest.raises(RedemptionNotFoundError):
            await cancel_redemption(shop_id=other.id, redemption_id=used.public_id)

    async def test_points_whose_lot_expired_since_do_not_come_back(self, db: str) -> None:
        shop = await connected_shop()
        customer = await customer_with_lots(shop, (300, 10), (400, None))
        redemption = await redeemed(shop, customer)
        first_lot = await EarningHistoryEntry.filter(customer_id=customer.id).order_by("id").first()
        assert first_lot is not None
        await EarningHistoryEntry.filter(id=first_lot.id).update(
            points_expiry_at=utcnow() - timedelta(seconds=1)
        )

        done = await cancel_redemption(shop_id=shop.id, redemption_id=redemption.public_id)

        assert done.points_returned == 200
        fresh = await Customer.get(id=customer.id)
        assert (fresh.points_balance, fresh.redeemed_points) == (400, 0)
        assert await lots_left(customer) == [0, 400]

    async def test_a_balance_no_lot_holds_comes_back_too(self, db: str) -> None:
        """Imported balances have no lots: what they gave is kept as lot 0 and returned."""
        shop = await connected_shop()
        customer = await customer_with_lots(shop, (200, None))
        await Customer.filter(id=customer.id).update(points_balance=1000)
        redemption = await redeemed(shop, customer)
        assert redemption.spent_lots == [[redemption.spent_lots[0][0], 200], [0, 300]]

        await cancel_redemption(shop_id=shop.id, redemption_id=redemption.public_id)

        fresh = await Customer.get(id=customer.id)
        assert (fresh.points_balance, fresh.redeemed_points) == (1000, 0)
        assert await lots_left(customer) == [200]

    async def test_store_credit_waits_for_the_debit_before_the_points_return(self, db: str) -> None:
        shop = await connected_shop()
        customer = await customer_with_lots(shop, (1000, None))
        redemption = await redeemed(
            shop, customer, kind=RewardKind.STORE_CREDIT, value=Decimal("10")
        )

        done = await cancel_redemption(shop_id=shop.id, redemption_id=redemption.public_id)

        assert done.redemption.status is RedemptionStatus.CANCELLED
        assert done.points_returned == 0 and not done.redemption.is_refunded
        assert (await Customer.get(id=customer.id)).points_balance == 500
        debit = {"redemption_id": redemption.public_id, "action": "debit"}
        assert (str(JobName.SYNC_REWARD_CODES), debit) in await intents(customer)


class TestExpiry:
    async def test_codes_past_their_date_expire_without_their_points(self, db: str) -> None:
        shop = await connected_shop()
        customer = await customer_with_lots(shop, (5000, None))
        due = await redeemed(shop, customer)
        later = await redeemed(shop, customer, name="Later")
        credit = await redeemed(shop, customer, kind=RewardKind.STORE_CREDIT, value=Decimal(5))
        now = utcnow() + timedelta(days=30, seconds=1)
        await Redemption.filter(id=later.id).update(expires_at=now + timedelta(days=1))

        first = await expire_due(now=now)
        again = await expire_due(now=now)

        assert (first.done, again.done) == (1, 0)
        statuses = {
            r.id: r.status for r in await Redemption.filter(id__in=[due.id, later.id, credit.id])
        }
        assert statuses == {
            due.id: RedemptionStatus.EXPIRED,
            later.id: RedemptionStatus.ACTIVE,
            credit.id: RedemptionStatus.ACTIVE,
        }
        fresh = await Customer.get(id=customer.id)
        assert (fresh.points_balance, fresh.redeemed_points) == (3500, 1500)
        assert "reward_code_expired" in await kinds(customer)
        assert set(first.jobs[shop.id]) == {str(JobName.SYNC_SHOPIFY_METAFIELDS)}

    async def test_the_shop_may_return_the_points(self, db: str) -> None:
        shop = await connected_shop(refund_points_on_code_expiry=True)
        customer = await customer_with_lots(shop, (1000, None))
        redemption = await redeemed(shop, customer)

        run = await expire_due(now=utcnow() + timedelta(days=31))

        assert run.done == 1
        assert (await Redemption.get(id=redemption.id)).points_refunded_at is not None
        assert (await Customer.get(id=customer.id)).points_balance == 1000


async def deliver(shop: Shop, topic: str, payload: dict[str, Any]) -> None:
    """Store a delivery as the webhook route does and run the shop's webhook job."""
    await store_delivery(
        delivery=Delivery(
            webhook_id=str(uuid.uuid4()),
            topic=topic,
            shop_domain=shop.domain,
            body=json.dumps(payload),
            event_id=str(uuid.uuid4()),
            api_version="2026-10",
            triggered_at=None,
        )
    )
    run = await process_webhooks(shop_id=shop.id)
    assert run.failed == 0 and run.held == 0


def paid_with(order_id: int, customer: Customer, *codes: str, subtotal: str = "40.00") -> Any:
    """Shopify's orders/paid example for this customer, with `discount_codes[]` in its shape
    (code, amount, type: all strings)."""
    body = order_payload(
        order_id,
        customer=customer_payload(customer.shopify_customer_id, email=customer.email),
        subtotal=subtotal,
    )
    body["discount_codes"] = [{"code": c, "amount": "5.00", "type": "fixed_amount"} for c in codes]
    return body


class TestUsedAtCheckout:
    async def test_orders_paid_marks_the_code_used_once(self, db: str) -> None:
        shop = await connected_shop()
        customer = await customer_with_lots(shop, (1000, None))
        redemption = await redeemed(shop, customer)
        assert redemption.code is not None
        body = paid_with(5001, customer, redemption.code.lower(), "SOMEONE-ELSES")

        await deliver(shop, "orders/paid", body)
        await deliver(shop, "orders/paid", body)  # the same event under another webhook id

        used = await Redemption.get(id=redemption.id)
        assert used.status is RedemptionStatus.USED and used.used_order_id == 5001
        assert used.used_at is not None and used.used_order_subtotal == Decimal("40.00")
        assert (await kinds(customer)).count("reward_used") == 1
        page = await list_redemptions(
            shop_id=shop.id, identifier=customer.email or "", status=RedemptionStatus.USED
        )
        assert [v.id for v in page.items] == [redemption.public_id] and page.total == 1

    async def test_a_cancelled_order_gives_a_new_code_when_the_shop_says_so(self, db: str) -> None:
        shop = await connected_shop(reactivate_codes_on_refund=True)
        customer = await customer_with_lots(shop, (1000, None))
        redemption = await redeemed(shop, customer)
        assert redemption.code is not None
        await deliver(shop, "orders/paid", paid_with(5002, customer, redemption.code))
        cancelled = paid_with(5002, customer, redemption.code)
        cancelled.update(cancelled_at="2026-11-26T10:00:00-05:00", cancel_reason="customer")

        await deliver(shop, "orders/cancelled", cancelled)
        await deliver(shop, "orders/cancelled", cancelled)

        back = await Redemption.get(id=redemption.id)
        assert back.status is RedemptionStatus.ACTIVE and back.used_order_id is None
        assert back.code and back.code != redemption.code
        assert back.metadata == {"previous_codes": [redemption.code]}
        creates = [p for job, p in await intents(customer) if job == JobName.SYNC_REWARD_CODES]
        assert len(creates) == 2 and creates[-1]["action"] == "create"

    async def test_without_the_setting_a_cancelled_order_keeps_the_code_used(self, db: str) -> None:
        shop = await connected_shop()
        customer = await customer_with_lots(shop, (1000, None))
        redemption = await redeemed(shop, customer)
        assert redemption.code is not None
        await deliver(shop, "orders/paid", paid_with(5003, customer, redemption.code))
        cancelled = paid_with(5003, customer, redemption.code)
        cancelled.update(cancelled_at="2026-11-26T10:00:00-05:00", cancel_reason="customer")

        await deliver(shop, "orders/cancelled", cancelled)

        assert (await Redemption.get(id=redemption.id)).status is RedemptionStatus.USED

    async def test_only_a_full_refund_gives_the_code_back(self, db: str) -> None:
        shop = await connected_shop(reactivate_codes_on_refund=True)
        customer = await customer_with_lots(shop, (1000, None))
        redemption = await redeemed(shop, customer)
        assert redemption.code is not None
        await deliver(shop, "orders/paid", paid_with(5004, customer, redemption.code))

        await deliver(shop, "refunds/create", refund_payload(77001, 5004, "10.00"))
        assert (await Redemption.get(id=redemption.id)).status is RedemptionStatus.USED

        await deliver(shop, "refunds/create", refund_payload(77002, 5004, "40.00"))
        assert (await Redemption.get(id=redemption.id)).status is RedemptionStatus.ACTIVE


async def test_the_redemption_is_a_points_redeemed_event_for_the_platforms(db: str) -> None:
    """The intent a redemption owes the platforms reads back as one "points redeemed" event
    with the reward and the code, under a key stable across retries."""
    shop = await connected_shop()
    customer = await customer_with_lots(shop, (1000, None))
    redemption = await redeemed(shop, customer)
    intent = await OutboxIntent.get(
        customer_id=customer.id, job=str(JobName.SYNC_SHOPIFY_METAFIELDS)
    )
    claimed = ClaimedIntent(intent.id, customer.id, dict(intent.payload), 0)

    events = (await events_for_intents(shop_id=shop.id, intents=[claimed]))[intent.id]
    again = (await events_for_intents(shop_id=shop.id, intents=[claimed]))[intent.id]

    assert [e.kind for e in events] == [EventKind.POINTS_REDEEMED] and events == again
    assert events[0].key == f"loyalty:points_redeemed:{redemption.public_id}"
    assert events[0].properties["code"] == redemption.code
    assert events[0].properties["reward"] == "$5 off" and events[0].properties["points"] == 500
    assert KLAVIYO_METRICS[EventKind.POINTS_REDEEMED] == "Loyalty Points Redeemed"


async def test_shop_redact_deletes_rewards_and_redemptions(db: str) -> None:
    shop = await connected_shop()
    customer = await customer_with_lots(shop, (1000, None))
    redemption = await redeemed(shop, customer)

    assert await redact_shop(shop_id=shop.id)

    assert not await Redemption.filter(id=redemption.id).exists()
    assert not await Reward.filter(shop_id=shop.id).exists()
