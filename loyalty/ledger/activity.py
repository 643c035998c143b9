"""The activity log's one writer: every `activity` row is written by `record` (or by its
statement, `insert_statement`, which the SQLite batch award runs in SQLite's thread), except
those set-based statements write inside themselves (the PostgreSQL batch award,
loyalty.ledger.award_batch_pg, the PostgreSQL redemption, loyalty.ledger.redemptions_pg, the
PostgreSQL expiry and approval rounds, loyalty.ledger.expiry_pg and approvals_pg, and the tier
re-placement, loyalty.ledger.tier_reassignment).

A row says who did what to which customer (`customer_id` None: a shop-level row), with `data`
kept small and free of personal data (rows outlive a customers/redact). Rows are written in the
caller's transaction, in the order given, in one statement.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loyalty import sql
from loyalty.models import ActorType


@dataclass(frozen=True, slots=True)
class ActivityRow:
    shop_id: int
    customer_id: int | None
    kind: str
    created_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    actor_type: ActorType = ActorType.SYSTEM
    actor_id: str | None = None


_COLUMNS = "(shop_id, customer_id, kind, actor_type, actor_id, data, created_at)"


def _insert_sql(count: int) -> str:
    values = ", ".join(
        "(" + ", ".join(f"${7 * i + j}" for j in range(1, 8)) + ")" for i in range(count)
    )
    return f"INSERT INTO activity {_COLUMNS} VALUES {values}"


def insert_statement(*rows: ActivityRow | None) -> tuple[str, list[Any]] | None:
    """The one INSERT writing `rows` (None skipped), with its values; None when no row is left.
    Pure, so the SQLite batch award (loyalty.ledger.award_batch_sqlite) runs the same statement
    from the connection's own thread."""
    written = [row for row in rows if row is not None]
    if not written:
        return None
    values: list[Any] = []
    for row in written:
        values += [
            row.shop_id,
            row.customer_id,
            row.kind,
            str(row.actor_type),
            row.actor_id,
            json.dumps(row.data),
            row.created_at,
        ]
    return _insert_sql(len(written)), values


async def record(*rows: ActivityRow | None) -> None:
    """Write `rows` to the activity log, skipping None (a row that did not happen, such as the
    tier change of a credit that upgraded no tier)."""
    # Hand-written rather than the ORM's bulk_create: this is on the award's hot path
    # (bench/award), where every statement is a round trip (loyalty.sql).
    statement = insert_statement(*rows)
    if statement is not None:
        await sql.execute(statement[0], *statement[1])
