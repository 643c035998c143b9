"""Shopify's mandatory privacy requests: export what we hold about a customer, erase a
customer's personal data, erase a shop.

- `export_customer_data` (customers/data_request): the customer's profile, balances, tier,
  ledger entries, activity and referrals assembled into a `DataRequest` row the merchant
  downloads from the admin. Once per Shopify data-request id.
- `redact_customer` (customers/redact): for the customer the request names exactly (by Shopify
  id when it gives one; by email only when it gives none and one customer has it), email, names,
  tags, dates of birth and anniversary and the Shopify account dates erased, and the Shopify id
  replaced by the row's negative id (no real id is negative, and it stays unique); the
  customer's exports deleted, their pending syncs completed unsent, and stored deliveries about
  them not yet handled dropped; as a referred friend, their email erased from the referral and
  their phone/address digests deleted. Ledger entries and balances stay, anonymous, so the
  shop's totals still add up. Idempotent.
- `redact_shop` (shop/redact, 48 hours after uninstall): every row of the shop deleted.
  Idempotent.
https://shopify.dev/docs/apps/build/privacy-law-compliance
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from loyalty.clock import isoformat_z
from loyalty.customers.identifiers import normalize_email
from loyalty.customers.referral_emails import referral_email_key
from loyalty.errors import DataRequestNotFoundError
from loyalty.ledger.activity import ActivityRow, record
from loyalty.models import (
    Activity,
    Customer,
    CustomerCount,
    DataRequest,
    EarningHistoryEntry,
    LedgerRollup,
    LedgerRollupState,
    OutboxIntent,
    Referral,
    ReferralFingerprint,
    Shop,
    WebhookEvent,
)

REDACTED_EVENT = "skipped: the customer's personal data was redacted"


@dataclass(frozen=True, slots=True)
class Redaction:
    customer_id: int | None  # None: we held nothing about them
    exports_deleted: int
    intents_completed: int
    events_dropped: int


async def find_customer(
    *, shop_id: int, shopify_customer_id: int | None, email: str | None
) -> Customer | None:
    """The customer a privacy request names: by Shopify id, else by email (case-insensitive)."""
    if shopify_customer_id is not None:
        customer = await Customer.get_or_none(
            shop_id=shop_id, shopify_customer_id=shopify_customer_id
        )
        if customer is not None:
            return customer
    key = normalize_email(email)
    if key is None:
        return None
    return await Customer.filter(shop_id=shop_id, email_key=key).order_by("id").first()


async def find_named_customer(
    *, shop_id: int, shopify_customer_id: int | None, email: str | None
) -> Customer | None:
    """The customer an erasure names, exactly: by Shopify id when the request gives one (a
    customer found by its email instead would be another Shopify customer); by email
    (case-insensitive) only when it gives no id, and only if one customer of the shop has it."""
    if shopify_customer_id is not None:
        return await Customer.get_or_none(shop_id=shop_id, shopify_customer_id=shopify_customer_id)
    key = normalize_email(email)
    if key is None:
        return None
    found = await Customer.filter(shop_id=shop_id, email_key=key).order_by("id").limit(2)
    return found[0] if len(found) == 1 else None


async def export_customer_data(
    *,
    shop: Shop,
    shopify_customer_id: int | None,
    email: str | None,
    shopify_request_id: int | None,
    orders_requested: list[int],
    now: datetime,
) -> DataRequest:
    """Assemble and store everything held about the customer (a record saying so when we hold
    nothing). A repeat of the same Shopify request returns the export already made."""
    if shopify_request_id is not None:
        existing = await DataRequest.get_or_none(
            shop_id=shop.id, shopify_request_id=shopify_request_id
        )
        if existing is not None:
            return existing
    customer = await find_customer(
        shop_id=shop.id, shopify_customer_id=shopify_customer_id, email=email
    )
    record: dict[str, Any] = {
        "generated_at": isoformat_z(now),
        "request": {
            "shopify_request_id": shopify_request_id,
            "shopify_customer_id": shopify_customer_id,
            "email": email,
            "orders_requested": orders_requested,
        },
        "customer": None,
        "earning_history": [],
        "activity": [],
    }
    if customer is not None:
        record.update(await _customer_data(customer))
    return await DataRequest.create(
        shop_id=shop.id,
        shopify_request_id=shopify_request_id,
        shopify_customer_id=shopify_customer_id,
        email=email,
        record=record,
        requested_at=now,
        completed_at=now,
    )


async def list_data_requests(*, shop: Shop) -> list[DataRequest]:
    """The shop's compliance exports, newest first: what the admin offers for download."""
    return await DataRequest.filter(shop_id=shop.id).order_by("-requested_at", "-id")


