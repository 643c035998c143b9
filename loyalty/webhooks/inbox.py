"""Storing verified webhook deliveries, once each, and finding the shops still owed work.

The request path stores each delivery (through `DeliveryInbox`, which commits a burst in a few
statements) and answers at once; the work happens in the `process_webhooks` job. A delivery is
stored exactly once per `X-Shopify-Webhook-Id` (stable across Shopify's retries) and once per
signed body, whatever its topic, shop or webhook id (`body_sha256`, unique), by
`INSERT … ON CONFLICT DO NOTHING`: a repeat or a replay, however concurrent, is acknowledged as a
duplicate and never processed again. The HMAC signs the body and nothing else, and no two of
the subscribed topics need one body handled twice (see the README, "How a webhook's topic is
bound to its body"). The digests outlive a redacted shop (`forget_shop`). A webhook never creates
a shop: a delivery for a shop we do not know is stored nowhere (`shop_id` None), since only an
install creates a shop.

The payload stored is the body as sent, with two exceptions (`_payload`): a body this system
cannot read as JSON (`loyalty.strict_json`) is stored as `{}` already failed, with the reason;
a body whose strings or keys hold NUL or lone surrogates (which PostgreSQL's jsonb refuses) is
stored re-serialised with each of those code points replaced by U+FFFD, and processed so: the
handlers see U+FFFD where Shopify sent `\u0000` or a lone `\ud800`. `body_sha256` is always the
digest of the body as sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from loyalty import sql, strict_json
from loyalty.clock import utcnow
from loyalty.db import dialect

MAX_HEADER_LENGTH = 64  # webhook and event ids, topic (the columns' width)
MAX_DOMAIN_LENGTH = 255  # shop domains


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery whose HMAC has been verified, as the headers and body describe it."""

    webhook_id: str
    topic: str
    shop_domain: str
    body: str  # the raw JSON text, stored as the payload
    event_id: str | None = None
    api_version: str = ""
    triggered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    shop_id: int | None  # None: the shop is unknown, and nothing was stored
    event_pk: int | None  # None: a repeat of a delivery already stored, or nothing stored

    @property
    def is_new(self) -> bool:
        return self.event_pk is not None


def body_digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def _payload(delivery: Delivery, now: datetime) -> tuple[str, datetime | None, str | None]:
    """(payload, processed_at, last_error) to store. A body that is not a JSON object is stored
    already failed, with the reason: it is authentic (the HMAC matched), so refusing it would only
    make Shopify retry the same bytes for four hours. See the module docstring for NUL."""
    try:
        parsed = strict_json.loads(delivery.body)
    except (json.JSONDecodeError, strict_json.JsonRefused) as exc:
        return "{}", now, f"invalid payload: the body is not valid JSON ({exc})"
    if not isinstance(parsed, dict):
        return "{}", now, "invalid payload: the body is not a JSON object"
    if strict_json.find_unstorable(parsed) is not None:
        return json.dumps(strict_json.scrub(parsed)), None, None
    return delivery.body, None, None


async def store_delivery(*, delivery: Delivery, now: datetime | None = None) -> StoredDelivery:
    """Store one delivery for its shop (none stored when the shop is unknown)."""
    return (await store_deliveries(deliveries=[delivery], now=now))[0]


async def store_deliveries(
    *, deliveries: list[Delivery], now: datetime | None = None
) -> list[StoredDelivery]:
    """Store deliveries, in order, each for its shop; one for an unknown shop is not stored
    (`shop_id` None). A webhook id already stored, or repeated earlier in `deliveries`, comes
    back as a repeat."""
    now = now or utcnow()
    if dialect() == "postgres":
        stored = await _store_postgres(deliveries, now)
    else:
        stored = [await _store_sqlite(delivery, now) for delivery in deliveries]
    seen: set[str] = set()
    for n, (delivery, result) in enumerate(zip(deliveries, stored, strict=True)):
        if delivery.webhook_id in seen:
            stored[n] = StoredDelivery(shop_id=result.shop_id, event_pk=None)
        seen.add(delivery.webhook_id)
    return stored


# PostgreSQL: the whole batch in one statement (one round trip, one commit), the shops looked up
# in it. Rows of shops not known insert nothing and come back without a shop.
_PG_STORE_SQL = """
WITH input AS (
    SELECT * FROM unnest(
        $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
        $7::text[], $8::timestamptz[], $9::text[], $10::int[], $12::text[]
    ) AS t(webhook_id, event_id, topic, shop_domain, api_version, triggered_at, payload,
           processed_at, last_error, ord, body_sha256)
), ins AS (
    INSERT INTO webhook_event (
        webhook_id, event_id, topic, shop_domain, shop_id, api_version, triggered_at, payload,
        received_at, attempts, processed_at, last_error, body_sha256)
    SELECT i.webhook_id, i.event_id, i.topic, i.shop_domain, s.id, i.api_version,
           i.triggered_at, i.payload::jsonb, $11, 0, i.processed_at, i.last_error, i.body_sha256
    FROM input i JOIN shop s ON s.domain = i.shop_domain
    ORDER BY i.ord
    -- A repeat of the webhook id (Shopify's retry) or of the signed body (a replay under other
    -- headers): either way, stored once.
    ON CONFLICT DO NOTHING
    RETURNING id, webhook_id
)
SELECT i.ord, s.id AS shop_id, ins.id AS event_pk
FROM input i LEFT JOIN shop s ON s.domain = i.shop_domain
LEFT JOIN ins ON ins.webhook_id = i.webhook_id
ORDER BY i.ord
"""


