"""Configuring a shop's earning rules: list, create, partially update, activate, deactivate.

Edits apply to future awards only: every earning-history entry keeps the points, action and
status it was awarded with, and pending entries keep their due date. A rule is never deleted
(its awards reference it); a merchant deactivates it instead.

Only categories something awards can be chosen for a new rule or an edit (`OFFERED_CATEGORIES`,
422 `category_unavailable` otherwise); every category is awarded today. A `referral` rule's
points go to the advocate when their friend's first paid order arrives (loyalty.referrals).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypedDict

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from loyalty import ids, sql
from loyalty.errors import ConflictError, EarningRuleNotFoundError, ValidationError
from loyalty.models import EarningHistoryEntry, EarningRule, RuleCategory, Shop
from loyalty.outbox.intents import write_shop_sync_intent

# Field limits, shared with the admin API's request models.
MAX_POINTS = 1_000_000
MAX_APPROVAL_TIME_DAYS = 365
ACTION_PATTERN = r"^[a-z0-9_]{1,64}$"
MAX_NAME_LENGTH = 255
MAX_LABEL_LENGTH = 255
MAX_DESCRIPTION_LENGTH = 5000
MAX_URL_LENGTH = 2048
# Custom actions (category `custom`, awarded by action_key through POST /api/v1/actions).
ACTION_KEY_PATTERN = r"^[a-z0-9_]{1,64}$"
MAX_LIMIT_COUNT = 1000
MAX_LIMIT_PERIOD_DAYS = 3650


# Every category the platform awards (a category added before anything awards it is left out).
OFFERED_CATEGORIES = frozenset(RuleCategory)


class ActionKeyTakenError(ConflictError):
    code = "action_key_taken"
    title = "Action key already in use"


class RuleChanges(TypedDict, total=False):
    """The editable fields; a partial update carries only the ones that change."""

    name: str
    description: str
    action: str
    category: RuleCategory
    points: int
    approval_time_days: int
    customer_facing_label: str
    call_to_action_url: str | None
    is_active: bool
    action_key: str | None
    repeatable: bool
    limit_count: int | None
    limit_period_days: int | None
    after_first_order: bool


@dataclass(frozen=True, slots=True)
class RuleView:
    """A rule with what the admin needs to know before editing it."""

    rule: EarningRule
    category_locked: bool  # it has awards, so its category can no longer change


async def list_rules(*, shop: Shop, category: RuleCategory | None = None) -> list[RuleView]:
    """The shop's rules, oldest first, optionally of one category."""
    query = EarningRule.filter(shop=shop)
    if category is not None:
        query = query.filter(category=category)
    rules = await query.order_by("created_at", "id")
    awarded = {int(row["id"]) for row in await sql.fetch_all(_AWARDED_RULES_SQL, shop.id)}
    return [RuleView(rule, rule.id in awarded) for rule in rules]


# The shop's rules that were ever awarded: one probe of the ledger's rule index per rule
# (migration 0018), where a DISTINCT over the entries read the shop's whole ledger (seconds on a
# big shop, bench/scale).
_AWARDED_RULES_SQL = """
SELECT r.id FROM earning_rule r
WHERE r.shop_id = $1 AND EXISTS (SELECT 1 FROM earning_history_entry e WHERE e.rule_id = r.id)
"""


async def get_rule(*, shop: Shop, rule_id: str) -> RuleView:
    rule = await _find(shop, rule_id)
    return RuleView(rule, await _has_awards(rule))


async def create_rule(
    *,
    shop: Shop,
    name: str,
    action: str,
    category: RuleCategory,
    points: int,
    description: str = "",
    approval_time_days: int = 0,
    customer_facing_label: str = "",
    call_to_action_url: str | None = None,
    is_active: bool = True,
    action_key: str | None = None,
    repeatable: bool = False,
    limit_count: int | None = None,
    limit_period_days: int | None = None,
    after_first_order: bool = False,
) -> RuleView:
    """Create a rule (`rule_…` id). Field shapes are validated by the caller's request model;
    the category (`_check_offered`) and the combinations of the custom-action and sign-up
    fields here (`_check_custom_action`, `_check_signup`). Raises ValidationError or
    ActionKeyTakenError."""
    _check_offered(category)
    _check_signup(category, after_first_order)
    custom = {
        "category": category,
        "action_key": action_key,
        "repeatable": repeatable,
        "limit_count": limit_count,
        "limit_period_days": limit_period_days,
    }
    _check_custom_action(custom)
    async with in_transaction():
        await _check_action_key_free(shop, action_key)
        try:
            rule = await EarningRule.create(
                public_id=ids.new_public_id(ids.RULE),
                shop=shop,
                name=name,
                description=description,
                action=action,
                category=category,
                points=points,
                approval_time_days=approval_time_days,
                customer_facing_label=customer_facing_label,
                call_to_action_url=call_to_action_url,
                is_active=is_active,
                action_key=action_key,
                repeatable=repeatable,
                limit_count=limit_count,
                limit_period_days=limit_period_days,
                after_first_order=after_first_order,
            )
        except IntegrityError:  # a concurrent create that slipped past the check
            raise _action_key_taken(action_key) from None
        # The storefront's ways to earn (the programme metafield) follow every edit.
        await write_shop_sync_intent(shop_id=shop.id, reason={"reason": "earning_rule_created"})
    return RuleView(rule, category_locked=False)


