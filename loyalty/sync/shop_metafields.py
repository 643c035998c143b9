"""The shop's programme metafield (`$app` / `programme`, type json): ways to earn, VIP tiers,
points expiry and the referral programme, for the theme extension to read without calling the
app.

Rewritten whole from the database whenever the merchant edits rules, tiers or programme
settings (those services write a `sync_shop_metafields` intent in the edit's transaction); any
number of edits queued together make one write, read after they were claimed and written
under the shop's sync lease (loyalty.sync.batch), and a repeat writes the same document.
"""

from __future__ import annotations

import json
import logging
from functools import partial
from typing import Any

from loyalty.clock import isoformat_z, utcnow
from loyalty.customers.identifiers import parse_gid
from loyalty.jobs import JobName
from loyalty.models import EarningRule, ReferralProgramme, RuleCategory, Shop, SkipReason, VipTier
from loyalty.outages import INTEGRATIONS, SHOPIFY
from loyalty.outbox.process import RetryLater
from loyalty.points import as_multiplier
from loyalty.shopify.admin_api import AdminApi, ShopifyApiError
from loyalty.shopify.operations import SHOP_ID, SHOP_METAFIELD_SET
from loyalty.shopify.tokens import (
    ShopifyUnavailableError,
    ShopNotConnectedError,
    ShopReauthRequiredError,
)
from loyalty.sync.batch import IMMEDIATE, RunResult, SyncRun, pacing_for, skip_all
from loyalty.sync.deps import JobDeps
from loyalty.sync.metafields import NAMESPACE, REAUTH_HOLD, user_errors
from loyalty.sync.shop_runs import open_run

log = logging.getLogger(__name__)

KEY = "programme"


async def programme_document(shop: Shop) -> dict[str, Any]:
    """What the storefront shows of the programme (never a customer's data)."""
    rules = await EarningRule.filter(shop_id=shop.id, is_active=True).order_by("created_at", "id")
    tiers = await VipTier.filter(shop_id=shop.id).order_by("points_required", "id")
    return {
        "points_program": {
            "enabled": shop.programme_enabled,
            "ways_to_earn": [
                {
                    "id": rule.public_id,
                    "name": rule.name,
                    "description": rule.description,
                    "label": rule.customer_facing_label or rule.name,
                    "action": rule.action,
                    "category": str(rule.category),
                    "points": rule.points,
                    "approval_time_days": rule.approval_time_days,
                    "call_to_action_url": rule.call_to_action_url,
                }
                for rule in rules
            ],
            "points_expiry_enabled": shop.points_expiry_days is not None,
            "points_expiry_days": shop.points_expiry_days,
        },
        "vip_program": {
            "enabled": bool(tiers),
            "tiers": [
                {
                    "id": tier.public_id,
                    "name": tier.name,
                    "description": tier.description,
                    "points_required": tier.points_required,
                    "multiplier": str(as_multiplier(tier.points_multiplier)),
                    "badge_color": tier.badge_color,
                }
                for tier in tiers
            ],
        },
        "referral_program": await _referral_program(shop),
        "updated_at": isoformat_z(utcnow()),
    }


async def _referral_program(shop: Shop) -> dict[str, Any]:
    """Whether the share panel shows, and what each side gets (the advocate's points are the
    active `referral` rule's, listed among the ways to earn too)."""
    programme = await ReferralProgramme.get_or_none(shop_id=shop.id).select_related(
        "friend_reward", "advocate_reward"
    )
    rule = (
        await EarningRule.filter(shop_id=shop.id, category=RuleCategory.REFERRAL, is_active=True)
        .order_by("id")
        .first()
    )
    friend = programme.friend_reward if programme and programme.friend_reward_id else None
    advocate = programme.advocate_reward if programme and programme.advocate_reward_id else None
    return {
        "enabled": bool(programme and programme.enabled and friend and shop.programme_enabled),
        "friend_reward": friend.name if friend else None,
        "advocate_points": rule.points if rule else 0,
        "advocate_reward": advocate.name if advocate else None,
    }


async def shop_gid(admin: AdminApi, shop: Shop) -> str:
    """The shop's GraphQL id, asked of Shopify once and kept on the shop row."""
    if shop.shopify_shop_id:
        return f"gid://shopify/Shop/{shop.shopify_shop_id}"
    data = await admin.execute(shop.id, SHOP_ID)
    gid = str((data.get("shop") or {}).get("id") or "")
    number = parse_gid(gid, "Shop")
    if number is None:
        raise ShopifyApiError(f"Shopify returned no shop id ({gid!r})")
    await Shop.filter(id=shop.id).update(shopify_shop_id=number)
    return gid


def programme_metafield(owner: str, document: dict[str, Any]) -> dict[str, Any]:
    """The `SHOP_METAFIELD_SET` variables that write the programme document on the shop."""
    value = json.dumps(document, separators=(",", ":"))
    return {
        "metafields": [
            {"ownerId": owner, "namespace": NAMESPACE, "key": KEY, "type": "json", "value": value}
        ]
    }


async def sync(deps: JobDeps, shop_id: int) -> RunResult:
    """Write the programme document once for every edit queued so far (the shop-level intents,
    customer key 0, under one lease). Skips when the shop cannot be written to; holds the work
    while Shopify is unavailable or the shop must re-authorise."""
    job = JobName.SYNC_SHOP_METAFIELDS
    shop, label, run = await open_run(deps, job, shop_id)
    deliver = skip_all(SkipReason.NOT_CONNECTED)
    pacing = IMMEDIATE
    if shop is None or shop.uninstalled_at is not None or not shop.access_token_enc:
        log.info("programme metafield for shop %s skipped: no Shopify offline token", label)
    elif deps.admin is None:
        deliver = skip_all(SkipReason.NOT_CONFIGURED)
    else:
        deliver = partial(_write, deps.admin, shop)
        pacing = pacing_for(job, deps.settings)
    return await run(deliver, pacing)


async def _write(admin: AdminApi, shop: Shop, run: SyncRun, keys: list[int]) -> None:
    intents = [i for group in (await run.claim(keys)).values() for i in group]
    if not intents:
        return
    document = await programme_document(shop)  # read now: after the edits were claimed
    try:
        owner = await shop_gid(admin, shop)
        data = await admin.execute(
            shop.id, SHOP_METAFIELD_SET, programme_metafield(owner, document)
        )
    except ShopNotConnectedError:
        await run.skipped(intents, SkipReason.NOT_CONNECTED)
        return
    except ShopReauthRequiredError as exc:
        INTEGRATIONS.failing(shop.domain, SHOPIFY, str(exc) or type(exc).__name__)
        raise RetryLater(str(exc), after=REAUTH_HOLD) from None
    except ShopifyApiError as exc:
        log.error("programme metafield for shop %s refused: %s", shop.domain, exc.detail)
        await run.refused(intents, error=exc.detail)
        return
    except ShopifyUnavailableError as exc:
        hold = await run.failed(intents, error=exc.detail)
        INTEGRATIONS.failing(shop.domain, SHOPIFY, exc.detail)
        raise RetryLater(exc.detail, after=hold) from None
    INTEGRATIONS.healthy(shop.domain, SHOPIFY)  # Shopify answered, whatever it made of it
    if problems := user_errors(data):
        detail = "; ".join(problems)
        log.error("programme metafield for shop %s refused: %s", shop.domain, detail)
        await run.refused(intents, error=detail)
        return
    await run.delivered(intents)
