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

The awards a process makes at the same moment are written together (loyalty.ledger.award_batch):
on PostgreSQL as one statement (loyalty.ledger.award_batch_pg), on SQLite as one transaction
with a savepoint per award (loyalty.ledger.award_batch_sqlite). tests/web/test_award_api.py
runs both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from loyalty import ids
from loyalty.clock import utcnow
from loyalty.customers.identifiers import CustomerIdentifier, parse_customer_identifier
from loyalty.errors import (
    AlreadyAwardedError,
    CategoryNotAwardableError,
    CustomerExcludedError,
    CustomerNotFoundError,
    EarningRuleInactiveError,
    EarningRuleNotFoundError,
)
from loyalty.ledger.award_batch import AwardBatcher, BatchAward, run_awards
from loyalty.ledger.ceiling import balance_limit_error
from loyalty.models import API_AWARDABLE_CATEGORIES, ActorType, EarningStatus
from loyalty.points import as_multiplier
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
    `batcher`: share the batch (one statement, or one transaction) with the process's
    concurrent awards; without it the award is a batch of one.

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
    entry = await _award(request, batcher)
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


async def _award(req: _AwardRequest, batcher: AwardBatcher | None) -> AwardedEntry:
    award = BatchAward(
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
    row = await batcher.submit(award) if batcher else (await run_awards([award]))[0]
    if isinstance(row, BaseException):
        raise row
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
