"""Dead letters in the admin (`/app/api/integrations/…`): each platform's status counts and lists
the shop's intents given up after their retry window, `…/shopify/dead-letters` does the same for
the metafield syncs, and `POST …/dead-letters/retry` makes them pending again and tells the
dispatcher. Only the token's shop is ever read or touched. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.models import Customer, IntentOutcome, OutboxIntent, Shop
from loyalty.outbox.dead_letters import NEWEST
from tests.factories import create_customer
from tests.tokens import bearer
from tests.web.admin_client import RETRY_HEADER, Admin
from web.state import Services

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

KLAVIYO = JobName.SYNC_KLAVIYO_PROFILES


async def dead_intent(
    shop: Shop,
    customer: Customer | None,
    job: JobName = KLAVIYO,
    *,
    dead_at: datetime | None = None,
    attempts: int = 12,
    error: str = "Klaviyo answered 429: Too Many Requests",
) -> OutboxIntent:
    """An intent the sync gave up on, as claims.fail leaves it."""
    at = dead_at or utcnow() - timedelta(hours=1)
    return await OutboxIntent.create(
        shop=shop,
        customer=customer,
        job=str(job),
        payload={},
        completed_at=at,
        dead_at=at,
        outcome=IntentOutcome.DEAD,
        attempts=attempts,
        last_error=error,
    )


async def snapshot(shop: Shop) -> list[tuple[Any, ...]]:
    """Every intent of the shop as the retry could change it."""
    rows = await OutboxIntent.filter(shop_id=shop.id).order_by("id")
    return [
        (r.id, r.completed_at, r.dead_at, r.outcome, r.attempts, r.retry_from, r.claimed_until)
        for r in rows
    ]


@dataclass
class Notified:
    """What handlers hand to the dispatcher, kept instead of run: retried intents stay
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
        older = await dead_intent(shop, customer, dead_at=utcnow() - timedelta(hours=3))
        newer = await dead_intent(shop, customer, attempts=30, error="Klaviyo answered 500")
        await OutboxIntent.create(shop=shop, customer=customer, job=str(KLAVIYO), payload={})
        await dead_intent(other_shop, await create_customer(other_shop))
        await dead_intent(other_shop, None, JobName.SYNC_OMNISEND_CONTACTS)

        listed = (await admin.get("/integrations")).json()["data"]
        counts = {row["id"]: row["attributes"]["dead_letter_count"] for row in listed}
        assert counts == {"klaviyo": 2, "omnisend": 0, "postscript": 0}

        response = await admin.get("/integrations/klaviyo")
        assert response.status_code == 200, response.text
        attributes = response.json()["data"]["attributes"]
        assert attributes["dead_letter_count"] == 2
        letters = attributes["dead_letters"]
        assert [letter["id"] for letter in letters] == [str(newer.id), str(older.id)]
        assert letters[0]["customer"] == {
            "shopify_customer_id": str(customer.shopify_customer_id),
            "name": "Ann Lee",
        }
        assert (letters[0]["attempts"], letters[0]["last_error"]) == (30, "Klaviyo answered 500")
        assert letters[0]["job"] == str(KLAVIYO) and letters[0]["dead_at"].endswith("Z")

    async def test_shopify_metafield_dead_letters_have_their_own_list(
        self, admin: Admin, shop: Shop, other_shop: Shop, customer: Customer
    ) -> None:
        """Customer and programme (shop-level, no customer) metafield syncs, not Klaviyo's."""
        await dead_intent(shop, customer, JobName.SYNC_SHOPIFY_METAFIELDS)
        await dead_intent(shop, None, JobName.SYNC_SHOP_METAFIELDS, dead_at=utcnow())
        await dead_intent(shop, customer)  # Klaviyo's
        await dead_intent(other_shop, None, JobName.SYNC_SHOP_METAFIELDS)

        response = await admin.get("/integrations/shopify/dead-letters")
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert (data["type"], data["id"]) == ("dead_letters", "shopify")
        assert data["attributes"]["dead_letter_count"] == 2
        jobs = [(d["job"], d["customer"]) for d in data["attributes"]["dead_letters"]]
        assert jobs[0] == (str(JobName.SYNC_SHOP_METAFIELDS), None)
        assert jobs[1][0] == str(JobName.SYNC_SHOPIFY_METAFIELDS) and jobs[1][1] is not None

    async def test_the_count_covers_more_than_the_newest_listed(
        self, admin: Admin, shop: Shop, customer: Customer
    ) -> None:
        for _ in range(NEWEST + 2):
            await dead_intent(shop, customer, JobName.SYNC_POSTSCRIPT_SUBSCRIBERS)
        attributes = (await admin.get("/integrations/postscript")).json()["data"]["attributes"]
        assert attributes["dead_letter_count"] == NEWEST + 2
        assert len(attributes["dead_letters"]) == NEWEST

    async def test_an_unknown_source_is_404_and_nothing_changes(
        self, admin: Admin, shop: Shop, customer: Customer, notified: Notified
    ) -> None:
        await dead_intent(shop, customer)
        before = await snapshot(shop)
        for method, path in [
            ("GET", "/integrations/mailchimp/dead-letters"),
            ("POST", "/integrations/mailchimp/dead-letters/retry"),
        ]:
            response = await admin.request(method, path)
            assert response.status_code == 404, response.text
            assert response.json()["errors"][0]["code"] == "integration_not_found"
        assert await snapshot(shop) == before and notified.calls == []


