"""The `process_webhooks` job's work: handle one shop's stored deliveries, in received order.

- One job at a time works on a shop: it holds the shop's lease (`Shop.webhooks_leased_until`,
  renewed per batch, lapsing if the job dies), so the shop's deliveries are handled one after
  another in received order; a job that finds the lease taken leaves the work to its holder,
  which looks again after letting go. Within it, deliveries are claimed in batches
  (`claimed_until`; `FOR UPDATE SKIP LOCKED` on PostgreSQL, as the outbox does).
- Each delivery is handled in one transaction that first marks it processed (only if it is not
  yet): the handler's effects and the mark commit together, so a delivery is applied at most
  once even when its claim lapsed and another job took it over. Handlers are idempotent on their
  own keys as well, for the same event sent under two webhook ids.
- A handled delivery keeps no payload: the row remains, so a repeat is still recognised, but
  the personal data in it is not kept longer than needed.
- Before any handler runs, the body is parsed as its topic's payload class and checked to be
  about the delivery's shop (loyalty.webhooks.payloads): the HMAC signs the body, not the topic
  or shop headers, so a body that is not what its topic sends ("not a <topic> body: …") or that
  a handler must not act on is recorded (`processed_at` and `last_error`, payload kept for
  diagnosis), with no effect, and never retried. A handler may also hold a genuine delivery
  until a time (`RetryLaterError`: shop/redact before 48 hours have passed).
- Any other failure records `last_error` and holds the delivery back with capped exponential
  backoff while the shop's other deliveries go on; after MAX_ATTEMPTS it is given up on,
  recorded and logged as an error.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from loyalty import sql
from loyalty.clock import parse_db_datetime, utcnow
from loyalty.db import dialect
from loyalty.models import Shop
from loyalty.outbox.process import backoff
from loyalty.webhooks import app, compliance, customers, orders
from loyalty.webhooks.event import RetryLaterError, TopicHandler, WebhookContext
from loyalty.webhooks.payloads import parse_body
from loyalty.webhooks.payloads.base import InvalidPayloadError
from loyalty.webhooks.topics import Topic

log = logging.getLogger(__name__)

HANDLERS: dict[str, TopicHandler] = {
    Topic.APP_UNINSTALLED: app.handle_app_uninstalled,
    Topic.APP_SCOPES_UPDATE: app.handle_scopes_update,
    Topic.CUSTOMERS_CREATE: customers.handle_customer,
    Topic.CUSTOMERS_UPDATE: customers.handle_customer,
    Topic.CUSTOMERS_EMAIL_MARKETING_CONSENT_UPDATE: customers.handle_email_consent,
    Topic.CUSTOMER_TAGS_ADDED: customers.handle_tags_added,
    Topic.CUSTOMER_TAGS_REMOVED: customers.handle_tags_removed,
    Topic.ORDERS_PAID: orders.handle_order_paid,
    Topic.ORDERS_CANCELLED: orders.handle_order_cancelled,
    Topic.REFUNDS_CREATE: orders.handle_refund_created,
    Topic.CUSTOMERS_DATA_REQUEST: compliance.handle_data_request,
    Topic.CUSTOMERS_REDACT: compliance.handle_customer_redact,
    Topic.SHOP_REDACT: compliance.handle_shop_redact,
}

# About a day of retries at the capped backoff (5 s, 10 s, … 1 h) before giving up.
MAX_ATTEMPTS = 30


@dataclass(slots=True)
class WebhookRun:
    """What one run did. `jobs` are customer syncs owed (dispatch them); `more` means the time
    budget ran out with deliveries left (queue another run)."""

    handled: int = 0
    failed: int = 0  # recorded as failed for good
    held: int = 0  # failed this time, retried later
    jobs: set[str] = field(default_factory=set)
    more: bool = False


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    topic: str
    webhook_id: str
    payload: dict[str, Any]
    triggered_at: datetime | None
    attempts: int  # including this one


_CLAIM_SQL = """
UPDATE webhook_event SET claimed_until = $2, attempts = attempts + 1
WHERE id IN (
    SELECT id FROM webhook_event
    WHERE shop_id = $1 AND processed_at IS NULL AND (claimed_until IS NULL OR claimed_until < $3)
    ORDER BY id LIMIT $4 {lock}
)
RETURNING id, topic, webhook_id, payload, triggered_at, attempts
"""
_CLAIM_SQL_BY_DIALECT = {
    "postgres": _CLAIM_SQL.format(lock="FOR UPDATE SKIP LOCKED"),
    "sqlite": _CLAIM_SQL.format(lock=""),
}

_MARK_HANDLED_SQL = """
UPDATE webhook_event SET processed_at = $2, claimed_until = NULL, last_error = NULL, payload = '{}'
WHERE id = $1 AND processed_at IS NULL
"""
_MARK_FAILED_SQL = """
UPDATE webhook_event SET processed_at = $2, claimed_until = NULL, last_error = $3
WHERE id = $1 AND processed_at IS NULL
"""
_HOLD_SQL = """
UPDATE webhook_event SET claimed_until = $2, last_error = $3
WHERE id = $1 AND processed_at IS NULL
"""


async def process_webhooks(
    *,
    shop_id: int,
    batch_size: int = 100,
    claim_for: timedelta = timedelta(minutes=2),
    time_budget: float = 60.0,
) -> WebhookRun:
    """Handle the shop's unprocessed deliveries until none is left or `time_budget` seconds
    have passed. Safe to run twice or concurrently: a second job for the shop returns at once
    while the first holds the lease."""
    run = WebhookRun()
    deadline = time.monotonic() + time_budget
    while await _take_lease(shop_id, claim_for):
        try:
            while claimed := await _claim(shop_id, batch_size, claim_for):
                for event in claimed:
                    await _handle(shop_id, event, run)
                if time.monotonic() >= deadline:
                    run.more = True
                    return run
        finally:
            await sql.execute(_RELEASE_LEASE_SQL, shop_id)
        # A delivery stored while we held the lease may have had its job turned away just
        # before we let go: look once more, now that we have.
        if not await sql.fetch_one(_CLAIMABLE_SQL, shop_id, utcnow()):
            break
    return run


_TAKE_LEASE_SQL = """
UPDATE shop SET webhooks_leased_until = $2
WHERE id = $1 AND (webhooks_leased_until IS NULL OR webhooks_leased_until < $3)
"""
_RELEASE_LEASE_SQL = "UPDATE shop SET webhooks_leased_until = NULL WHERE id = $1"
_CLAIMABLE_SQL = """
SELECT id FROM webhook_event
WHERE shop_id = $1 AND processed_at IS NULL AND (claimed_until IS NULL OR claimed_until < $2)
LIMIT 1
"""


async def _take_lease(shop_id: int, claim_for: timedelta) -> bool:
    now = utcnow()
    return bool(await sql.execute(_TAKE_LEASE_SQL, shop_id, now + claim_for, now))


async def _claim(shop_id: int, limit: int, claim_for: timedelta) -> list[_Claimed]:
    now = utcnow()
    # Renew the lease for as long as this batch's claim lasts.
    await sql.execute(
        "UPDATE shop SET webhooks_leased_until = $2 WHERE id = $1", shop_id, now + claim_for
    )
    rows = await sql.fetch_all(
        _CLAIM_SQL_BY_DIALECT[dialect()], shop_id, now + claim_for, now, limit
    )
    return sorted(
        (
            _Claimed(
                id=int(row["id"]),
                topic=row["topic"],
                webhook_id=row["webhook_id"],
                payload=_as_dict(row["payload"]),
                triggered_at=parse_db_datetime(row["triggered_at"]),
                attempts=int(row["attempts"]),
            )
            for row in rows
        ),
        key=lambda event: event.id,
    )


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, (str, bytes)):
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


async def _handle(shop_id: int, event: _Claimed, run: WebhookRun) -> None:
    now = utcnow()
    handler = HANDLERS.get(event.topic)
    try:
        async with in_transaction():
            if not await sql.execute(_MARK_HANDLED_SQL, event.id, now):
                return  # another job handled it after our claim lapsed
            shop = await Shop.get_or_none(id=shop_id)
            if handler is None:
                raise InvalidPayloadError(f"no handler for topic {event.topic!r}")
            jobs = [] if shop is None else await handler(_context(shop, event, now))
    except InvalidPayloadError as exc:
        await sql.execute(_MARK_FAILED_SQL, event.id, now, exc.record()[:2000])
        log.warning("webhook %s (%s) recorded as failed: %s", event.webhook_id, event.topic, exc)
        run.failed += 1
        return
    except RetryLaterError as exc:
        await _retry_or_give_up(event, exc, now, retry_at=exc.retry_at)
        run.held += 1
        return
    except Exception as exc:
        await _retry_or_give_up(event, exc, now)
        run.held += 1
        return
    run.handled += 1
    run.jobs.update(jobs)


def _context(shop: Shop, event: _Claimed, now: datetime) -> WebhookContext:
    """The handler's view of the delivery; raises NotTopicBodyError for a body that is not its
    topic's, or names another shop, before any handler sees it."""
    body = parse_body(
        event.topic, event.payload, domain=shop.domain, shopify_shop_id=shop.shopify_shop_id
    )
    return WebhookContext(
        event_pk=event.id,
        shop=shop,
        topic=event.topic,
        webhook_id=event.webhook_id,
        body=body,
        triggered_at=event.triggered_at,
        now=now,
    )


async def _retry_or_give_up(
    event: _Claimed, exc: Exception, now: datetime, *, retry_at: datetime | None = None
) -> None:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    if event.attempts >= MAX_ATTEMPTS:
        await sql.execute(
            _MARK_FAILED_SQL, event.id, now, f"gave up after {event.attempts} attempts: {error}"
        )
        log.error(
            "webhook %s (%s) given up after %d attempts",
            event.webhook_id,
            event.topic,
            event.attempts,
            exc_info=exc,
        )
        return
    retry_at = retry_at or now + backoff(event.attempts)
    await sql.execute(_HOLD_SQL, event.id, retry_at, error)
    log.warning(
        "webhook %s (%s) failed (attempt %d), retrying at %s",
        event.webhook_id,
        event.topic,
        event.attempts,
        retry_at.isoformat(),
        exc_info=exc,
    )
