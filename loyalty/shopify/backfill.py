"""Bringing in a shop's existing customers at install, so awards by email or Shopify id work for
customers who existed before the app. Webhooks keep them current afterwards.

Pages through the Admin GraphQL `customers` connection (250 a page, by id) and inserts each page
in one statement. Idempotent and resumable by nature: customers already known are left alone
(`ON CONFLICT DO NOTHING`; webhooks own updates), so a re-run after a crash only adds what is
missing. It writes no activity or sync intents: nothing about anyone's points changed. Each
customer it inserts is marked `backfilled_at`: they existed before the app, so they never earn
sign-up points (loyalty.earning.signup).

The request is state on the shop (`backfill_requested_at` … `backfill_completed_at`), so it is
never lost: a job holds a lease while it runs (`backfill_started_at`, renewed every page), and
the outbox sweep re-queues a request that is neither completed nor leased.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import F, Q

from loyalty import sql
from loyalty.clock import utcnow
from loyalty.customers.identifiers import normalize_email, parse_gid
from loyalty.customers.mirror import EXCLUDED_BY_TAG, has_tag
from loyalty.models import Shop
from loyalty.shopify.admin_api import AdminApi
from loyalty.shopify.operations import CUSTOMERS_PAGE

log = logging.getLogger(__name__)

PAGE_SIZE = 250  # Shopify's maximum `first` for a connection
LEASE = timedelta(minutes=10)  # renewed every page; a page takes seconds


@dataclass(frozen=True)
class BackfillResult:
    pages: int
    seen: int
    inserted: int


def page_variables(after: str | None) -> dict[str, Any]:
    """The variables of one page of `CUSTOMERS_PAGE`: the next `PAGE_SIZE` after the cursor."""
    return {"first": PAGE_SIZE, "after": after}


async def request_backfill(*, shop_id: int) -> None:
    """Ask for a (re-)backfill; call after an install, then notify BACKFILL_CUSTOMERS."""
    await Shop.filter(id=shop_id).update(
        backfill_requested_at=utcnow(),
        backfill_started_at=None,
        backfill_completed_at=None,
        backfill_customers=0,
    )


def owed_backfills_filter(now: datetime) -> Q:
    """Requested, not completed, not leased by a live job, shop still installed."""
    return Q(
        backfill_requested_at__isnull=False,
        backfill_completed_at__isnull=True,
        uninstalled_at__isnull=True,
    ) & (Q(backfill_started_at__isnull=True) | Q(backfill_started_at__lt=now - LEASE))


async def owed_backfills(*, now: datetime | None = None) -> list[int]:
    """Shops whose backfill nobody is running: what the sweep re-queues."""
    ids = await Shop.filter(owed_backfills_filter(now or utcnow())).values_list("id", flat=True)
    return sorted(int(i) for i in ids)  # type: ignore[call-overload]


async def backfill_customers(*, shop_id: int, admin: AdminApi) -> BackfillResult | None:
    """Insert every Shopify customer of the shop the programme does not know yet. Returns None
    when there is nothing to do (no request, already done, or another job holds the lease)."""
    now = utcnow()
    leased = await Shop.filter(owed_backfills_filter(now), id=shop_id).update(
        backfill_started_at=now
    )
    if not leased:
        return None
    shop = await Shop.get(id=shop_id)
    after: str | None = None
    pages = seen = inserted = 0
    while True:
        data = await admin.execute(shop_id, CUSTOMERS_PAGE, page_variables(after))
        connection = data.get("customers") or {}
        nodes = [n for n in connection.get("nodes") or [] if isinstance(n, dict)]
        rows = [row for row in (_row(shop, node) for node in nodes) if row is not None]
        pages += 1
        seen += len(nodes)
        added = await _insert_page(shop, rows)
        inserted += added
        await Shop.filter(id=shop_id).update(  # progress for the admin, and the lease renewed
            backfill_customers=F("backfill_customers") + added, backfill_started_at=utcnow()
        )
        page_info = connection.get("pageInfo") or {}
        if not page_info.get("hasNextPage") or not page_info.get("endCursor"):
            break
        after = page_info["endCursor"]
    await Shop.filter(id=shop_id).update(backfill_completed_at=utcnow(), backfill_started_at=None)
    log.info("backfill for %s: %d customer(s) seen, %d new", shop.domain, seen, inserted)
    return BackfillResult(pages=pages, seen=seen, inserted=inserted)


def _row(shop: Shop, node: dict[str, Any]) -> list[Any] | None:
    number = parse_gid(node.get("id"), "Customer")
    if number is None:
        return None
    email = ((node.get("defaultEmailAddress") or {}).get("emailAddress") or "").strip() or None
    tags = ", ".join(str(t) for t in node.get("tags") or [])
    excluded = has_tag(tags, shop.exclusion_tag)
    return [
        number,
        email[:255] if email else None,
        normalize_email(email),
        (node.get("firstName") or "")[:255],
        (node.get("lastName") or "")[:255],
        tags,
        excluded,
        EXCLUDED_BY_TAG if excluded else None,
        _when(node.get("createdAt")),
        _when(node.get("updatedAt")),
    ]


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


_COLUMNS = 10  # per row, as _row builds them
# New members start in the entry tier (the one needing no points), as everywhere else.
_ENTRY_TIER_SQL = (
    "(SELECT t.id FROM vip_tier t WHERE t.shop_id = $1 AND t.points_required <= 0 "
    "ORDER BY t.points_required DESC LIMIT 1)"
)


async def _insert_page(shop: Shop, rows: list[list[Any]]) -> int:
    if not rows:
        return 0
    now = utcnow()
    values = []
    params: list[Any] = [shop.id, now]
    for index, row in enumerate(rows):
        base = 3 + index * _COLUMNS
        placeholders = ", ".join(f"${base + i}" for i in range(_COLUMNS))
        values.append(f"($1, {placeholders}, 0, 0, 0, 0, {_ENTRY_TIER_SQL}, $2, $2, $2)")
        params.extend(row)
    statement = f"""
        INSERT INTO customer (
            shop_id, shopify_customer_id, email, email_key, first_name, last_name, tags,
            is_excluded, excluded_by, shopify_created_at, shopify_updated_at,
            points_balance, pending_points, lifetime_points, redeemed_points, vip_tier_id,
            created_at, updated_at, backfilled_at)
        VALUES {", ".join(values)}
        ON CONFLICT (shop_id, shopify_customer_id) DO NOTHING
        RETURNING id
    """
    return len(await sql.fetch_all(statement, *params))
