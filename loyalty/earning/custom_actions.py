"""Custom actions (POST /api/v1/actions): points for something a customer did outside Shopify
(a quiz, a review, a helpdesk survey), by the `action_key` the merchant gave a `custom` rule.

Guarantees:
- Checks in this order, the first failure wins: action unknown (404 `custom_action_not_found`)
  → inactive (404 `custom_action_inactive`) → customer unknown (404) → excluded (403) → once
  per customer already awarded (409 `already_awarded`) or the repeatable action's cap reached
  in its rolling period (409 `limit_reached`, with `next_available_at`) → past the balance
  ceiling (422 `balance_limit`, loyalty.ledger.ceiling). A refusal writes nothing.
- Exactly once: a once-per-customer action is keyed `action:<rule>` per customer; a repeatable
  one, sent with an idempotency key, `action:<rule>:key:<sha256 of the key>`; both meet the
  unique (customer_id, dedupe_key) index. With an idempotency key the key is claimed, and the
  response stored, in the award's own transaction (loyalty.idempotency): a repeat gets the
  stored response (`replayed`), the key with another request is a 409.
- The entry, the balance move (`x = x + n`), the tier upgrade, the activity row, the syncs owed
  and the stored response commit together; the caller notifies the jobs after commit. The
  use case returns a domain outcome (`ActionOutcome`): the caller (the web route) renders the
  award and hands the document back inside the transaction, to be stored for replays. The
  customer row is locked first (PostgreSQL), so concurrent completions count against the cap
  one after the other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from loyalty import ids, sql
from loyalty.clock import isoformat_z, parse_db_datetime, utcnow
from loyalty.customers.identifiers import normalize_email
from loyalty.earning import idempotency
from loyalty.errors import (
    AlreadyAwardedError,
    ConflictError,
    CustomerExcludedError,
    CustomerNotFoundError,
    NotFoundError,
)
from loyalty.ledger.activity import ActivityRow, record
from loyalty.ledger.balances import credit_keeping_tier
from loyalty.ledger.ceiling import balance_limit_error
from loyalty.ledger.entries import NewEntry, insert_entry
from loyalty.ledger.tiers import recalculate_tier
from loyalty.ledger.timing import entry_timing
from loyalty.models import ActorType, Customer, EarningRule, EarningStatus, RuleCategory, VipTier
from loyalty.outbox.intents import write_customer_sync_intents
from loyalty.points import ONE, multiplied_points
from loyalty.shops.api_keys import ShopContext

ACTION = "custom"  # the ledger's `action` for every custom-action entry (as in the seed)
ACTION_KEY_PATTERN = r"^[a-z0-9_]{1,64}$"


class CustomActionNotFoundError(NotFoundError):
    code = "custom_action_not_found"
    title = "Custom action not found"


class CustomActionInactiveError(NotFoundError):
    code = "custom_action_inactive"
    title = "Custom action not found"


class LimitReachedError(ConflictError):
    code = "limit_reached"
    title = "Limit reached"

    def __init__(self, detail: str, *, next_available_at: datetime | None) -> None:
        super().__init__(detail)
        self.meta = {"next_available_at": isoformat_z(next_available_at)}


@dataclass(frozen=True, slots=True)
class ActionRequest:
    action_key: str
    shopify_customer_id: int | None = None  # one of these two
    customer_email: str | None = None
    metadata: dict[str, Any] | None = None
    idempotency_key: str | None = None

    def fingerprint(self) -> str:
        return idempotency.fingerprint(
            {
                "action_key": self.action_key,
                "customer_id": self.shopify_customer_id,
                "customer_email": normalize_email(self.customer_email),
                "metadata": self.metadata,
            }
        )


@dataclass(frozen=True, slots=True)
class ActionAward:
    """The committed award, as the API renders it."""

    entry_id: str
    earning_rule_id: str
    action_key: str
    shopify_customer_id: int
    points: int
    base_points: int
    points_multiplier: Decimal
    status: EarningStatus
    points_given_at: datetime | None
    points_due_at: datetime | None
    points_expiry_at: datetime | None
    points_balance: int  # the customer's spendable balance after the award
    metadata: dict[str, Any] | None
    idempotency_key: str | None
    created_at: datetime


@dataclass(slots=True)
class ActionOutcome:
    """What a custom-action request came to: a new `award`, or `replay`, the response document
    stored for an earlier request with the same idempotency key (marked `replayed`)."""

    award: ActionAward | None
    replay: dict[str, Any] | None
    jobs: list[str]  # customer-sync jobs owed; notify after commit
    document: dict[str, Any] | None = None  # the award's response, given through `respond`

    def respond(self, document: dict[str, Any]) -> None:
        """The response document the caller rendered for `award`; with an idempotency key it is
        stored, in the award's transaction, for replays."""
        self.document = document


