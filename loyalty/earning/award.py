"""Awarding a social or engagement earning rule to a customer (the award API's use case).

Guarantees:
- Checks run in the contract's order and the first failure wins: rule unknown (404) →
  inactive (404) → category not awardable (422) → customer unknown (404) → excluded (403) →
  already awarded (409) → past the balance ceiling (422 `balance_limit`,
  loyalty.ledger.ceiling). A rejected award writes nothing.
- Exactly once per (customer, rule), enforced by the unique (customer_id, dedupe_key) index
  with `INSERT … ON CONFLICT DO NOTHING`: concurrent duplicates get `AlreadyAwardedError`.
- The entry, the balance move (an atomic `x = x + n`), the tier upgrade, the activity rows and
  the side-effect intents commit together or not at all; intents are handed to `outbox` only
  after commit.

On PostgreSQL all of that is one statement (one round trip), shared by the awards a process
makes at the same moment (loyalty.ledger.award_batch_pg); on SQLite it is a short transaction of
single-row statements. tests/web/test_award_api.py runs both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from tortoise.transactions import in_transaction

from loyalty import ids, sql
from loyalty.clock import parse_db_datetime, utcnow
from loyalty.customers.identifiers import CustomerIdentifier, parse_customer_identifier
from loyalty.db import dialect
from loyalty.errors import (
    AlreadyAwardedError,
    CategoryNotAwardableError,
    CustomerExcludedError,
    CustomerNotFoundError,
    EarningRuleInactiveError,
    EarningRuleNotFoundError,
)
from loyalty.ledger.activity import ActivityRow, record
from loyalty.ledger.award_batch_pg import AwardBatcher, PgAward, run_awards_retried
from loyalty.ledger.balances import credit
from loyalty.ledger.ceiling import balance_limit_error
from loyalty.ledger.entries import NewEntry, insert_entry
from loyalty.ledger.timing import entry_timing
from loyalty.models import API_AWARDABLE_CATEGORIES, ActorType, EarningStatus
from loyalty.outbox.intents import write_customer_sync_intents
from loyalty.points import as_multiplier, multiplied_points
from loyalty.shops.api_keys import ApiKeyRevokedError, ShopContext


class OutboxNotifier(Protocol):
    def notify(self, shop_id: int, jobs: list[str]) -> None: ...


@dataclass(frozen=True, slots=True)
class Actor:
    type: ActorType
    id: str | None = None


@dataclass(frozen=True, slots=True)
class AwardedEntry:
    """The committed earning-history entry, as the API renders it."""

    public_id: str
    earning_rule_id: str
    action: str
    points: int
    base_points: int
    points_multiplier: Decimal
    status: EarningStatus
    points_given_at: datetime | None
    points_due_at: datetime | None
    points_expiry_at: datetime | None
    created_at: datetime
    updated_at: datetime
    customer_id: int
    jobs: tuple[str, ...]


async def award_rule(
    *,
    shop: ShopContext,
    rule_id: str,
    customer_identifier: str,
    actor: Actor,
    api_key_id: int | None = None,
    outbox: OutboxNotifier | None = None,
    batcher: AwardBatcher | None = None,
    now: datetime | None = None,
) -> AwardedEntry:
    """Award `rule_id`'s points, times the customer's tier multiplier, to the customer.

    `api_key_id`: the key this award acts for, re-verified (not revoked, shop installed) in the
    same statement, so a key authenticated from a cache cannot award after its revocation.
    `batcher`: on PostgreSQL, share the statement with the process's concurrent awards.

    Raises ApiKeyRevokedError, EarningRuleNotFoundError, EarningRuleInactiveError,
    CategoryNotAwardableError, CustomerNotFoundError, CustomerExcludedError,
    AlreadyAwardedError, or ValidationError `balance_limit` when the points would take the
    customer's balance past the ceiling (loyalty.ledger.ceiling).
    """
    request = _AwardRequest(
        shop=shop,
        rule_public_id=rule_id,
        identifier=parse_customer_identifier(customer_identifier),
        entry_public_id=ids.new_time_ordered_id(ids.EARNING_ENTRY),
        now=now or utcnow(),
        actor=actor,
        api_key_id=api_key_id,
    )
    if dialect() == "postgres":
        entry = await _award_postgres(request, batcher)
    else:
        entry = await _award_sqlite(request)
    if outbox is not None and entry.jobs:
        outbox.notify(shop.id, list(entry.jobs))
    return entry


@dataclass(frozen=True, slots=True)
class _AwardRequest:
    shop: ShopContext
    rule_public_id: str
    identifier: CustomerIdentifier
    entry_public_id: str
    now: datetime
    actor: Actor
    api_key_id: int | None


def _check_key(row: dict[str, Any] | None) -> None:
    if row is None or not row["key_ok"]:
        raise ApiKeyRevokedError(
            "The API key has been revoked, or its shop has uninstalled the app"
        )


def _check_rule(row: dict[str, Any] | None, rule_public_id: str) -> None:
    if row is None or row["rule_pk"] is None:
        raise EarningRuleNotFoundError(f"No earning rule {rule_public_id!r} exists for this shop")
    if not row["is_active"]:
        raise EarningRuleInactiveError(f"Earning rule {rule_public_id!r} is not active")
    if row["category"] not in API_AWARDABLE_CATEGORIES:
        raise CategoryNotAwardableError(
            f"Earning rule {rule_public_id!r} is in the {row['category']!r} category; only "
            "social and engagement rules can be awarded via the API"
        )


def _check_customer(row: dict[str, Any] | None) -> None:
    if row is None or row["customer_pk"] is None:
        raise CustomerNotFoundError("No customer with that Shopify customer ID or email exists")
    if row["is_excluded"]:
        raise CustomerExcludedError("Customer is excluded from the loyalty program")


def _already_awarded() -> AlreadyAwardedError:
    return AlreadyAwardedError("Customer has already been awarded points for this earning rule")


# ---------------------------------------------------------------------------------------------
# PostgreSQL: one statement, shared with whatever other awards this process is making at the
# same moment (loyalty.ledger.award_batch_pg).


async def _award_postgres(req: _AwardRequest, batcher: AwardBatcher | None) -> AwardedEntry:
    award = PgAward(
        shop_id=req.shop.id,
        rule_public_id=req.rule_public_id,
        shopify_customer_id=req.identifier.shopify_customer_id,
        email_key=req.identifier.email_key,
        entry_public_id=req.entry_public_id,
        now=req.now,
        api_key_id=req.api_key_id,
        actor_type=str(req.actor.type),
        actor_id=req.actor.id,
    )
    row = await batcher.submit(award) if batcher else (await run_awards_retried([award]))[0]
    _check_key(row)
    _check_rule(row, req.rule_public_id)
    _check_customer(row)
    if row["over_limit"]:
        raise balance_limit_error()
    if not row["inserted"]:
        raise _already_awarded()
    return AwardedEntry(
        public_id=req.entry_public_id,
        earning_rule_id=req.rule_public_id,
        action=row["action"],
        points=row["points"],
        base_points=row["base_points"],
        points_multiplier=as_multiplier(row["multiplier"]),
        status=EarningStatus(row["status"]),
        points_given_at=row["points_given_at"],
        points_due_at=row["points_due_at"],
        points_expiry_at=row["points_expiry_at"],
        created_at=req.now,
        updated_at=req.now,
        customer_id=row["customer_pk"],
        jobs=tuple(row["jobs"] or ()),
    )


# ---------------------------------------------------------------------------------------------
# SQLite: one writer at a time, so a short transaction of simple statements. The same unique
# index decides duplicates.

# The key re-check, the rule and the customer in one read (each statement is a thread hop).
_SQLITE_LOOKUP_SQL = """
SELECT s.uninstalled_at IS NULL AND ($3 IS NULL OR EXISTS (
           SELECT 1 FROM api_key k
           WHERE k.id = $3 AND k.shop_id = s.id AND k.revoked_at IS NULL)) AS key_ok,
       s.points_expiry_days, r.id AS rule_pk, r.action, r.category, r.points AS base_points,
       r.is_active, r.approval_time_days,
       c.id AS customer_pk, c.is_excluded, c.vip_tier_id, t.points_multiplier AS multiplier,
       COALESCE(t.points_required, -1) AS tier_required
