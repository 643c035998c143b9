"""`/app/api`, the admin pages' own endpoints (web/admin/api/): the dashboard, the
setup checklist, the customer import and bulk re-sync with their progress, manual points
adjustments, the VIP-tier preview and the compliance data requests. Each one refuses an
unverified token, acts only for the token's shop, and writes nothing on bad input.
Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from loyalty.clock import utcnow
from loyalty.customers.compliance import export_customer_data
from loyalty.jobs import JobName
from loyalty.models import (
    Activity,
    ActorType,
    Customer,
    DataRequest,
    EarningHistoryEntry,
    EarningStatus,
    Integration,
    OutboxIntent,
    Platform,
    Shop,
)
from tests.factories import create_customer, create_rule, create_tier
from tests.tokens import bearer
from tests.web.admin.test_admin_api import counts, error_of
from tests.web.admin_client import RETRY_HEADER, Admin
from web.state import Services

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

# Every endpoint of the module, as (method, path, body).
ENDPOINTS = [
    ("GET", "/dashboard", None),
    ("GET", "/setup", None),
    ("PUT", "/setup/theme-embed", {"confirmed": True}),
    ("GET", "/backfill", None),
    ("GET", "/resync", None),
    ("POST", "/resync", None),
    ("POST", "/customers/6789012345/points", {"adjustment": 5}),
    ("GET", "/vip-tiers/preview", None),
    ("GET", "/data-requests", None),
    ("GET", "/data-requests/1", None),
    ("GET", "/data-requests/1/download", None),
]


@dataclass
class Queue:
    """What handlers hand to the dispatcher, kept here instead of run: the intents stay
    pending, as they do until a worker delivers them."""

    calls: list[tuple[int, list[str]]] = field(default_factory=list)

    @property
    def jobs(self) -> set[str]:
        return {job for _, jobs in self.calls for job in jobs}


@pytest.fixture
def queue(services: Services, monkeypatch: pytest.MonkeyPatch) -> Queue:
    record = Queue()
    monkeypatch.setattr(
        services.dispatcher, "notify", lambda shop_id, jobs: record.calls.append((shop_id, jobs))
    )
    return record


async def data_request_for(shop: Shop, customer: Customer) -> DataRequest:
    return await export_customer_data(
        shop=shop,
        shopify_customer_id=customer.shopify_customer_id,
        email=customer.email,
        shopify_request_id=4242,
        orders_requested=[],
        now=utcnow(),
    )


class TestAuthentication:
    @pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
    async def test_without_a_token_is_401_and_writes_nothing(
        self, client: httpx.AsyncClient, shop: Shop, method: str, path: str, body: Any
    ) -> None:
        """No ID token: 401 before anything is read or written."""
        before = await counts()
        response = await client.request(method, f"/app/api{path}", json=body)
        assert response.status_code == 401
        assert await counts() == before

    @pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
    async def test_a_forged_token_is_401_with_the_retry_header(
        self, client: httpx.AsyncClient, shop: Shop, method: str, path: str, body: Any
    ) -> None:
        """Signed with another secret: 401, and App Bridge is told to retry with a fresh one."""
        before = await counts()
        response = await client.request(
            method, f"/app/api{path}", json=body, headers=bearer(secret="not-the-client-secret")
        )
        assert response.status_code == 401
        assert response.headers[RETRY_HEADER] == "1"
        assert await counts() == before

    async def test_an_expired_token_is_401(self, client: httpx.AsyncClient, shop: Shop) -> None:
        """A token past its minute is refused."""
        response = await client.get(
            "/app/api/dashboard", headers=bearer(issued_at=utcnow().timestamp() - 120)
        )
        assert response.status_code == 401


class TestWrongShop:
    async def test_another_shops_customer_cannot_be_adjusted(
        self, admin: Admin, other_shop: Shop
    ) -> None:
        """Their customer id is a 404 here, and their balance does not move."""
        theirs = await create_customer(other_shop, points_balance=50)
        before = await counts()
        response = await admin.post(
            f"/customers/{theirs.shopify_customer_id}/points", {"adjustment": 500}
        )
        assert response.status_code == 404
        assert error_of(response)["code"] == "customer_not_found"
        await theirs.refresh_from_db()
        assert theirs.points_balance == 50
        assert await counts() == before

    async def test_another_shops_data_requests_are_invisible(
        self, admin: Admin, other_shop: Shop
    ) -> None:
        """Not listed, not readable, not downloadable."""
        theirs = await data_request_for(other_shop, await create_customer(other_shop))
        assert (await admin.get("/data-requests")).json()["data"] == []
        for path in (f"/data-requests/{theirs.id}", f"/data-requests/{theirs.id}/download"):
            response = await admin.get(path)
            assert response.status_code == 404, path
            assert error_of(response)["code"] == "data_request_not_found"

    async def test_the_dashboard_counts_only_the_tokens_shop(
        self, admin: Admin, shop: Shop, other_shop: Shop
    ) -> None:
        """Another shop's members never show in this shop's numbers."""
        await create_customer(shop)
        await create_customer(other_shop)
        await create_customer(other_shop)
        response = await admin.get("/dashboard")
        assert response.json()["data"]["attributes"]["members"] == 1


class TestDashboard:
    async def test_thirty_days_of_points(self, admin: Admin, shop: Shop) -> None:
        """Members, issued in the window (pending included), pending now, a point per day."""
        rule = await create_rule(shop)
        ada = await create_customer(shop, points_balance=300, pending_points=40)
        await create_customer(shop, is_excluded=True)
        now = utcnow()
        for n, (days_ago, points, status) in enumerate(
            [
                (0, 100, EarningStatus.APPROVED),
                (3, 200, EarningStatus.APPROVED),
                (45, 999, EarningStatus.APPROVED),  # outside the window
                (1, 40, EarningStatus.PENDING),
            ]
        ):
            await EarningHistoryEntry.create(
                public_id=f"cer_dash_{n}",
                shop_id=shop.id,
                customer_id=ada.id,
                rule_id=rule.id,
                action=rule.action,
                base_points=points,
                points_multiplier=Decimal("1.00"),
                points=points,
                status=status,
                dedupe_key=f"dash:{n}",
                created_at=now - timedelta(days=days_ago),
            )
        response = await admin.get("/dashboard")
        assert response.status_code == 200
        stats = response.json()["data"]["attributes"]
        assert (stats["members"], stats["excluded"]) == (1, 1)
        assert stats["points_issued"] == 340
        assert stats["points_pending"] == 40
        assert stats["window_days"] == 30
        daily = stats["daily_points_issued"]
        assert len(daily) == 30
        assert sum(day["points"] for day in daily) == 340
        assert daily[-1]["points"] == 100


class TestSetup:
    async def test_the_checklist_follows_the_programme(self, admin: Admin, shop: Shop) -> None:
        """Nothing done, then a rule, the merchant's word on the embed, and an integration."""
        first = (await admin.get("/setup")).json()["data"]["attributes"]
        assert (first["steps_done"], first["complete"]) == (0, False)
        await create_rule(shop)
        await Integration.create(
            shop=shop, platform=Platform.KLAVIYO, enabled=True, credentials_enc="sealed"
        )
        response = await admin.request("PUT", "/setup/theme-embed", {"confirmed": True})
        assert response.status_code == 200
        done = response.json()["data"]["attributes"]
        assert done["rules_configured"] and done["theme_embed_confirmed"]
        assert (done["integrations_connected"], done["steps_done"], done["complete"]) == (
            1,
            3,
            True,
        )
        logged = await Activity.get(shop_id=shop.id, kind="theme_embed_confirmed")
        assert (logged.actor_type, logged.actor_id) == (ActorType.STAFF, "42")

    async def test_confirming_twice_logs_once(self, admin: Admin, shop: Shop) -> None:
        """Only a change writes an activity row."""
        for _ in range(2):
            await admin.request("PUT", "/setup/theme-embed", {"confirmed": True})
        assert await Activity.filter(shop_id=shop.id).count() == 1

    @pytest.mark.parametrize("body", [{}, {"confirmed": "yes"}, {"confirmed": 1}])
    async def test_a_bad_body_is_422_and_writes_nothing(
        self, admin: Admin, shop: Shop, body: dict[str, Any]
    ) -> None:
        """`confirmed` must be true or false."""
        response = await admin.request("PUT", "/setup/theme-embed", body)
        assert response.status_code == 422
        assert error_of(response)["source"] == {"pointer": "/confirmed"}
        assert await Activity.filter(shop_id=shop.id).count() == 0


