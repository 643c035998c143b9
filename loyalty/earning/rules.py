"""Configuring a shop's earning rules: list, create, partially update, activate, deactivate.

Edits apply to future awards only: every earning-history entry keeps the points, action and
status it was awarded with, and pending entries keep their due date. A rule is never deleted
(its awards reference it); a merchant deactivates it instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from tortoise.transactions import in_transaction

from loyalty import ids
from loyalty.errors import EarningRuleNotFoundError, ValidationError
from loyalty.models import EarningHistoryEntry, EarningRule, RuleCategory, Shop

# Field limits, shared with the admin API's request models.
MAX_POINTS = 1_000_000
MAX_APPROVAL_TIME_DAYS = 365
ACTION_PATTERN = r"^[a-z0-9_]{1,64}$"
MAX_NAME_LENGTH = 255
MAX_LABEL_LENGTH = 255
MAX_DESCRIPTION_LENGTH = 5000
MAX_URL_LENGTH = 2048


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
    awarded = set(
        await EarningHistoryEntry.filter(rule_id__in=[rule.id for rule in rules])
        .distinct()
        .values_list("rule_id", flat=True)
    )
    return [RuleView(rule, rule.id in awarded) for rule in rules]


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
) -> RuleView:
    """Create a rule (`rule_…` id). Field shapes are validated by the caller's request model."""
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
    )
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
        if fields:
            rule.update_from_dict(dict(changes))
            await rule.save(update_fields=[*fields, "updated_at"])
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