@asynccontextmanager
async def award_custom_action(
    *,
    shop: ShopContext,
    request: ActionRequest,
    api_key_id: str,
    actor_type: ActorType = ActorType.API_KEY,
    now: datetime | None = None,
) -> AsyncIterator[ActionOutcome]:
    """Award the action (see the module docstring), as
    `async with award_custom_action(...) as outcome:`. `api_key_id` is the actor's id (an API
    key's, or with `actor_type` SYSTEM the caller's name: Shopify Flow). The award commits
    when the block ends (an exception in it rolls everything back); inside the block the
    caller renders `outcome.award` and hands the document to `outcome.respond`. Raises the
    errors listed above, and IdempotencyKeyReusedError."""
    now = now or utcnow()
    async with in_transaction():
        record_id: int | None = None
        if request.idempotency_key is not None:
            claimed = await idempotency.claim(
                shop_id=shop.id,
                key=request.idempotency_key,
                request_fingerprint=request.fingerprint(),
                now=now,
            )
            if isinstance(claimed, idempotency.StoredResponse):
                yield ActionOutcome(None, _replayed(claimed), [])
                return
            record_id = claimed
        award, jobs = await _award(shop, request, (actor_type, api_key_id), now)
        outcome = ActionOutcome(award, None, jobs)
        yield outcome
        if record_id is not None:
            if outcome.document is None:
                raise RuntimeError("respond() with the award's document inside the block")
            await idempotency.store(record_id=record_id, status=201, body=outcome.document)


def _replayed(stored: idempotency.StoredResponse) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(json.dumps(stored.body))  # a copy: the stored one stays
    attributes = body.get("data", {}).get("attributes")
    if isinstance(attributes, dict):
        attributes["replayed"] = True
    return body


async def _award(
    shop: ShopContext, request: ActionRequest, actor: tuple[ActorType, str], now: datetime
) -> tuple[ActionAward, list[str]]:
    rule = await EarningRule.get_or_none(shop_id=shop.id, action_key=request.action_key)
    if rule is None or rule.category != RuleCategory.CUSTOM:
        raise CustomActionNotFoundError(
            f"No custom action {request.action_key!r} exists for this shop"
        )
    if not rule.is_active:
        raise CustomActionInactiveError(f"Custom action {request.action_key!r} is not active")
    customer = await _locked_customer(shop.id, request)
    if customer.is_excluded:
        raise CustomerExcludedError("Customer is excluded from the loyalty program")
    entry_id = ids.new_time_ordered_id(ids.EARNING_ENTRY)
    if rule.repeatable:
        await _check_cap(rule, customer.id, now)
        dedupe_key = (
            f"action:{rule.id}:key:{hashlib.sha256(request.idempotency_key.encode()).hexdigest()}"
            if request.idempotency_key is not None
            else f"action:{rule.id}:entry:{entry_id}"
        )
    else:
        dedupe_key = f"action:{rule.id}"
    multiplier = ONE
    if customer.vip_tier_id is not None:
        tier = await VipTier.get_or_none(id=customer.vip_tier_id)
        multiplier = tier.points_multiplier if tier is not None else ONE
    entry = NewEntry(
        public_id=entry_id,
        shop_id=shop.id,
        customer_id=customer.id,
        rule_id=rule.id,
        action=ACTION,
        base_points=rule.points,
        points_multiplier=multiplier,
        points=multiplied_points(rule.points, multiplier),
        timing=entry_timing(
            now=now, approval_days=rule.approval_time_days, expiry_days=shop.points_expiry_days
        ),
        dedupe_key=dedupe_key,
        created_at=now,
        metadata=request.metadata,
    )
    jobs = await _write(entry, rule, customer, actor)
    return _awarded(entry, rule, customer, request), jobs


