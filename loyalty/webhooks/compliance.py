"""The mandatory compliance topics: customers/data_request, customers/redact, shop/redact.

Idempotent: a data request is exported once per Shopify request id; redactions erase what is
left to erase (see `loyalty.compliance`).
"""

from __future__ import annotations

from loyalty.compliance import export_customer_data, redact_customer, redact_shop
from loyalty.webhooks.event import WebhookContext
from loyalty.webhooks.payloads import (
    CustomerDataRequestPayload,
    CustomerRedactPayload,
    ShopRedactPayload,
    check_shop,
    parse,
)


async def handle_data_request(ctx: WebhookContext) -> list[str]:
    request = parse(CustomerDataRequestPayload, ctx.payload)
    check_shop(request.shop_domain, ctx.shop.domain)
    await export_customer_data(
        shop=ctx.shop,
        shopify_customer_id=request.customer.id,
        email=request.customer.email,
        shopify_request_id=request.data_request.id if request.data_request else None,
        orders_requested=request.orders_requested,
        now=ctx.now,
    )
    return []


async def handle_customer_redact(ctx: WebhookContext) -> list[str]:
    request = parse(CustomerRedactPayload, ctx.payload)
    check_shop(request.shop_domain, ctx.shop.domain)
    await redact_customer(
        shop=ctx.shop,
        shopify_customer_id=request.customer.id,
        email=request.customer.email,
        now=ctx.now,
    )
    return []


async def handle_shop_redact(ctx: WebhookContext) -> list[str]:
    check_shop(parse(ShopRedactPayload, ctx.payload).shop_domain, ctx.shop.domain)
    await redact_shop(shop_id=ctx.shop.id)
    return []
