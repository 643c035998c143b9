"""The mandatory compliance topics: customers/data_request, customers/redact, shop/redact.

Each acts only on a body that is exactly its topic's, for the delivery's shop (`shop_domain`,
and `shop_id` when we know the shop's Shopify id; checked before the handler runs). The two
that erase act only on an exact match as well:
- customers/redact erases the customer Shopify names by id (by email only when it gives no
  id), never a look-alike (see `loyalty.customers.compliance.redact_customer`);
- shop/redact deletes the shop only once it has uninstalled the app (`uninstalled_at`, set by
  app/uninstalled) and 48 hours have passed since, as Shopify sends it: earlier, it is held
  until then (our `uninstalled_at` may trail Shopify's uninstall by a late delivery); for a
  shop that is installed, or reinstalled meanwhile, it is refused.
Idempotent: a data request is exported once per Shopify request id; redactions erase what is
left to erase (see `loyalty.customers.compliance`).
https://shopify.dev/docs/apps/build/compliance/privacy-law-compliance
"""

from __future__ import annotations

from datetime import timedelta

from loyalty.customers.compliance import export_customer_data, redact_customer, redact_shop
from loyalty.webhooks.event import RetryLaterError, WebhookContext
from loyalty.webhooks.inbox import forget_shop
from loyalty.webhooks.payloads import (
    CustomerDataRequestPayload,
    CustomerRedactPayload,
    ShopRedactPayload,
)
from loyalty.webhooks.payloads.base import InvalidPayloadError

# "48 hours after a store owner uninstalls your app, Shopify sends a payload on the shop/redact
# topic" (the topic's reference).
SHOP_REDACT_AFTER = timedelta(hours=48)


class RedactRefusedError(InvalidPayloadError):
    """An authentic redaction that must not act here: recorded, never retried."""

    def record(self) -> str:
        return f"refused: {self}"


async def handle_data_request(ctx: WebhookContext) -> list[str]:
    request = ctx.body_as(CustomerDataRequestPayload)
    await export_customer_data(
        shop=ctx.shop,
        shopify_customer_id=request.customer.id,
        email=request.customer.email,
        shopify_request_id=request.data_request.id,
        orders_requested=request.orders_requested,
        now=ctx.now,
    )
    return []


async def handle_customer_redact(ctx: WebhookContext) -> list[str]:
    request = ctx.body_as(CustomerRedactPayload)
    await redact_customer(
        shop=ctx.shop,
        shopify_customer_id=request.customer.id,
        email=request.customer.email,
        now=ctx.now,
    )
    return []


async def handle_shop_redact(ctx: WebhookContext) -> list[str]:
    ctx.body_as(ShopRedactPayload)
    uninstalled_at = ctx.shop.uninstalled_at
    if uninstalled_at is None:
        raise RedactRefusedError(
            "shop/redact for a shop that has the app installed (Shopify sends it 48 hours "
            "after app/uninstalled, and not after a reinstall)"
        )
    due = uninstalled_at + SHOP_REDACT_AFTER
    if ctx.now < due:
        raise RetryLaterError(due, f"shop/redact held until 48 hours after the uninstall: {due}")
    await forget_shop(shop_id=ctx.shop.id, now=ctx.now)
    await redact_shop(shop_id=ctx.shop.id)
    return []