async def get_data_request(*, shop: Shop, request_id: str) -> DataRequest:
    """One of the shop's exports, by id. Raises DataRequestNotFoundError (also for another
    shop's export, or an id that is not a number)."""
    value = request_id.strip()
    if not (value.isascii() and value.isdigit()) or int(value) >= 2**63:
        raise DataRequestNotFoundError(f"No data request {request_id!r} exists for this shop")
    found = await DataRequest.get_or_none(shop_id=shop.id, id=int(value))
    if found is None:
        raise DataRequestNotFoundError(f"No data request {request_id!r} exists for this shop")
    return found


async def _customer_data(customer: Customer) -> dict[str, Any]:
    await customer.fetch_related("vip_tier")
    tier = customer.vip_tier
    entries = await EarningHistoryEntry.filter(customer_id=customer.id).order_by("id")
    activity = await Activity.filter(customer_id=customer.id).order_by("id")
    return {
        "customer": {
            "shopify_customer_id": customer.shopify_customer_id,
            "email": customer.email,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "tags": customer.tags,
            "date_of_birth": _date(customer.date_of_birth),
            "anniversary_date": _date(customer.anniversary_date),
            "shopify_created_at": isoformat_z(customer.shopify_created_at),
            "shopify_updated_at": isoformat_z(customer.shopify_updated_at),
            "is_excluded": customer.is_excluded,
            "excluded_by": customer.excluded_by,
            "points_balance": customer.points_balance,
            "pending_points": customer.pending_points,
            "lifetime_points": customer.lifetime_points,
            "redeemed_points": customer.redeemed_points,
            "vip_tier": None
            if tier is None
            else {"name": tier.name, "points_multiplier": str(tier.points_multiplier)},
            "created_at": isoformat_z(customer.created_at),
            "updated_at": isoformat_z(customer.updated_at),
        },
        "earning_history": [
            {
                "id": entry.public_id,
                "action": entry.action,
                "base_points": entry.base_points,
                "points_multiplier": str(entry.points_multiplier),
                "points": entry.points,
                "status": str(entry.status),
                "points_given_at": isoformat_z(entry.points_given_at),
                "points_due_at": isoformat_z(entry.points_due_at),
                "points_expiry_at": isoformat_z(entry.points_expiry_at),
                "order_id": entry.order_id,
                "order_number": entry.order_number,
                "note": entry.note,
                "created_at": isoformat_z(entry.created_at),
            }
            for entry in entries
        ],
        "activity": [
            {
                "kind": row.kind,
                "actor_type": str(row.actor_type),
                "data": row.data,
                "created_at": isoformat_z(row.created_at),
            }
            for row in activity
        ],
        "referrals": await _referrals_of(customer),
    }


async def _referrals_of(customer: Customer) -> list[dict[str, Any]]:
    """The referrals the customer took part in: as the advocate (without the friends' emails,
    which are the friends' data) or as the referred friend (with the email they gave)."""
    keys = {key for key in [referral_email_key(customer.email)] if key}
    mine = Q(advocate_id=customer.id) | Q(friend_customer_id=customer.id)
    if keys:
        mine |= Q(friend_email_key__in=sorted(keys))
    rows = await Referral.filter(Q(shop_id=customer.shop_id) & mine).order_by("id")
    return [
        {
            "id": row.public_id,
            "role": "advocate" if row.advocate_id == customer.id else "friend",
            "friend_email": None if row.advocate_id == customer.id else row.friend_email,
            "status": str(row.status),
            "block_reason": str(row.block_reason) if row.block_reason else None,
            "ip": None if row.advocate_id == customer.id else row.ip,
            "device_id": None if row.advocate_id == customer.id else row.device_id,
            "created_at": isoformat_z(row.created_at),
        }
        for row in rows
    ]


def _date(value: Any) -> str | None:
    return None if value is None else value.isoformat()


