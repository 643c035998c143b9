"""Mirroring Shopify customers into the programme (customers/create, customers/update, and the
customer object of an order), and the rules of the shop's exclusion tag.

Guarantees:
- One row per (shop, Shopify id): creation is `INSERT … ON CONFLICT DO NOTHING`, so concurrent
  deliveries for a new customer create it once.
- The newest data wins: an update whose `updated_at` is older than the one stored changes
  nothing (Shopify does not deliver webhooks in order).
- A customer body never touches tags or exclusion. Since Admin API 2025-01 customers/create and
  customers/update (and an order's `customer`) carry no `tags`; Shopify's tag events do
  (loyalty/customers/tags.py). A body from an older API version that still has `tags` is not
  read either: its snapshot is versioned by `updated_at`, the tag events by `occurredAt`, and
  mixing the two could let a stale snapshot undo a newer tag event. (shopify.dev changelog,
  "New customer's webhook and changes to existing customer's webhooks payload", 2025-01.)
- The exclusion tag (case-insensitive, in the comma-separated `tags`) excludes with
  `excluded_by="tag"`; removing the tag re-includes only customers the tag excluded, never those
  staff or the API excluded (`exclusion_after_tags`).
- Changes write their activity rows and customer-sync intents in the caller's transaction; an
  update that changes nothing mirrored writes neither, which also breaks the feedback loop of
  Shopify re-sending customers/update after our own metafield writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tortoise.transactions import in_transaction

from loyalty import sql
from loyalty.customers.identifiers import normalize_email
from loyalty.ledger.activity import ActivityRow
from loyalty.ledger.activity import record as record_activity
from loyalty.models import Customer, Shop
from loyalty.outbox.intents import write_customer_sync_intents

EXCLUDED_BY_TAG = "tag"
_TEXT_LIMIT = 255  # the email and name columns


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    """A customer as Shopify describes them (the REST Customer resource, parsed). None means
    Shopify did not say: fields it withholds without protected-customer-data approval arrive
    as null, which must not erase what we hold. No tags: see the module docstring."""

    shopify_customer_id: int
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MirrorResult:
    customer_id: int
    created: bool
    changed: tuple[str, ...]  # mirrored fields that changed (empty when created or stale)
    stale: bool  # the record was older than what is stored: nothing changed
    jobs: list[str]  # customer-sync jobs owed, to notify after commit


def has_tag(tags: str, tag: str | None) -> bool:
    """Whether the comma-separated `tags` contain `tag`, ignoring case and spaces."""
    wanted = (tag or "").strip().casefold()
    if not wanted:
        return False
    return any(part.strip().casefold() == wanted for part in tags.split(","))


def exclusion_after_tags(
    *, is_excluded: bool, excluded_by: str | None, tagged: bool
) -> tuple[bool, str | None]:
    """The (is_excluded, excluded_by) a customer should have given whether they carry the tag."""
    if tagged and not is_excluded:
        return True, EXCLUDED_BY_TAG
    if not tagged and is_excluded and excluded_by == EXCLUDED_BY_TAG:
        return False, None
    return is_excluded, excluded_by


async def mirror_customer(
    *,
    shop: Shop,
    record: CustomerRecord,
    now: datetime,
    source: str,
    create_only: bool = False,
) -> MirrorResult:
    """Create or update the shop's customer from `record`. `create_only` leaves an existing
    customer untouched (an order's customer object is a snapshot, not an update). `source`
    (the webhook topic) is recorded in the activity rows. Runs in the caller's transaction, or
    its own."""
    async with in_transaction():
        customer = await locked_customer(shop.id, record.shopify_customer_id)
        if customer is None:
            created = await create_customer(shop=shop, record=record, now=now, source=source)
            if created is not None:
                return created
            customer = await locked_customer(shop.id, record.shopify_customer_id)  # lost a race
            assert customer is not None
        if create_only:
            return MirrorResult(customer.id, created=False, changed=(), stale=False, jobs=[])
        return await _update(shop, customer, record, now, source)


async def locked_customer(shop_id: int, shopify_customer_id: int) -> Customer | None:
    """The shop's customer, locked for the rest of the caller's transaction (PostgreSQL)."""
    return (
        await Customer.filter(shop_id=shop_id, shopify_customer_id=shopify_customer_id)
        .select_for_update(no_key=True)
        .first()
    )


def _mirrored(record: CustomerRecord) -> dict[str, Any]:
    """The mirrored fields Shopify sent (a null one is left out: withheld, not erased)."""
    fields: dict[str, Any] = {}
    if record.email is not None:
        fields["email"] = record.email.strip()[:_TEXT_LIMIT] or None
    if record.first_name is not None:
        fields["first_name"] = record.first_name[:_TEXT_LIMIT]
    if record.last_name is not None:
        fields["last_name"] = record.last_name[:_TEXT_LIMIT]
    return fields


def _anniversary(created_at: datetime | None, timezone: str) -> date | None:
    # The account's creation day in the shop's timezone: the day the anniversary falls on.
    if created_at is None:
        return None
    try:
        zone: Any = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return created_at.astimezone(zone).date()


_INSERT_SQL = """
INSERT INTO customer (
    shop_id, shopify_customer_id, email, email_key, first_name, last_name, tags, tag_versions,
    is_excluded, excluded_by, anniversary_date, shopify_created_at, shopify_updated_at,
    points_balance, pending_points, lifetime_points, redeemed_points, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, 0, 0, 0, $14, $14)
ON CONFLICT (shop_id, shopify_customer_id) DO NOTHING
RETURNING id
"""


async def create_customer(
    *,
    shop: Shop,
    record: CustomerRecord,
    now: datetime,
    source: str,
    tags: str = "",
    tag_versions: dict[str, str] | None = None,
    excluded_by_tag: bool = False,
) -> MirrorResult | None:
    """Insert the customer with their `customer_created` activity (and `customer_excluded` when
    `excluded_by_tag`) and the sync intents; None when the row already exists (it is left
    alone). The caller owns the transaction."""
    fields = _mirrored(record)
    email = fields.get("email")
    row = await sql.fetch_one(
        _INSERT_SQL,
        shop.id,
        record.shopify_customer_id,
        email,
        normalize_email(email),
        fields.get("first_name", ""),
        fields.get("last_name", ""),
        tags,
        None if tag_versions is None else json.dumps(tag_versions, separators=(",", ":")),
        excluded_by_tag,
        EXCLUDED_BY_TAG if excluded_by_tag else None,
        _anniversary(record.created_at, shop.timezone),
        record.created_at,
        record.updated_at,
        now,
    )
    if row is None:
        return None
    customer_id = int(row["id"])
    activities = [customer_activity(shop, customer_id, "customer_created", {"source": source}, now)]
    if excluded_by_tag:
        data = {"excluded_by": EXCLUDED_BY_TAG}
        activities.append(customer_activity(shop, customer_id, "customer_excluded", data, now))
    await record_activity(*activities)
    jobs = await write_customer_sync_intents(
        shop_id=shop.id, customer_id=customer_id, reason={"reason": "customer_created"}, now=now
    )
    return MirrorResult(customer_id, created=True, changed=(), stale=False, jobs=jobs)


async def _update(
    shop: Shop, customer: Customer, record: CustomerRecord, now: datetime, source: str
) -> MirrorResult:
    stored = customer.shopify_updated_at
    if record.updated_at is not None and stored is not None and record.updated_at < stored:
        return MirrorResult(customer.id, created=False, changed=(), stale=True, jobs=[])

    changes = {
        name: value for name, value in _mirrored(record).items() if getattr(customer, name) != value
    }
    if record.created_at is not None and customer.shopify_created_at != record.created_at:
        changes["shopify_created_at"] = record.created_at
        if customer.anniversary_date is None:
            changes["anniversary_date"] = _anniversary(record.created_at, shop.timezone)
    mirrored = tuple(sorted(changes))
    if "email" in changes:
        changes["email_key"] = normalize_email(changes["email"])
    if record.updated_at is not None and record.updated_at != stored:
        changes["shopify_updated_at"] = record.updated_at
    if not changes:
        return MirrorResult(customer.id, created=False, changed=(), stale=False, jobs=[])

    if mirrored:
        changes["updated_at"] = now
    await Customer.filter(id=customer.id).update(**changes)
    if not mirrored:  # only Shopify's updated_at moved (e.g. our own metafield write)
        return MirrorResult(customer.id, created=False, changed=(), stale=False, jobs=[])

    # Field names only: activity rows outlive a customers/redact, personal data must not.
    data = {"source": source, "fields": list(mirrored)}
    await record_activity(customer_activity(shop, customer.id, "customer_updated", data, now))
    jobs = await write_customer_sync_intents(
        shop_id=shop.id, customer_id=customer.id, reason={"reason": "customer_updated"}, now=now
    )
    return MirrorResult(customer.id, created=False, changed=mirrored, stale=False, jobs=jobs)


def customer_activity(
    shop: Shop, customer_id: int, kind: str, data: dict[str, Any], now: datetime
) -> ActivityRow:
    """A system activity row about the customer (written through loyalty.ledger.activity)."""
    return ActivityRow(shop.id, customer_id, kind, now, data)