class TestBackfill:
    async def test_progress_of_the_customer_import(self, admin: Admin, shop: Shop) -> None:
        """None, then running with a count, then completed."""
        assert (await admin.get("/backfill")).json()["data"]["attributes"]["state"] == "none"
        now = utcnow()
        await Shop.filter(id=shop.id).update(
            backfill_requested_at=now, backfill_started_at=now, backfill_customers=250
        )
        running = (await admin.get("/backfill")).json()["data"]["attributes"]
        assert (running["state"], running["in_progress"], running["customers_imported"]) == (
            "running",
            True,
            250,
        )
        await Shop.filter(id=shop.id).update(backfill_completed_at=now, backfill_customers=300)
        done = (await admin.get("/backfill")).json()["data"]["attributes"]
        assert (done["state"], done["in_progress"], done["customers_imported"]) == (
            "completed",
            False,
            300,
        )


class TestResync:
    async def test_a_resync_owes_every_customer_a_sync_and_reports_progress(
        self, admin: Admin, shop: Shop, queue: Queue
    ) -> None:
        """One intent per customer and destination; progress counts them as they complete."""
        for _ in range(3):
            await create_customer(shop)
        await Integration.create(
            shop=shop, platform=Platform.KLAVIYO, enabled=True, credentials_enc="sealed"
        )
        assert (await admin.get("/resync")).json()["data"]["attributes"]["state"] == "none"

        started = await admin.post("/resync")
        assert started.status_code == 202
        status = started.json()["data"]["attributes"]
        assert (status["state"], status["customers"], status["total"], status["done"]) == (
            "running",
            3,
            6,  # Shopify metafields and Klaviyo, for each of the three
            0,
        )
        assert await OutboxIntent.filter(shop_id=shop.id).count() == 6
        assert queue.jobs == {JobName.SYNC_SHOPIFY_METAFIELDS, JobName.SYNC_KLAVIYO_PROFILES}

        delivered = await OutboxIntent.filter(shop_id=shop.id).order_by("id").limit(4)
        await OutboxIntent.filter(id__in=[i.id for i in delivered]).update(completed_at=utcnow())
        midway = (await admin.get("/resync")).json()["data"]["attributes"]
        assert (midway["state"], midway["done"], midway["remaining"]) == ("running", 4, 2)

        await OutboxIntent.filter(shop_id=shop.id).update(completed_at=utcnow())
        finished = (await admin.get("/resync")).json()["data"]["attributes"]
        assert (finished["state"], finished["done"], finished["remaining"]) == ("done", 6, 0)

    async def test_a_second_resync_while_one_runs_is_409(
        self, admin: Admin, shop: Shop, queue: Queue
    ) -> None:
        """A double click never doubles the work."""
        await create_customer(shop)
        assert (await admin.post("/resync")).status_code == 202
        before = await counts()
        again = await admin.post("/resync")
        assert again.status_code == 409
        assert await counts() == before


