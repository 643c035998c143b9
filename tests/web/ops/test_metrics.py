"""`GET /metrics`: absent without METRICS_TOKEN, 401 for any other token, and with it the
outbox's pending and dead-lettered intents per job, the events unconfirmed per platform and the
webhooks failed for good, across
every shop, in the Prometheus text format. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager

from loyalty.clock import utcnow
from loyalty.jobs import JobName
from loyalty.models import (
    DeliveryStatus,
    EventDelivery,
    IntentOutcome,
    OutboxIntent,
    Platform,
    Shop,
    WebhookEvent,
)
from loyalty.reports.metrics import INTENT_JOBS
from loyalty.settings import Settings
from tests.factories import create_customer, create_shop
from web.app import create_app

TOKEN = "metrics-token-0123456789"


@pytest.fixture
async def scraper(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.with_overrides(metrics_token=TOKEN), manage_db=False, job_defer=0)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="https://t") as http:
            yield http


def samples(text: str) -> dict[str, float]:
    """`name{labels}` → value, comments left out."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


async def intent(shop: Shop, job: JobName, *, done: bool = False, dead: bool = False) -> None:
    at = utcnow() - timedelta(minutes=5) if done or dead else None
    await OutboxIntent.create(
        shop=shop,
        customer=await create_customer(shop),
        job=str(job),
        payload={},
        completed_at=at,
        dead_at=at if dead else None,
        outcome=IntentOutcome.DEAD if dead else (IntentOutcome.DELIVERED if done else None),
    )


async def webhook(shop: Shop, n: int, *, processed: bool, error: str | None) -> None:
    await WebhookEvent.create(
        webhook_id=f"wh-{n}",
        topic="customers/update",
        shop_domain=shop.domain,
        shop=shop,
        processed_at=utcnow() if processed else None,
        last_error=error,
    )


async def test_without_a_token_configured_the_route_is_absent(
    client: httpx.AsyncClient, db: str
) -> None:
    response = await client.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"


async def delivery(shop: Shop, platform: Platform, key: str, status: DeliveryStatus) -> None:
    await EventDelivery.create(
        shop_id=shop.id,
        platform=str(platform),
        event_key=key,
        intent_id=1,
        status=status,
        at=utcnow(),
    )


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer wrong-token",
        f"Bearer {TOKEN}x",
        f"Basic {TOKEN}",
        TOKEN,
        "Bearer métrics".encode("latin-1"),  # not ASCII: still a 401, never a 500
    ],
)
async def test_any_other_token_is_401(
    scraper: httpx.AsyncClient, authorization: str | bytes | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await scraper.get("/metrics", headers=headers)
    assert response.status_code == 401, response.text
    [error] = response.json()["errors"]
    assert (error["status"], error["code"]) == ("401", "invalid_metrics_token")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "loyalty_outbox" not in response.text


async def test_the_numbers_across_every_shop(scraper: httpx.AsyncClient, db: str) -> None:
    first, second = await create_shop(), await create_shop(domain="second.myshopify.com")
    for shop in (first, second):
        await intent(shop, JobName.SYNC_KLAVIYO_PROFILES)
        await intent(shop, JobName.SYNC_KLAVIYO_PROFILES, dead=True)
    await intent(first, JobName.SYNC_SHOPIFY_METAFIELDS)
    await intent(first, JobName.SYNC_SHOPIFY_METAFIELDS, done=True)
    await intent(second, JobName.SYNC_POSTSCRIPT_SUBSCRIBERS, dead=True)
    await webhook(first, 1, processed=True, error="gave up after 30 attempts: boom")
    await webhook(second, 2, processed=True, error="not a customers/update body: …")
    await webhook(first, 3, processed=False, error="RuntimeError: retrying")  # still retried
    await webhook(first, 4, processed=True, error=None)  # handled
    await webhook(second, 5, processed=False, error=None)  # not yet handled
    await delivery(first, Platform.OMNISEND, "e1", DeliveryStatus.UNCONFIRMED)
    await delivery(second, Platform.OMNISEND, "e1", DeliveryStatus.UNCONFIRMED)
    await delivery(second, Platform.POSTSCRIPT, "e2", DeliveryStatus.UNCONFIRMED)
    await delivery(first, Platform.POSTSCRIPT, "e3", DeliveryStatus.ACCEPTED)  # arrived

    response = await scraper.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE loyalty_outbox_pending gauge" in response.text
    found = samples(response.text)
    pending = {job: found[f'loyalty_outbox_pending{{job="{job}"}}'] for job in INTENT_JOBS}
    dead = {job: found[f'loyalty_outbox_dead_letters{{job="{job}"}}'] for job in INTENT_JOBS}
    assert {job: n for job, n in pending.items() if n} == {
        "sync_klaviyo_profiles": 2,
        "sync_shopify_metafields": 1,
    }
    assert {job: n for job, n in dead.items() if n} == {
        "sync_klaviyo_profiles": 2,
        "sync_postscript_subscribers": 1,
    }
    unconfirmed = {p: found[f'loyalty_events_unconfirmed{{platform="{p}"}}'] for p in Platform}
    assert unconfirmed == {Platform.KLAVIYO: 0, Platform.OMNISEND: 2, Platform.POSTSCRIPT: 1}
    assert found["loyalty_webhooks_failed"] == 2
    assert found["loyalty_webhooks_pending"] == 2


def test_the_token_comes_from_metrics_token() -> None:
    env = {"SECRET_KEY": "s" * 32}
    assert Settings.from_env({**env, "METRICS_TOKEN": TOKEN}).metrics_token == TOKEN
    assert Settings.from_env({**env, "METRICS_TOKEN": ""}).metrics_token is None
    assert TOKEN not in repr(Settings.from_env({**env, "METRICS_TOKEN": TOKEN}))
