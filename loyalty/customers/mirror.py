"""Mirroring Shopify customers into the programme (customers/create, customers/update, and the
customer object of an order), including the shop's exclusion tag.

Guarantees:
- One row per (shop, Shopify id): creation is `INSERT … ON CONFLICT DO NOTHING`, so concurrent
  deliveries for a new customer create it once.
- The newest data wins: an update whose `updated_at` is older than the one stored changes
  nothing (Shopify does not deliver webhooks in order).
- The exclusion tag (case-insensitive, in the comma-separated `tags`) excludes with
  `excluded_by="tag"`; removing the tag re-includes only customers the tag excluded, never those
  staff or the API excluded.
- Changes write their activity rows and customer-sync intents in the caller's transaction; an
  update that changes nothing mirrored writes neither, which also breaks the feedback loop of
  Shopify re-sending customers/update after our own metafield writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tortoise.transactions import in_transaction

from loyalty import sql
from loyalty.customers.identifiers import normalize_email
from loyalty.models import Activity, ActorType, Customer, Shop
from loyalty.outbox.intents import write_customer_sync_intents

EXCLUDED_BY_TAG = "tag"
_TEXT_LIMIT = 255  # the email and name columns


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    """A customer as Shopify describes them (the REST Customer resource, parsed). None means
    Shopify did not say: fields it withholds without protected-customer-data approval arrive
    as null, which must not erase what we hold."""

    shopify_customer_id: int
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    tags: str | None = None
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
        customer = await _locked(shop.id, record.shopify_customer_id)
        if customer is None:
            created_id = await _insert(shop, record, now)
            if created_id is not None:
                return await _after_create(shop, created_id, record, now, source)
            customer = await _locked(shop.id, record.shopify_customer_id)  # lost a race
            assert customer is not None
        if create_only:
            return MirrorResult(customer.id, created=False, changed=(), stale=False, jobs=[])
        return await _update(shop, customer, record, now, source)


async def _locked(shop_id: int, shopify_customer_id: int) -> Customer | None:
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
    if record.tags is not None:
        fields["tags"] = record.tags
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
    shop_id, shopify_customer_id, email, email_key, first_name, last_name, tags, is_excluded,
    excluded_by, anniversary_date, shopify_created_at, shopify_updated_at, points_balance,
    pending_points, lifetime_points, redeemed_points, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, 0, 0, 0, $13, $13)
ON CONFLICT (shop_id, shopify_customer_id) DO NOTHING
RETURNING id
"""


async def _insert(shop: Shop, record: CustomerRecord, now: datetime) -> int | None:
    fields = _mirrored(record)
    email, tags = fields.get("email"), fields.get("tags", "")
    excluded = has_tag(tags, shop.exclusion_tag)
    row = await sql.fetch_one(
        _INSERT_SQL,
        shop.id,
        record.shopify_customer_id,
        email,
        normalize_email(email),
        fields.get("first_name", ""),
        fields.get("last_name", ""),
        tags,
        excluded,
        EXCLUDED_BY_TAG if excluded else None,
        _anniversary(record.created_at, shop.timezone),
        record.created_at,
        record.updated_at,
        now,
    )
    return None if row is None else int(row["id"])


async def _after_create(
    shop: Shop, customer_id: int, record: CustomerRecord, now: datetime, source: str
) -> MirrorResult:
    activities = [_activity(shop, customer_id, "customer_created", {"source": source}, now)]
    if has_tag(record.tags or "", shop.exclusion_tag):
        activities.append(
            _activity(shop, customer_id, "customer_excluded", {"excluded_by": "tag"}, now)
        )
    await Activity.bulk_create(activities)
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
    tagged = has_tag(changes.get("tags", customer.tags), shop.exclusion_tag)
    is_excluded, excluded_by = exclusion_after_tags(
        is_excluded=customer.is_excluded, excluded_by=customer.excluded_by, tagged=tagged
    )
    exclusion_changed = is_excluded != customer.is_excluded
    if exclusion_changed:
        changes.update(is_excluded=is_excluded, excluded_by=excluded_by)
    if "email" in changes:
        changes["email_key"] = normalize_email(changes["email"])
    if record.updated_at is not None and record.updated_at != stored:
        changes["shopify_updated_at"] = record.updated_at
    if not changes:
        return MirrorResult(customer.id, created=False, changed=(), stale=False, jobs=[])

    owes_sync = bool(mirrored) or exclusion_changed
    if owes_sync:
        changes["updated_at"] = now
    await Customer.filter(id=customer.id).update(**changes)
    if not owes_sync:  # only Shopify's updated_at moved (e.g. our own metafield write)
        return MirrorResult(customer.id, created=False, changed=(), stale=False, jobs=[])

    activities = []
    if mirrored:
        # Field names only: activity rows outlive a customers/redact, personal data must not.
        data = {"source": source, "fields": list(mirrored)}
        activities.append(_activity(shop, customer.id, "customer_updated", data, now))
    if exclusion_changed:
        kind = "customer_excluded" if is_excluded else "customer_included"
        data = {"excluded_by": "tag"} if is_excluded else {"reason": "exclusion_tag_removed"}
        activities.append(_activity(shop, customer.id, kind, data, now))
    await Activity.bulk_create(activities)
    jobs = await write_customer_sync_intents(
        shop_id=shop.id, customer_id=customer.id, reason={"reason": "customer_updated"}, now=now
    )
    return MirrorResult(customer.id, created=False, changed=mirrored, stale=False, jobs=jobs)


def _activity(
    shop: Shop, customer_id: int, kind: str, data: dict[str, Any], now: datetime
) -> Activity:
    return Activity(
        shop_id=shop.id,
        customer_id=customer_id,
        kind=kind,
        actor_type=ActorType.SYSTEM,
        actor_id=None,
        data=data,
        created_at=now,
    )
