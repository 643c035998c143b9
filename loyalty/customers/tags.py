"""A customer's Shopify tags, kept from Shopify's tag events, and exclusion by the shop's tag.

Since Admin API 2025-01 the customer bodies carry no `tags`; Shopify sends `customer.tags_added`
and `customer.tags_removed` instead, `{"customerId", "tags", "occurredAt"}` (scope
`read_customers`). Deliveries may come late, out of order and more than once.

Guarantees:
- Per tag, the newest event wins. The customer keeps, for every tag an event named, when it was
  last added or removed (`Customer.tag_versions`, removed tags included). An event no newer than
  what is recorded for a tag changes nothing for that tag: a late older event never undoes a
  newer one, and a repeat changes nothing at all. Versions are kept per tag, not per customer,
  so a late event about one tag still applies after a newer event about another.
- A tag event for a customer the app does not know yet creates them, with those tags, so it
  takes effect when Shopify's customers/create or an order fills in the rest.
- Only an event that adds or removes the shop's exclusion tag (case-insensitive) moves
  exclusion: adding excludes (`excluded_by="tag"`), removing re-includes only customers the tag
  excluded, never those staff or the API excluded. Other tag events leave exclusion alone.
- One transaction with the customer row locked. A tag change writes a `customer_updated`
  activity row; an exclusion change also writes `customer_excluded` / `customer_included` and
  the customer-sync intents (tags themselves are synced nowhere, so they owe none).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.transactions import in_transaction

from loyalty.customers.mirror import (
    EXCLUDED_BY_TAG,
    CustomerRecord,
    create_customer,
    customer_activity,
    exclusion_after_tags,
    has_tag,
    locked_customer,
)
from loyalty.ledger.activity import ActivityRow, record
from loyalty.models import Customer, Shop
from loyalty.outbox.intents import write_customer_sync_intents

# Removed tags are remembered this long after the newest event: far beyond any redelivery
# (Shopify retries for hours, the webhook job for about a day), yet a tag an automation adds
# and removes every day does not grow the row for ever.
REMOVED_TAG_MEMORY = timedelta(days=30)
_TAG_REMOVED = "exclusion_tag_removed"  # the activity reason, as before tag events


@dataclass(frozen=True, slots=True)
class TagEvent:
    """One `customer.tags_added` (`added`) or `customer.tags_removed` event."""

    shopify_customer_id: int
    tags: tuple[str, ...]
    added: bool
    occurred_at: datetime  # timezone-aware


@dataclass(frozen=True, slots=True)
class Tags:
    """A customer's tags: `text` as Shopify lists them, `versions` per case-folded tag."""

    text: str
    versions: dict[str, str]

    def after(self, event: TagEvent) -> tuple[Tags, frozenset[str]]:
        """The tags once `event` is applied, and the keys of the tags it changed the version
        of (empty: the event is a repeat, or older than everything it names)."""
        present = [tag.strip() for tag in self.text.split(",") if tag.strip()]
        versions = dict(self.versions)
        applied: set[str] = set()
        for tag in event.tags:
            key = tag_key(tag)
            recorded = _when(versions.get(key))
            if not key or (recorded is not None and recorded >= event.occurred_at):
                continue
            applied.add(key)
            versions[key] = _stamp(event.occurred_at)
            if not event.added:
                present = [p for p in present if tag_key(p) != key]
            elif all(tag_key(p) != key for p in present):
                present.append(tag.strip())
        if not applied:
            return self, frozenset()
        return Tags(", ".join(present), _forget_old_removals(versions, present)), frozenset(applied)


@dataclass(frozen=True, slots=True)
class TagResult:
    customer_id: int
    created: bool  # the event named a customer the app did not know yet
    applied: frozenset[str]  # the tags (case-folded) whose change this event made
    exclusion_changed: bool
    jobs: list[str]  # customer-sync jobs owed, to notify after commit


