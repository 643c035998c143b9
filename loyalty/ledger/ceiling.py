"""The balance ceiling: how many points a customer's counters can hold, and what happens to a
credit that would take one past it. The one home of that rule; every crediting path uses it.

`points_balance`, `lifetime_points` and `pending_points` are 32-bit INT columns, so each holds
at most MAX_BALANCE. A credit that would take any of them past it is refused whole:

- request paths (the award API, custom actions, adjustments) answer 422 `balance_limit`
  (`balance_limit_error`) and write nothing: the entry, activity, intents and stored
  idempotent response of that credit roll back with it;
- background paths (purchases, birthdays/anniversaries, approvals of pending points) credit
  nothing, record why in one `points_refused` activity (reason `balance_limit`) and log a
  WARNING (`record_refusal`); the job completes, it is never retried for this.

The check sits in the crediting UPDATE's own WHERE clause (`fits_sql`): an update that matched
no row moved nothing, so two concurrent credits can never both pass on the same old balance.
The sums are widened to BIGINT so that PostgreSQL compares rather than failing with "integer
out of range".
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from loyalty.errors import ValidationError
from loyalty.ledger.activity import ActivityRow, record
from loyalty.models import Activity

MAX_BALANCE = 2**31 - 1  # the INT columns
REASON = "balance_limit"
REFUSED = "points_refused"  # the activity kind of a background credit refused here

log = logging.getLogger(__name__)


def fits_sql(approved: str, pending: str = "0", *, row: str = "") -> str:
    """A SQL condition: crediting `approved` points (current and lifetime) and `pending` points
    keeps every counter of the customer row (`row`: its alias, if any) within MAX_BALANCE.
    `approved` and `pending` are SQL expressions (placeholders or columns)."""
    prefix = f"{row}." if row else ""
    return " AND ".join(
        f"CAST({prefix}{column} AS BIGINT) + {amount} <= {MAX_BALANCE}"
        for column, amount in (
            ("points_balance", approved),
            ("lifetime_points", approved),
            ("pending_points", pending),
        )
    )


def fits(*counters_after: int) -> bool:
    """Whether every counter, as it would be after a credit, stays within MAX_BALANCE (for a
    caller that holds the customer row locked and computes the new values itself)."""
    return all(value <= MAX_BALANCE for value in counters_after)


def balance_limit_error(pointer: str | None = None) -> ValidationError:
    """The 422 every request path answers when a credit does not fit."""
    return ValidationError(
        f"The balance can hold at most {MAX_BALANCE} points", pointer=pointer, code=REASON
    )


class BalanceLimitReached(Exception):
    """Raised inside a background credit's savepoint when the credit does not fit, so that the
    savepoint (and everything that credit wrote) rolls back; caught by the path, which then
    calls `record_refusal`."""

    def __init__(self, points: int) -> None:
        super().__init__(f"{points} points would pass the balance ceiling")
        self.points = points  # what was refused


async def record_refusal(
    *,
    shop_id: int,
    customer_id: int,
    points: int,
    data: dict[str, Any],
    now: datetime,
    once_key: str | None = None,
) -> bool:
    """Record a refused background credit: one `points_refused` activity and a WARNING.
    `once_key`: a refusal a job may meet again on its next run (an hourly birthday run) is
    recorded once per customer and key. Returns whether it was recorded now."""
    if once_key is not None:
        # Refusals are rare (a customer at the ceiling), so reading this customer's is cheap.
        earlier = await Activity.filter(customer_id=customer_id, kind=REFUSED).values_list(
            "data", flat=True
        )
        if any(isinstance(d, dict) and d.get("once_key") == once_key for d in earlier):
            return False
    logged = {
        "reason": REASON,
        "points": points,
        "max_balance": MAX_BALANCE,
        **data,
        **({"once_key": once_key} if once_key is not None else {}),
    }
    await record(ActivityRow(shop_id, customer_id, REFUSED, now, logged))
    log.warning(
        "refused %d points to customer %d of shop %d: the balance would pass %d (%s)",
        points,
        customer_id,
        shop_id,
        MAX_BALANCE,
        data,
    )
    return True