async def _write(
    entry: NewEntry, rule: EarningRule, customer: Customer, actor: tuple[ActorType, str]
) -> list[str]:
    """The entry, its credit, the activity row, the tier and the syncs owed, through the ledger."""
    now, timing = entry.created_at, entry.timing
    if await insert_entry(entry) is None:
        raise AlreadyAwardedError("Customer has already been awarded points for this custom action")
    approved = timing.approved_points(entry.points)
    credited = await credit_keeping_tier(
        customer_id=customer.id, approved=approved, pending=entry.points - approved, now=now
    )
    if not credited:  # past the ceiling: raising rolls back the entry and the idempotency claim
        raise balance_limit_error()
    data = {
        "entry_id": entry.public_id,
        "rule_id": rule.public_id,
        "action_key": rule.action_key,
        "points": entry.points,
        "status": str(timing.status),
    }
    await record(ActivityRow(entry.shop_id, customer.id, "points_awarded", now, data, *actor))
    jobs = set(
        await write_customer_sync_intents(
            shop_id=entry.shop_id,
            customer_id=customer.id,
            reason={"entry_id": entry.public_id},
            now=now,
        )
    )
    if approved:
        moved = await recalculate_tier(customer_id=customer.id, reason="points_awarded", now=now)
        if moved is not None:
            jobs.update(moved.jobs)
    return sorted(jobs)


def _awarded(
    entry: NewEntry, rule: EarningRule, customer: Customer, request: ActionRequest
) -> ActionAward:
    timing = entry.timing
    return ActionAward(
        entry_id=entry.public_id,
        earning_rule_id=rule.public_id,
        action_key=request.action_key,
        shopify_customer_id=customer.shopify_customer_id,
        points=entry.points,
        base_points=rule.points,
        points_multiplier=entry.points_multiplier,
        status=timing.status,
        points_given_at=timing.points_given_at,
        points_due_at=timing.points_due_at,
        points_expiry_at=timing.points_expiry_at,
        points_balance=customer.points_balance + timing.approved_points(entry.points),
        metadata=request.metadata,
        idempotency_key=request.idempotency_key,
        created_at=entry.created_at,
    )


async def _locked_customer(shop_id: int, request: ActionRequest) -> Customer:
    query = Customer.filter(shop_id=shop_id)
    if request.shopify_customer_id is not None:
        query = query.filter(shopify_customer_id=request.shopify_customer_id)
    else:
        query = query.filter(email_key=normalize_email(request.customer_email)).order_by("id")
    # Locked: the cap is counted, and the balance moved, by one completion at a time.
    customer = await query.select_for_update().first()
    if customer is None:
        raise CustomerNotFoundError(
            "No customer with that Shopify customer ID or email is enrolled in the programme"
        )
    return customer


async def _check_cap(rule: EarningRule, customer_id: int, now: datetime) -> None:
    if rule.limit_count is None:
        return
    since = now - timedelta(days=rule.limit_period_days) if rule.limit_period_days else None
    rows = await sql.fetch_all(
        _RECENT_SQL, customer_id, rule.id, since if since is not None else now, since is None
    )
    if len(rows) < rule.limit_count:
        return
    next_at = None
    if rule.limit_period_days:
        # The cap frees a slot when the oldest award still inside the window leaves it.
        oldest = parse_db_datetime(rows[len(rows) - rule.limit_count]["created_at"])
        next_at = oldest + timedelta(days=rule.limit_period_days) if oldest else None
    period = f"in {rule.limit_period_days} days" if rule.limit_period_days else "in total"
    raise LimitReachedError(
        f"This custom action can be awarded to a customer at most {rule.limit_count} "
        f"time(s) {period}",
        next_available_at=next_at,
    )


# Awards of the rule to the customer inside the window ($4: no window, count them all),
# oldest first. Rejected awards do not count.
_RECENT_SQL = """
SELECT created_at FROM earning_history_entry
WHERE customer_id = $1 AND rule_id = $2 AND status <> 'rejected'
  AND ($4 OR created_at > $3)
ORDER BY created_at, id
"""