def tag_key(tag: str) -> str:
    """Shopify compares tags ignoring case; so does the exclusion tag."""
    return tag.strip().casefold()


async def apply_tag_event(*, shop: Shop, event: TagEvent, now: datetime, source: str) -> TagResult:
    """Apply a tag event to the shop's customer (created when unknown). Idempotent: a repeat or
    an older event changes nothing. Runs in the caller's transaction, or its own."""
    async with in_transaction():
        customer = await locked_customer(shop.id, event.shopify_customer_id)
        if customer is None:
            tags, applied = Tags("", {}).after(event)
            excluded = _names_exclusion_tag(applied, shop) and has_tag(
                tags.text, shop.exclusion_tag
            )
            record = CustomerRecord(shopify_customer_id=event.shopify_customer_id)
            created = await create_customer(
                shop=shop,
                record=record,
                now=now,
                source=source,
                tags=tags.text,
                tag_versions=tags.versions,
                excluded_by_tag=excluded,
            )
            if created is not None:
                return TagResult(created.customer_id, True, applied, excluded, created.jobs)
            customer = await locked_customer(shop.id, event.shopify_customer_id)  # lost a race
            assert customer is not None
        return await _apply(shop, customer, event, now, source)


async def _apply(
    shop: Shop, customer: Customer, event: TagEvent, now: datetime, source: str
) -> TagResult:
    before = Tags(customer.tags, customer.tag_versions or {})
    tags, applied = before.after(event)
    if not applied:
        return TagResult(customer.id, False, applied, False, [])
    is_excluded, excluded_by = customer.is_excluded, customer.excluded_by
    if _names_exclusion_tag(applied, shop):
        is_excluded, excluded_by = exclusion_after_tags(
            is_excluded=is_excluded,
            excluded_by=excluded_by,
            tagged=has_tag(tags.text, shop.exclusion_tag),
        )
    exclusion_changed = is_excluded != customer.is_excluded
    tags_changed = tags.text != customer.tags
    changes: dict[str, object] = {"tag_versions": tags.versions}
    if tags_changed or exclusion_changed:
        changes.update(tags=tags.text, is_excluded=is_excluded, excluded_by=excluded_by)
        changes["updated_at"] = now
    await Customer.filter(id=customer.id).update(**changes)

    activities: list[ActivityRow] = []
    if tags_changed:
        # Field names only: activity rows outlive a customers/redact, personal data must not.
        data: dict[str, object] = {"source": source, "fields": ["tags"]}
        activities.append(customer_activity(shop, customer.id, "customer_updated", data, now))
    jobs: list[str] = []
    if exclusion_changed:
        kind = "customer_excluded" if is_excluded else "customer_included"
        data = {"excluded_by": EXCLUDED_BY_TAG} if is_excluded else {"reason": _TAG_REMOVED}
        activities.append(customer_activity(shop, customer.id, kind, data, now))
        jobs = await write_customer_sync_intents(
            shop_id=shop.id, customer_id=customer.id, reason={"reason": kind}, now=now
        )
    await record(*activities)
    return TagResult(customer.id, False, applied, exclusion_changed, jobs)


def _names_exclusion_tag(applied: frozenset[str], shop: Shop) -> bool:
    return bool(shop.exclusion_tag) and tag_key(shop.exclusion_tag or "") in applied


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def _when(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        parsed = datetime.fromisoformat(stamp)
    except ValueError:
        return None  # unreadable: as if never seen, so the event applies
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _forget_old_removals(versions: dict[str, str], present: list[str]) -> dict[str, str]:
    newest = max((w for w in map(_when, versions.values()) if w is not None), default=None)
    if newest is None:
        return versions
    keep = {tag_key(tag) for tag in present}
    horizon = newest - REMOVED_TAG_MEMORY
    return {
        key: stamp
        for key, stamp in versions.items()
        if key in keep or (when := _when(stamp)) is None or when >= horizon
    }
