"""What the sync tests share: job dependencies on a controlled clock, a connected shop, awards
made through the award service (so intents are the ones production writes), and a job run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import time_machine

from loyalty.clock import utcnow
from loyalty.crypto import SecretBox
from loyalty.earning.award import Actor, award_rule
from loyalty.jobs import JobName
from loyalty.jobs.registry import JOBS
from loyalty.models import (
    ActorType,
    Customer,
    EarningRule,
    Integration,
    OutboxIntent,
    Platform,
    Shop,
)
from loyalty.outbox.queue import JobQueue
from loyalty.settings import SHOPIFY_API_VERSION, Settings
from loyalty.shops.api_keys import ShopContext
from loyalty.sync.deps import JobDeps
from tests.factories import create_rule, create_shop
from tests.loyalty.partners.fakes import KEYS, FakeClock


def graphql_url(shop: Shop) -> str:
    return f"https://{shop.domain}/admin/api/{SHOPIFY_API_VERSION}/graphql.json"


def token_url(shop: Shop) -> str:
    return f"https://{shop.domain}/admin/oauth/access_token"


async def connected_shop(settings: Settings, **overrides: Any) -> Shop:
    """A shop that opened the app: an encrypted offline token valid for an hour."""
    box = SecretBox(settings.secret_key)
    now = utcnow()
    fields: dict[str, Any] = {
        "access_token_enc": box.encrypt("shpat_current"),
        "access_token_expires_at": now + timedelta(hours=1),
        "refresh_token_enc": box.encrypt("shprt_current"),
        "refresh_token_expires_at": now + timedelta(days=90),
        "installed_at": now,
    }
    fields.update(overrides)
    return await create_shop(**fields)


async def enable(settings: Settings, shop: Shop, platform: Platform) -> Integration:
    return await Integration.create(
        shop=shop,
        platform=platform,
        enabled=True,
        credentials_enc=SecretBox(settings.secret_key).encrypt(KEYS[platform]),
    )


async def award(shop: Shop, rule: EarningRule, customer: Customer) -> str:
    """Award through the award service; returns the entry's public id."""
    entry = await award_rule(
        shop=ShopContext(id=shop.id, domain=shop.domain, points_expiry_days=None),
        rule_id=rule.public_id,
        customer_identifier=customer.email or "",
        actor=Actor(type=ActorType.API_KEY, id="test"),
    )
    return entry.public_id


async def award_many(shop: Shop, customer: Customer, count: int, *, points: int = 10) -> list[str]:
    """`count` awards of distinct rules to one customer (each rule once per customer)."""
    return [
        await award(shop, await create_rule(shop, points=points), customer) for _ in range(count)
    ]


async def run_job(job: JobName, deps: JobDeps, shop: Shop, *, queue: JobQueue | None = None) -> int:
    """One run of the job, as a worker would run it; follow-ups it arranges go to `queue`."""
    return await JOBS[job](deps, queue or RecordingQueue(), shop_id=shop.id)


@dataclass
class Enqueued:
    job: JobName
    job_id: str
    defer_seconds: float
    kwargs: dict[str, Any]


class RecordingQueue:
    """A JobQueue that keeps what it is given (the follow-ups a run arranges), runs nothing."""

    def __init__(self) -> None:
        self.jobs: list[Enqueued] = []

    async def enqueue(
        self, job: JobName, *, job_id: str, defer_seconds: float = 0, **kwargs: Any
    ) -> None:
        self.jobs.append(Enqueued(job, job_id, defer_seconds, kwargs))


async def pending(job: JobName, shop: Shop) -> list[OutboxIntent]:
    return await OutboxIntent.filter(shop_id=shop.id, job=str(job), completed_at__isnull=True)


THROTTLED = httpx.Response(
    429,
    headers={"Retry-After": "60"},
    json={"errors": [{"status": 429, "code": "throttled", "detail": "Request was throttled."}]},
)


async def ride(
    job: JobName,
    deps: JobDeps,
    shop: Shop,
    clock: FakeClock,
    traveller: time_machine.Coordinates,
    *,
    until: datetime,
) -> int:
    """Run the job whenever its held work falls due, moving both clocks (the database's
    timestamps and the pacer's) to that moment, until `until`. Returns the number of runs."""
    runs = 0
    while utcnow() < until:
        await run_job(job, deps, shop)
        runs += 1
        held = await pending(job, shop)
        due = min((i.claimed_until for i in held if i.claimed_until), default=None)
        step = max(timedelta(seconds=1), (due - utcnow()) if due else timedelta(minutes=10))
        step = min(step, until - utcnow())
        traveller.shift(step)
        clock.now += step.total_seconds()
    return runs