FROM (SELECT 1) AS one
LEFT JOIN shop s ON s.id = $1
LEFT JOIN earning_rule r ON r.shop_id = $1 AND r.public_id = $2
LEFT JOIN customer c ON c.shop_id = $1 AND {customer_match}
LEFT JOIN vip_tier t ON t.id = c.vip_tier_id
ORDER BY c.id LIMIT 1
"""
_SQLITE_LOOKUP_BY_ID = _SQLITE_LOOKUP_SQL.format(customer_match="c.shopify_customer_id = $4")
_SQLITE_LOOKUP_BY_EMAIL = _SQLITE_LOOKUP_SQL.format(customer_match="c.email_key = $4")


async def _award_sqlite(req: _AwardRequest) -> AwardedEntry:
    match_value: int | str | None
    if req.identifier.email_key is not None:
        lookup, match_value = _SQLITE_LOOKUP_BY_EMAIL, req.identifier.email_key
    else:  # an id, or None when the identifier can match no one (the rule is still checked)
        lookup, match_value = _SQLITE_LOOKUP_BY_ID, req.identifier.shopify_customer_id
    async with in_transaction():
        found = await sql.fetch_one(
            lookup, req.shop.id, req.rule_public_id, req.api_key_id, match_value
        )
        _check_key(found)
        _check_rule(found, req.rule_public_id)
        _check_customer(found)
        assert found is not None
        return await _write_sqlite(req, found)


async def _write_sqlite(req: _AwardRequest, found: dict[str, Any]) -> AwardedEntry:
    """The checked award, written through the ledger: the entry, the credit (with its tier
    upgrade), the activity rows and the intents."""
    now, customer_pk = req.now, int(found["customer_pk"])
    multiplier = as_multiplier(found["multiplier"])
    points = multiplied_points(found["base_points"], multiplier)
    timing = entry_timing(
        now=now,
        approval_days=found["approval_time_days"],
        expiry_days=found["points_expiry_days"],
    )
    inserted = await insert_entry(
        NewEntry(
            public_id=req.entry_public_id,
            shop_id=req.shop.id,
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
    )
    if inserted is None:
        raise _already_awarded()
    credited = await credit(
        shop_id=req.shop.id,
        customer_id=customer_pk,
        approved=timing.approved_points(points),
        pending=timing.pending_points(points),
        from_tier_id=found["vip_tier_id"],
        now=now,
    )
    if credited is None:  # past the ceiling: raising rolls back the entry inserted above
        raise balance_limit_error()
    awarded = {
        "entry_id": req.entry_public_id,
        "rule_id": req.rule_public_id,
        "points": points,
        "status": str(timing.status),
    }
    actor = (req.actor.type, req.actor.id)
    rows = [ActivityRow(req.shop.id, customer_pk, "points_awarded", now, awarded, *actor)]
    upgraded = credited.tier_change(
        shop_id=req.shop.id, customer_id=customer_pk, entry_id=req.entry_public_id, now=now
    )
    await record(*rows, upgraded)
    jobs = await write_customer_sync_intents(
        shop_id=req.shop.id,
        customer_id=customer_pk,
        reason={"entry_id": req.entry_public_id},
        now=now,
    )
    return AwardedEntry(
        public_id=req.entry_public_id,
        earning_rule_id=req.rule_public_id,
        action=found["action"],
        points=points,
        base_points=found["base_points"],
        points_multiplier=multiplier,
        status=timing.status,
        points_given_at=parse_db_datetime(timing.points_given_at),
        points_due_at=timing.points_due_at,
        points_expiry_at=timing.points_expiry_at,
        created_at=now,
        updated_at=now,
        customer_id=customer_pk,
        jobs=tuple(jobs),
    )