class TestAdjustPoints:
    async def test_an_adjustment_moves_the_balance_with_the_note(
        self, admin: Admin, shop: Shop, queue: Queue
    ) -> None:
        """Points added by the staff user, written in the history and the activity log."""
        customer = await create_customer(shop, points_balance=100, lifetime_points=100)
        response = await admin.post(
            f"/customers/{customer.shopify_customer_id}/points",
            {"adjustment": 250, "note": "Goodwill: parcel arrived late"},
        )
        assert response.status_code == 200, response.text
        done = response.json()["data"]["attributes"]
        assert (done["points_before"], done["points_after"], done["lifetime_points"]) == (
            100,
            350,
            350,
        )
        await customer.refresh_from_db()
        assert customer.points_balance == 350
        entry = await EarningHistoryEntry.get(public_id=done["entry_id"])
        assert (entry.points, entry.note) == (250, "Goodwill: parcel arrived late")
        logged = await Activity.get(customer_id=customer.id, kind="points_adjusted")
        assert (logged.actor_type, logged.actor_id) == (ActorType.STAFF, "42")
        assert logged.data["entry_id"] == entry.public_id

    async def test_a_removal_never_goes_below_zero(self, admin: Admin, shop: Shop) -> None:
        """Taking 500 from 120 takes 120."""
        customer = await create_customer(shop, points_balance=120, lifetime_points=120)
        response = await admin.post(
            f"/customers/{customer.shopify_customer_id}/points", {"adjustment": -500}
        )
        assert response.json()["data"]["attributes"]["applied"] == -120
        await customer.refresh_from_db()
        assert customer.points_balance == 0

    @pytest.mark.parametrize(
        ("body", "pointer"),
        [
            ({}, "/adjustment"),
            ({"adjustment": 0}, "/adjustment"),
            ({"adjustment": "50"}, "/adjustment"),
            ({"adjustment": 2.5}, "/adjustment"),
            ({"adjustment": 10_000_001}, "/adjustment"),
            ({"adjustment": 5, "note": "x" * 501}, "/note"),
            ({"adjustment": 5, "update_lifetime_points": "no"}, "/update_lifetime_points"),
        ],
    )
    async def test_bad_input_is_422_with_a_pointer_and_writes_nothing(
        self, admin: Admin, shop: Shop, body: dict[str, Any], pointer: str
    ) -> None:
        """The field's message comes back; the balance does not move."""
        customer = await create_customer(shop, points_balance=100)
        before = await counts()
        response = await admin.post(f"/customers/{customer.shopify_customer_id}/points", body)
        assert response.status_code == 422, response.text
        assert error_of(response)["source"] == {"pointer": pointer}
        await customer.refresh_from_db()
        assert customer.points_balance == 100
        assert await counts() == before

    async def test_an_excluded_customer_is_403(self, admin: Admin, shop: Shop) -> None:
        """Include them first."""
        customer = await create_customer(shop, points_balance=10, is_excluded=True)
        response = await admin.post(
            f"/customers/{customer.shopify_customer_id}/points", {"adjustment": 5}
        )
        assert response.status_code == 403
        assert error_of(response)["code"] == "customer_excluded"
        await customer.refresh_from_db()
        assert customer.points_balance == 10

    @pytest.mark.parametrize("customer_id", ["999", "someone@example.com"])
    async def test_an_unknown_customer_or_an_email_is_404(
        self, admin: Admin, shop: Shop, customer_id: str
    ) -> None:
        """The admin addresses customers by Shopify id only."""
        await create_customer(shop, email="someone@example.com")
        response = await admin.post(f"/customers/{customer_id}/points", {"adjustment": 5})
        assert response.status_code == 404
        assert error_of(response)["code"] == "customer_not_found"