async def update_rule(*, shop: Shop, rule_id: str, changes: RuleChanges) -> RuleView:
    """Apply `changes` to the shop's rule.

    Raises EarningRuleNotFoundError, or ValidationError `category_locked` when the category
    would change on a rule that has awards: its history, approvals and the once-per-customer
    guarantee were all decided under the old category. Re-sending the current category is fine.
    """
    async with in_transaction():
        # Row lock on PostgreSQL so two edits of one rule apply one after the other.
        rule = await _find(shop, rule_id, for_update=True)
        awarded = await _has_awards(rule)
        new_category = changes.get("category")
        if new_category is not None and new_category != rule.category and awarded:
            raise ValidationError(
                "This rule has already been awarded, so its category can no longer change "
                f"from {rule.category!s}; deactivate it and create a new rule instead",
                pointer="/category",
                code="category_locked",
            )
        fields = [name for name, value in changes.items() if getattr(rule, name) != value]
        if "category" in fields:
            _check_offered(changes["category"])
        if {"category", "after_first_order"} & set(fields):
            _check_signup(
                changes.get("category", rule.category),
                changes.get("after_first_order", rule.after_first_order),
            )
        if set(fields) & _CUSTOM_FIELDS:
            _check_custom_action(
                {name: changes.get(name, getattr(rule, name)) for name in _CUSTOM_FIELDS}
            )
            if "action_key" in fields:
                await _check_action_key_free(shop, changes.get("action_key"), exclude=rule.id)
        if fields:
            rule.update_from_dict(dict(changes))
            try:
                await rule.save(update_fields=[*fields, "updated_at"])
            except IntegrityError:
                raise _action_key_taken(rule.action_key) from None
            await write_shop_sync_intent(shop_id=shop.id, reason={"reason": "earning_rule_updated"})
    return RuleView(rule, awarded)


async def set_rule_active(*, shop: Shop, rule_id: str, active: bool) -> RuleView:
    """Activate or deactivate a rule; idempotent. Deactivating stops new awards only."""
    return await update_rule(shop=shop, rule_id=rule_id, changes={"is_active": active})


async def _find(shop: Shop, rule_id: str, *, for_update: bool = False) -> EarningRule:
    query = EarningRule.filter(shop=shop, public_id=rule_id)
    if for_update:
        query = query.select_for_update()
    rule = await query.first()
    if rule is None:
        raise EarningRuleNotFoundError(f"No earning rule {rule_id!r} exists for this shop")
    return rule


async def _has_awards(rule: EarningRule) -> bool:
    return await EarningHistoryEntry.filter(rule_id=rule.id).exists()


_CUSTOM_FIELDS = frozenset(
    {"category", "action_key", "repeatable", "limit_count", "limit_period_days"}
)


def _check_custom_action(rule: Mapping[str, object]) -> None:
    """How the custom-action fields combine: a `custom` rule has an action key, other rules
    have none of these fields; a cap belongs to a repeatable action, and a rolling period to a
    cap (a cap without a period counts for ever)."""
    if rule["category"] == RuleCategory.CUSTOM:
        if rule["action_key"] is None:
            raise ValidationError(
                "A custom action needs an action_key", pointer="/action_key", code="missing_field"
            )
    else:
        for name in ("action_key", "limit_count", "limit_period_days"):
            if rule[name] is not None:
                raise ValidationError(
                    f"{name} only applies to custom actions (category custom)",
                    pointer=f"/{name}",
                    code="custom_action_only",
                )
        if rule["repeatable"]:
            raise ValidationError(
                "repeatable only applies to custom actions (category custom)",
                pointer="/repeatable",
                code="custom_action_only",
            )
    if not rule["repeatable"] and rule["limit_count"] is not None:
        raise ValidationError(
            "A cap (limit_count) only applies to a repeatable action",
            pointer="/limit_count",
            code="limit_needs_repeatable",
        )
    if rule["limit_period_days"] is not None and rule["limit_count"] is None:
        raise ValidationError(
            "A rolling period (limit_period_days) needs a cap (limit_count)",
            pointer="/limit_period_days",
            code="period_needs_count",
        )


def _check_offered(category: RuleCategory) -> None:
    if category not in OFFERED_CATEGORIES:
        raise ValidationError(
            f"Rules of the {category!s} category are not awarded yet, so none can be created",
            pointer="/category",
            code="category_unavailable",
        )


def _check_signup(category: RuleCategory, after_first_order: bool) -> None:
    """Waiting for the first paid order is a sign-up rule's setting only."""
    if after_first_order and category != RuleCategory.SIGNUP:
        raise ValidationError(
            "after_first_order only applies to sign-up rules (category signup)",
            pointer="/after_first_order",
            code="signup_only",
        )


async def _check_action_key_free(
    shop: Shop, action_key: str | None, *, exclude: int | None = None
) -> None:
    # Checked first so PostgreSQL's transaction is not aborted by the unique index in the
    # common case; the index still decides under concurrency.
    if action_key is None:
        return
    query = EarningRule.filter(shop=shop, action_key=action_key)
    if exclude is not None:
        query = query.exclude(id=exclude)
    if await query.exists():
        raise _action_key_taken(action_key)


def _action_key_taken(action_key: str | None) -> ActionKeyTakenError:
    return ActionKeyTakenError(
        f"Another earning rule of this shop has the action key {action_key!r}",
        pointer="/action_key",
    )
