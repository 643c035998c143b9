"""The embedded admin's JSON API is rate limited per shop and staff user (web.admin_ratelimit):
a burst of adjustments through one session gets 429 `rate_limited` with Retry-After after
ADMIN_API_BURST, writing nothing more; another staff user of the shop, and another shop, are
unaffected. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager

from loyalty.models import Activity, Customer, EarningHistoryEntry, Shop
from loyalty.settings import Settings
from tests.factories import create_customer
from tests.web.admin_client import Admin
from web.app import create_app

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

BURST = 10


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An app whose admin API allows BURST requests at once, and one more every 100 s."""
    limited = settings.with_overrides(admin_api_rate_limit=0.01, admin_api_burst=BURST)
    application = create_app(limited, manage_db=False, job_defer=0)
    async with LifespanManager(application) as manager:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="https://loyalty.test"
        ) as http:
            yield http


async def written(customer: Customer) -> tuple[int, int, int]:
    await customer.refresh_from_db()
    return (
        customer.points_balance,
        await EarningHistoryEntry.filter(customer_id=customer.id).count(),
        await Activity.filter(customer_id=customer.id).count(),
    )


async def test_a_burst_of_adjustments_is_refused_after_the_burst(
    client: httpx.AsyncClient, shop: Shop, other_shop: Shop
) -> None:
    customer = await create_customer(shop, points_balance=0)
    path = f"/customers/{customer.shopify_customer_id}/points"
    staff = Admin(client, "demo", staff="42")
    for _ in range(BURST):
        response = await staff.post(path, {"adjustment": 1})
        assert response.status_code == 200, response.text
    before = await written(customer)

    refused = await staff.post(path, {"adjustment": 1})
    assert refused.status_code == 429, refused.text
    error = refused.json()["errors"][0]
    assert (error["status"], error["code"]) == ("429", "rate_limited")
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit-limit"] == str(BURST)
    assert await written(customer) == before == (BURST, BURST, BURST)
    # Reads through the same session are refused too: the bucket is the session's.
    assert (await staff.get("/settings")).status_code == 429

    colleague = await Admin(client, "demo", staff="43").post(path, {"adjustment": 1})
    assert colleague.status_code == 200, colleague.text
    elsewhere = await Admin(client, "other", staff="42").get("/settings")
    assert elsewhere.status_code == 200, elsewhere.text