class TestRetryAll:
    async def test_retry_makes_them_pending_and_notifies_then_retries_none(
        self,
        admin: Admin,
        shop: Shop,
        other_shop: Shop,
        customer: Customer,
        notified: Notified,
    ) -> None:
        first, second = await dead_intent(shop, customer), await dead_intent(shop, None)
        omnisend = await dead_intent(shop, customer, JobName.SYNC_OMNISEND_CONTACTS)
        elsewhere = await dead_intent(other_shop, await create_customer(other_shop))
        untouched = [await OutboxIntent.get(id=i.id) for i in (omnisend, elsewhere)]
        started = utcnow()

        response = await admin.post("/integrations/klaviyo/dead-letters/retry")
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert (data["type"], data["id"]) == ("dead_letter_retry", "klaviyo")
        assert data["attributes"] == {"retried": 2}
        assert notified.calls == [(shop.id, [str(KLAVIYO)])]
        for intent in (first, second):
            row = await OutboxIntent.get(id=intent.id)
            assert (row.completed_at, row.dead_at, row.outcome) == (None, None, None)
            assert row.attempts == 0 and row.retry_from is not None
            assert row.retry_from >= started - timedelta(seconds=1)
            assert row.claimed_until is None and row.last_error  # why it failed stays shown
        for before in untouched:
            after = await OutboxIntent.get(id=before.id)
            assert (after.dead_at, after.outcome, after.attempts) == (
                before.dead_at,
                before.outcome,
                before.attempts,
            )
        status = (await admin.get("/integrations/klaviyo")).json()["data"]["attributes"]
        assert (status["dead_letter_count"], status["dead_letters"]) == (0, [])

        again = await admin.post("/integrations/klaviyo/dead-letters/retry")
        assert again.json()["data"]["attributes"] == {"retried": 0}
        assert len(notified.calls) == 1  # nothing retried, nobody told

    async def test_shopify_retries_both_metafield_syncs_and_the_flow_triggers(
        self, admin: Admin, shop: Shop, customer: Customer, notified: Notified
    ) -> None:
        await dead_intent(shop, customer, JobName.SYNC_SHOPIFY_METAFIELDS)
        await dead_intent(shop, None, JobName.SYNC_SHOP_METAFIELDS)
        await dead_intent(shop, customer, JobName.SEND_FLOW_TRIGGERS)
        klaviyo = await dead_intent(shop, customer)

        response = await admin.post("/integrations/shopify/dead-letters/retry")
        assert response.json()["data"]["attributes"] == {"retried": 3}
        assert notified.calls == [
            (
                shop.id,
                [
                    str(JobName.SYNC_SHOPIFY_METAFIELDS),
                    str(JobName.SYNC_SHOP_METAFIELDS),
                    str(JobName.SEND_FLOW_TRIGGERS),
                ],
            )
        ]
        assert (await OutboxIntent.get(id=klaviyo.id)).dead_at is not None

    async def test_another_shops_token_retries_nothing_here(
        self,
        client: httpx.AsyncClient,
        shop: Shop,
        other_shop: Shop,
        customer: Customer,
        notified: Notified,
    ) -> None:
        await dead_intent(shop, customer)
        before = await snapshot(shop)

        response = await Admin(client, "other").post("/integrations/klaviyo/dead-letters/retry")
        assert response.status_code == 200, response.text
        assert response.json()["data"]["attributes"] == {"retried": 0}
        listed = await Admin(client, "other").get("/integrations/klaviyo/dead-letters")
        assert listed.json()["data"]["attributes"]["dead_letter_count"] == 0
        assert await snapshot(shop) == before and notified.calls == []

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/integrations/klaviyo/dead-letters"),
            ("POST", "/integrations/klaviyo/dead-letters/retry"),
            ("POST", "/integrations/shopify/dead-letters/retry"),
        ],
    )
    @pytest.mark.parametrize("credential", ["none", "forged", "expired"])
    async def test_an_unverified_token_is_401_and_changes_nothing(
        self,
        client: httpx.AsyncClient,
        shop: Shop,
        customer: Customer,
        notified: Notified,
        method: str,
        path: str,
        credential: str,
    ) -> None:
        await dead_intent(shop, customer)
        await dead_intent(shop, customer, JobName.SYNC_SHOPIFY_METAFIELDS)
        before = await snapshot(shop)
        headers = {
            "none": {},
            "forged": bearer(secret="not-the-client-secret"),
            "expired": bearer(issued_at=1_700_000_000),
        }[credential]
        response = await client.request(method, f"/app/api{path}", headers=headers)
        assert response.status_code == 401, response.text
        if credential != "none":
            assert response.headers[RETRY_HEADER] == "1"
        assert "errors" in response.json()
        assert await snapshot(shop) == before and notified.calls == []
