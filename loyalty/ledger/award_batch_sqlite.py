"""The award on SQLite: a batch of awards (gathered by loyalty.ledger.award_batch.AwardBatcher)
written in one transaction, by one call into the SQLite connection's own thread.

Why: on the embedded default every statement is a hop to aiosqlite's thread and back, and each
award took about ten of them (BEGIN, the lookup, the entry, the credit, activity, intents,
COMMIT), all behind one lock; the process spent its time handing work between threads, not in
SQLite. Here a batch costs three hops (BEGIN, this call, COMMIT) however many awards it holds,
and SQLite runs the statements back to back.

The statements and their values are the ledger's own (loyalty.ledger.entries `INSERT_SQL` /
`insert_values`, loyalty.ledger.balances `CREDIT_SQL`, loyalty.ledger.activity
`insert_statement`, loyalty.outbox.intents `WRITE_CUSTOMER_SYNC_AND_FLOW_SQL`), with the rules of
loyalty.ledger.timing and the ceiling: nothing is stated twice, only run synchronously.

Guarantees, per award, as for a single award (loyalty.earning.award):
- each award runs in its own SAVEPOINT inside the batch's transaction: the lookup and its
  checks (key re-verified, rule, customer), the entry (`ON CONFLICT DO NOTHING` on the unique
  index: exactly once per customer and rule, within the batch too, since awards run in order),
  the credit (an atomic `x = x + n` whose WHERE holds the ceiling), the activity rows and the
  side-effect intents; an award refused at the ceiling, or failing with any error, rolls back
  to its savepoint (writing nothing) and gets its own answer while the others go on;
- the batch commits once; if the commit fails, nothing was written and the batcher retries each
  award alone. Results reach callers only after the commit.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tortoise.transactions import in_transaction

from loyalty.ledger.activity import ActivityRow, insert_statement
from loyalty.ledger.balances import CREDIT_SQL, Credited
from loyalty.ledger.entries import INSERT_SQL, NewEntry, insert_values
from loyalty.ledger.timing import entry_timing
from loyalty.models import API_AWARDABLE_CATEGORIES, ActorType
from loyalty.outbox.intents import WRITE_CUSTOMER_SYNC_AND_FLOW_SQL
from loyalty.points import as_multiplier, multiplied_points
from loyalty.sql import for_dialect

if TYPE_CHECKING:
    from loyalty.ledger.award_batch import BatchAward

# The key re-check, the rule and the customer in one read; one row even when nothing matches.
_LOOKUP_SQL = """
SELECT s.uninstalled_at IS NULL AND ($3 IS NULL OR EXISTS (
           SELECT 1 FROM api_key k
           WHERE k.id = $3 AND k.shop_id = s.id AND k.revoked_at IS NULL)) AS key_ok,
       s.points_expiry_days, r.id AS rule_pk, r.action, r.category, r.points AS base_points,
       r.is_active, r.approval_time_days,
       c.id AS customer_pk, c.is_excluded, c.vip_tier_id, t.points_multiplier AS multiplier
