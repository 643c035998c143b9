"""Unconfirmed events in the admin (`/app/api/integrations/…`): each platform's status counts and
lists the shop's events whose answer was lost (never re-sent on their own), and
`POST …/unconfirmed/resend` makes their intents pending again, forgets the record and tells the
dispatcher. Only the token's shop is ever read or touched. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from loyalty.clock import utcnow
from loyalty.jobs import PROFILE_SYNC_JOBS
from loyalty.models import (
    Customer,
    DeliveryStatus,
    EventDelivery,
    IntentOutcome,
    OutboxIntent,
    Platform,
    Shop,
)
from loyalty.outbox.deliveries import NEWEST
from tests.factories import create_customer
from tests.tokens import bearer
from tests.web.admin_client import RETRY_HEADER, Admin
from web.state import Services

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

OMNISEND = Platform.OMNISEND


async def unconfirmed(
    shop: Shop,
    customer: Customer | None,
    key: str,
    platform: Platform = OMNISEND,
    *,
    at: datetime | None = None,
    status: DeliveryStatus = DeliveryStatus.UNCONFIRMED,
) -> OutboxIntent:
    """A delivered intent one of whose events the platform may not have: as the sync leaves it
    when the answer to that event was lost."""
    done = at or utcnow() - timedelta(hours=1)
    intent = await OutboxIntent.create(
        shop=shop,
        customer=customer,
        job=str(PROFILE_SYNC_JOBS[platform]),
        payload={},
        completed_at=done,
        outcome=IntentOutcome.DELIVERED,
        attempts=1,
    )
    await EventDelivery.create(
        shop_id=shop.id,
        platform=str(platform),
        event_key=key,
        intent_id=intent.id,
        status=status,
        at=done,
    )
    return intent


async def snapshot(shop: Shop) -> list[tuple[Any, ...]]:
    """Every intent and delivery record of the shop as a re-send could change them."""
    intents = await OutboxIntent.filter(shop_id=shop.id).order_by("id")
    records = await EventDelivery.filter(shop_id=shop.id).order_by("id")
    return [(r.id, r.completed_at, r.outcome, r.attempts, r.retry_from) for r in intents] + [
        (r.id, r.platform, r.event_key, r.status, r.intent_id) for r in records
    ]


@dataclass
class Notified:
    """What handlers hand to the dispatcher, kept instead of run: re-sent intents stay
    pending, as they are until a worker delivers them."""

    calls: list[tuple[int, list[str]]] = field(default_factory=list)


@pytest.fixture
def notified(services: Services, monkeypatch: pytest.MonkeyPatch) -> Notified:
    record = Notified()
    monkeypatch.setattr(
        services.dispatcher,
        "notify",
        lambda shop_id, jobs: record.calls.append((shop_id, list(jobs))),
    )
    return record


@pytest.fixture
async def customer(shop: Shop) -> Customer:
    return await create_customer(shop, first_name="Ann", last_name="Lee")


class TestListed:
    async def test_each_platform_counts_and_lists_only_the_shops_own(
        self, admin: Admin, shop: Shop, other_shop: Shop, customer: Customer
    ) -> None:
        await unconfirmed(shop, customer, "points:1", at=utcnow() - timedelta(hours=3))
        await unconfirmed(shop, customer, "tier:2", at=utcnow() - timedelta(minutes=5))
        await unconfirmed(shop, customer, "points:3", status=DeliveryStatus.ACCEPTED)
        await unconfirmed(shop, customer, "points:4", Platform.POSTSCRIPT)
        await unconfirmed(other_shop, await create_customer(other_shop), "points:5")

        listed = (await admin.get("/integrations")).json()["data"]
        counts = {row["id"]: row["attributes"]["unconfirmed_count"] for row in listed}
        assert counts == {"klaviyo": 0, "omnisend": 2, "postscript": 1}

        response = await admin.get("/integrations/omnisend")
        assert response.status_code == 200, response.text
        attributes = response.json()["data"]["attributes"]
        assert attributes["unconfirmed_count"] == 2
        events = attributes["unconfirmed"]
        assert [event["event_key"] for event in events] == ["tier:2", "points:1"]
        assert events[0]["customer"] == {
            "shopify_customer_id": str(customer.shopify_customer_id),
            "name": "Ann Lee",
        }
        assert events[0]["at"].endswith("Z")

    async def test_the_count_covers_more_than_the_newest_listed(
        self, admin: Admin, shop: Shop, customer: Customer
    ) -> None:
        for n in range(NEWEST + 2):
            await unconfirmed(shop, customer, f"points:{n}", Platform.POSTSCRIPT)
        attributes = (await admin.get("/integrations/postscript")).json()["data"]["attributes"]
        assert attributes["unconfirmed_count"] == NEWEST + 2
        assert len(attributes["unconfirmed"]) == NEWEST

    async def test_a_deleted_customers_event_is_listed_without_one(
        self, admin: Admin, shop: Shop
    ) -> None:
        await unconfirmed(shop, None, "points:1")
        attributes = (await admin.get("/integrations/omnisend")).json()["data"]["attributes"]
        assert [(e["event_key"], e["customer"]) for e in attributes["unconfirmed"]] == [
            ("points:1", None)
        ]


class TestSendAgain:
    async def test_resend_makes_them_pending_and_notifies_then_resends_none(
        self,
        admin: Admin,
        shop: Shop,
        other_shop: Shop,
        customer: Customer,
        notified: Notified,
    ) -> None:
        first = await unconfirmed(shop, customer, "points:1")
        second = await unconfirmed(shop, customer, "tier:2")
        accepted = await unconfirmed(shop, customer, "points:3", status=DeliveryStatus.ACCEPTED)
        postscript = await unconfirmed(shop, customer, "points:4", Platform.POSTSCRIPT)
        elsewhere = await unconfirmed(other_shop, await create_customer(other_shop), "points:1")
        untouched = [await OutboxIntent.get(id=i.id) for i in (accepted, postscript, elsewhere)]
        started = utcnow()

        response = await admin.post("/integrations/omnisend/unconfirmed/resend")
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert (data["type"], data["id"]) == ("unconfirmed_resend", "omnisend")
        assert data["attributes"] == {"resent": 2}
        assert notified.calls == [(shop.id, [str(PROFILE_SYNC_JOBS[OMNISEND])])]
        for intent in (first, second):
            row = await OutboxIntent.get(id=intent.id)
            assert (row.completed_at, row.outcome, row.attempts) == (None, None, 0)
            assert row.retry_from is not None
            assert row.retry_from >= started - timedelta(seconds=1)
        assert not await EventDelivery.filter(intent_id__in=[first.id, second.id]).exists()
        for before in untouched:
            after = await OutboxIntent.get(id=before.id)
            assert (after.completed_at, after.outcome) == (before.completed_at, before.outcome)
        left = await EventDelivery.filter(intent_id__in=[i.id for i in untouched]).count()
        assert left == 3
        status = (await admin.get("/integrations/omnisend")).json()["data"]["attributes"]
        assert (status["unconfirmed_count"], status["unconfirmed"]) == (0, [])

        again = await admin.post("/integrations/omnisend/unconfirmed/resend")
        assert again.json()["data"]["attributes"] == {"resent": 0}
        assert len(notified.calls) == 1  # nothing re-sent, nobody told

    async def test_an_unknown_platform_is_404_and_nothing_changes(
        self, admin: Admin, shop: Shop, customer: Customer, notified: Notified
    ) -> None:
        await unconfirmed(shop, customer, "points:1")
        before = await snapshot(shop)
        for platform in ("mailchimp", "shopify"):
            response = await admin.post(f"/integrations/{platform}/unconfirmed/resend")
            assert response.status_code == 404, response.text
            assert response.json()["errors"][0]["code"] == "integration_not_found"
        assert await snapshot(shop) == before and notified.calls == []

    async def test_another_shops_token_resends_nothing_here(
        self,
        client: httpx.AsyncClient,
        shop: Shop,
        other_shop: Shop,
        customer: Customer,
        notified: Notified,
    ) -> None:
        await unconfirmed(shop, customer, "points:1")
        before = await snapshot(shop)

        other = Admin(client, "other")
        response = await other.post("/integrations/omnisend/unconfirmed/resend")
        assert response.status_code == 200, response.text
        assert response.json()["data"]["attributes"] == {"resent": 0}
        listed = await other.get("/integrations/omnisend")
        assert listed.json()["data"]["attributes"]["unconfirmed_count"] == 0
        assert await snapshot(shop) == before and notified.calls == []

    @pytest.mark.parametrize("credential", ["none", "forged", "expired"])
    async def test_an_unverified_token_is_401_and_changes_nothing(
        self,
        client: httpx.AsyncClient,
        shop: Shop,
        customer: Customer,
        notified: Notified,
        credential: str,
    ) -> None:
        await unconfirmed(shop, customer, "points:1")
        before = await snapshot(shop)
        headers = {
            "none": {},
            "forged": bearer(secret="not-the-client-secret"),
            "expired": bearer(issued_at=1_700_000_000),
        }[credential]
        response = await client.post(
            "/app/api/integrations/omnisend/unconfirmed/resend", headers=headers
        )
        assert response.status_code == 401, response.text
        if credential != "none":
            assert response.headers[RETRY_HEADER] == "1"
        assert "errors" in response.json()
        assert await snapshot(shop) == before and notified.calls == []
