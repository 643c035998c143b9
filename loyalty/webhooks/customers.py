"""customers/create, customers/update, customer.tags_added and customer.tags_removed: keep the
programme's copy of the customer, their tags and exclusion by the shop's tag current.

Idempotent by content: for a customer body the newest `updated_at` wins and an unchanged
customer writes nothing (see `loyalty.customers.mirror`); for a tag event the newest
`occurredAt` per tag wins, so a repeat or an older event changes nothing (see
`loyalty.customers.tags`).
"""

from __future__ import annotations

from loyalty.customers.mirror import mirror_customer
from loyalty.customers.tags import TagEvent, apply_tag_event
from loyalty.webhooks.event import WebhookContext
from loyalty.webhooks.payloads import CustomerCreatePayload, CustomerTagsPayload


async def handle_customer(ctx: WebhookContext) -> list[str]:
    record = ctx.body_as(CustomerCreatePayload).record()
    result = await mirror_customer(shop=ctx.shop, record=record, now=ctx.now, source=ctx.topic)
    return result.jobs


async def handle_tags_added(ctx: WebhookContext) -> list[str]:
    return await _handle_tags(ctx, added=True)


async def handle_tags_removed(ctx: WebhookContext) -> list[str]:
    return await _handle_tags(ctx, added=False)


async def _handle_tags(ctx: WebhookContext, *, added: bool) -> list[str]:
    # Ordered by the body's own `occurredAt` only: X-Shopify-Triggered-At is not signed.
    payload = ctx.body_as(CustomerTagsPayload)
    event = TagEvent(
        shopify_customer_id=payload.customer_id,
        tags=tuple(payload.tags),
        added=added,
        occurred_at=payload.when(),
    )
    result = await apply_tag_event(shop=ctx.shop, event=event, now=ctx.now, source=ctx.topic)
    return result.jobs