async def redact_customer(
    *, shop: Shop, shopify_customer_id: int | None, email: str | None, now: datetime
) -> Redaction:
    """Erase the personal data of the customer the request names exactly (see
    `find_named_customer`); keep their anonymous ledger and balances."""
    async with in_transaction():
        customer = await find_named_customer(
            shop_id=shop.id, shopify_customer_id=shopify_customer_id, email=email
        )
        customer_id = None if customer is None else customer.id
        emails = {key for key in [normalize_email(email)] if key}
        ids = {shopify_customer_id} if shopify_customer_id is not None else set()
        if customer is not None:
            ids.add(customer.shopify_customer_id)
            if customer.email_key:
                emails.add(customer.email_key)
        if customer is not None and customer.redacted_at is None:
            await Customer.filter(id=customer.id).update(
                shopify_customer_id=-customer.id,
                email=None,
                email_key=None,
                first_name="",
                last_name="",
                tags="",
                tag_versions=None,  # holds the tags' text too
                date_of_birth=None,
                anniversary_date=None,
                shopify_created_at=None,
                shopify_updated_at=None,
                redacted_at=now,
                updated_at=now,
            )
            await record(ActivityRow(shop.id, customer.id, "customer_redacted", now))
        exports = Q(shopify_customer_id__in=list(ids)) if ids else Q(id=-1)
        for key in emails:
            exports |= Q(email__iexact=key)
        exports_deleted = await DataRequest.filter(Q(shop_id=shop.id) & exports).delete()
        # Their syncs would push personal data to Shopify and marketing platforms again.
        intents = (
            await OutboxIntent.filter(customer_id=customer_id, completed_at__isnull=True).update(
                completed_at=now, claimed_until=None
            )
            if customer_id is not None
            else 0
        )
        dropped = await _drop_events_about(shop.id, ids=ids, emails=emails, now=now)
        await _redact_referrals(shop.id, customer_id, emails, now)
    return Redaction(customer_id, exports_deleted, intents, dropped)


async def _redact_referrals(
    shop_id: int, customer_id: int | None, emails: set[str], now: datetime
) -> None:
    """The customer as a referred friend: their email (and the address and device they came
    from) erased from the referral, which keeps its status; their phone and address digests
    (loyalty.referrals.fingerprints) deleted."""
    keys = {key for email in emails if (key := referral_email_key(email))}
    named = Q(friend_email_key__in=sorted(keys)) if keys else Q(id=-1)
    if customer_id is not None:
        named |= Q(friend_customer_id=customer_id)
        await ReferralFingerprint.filter(shop_id=shop_id, customer_id=customer_id).delete()
    for referral_id in await Referral.filter(Q(shop_id=shop_id) & named).values_list(
        "id", flat=True
    ):
        # The key stays unique per shop and matches no email again.
        await Referral.filter(id=referral_id).update(
            friend_email="",
            friend_email_key=f"redacted:{referral_id}",
            ip=None,
            device_id=None,
            updated_at=now,
        )


async def _drop_events_about(
    shop_id: int, *, ids: set[int], emails: set[str], now: datetime
) -> int:
    """Deliveries still holding a payload about the customer (not yet handled, or kept after
    failing) lose it; unhandled ones are closed, since handling them would store the personal
    data again. Handled deliveries keep no payload (see loyalty.webhooks.process)."""
    events = await WebhookEvent.filter(
        Q(shop_id=shop_id) & (Q(processed_at__isnull=True) | Q(last_error__isnull=False))
    )
    dropped = 0
    for event in events:
        if not _mentions(event.topic, event.payload, ids=ids, emails=emails):
            continue
        if event.processed_at is None:
            await WebhookEvent.filter(id=event.id).update(
                payload={}, processed_at=now, claimed_until=None, last_error=REDACTED_EVENT
            )
            dropped += 1
        else:
            await WebhookEvent.filter(id=event.id).update(payload={})
    return dropped


def _mentions(topic: str, payload: Any, *, ids: set[int], emails: set[str]) -> bool:
    if not isinstance(payload, dict):
        return False
    # The body is the customer itself for customers/* topics; orders carry theirs inside.
    people = [payload.get("customer")]
    if topic.startswith("customers/"):
        people.append(payload)
    for person in people:
        if not isinstance(person, dict):
            continue
        if person.get("id") in ids or normalize_email(_text(person.get("email"))) in emails:
            return True
    return normalize_email(_text(payload.get("contact_email"))) in emails


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


async def redact_shop(*, shop_id: int) -> bool:
    """Delete the shop and everything it owns. Returns whether there was anything to delete."""
    async with in_transaction():
        # The hot append-only tables carry no foreign keys on PostgreSQL (see
        # loyalty.models.earning_history), so the shop's cascade does not reach them: delete
        # them first, explicitly. (On SQLite their keys would also RESTRICT rule deletion.)
        await OutboxIntent.filter(shop_id=shop_id).delete()
        await Activity.filter(shop_id=shop_id).delete()
        # The rollup first: with its state gone, the ledger's delete trigger has nothing to move.
        await LedgerRollupState.filter(shop_id=shop_id).delete()
        await LedgerRollup.filter(shop_id=shop_id).delete()
        await EarningHistoryEntry.filter(shop_id=shop_id).delete()
        await ReferralFingerprint.filter(shop_id=shop_id).delete()  # no foreign keys either
        deleted = bool(await Shop.filter(id=shop_id).delete())
        # Its customers went with it (the cascade), writing their counts' rows: drop those.
        await CustomerCount.filter(shop_id=shop_id).delete()
        return deleted
