"""What a shop's programme offers, read for the public API: its earning rules (filtered,
sorted, paged) and its VIP tiers (all of them, lowest threshold first). Read-only."""

from __future__ import annotations

from loyalty.errors import EarningRuleNotFoundError, VipTierNotFoundError
from loyalty.models import EarningRule, RuleCategory, VipTier
from loyalty.paging import NEWEST_FIRST, Paged, Sort, Window

RULE_SORTS = {"created_at": "created_at", "name": "name", "points_to_give": "points"}


async def list_rules(
    *,
    shop_id: int,
    is_active: bool | None = None,
    category: RuleCategory | None = None,
    sort: Sort = NEWEST_FIRST,
    window: Window = Window(),  # noqa: B008  # frozen dataclass: an immutable default
) -> Paged[EarningRule]:
    query = EarningRule.filter(shop_id=shop_id)
    if is_active is not None:
        query = query.filter(is_active=is_active)
    if category is not None:
        query = query.filter(category=category)
    total = await query.count()
    rules = (
        await query.order_by(*sort.order_by(RULE_SORTS)).offset(window.offset).limit(window.limit)
    )
    return Paged(list(rules), total)


async def get_rule(*, shop_id: int, rule_id: str) -> EarningRule:
    """Raises EarningRuleNotFoundError (also for another shop's rule)."""
    rule = await EarningRule.get_or_none(shop_id=shop_id, public_id=rule_id)
    if rule is None:
        raise EarningRuleNotFoundError(f"No earning rule {rule_id!r} exists for this shop")
    return rule


async def list_tiers(*, shop_id: int) -> list[VipTier]:
    """Every tier, lowest threshold first (not paginated, as in the seed's product)."""
    return list(await VipTier.filter(shop_id=shop_id).order_by("points_required", "id"))


async def get_tier(*, shop_id: int, tier_id: str) -> VipTier:
    """Raises VipTierNotFoundError (also for another shop's tier)."""
    tier = await VipTier.get_or_none(shop_id=shop_id, public_id=tier_id)
    if tier is None:
        raise VipTierNotFoundError(f"No VIP tier {tier_id!r} exists for this shop")
    return tier