FROM (SELECT 1) AS one
LEFT JOIN shop s ON s.id = $1
LEFT JOIN earning_rule r ON r.shop_id = $1 AND r.public_id = $2
LEFT JOIN customer c ON c.shop_id = $1 AND {customer_match}
LEFT JOIN vip_tier t ON t.id = c.vip_tier_id
ORDER BY c.id LIMIT 1
"""
_BY_ID = for_dialect(_LOOKUP_SQL.format(customer_match="c.shopify_customer_id = $4"), "sqlite")
_BY_EMAIL = for_dialect(_LOOKUP_SQL.format(customer_match="c.email_key = $4"), "sqlite")
_INSERT = for_dialect(INSERT_SQL, "sqlite")
_CREDIT = for_dialect(CREDIT_SQL, "sqlite")
# An award (reason {"entry_id": …}) owes Flow "Loyalty points earned" too (outbox.flow_triggers)
_INTENTS = for_dialect(WRITE_CUSTOMER_SYNC_AND_FLOW_SQL, "sqlite")


async def run_awards(awards: Sequence[BatchAward]) -> list[dict[str, Any] | BaseException]:
    """Write `awards` in one transaction; one outcome per award, in order: its row (the shape
    of loyalty.ledger.award_batch_pg's) or the exception it alone met."""
    batch = list(awards)
    async with in_transaction() as tx:  # BEGIN … COMMIT, holding Tortoise's SQLite lock
        # Tortoise's SQLite client runs on one aiosqlite connection; `_execute` runs a function
        # in that connection's thread, in turn with every other statement (private, but the
        # one way to run several statements for the price of one hop).
        aio = tx._connection
        outcomes: list[dict[str, Any] | BaseException] = await aio._execute(
            _run_all, aio._conn, batch
        )
    return outcomes


def _run_all(
    conn: sqlite3.Connection, awards: list[BatchAward]
) -> list[dict[str, Any] | BaseException]:
    return [_run_one(conn, award) for award in awards]


def _run_one(conn: sqlite3.Connection, award: BatchAward) -> dict[str, Any] | BaseException:
    conn.execute("SAVEPOINT award")
    try:
        row = _award(conn, award)
    except Exception as exc:  # this award's own failure; the others of the batch go on
        conn.execute("ROLLBACK TO award")
        conn.execute("RELEASE award")
        return exc
    if row["over_limit"]:  # the entry was inserted before the credit refused: undo it
        conn.execute("ROLLBACK TO award")
    conn.execute("RELEASE award")
    return row


def _fetch_one(conn: sqlite3.Connection, statement: str, values: list[Any]) -> Any:
    return conn.execute(statement, values).fetchone()


def _award(conn: sqlite3.Connection, award: BatchAward) -> dict[str, Any]:
    """One award: the row loyalty.earning.award reads its answer from."""
    match: int | str | None
    if award.email_key is not None:
        lookup, match = _BY_EMAIL, award.email_key
    else:  # an id, or None when the identifier can match no one (the rule is still checked)
        lookup, match = _BY_ID, award.shopify_customer_id
    found = dict(
        _fetch_one(conn, lookup, [award.shop_id, award.rule_public_id, award.api_key_id, match])
    )
    multiplier = as_multiplier(found["multiplier"])
    row: dict[str, Any] = {
        **found,
        "key_ok": bool(found["key_ok"]),
        "multiplier": multiplier,
        "inserted": False,
        "over_limit": False,
        "jobs": [],
    }
    if not (
        row["key_ok"]
        and row["rule_pk"] is not None
        and row["is_active"]
        and row["category"] in API_AWARDABLE_CATEGORIES
        and row["customer_pk"] is not None
        and not row["is_excluded"]
    ):
        return row  # refused by a check (the caller says which); nothing written
    customer_pk, now = int(found["customer_pk"]), award.now
    points = multiplied_points(found["base_points"], multiplier)
    timing = entry_timing(
        now=now, approval_days=found["approval_time_days"], expiry_days=found["points_expiry_days"]
    )
    entry = NewEntry(
        public_id=award.entry_public_id,
        shop_id=award.shop_id,
        customer_id=customer_pk,
        rule_id=found["rule_pk"],
        action=found["action"],
        base_points=found["base_points"],
        points_multiplier=multiplier,
        points=points,
        timing=timing,
        dedupe_key=f"rule:{found['rule_pk']}",
        created_at=now,
    )
    if _fetch_one(conn, _INSERT, insert_values(entry, str)) is None:
        return row  # already awarded
    row.update(
        inserted=True,
        points=points,
        status=str(timing.status),
        points_given_at=timing.points_given_at,
        points_due_at=timing.points_due_at,
        points_expiry_at=timing.points_expiry_at,
    )
    approved, pending = timing.approved_points(points), timing.pending_points(points)
    moved = _fetch_one(conn, _CREDIT, [award.shop_id, customer_pk, approved, pending, now])
    if moved is None:
        row.update(inserted=False, over_limit=True)
        return row
    awarded = {
        "entry_id": award.entry_public_id,
        "rule_id": award.rule_public_id,
        "points": points,
        "status": str(timing.status),
    }
    actor = (ActorType(award.actor_type), award.actor_id)
    upgraded = Credited(found["vip_tier_id"], moved["vip_tier_id"]).tier_change(
        shop_id=award.shop_id, customer_id=customer_pk, entry_id=award.entry_public_id, now=now
    )
    activity = insert_statement(
        ActivityRow(award.shop_id, customer_pk, "points_awarded", now, awarded, *actor), upgraded
    )
    assert activity is not None
    conn.execute(for_dialect(activity[0], "sqlite"), activity[1])
    reason = json.dumps({"entry_id": award.entry_public_id})
    intents = conn.execute(_INTENTS, [award.shop_id, customer_pk, reason, now]).fetchall()
    row["jobs"] = [job["job"] for job in intents]
    return row