class TestTierPreview:
    async def test_customers_per_tier_with_an_edited_threshold(
        self, admin: Admin, shop: Shop
    ) -> None:
        """Today's spread, then the spread if Gold started at 1,000."""
        silver = await create_tier(shop, name="Silver", points_required=500)
        gold = await create_tier(shop, name="Gold", points_required=2000)
        for lifetime in (0, 600, 1200, 2500):
            await create_customer(shop, lifetime_points=lifetime)
        today = await admin.get("/vip-tiers/preview")
        assert today.status_code == 200
        spread = {row["id"]: row["attributes"]["customers"] for row in today.json()["data"]}
        assert spread == {silver.public_id: 2, gold.public_id: 1}
        assert today.json()["meta"]["without_tier"] == 1

        edited = await admin.get(
            f"/vip-tiers/preview?tier_id={gold.public_id}&points_required=1000"
        )
        rows = {row["id"]: row["attributes"] for row in edited.json()["data"]}
        assert rows[silver.public_id]["customers"] == 1
        assert rows[gold.public_id]["customers"] == 2 and rows[gold.public_id]["edited"]

    @pytest.mark.parametrize("value", ["-1", "lots", "1.5", "100000000000"])
    async def test_a_bad_threshold_is_400(self, admin: Admin, shop: Shop, value: str) -> None:
        """points_required must be a whole number in range."""
        response = await admin.get(f"/vip-tiers/preview?points_required={value}")
        assert response.status_code == 400
        assert error_of(response)["source"] == {"parameter": "points_required"}


class TestDataRequests:
    async def test_listed_read_and_downloaded(self, admin: Admin, shop: Shop) -> None:
        """The export Shopify's webhook asked for, as a JSON file the merchant can send on."""
        customer = await create_customer(shop, email="asker@example.com", points_balance=120)
        export = await data_request_for(shop, customer)

        listed = (await admin.get("/data-requests")).json()["data"]
        assert [row["id"] for row in listed] == [str(export.id)]
        assert listed[0]["attributes"]["email"] == "asker@example.com"
        assert listed[0]["attributes"]["found_customer"] is True

        one = (await admin.get(f"/data-requests/{export.id}")).json()["data"]
        assert one["attributes"]["record"]["customer"]["points_balance"] == 120

        download = await admin.get(f"/data-requests/{export.id}/download")
        assert download.status_code == 200
        assert download.headers["content-disposition"] == (
            f'attachment; filename="data-request-{export.id}.json"'
        )
        assert download.headers["cache-control"] == "no-store"
        assert download.json()["customer"]["email"] == "asker@example.com"

    @pytest.mark.parametrize("request_id", ["999999", "abc", "-1"])
    async def test_an_unknown_id_is_404(self, admin: Admin, shop: Shop, request_id: str) -> None:
        """Nothing by that id for this shop."""
        response = await admin.get(f"/data-requests/{request_id}/download")
        assert response.status_code == 404
