"""Custom actions (POST /api/v1/actions): points for something a customer did outside Shopify
(a quiz, a review, a helpdesk survey), by the `action_key` the merchant gave a `custom` rule.

Guarantees:
- Checks in this order, the first failure wins: action unknown (404 `custom_action_not_found`)
  → inactive (404 `custom_action_inactive`) → customer unknown (404) → excluded (403) → once
  per customer already awarded (409 `already_awarded`) or the repeatable action's cap reached
  in its rolling period (409 `limit_reached`, with `next_available_at`) → past the balance
  ceiling (422 `balance_limit`, loyalty.earning.ceiling). A refusal writes nothing.
- Exactly once: a once-per-customer action is keyed `action:<rule>` per customer; a repeatable
  one, sent with an idempotency key, `action:<rule>:key:<sha256 of the key>`; both meet the
  unique (customer_id, dedupe_key) index. With an idempotency key the key is claimed, and the
  response stored, in the award's own transaction (loyalty.idempotency): a repeat gets the
  stored response (`replayed`), the key with another request is a 409.
- The entry, the balance move (`x = x + n`), the tier upgrade, the activity row, the syncs owed
  and the stored response commit together; the caller notifies the jobs after commit. The
  customer row is locked first (PostgreSQL), so concurrent completions count against the cap
  one after the other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from loyalty import ids, sql
from loyalty.clock import isoformat_z, parse_db_datetime, utcnow
from loyalty.customers.identifiers import normalize_email
from loyalty.earning import idempotency
from loyalty.earning.ceiling import balance_limit_error, fits_sql
from loyalty.errors import (
    AlreadyAwardedError,
    ConflictError,
    CustomerExcludedError,
    CustomerNotFoundError,
    NotFoundError,
)
from loyalty.models import ActorType, Customer, EarningRule, EarningStatus, RuleCategory, VipTier
from loyalty.outbox.intents import write_customer_sync_intents
from loyalty.points import ONE, multiplied_points
from loyalty.shops.api_keys import ShopContext
from loyalty.tiers.placement import recalculate_tier

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


@dataclass(frozen=True, slots=True)
class ActionResult:
    status: int  # 201 for the award, 200 for a replay
    body: dict[str, Any]
    replayed: bool
    jobs: list[str]  # customer-sync jobs owed; notify after commit


Render = Callable[[ActionAward], dict[str, Any]]


async def award_custom_action(
    *,
    shop: ShopContext,
    request: ActionRequest,
    api_key_id: str,
    render: Render,
    now: datetime | None = None,
) -> ActionResult:
    """Award the action (see the module docstring). `render` turns the award into the response
    body that is returned and, with an idempotency key, stored for replays. Raises the errors
    listed above, and IdempotencyKeyReusedError."""
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
                return _replay(claimed)
            record_id = claimed
        award, jobs = await _award(shop, request, api_key_id, now)
        body = render(award)
        if record_id is not None:
            await idempotency.store(record_id=record_id, status=201, body=body)
    return ActionResult(201, body, replayed=False, jobs=jobs)


def _replay(stored: idempotency.StoredResponse) -> ActionResult:
    body = json.loads(json.dumps(stored.body))  # a copy: the stored document stays as it was
    attributes = body.get("data", {}).get("attributes")
    if isinstance(attributes, dict):
        attributes["replayed"] = True
    return ActionResult(200, body, replayed=True, jobs=[])


async def _award(
    shop: ShopContext, request: ActionRequest, api_key_id: str, now: datetime
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
    points = multiplied_points(rule.points, multiplier)
    pending = rule.approval_time_days > 0
    given_at = None if pending else now
    due_at = now + timedelta(days=rule.approval_time_days) if pending else None
    expiry_at = (
        now + timedelta(days=shop.points_expiry_days)
        if given_at is not None and shop.points_expiry_days
        else None
    )
    status = EarningStatus.PENDING if pending else EarningStatus.APPROVED
    inserted = await sql.fetch_one(
        _INSERT_SQL,
        entry_id,
        shop.id,
        customer.id,
        rule.id,
        ACTION,
        rule.points,
        str(multiplier),
        points,
        str(status),
        given_at,
        due_at,
        expiry_at,
        dedupe_key,
        now,
        0 if pending else points,
        json.dumps(request.metadata) if request.metadata is not None else None,
    )
    if inserted is None:
        raise AlreadyAwardedError("Customer has already been awarded points for this custom action")
    approved = 0 if pending else points
    if await sql.fetch_one(_BALANCE_SQL, customer.id, approved, points - approved, now) is None:
        # Past the ceiling: raising rolls back the entry and the idempotency claim.
        raise balance_limit_error()
    activity = {
        "entry_id": entry_id,
        "rule_id": rule.public_id,
        "action_key": rule.action_key,
        "points": points,
        "status": str(status),
    }
    await sql.execute(
        _ACTIVITY_SQL,
        shop.id,
        customer.id,
        "points_awarded",
        str(ActorType.API_KEY),
        api_key_id,
        json.dumps(activity),
        now,
    )
    jobs = set(
        await write_customer_sync_intents(
            shop_id=shop.id, customer_id=customer.id, reason={"entry_id": entry_id}, now=now
        )
    )
    if approved:
        moved = await recalculate_tier(customer_id=customer.id, reason="points_awarded", now=now)
        if moved is not None:
            jobs.update(moved.jobs)
    award = ActionAward(
        entry_id=entry_id,
        earning_rule_id=rule.public_id,
        action_key=request.action_key,
        shopify_customer_id=customer.shopify_customer_id,
        points=points,
        base_points=rule.points,
        points_multiplier=multiplier,
        status=status,
        points_given_at=given_at,
        points_due_at=due_at,
        points_expiry_at=expiry_at,
        points_balance=customer.points_balance + approved,
        metadata=request.metadata,
        idempotency_key=request.idempotency_key,
        created_at=now,
    )
    return award, sorted(jobs)


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

_INSERT_SQL = """
INSERT INTO earning_history_entry (
    public_id, shop_id, customer_id, rule_id, action, base_points, points_multiplier, points,
    status, points_given_at, points_due_at, points_expiry_at, dedupe_key, created_at, updated_at,
    points_remaining, metadata)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15, $16)
ON CONFLICT (customer_id, dedupe_key) DO NOTHING
RETURNING id
"""

# No row returned: the credit would pass the balance ceiling (loyalty.earning.ceiling).
_BALANCE_SQL = f"""
UPDATE customer SET
    points_balance = points_balance + $2,
    lifetime_points = lifetime_points + $2,
    pending_points = pending_points + $3,
    updated_at = $4
WHERE id = $1 AND {fits_sql("$2", "$3")}
RETURNING id
"""

_ACTIVITY_SQL = """
INSERT INTO activity (shop_id, customer_id, kind, actor_type, actor_id, data, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""
