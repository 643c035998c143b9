"""Dead letters: intents given up after their retry window (or refused outright by a platform),
kept completed with `dead_at` and why, until the merchant retries them.

A retry makes them pending again with a new window (`retry_from`) and no attempts; events their
platform already accepted stay skipped (loyalty.outbox.deliveries), so a retry sends only what
never arrived.

What the admin groups them by is a *source*: a marketing platform (its profile sync job) or
`shopify` (the customer and shop metafield syncs, the Flow triggers). Every query here is
scoped to one shop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.queryset import QuerySet

from loyalty.clock import utcnow
from loyalty.errors import NotFoundError
from loyalty.jobs import PROFILE_SYNC_JOBS, JobName
from loyalty.models import Customer, OutboxIntent
from loyalty.outbox.claims import reopened

# The jobs whose intents can be dead-lettered, by the name the admin shows them under.
SOURCES: dict[str, tuple[JobName, ...]] = {
    "shopify": (
        JobName.SYNC_SHOPIFY_METAFIELDS,
        JobName.SYNC_SHOP_METAFIELDS,
        JobName.SEND_FLOW_TRIGGERS,
    ),
    **{str(platform): (job,) for platform, job in PROFILE_SYNC_JOBS.items()},
}
NEWEST = 20  # how many of a source's dead letters the admin lists


class DeadLetterSourceNotFoundError(NotFoundError):
    code = "integration_not_found"  # the same code as an unknown platform under /integrations
    title = "Integration not found"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    job: str
    customer_id: int | None
    dead_at: datetime
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class DeadLetterCustomer:
    shopify_customer_id: int
    name: str  # full name, else email, else "" (a redacted customer)


@dataclass(frozen=True, slots=True)
class DeadLetterSummary:
    """A source's dead letters as the admin shows them: how many, and the newest with who."""

    source: str
    count: int
    newest: list[DeadLetter]
    customers: dict[int, DeadLetterCustomer]  # by our customer id


async def named_customers(shop_id: int, ids: set[int | None]) -> dict[int, DeadLetterCustomer]:
    """Who the shop's customers `ids` are, as the admin names them (None and deleted skipped).
    Also how the unconfirmed events (loyalty.outbox.deliveries) name theirs."""
    wanted = {i for i in ids if i is not None}
    found = await Customer.filter(shop_id=shop_id, id__in=wanted) if wanted else []
    return {
        c.id: DeadLetterCustomer(
            c.shopify_customer_id, f"{c.first_name} {c.last_name}".strip() or c.email or ""
        )
        for c in found
    }


def parse_source(name: str) -> tuple[JobName, ...]:
    """The jobs of `shopify`, `klaviyo`, `omnisend` or `postscript`; anything else raises
    DeadLetterSourceNotFoundError (404)."""
    try:
        return SOURCES[name]
    except KeyError:
        raise DeadLetterSourceNotFoundError(
            f"No integration {name!r}; dead letters are kept for " + ", ".join(SOURCES)
        ) from None


def _dead(shop_id: int, jobs: Sequence[JobName] | None) -> QuerySet[OutboxIntent]:
    query = OutboxIntent.filter(shop_id=shop_id, dead_at__isnull=False)
    return query.filter(job__in=[str(j) for j in jobs]) if jobs is not None else query


def _jobs(job: JobName | None, jobs: Sequence[JobName] | None) -> Sequence[JobName] | None:
    return (job,) if job is not None else jobs


async def dead_letters(
    *,
    shop_id: int,
    job: JobName | None = None,
    jobs: Sequence[JobName] | None = None,
    limit: int = 100,
) -> list[DeadLetter]:
    """The shop's dead letters (of `job`, of `jobs`, or all), newest first."""
    rows = await _dead(shop_id, _jobs(job, jobs)).order_by("-dead_at", "-id").limit(limit)
    return [
        DeadLetter(r.id, r.job, r.customer_id, r.dead_at, r.attempts, r.last_error)
        for r in rows
        if r.dead_at is not None
    ]


async def dead_letter_count(
    *, shop_id: int, job: JobName | None = None, jobs: Sequence[JobName] | None = None
) -> int:
    return await _dead(shop_id, _jobs(job, jobs)).count()


async def retry_dead_letters(
    *,
    shop_id: int,
    job: JobName | None = None,
    jobs: Sequence[JobName] | None = None,
    now: datetime | None = None,
) -> int:
    """Make the shop's dead letters (of `job`, of `jobs`, or all) pending again, each with a
    new retry window starting now. Returns how many; a second call finds none. The caller
    notifies the dispatcher (or the sweep finds them)."""
    return int(await _dead(shop_id, _jobs(job, jobs)).update(**reopened(now or utcnow())))


async def summary(*, shop_id: int, source: str, limit: int = NEWEST) -> DeadLetterSummary:
    """The count and newest dead letters of one source (raises for an unknown source)."""
    jobs = parse_source(source)
    newest = await dead_letters(shop_id=shop_id, jobs=jobs, limit=limit)
    customers = await named_customers(shop_id, {d.customer_id for d in newest})
    # The count needs no query when the list is not full: it is the whole of it.
    count = (
        len(newest) if len(newest) < limit else await dead_letter_count(shop_id=shop_id, jobs=jobs)
    )
    return DeadLetterSummary(source, count, newest, customers)
