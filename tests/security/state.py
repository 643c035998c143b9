"""What a refused request must leave alone, as a value two moments can be compared by: every row
of the tables a request can write (balances, history, activity, webhook store, shops, …)."""

from __future__ import annotations

from typing import Any

from loyalty import sql

# Every table but api_key, whose `last_used_at` moves on each authenticated request, refused or
# not (compared by count).
COMPARED = (
    "shop",
    "customer",
    "earning_history_entry",
    "activity",
    "outbox_intent",
    "idempotency_record",
    "webhook_event",
    "data_request",
    "earning_rule",
    "vip_tier",
    "integration",
)

# The same, cheaply (one statement): for property tests sending thousands of requests.
_SUMMARY_SQL = "SELECT " + ", ".join(
    [
        *(f'(SELECT COUNT(*) FROM "{table}") AS "{table}"' for table in (*COMPARED, "api_key")),
        "(SELECT COALESCE(SUM(points_balance), 0) FROM customer) AS points_balance",
        "(SELECT COALESCE(SUM(pending_points), 0) FROM customer) AS pending_points",
        "(SELECT COALESCE(SUM(lifetime_points), 0) FROM customer) AS lifetime_points",
        "(SELECT COUNT(*) FROM shop WHERE uninstalled_at IS NOT NULL) AS uninstalled",
        "(SELECT COUNT(*) FROM customer WHERE is_excluded) AS excluded",
    ]
)


async def snapshot() -> dict[str, Any]:
    """Every row of every compared table, and the number of API keys."""
    state: dict[str, Any] = {
        table: await sql.fetch_all(f'SELECT * FROM "{table}" ORDER BY id') for table in COMPARED
    }
    state["api_key"] = (await sql.fetch_one('SELECT COUNT(*) AS n FROM "api_key"') or {})["n"]
    return state


async def summary() -> dict[str, Any]:
    """Row counts and balance totals: what any write of a request would change."""
    return await sql.fetch_one(_SUMMARY_SQL) or {}
