"""app/uninstalled and app/scopes_update: the shop's installation as Shopify reports it.

app/uninstalled arrives after Shopify has already revoked the tokens: we mark the shop
uninstalled, delete the tokens we hold and stop the shop's pending syncs (API keys stop working
with it). It acts only on a body that is the Shop object of the delivery's shop (its
`myshopify_domain`, and its `id` when we know the shop's; checked before the handler runs) and
that was never handled before under any topic. It tolerates arriving twice, or after the shop's
data is gone. A reinstall (a later verified admin load) clears `uninstalled_at` again; a stale
uninstall, which X-Shopify-Triggered-At says was triggered before the shop's latest install, is
ignored so it cannot undo that. That header is not signed: it may only ever make an uninstall
do nothing, never be the reason one acts.
https://shopify.dev/docs/apps/build/webhooks (app/uninstalled)
"""

from __future__ import annotations

from datetime import datetime

from tortoise.expressions import Q

from loyalty.ledger.activity import ActivityRow, record
from loyalty.models import OutboxIntent, Shop
from loyalty.webhooks.event import WebhookContext
from loyalty.webhooks.payloads import AppUninstalledPayload, ScopesUpdatePayload

_SCOPES_LIMIT = 1024  # Shop.scopes


async def mark_uninstalled(*, shop_id: int, triggered_at: datetime | None, now: datetime) -> bool:
    """Mark the shop uninstalled (keeping the first time it was), delete its tokens and
    complete its pending outbox intents as no-ops. Returns whether the shop was installed until
    now. Idempotent. `triggered_at` (unsigned) can only veto: an uninstall triggered before the
    shop's latest install changes nothing."""
    current = Q(id=shop_id)
    # Unsigned, so only ever a veto: absent or forged, the body alone decides, as it must.
    if triggered_at is not None:
        current &= Q(installed_at__isnull=True) | Q(installed_at__lte=triggered_at)
    was_installed = bool(
        await Shop.filter(current, uninstalled_at__isnull=True).update(uninstalled_at=now)
    )
    await Shop.filter(current).update(
        access_token_enc=None,
        access_token_expires_at=None,
        refresh_token_enc=None,
        refresh_token_expires_at=None,
    )
    if not was_installed:
        return False
    # Nothing can be written to an uninstalled shop, and marketing syncs stop with the app.
    # A reinstall re-syncs customers as they next change.
    stopped = await OutboxIntent.filter(shop_id=shop_id, completed_at__isnull=True).update(
        completed_at=now, claimed_until=None
    )
    data = {"intents_stopped": stopped}
    await record(ActivityRow(shop_id, None, "app_uninstalled", now, data))
    return True


async def record_scopes(*, shop_id: int, scopes: list[str]) -> None:
    """Store the access scopes the shop has granted now (comma-separated, as Shopify writes)."""
    await Shop.filter(id=shop_id).update(scopes=",".join(sorted(set(scopes)))[:_SCOPES_LIMIT])


async def handle_app_uninstalled(ctx: WebhookContext) -> list[str]:
    shop = ctx.body_as(AppUninstalledPayload)
    if await mark_uninstalled(shop_id=ctx.shop.id, triggered_at=ctx.triggered_at, now=ctx.now):
        # Shopify's id of the shop, from its signed Shop object: a later shop/redact must name
        # the same one (loyalty.webhooks.compliance).
        await Shop.filter(id=ctx.shop.id, shopify_shop_id__isnull=True).update(
            shopify_shop_id=shop.id
        )
    return []


async def handle_scopes_update(ctx: WebhookContext) -> list[str]:
    payload = ctx.body_as(ScopesUpdatePayload)
    await record_scopes(shop_id=ctx.shop.id, scopes=payload.current)
    return []
