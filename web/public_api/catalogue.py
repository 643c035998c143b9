"""`/api/v1` earning rules and VIP tiers, read-only: list and fetch them; the resources they
answer with (response models beside the routes)."""

from __future__ import annotations

from typing import Any, Literal, cast

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from loyalty import models as orm
from loyalty.earning import catalogue
from loyalty.models import RuleCategory
from web.public_api.context import principal
from web.public_api.documents import (
    CountMeta,
    Document,
    ListDocument,
    Model,
    PageMeta,
    Time,
    multiplier,
    resource_id,
    respond,
    stamp,
)
from web.public_api.params import Filter, Listing
from web.public_api.spec import Operation, Reply

RULES = Listing(
    catalogue.RULE_SORTS,
    {
        "is_active": Filter("Active or inactive rules", flag=True),
        "category": Filter("Rules of one category", choices=tuple(str(c) for c in RuleCategory)),
    },
)


class EarningRuleAttributes(Model):
    name: str
    description: str
    action: str
    category: RuleCategory
    is_active: bool
    points_to_give: int = Field(description="Base points (per unit of currency for purchase rules)")
    customer_facing_label: str
    call_to_action_url: str | None
    approval_time_days: int = Field(description="0: approved at once")
    action_key: str | None = Field(description="Custom actions: the key to send")
    repeatable: bool = Field(description="Custom actions: more than once")
    limit_count: int | None = Field(description="Repeatable: the cap per period")
    limit_period_days: int | None = Field(description="The cap's rolling period")
    created_at: Time
    updated_at: Time


class EarningRule(Model):
    type: Literal["earning_rule"] = "earning_rule"
    id: str = resource_id("rule_…")
    attributes: EarningRuleAttributes


def earning_rule(rule: orm.EarningRule) -> EarningRule:
    return EarningRule(
        id=rule.public_id,
        attributes=EarningRuleAttributes(
            name=rule.name,
            description=rule.description,
            action=rule.action,
            category=rule.category,
            is_active=rule.is_active,
            points_to_give=rule.points,
            customer_facing_label=rule.customer_facing_label,
            call_to_action_url=rule.call_to_action_url,
            approval_time_days=rule.approval_time_days,
            action_key=rule.action_key,
            repeatable=rule.repeatable,
            limit_count=rule.limit_count,
            limit_period_days=rule.limit_period_days,
            created_at=stamp(rule.created_at),
            updated_at=stamp(rule.updated_at),
        ),
    )


class VipTierAttributes(Model):
    name: str
    description: str
    points_required: int = Field(description="Lifetime points threshold")
    points_multiplier: float
    badge_image_url: str | None
    badge_color: str
    rewards: list[dict[str, Any]]
    created_at: Time
    updated_at: Time


class VipTier(Model):
    type: Literal["vip_tier"] = "vip_tier"
    id: str = resource_id("tier_…")
    attributes: VipTierAttributes


def vip_tier(tier: orm.VipTier) -> VipTier:
    return VipTier(
        id=tier.public_id,
        attributes=VipTierAttributes(
            name=tier.name,
            description=tier.description,
            points_required=tier.points_required,
            points_multiplier=multiplier(tier.points_multiplier),
            badge_image_url=None,
            badge_color=tier.badge_color,
            rewards=[],
            created_at=stamp(tier.created_at),
            updated_at=stamp(tier.updated_at),
        ),
    )


class EarningRuleDocument(Document[EarningRule]):
    """`{"data": EarningRule}`"""


class VipTierDocument(Document[VipTier]):
    """`{"data": VipTier}`"""


class EarningRuleList(ListDocument[EarningRule, PageMeta]):
    """`{"data": [EarningRule, …], "meta": PageMeta}`"""


class VipTierList(ListDocument[VipTier, CountMeta]):
    """`{"data": [VipTier, …], "meta": CountMeta}`"""


# Handlers ------------------------------------------------------------------------------------


async def list_earning_rules(request: Request) -> Response:
    query = RULES.parse(request.query_params)
    category = query.filters["category"]
    found = await catalogue.list_rules(
        shop_id=principal(request).shop.id,
        is_active=cast(bool | None, query.filters["is_active"]),
        category=RuleCategory(category) if isinstance(category, str) else None,
        sort=query.sort,
        window=query.page.window,
    )
    return respond(
        EarningRuleList(
            data=[earning_rule(rule) for rule in found.items],
            meta=PageMeta(**query.page.meta(found.total)),
        )
    )


async def get_earning_rule(request: Request) -> Response:
    rule = await catalogue.get_rule(
        shop_id=principal(request).shop.id, rule_id=request.path_params["rule_id"]
    )
    return respond(EarningRuleDocument(data=earning_rule(rule)))


async def list_vip_tiers(request: Request) -> Response:
    tiers = await catalogue.list_tiers(shop_id=principal(request).shop.id)
    return respond(VipTierList(data=[vip_tier(t) for t in tiers], meta=CountMeta(total=len(tiers))))


async def get_vip_tier(request: Request) -> Response:
    tier = await catalogue.get_tier(
        shop_id=principal(request).shop.id, tier_id=request.path_params["tier_id"]
    )
    return respond(VipTierDocument(data=vip_tier(tier)))


RULE_OPERATIONS = (
    Operation(
        method="GET",
        path="/earning-rules",
        name="api.earning_rules.list",
        endpoint=list_earning_rules,
        operation_id="listEarningRules",
        tag="Earning rules",
        summary="List the shop's earning rules",
        replies=(Reply(200, "A page of rules", EarningRuleList),),
        errors=(400, 401),
        params=RULES.parameters(),
    ),
    Operation(
        method="GET",
        path="/earning-rules/{rule_id}",
        name="api.earning_rules.get",
        endpoint=get_earning_rule,
        operation_id="getEarningRule",
        tag="Earning rules",
        summary="Fetch one earning rule",
        replies=(Reply(200, "The rule", EarningRuleDocument),),
        errors=(400, 401, 404),
    ),
)
TIER_OPERATIONS = (
    Operation(
        method="GET",
        path="/vip-tiers",
        name="api.vip_tiers.list",
        endpoint=list_vip_tiers,
        operation_id="listVipTiers",
        tag="VIP tiers",
        summary="List every VIP tier, lowest threshold first (not paginated)",
        replies=(Reply(200, "Every tier", VipTierList),),
        errors=(401,),
    ),
    Operation(
        method="GET",
        path="/vip-tiers/{tier_id}",
        name="api.vip_tiers.get",
        endpoint=get_vip_tier,
        operation_id="getVipTier",
        tag="VIP tiers",
        summary="Fetch one VIP tier",
        replies=(Reply(200, "The tier", VipTierDocument),),
        errors=(400, 401, 404),
    ),
)
