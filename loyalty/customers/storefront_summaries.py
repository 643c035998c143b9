"""The storefront widget's page-view read: customers' summaries (balances, tier and progress,
the ten newest entries), many customers in one statement.

The widget calls `/proxy/customer` on every storefront page view. `summaries_of` answers a
batch of (shop, Shopify customer id) keys with one round trip: the customer row, the shop's
tiers and the recent history come back together, the lists as JSON text that Python orders.
`new_summary_batcher` gives each web process a `TurnBatcher` over it, so the page views that
arrive in the same event-loop turn share that round trip (bench/storefront-proxy). Read-only:
a key the app does not know answers None (the caller enrolls the shopper:
`storefront.ensure_customer`). Each answer equals `storefront.customer_summary`'s.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from loyalty import sql
from loyalty.batching import TurnBatcher
from loyalty.clock import parse_db_datetime
from loyalty.customers.storefront import (
    RECENT_HISTORY,
    CustomerSummary,
    HistoryItem,
    TierView,
    summarise,
)
from loyalty.db import dialect
from loyalty.points import as_multiplier

Key = tuple[int, int]  # (shop primary key, Shopify customer id)
SummaryBatcher = TurnBatcher[Key, CustomerSummary | None]

# `n` is the key's position in the batch (from 0); a key the app does not know has no row.
_SUMMARY_SQL = """
SELECT {n} AS n, c.shopify_customer_id, c.is_excluded, c.points_balance, c.pending_points,
       c.lifetime_points, c.vip_tier_id,
       (SELECT {agg}({obj}('pk', t.id, 'id', t.public_id, 'name', t.name,
                          'points_required', t.points_required,
                          'points_multiplier', t.points_multiplier))
        FROM vip_tier t WHERE t.shop_id = c.shop_id) AS tiers,
       (SELECT {agg}({obj}('pk', e.id, 'id', e.public_id, 'action', e.action,
                          'points', e.points, 'status', e.status,
                          'points_given_at', e.points_given_at, 'points_due_at', e.points_due_at,
                          'points_expiry_at', e.points_expiry_at, 'created_at', e.created_at))
        FROM (SELECT * FROM earning_history_entry h WHERE h.customer_id = c.id
              ORDER BY h.created_at DESC, h.id DESC LIMIT {limit}) AS e) AS history
FROM {keys} JOIN customer c ON c.shop_id = {shop} AND c.shopify_customer_id = {shopify}
"""
_SUMMARY_BY_DIALECT = {
    # Two parallel arrays: shop ids, Shopify customer ids.
    "postgres": _SUMMARY_SQL.format(
        n="k.n - 1",
        agg="json_agg",
        obj="json_build_object",
        limit=RECENT_HISTORY,
        keys="unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS k(shop_id, shopify_id, n)",
        shop="k.shop_id",
        shopify="k.shopify_id",
    ),
    # One JSON array of [shop id, Shopify customer id] pairs.
    "sqlite": _SUMMARY_SQL.format(
        n="k.key",
        agg="json_group_array",
        obj="json_object",
        limit=RECENT_HISTORY,
        keys="json_each($1) AS k",
        shop="json_extract(k.value, '$[0]')",
        shopify="json_extract(k.value, '$[1]')",
    ),
}


async def summaries_of(keys: Sequence[Key]) -> list[CustomerSummary | None]:
    """Each key's summary, in order, in one statement; None for a key the app does not know."""
    if dialect() == "sqlite":
        values: tuple[Any, ...] = (json.dumps(keys),)
    else:
        values = ([shop for shop, _ in keys], [shopify for _, shopify in keys])
    rows = await sql.fetch_all(_SUMMARY_BY_DIALECT[dialect()], *values)
    found: list[CustomerSummary | None] = [None] * len(keys)
    for row in rows:
        found[row["n"]] = _summary_of_row(row)
    return found


async def summary_of(*, shop_id: int, shopify_customer_id: int) -> CustomerSummary | None:
    """One customer's summary (a batch of one)."""
    return (await summaries_of([(shop_id, shopify_customer_id)]))[0]


def new_summary_batcher() -> SummaryBatcher:
    """One per web process (web.state.Services): page views of the same loop turn, up to 64,
    share a statement; four batches at a time on PostgreSQL (the pool holds ten connections),
    one on SQLite (its one connection serves statements one at a time anyway)."""
    return TurnBatcher(
        summaries_of, max_batch=64, max_in_flight=lambda: 1 if dialect() == "sqlite" else 4
    )


def _summary_of_row(row: dict[str, Any]) -> CustomerSummary:
    tiers = sorted(json.loads(row["tiers"] or "[]"), key=lambda t: t["points_required"])
    entries = sorted(
        json.loads(row["history"] or "[]"),
        key=lambda e: (parse_db_datetime(e["created_at"]), e["pk"]),
        reverse=True,
    )
    return summarise(
        int(row["shopify_customer_id"]),
        excluded=bool(row["is_excluded"]),
        balances=(row["points_balance"], row["pending_points"], row["lifetime_points"]),
        tier_pk=row["vip_tier_id"],
        tiers=[
            (
                t["pk"],
                TierView(
                    t["id"], t["name"], t["points_required"], as_multiplier(t["points_multiplier"])
                ),
            )
            for t in tiers
        ],
        history=[
            HistoryItem(
                id=e["id"],
                action=e["action"],
                points=e["points"],
                status=e["status"],
                points_given_at=parse_db_datetime(e["points_given_at"]),
                points_due_at=parse_db_datetime(e["points_due_at"]),
                points_expiry_at=parse_db_datetime(e["points_expiry_at"]),
                created_at=_required(parse_db_datetime(e["created_at"])),
            )
            for e in entries
        ],
    )


def _required(value: datetime | None) -> datetime:
    assert value is not None  # created_at is NOT NULL
    return value
