"""The activity log's one writer: every `activity` row is written by `record` (the set-based
tier re-placement, loyalty.ledger.tier_reassignment, writes its rows inside its own statement).

A row says who did what to which customer (`customer_id` None: a shop-level row), with `data`
kept small and free of personal data (rows outlive a customers/redact). Rows are written in the
caller's transaction, in the order given, in one statement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loyalty.models import Activity, ActorType


@dataclass(frozen=True, slots=True)
class ActivityRow:
    shop_id: int
    customer_id: int | None
    kind: str
    created_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    actor_type: ActorType = ActorType.SYSTEM
    actor_id: str | None = None


async def record(*rows: ActivityRow | None) -> None:
    """Write `rows` to the activity log, skipping None (a row that did not happen, such as the
    tier change of a credit that upgraded no tier)."""
    written = [row for row in rows if row is not None]
    if not written:
        return
    await Activity.bulk_create(
        [
            Activity(
                shop_id=row.shop_id,
                customer_id=row.customer_id,
                kind=row.kind,
                actor_type=row.actor_type,
                actor_id=row.actor_id,
                data=row.data,
                created_at=row.created_at,
            )
            for row in written
        ]
    )