async def _store_postgres(deliveries: list[Delivery], now: datetime) -> list[StoredDelivery]:
    payloads = [_payload(delivery, now) for delivery in deliveries]
    rows = await sql.fetch_all(
        _PG_STORE_SQL,
        [d.webhook_id for d in deliveries],
        [d.event_id for d in deliveries],
        [d.topic for d in deliveries],
        [d.shop_domain for d in deliveries],
        [d.api_version[:16] for d in deliveries],
        [d.triggered_at for d in deliveries],
        [payload for payload, _, _ in payloads],
        [processed_at for _, processed_at, _ in payloads],
        [error for _, _, error in payloads],
        list(range(len(deliveries))),
        now,
        [body_digest(d.body) for d in deliveries],
    )
    return [StoredDelivery(row["shop_id"], row["event_pk"]) for row in rows]


_SQLITE_SHOP_SQL = "SELECT id FROM shop WHERE domain = $1"
_SQLITE_STORE_SQL = """
INSERT INTO webhook_event (
    webhook_id, event_id, topic, shop_domain, shop_id, api_version, triggered_at, payload,
    received_at, attempts, processed_at, last_error, body_sha256)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11, $12)
ON CONFLICT DO NOTHING
RETURNING id
"""


async def _store_sqlite(delivery: Delivery, now: datetime) -> StoredDelivery:
    # One writer at a time: nothing to gain from batching, so one delivery per statement.
    shop_row = await sql.fetch_one(_SQLITE_SHOP_SQL, delivery.shop_domain)
    if shop_row is None:
        return StoredDelivery(shop_id=None, event_pk=None)
    shop_id = shop_row["id"]
    payload, processed_at, error = _payload(delivery, now)
    inserted = await sql.fetch_one(
        _SQLITE_STORE_SQL,
        delivery.webhook_id,
        delivery.event_id,
        delivery.topic,
        delivery.shop_domain,
        shop_id,
        delivery.api_version[:16],
        delivery.triggered_at,
        payload,
        now,
        processed_at,
        error,
        body_digest(delivery.body),
    )
    return StoredDelivery(shop_id=shop_id, event_pk=None if inserted is None else inserted["id"])


class DeliveryInbox:
    """Group commit for the request path: deliveries that arrive while a write is in flight are
    stored together by the next one, so a burst costs a few statements and commits, not one
    per delivery, and no delivery waits for a timer. Each caller is answered only once its
    delivery is committed. One per process (it belongs to the event loop that uses it)."""

    def __init__(self, *, max_batch: int = 200) -> None:
        self._max_batch = max_batch
        self._waiting: list[tuple[Delivery, asyncio.Future[StoredDelivery]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def store(self, delivery: Delivery) -> StoredDelivery:
        future: asyncio.Future[StoredDelivery] = asyncio.get_running_loop().create_future()
        self._waiting.append((delivery, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="webhook-inbox")
        return await future

    async def _write(self) -> None:
        while self._waiting:
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            try:
                stored = await store_deliveries(deliveries=[delivery for delivery, _ in batch])
            except Exception as exc:  # every caller in the batch answers with the error
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, stored, strict=True):
                if not future.done():  # a caller that went away still had its delivery stored
                    future.set_result(result)


_OWED_SHOPS_SQL = """
SELECT DISTINCT shop_id FROM webhook_event
WHERE processed_at IS NULL AND shop_id IS NOT NULL AND received_at <= $1
  AND (claimed_until IS NULL OR claimed_until < $2)
"""


async def owed_shops(*, received_before: datetime, now: datetime | None = None) -> list[int]:
    """Shops with deliveries stored before `received_before` that no job is working on (never
    queued because Redis was down, or claimed by a worker that died): what a sweep re-queues.
    Deliveries held back after a failure are not owed until their retry time."""
    rows = await sql.fetch_all(_OWED_SHOPS_SQL, received_before, now or utcnow())
    return sorted(int(row["shop_id"]) for row in rows)


_FORGET_SHOP_SQL = """
UPDATE webhook_event
SET shop_id = NULL, shop_domain = '', payload = '{}', claimed_until = NULL,
    last_error = CASE WHEN processed_at IS NULL THEN $3 ELSE last_error END,
    processed_at = COALESCE(processed_at, $2)
WHERE shop_id = $1
"""


async def forget_shop(*, shop_id: int, now: datetime) -> int:
    """Before a shop is deleted (shop/redact): its deliveries keep only what recognises them
    again (webhook id, topic, body digest), detached from the shop and emptied, so no body it
    was sent can act again, on a shop installed afresh under the same domain either. Those
    not yet handled never will be. Returns how many rows it kept."""
    return await sql.execute(_FORGET_SHOP_SQL, shop_id, now, "skipped: the shop was redacted")
